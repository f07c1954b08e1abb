//! The state machine driven by hand: each test builds a few nodes, delivers (or drops) their
//! messages itself and reads the effects. Expected values follow from the rules in the module
//! docs; where Kafka has a test for the same rule (PartitionTest, ReplicaManagerTest) the name
//! says which behaviour it mirrors.

mod acks;
mod failover;

use super::*;
use crate::engine::rng::SimRng;
use crate::policy::{Effect, FailReason, OpRef};
use crate::types::SimTime;
use std::collections::VecDeque;

const N1: NodeId = NodeId(0);
const N2: NodeId = NodeId(1);
const N3: NodeId = NodeId(2);
const N4: NodeId = NodeId(3);

/// A hand-run cluster: messages wait on `wire` until a test delivers them.
struct Net {
    nodes: Vec<SingleLeader>,
    up: Vec<bool>,
    /// Directed links that lose everything.
    cut: Vec<(NodeId, NodeId)>,
    now_us: u64,
    rng: SimRng,
    wire: VecDeque<(NodeId, NodeId, LeaderMsg)>,
    replies: Vec<(OpRef, OpResult)>,
    notes: Vec<String>,
    /// Every `Applied` effect, in order, with the node that reported it.
    applied: Vec<(NodeId, Key, Option<ValueId>, Version)>,
    /// Effects of the last callback, in the order the node produced them.
    last_effects: Vec<&'static str>,
    next_op: u64,
}

impl Net {
    fn new(n: u16, config: SingleLeaderConfig) -> Net {
        let cluster = Cluster { nodes: n, seed: 7 };
        let mut net = Net {
            nodes: (0..n)
                .map(|i| SingleLeader::new(NodeId(i), &cluster, &config))
                .collect(),
            up: vec![true; n as usize],
            cut: Vec::new(),
            now_us: 0,
            rng: SimRng::new(7, 99),
            wire: VecDeque::new(),
            replies: Vec::new(),
            notes: Vec::new(),
            applied: Vec::new(),
            last_effects: Vec::new(),
            next_op: 0,
        };
        for i in 0..n {
            net.run(NodeId(i), |p, ctx| p.on_start(ctx));
        }
        net
    }

    fn run(&mut self, id: NodeId, f: impl FnOnce(&mut SingleLeader, &mut SCtx<'_>)) {
        let mut out = Vec::new();
        let mut ctx = Ctx {
            now: SimTime(self.now_us),
            local_now_us: self.now_us,
            me: id,
            rng: &mut self.rng,
            out: &mut out,
        };
        f(&mut self.nodes[id.index()], &mut ctx);
        self.last_effects.clear();
        for e in out {
            match e {
                Effect::Send { to, msg } => {
                    self.last_effects.push("send");
                    self.wire.push_back((id, to, msg));
                }
                Effect::Reply { op, result } => {
                    self.last_effects.push("reply");
                    self.replies.push((op, result));
                }
                Effect::Applied {
                    key,
                    value,
                    version,
                } => {
                    self.last_effects.push("applied");
                    self.applied.push((id, key, value, version));
                }
                Effect::Note(n) => self.notes.push(match n {
                    Note::BecameLeader { term } => format!("{id} became leader for epoch {term}"),
                    Note::SteppedDown { term } => format!("{id} stepped down in epoch {term}"),
                    Note::Storage(e) => e.describe(id),
                    Note::Text(t) => t,
                    Note::Log(n) => n.to_string(),
                    other => other.describe(id),
                }),
                Effect::SetTimer { .. } => {}
                Effect::Violation(kind) => panic!("{id} reported a {kind:?} violation"),
            }
        }
    }

    /// Delivers everything on the wire, and what that causes, except over cut links and to
    /// crashed nodes.
    fn deliver(&mut self) {
        for _ in 0..100_000 {
            let Some((from, to, msg)) = self.wire.pop_front() else {
                return;
            };
            if self.up[to.index()] && !self.cut.contains(&(from, to)) {
                self.run(to, |p, ctx| p.on_message(ctx, from, msg));
            }
        }
        panic!("messages never stop");
    }

    /// Drops whatever is on the wire.
    fn lose_all(&mut self) {
        self.wire.clear();
    }

    fn cut_both(&mut self, a: NodeId, b: NodeId) {
        self.cut.push((a, b));
        self.cut.push((b, a));
    }

    fn client(&mut self, at: NodeId, kind: OpKind, key: Key, value: Option<u64>) -> OpRef {
        self.next_op += 1;
        let op = OpRef(self.next_op);
        let req = ClientReq {
            op,
            kind,
            key,
            value: value.map(ValueId),
            session: 0,
            guarantees: Default::default(),
            level: None,
        };
        self.run(at, |p, ctx| p.on_client(ctx, req));
        op
    }

    fn write(&mut self, at: NodeId, key: Key, value: u64) -> OpRef {
        self.client(at, OpKind::Write, key, Some(value))
    }

    fn result(&self, op: OpRef) -> Option<OpResult> {
        self.replies.iter().find(|(o, _)| *o == op).map(|(_, r)| *r)
    }

    fn tick(&mut self, id: NodeId) {
        self.run(id, |p, ctx| p.on_timer(ctx, LeaderTimer::Tick));
    }

    fn controller_tick(&mut self, id: NodeId) {
        self.run(id, |p, ctx| p.on_timer(ctx, LeaderTimer::ControllerTick));
    }

    fn advance_ms(&mut self, ms: u64) {
        self.now_us += ms * 1000;
    }

    /// Lets `ms` pass in 10 ms steps as the engine would: every running node ticks every
    /// 20 ms, the controller (if any, and running) every 50 ms, and messages arrive in between.
    fn pass_ms(&mut self, ms: u64) {
        for _ in 0..ms / 10 {
            self.advance_ms(10);
            let t = self.now_us / 1000;
            for i in 0..self.nodes.len() {
                let id = NodeId(i as u16);
                if !self.up[i] {
                    continue;
                }
                if self.nodes[i].ctl.is_some() {
                    if t.is_multiple_of(50) {
                        self.controller_tick(id);
                    }
                } else if t.is_multiple_of(20) {
                    self.tick(id);
                }
            }
            self.deliver();
        }
    }

    fn restart(&mut self, id: NodeId) {
        self.up[id.index()] = true;
        self.run(id, |p, ctx| p.on_start(ctx));
    }

    fn crash(&mut self, id: NodeId) {
        self.up[id.index()] = false;
        self.nodes[id.index()].on_crash();
    }

    fn value(&self, id: NodeId, key: Key) -> Option<ValueId> {
        let mut out = Vec::new();
        self.nodes[id.index()].stored(&mut out);
        out.iter().find(|s| s.key == key).and_then(|s| s.value)
    }

    fn log_len(&self, id: NodeId) -> u64 {
        self.nodes[id.index()].log.last_index()
    }

    fn noted(&self, text: &str) -> bool {
        self.notes.iter().any(|n| n.contains(text))
    }

    /// Moves leadership without a controller: every node is reconfigured, running nodes are
    /// told (what the engine does for `Set("policy.leader", ..)`).
    fn set_leader(&mut self, to: NodeId) {
        for i in 0..self.nodes.len() {
            let mut c = self.nodes[i].config.clone();
            c.leader = to;
            self.nodes[i].reconfigure(&c);
        }
        for i in 0..self.nodes.len() as u16 {
            if self.up[i as usize] {
                self.run(NodeId(i), |p, ctx| p.on_set(ctx, "policy.leader"));
            }
        }
    }
}

fn config(replication: Replication) -> SingleLeaderConfig {
    SingleLeaderConfig::with_leader(N1, replication)
}

/// Four nodes: n1 leads, n2 and n3 follow, n4 is the controller.
fn with_controller(replication: Replication) -> SingleLeaderConfig {
    SingleLeaderConfig {
        controller: Some(N4),
        ..config(replication)
    }
}

fn written(r: Option<OpResult>) -> bool {
    matches!(r, Some(OpResult::Written(_)))
}

mod log;
