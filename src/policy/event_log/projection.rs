//! A projection: reads the log at its own pace and keeps a read model that answers queries.
//! It snapshots the read model every `snapshot_every` events (durable) and, after a restart,
//! rebuilds from its snapshot plus the log after it, from scratch, or from the write side's
//! consistent snapshot (CDC's initial snapshot).

use super::domain::{Aggregate, EventBody, StoredEvent};
use super::{C, EventLogConfig, Msg, Timer, note, version};
use crate::check::event_log::LogNote;
use crate::policy::{ClientReq, NodeView, OpResult};
use crate::scenario::schema::Rebuild;
use crate::types::{Key, NodeId, OpKind, ms_to_us};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default)]
struct Rebuilding {
    source: &'static str,
    /// The log end when the rebuild learned it; done once the model has caught up with it.
    target: Option<u64>,
    replayed: u64,
}

#[derive(Clone, Debug)]
pub struct Projection {
    me: NodeId,
    // Volatile: the read model and where it is in the log.
    model: BTreeMap<Key, Aggregate>,
    next: u64,
    rebuilding: Option<Rebuilding>,
    awaiting_snapshot: bool,
    since_snapshot: u32,
    // Durable: the latest snapshot (offset, model), and whether this node ever ran.
    snapshot: Option<(u64, BTreeMap<Key, Aggregate>)>,
    started_before: bool,
    /// The last finished rebuild: where it started from and how many events it replayed.
    last_rebuild: Option<(&'static str, u64)>,
    shredded: BTreeSet<Key>,
    copies_reported: BTreeMap<(Key, &'static str), u32>,
}

impl Projection {
    pub(super) fn new(me: NodeId) -> Projection {
        Projection {
            me,
            model: BTreeMap::new(),
            next: 1,
            rebuilding: None,
            awaiting_snapshot: false,
            since_snapshot: 0,
            snapshot: None,
            started_before: false,
            last_rebuild: None,
            shredded: BTreeSet::new(),
            copies_reported: BTreeMap::new(),
        }
    }

    /// This projection's poll interval and rebuild strategy: its own entry in
    /// `policy.projections`, else the policy-wide ones (read each time, so a `Set` applies).
    fn settings(&self, cfg: &EventLogConfig) -> (u64, Rebuild) {
        let own = cfg
            .spec
            .projections
            .iter()
            .find(|p| NodeId::parse(&p.node) == Some(self.me));
        let poll_ms = own
            .and_then(|p| p.poll_interval_ms)
            .unwrap_or(cfg.spec.poll_interval_ms);
        let rebuild = own.and_then(|p| p.rebuild).unwrap_or(cfg.spec.rebuild);
        (ms_to_us(poll_ms).max(1), rebuild)
    }

    pub fn model(&self) -> &BTreeMap<Key, Aggregate> {
        &self.model
    }
    /// The next offset this projection will apply (everything before it is in the model).
    pub fn next_offset(&self) -> u64 {
        self.next
    }
    /// The last finished rebuild: its source ("its own snapshot", "scratch", "the write side's
    /// snapshot") and how many events it replayed.
    pub fn last_rebuild(&self) -> Option<(&'static str, u64)> {
        self.last_rebuild
    }
    pub fn snapshot_offset(&self) -> Option<u64> {
        self.snapshot.as_ref().map(|s| s.0)
    }

    pub(super) fn crash(&mut self) {
        self.model.clear();
        self.next = 1;
        self.rebuilding = None;
        self.awaiting_snapshot = false;
        self.since_snapshot = 0;
    }

    /// At time 0 (a fresh projection) or after a restart (a rebuild).
    pub(super) fn start(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        if std::mem::replace(&mut self.started_before, true) {
            self.begin_rebuild(ctx, cfg);
        }
        if !self.awaiting_snapshot {
            self.fetch(ctx, cfg);
        }
        ctx.set_timer(self.settings(cfg).0, Timer::Poll);
        self.report_copies(ctx, cfg);
    }

    fn begin_rebuild(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        let (from_offset, source) = match (self.settings(cfg).1, &self.snapshot) {
            (Rebuild::FromSnapshot, Some((offset, model))) => {
                self.model = model.clone();
                (*offset, "its own snapshot")
            }
            (Rebuild::InitialSnapshot, _) => {
                self.awaiting_snapshot = true;
                ctx.send(cfg.writer, Msg::SnapshotReq);
                (0, "the write side's snapshot")
            }
            _ => (0, "scratch"),
        };
        self.next = from_offset + 1;
        self.note_loaded(ctx, from_offset);
        self.rebuilding = Some(Rebuilding {
            source,
            ..Rebuilding::default()
        });
        note(
            ctx,
            LogNote::RebuildStarted {
                from_offset,
                source,
            },
        );
    }

    fn fetch(&self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        super::fetch_from(ctx, cfg, self.next);
    }

    pub(super) fn timer(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, timer: Timer) {
        if timer == Timer::Poll {
            if self.awaiting_snapshot {
                // The request or its answer may have been lost: ask again.
                ctx.send(cfg.writer, Msg::SnapshotReq);
            } else {
                self.fetch(ctx, cfg);
            }
            ctx.set_timer(self.settings(cfg).0, Timer::Poll);
        }
    }

    pub(super) fn client(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, req: ClientReq) {
        let result = match req.kind {
            OpKind::Read => OpResult::Read(self.model.get(&req.key).and_then(|a| a.last_value)),
            // Commands go to the write side.
            _ => OpResult::Redirect(cfg.writer),
        };
        ctx.reply(req.op, result);
    }

    pub(super) fn message(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, msg: Msg) {
        match msg {
            Msg::Snapshot { upto, state } if self.awaiting_snapshot => {
                self.awaiting_snapshot = false;
                self.model = (*state).clone();
                for (k, a) in &self.model {
                    ctx.applied(*k, a.last_value, version(upto));
                }
                // The log position the snapshot corresponds to: continue right after it, so no
                // change is missed and none is applied twice.
                self.next = upto + 1;
                self.note_loaded(ctx, upto);
                self.report_copies(ctx, cfg);
                self.fetch(ctx, cfg);
            }
            Msg::Events {
                events,
                next,
                log_end,
                shredded,
            } if !self.awaiting_snapshot => {
                self.forget_shredded(ctx, &shredded);
                for e in events.iter() {
                    if e.offset >= self.next {
                        self.apply(ctx, cfg, e);
                    }
                }
                self.next = self.next.max(next);
                self.check_rebuilt(ctx, log_end);
                self.report_copies(ctx, cfg);
                if self.next <= log_end {
                    self.fetch(ctx, cfg);
                }
            }
            _ => {}
        }
    }

    fn note_loaded(&self, ctx: &mut C<'_, '_>, upto: u64) {
        let values = self.model.iter().map(|(k, a)| (*k, a.last_value)).collect();
        note(ctx, LogNote::ReadModelLoaded { upto, values });
    }

    /// A user's key is gone: the plaintext this read model derived from their events must go too.
    fn forget_shredded(&mut self, ctx: &mut C<'_, '_>, shredded: &[Key]) {
        for &user in shredded {
            if self.shredded.insert(user) {
                self.model.remove(&user);
                if let Some((_, snapshot)) = self.snapshot.as_mut() {
                    snapshot.remove(&user);
                }
                note(ctx, LogNote::PlaintextDropped { user });
                ctx.applied(user, None, version(self.next.saturating_sub(1)));
            }
        }
    }

    fn apply(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, e: &StoredEvent) {
        if e.body == EventBody::Erased || self.shredded.contains(&e.key) {
            self.model.remove(&e.key);
        } else {
            self.model.entry(e.key).or_default().apply(e);
        }
        self.next = e.offset + 1;
        let value = self.model.get(&e.key).and_then(|a| a.last_value);
        note(
            ctx,
            LogNote::ProjectionApplied {
                offset: e.offset,
                key: e.key,
                value,
            },
        );
        ctx.applied(e.key, value, version(e.offset));
        if let Some(r) = self.rebuilding.as_mut() {
            r.replayed += 1;
        }
        self.since_snapshot += 1;
        let every = cfg.spec.snapshot_every;
        if every > 0 && self.since_snapshot >= every {
            self.since_snapshot = 0;
            self.snapshot = Some((e.offset, self.model.clone()));
            note(ctx, LogNote::SnapshotTaken { offset: e.offset });
        }
    }

    fn check_rebuilt(&mut self, ctx: &mut C<'_, '_>, log_end: u64) {
        let Some(r) = self.rebuilding.as_mut() else {
            return;
        };
        let target = *r.target.get_or_insert(log_end);
        if self.next > target {
            let entries_replayed = r.replayed;
            self.last_rebuild = Some((r.source, entries_replayed));
            self.rebuilding = None;
            note(ctx, LogNote::RebuildDone { entries_replayed });
        }
    }

    /// Notes every change in how many copies of a watched user's data this node holds.
    fn report_copies(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        let users: Vec<Key> = cfg.watched().collect();
        for user in users {
            let in_model = u32::from(self.model.contains_key(&user));
            let in_snapshot = u32::from(
                self.snapshot
                    .as_ref()
                    .is_some_and(|(_, m)| m.contains_key(&user)),
            );
            for (place, count) in [("read model", in_model), ("snapshot", in_snapshot)] {
                let last = self.copies_reported.insert((user, place), count);
                if last != Some(count) {
                    note(ctx, LogNote::Copies { user, place, count });
                }
            }
        }
    }

    pub(super) fn view(&self) -> NodeView {
        let mut details = vec![("aggregates", self.model.len().to_string())];
        if let Some((offset, _)) = &self.snapshot {
            details.push(("snapshot at event", offset.to_string()));
        }
        if self.rebuilding.is_some() {
            details.push(("rebuilding", "yes".into()));
        }
        NodeView {
            role: "projection (read model)",
            commit_index: Some(self.next - 1),
            details,
            ..NodeView::default()
        }
    }
}
