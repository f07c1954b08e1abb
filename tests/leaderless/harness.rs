//! A tiny synchronous network for driving leaderless nodes by hand: messages are delivered in
//! the order sent, instantly, unless either end is down; timers fire only when a test says so.

use capsim::engine::rng::SimRng;
use capsim::policy::leaderless::{Leaderless, LeaderlessConfig, QuorumMsg, QuorumTimer};
use capsim::policy::ring::Ring;
use capsim::policy::{ClientReq, Cluster, Ctx, Effect, Note, OpRef, OpResult, Policy};
use capsim::types::{Key, NodeId, OpKind, ValueId};
use std::collections::VecDeque;
use std::sync::Arc;

pub struct Net {
    pub nodes: Vec<Leaderless>,
    rngs: Vec<SimRng>,
    pub down: Vec<bool>,
    pub now_us: u64,
    queue: VecDeque<(NodeId, NodeId, QuorumMsg)>,
    pub replies: Vec<(OpRef, OpResult)>,
    pub notes: Vec<(NodeId, Note)>,
    /// Messages sent, by kind name.
    pub sent: Vec<&'static str>,
    next_op: u64,
    /// Session guarantees every request asks for (session 0).
    pub guarantees: capsim::policy::Guarantees,
}

pub fn config(nodes: u16, rf: u16, keys: u32) -> LeaderlessConfig {
    let ring = Arc::new(Ring::new(nodes, 8, rf, keys));
    LeaderlessConfig::basic(ring, keys, 2, 2)
}

impl Net {
    pub fn new(nodes: u16, config: &LeaderlessConfig) -> Net {
        let cluster = Cluster { nodes, seed: 1 };
        let mut net = Net {
            nodes: (0..nodes)
                .map(|n| Leaderless::new(NodeId(n), &cluster, config))
                .collect(),
            rngs: (0..nodes as usize)
                .map(|n| SimRng::for_node(1, n))
                .collect(),
            down: vec![false; nodes as usize],
            now_us: 1_000,
            queue: VecDeque::new(),
            replies: Vec::new(),
            notes: Vec::new(),
            sent: Vec::new(),
            next_op: 0,
            guarantees: Default::default(),
        };
        for n in 0..nodes {
            net.with(NodeId(n), |p, ctx| p.on_start(ctx));
        }
        net.deliver();
        net
    }

    fn with(
        &mut self,
        n: NodeId,
        f: impl FnOnce(&mut Leaderless, &mut Ctx<'_, QuorumMsg, QuorumTimer>),
    ) {
        let mut out = Vec::new();
        let mut ctx = Ctx {
            now: capsim::types::SimTime(self.now_us),
            local_now_us: self.now_us,
            me: n,
            rng: &mut self.rngs[n.index()],
            out: &mut out,
        };
        f(&mut self.nodes[n.index()], &mut ctx);
        for e in out {
            match e {
                Effect::Send { to, msg } => {
                    self.sent.push(
                        capsim::policy::leaderless::KINDS
                            [capsim::policy::Message::kind(&msg) as usize],
                    );
                    self.queue.push_back((n, to, msg));
                }
                Effect::Reply { op, result } => self.replies.push((op, result)),
                Effect::Note(note) => self.notes.push((n, note)),
                _ => {}
            }
        }
    }

    /// Delivers queued messages until none are left (messages to or from down nodes are lost).
    pub fn deliver(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            if self.down[from.index()] || self.down[to.index()] {
                continue;
            }
            self.with(to, |p, ctx| p.on_message(ctx, from, msg));
        }
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.now_us += ms * 1000;
    }

    /// Fires `timer` on every node that is up, then delivers what it sent.
    pub fn tick(&mut self, timer: QuorumTimer) {
        for n in 0..self.nodes.len() {
            if !self.down[n] {
                self.with(NodeId(n as u16), |p, ctx| p.on_timer(ctx, timer));
            }
        }
        self.deliver();
    }

    pub fn crash(&mut self, n: u16) {
        self.down[n as usize] = true;
        self.nodes[n as usize].on_crash();
    }

    pub fn restart(&mut self, n: u16) {
        self.down[n as usize] = false;
        self.with(NodeId(n), |p, ctx| p.on_start(ctx));
    }

    /// Sends a client request to `coordinator`, delivers everything, returns the reply if any.
    pub fn request(
        &mut self,
        coordinator: u16,
        kind: OpKind,
        key: Key,
        value: Option<u64>,
    ) -> Option<OpResult> {
        self.next_op += 1;
        let op = OpRef(self.next_op);
        let req = ClientReq {
            op,
            kind,
            key,
            value: value.map(ValueId),
            session: 0,
            guarantees: self.guarantees,
            level: None,
        };
        self.with(NodeId(coordinator), |p, ctx| p.on_client(ctx, req));
        self.deliver();
        self.replies.iter().find(|(o, _)| *o == op).map(|(_, r)| *r)
    }

    pub fn write(&mut self, coordinator: u16, key: Key, value: u64) -> Option<OpResult> {
        self.advance_ms(1);
        self.request(coordinator, OpKind::Write, key, Some(value))
    }

    pub fn delete(&mut self, coordinator: u16, key: Key) -> Option<OpResult> {
        self.advance_ms(1);
        self.request(coordinator, OpKind::Delete, key, None)
    }

    pub fn read(&mut self, coordinator: u16, key: Key) -> Option<OpResult> {
        self.advance_ms(1);
        self.request(coordinator, OpKind::Read, key, None)
    }

    /// The value node `n` stores for `key` (None: absent or a tombstone).
    pub fn stored(&self, n: u16, key: Key) -> Option<u64> {
        self.cell(n, key).and_then(|(v, _)| v)
    }

    /// Node `n`'s cell for `key`: Some((value, is_present)), None when it holds nothing at all.
    pub fn cell(&self, n: u16, key: Key) -> Option<(Option<u64>, ())> {
        let mut out = Vec::new();
        self.nodes[n as usize].stored(&mut out);
        out.iter()
            .find(|s| s.key == key)
            .map(|s| (s.value.map(|v| v.0), ()))
    }

    pub fn count_notes(&self, f: impl Fn(&Note) -> bool) -> usize {
        self.notes.iter().filter(|(_, n)| f(n)).count()
    }

    pub fn replicas(&self, key: Key) -> Vec<NodeId> {
        let mut out = Vec::new();
        self.nodes[0].replicas_of(key, &mut out);
        out
    }
}
