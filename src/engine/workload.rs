//! Workload clients: closed loop (each client waits for its reply, plus think time) or open loop
//! (Poisson arrivals); a read/write/delete mix; uniform, Zipf or hot-set keys; and which node each
//! request goes to.

use super::dist::Sampler;
use super::rng::SimRng;
use crate::policy::OpRef;
use crate::scenario::schema::{KeySpec, LoadSpec, Mix, TargetSpec, WorkloadSpec};
use crate::types::{Key, NodeId, OpKind, SimTime, ValueId, ms_to_us};
use std::collections::VecDeque;
use std::sync::Arc;

/// Draws keys from the configured distribution.
#[derive(Clone, Debug)]
pub enum KeySampler {
    Uniform(u32),
    /// Cumulative probabilities of ranks 1..=count (key 0 is the most popular).
    Zipf(Arc<Vec<f64>>),
    HotSet {
        count: u32,
        hot: u32,
        hot_probability: f64,
    },
}

impl KeySampler {
    pub fn new(spec: &KeySpec) -> KeySampler {
        match spec {
            KeySpec::Uniform { count } => KeySampler::Uniform(*count),
            KeySpec::Zipf { count, s } => {
                let mut cdf = Vec::with_capacity(*count as usize);
                let mut acc = 0.0;
                for rank in 1..=*count {
                    acc += 1.0 / libm::pow(rank as f64, *s);
                    cdf.push(acc);
                }
                cdf.iter_mut().for_each(|c| *c /= acc);
                KeySampler::Zipf(Arc::new(cdf))
            }
            KeySpec::HotSet {
                count,
                hot_fraction,
                hot_probability,
            } => {
                let hot = (libm::ceil(*count as f64 * hot_fraction) as u32).clamp(1, *count);
                KeySampler::HotSet {
                    count: *count,
                    hot,
                    hot_probability: *hot_probability,
                }
            }
        }
    }

    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> Key {
        match self {
            KeySampler::Uniform(n) => rng.below(*n as u64) as Key,
            KeySampler::Zipf(cdf) => {
                let u = rng.unit();
                cdf.partition_point(|c| *c <= u).min(cdf.len() - 1) as Key
            }
            KeySampler::HotSet {
                count,
                hot,
                hot_probability,
            } => {
                if *hot == *count || rng.chance(*hot_probability) {
                    rng.below(*hot as u64) as Key
                } else {
                    *hot + rng.below((*count - *hot) as u64) as Key
                }
            }
        }
    }
}

fn think_us(load: &LoadSpec) -> Option<u64> {
    match load {
        LoadSpec::ClosedLoop { think_time_ms, .. } => Some(ms_to_us(*think_time_ms)),
        LoadSpec::OpenLoop { .. } => None,
    }
}

/// One client process slot. A client has at most one operation in flight.
#[derive(Clone, Debug)]
pub struct Client {
    pub process: u64,
    pub home: NodeId,
    pub leader_guess: Option<NodeId>,
    pub busy: Option<OpRef>,
}

/// An operation in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpState {
    pub id: u64,
    pub client: u32,
    pub process: u64,
    pub kind: OpKind,
    pub key: Key,
    pub value: Option<ValueId>,
    pub invoked: SimTime,
    pub node: NodeId,
    pub redirects: u8,
    /// The consistency level drawn from `consistency_mix`, if any.
    pub level: Option<crate::scenario::schema::Consistency>,
}

/// Most redirects one request follows before it fails as "not leader".
pub const MAX_REDIRECTS: u8 = 3;

#[derive(Clone, Debug)]
pub struct Workload {
    pub spec: WorkloadSpec,
    pub keys: KeySampler,
    pub timeout_us: u64,
    /// `think_us()`, worked out once (it is asked after every operation).
    think: Option<u64>,
    /// `spec.session` as flags, handed to the policy with every request.
    pub guarantees: crate::policy::Guarantees,
    pub clients: Vec<Client>,
    pub rng: SimRng,
    /// The client-to-node delay and its own random stream (`workload.client_latency`), so that
    /// adding it does not shift the workload's other draws.
    hop: Option<(Sampler, SimRng)>,
    ops: Vec<Option<(u32, OpState)>>,
    free: Vec<u32>,
    generation: u32,
    pub next_process: u64,
    pub next_op: u64,
    pub next_value: u64,
    pub in_flight: usize,
    /// Pending client timeouts. Most of them outlive their operation and fire as no-ops.
    timeouts: Fifo<OpRef>,
    /// Clients waiting out their think time before the next request.
    restarts: Fifo<u32>,
}

/// Client events with a fixed delay (a request timeout, the think time before the next request)
/// happen in the order they were set, so a FIFO of (time µs, event-queue sequence number, what)
/// holds them: 24 bytes each instead of an event in the queue (DESIGN.md). The engine merges the
/// fronts with the event queue by (time, sequence).
#[derive(Clone, Debug)]
struct Fifo<T> {
    items: VecDeque<(u64, u64, T)>,
}

impl<T: Copy> Fifo<T> {
    /// Queues an item unless it would come before the last one queued (the delay changed
    /// mid-run); returns whether it was queued.
    #[inline]
    fn push(&mut self, at: SimTime, seq: u64, item: T) -> bool {
        if self.items.back().is_some_and(|(t, _, _)| *t > at.0) {
            return false;
        }
        self.items.push_back((at.0, seq, item));
        true
    }

    #[inline]
    fn front(&self) -> Option<(u64, u64)> {
        self.items.front().map(|(t, seq, _)| (*t, *seq))
    }
}

/// A client event due now (see `Workload::pop_client_event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    Timeout(OpRef),
    /// The client's think time is over.
    Start(u32),
}

impl Workload {
    /// `hop_rng` draws the client-to-node delays (used only with `spec.client_latency`).
    pub fn new(spec: &WorkloadSpec, nodes: u16, rng: SimRng, hop_rng: SimRng) -> Workload {
        let homes: Vec<NodeId> = if spec.client_nodes.is_empty() {
            (0..nodes).map(NodeId).collect()
        } else {
            spec.client_nodes
                .iter()
                .filter_map(|n| NodeId::parse(n))
                .collect()
        };
        let count = match spec.load {
            LoadSpec::ClosedLoop { clients, .. } | LoadSpec::OpenLoop { clients, .. } => clients,
        };
        let clients = (0..count)
            .map(|i| Client {
                process: i as u64,
                home: homes[i as usize % homes.len()],
                leader_guess: None,
                busy: None,
            })
            .collect();
        Workload {
            spec: spec.clone(),
            keys: KeySampler::new(&spec.keys),
            timeout_us: ms_to_us(spec.timeout_ms),
            think: think_us(&spec.load),
            guarantees: spec.session.guarantees(),
            clients,
            rng,
            hop: spec
                .client_latency
                .as_ref()
                .map(|d| (Sampler::new(d), hop_rng)),
            ops: Vec::new(),
            free: Vec::new(),
            generation: 0,
            next_process: count as u64,
            next_op: 0,
            next_value: 1,
            in_flight: 0,
            timeouts: Fifo {
                items: VecDeque::new(),
            },
            restarts: Fifo {
                items: VecDeque::new(),
            },
        }
    }

    /// Applies a changed spec mid-run (a `Set`); clients and their processes stay.
    pub fn reconfigure(&mut self, spec: &WorkloadSpec) {
        if spec.keys != self.spec.keys {
            self.keys = KeySampler::new(&spec.keys);
        }
        if spec.client_latency != self.spec.client_latency
            && let (Some(d), Some((latency, _))) = (&spec.client_latency, &mut self.hop)
        {
            // A `Set` reaches into the distribution (the field itself is fixed: it is one).
            *latency = Sampler::new(d);
        }
        self.timeout_us = ms_to_us(spec.timeout_ms);
        self.think = think_us(&spec.load);
        self.guarantees = spec.session.guarantees();
        self.spec = spec.clone();
    }

    /// A closed-loop client's pause between operations; `None` for open-loop arrivals.
    #[inline]
    pub fn think_us(&self) -> Option<u64> {
        self.think
    }

    /// Time to the next open-loop arrival (exponential inter-arrival times).
    pub fn next_arrival_us(&mut self) -> Option<u64> {
        match self.spec.load {
            LoadSpec::OpenLoop { rate_per_sec, .. } => {
                let mean_us = 1e6 / rate_per_sec;
                Some(ms_to_us(-mean_us * libm::log(self.rng.unit_open0()) / 1000.0).max(1))
            }
            LoadSpec::ClosedLoop { .. } => None,
        }
    }

    /// Whether clients sit a hop away from their node (`workload.client_latency`).
    #[inline]
    pub fn has_hop(&self) -> bool {
        self.hop.is_some()
    }

    /// One trip between a client and its node (µs), or `None` when clients sit on their node.
    #[inline]
    pub fn hop_us(&mut self) -> Option<u64> {
        let (latency, rng) = self.hop.as_mut()?;
        Some(latency.sample_us(rng))
    }

    pub fn pick_kind(&mut self) -> OpKind {
        let Mix {
            read,
            write,
            delete,
        } = self.spec.mix;
        let u = self.rng.unit() * (read + write + delete);
        if u < read {
            OpKind::Read
        } else if u < read + write {
            OpKind::Write
        } else {
            OpKind::Delete
        }
    }

    /// A level from `consistency_mix`; draws nothing when the mix is empty, so scenarios
    /// without one keep their random sequence.
    pub fn pick_level(&mut self) -> Option<crate::scenario::schema::Consistency> {
        let mix = &self.spec.consistency_mix;
        if mix.is_empty() {
            return None;
        }
        let total: f64 = mix.iter().map(|(w, _)| w).sum();
        let mut u = self.rng.unit() * total;
        for (w, level) in mix {
            if u < *w {
                return Some(*level);
            }
            u -= w;
        }
        mix.last().map(|(_, l)| *l)
    }

    /// Where the client's next request goes.
    /// `leader_hint` is asked only when the client targets the leader and has no guess yet
    /// (a real client would learn it from any node).
    #[inline]
    pub fn pick_node(
        &mut self,
        client: u32,
        nodes: u16,
        leader_hint: impl FnOnce() -> Option<NodeId>,
    ) -> NodeId {
        let c = &self.clients[client as usize];
        match &self.spec.target {
            TargetSpec::RoundRobin => c.home,
            TargetSpec::Node(n) => NodeId::parse(n).unwrap_or(c.home),
            TargetSpec::Random => NodeId(self.rng.below(nodes as u64) as u16),
            TargetSpec::Leader => c.leader_guess.or_else(leader_hint).unwrap_or(c.home),
        }
    }

    /// Starts tracking a new operation and returns its handle.
    #[inline]
    pub fn begin(&mut self, op: OpState) -> OpRef {
        self.generation = self.generation.wrapping_add(1);
        let slot = match self.free.pop() {
            Some(s) => {
                self.ops[s as usize] = Some((self.generation, op));
                s
            }
            None => {
                self.ops.push(Some((self.generation, op)));
                (self.ops.len() - 1) as u32
            }
        };
        self.in_flight += 1;
        let r = OpRef((self.generation as u64) << 32 | slot as u64);
        self.clients[op.client as usize].busy = Some(r);
        r
    }

    #[inline]
    pub fn get(&self, r: OpRef) -> Option<&OpState> {
        let (generation, op) = self.ops.get((r.0 & 0xffff_ffff) as usize)?.as_ref()?;
        (*generation == (r.0 >> 32) as u32).then_some(op)
    }

    #[inline]
    pub fn get_mut(&mut self, r: OpRef) -> Option<&mut OpState> {
        let (generation, op) = self.ops.get_mut((r.0 & 0xffff_ffff) as usize)?.as_mut()?;
        (*generation == (r.0 >> 32) as u32).then_some(op)
    }

    /// Stops tracking an operation; returns it if it was still in progress.
    #[inline]
    pub fn finish(&mut self, r: OpRef) -> Option<OpState> {
        self.get(r)?;
        let slot = (r.0 & 0xffff_ffff) as u32;
        let (_, op) = self.ops[slot as usize].take()?;
        self.free.push(slot);
        self.in_flight -= 1;
        self.clients[op.client as usize].busy = None;
        self.drop_finished_timeouts();
        Some(op)
    }

    /// Forgets the timeouts at the front of the FIFO whose operations have finished. Nearly every
    /// operation finishes long before its timeout, and operations finish roughly in the order they
    /// began, so the front is usually one; dropping it here costs a comparison, where letting it
    /// come due cost a whole engine step that did nothing (a sixth of all steps on the benchmark).
    #[inline]
    fn drop_finished_timeouts(&mut self) {
        while let Some(&(_, _, op)) = self.timeouts.items.front() {
            if self.get(op).is_some() {
                break;
            }
            self.timeouts.items.pop_front();
        }
    }

    /// Operations in progress, in slot order (deterministic).
    pub fn in_progress(&self) -> impl Iterator<Item = &OpState> {
        self.ops.iter().filter_map(|o| o.as_ref().map(|(_, op)| op))
    }

    /// Queues a request timeout (false: it would expire before the last one queued, because the
    /// timeout changed mid-run; the engine queues it as an event instead).
    #[inline]
    pub fn push_timeout(&mut self, at: SimTime, seq: u64, op: OpRef) -> bool {
        self.timeouts.push(at, seq, op)
    }

    /// Queues a client's next request after its think time (false as for `push_timeout`).
    #[inline]
    pub fn push_restart(&mut self, at: SimTime, seq: u64, client: u32) -> bool {
        self.restarts.push(at, seq, client)
    }

    /// (time, sequence number) of the earliest pending client event.
    #[inline]
    pub fn next_client_event(&self) -> Option<(SimTime, u64)> {
        let earliest = match (self.timeouts.front(), self.restarts.front()) {
            (Some(t), Some(r)) => Some(t.min(r)),
            (t, r) => t.or(r),
        };
        earliest.map(|(t, seq)| (SimTime(t), seq))
    }

    /// Takes the earliest pending client event.
    #[inline]
    pub fn pop_client_event(&mut self) -> Option<(SimTime, ClientEvent)> {
        let restart_first = match (self.timeouts.front(), self.restarts.front()) {
            (Some(t), Some(r)) => r < t,
            (t, _) => t.is_none(),
        };
        if restart_first {
            let (t, _, client) = self.restarts.items.pop_front()?;
            Some((SimTime(t), ClientEvent::Start(client)))
        } else {
            let (t, _, op) = self.timeouts.items.pop_front()?;
            Some((SimTime(t), ClientEvent::Timeout(op)))
        }
    }

    pub fn idle_client(&self) -> Option<u32> {
        self.clients
            .iter()
            .position(|c| c.busy.is_none())
            .map(|i| i as u32)
    }
}
