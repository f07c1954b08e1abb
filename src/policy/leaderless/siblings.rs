//! Version vectors with siblings, and a shopping cart merged from them (Dynamo §4.4).
//!
//! Each key is a cart: a set of items, each item tagged with the "dot" (node, counter) of the
//! write that added it. A replica keeps every cart version (sibling) whose version vector no other
//! version it holds dominates. A client-side update is read, merge, modify, write: Dynamo returns
//! all siblings with a context, the application merges them and writes back under the merged
//! context. Here the coordinator plays that client library: a write (add item) or delete (empty
//! the cart) first reads the siblings from R replicas, merges them, applies the change and writes
//! the result, stamped with the merged vector advanced at the coordinator, to the N replicas.
//!
//! Merging by union is what Dynamo's paper describes for the shopping cart: "deleted items can
//! resurface". An item one sibling holds and another sibling had seen (its vector covers the
//! item's dot) but no longer holds was removed on that branch; union brings it back, and each
//! such item is noted. `ObservedRemove` keeps an item only if no sibling saw it and dropped it
//! (the observed-remove set of CRDTs, e.g. Riak's data types): removals stick.

use super::coordinator::Phase;
use super::{LCtx, Leaderless, QuorumMsg};
use crate::policy::{ClientReq, Note, OpResult};
use crate::scenario::schema::SiblingMerge;
use crate::types::{Key, NodeId, OpKind, ValueId, Version};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most items one cart keeps (the oldest are dropped beyond it) and most siblings per key.
pub const MAX_ITEMS: usize = 64;
pub const MAX_SIBLINGS: usize = 16;

/// A version vector: one counter per node.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock(pub Vec<u64>);

impl Clock {
    fn at(&self, n: usize) -> u64 {
        self.0.get(n).copied().unwrap_or(0)
    }

    /// Every counter at least the other's.
    pub fn dominates(&self, other: &Clock) -> bool {
        (0..self.0.len().max(other.0.len())).all(|i| self.at(i) >= other.at(i))
    }

    fn join(&mut self, other: &Clock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (i, c) in other.0.iter().enumerate() {
            self.0[i] = self.0[i].max(*c);
        }
    }

    fn covers(&self, dot: Dot) -> bool {
        self.at(dot.node as usize) >= dot.counter
    }

    fn sum(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// The write that added an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dot {
    pub node: u16,
    pub counter: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub value: ValueId,
    pub dot: Dot,
}

/// One version of a cart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sibling {
    pub items: Vec<Item>,
    pub clock: Clock,
}

impl Sibling {
    /// What a read returns for the cart: its most recently added item, `None` when empty.
    /// "Most recent" by value: clients number their writes in invocation order, so a write
    /// invoked after another completed always has the larger value. A dot's counter is not an
    /// order: each node counts on its own, so comparing n1's counter with n3's showed an older
    /// item and made an acknowledged, stored item look lost.
    pub fn shown(&self) -> Option<ValueId> {
        self.items.iter().map(|i| i.value).max()
    }
}

/// Adds `incoming` to a sibling set: versions it dominates go; it is dropped if one dominates it.
/// Returns whether the set changed.
pub fn absorb(set: &mut Vec<Sibling>, incoming: &Sibling) -> bool {
    if set.iter().any(|s| s.clock.dominates(&incoming.clock)) {
        return false;
    }
    set.retain(|s| !incoming.clock.dominates(&s.clock));
    if set.len() < MAX_SIBLINGS {
        set.push(incoming.clone());
    }
    true
}

/// Merges siblings into one cart; returns it and the items a removal had dropped that came back.
pub fn merge(set: &[Sibling], rule: SiblingMerge) -> (Sibling, Vec<ValueId>) {
    let mut clock = Clock::default();
    set.iter().for_each(|s| clock.join(&s.clock));
    let mut items: Vec<Item> = set.iter().flat_map(|s| s.items.iter().copied()).collect();
    items.sort();
    items.dedup();
    let removed_by_some = |item: &Item| {
        set.iter()
            .any(|s| s.clock.covers(item.dot) && !s.items.contains(item))
    };
    let mut back = Vec::new();
    items.retain(|item| {
        if !removed_by_some(item) {
            return true;
        }
        match rule {
            SiblingMerge::Union => {
                back.push(item.value);
                true
            }
            SiblingMerge::ObservedRemove => false,
        }
    });
    (Sibling { items, clock }, back)
}

/// Per-node cart state: durable siblings and counter, volatile reads in progress.
#[derive(Clone, Debug, Default)]
pub(super) struct Carts {
    store: BTreeMap<Key, Vec<Sibling>>,
    /// This node's own version-vector counter (durable, like Riak's vnode clock).
    counter: u64,
    /// Siblings collected so far by each request this node coordinates.
    pub(super) collecting: BTreeMap<u64, Vec<Sibling>>,
}

impl Carts {
    /// Each cart as one value: its merged siblings' shown item.
    pub(super) fn stored(&self, rule: SiblingMerge, out: &mut Vec<crate::policy::StoredValue>) {
        for (&key, set) in &self.store {
            let (merged, _) = merge(set, rule);
            out.push(crate::policy::StoredValue {
                key,
                value: merged.shown(),
                version: Version(merged.clock.sum(), 0),
            });
        }
    }
}

impl Leaderless {
    pub(super) fn coordinate_cart(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        let read = ClientReq {
            kind: OpKind::Read,
            ..req
        };
        let needed = self.config.needed(&read);
        let id = self.start_request(ctx, req, needed);
        self.carts.collecting.insert(id, Vec::new());
        let ring = Arc::clone(&self.config.ring);
        for &r in ring.replicas(req.key) {
            if r == self.me {
                let mine = self.cart_siblings(req.key);
                self.on_cart_siblings(ctx, r, id, &mine);
            } else {
                ctx.send(
                    r,
                    QuorumMsg::CartRead {
                        req: id,
                        key: req.key,
                    },
                );
            }
        }
    }

    pub(super) fn cart_siblings(&self, key: Key) -> Arc<[Sibling]> {
        self.carts
            .store
            .get(&key)
            .map_or_else(|| Arc::from([]), |s| s.as_slice().into())
    }

    pub(super) fn on_cart_siblings(
        &mut self,
        ctx: &mut LCtx<'_>,
        from: NodeId,
        req: u64,
        siblings: &[Sibling],
    ) {
        let Some(p) = self.pending_mut(req) else {
            return;
        };
        let bit = 1u64 << from.0;
        if p.answered & bit != 0 || p.phase != Phase::Collect {
            return;
        }
        p.answered |= bit;
        p.replies += 1;
        let done = p.replies == p.needed;
        let set = self.carts.collecting.entry(req).or_default();
        siblings.iter().for_each(|s| {
            absorb(set, s);
        });
        if done {
            self.cart_read_done(ctx, req);
        }
    }

    /// The read phase is complete: answer a read, or merge, modify and write for an update.
    fn cart_read_done(&mut self, ctx: &mut LCtx<'_>, req: u64) {
        let set = self.carts.collecting.remove(&req).unwrap_or_default();
        let Some(p) = self.pending_mut(req).copied() else {
            return;
        };
        if set.len() > 1 {
            let (key, count) = (p.key, set.len() as u32);
            ctx.note(Note::Siblings { key, count });
        }
        let (mut cart, back) = merge(&set, self.config.sibling_merge);
        if p.kind == OpKind::Read {
            self.finish(req);
            return ctx.reply(p.op, OpResult::Read(cart.shown()));
        }
        for value in back {
            ctx.note(Note::ItemResurrected { key: p.key, value });
        }
        let me = self.me.index();
        self.carts.counter = self.carts.counter.max(cart.clock.at(me)) + 1;
        let dot = Dot {
            node: self.me.0,
            counter: self.carts.counter,
        };
        if cart.clock.0.len() <= me {
            cart.clock.0.resize(me + 1, 0);
        }
        cart.clock.0[me] = dot.counter;
        match p.value {
            Some(value) if p.kind == OpKind::Write => cart.items.push(Item { value, dot }),
            _ => cart.items.clear(), // a delete empties the cart
        }
        if cart.items.len() > MAX_ITEMS {
            cart.items.remove(0);
        }
        self.cart_write(ctx, req, p.key, cart);
    }

    fn cart_write(&mut self, ctx: &mut LCtx<'_>, req: u64, key: Key, cart: Sibling) {
        let needed = self
            .config
            .write_level
            .map_or(self.config.write_quorum, |l| {
                l.needed(self.config.ring.replication_factor() as u16)
            });
        let version = Version(cart.clock.sum(), 0);
        if let Some(p) = self.pending_mut(req) {
            p.needed = needed;
            p.replies = 0;
            p.answered = 0;
            p.best = (cart.shown(), version);
            p.phase = Phase::CartWrite;
        }
        let cart = Arc::new(cart);
        let ring = Arc::clone(&self.config.ring);
        for &r in ring.replicas(key) {
            if r == self.me {
                self.store_cart(ctx, key, &cart);
                self.on_write_ack(ctx, r, req);
            } else {
                let sibling = Arc::clone(&cart);
                ctx.send(r, QuorumMsg::CartWrite { req, key, sibling });
            }
        }
    }

    pub(super) fn store_cart(&mut self, ctx: &mut LCtx<'_>, key: Key, cart: &Sibling) {
        let set = self.carts.store.entry(key).or_default();
        if absorb(set, cart) {
            // For the replica metrics: the merged cart's shown item, versioned by the clock sum.
            let (merged, _) = merge(set, self.config.sibling_merge);
            ctx.applied(key, merged.shown(), Version(merged.clock.sum(), 0));
        }
    }

    pub(super) fn cart_sibling_count(&self) -> usize {
        self.carts.store.values().filter(|s| s.len() > 1).count()
    }
}
