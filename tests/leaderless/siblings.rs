//! Version vectors, siblings and the two cart merges.

use super::harness::{Net, config};
use capsim::policy::Note;
use capsim::policy::leaderless::siblings::{Clock, Dot, Item, Sibling, absorb, merge};
use capsim::scenario::schema::{ConflictResolution, SiblingMerge};
use capsim::types::ValueId;

fn item(value: u64, node: u16, counter: u64) -> Item {
    Item {
        value: ValueId(value),
        dot: Dot { node, counter },
    }
}

fn cart(items: &[Item], clock: &[u64]) -> Sibling {
    Sibling {
        items: items.to_vec(),
        clock: Clock(clock.to_vec()),
    }
}

#[test]
fn a_dominated_version_is_replaced_and_a_concurrent_one_kept() {
    let mut set = vec![cart(&[item(1, 0, 1)], &[1, 0])];
    assert!(absorb(
        &mut set,
        &cart(&[item(1, 0, 1), item(2, 0, 2)], &[2, 0])
    ));
    assert_eq!(set.len(), 1, "[2,0] dominates [1,0]");
    assert!(
        !absorb(&mut set, &cart(&[], &[1, 0])),
        "an older version is ignored"
    );
    assert!(absorb(&mut set, &cart(&[item(3, 1, 1)], &[1, 1])));
    assert_eq!(set.len(), 2, "[2,0] and [1,1] are concurrent: siblings");
}

/// A read shows the cart's newest item: the one written last (values number writes in
/// invocation order), whatever node's counter tagged it. n1 had counted to 10 when it added v5;
/// n3's first add, v9, came later.
#[test]
fn a_cart_shows_its_newest_item_whichever_node_added_it() {
    let c = cart(&[item(5, 0, 10), item(9, 2, 1)], &[10, 0, 1]);
    assert_eq!(c.shown(), Some(ValueId(9)));
    assert_eq!(
        cart(&[], &[1]).shown(),
        None,
        "an emptied cart shows nothing"
    );
}

/// Both sides start from cart {x}; one side empties it, the other adds y.
fn removal_and_concurrent_add() -> Vec<Sibling> {
    let x = item(10, 0, 1);
    let y = item(20, 1, 1);
    vec![cart(&[], &[2, 0]), cart(&[x, y], &[1, 1])]
}

#[test]
fn union_brings_a_removed_item_back() {
    let (merged, back) = merge(&removal_and_concurrent_add(), SiblingMerge::Union);
    let values: Vec<u64> = merged.items.iter().map(|i| i.value.0).collect();
    assert_eq!(values, vec![10, 20]);
    assert_eq!(back, vec![ValueId(10)]);
    assert_eq!(merged.clock, Clock(vec![2, 1]));
}

#[test]
fn observed_remove_keeps_the_removal_and_the_concurrent_add() {
    let (merged, back) = merge(&removal_and_concurrent_add(), SiblingMerge::ObservedRemove);
    let values: Vec<u64> = merged.items.iter().map(|i| i.value.0).collect();
    assert_eq!(values, vec![20], "y was never seen by the emptying side");
    assert!(back.is_empty());
}

#[test]
fn concurrent_updates_in_a_partition_become_siblings_and_the_union_resurrects() {
    let mut c = config(3, 3, 4);
    c.read_quorum = 1;
    c.write_quorum = 1;
    c.conflict = ConflictResolution::VersionVectors;
    let mut net = Net::new(3, &c);
    assert!(net.write(0, 1, 10).is_some(), "cart 1 = {{10}} everywhere");
    net.down[2] = true; // n3 cut off (its state kept)
    net.delete(0, 1); // n1, n2: cart emptied
    net.down[2] = false;
    net.down[0] = true;
    net.down[1] = true;
    net.write(2, 1, 20); // n3 alone: cart {10, 20}
    net.down[0] = false;
    net.down[1] = false;
    net.write(2, 1, 30); // n3 reads only itself, writes {10, 20, 30} to all
    net.write(0, 1, 40); // n1 holds both versions now: siblings, merged by union
    assert!(net.count_notes(|n| matches!(n, Note::Siblings { count: 2, .. })) >= 1);
    assert!(
        net.count_notes(|n| matches!(
            n,
            Note::ItemResurrected {
                value: ValueId(10),
                ..
            }
        )) >= 1
    );
}
