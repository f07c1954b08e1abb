//! A log replica: a follower that copies the writer's log verbatim (for durability, like a
//! Kafka follower) and cleans its own copy. While it lags it still holds an erased user's
//! records; if it lags by more than `delete_retention_ms` it may never see the tombstone at all,
//! and then it keeps them for good (Kafka's warning about `delete.retention.ms`).

use super::domain::{EventBody, StoredEvent};
use super::{C, EventLogConfig, EventStore, Msg, Timer, note, version};
use crate::check::event_log::LogNote;
use crate::policy::{ClientReq, NodeView, OpResult};
use crate::scenario::schema::EventLogSpec;
use crate::types::{Key, NodeId, ValueId, ms_to_us};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
pub struct LogReplica {
    me: NodeId,
    // Durable: the copy of the log and its end.
    log: EventStore,
    next: u64,
    /// What each key's state answers according to the copy (derived from it, so durable too):
    /// reported as `Applied`, so replication lag and divergence count this replica.
    values: BTreeMap<Key, Option<ValueId>>,
    shredded: BTreeSet<Key>,
    copies_reported: BTreeMap<Key, u32>,
}

impl LogReplica {
    pub(super) fn new(me: NodeId, spec: &EventLogSpec) -> LogReplica {
        LogReplica {
            me,
            log: super::new_store(spec),
            next: 1,
            values: BTreeMap::new(),
            shredded: BTreeSet::new(),
            copies_reported: BTreeMap::new(),
        }
    }

    /// The copy as stored now.
    pub fn log(&self) -> &EventStore {
        &self.log
    }

    /// What each key's state answers according to the copy.
    pub fn values(&self) -> &BTreeMap<Key, Option<ValueId>> {
        &self.values
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
            shredded,
        } = msg
        else {
            return;
        };
        // A copy keeps the writer's offsets, gaps included.
        let from = self.next;
        for e in events.iter().filter(|e| e.offset >= from) {
            self.log.append(*e, ctx.now.0);
            self.copied(ctx, e);
        }
        self.log.flush();
        self.next = self.next.max(next);
        for &user in shredded.iter() {
            // The writer dropped the user's state when it shredded the key: so does the copy.
            if self.shredded.insert(user) {
                self.values.remove(&user);
                ctx.applied(user, None, version(self.next.saturating_sub(1)));
            }
        }
        self.report_copies(ctx, cfg);
        if self.next <= log_end {
            self.fetch(ctx, cfg);
        }
    }

    /// The key's state as the writer computed it when it appended `e` (`Writer::append`).
    fn copied(&mut self, ctx: &mut C<'_, '_>, e: &StoredEvent) {
        if e.body == EventBody::Erased || self.shredded.contains(&e.key) {
            self.values.remove(&e.key);
        } else {
            let held = self.values.entry(e.key).or_default();
            if e.value.is_some() {
                *held = e.value;
            }
        }
        let value = self.values.get(&e.key).copied().flatten();
        ctx.applied(e.key, value, version(e.offset));
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
