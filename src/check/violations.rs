//! Violation kinds and their counts: the `violations` object of the report.
//!
//! The history checkers (`check::analysis`) fill in the consistency kinds after a run; the stale-
//! read tracker fills in `stale_read` while it runs; policies report broken protocol invariants
//! with `Effect::Violation` (see `policy::Effect`), and the engine itself checks election safety
//! from `Note::BecameLeader`. docs/metrics.md defines each kind.

use crate::types::NodeId;
use serde::Serialize;
use std::collections::BTreeMap;

/// Declares the kinds once: the enum, `ALL`, the names, and the `Violations` fields.
macro_rules! violation_kinds {
    ($($(#[$doc:meta])* $variant:ident => $field:ident,)*) => {
        /// One kind of broken promise. `name()` is its field name in `violations`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ViolationKind {
            $($(#[$doc])* $variant,)*
        }

        impl ViolationKind {
            pub const ALL: &'static [ViolationKind] = &[$(ViolationKind::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(ViolationKind::$variant => stringify!($field),)*
                }
            }
        }

        /// One count per violation kind (serialised as an object with exactly these names).
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct Violations {
            $(pub $field: u64,)*
        }

        impl Violations {
            pub fn get(&self, kind: ViolationKind) -> u64 {
                match kind {
                    $(ViolationKind::$variant => self.$field,)*
                }
            }

            fn slot(&mut self, kind: ViolationKind) -> &mut u64 {
                match kind {
                    $(ViolationKind::$variant => &mut self.$field,)*
                }
            }
        }
    };
}

violation_kinds! {
    /// Keys whose sub-history is not linearizable.
    Linearizability => linearizability,
    StaleRead => stale_read,
    ReadYourWrites => read_your_writes,
    MonotonicReads => monotonic_reads,
    MonotonicWrites => monotonic_writes,
    WritesFollowReads => writes_follow_reads,
    LostWrite => lost_write,
    Resurrected => resurrected,
    /// Raft: at most one leader per term.
    ElectionSafety => election_safety,
    /// Raft: two logs with an entry of the same index and term agree up to it.
    LogMatching => log_matching,
    /// Raft: a committed entry is in the log of every later leader.
    LeaderCompleteness => leader_completeness,
    /// Raft: no two nodes apply different commands at the same index.
    StateMachineSafety => state_machine_safety,
}

impl Violations {
    /// Sets one count; returns the old one.
    pub fn set(&mut self, kind: ViolationKind, count: u64) -> u64 {
        std::mem::replace(self.slot(kind), count)
    }

    pub fn add(&mut self, kind: ViolationKind, count: u64) {
        let slot = self.slot(kind);
        *slot = slot.saturating_add(count);
    }

    /// Every kind with its count, in the documented order.
    pub fn iter(&self) -> impl Iterator<Item = (ViolationKind, u64)> + '_ {
        ViolationKind::ALL.iter().map(|&k| (k, self.get(k)))
    }

    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).fold(0, u64::saturating_add)
    }
}

/// Terms remembered for the election-safety check; the oldest are forgotten beyond this.
pub const MAX_TERMS_TRACKED: usize = 100_000;

/// Election safety from the policies' `Note::BecameLeader`: each further node that becomes leader
/// in a term that already has one counts once (a node announcing itself again does not count).
#[derive(Clone, Debug, Default)]
pub struct LeaderTerms {
    leaders_of_term: BTreeMap<u64, Vec<NodeId>>,
}

impl LeaderTerms {
    /// Records `node` becoming leader in `term`; true if that breaks election safety anew.
    pub fn on_became_leader(&mut self, node: NodeId, term: u64) -> bool {
        if !self.leaders_of_term.contains_key(&term)
            && self.leaders_of_term.len() >= MAX_TERMS_TRACKED
        {
            self.leaders_of_term.pop_first();
        }
        let leaders = self.leaders_of_term.entry(term).or_default();
        if leaders.contains(&node) {
            return false;
        }
        leaders.push(node);
        leaders.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_serialised_fields_in_order() {
        let json = serde_json::to_value(Violations::default()).unwrap();
        let mut fields: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut names: Vec<&str> = ViolationKind::ALL.iter().map(|k| k.name()).collect();
        fields.sort();
        names.sort();
        assert_eq!(fields, names);
        let brief = "linearizability stale_read read_your_writes monotonic_reads monotonic_writes \
            writes_follow_reads lost_write resurrected election_safety log_matching \
            leader_completeness state_machine_safety";
        let listed: Vec<&str> = ViolationKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(listed, brief.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn counts_are_per_kind() {
        let mut v = Violations::default();
        v.add(ViolationKind::LostWrite, 2);
        v.add(ViolationKind::ElectionSafety, 1);
        v.add(ViolationKind::LostWrite, 1);
        assert_eq!(v.get(ViolationKind::LostWrite), 3);
        assert_eq!(v.lost_write, 3);
        assert_eq!(v.get(ViolationKind::StaleRead), 0);
        assert_eq!(v.total(), 4);
        assert_eq!(v.set(ViolationKind::LostWrite, 7), 3);
        assert_eq!(v.total(), 8);
    }

    #[test]
    fn two_leaders_in_one_term_break_election_safety() {
        let mut t = LeaderTerms::default();
        assert!(!t.on_became_leader(NodeId(0), 1));
        assert!(!t.on_became_leader(NodeId(0), 1), "same node again");
        assert!(!t.on_became_leader(NodeId(1), 2));
        assert!(t.on_became_leader(NodeId(2), 2));
        assert!(
            !t.on_became_leader(NodeId(2), 2),
            "counted once per node and term"
        );
        assert!(t.on_became_leader(NodeId(0), 2));
        assert!(!t.on_became_leader(NodeId(2), 3));
    }
}
