//! Unit tests that drive the state machine directly with constructed messages and inspect the
//! effects it returns, after etcd-io/raft `raft_paper_test.go` and `raft_test.go` (the test
//! names in comments are theirs).

mod election;
mod reads;
mod replication;
mod snapshot;

use super::*;
use crate::engine::rng::SimRng;
pub(super) use crate::policy::{Effect, FailReason, Note, OpResult};
use crate::types::SimTime;
pub(super) use crate::types::Version;
use std::collections::VecDeque;

type Effects = Vec<Effect<RaftMsg, RaftTimer>>;

pub(super) fn config() -> RaftConfig {
    RaftConfig::default()
}

pub(super) fn node(me: u16, nodes: u16) -> Raft {
    node_with(me, nodes, &config())
}

pub(super) fn node_with(me: u16, nodes: u16, config: &RaftConfig) -> Raft {
    Raft::new(NodeId(me), &Cluster { nodes, seed: 1 }, config)
}

/// Runs one callback at local time `now_us` (the node's clock equals true time here).
pub(super) fn run(r: &mut Raft, now_us: u64, f: impl FnOnce(&mut Raft, &mut RCtx<'_>)) -> Effects {
    run_seeded(r, now_us, 7, f)
}

pub(super) fn run_seeded(
    r: &mut Raft,
    now_us: u64,
    seed: u64,
    f: impl FnOnce(&mut Raft, &mut RCtx<'_>),
) -> Effects {
    let mut rng = SimRng::new(seed, 1000 + r.me.0 as u64);
    let mut out = Vec::new();
    let mut ctx = Ctx {
        now: SimTime(now_us),
        local_now_us: now_us,
        me: r.me,
        rng: &mut rng,
        out: &mut out,
    };
    f(r, &mut ctx);
    out
}

pub(super) fn recv(r: &mut Raft, now_us: u64, from: u16, msg: RaftMsg) -> Effects {
    run(r, now_us, |r, ctx| r.on_message(ctx, NodeId(from), msg))
}

pub(super) fn sent(e: &Effects) -> Vec<(NodeId, RaftMsg)> {
    e.iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn replies(e: &Effects) -> Vec<(OpRef, OpResult)> {
    e.iter()
        .filter_map(|e| match e {
            Effect::Reply { op, result } => Some((*op, *result)),
            _ => None,
        })
        .collect()
}

pub(super) fn notes(e: &Effects) -> Vec<Note> {
    e.iter()
        .filter_map(|e| match e {
            Effect::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn texts(e: &Effects) -> String {
    notes(e)
        .into_iter()
        .filter_map(|n| match n {
            Note::Text(t) => Some(t),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn write(op: u64, key: Key, value: u64) -> ClientReq {
    ClientReq {
        op: OpRef(op),
        kind: OpKind::Write,
        key,
        value: Some(ValueId(value)),
        session: 0,
        guarantees: Default::default(),
        level: None,
    }
}

pub(super) fn read(op: u64, key: Key) -> ClientReq {
    ClientReq {
        op: OpRef(op),
        kind: OpKind::Read,
        key,
        value: None,
        session: 0,
        guarantees: Default::default(),
        level: None,
    }
}

pub(super) fn client(r: &mut Raft, now_us: u64, req: ClientReq) -> Effects {
    run(r, now_us, |r, ctx| r.on_client(ctx, req))
}

/// etcd `acceptAndReply`: the follower accepted an append.
pub(super) fn accept(msg: &RaftMsg) -> RaftMsg {
    let RaftMsg::Append {
        term,
        prev_index,
        entries,
        ..
    } = msg
    else {
        panic!("not an append: {msg:?}")
    };
    RaftMsg::AppendResp {
        term: *term,
        index: prev_index + entries.len() as u64,
        reject: None,
    }
}

/// Makes node 0 of a fresh `nodes`-node cluster the leader of term 1 and commits its no-op
/// entry (etcd `becomeCandidate; becomeLeader; commitNoopEntry`). Returns it.
pub(super) fn leader(nodes: u16, config: &RaftConfig) -> Raft {
    let mut r = node_with(0, nodes, config);
    run(&mut r, 0, |r, ctx| r.campaign(ctx));
    let mut e = Vec::new();
    for peer in 1..nodes {
        e.extend(recv(
            &mut r,
            1,
            peer,
            RaftMsg::Vote {
                term: 1,
                granted: true,
            },
        ));
    }
    assert_eq!(r.role, Role::Leader);
    for (to, m) in sent(&e) {
        if matches!(m, RaftMsg::Append { .. }) {
            recv(&mut r, 2, to.0, accept(&m));
        }
    }
    assert_eq!(r.commit, 1, "the no-op entry is committed");
    r
}

pub(super) fn log_terms(r: &Raft) -> Vec<u64> {
    (1..=r.log.last_index())
        .map(|i| r.log.get(i).unwrap().term)
        .collect()
}

/// Fills a log with entries of the given terms (indexes 1, 2, ...).
pub(super) fn with_log(mut r: Raft, terms: &[u64]) -> Raft {
    for &term in terms {
        r.append_new(0, term, Command::Noop);
    }
    r
}

/// A synchronous network of state machines, like etcd's test `network`: messages are delivered
/// in order until none is left; cut links drop them. Timers are not run: tests fire elections
/// and heartbeats themselves.
pub(super) struct Net {
    pub nodes: Vec<Raft>,
    pub now_us: u64,
    pub cut: Vec<u16>,
    pub queue: VecDeque<(NodeId, NodeId, RaftMsg)>,
    pub replies: Vec<(NodeId, OpRef, OpResult)>,
    pub notes: Vec<(NodeId, Note)>,
}

impl Net {
    pub fn new(n: u16) -> Net {
        Net {
            nodes: (0..n).map(|i| node(i, n)).collect(),
            now_us: 0,
            cut: Vec::new(),
            queue: VecDeque::new(),
            replies: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Runs `f` on node `i` and delivers everything that follows.
    pub fn act(&mut self, i: u16, f: impl FnOnce(&mut Raft, &mut RCtx<'_>)) {
        self.call(i, f);
        while let Some((from, to, msg)) = self.queue.pop_front() {
            if self.cut.contains(&from.0) != self.cut.contains(&to.0) {
                continue;
            }
            self.call(to.0, |r, ctx| r.on_message(ctx, from, msg));
        }
    }

    fn call(&mut self, i: u16, f: impl FnOnce(&mut Raft, &mut RCtx<'_>)) {
        self.now_us += 10;
        let me = NodeId(i);
        let effects = run(&mut self.nodes[i as usize], self.now_us, f);
        for e in effects {
            match e {
                Effect::Send { to, msg } => self.queue.push_back((me, to, msg)),
                Effect::Reply { op, result } => self.replies.push((me, op, result)),
                Effect::Note(n) => self.notes.push((me, n)),
                _ => {}
            }
        }
    }

    pub fn campaign(&mut self, i: u16) {
        self.act(i, |r, ctx| r.campaign(ctx));
    }

    pub fn heartbeat(&mut self, i: u16) {
        self.act(i, |r, ctx| {
            r.bcast_heartbeat(ctx);
        });
    }

    pub fn client(&mut self, i: u16, req: ClientReq) {
        self.act(i, |r, ctx| r.on_client(ctx, req));
    }

    pub fn reply_to(&self, op: u64) -> Option<OpResult> {
        self.replies
            .iter()
            .rev()
            .find(|(_, o, _)| o.0 == op)
            .map(|(_, _, r)| *r)
    }

    pub fn leaders(&self) -> Vec<(u16, u64)> {
        self.nodes
            .iter()
            .filter(|r| r.role == Role::Leader)
            .map(|r| (r.me.0, r.term))
            .collect()
    }
}
