//! Handling one event at a time, and applying the effects policies return.

use super::faults::Fault;
use super::network::Fate;
use super::node::{Inbox, MAX_INBOX, NodeStatus};
use super::workload::{ClientEvent, MAX_REDIRECTS, OpState};
use super::{Engine, Event, FromScenario, Phase};
use crate::check::history::{EventType, HistoryEvent};
use crate::check::stale::ReadDone;
use crate::policy::{ClientReq, Ctx, Effect, FailReason, Message, OpRef, OpResult};
use crate::trace::{DropReason, TraceEvent};
use crate::types::{Key, NodeId, OpKind, SimTime, ValueId, Version, ms_to_us};

/// Least time between a client's reply and its next request.
const MIN_CLIENT_GAP_US: u64 = 1;

impl<P: FromScenario> Engine<P> {
    /// Processes the next event. Returns false once the run is over.
    pub fn step(&mut self) -> bool {
        if self.apply_late_fault() {
            return true;
        }
        if self.phase == Phase::Done {
            return false;
        }
        let client = self.work.next_client_event();
        if let Some((at, event)) = self.queue.pop_before(client) {
            debug_assert!(at >= self.now, "time never goes backwards");
            self.now = at;
            self.handle(event);
        } else if let Some((at, event)) = self.work.pop_client_event() {
            debug_assert!(at >= self.now, "time never goes backwards");
            self.now = at;
            match event {
                ClientEvent::Timeout(op) => {
                    self.complete(op, OpResult::Unknown(FailReason::Timeout))
                }
                ClientEvent::Start(client) => self.start_op(client),
            }
        } else {
            self.phase = Phase::Done;
            return false;
        }
        self.advance_phase();
        true
    }

    /// When the next event happens (queued events, client timeouts and `after_same_time`
    /// faults); viewers step up to a time without passing it.
    pub fn next_event_time(&self) -> Option<SimTime> {
        let late = self.late_faults.front().map(|(at, _, _)| *at);
        match (self.next_queued_time(), late) {
            (Some(q), Some(l)) => Some(q.min(l)),
            (q, l) => q.or(l),
        }
    }

    /// When the next queued event or client timeout happens.
    fn next_queued_time(&self) -> Option<SimTime> {
        let queued = self.queue.peek_time();
        let client = self.work.next_client_event().map(|(t, _)| t);
        match (queued, client) {
            (Some(q), Some(t)) => Some(q.min(t)),
            (q, t) => q.or(t),
        }
    }

    /// Applies the next `after_same_time` fault once no other event at or before its time is
    /// left (or the run is over), exactly as a viewer applies a click between two events: no
    /// phase change follows it until the next event. Returns whether one was applied.
    fn apply_late_fault(&mut self) -> bool {
        let Some((at, _, _)) = self.late_faults.front() else {
            return false;
        };
        let done = self.phase == Phase::Done;
        if !done && self.next_queued_time().is_some_and(|next| next <= *at) {
            return false;
        }
        let Some((at, fault, undo_after_us)) = self.late_faults.pop_front() else {
            return false;
        };
        self.now = self.now.max(at);
        self.apply_fault(fault, undo_after_us);
        true
    }

    /// Runs until simulated time `t` (events at exactly `t` included) or the end of the run.
    pub fn run_until(&mut self, t: SimTime) {
        while self.next_event_time().is_some_and(|next| next <= t) && self.step() {}
        if self.phase != Phase::Done && self.now < t {
            self.now = t;
        }
    }

    /// Runs at most `n` events; returns how many ran.
    pub fn run_for(&mut self, n: u64) -> u64 {
        let mut ran = 0;
        while ran < n && self.step() {
            ran += 1;
        }
        ran
    }

    pub fn run_to_end(&mut self) {
        while self.step() {}
    }

    /// Applies a fault now (the API and GUI use this; it is recorded like a scheduled one).
    pub fn apply(&mut self, fault: Fault) {
        self.apply_fault(fault, None);
    }

    /// Applies a fault now and undoes it after `undo_after_us`.
    pub fn apply_for(&mut self, fault: Fault, undo_after_us: u64) {
        self.apply_fault(fault, Some(undo_after_us));
    }

    fn handle(&mut self, event: Event<P>) {
        match event {
            Event::Deliver {
                from,
                to,
                msg,
                sent,
                id,
            } => self.deliver(from, to, msg, sent, id),
            Event::Timer {
                node,
                incarnation,
                timer,
            } => self.fire_timer(node, incarnation, timer),
            Event::ClientStart { client } => self.start_op(client),
            Event::ClientSend { op } => self.send_request(op),
            Event::ClientTimeout { op } => {
                self.complete(op, OpResult::Unknown(FailReason::Timeout))
            }
            Event::ClientReply { op, result } => self.client_reply(op, result),
            Event::Arrival => self.arrival(),
            Event::Fault {
                fault,
                undo_after_us,
            } => self.apply_fault(fault, undo_after_us),
            Event::Undo(fault) => {
                self.pending_undos -= 1;
                self.apply_fault(fault, None);
            }
            Event::RandomFault { index } => self.random_fault(index),
            Event::WorkloadEnd => self.stop_workload(),
        }
    }

    fn advance_phase(&mut self) {
        if self.phase == Phase::Running && self.ops_limit.is_some_and(|l| self.metrics.ops >= l) {
            self.stop_workload();
        }
        if self.phase == Phase::Finishing && self.work.in_flight == 0 {
            let drain = ms_to_us(self.scenario.run.drain_ms);
            self.phase = Phase::Draining {
                until: self.now.saturating_add(drain),
            };
        }
        if let Phase::Draining { until } = self.phase {
            // Settled: nothing on the wire, no timed fault still to undo, and the replicas agree.
            // Periodic timers (resends, anti-entropy) may still be converging the replicas, so
            // a run that is quiet but divergent keeps going until `drain_ms` runs out.
            let settled = self.messages_in_flight == 0
                && self.pending_undos == 0
                && self.metrics.replicas.divergent_now == 0;
            if settled || self.next_queued_time().is_none_or(|t| t > until) {
                self.phase = Phase::Done;
            }
        }
    }

    fn stop_workload(&mut self) {
        if self.phase == Phase::Running {
            self.phase = Phase::Finishing;
        }
    }

    // ---- nodes -------------------------------------------------------------------------------

    /// Runs one policy callback on a node and applies the effects it returns.
    pub(super) fn with_node(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg, P::Timer>),
    ) {
        let mut out = self.effect_pool.pop().unwrap_or_default();
        let node = &mut self.nodes[id.index()];
        let mut ctx = Ctx {
            now: self.now,
            local_now_us: node.clock.local_us(self.now),
            me: id,
            rng: &mut node.rng,
            out: &mut out,
        };
        f(&mut node.policy, &mut ctx);
        // Each effect is moved out in place, leaving a reply that owns nothing, and the buffer is
        // cleared at the end: the same order as draining, and cheaper on the hot path.
        for slot in out.iter_mut() {
            if !std::mem::needs_drop::<P::Msg>()
                && let Effect::Send { to, msg } = slot
            {
                // A message that owns nothing is copied straight from the buffer into the queue
                // (`clone` of plain data is a copy; `needs_drop` is decided at compile time):
                // moving it out first went through a temporary the store buffer could not forward.
                let (to, msg) = (*to, msg.clone());
                self.send(id, to, msg);
                continue;
            }
            let placeholder = Effect::Reply {
                op: OpRef(0),
                result: OpResult::Read(None),
            };
            match std::mem::replace(slot, placeholder) {
                // The common effects, handled inline; the rest out of line.
                Effect::Send { to, msg } => self.send(id, to, msg),
                Effect::Applied {
                    key,
                    value,
                    version,
                } => self.applied(id, key, value, version),
                e => self.apply_effect(id, e),
            }
        }
        out.clear();
        self.effect_pool.push(out);
    }

    /// A replica's value changed: lag and divergence tracking, and an explanation's recording.
    /// Always inlined: it is on the hot path of every step.
    #[inline(always)]
    fn applied(&mut self, node: NodeId, key: Key, value: Option<ValueId>, version: Version) {
        if self.watch.is_some() {
            self.watch_applied(node, key, value, version);
        }
        self.metrics
            .replicas
            .on_applied(node, key, value, version, self.now);
    }

    #[inline(never)]
    fn apply_effect(&mut self, node: NodeId, e: Effect<P::Msg, P::Timer>) {
        match e {
            Effect::Send { to, msg } => self.send(node, to, msg),
            Effect::SetTimer { after_us, timer } => {
                let n = &self.nodes[node.index()];
                let delay = n.clock.real_delay_us(after_us);
                let incarnation = n.incarnation;
                self.queue.push_after(
                    self.now,
                    delay,
                    Event::Timer {
                        node,
                        incarnation,
                        timer,
                    },
                );
            }
            Effect::Reply { op, result } => self.reply(op, result),
            Effect::Applied {
                key,
                value,
                version,
            } => self.applied(node, key, value, version),
            Effect::Violation(kind) => self.count_violation(node, kind),
            Effect::Note(note) => {
                if let crate::policy::Note::BecameLeader { term } = note {
                    self.metrics.leader_elections += 1;
                    self.metrics.max_leader_term = self.metrics.max_leader_term.max(term);
                    self.check_election_safety(node, term);
                }
                self.metrics.leaderless.count(&note);
                if let crate::policy::Note::Log(n) = &note {
                    self.metrics.event_log.on_note(node, n, self.now);
                }
                if let crate::policy::Note::Storage(e) = &note {
                    self.metrics.log_event(node, e);
                }
                self.metrics.rebuild.on_note(&note);
                let text = note.describe(node);
                self.tracer.emit(self.now, TraceEvent::Note { node, text });
            }
        }
    }

    #[inline]
    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        let kind = msg.kind();
        let id = self.next_msg;
        self.next_msg += 1;
        self.metrics.messages_sent += 1;
        self.metrics.kinds_sent |= 1u64 << (kind & 63);
        if self.watch.is_some() {
            self.watch_send(id, from, to, &msg);
        }
        match self.net.send(from, to, kind, self.now) {
            Fate::Dropped(reason) => self.dropped(from, to, kind, id, self.now, reason),
            Fate::Arrives(at, dup) => {
                self.tracer.send(self.now, from, to, kind, id, at);
                if let Some(at2) = dup {
                    // The network's second copy is one more message on the wire, with its own
                    // id, so every sent message has exactly one fate (delivered or dropped).
                    let copy = self.next_msg;
                    self.next_msg += 1;
                    self.metrics.messages_sent += 1;
                    if self.watch.is_some() {
                        self.watch_send(copy, from, to, &msg);
                    }
                    self.tracer.send(self.now, from, to, kind, copy, at2);
                    self.messages_in_flight += 1;
                    self.queue.push_at(
                        at2,
                        Event::Deliver {
                            from,
                            to,
                            msg: msg.clone(),
                            sent: self.now,
                            id: copy,
                        },
                    );
                }
                self.messages_in_flight += 1;
                self.queue.push_at(
                    at,
                    Event::Deliver {
                        from,
                        to,
                        msg,
                        sent: self.now,
                        id,
                    },
                );
            }
        }
    }

    pub(super) fn dropped(
        &mut self,
        from: NodeId,
        to: NodeId,
        kind: u8,
        msg: u64,
        sent: SimTime,
        reason: DropReason,
    ) {
        self.metrics.messages_dropped += 1;
        self.tracer.emit(
            self.now,
            TraceEvent::Drop {
                from,
                to,
                kind,
                msg,
                sent,
                reason,
            },
        );
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: P::Msg, sent: SimTime, id: u64) {
        self.messages_in_flight -= 1;
        let kind = msg.kind();
        if self.net.is_blocked(from, to) {
            return self.dropped(from, to, kind, id, sent, DropReason::Partition);
        }
        let node = &mut self.nodes[to.index()];
        match node.status {
            NodeStatus::Crashed => self.dropped(from, to, kind, id, sent, DropReason::Crashed),
            NodeStatus::Paused if node.inbox.len() >= MAX_INBOX => {
                self.dropped(from, to, kind, id, sent, DropReason::Loss)
            }
            NodeStatus::Paused => node.inbox.push_back(Inbox::Message {
                from,
                msg,
                id,
                sent,
            }),
            NodeStatus::Up => {
                self.metrics.messages_delivered += 1;
                self.tracer.deliver(self.now, from, to, kind, id, sent);
                self.with_node(to, |p, ctx| p.on_message(ctx, from, msg));
            }
        }
    }

    fn fire_timer(&mut self, id: NodeId, incarnation: u32, timer: P::Timer) {
        let node = &mut self.nodes[id.index()];
        if node.incarnation != incarnation || node.status == NodeStatus::Crashed {
            return;
        }
        if node.status == NodeStatus::Paused {
            node.inbox.push_back(Inbox::Timer(timer));
            return;
        }
        self.tracer.emit(self.now, TraceEvent::Timer { node: id });
        self.with_node(id, |p, ctx| p.on_timer(ctx, timer));
    }

    /// Hands a client request to a node (clients sit next to the node they talk to).
    fn hand_to_node(&mut self, id: NodeId, req: ClientReq) {
        let node = &mut self.nodes[id.index()];
        match node.status {
            NodeStatus::Crashed => {} // lost; the client will time out
            NodeStatus::Paused => {
                if node.inbox.len() < MAX_INBOX {
                    node.inbox.push_back(Inbox::Client(req));
                }
            }
            NodeStatus::Up => self.with_node(id, |p, ctx| p.on_client(ctx, req)),
        }
    }

    // ---- clients -----------------------------------------------------------------------------

    fn start_op(&mut self, client: u32) {
        if self.ops_limit.is_some_and(|l| self.metrics.ops >= l) {
            self.stop_workload();
        }
        if self.phase != Phase::Running || self.work.clients[client as usize].busy.is_some() {
            return;
        }
        let kind = self.work.pick_kind();
        let key = self.work.keys.sample(&mut self.work.rng);
        let level = self.work.pick_level();
        let value = (kind == OpKind::Write).then(|| {
            self.work.next_value += 1;
            ValueId(self.work.next_value - 1)
        });
        let nodes = &self.nodes;
        // Asks the running nodes in turn; one that knows no leader (fenced, or waiting for
        // the controller) passes the question on.
        let hint = || {
            let mut up = nodes.iter().filter(|n| n.status == NodeStatus::Up);
            up.find_map(|n| n.policy.leader_hint())
        };
        let node = self.work.pick_node(client, nodes.len() as u16, hint);
        let process = self.work.clients[client as usize].process;
        let id = self.work.next_op;
        self.work.next_op += 1;
        let state = OpState {
            id,
            client,
            process,
            kind,
            key,
            value,
            invoked: self.now,
            node,
            redirects: 0,
            level,
        };
        let op = self.work.begin(state);
        self.record_invoke(&state);
        let timeout_at = self.now.saturating_add(self.work.timeout_us);
        let seq = self.queue.next_seq();
        if !self.work.push_timeout(timeout_at, seq, op) {
            self.queue.push_at(timeout_at, Event::ClientTimeout { op });
        }
        if self.work.has_hop() {
            return self.after_hop(Event::ClientSend { op });
        }
        self.hand_to_node(
            node,
            ClientReq {
                op,
                kind,
                key,
                value,
                session: state.process,
                guarantees: self.work.guarantees,
                level: state.level,
            },
        );
    }

    fn record_invoke(&mut self, s: &OpState) {
        let m = &mut self.metrics;
        m.ops += 1;
        match s.kind {
            OpKind::Read => m.reads += 1,
            OpKind::Write => m.writes += 1,
            OpKind::Delete => m.deletes += 1,
        }
        if s.kind.is_update() {
            m.stale
                .on_update_invoke(s.id, s.key, s.kind, s.value, self.now.0);
        }
        let t = TraceEvent::Invoke {
            op: s.id,
            process: s.process,
            node: s.node,
            f: s.kind,
            key: s.key,
            value: s.value,
        };
        self.tracer.emit(self.now, t);
        self.record_history(EventType::Invoke, s, s.value);
    }

    fn record_history(&mut self, kind: EventType, s: &OpState, value: Option<ValueId>) {
        let keep = (self.history.len() as u64) < self.scenario.run.history_limit;
        if !keep && self.history_stream.is_none() {
            return;
        }
        let e = HistoryEvent {
            kind,
            process: s.process,
            f: s.kind,
            key: s.key,
            value,
            time_us: self.now.0,
        };
        if keep {
            self.history.push(e);
        }
        if let Some(stream) = &mut self.history_stream {
            stream.push(e);
        }
    }

    fn send_request(&mut self, op: OpRef) {
        if let Some(s) = self.work.get(op).copied() {
            self.hand_to_node(
                s.node,
                ClientReq {
                    op,
                    kind: s.kind,
                    key: s.key,
                    value: s.value,
                    session: s.process,
                    guarantees: self.work.guarantees,
                    level: s.level,
                },
            );
        }
    }

    /// A policy answers a client: at once when clients sit on their node, else after the hop.
    fn reply(&mut self, op: OpRef, result: OpResult) {
        // A late answer to a finished operation is dropped by `client_reply` without a draw.
        // The hop is asked first: without one (the hot path) the operation is not looked up.
        if self.work.has_hop() && self.work.get(op).is_some() {
            return self.after_hop(Event::ClientReply { op, result });
        }
        self.client_reply(op, result)
    }

    /// Schedules a request or reply one client hop from now. Out of line, like every use of
    /// the hop: the benchmark has none, and its sampling inlined into `step` slowed every event.
    #[inline(never)]
    fn after_hop(&mut self, e: Event<P>) {
        let hop = self.work.hop_us().unwrap_or(0);
        self.queue.push_at(self.now.saturating_add(hop), e);
    }

    /// The client has the answer: the operation ends, or (a redirect) goes to the named node.
    fn client_reply(&mut self, op: OpRef, result: OpResult) {
        match result {
            OpResult::Redirect(to) => self.redirect(op, to),
            _ => self.complete(op, result),
        }
    }

    /// "Ask that node": the client sends its request there (up to `MAX_REDIRECTS` times). Out of
    /// line: leaderless runs never redirect, and inlined into `step` it cost the benchmark 1.5%.
    #[inline(never)]
    fn redirect(&mut self, op: OpRef, to: NodeId) {
        let Some(s) = self.work.get_mut(op) else {
            return;
        };
        if s.redirects >= MAX_REDIRECTS {
            return self.complete(op, OpResult::Failed(FailReason::NotLeader));
        }
        s.redirects += 1;
        s.node = to;
        let (id, client) = (s.id, s.client);
        self.work.clients[client as usize].leader_guess = Some(to);
        self.tracer
            .emit(self.now, TraceEvent::Redirect { op: id, to });
        if self.work.has_hop() {
            return self.after_hop(Event::ClientSend { op });
        }
        self.queue.push_after(self.now, 0, Event::ClientSend { op });
    }

    /// Ends an operation with its outcome; a late reply to a finished operation is ignored.
    fn complete(&mut self, op: OpRef, result: OpResult) {
        let Some(s) = self.work.finish(op) else {
            return;
        };
        let (outcome, value, reason) = match result {
            OpResult::Read(v) => (EventType::Ok, v, None),
            OpResult::Written(_) => (EventType::Ok, s.value, None),
            OpResult::Failed(r) => (EventType::Fail, s.value, Some(r)),
            // A read that did not finish changed nothing: it definitely failed.
            OpResult::Unknown(r) if s.kind == OpKind::Read => (EventType::Fail, None, Some(r)),
            OpResult::Unknown(r) => (EventType::Info, s.value, Some(r)),
            OpResult::Redirect(_) => (EventType::Fail, s.value, Some(FailReason::NotLeader)),
        };
        self.count_outcome(&s, outcome, result, value);
        if let OpResult::Failed(r) | OpResult::Unknown(r) = result
            && matches!(
                r,
                FailReason::Timeout | FailReason::NotLeader | FailReason::Unavailable
            )
        {
            // No answer, or "no leader here": the client forgets its guess, so its next request
            // asks the cluster afresh instead of knocking on a crashed or deposed leader forever.
            self.work.clients[s.client as usize].leader_guess = None;
        }
        let t = TraceEvent::Complete {
            op: s.id,
            process: s.process,
            outcome,
            value,
            reason,
        };
        self.tracer.emit(self.now, t);
        self.record_history(outcome, &s, value);
        if outcome != EventType::Ok {
            // Like a real client after an error or a timeout, stop trusting the node it thought
            // led (it may have crashed or been deposed); the next request asks again.
            self.work.clients[s.client as usize].leader_guess = None;
        }
        if outcome == EventType::Info {
            // The old operation may still take effect; the client goes on as a new process.
            self.work.clients[s.client as usize].process = self.work.next_process;
            self.work.next_process += 1;
        }
        // Always through the queue, and at least 1 µs later: a policy can answer at once (a local
        // replica), and a client that asked again at the same instant would recurse without bound
        // and stop simulated time from advancing.
        if let Some(think) = self.work.think_us() {
            let at = self.now.saturating_add(think.max(MIN_CLIENT_GAP_US));
            let seq = self.queue.next_seq();
            if !self.work.push_restart(at, seq, s.client) {
                let next = Event::ClientStart { client: s.client };
                self.queue.push_at(at, next);
            }
        }
    }

    fn count_outcome(
        &mut self,
        s: &OpState,
        outcome: EventType,
        result: OpResult,
        value: Option<ValueId>,
    ) {
        let now = self.now;
        let m = &mut self.metrics;
        match outcome {
            EventType::Ok => {
                m.ok += 1;
                m.latency.record(now.since(s.invoked));
            }
            EventType::Fail => m.failed += 1,
            _ => m.unknown += 1,
        }
        if s.kind.is_update() {
            let ok = outcome == EventType::Ok;
            m.stale
                .on_update_done(s.id, s.key, s.kind, ok, outcome == EventType::Fail, now.0);
            if let OpResult::Written(version) = result {
                m.replicas.on_acked(s.key, version, now);
            }
        } else if outcome == EventType::Ok {
            let read = ReadDone {
                op: s.id,
                process: s.process,
                key: s.key,
                invoke_us: s.invoked.0,
                returned: value,
            };
            m.stale.on_read_ok(read);
        }
    }

    fn arrival(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        if let Some(c) = self.work.idle_client() {
            self.start_op(c);
        }
        if let Some(next) = self.work.next_arrival_us() {
            self.queue.push_after(self.now, next, Event::Arrival);
        }
    }
}
