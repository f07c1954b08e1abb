//! A log replica: a follower that copies the writer's log verbatim (for durability, like a
//! Kafka follower) and cleans its own copy. While it lags it still holds an erased user's
//! records; if it lags by more than `delete_retention_ms` it may never see the tombstone at all,
//! and then it keeps them for good (Kafka's warning about `delete.retention.ms`).

use super::{C, EventLogConfig, EventStore, Msg, Timer, note};
use crate::check::event_log::LogNote;
use crate::policy::{ClientReq, NodeView, OpResult};
use crate::scenario::schema::EventLogSpec;
use crate::types::{Key, NodeId, ms_to_us};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct LogReplica {
    me: NodeId,
    // Durable: the copy of the log and its end.
    log: EventStore,
    next: u64,
    copies_reported: BTreeMap<Key, u32>,
}

impl LogReplica {
    pub(super) fn new(me: NodeId, spec: &EventLogSpec) -> LogReplica {
        LogReplica {
            me,
            log: super::new_store(spec),
            next: 1,
            copies_reported: BTreeMap::new(),
        }
    }

    /// The copy as stored now.
    pub fn log(&self) -> &EventStore {
        &self.log
    }

    fn poll_us(&self, cfg: &EventLogConfig) -> u64 {
        let own = cfg
            .spec
            .log_replicas
            .iter()
            .find(|r| NodeId::parse(&r.node) == Some(self.me));
        let ms = own
            .and_then(|r| r.poll_interval_ms)
            .unwrap_or(cfg.spec.poll_interval_ms);
        ms_to_us(ms).max(1)
    }

    pub(super) fn start(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        self.fetch(ctx, cfg);
        ctx.set_timer(self.poll_us(cfg), Timer::Poll);
        if !cfg.spec.erasures.is_empty() {
            ctx.set_timer(ms_to_us(cfg.spec.compaction_interval_ms), Timer::Compact);
        }
        self.report_copies(ctx, cfg);
    }

    fn fetch(&self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        super::fetch_from(ctx, cfg, self.next);
    }

    pub(super) fn timer(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, timer: Timer) {
        match timer {
            Timer::Poll => {
                self.fetch(ctx, cfg);
                ctx.set_timer(self.poll_us(cfg), Timer::Poll);
            }
            Timer::Compact => {
                let (removed, purged) = super::compact(&mut self.log, ctx.now.0, &cfg.spec);
                if removed + purged > 0 {
                    let n = LogNote::Compacted {
                        records_removed: removed,
                        tombstones_purged: purged,
                    };
                    note(ctx, n);
                    self.report_copies(ctx, cfg);
                }
                ctx.set_timer(ms_to_us(cfg.spec.compaction_interval_ms), Timer::Compact);
            }
            _ => {}
        }
    }

    pub(super) fn client(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, req: ClientReq) {
        // A replica only keeps the log safe; commands and queries go to the writer.
        ctx.reply(req.op, OpResult::Redirect(cfg.writer));
    }

    pub(super) fn message(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, msg: Msg) {
        let Msg::Events {
            events,
            next,
            log_end,
            ..
        } = msg
        else {
            return;
        };
        // A copy keeps the writer's offsets, gaps included.
        for e in events.iter().filter(|e| e.offset >= self.next) {
            self.log.append(*e, ctx.now.0);
        }
        self.log.flush();
        self.next = self.next.max(next);
        self.report_copies(ctx, cfg);
        if self.next <= log_end {
            self.fetch(ctx, cfg);
        }
    }

    fn report_copies(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        let users: Vec<Key> = cfg.watched().collect();
        for user in users {
            let count = super::copies_in_log(&self.log, user);
            if self.copies_reported.insert(user, count) != Some(count) {
                let place = "log replica";
                note(ctx, LogNote::Copies { user, place, count });
            }
        }
    }

    pub(super) fn view(&self) -> NodeView {
        NodeView {
            storage: Some(self.log.storage_view(self.next - 1)),
            role: "log replica",
            log_len: Some(self.log.len() as u64),
            commit_index: Some(self.next - 1),
            ..NodeView::default()
        }
    }
}
