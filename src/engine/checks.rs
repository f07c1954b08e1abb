//! The engine's side of the checkers: counting the protocol violations policies report, checking
//! election safety from their notes, and the facts the report needs about faults.

use super::{Engine, Fault};
use crate::check::violations::ViolationKind;
use crate::policy::Policy;
use crate::trace::TraceEvent;
use crate::types::{NodeId, SimTime};

impl Fault {
    /// Whether this fault ends a disturbance: it removes a partition or cut link, restarts or
    /// resumes a node, or ends a loss burst. `converged_after_ms` counts from the last one.
    pub fn is_heal(&self) -> bool {
        matches!(
            self,
            Fault::Unblock(_)
                | Fault::HealAll
                | Fault::Restart(_)
                | Fault::Resume(_)
                | Fault::LossBurstEnd
        )
    }
}

impl<P: Policy> Engine<P> {
    /// Counts a violation a policy node reported (`Effect::Violation`) and notes it in the trace.
    pub(super) fn count_violation(&mut self, node: NodeId, kind: ViolationKind) {
        self.metrics.violations.add(kind, 1);
        let text = format!("{node} found {} violated", kind.name());
        self.tracer.emit(self.now, TraceEvent::Note { node, text });
    }

    /// Election safety: at most one leader per term, whatever the policy.
    pub(super) fn check_election_safety(&mut self, node: NodeId, term: u64) {
        if self.metrics.leader_terms.on_became_leader(node, term) {
            self.count_violation(node, ViolationKind::ElectionSafety);
        }
    }

    /// Whether any healing fault was applied.
    pub fn healed(&self) -> bool {
        self.applied_faults.iter().any(|(_, f)| f.is_heal())
    }

    /// When the last healing fault was applied (time 0 if none was).
    pub fn last_heal(&self) -> SimTime {
        self.applied_faults
            .iter()
            .rev()
            .find(|(_, f)| f.is_heal())
            .map_or(SimTime::ZERO, |(t, _)| *t)
    }
}
