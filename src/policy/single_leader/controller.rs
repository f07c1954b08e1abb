//! The controller: one node that decides who leads (Kafka's controller, which ran on one broker
//! elected through ZooKeeper and now is a KRaft quorum; here it is a single dedicated node that
//! stores no data, so it is a single point of failure).
//!
//! Every `heartbeat_interval` it sends each node the leader epoch, leader and ISR (Kafka's
//! LeaderAndIsr request) and each node answers with where its log ends. When the leader has
//! been silent for `leader_timeout`, it elects a live member of the ISR, the one with the
//! longest log (Kafka takes the first live ISR member in replica order; any ISR member holds
//! every `acks=all` write, and the longest log loses the fewest `acks=1` writes). With no live
//! ISR member it elects a live out-of-sync replica only if `unclean_election` is on (Kafka's
//! `unclean.leader.election.enable`); otherwise the data stays without a leader until an ISR
//! member returns. Each election bumps the leader epoch; the new ISR is the live part of the old
//! one (clean) or just the new leader (unclean), as in Kafka's offline-partition election.
//! The controller's own epoch is bumped on each restart, so nodes can ignore what an earlier
//! incarnation said (Kafka's controller epoch; its "zombie controller" fencing).

use super::{
    ClusterState, LeaderMsg, LeaderTimer, NodeSet, SCtx, SingleLeader, SingleLeaderConfig,
};
use crate::policy::{NodeView, Note};
use crate::types::NodeId;
use std::cmp::Reverse;

#[derive(Clone, Debug)]
pub(super) struct Controller {
    // Durable (Kafka keeps this in ZooKeeper or the KRaft metadata log).
    controller_epoch: u64,
    epoch: u64,
    pub leader: Option<NodeId>,
    isr: NodeSet,
    isr_version: u64,
    // Volatile.
    /// Local time each node was last heard from.
    heard_us: Vec<u64>,
    /// Where each node last said its log ends: (epoch of the last entry, index).
    reported: Vec<(u64, u64)>,
}

/// Who the controller is asked to elect.
#[derive(Clone, Copy)]
enum Wanted {
    /// The best live replica (after the leader went silent, or while there is none).
    Any,
    /// A manual failover to this node.
    Node(NodeId),
}

impl Controller {
    pub fn new(nodes: u16) -> Controller {
        Controller {
            controller_epoch: 0,
            epoch: 0,
            leader: None,
            isr: NodeSet::default(),
            isr_version: 0,
            heard_us: vec![0; nodes as usize],
            reported: vec![(0, 0); nodes as usize],
        }
    }

    pub fn forget_volatile(&mut self) {
        self.heard_us.iter_mut().for_each(|h| *h = 0);
        self.reported.iter_mut().for_each(|r| *r = (0, 0));
    }

    pub fn view(&self) -> NodeView {
        let leader = self.leader.map_or("none".into(), |l| l.to_string());
        NodeView {
            role: "controller",
            term: Some(self.epoch),
            log_len: None,
            commit_index: None,
            details: vec![
                ("leader", leader),
                ("in-sync replicas", self.isr.to_string()),
                ("controller epoch", self.controller_epoch.to_string()),
            ],
            storage: None,
        }
    }

    fn state(&self) -> ClusterState {
        ClusterState {
            controller_epoch: self.controller_epoch,
            epoch: self.epoch,
            leader: self.leader,
            isr: self.isr,
            isr_version: self.isr_version,
        }
    }

    fn live(&self, n: NodeId, now: u64, cfg: &SingleLeaderConfig) -> bool {
        now.saturating_sub(self.heard_us[n.index()]) <= cfg.leader_timeout_us
    }

    /// The live member of `set` with the longest log (lowest id on a tie).
    fn best(&self, set: NodeSet, now: u64, cfg: &SingleLeaderConfig) -> Option<NodeId> {
        set.iter()
            .filter(|n| self.live(*n, now, cfg))
            .max_by_key(|n| (self.reported[n.index()], Reverse(*n)))
    }

    fn broadcast(&self, ctx: &mut SCtx<'_>, brokers: NodeSet) {
        for b in brokers.iter() {
            ctx.send(b, LeaderMsg::LeaderAndIsr(self.state()));
        }
    }

    fn start(&mut self, ctx: &mut SCtx<'_>, cfg: &SingleLeaderConfig, brokers: NodeSet) {
        if self.controller_epoch == 0 {
            // The initial assignment: the configured leader, every replica in sync.
            self.controller_epoch = 1;
            self.epoch = 1;
            self.leader = Some(cfg.leader);
            self.isr = brokers;
            self.isr_version = 1;
        } else {
            self.controller_epoch += 1;
            ctx.note(Note::Text(format!(
                "controller {} restarted with controller epoch {}",
                ctx.me, self.controller_epoch
            )));
        }
        // Everyone gets a full timeout to be heard from before it counts as gone.
        self.heard_us.iter_mut().for_each(|h| *h = ctx.local_now_us);
        self.broadcast(ctx, brokers);
        ctx.set_timer(cfg.heartbeat_interval_us, LeaderTimer::ControllerTick);
    }

    fn tick(&mut self, ctx: &mut SCtx<'_>, cfg: &SingleLeaderConfig, brokers: NodeSet) {
        let now = ctx.local_now_us;
        match self.leader {
            Some(l) if cfg.auto_failover && !self.live(l, now, cfg) => {
                let silent_ms = now.saturating_sub(self.heard_us[l.index()]) / 1000;
                let why = format!("no word from {l} for {silent_ms} ms");
                self.elect(ctx, cfg, brokers, Wanted::Any, &why);
            }
            None => self.elect(ctx, cfg, brokers, Wanted::Any, "there was no leader"),
            Some(_) => {}
        }
        self.broadcast(ctx, brokers);
        ctx.set_timer(cfg.heartbeat_interval_us, LeaderTimer::ControllerTick);
    }

    fn elect(
        &mut self,
        ctx: &mut SCtx<'_>,
        cfg: &SingleLeaderConfig,
        brokers: NodeSet,
        wanted: Wanted,
        why: &str,
    ) {
        let now = ctx.local_now_us;
        let me = ctx.me;
        let choice = match wanted {
            Wanted::Node(t) if !self.live(t, now, cfg) => Err(format!("{t} is not reachable")),
            Wanted::Node(t) if self.isr.contains(t) => Ok((t, true)),
            Wanted::Node(t) if cfg.unclean_election => Ok((t, false)),
            Wanted::Node(t) => Err(format!(
                "{t} is not in the ISR {} and unclean_election is off",
                self.isr
            )),
            Wanted::Any => match self.best(self.isr, now, cfg) {
                Some(n) => Ok((n, true)),
                None if cfg.unclean_election => match self.best(brokers, now, cfg) {
                    Some(n) => Ok((n, false)),
                    None => Err("no replica is reachable".into()),
                },
                None => Err(format!(
                    "no member of the ISR {} is reachable and unclean_election is off",
                    self.isr
                )),
            },
        };
        let (new, clean) = match choice {
            Ok(c) => c,
            Err(reason) => return self.no_election(ctx, brokers, wanted, &reason),
        };
        let before = self.isr;
        self.epoch += 1;
        self.leader = Some(new);
        self.isr = if clean {
            let live = before.iter().filter(|n| self.live(*n, now, cfg));
            live.fold(NodeSet::default(), NodeSet::with).with(new)
        } else {
            NodeSet::default().with(new)
        };
        self.isr_version += 1;
        let how = if clean {
            format!("{new} was in sync")
        } else {
            let (e, i) = self.reported[new.index()];
            let longest = before.iter().map(|n| self.reported[n.index()].1).max();
            format!(
                "unclean: {new} was not in the ISR {before}; its log ends at {i} (epoch {e}), \
                 the in-sync replicas last reported logs up to {}",
                longest.unwrap_or(0)
            )
        };
        ctx.note(Note::Text(format!(
            "controller {me} elected {new} for epoch {} ({why}; {how})",
            self.epoch
        )));
        self.broadcast(ctx, brokers);
    }

    /// Nobody can be elected. A silent leader is deposed all the same (a new epoch with no
    /// leader), so that it cannot come back and write as if nothing happened.
    fn no_election(&mut self, ctx: &mut SCtx<'_>, brokers: NodeSet, wanted: Wanted, why: &str) {
        let me = ctx.me;
        match wanted {
            Wanted::Node(t) => ctx.note(Note::Text(format!(
                "controller {me} refused to move leadership to {t}: {why}"
            ))),
            Wanted::Any if self.leader.is_some() => {
                self.epoch += 1;
                self.leader = None;
                ctx.note(Note::Text(format!(
                    "controller {me}: no leader for epoch {} ({why})",
                    self.epoch
                )));
                self.broadcast(ctx, brokers);
            }
            Wanted::Any => {}
        }
    }

    fn on_heartbeat(&mut self, from: NodeId, now: u64, last_epoch: u64, last_index: u64) {
        self.heard_us[from.index()] = now;
        self.reported[from.index()] = (last_epoch, last_index);
    }

    /// Kafka's AlterPartition: only the current leader of the current epoch may change the ISR.
    fn on_alter_isr(&mut self, ctx: &mut SCtx<'_>, from: NodeId, epoch: u64, isr: NodeSet) {
        self.heard_us[from.index()] = ctx.local_now_us;
        if self.leader == Some(from) && epoch == self.epoch {
            let new = isr.with(from);
            if new != self.isr {
                self.isr = new;
                self.isr_version += 1;
                ctx.note(Note::Text(format!(
                    "controller {}: the ISR of epoch {epoch} is now {new}",
                    ctx.me
                )));
            }
        }
        // Either way the sender learns the current state.
        ctx.send(from, LeaderMsg::LeaderAndIsr(self.state()));
    }
}

impl SingleLeader {
    pub(super) fn controller_start(&mut self, ctx: &mut SCtx<'_>) {
        let brokers = self.brokers();
        if let Some(c) = self.ctl.as_mut() {
            c.start(ctx, &self.config, brokers);
        }
    }

    pub(super) fn controller_tick(&mut self, ctx: &mut SCtx<'_>) {
        let brokers = self.brokers();
        if let Some(c) = self.ctl.as_mut() {
            c.tick(ctx, &self.config, brokers);
        }
    }

    pub(super) fn controller_message(&mut self, ctx: &mut SCtx<'_>, from: NodeId, msg: LeaderMsg) {
        let brokers = self.brokers();
        let Some(c) = self.ctl.as_mut() else {
            return;
        };
        if !brokers.contains(from) {
            return;
        }
        match msg {
            LeaderMsg::Heartbeat {
                last_index,
                last_epoch,
            } => {
                c.on_heartbeat(from, ctx.local_now_us, last_epoch, last_index);
                if c.leader.is_none() {
                    // A replica is back: maybe it can lead.
                    c.elect(ctx, &self.config, brokers, Wanted::Any, "a replica is back");
                }
            }
            LeaderMsg::AlterIsr { epoch, isr } => c.on_alter_isr(ctx, from, epoch, isr),
            _ => {}
        }
    }

    /// `Set("policy.leader", ..)`: move leadership to `target` (Kafka's kafka-leader-election
    /// tool; PostgreSQL's switchover).
    pub(super) fn manual_failover(&mut self, ctx: &mut SCtx<'_>, target: NodeId) {
        let brokers = self.brokers();
        let Some(c) = self.ctl.as_mut() else {
            return;
        };
        if !brokers.contains(target) {
            return ctx.note(Note::Text(format!(
                "controller {}: {target} stores no data and cannot lead",
                ctx.me
            )));
        }
        if c.leader == Some(target) {
            return ctx.note(Note::Text(format!(
                "controller {}: {target} already leads epoch {}",
                ctx.me, c.epoch
            )));
        }
        let why = format!("manual failover to {target}");
        c.elect(ctx, &self.config, brokers, Wanted::Node(target), &why);
    }
}
