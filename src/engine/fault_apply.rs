//! Applying faults: crashes, disk wipes, pauses, partitions and cut links, clock changes, loss
//! bursts, random faults and mid-run parameter changes (`Set`). Every fault returns the fault that
//! undoes it, so a timed fault can be healed by the engine.

use super::faults::{self, Fault};
use super::network::pairs_between;
use super::node::{Inbox, NodeStatus};
use super::{Engine, Event, FromScenario, Phase};
use crate::policy::Message;
use crate::scenario::schema::{Scenario, SetValue};
use crate::trace::{DropReason, FaultEvent, TraceEvent};
use crate::types::{NodeId, SimTime};

impl<P: FromScenario> Engine<P> {
    pub(super) fn apply_fault(&mut self, fault: Fault, undo_after_us: Option<u64>) {
        let undo = self.fault_effect(&fault);
        self.applied_faults.push((self.now, fault));
        if let (Some(after), Some(undo)) = (undo_after_us, undo) {
            self.pending_undos += 1;
            self.queue
                .push_at(self.now.saturating_add(after), Event::Undo(undo));
        }
    }

    /// Applies a fault; returns the fault that undoes it (if it can be undone).
    fn fault_effect(&mut self, fault: &Fault) -> Option<Fault> {
        match fault {
            Fault::Crash(n) => self.crash(*n).then_some(Fault::Restart(*n)),
            Fault::WipeDisk(n) => {
                self.wipe_disk(*n);
                Some(Fault::Restart(*n))
            }
            Fault::Restart(n) => self.restart(*n).then_some(Fault::Crash(*n)),
            Fault::Pause(n) => self.pause(*n).then_some(Fault::Resume(*n)),
            Fault::Resume(n) => self.resume(*n).then_some(Fault::Pause(*n)),
            Fault::Partition(groups) => Some(Fault::Unblock(self.partition(groups))),
            Fault::PartitionOneWay { from, to } => {
                Some(Fault::Unblock(self.block(pairs_between(from, to))))
            }
            Fault::CutLink { a, b, one_way } => {
                let mut pairs = vec![(*a, *b)];
                if !one_way {
                    pairs.push((*b, *a));
                }
                Some(Fault::Unblock(self.block(pairs)))
            }
            Fault::Unblock(cut) => {
                self.net.unblock(*cut);
                self.trace_fault(FaultEvent::Unblock { cut: *cut });
                None
            }
            Fault::HealAll => {
                self.net.heal_all();
                self.trace_fault(FaultEvent::HealAll);
                None
            }
            Fault::ClockSkew { node, skew_us } => {
                let old = std::mem::replace(&mut self.nodes[node.index()].clock.skew_us, *skew_us);
                self.trace_fault(FaultEvent::ClockSkew {
                    node: *node,
                    skew_us: *skew_us,
                });
                Some(Fault::ClockSkew {
                    node: *node,
                    skew_us: old,
                })
            }
            Fault::ClockDrift { node, drift_ppm } => {
                let clock = &mut self.nodes[node.index()].clock;
                let old = clock.drift_ppm;
                clock.set_drift(self.now, *drift_ppm);
                self.trace_fault(FaultEvent::ClockDrift {
                    node: *node,
                    drift_ppm: *drift_ppm,
                });
                Some(Fault::ClockDrift {
                    node: *node,
                    drift_ppm: old,
                })
            }
            Fault::LossBurst(p) => {
                self.net.set_loss_floor(*p);
                self.trace_fault(FaultEvent::LossBurst {
                    loss_ppm: libm::round(p * 1e6) as u32,
                });
                Some(Fault::LossBurstEnd)
            }
            Fault::LossBurstEnd => {
                self.net.set_loss_floor(0.0);
                self.trace_fault(FaultEvent::LossBurstEnd);
                None
            }
            Fault::Set { path, value } => {
                self.set_parameter(path, value);
                None
            }
        }
    }

    fn trace_fault(&mut self, f: FaultEvent) {
        self.tracer.emit(self.now, TraceEvent::Fault(f));
    }

    fn crash(&mut self, id: NodeId) -> bool {
        let node = &mut self.nodes[id.index()];
        if node.status == NodeStatus::Crashed {
            return false;
        }
        node.status = NodeStatus::Crashed;
        node.incarnation += 1;
        let backlog = std::mem::take(&mut node.inbox);
        node.policy.on_crash();
        self.metrics.replicas.set_live(id, false, self.now);
        self.trace_fault(FaultEvent::Crash(id));
        // Messages a paused node was holding are lost with it: count and trace them as drops.
        for item in backlog {
            if let Inbox::Message {
                from,
                msg,
                id: m,
                sent,
            } = item
            {
                self.dropped(from, id, msg.kind(), m, sent, DropReason::Crashed);
            }
        }
        true
    }

    /// A crash that loses the disk too: the node's state is rebuilt as at the start of the
    /// run (`Policy::new`) and the policy is told (`on_wiped`); it stays down until a restart.
    fn wipe_disk(&mut self, id: NodeId) {
        self.crash(id);
        let cluster = crate::policy::Cluster {
            nodes: self.nodes.len() as u16,
            seed: self.scenario.seed,
        };
        let node = &mut self.nodes[id.index()];
        node.policy = P::new(id, &cluster, &self.config);
        node.policy.on_wiped();
        self.metrics.replicas.forget_node(id, self.now);
        self.metrics.rebuild.applicable = true;
        self.trace_fault(FaultEvent::WipeDisk(id));
    }

    fn restart(&mut self, id: NodeId) -> bool {
        if self.nodes[id.index()].status != NodeStatus::Crashed {
            return false;
        }
        self.nodes[id.index()].status = NodeStatus::Up;
        self.metrics.replicas.set_live(id, true, self.now);
        self.trace_fault(FaultEvent::Restart(id));
        self.with_node(id, |p, ctx| p.on_start(ctx));
        true
    }

    fn pause(&mut self, id: NodeId) -> bool {
        let node = &mut self.nodes[id.index()];
        if node.status != NodeStatus::Up {
            return false;
        }
        node.status = NodeStatus::Paused;
        self.trace_fault(FaultEvent::Pause(id));
        true
    }

    /// Resumes a paused node and works through what arrived meanwhile, in arrival order.
    fn resume(&mut self, id: NodeId) -> bool {
        if self.nodes[id.index()].status != NodeStatus::Paused {
            return false;
        }
        self.nodes[id.index()].status = NodeStatus::Up;
        self.trace_fault(FaultEvent::Resume(id));
        while self.nodes[id.index()].status == NodeStatus::Up {
            let Some(item) = self.nodes[id.index()].inbox.pop_front() else {
                break;
            };
            match item {
                Inbox::Message {
                    from,
                    msg,
                    id: msg_id,
                    sent,
                } => {
                    self.metrics.messages_delivered += 1;
                    let t = TraceEvent::Deliver {
                        from,
                        to: id,
                        kind: msg.kind(),
                        msg: msg_id,
                        sent,
                    };
                    self.tracer.emit(self.now, t);
                    self.with_node(id, |p, ctx| p.on_message(ctx, from, msg));
                }
                Inbox::Timer(timer) => self.with_node(id, |p, ctx| p.on_timer(ctx, timer)),
                Inbox::Client(req) => self.with_node(id, |p, ctx| p.on_client(ctx, req)),
            }
        }
        true
    }

    fn partition(&mut self, groups: &[Vec<NodeId>]) -> u32 {
        let mut groups = groups.to_vec();
        let rest: Vec<NodeId> = (0..self.nodes.len() as u16)
            .map(NodeId)
            .filter(|n| !groups.iter().flatten().any(|g| g == n))
            .collect();
        if !rest.is_empty() {
            groups.push(rest);
        }
        let mut pairs = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    pairs.extend(pairs_between(a, b));
                }
            }
        }
        self.block(pairs)
    }

    fn block(&mut self, pairs: Vec<(NodeId, NodeId)>) -> u32 {
        let mut from: Vec<NodeId> = pairs.iter().map(|p| p.0).collect();
        let mut to: Vec<NodeId> = pairs.iter().map(|p| p.1).collect();
        for side in [&mut from, &mut to] {
            side.sort();
            side.dedup();
        }
        let cut = self.net.block(pairs);
        self.trace_fault(FaultEvent::Block { cut, from, to });
        cut
    }

    pub(super) fn random_fault(&mut self, index: usize) {
        if self.phase != Phase::Running {
            return;
        }
        let spec = self.scenario.random_faults[index].clone();
        let up: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Up)
            .map(|n| n.id)
            .collect();
        if let Some((fault, duration)) =
            faults::draw(&spec, self.nodes.len() as u16, &up, &mut self.fault_rng)
        {
            self.apply_fault(fault, Some(duration.max(1)));
        }
        self.schedule_random_fault(index);
    }

    pub(super) fn schedule_random_fault(&mut self, index: usize) {
        let rate = self.scenario.random_faults[index].per_second;
        if rate <= 0.0 {
            return;
        }
        let gap_us = -1e6 / rate * libm::log(self.fault_rng.unit_open0());
        let gap = (libm::round(gap_us) as u64).max(1);
        self.queue
            .push_at(self.now.saturating_add(gap), Event::RandomFault { index });
    }

    /// `Set(path, value)`: changes a scenario parameter mid-run. Validation has checked that the
    /// change is allowed, so a failure here leaves everything as it was.
    fn set_parameter(&mut self, path: &str, value: &SetValue) {
        let Ok(next) = crate::scenario::set_path::apply(&self.scenario, path, value) else {
            return;
        };
        let text = match value {
            SetValue::Bool(b) => b.to_string(),
            SetValue::Int(i) => i.to_string(),
            SetValue::Float(f) => f.to_string(),
            SetValue::Text(s) => s.clone(),
        };
        self.reconfigure(next);
        self.trace_fault(FaultEvent::Set {
            path: path.into(),
            value: text,
        });
        for i in 0..self.nodes.len() {
            if self.nodes[i].status == NodeStatus::Up {
                self.with_node(NodeId(i as u16), |p, ctx| p.on_set(ctx, path));
            }
        }
    }

    /// Adopts a changed scenario: network tables, workload and policy parameters.
    pub fn reconfigure(&mut self, next: Scenario) {
        self.net.configure(&next.network, P::KINDS);
        self.work.reconfigure(&next.workload);
        self.ops_limit = next.run.ops;
        self.config = P::config_from(&next);
        for n in &mut self.nodes {
            n.policy.reconfigure(&self.config);
        }
        self.scenario = next;
    }

    /// The end of run: the time now, for metrics that count what is still pending.
    pub fn end_time(&self) -> SimTime {
        self.now
    }
}
