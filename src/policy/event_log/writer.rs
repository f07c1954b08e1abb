//! The write side: validates commands against the current state, appends events, serves the log
//! and consistent snapshots to projections, performs the application's dual writes, compensates
//! mistakes and carries out erasure requests (tombstone + compaction, or crypto-shredding).

use super::domain::{Aggregate, EventBody, StoredEvent, command_for};
use super::{C, EventLogConfig, EventStore, Msg, Timer, note, version};
use crate::check::event_log::LogNote;
use crate::policy::{ClientReq, FailReason, NodeView, OpResult};
use crate::scenario::schema::{ErasureMethod, EventLogSpec};
use crate::types::{Key, NodeId, OpKind, ValueId, ms_to_us};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Writer {
    // Durable: the database (its log and the state folded from it).
    log: EventStore,
    state: BTreeMap<Key, Aggregate>,
    shredded: BTreeSet<Key>,
    /// Users whose erasure was requested (by either method): their commands are refused.
    erased: BTreeSet<Key>,
    mistakes_done: BTreeSet<usize>,
    erasures_done: BTreeSet<usize>,
    /// Compensations decided but not yet appended (offset, amount, key, due µs).
    compensations_due: Vec<(u64, u32, Key, u64)>,
    copies_reported: BTreeMap<(Key, &'static str), u32>,
    // Volatile: index writes the application has not made yet.
    pending_dual: VecDeque<(Key, Option<ValueId>)>,
    lost_on_crash: u32,
}

impl Writer {
    pub(super) fn new(spec: &EventLogSpec) -> Writer {
        Writer {
            log: super::new_store(spec),
            state: BTreeMap::new(),
            shredded: BTreeSet::new(),
            erased: BTreeSet::new(),
            mistakes_done: BTreeSet::new(),
            erasures_done: BTreeSet::new(),
            compensations_due: Vec::new(),
            copies_reported: BTreeMap::new(),
            pending_dual: VecDeque::new(),
            lost_on_crash: 0,
        }
    }

    pub fn state(&self) -> &BTreeMap<Key, Aggregate> {
        &self.state
    }
    /// The log as stored now (compaction leaves gaps in the offsets).
    pub fn log(&self) -> &EventStore {
        &self.log
    }

    pub(super) fn start(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        if self.lost_on_crash > 0 {
            note(
                ctx,
                LogNote::DualWriteLost {
                    pending: self.lost_on_crash,
                },
            );
            self.lost_on_crash = 0;
        }
        let now_us = ctx.now.0;
        let after = |at_ms: f64| ms_to_us(at_ms).saturating_sub(now_us);
        for (i, m) in cfg.spec.mistakes.iter().enumerate() {
            if !self.mistakes_done.contains(&i) {
                ctx.set_timer(after(m.at_ms), Timer::Mistake(i));
            }
        }
        for (i, e) in cfg.spec.erasures.iter().enumerate() {
            if !self.erasures_done.contains(&i) {
                ctx.set_timer(after(e.at_ms), Timer::Erase(i));
            }
        }
        for &(offset, amount, key, due) in &self.compensations_due {
            let t = Timer::Compensate {
                offset,
                amount,
                key,
            };
            ctx.set_timer(due.saturating_sub(ctx.now.0), t);
        }
        if !cfg.spec.erasures.is_empty() {
            ctx.set_timer(ms_to_us(cfg.spec.compaction_interval_ms), Timer::Compact);
        }
        self.report_copies(ctx, cfg);
    }

    pub(super) fn crash(&mut self) {
        self.lost_on_crash += self.pending_dual.len() as u32;
        self.pending_dual.clear();
    }

    pub(super) fn client(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, req: ClientReq) {
        let result = match (req.kind, req.value) {
            (OpKind::Read, _) => {
                OpResult::Read(self.state.get(&req.key).and_then(|a| a.last_value))
            }
            (OpKind::Write, Some(value)) => self.command(ctx, cfg, req.key, value),
            _ => {
                let reason = "only commands change state here; deletes are not commands";
                note(
                    ctx,
                    LogNote::CommandRejected {
                        key: req.key,
                        reason,
                    },
                );
                OpResult::Failed(FailReason::Rejected)
            }
        };
        ctx.reply(req.op, result);
    }

    fn command(
        &mut self,
        ctx: &mut C<'_, '_>,
        cfg: &EventLogConfig,
        key: Key,
        v: ValueId,
    ) -> OpResult {
        let cmd = command_for(cfg.spec.domain, v);
        let current = self.state.get(&key).cloned().unwrap_or_default();
        if self.erased.contains(&key) {
            let reason = "this user's data was erased";
            note(ctx, LogNote::CommandRejected { key, reason });
            return OpResult::Failed(FailReason::Rejected);
        }
        match current.decide(cmd) {
            Ok(body) => {
                let offset = self.append(ctx, cfg, key, Some(v), body);
                OpResult::Written(version(offset))
            }
            Err(reason) => {
                note(ctx, LogNote::CommandRejected { key, reason });
                OpResult::Failed(FailReason::Rejected)
            }
        }
    }

    /// Appends one event, folds it into the state and starts the application's index write.
    fn append(
        &mut self,
        ctx: &mut C<'_, '_>,
        cfg: &EventLogConfig,
        key: Key,
        value: Option<ValueId>,
        body: EventBody,
    ) -> u64 {
        let offset = self.log.last_index() + 1;
        let e = StoredEvent {
            offset,
            key,
            value,
            body,
            appended_at: ctx.now,
        };
        self.log.append(e, ctx.now.0);
        // The database persists the event before it answers (no flush lag here).
        self.log.flush();
        if body == EventBody::Erased {
            self.state.remove(&key);
        } else {
            self.state.entry(key).or_default().apply(&e);
        }
        let now_value = self.state.get(&key).and_then(|a| a.last_value);
        let event = body.name();
        note(
            ctx,
            LogNote::Appended {
                offset,
                key,
                value: now_value,
                event,
            },
        );
        ctx.applied(key, now_value, version(offset));
        if cfg.dual_index.is_some() {
            self.pending_dual.push_back((key, now_value));
            ctx.set_timer(ms_to_us(cfg.spec.dual_write_delay_ms), Timer::DualWrite);
        }
        if cfg.watched().any(|u| u == key) {
            self.report_copies(ctx, cfg);
        }
        offset
    }

    pub(super) fn message(
        &mut self,
        ctx: &mut C<'_, '_>,
        _cfg: &EventLogConfig,
        from: NodeId,
        msg: Msg,
    ) {
        match msg {
            Msg::Fetch { from: start, max } => {
                let events: Arc<[StoredEvent]> = self.log.read_from(start, max as usize).into();
                let next = events
                    .last()
                    .map_or(self.log.last_index() + 1, |e| e.offset + 1);
                let shredded = self.shredded.iter().copied().collect();
                let log_end = self.log.last_index();
                ctx.send(
                    from,
                    Msg::Events {
                        events,
                        next: next.max(start),
                        log_end,
                        shredded,
                    },
                );
            }
            Msg::SnapshotReq => {
                // One state machine, one step: the state and the offset are consistent.
                let state = Arc::new(self.state.clone());
                ctx.send(
                    from,
                    Msg::Snapshot {
                        upto: self.log.last_index(),
                        state,
                    },
                );
            }
            _ => {}
        }
    }

    pub(super) fn timer(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, timer: Timer) {
        match timer {
            Timer::DualWrite => {
                if let (Some((key, value)), Some(index)) =
                    (self.pending_dual.pop_front(), cfg.dual_index)
                {
                    ctx.send(index, Msg::IndexWrite { key, value });
                }
            }
            Timer::Mistake(i) => self.mistake(ctx, cfg, i),
            Timer::Compensate {
                offset,
                amount,
                key,
            } => {
                self.compensations_due.retain(|c| c.0 != offset);
                let body = EventBody::Compensated {
                    amount,
                    of_offset: offset,
                };
                self.append(ctx, cfg, key, None, body);
            }
            Timer::Erase(i) => self.erase(ctx, cfg, i),
            Timer::Compact => {
                self.compact(ctx, cfg);
                ctx.set_timer(ms_to_us(cfg.spec.compaction_interval_ms), Timer::Compact);
            }
            Timer::Poll => {}
        }
    }

    /// The bank's own error: a payment debited from the wrong account. It is a fact once
    /// appended; `review_delay_ms` later a compensating credit undoes it (history keeps both).
    fn mistake(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, i: usize) {
        let Some(m) = cfg.spec.mistakes.get(i) else {
            return;
        };
        self.mistakes_done.insert(i);
        let offset = self.append(
            ctx,
            cfg,
            m.account,
            None,
            EventBody::MistakenDebit(m.amount),
        );
        let due = ctx.now.0 + ms_to_us(cfg.spec.review_delay_ms);
        self.compensations_due
            .push((offset, m.amount, m.account, due));
        let t = Timer::Compensate {
            offset,
            amount: m.amount,
            key: m.account,
        };
        ctx.set_timer(ms_to_us(cfg.spec.review_delay_ms), t);
    }

    fn erase(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig, i: usize) {
        let Some(e) = cfg.spec.erasures.get(i) else {
            return;
        };
        self.erasures_done.insert(i);
        self.erased.insert(e.user);
        let crypto = e.method == ErasureMethod::CryptoShred;
        note(
            ctx,
            LogNote::ErasureRequested {
                user: e.user,
                crypto,
            },
        );
        if crypto {
            self.shredded.insert(e.user);
            self.state.remove(&e.user);
            note(ctx, LogNote::KeyShredded { user: e.user });
            ctx.applied(e.user, None, version(self.log.last_index()));
            if cfg.dual_index.is_some() {
                self.pending_dual.push_back((e.user, None));
                ctx.set_timer(ms_to_us(cfg.spec.dual_write_delay_ms), Timer::DualWrite);
            }
            self.report_copies(ctx, cfg);
        } else {
            self.append(ctx, cfg, e.user, None, EventBody::Erased);
        }
    }

    /// One pass of the shared cleaner over the write side's log (see `super::compact`).
    fn compact(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        let (removed, purged) = super::compact(&mut self.log, ctx.now.0, &cfg.spec);
        if removed + purged > 0 {
            let n = LogNote::Compacted {
                records_removed: removed,
                tombstones_purged: purged,
            };
            note(ctx, n);
            self.report_copies(ctx, cfg);
        }
    }

    /// Notes every change in how many copies of a watched user's data this node holds.
    fn report_copies(&mut self, ctx: &mut C<'_, '_>, cfg: &EventLogConfig) {
        let users: Vec<Key> = cfg.watched().collect();
        for user in users {
            let records = super::copies_in_log(&self.log, user);
            let in_state = u32::from(self.state.contains_key(&user));
            for (place, count) in [("log", records), ("write model", in_state)] {
                let last = self.copies_reported.insert((user, place), count);
                if last != Some(count) {
                    note(ctx, LogNote::Copies { user, place, count });
                }
            }
        }
    }

    pub(super) fn view(&self) -> NodeView {
        NodeView {
            storage: Some(self.log.storage_view(self.log.last_index())),
            role: "write side (event log)",
            log_len: Some(self.log.len() as u64),
            commit_index: Some(self.log.last_index()),
            details: vec![
                ("aggregates", self.state.len().to_string()),
                ("index writes pending", self.pending_dual.len().to_string()),
                ("keys shredded", self.shredded.len().to_string()),
            ],
            ..NodeView::default()
        }
    }
}
