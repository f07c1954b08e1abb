//! The discrete-event core: simulated time, the event queue, nodes, the network, workload clients
//! and faults. Single-threaded and deterministic: same scenario + seed gives the same trace.
//! The whole engine is `Clone`; a clone run forward produces the same trace as the original.

mod checks;
pub mod dist;
mod fault_apply;
pub mod faults;
pub mod network;
pub mod node;
pub mod queue;
pub mod rng;
mod step;
pub mod view;
pub mod watch;
pub mod workload;

use crate::check::history::HistoryEvent;
use crate::check::metrics::Metrics;
use crate::policy::{Cluster, Effect, Policy};
use crate::scenario::schema::Scenario;
use crate::scenario::validate::key_count;
use crate::trace::Tracer;
use crate::types::{NodeId, SimTime, ms_to_us};
pub use faults::Fault;
use network::Network;
use node::{Clock, Node, NodeStatus};
use queue::EventQueue;
use rng::{SimRng, stream};
use workload::Workload;

/// A policy that can be configured from a scenario file.
pub trait FromScenario: Policy {
    /// Builds the policy's configuration from a validated scenario.
    fn config_from(scenario: &Scenario) -> Self::Config;
}

/// Something scheduled to happen.
///
/// `repr(C, u64)` puts every variant's fields after an 8-byte tag, so moving an event out of the
/// queue copies 8-byte-aligned chunks and the field loads that follow can be forwarded from those
/// stores; with Rust's layout the fields started at offset 2 and reading a delivery stalled on
/// the copy (perf: the costliest instruction of `step`). Measured 2-3% on the benchmark. For the
/// same reason a delivery's message comes first: copying it into the queue then lines up with
/// the copy that brought it there.
#[derive(Clone, Debug)]
#[repr(C, u64)]
pub enum Event<P: Policy> {
    Deliver {
        msg: P::Msg,
        from: NodeId,
        to: NodeId,
        sent: SimTime,
        id: u64,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        timer: P::Timer,
    },
    /// A closed-loop client's think time is over (or the run starts).
    ClientStart {
        client: u32,
    },
    /// (Re)send an operation's request to the node recorded in it (after a redirect).
    ClientSend {
        op: crate::policy::OpRef,
    },
    ClientTimeout {
        op: crate::policy::OpRef,
    },
    /// A node's answer reaches its client (with `workload.client_latency`).
    ClientReply {
        op: crate::policy::OpRef,
        result: crate::policy::OpResult,
    },
    /// An open-loop arrival.
    Arrival,
    Fault {
        fault: Fault,
        undo_after_us: Option<u64>,
    },
    /// The automatic end of a timed fault.
    Undo(Fault),
    RandomFault {
        index: usize,
    },
    WorkloadEnd,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Clients issue operations.
    Running,
    /// No new operations; waiting for those in progress to finish or time out.
    Finishing,
    /// Waiting (up to `drain_ms`) for in-flight messages and timed faults to settle.
    Draining {
        until: SimTime,
    },
    Done,
}

/// What a run keeps beyond the metrics and the trace hash.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Record every trace event (for `--trace`); otherwise only the hash is kept.
    pub record_trace: bool,
    /// Keep this many recent trace events for viewers.
    pub recent_events: usize,
    /// Hand every history event to the caller through `drain_history_stream` (for `--history`).
    pub stream_history: bool,
}

#[derive(Clone, Debug)]
pub struct Engine<P: Policy> {
    scenario: Scenario,
    config: P::Config,
    now: SimTime,
    queue: EventQueue<Event<P>>,
    nodes: Vec<Node<P>>,
    net: Network,
    work: Workload,
    metrics: Metrics,
    tracer: Tracer,
    fault_rng: SimRng,
    phase: Phase,
    /// Reusable effect buffers (a stack, because applying effects can run another callback).
    effect_pool: Vec<Vec<Effect<P::Msg, P::Timer>>>,
    scratch_nodes: Vec<NodeId>,
    history: Vec<HistoryEvent>,
    history_stream: Option<Vec<HistoryEvent>>,
    ops_limit: Option<u64>,
    next_msg: u64,
    messages_in_flight: usize,
    pending_undos: usize,
    /// Every fault applied so far, with its time (the session's interventions).
    applied_faults: Vec<(SimTime, Fault)>,
    /// Scheduled faults that apply after every other event at their time (`after_same_time`),
    /// in time order, with their undo delays. Kept out of the queue, where a fault scheduled
    /// at the start would come before the events queued later for the same time.
    late_faults: std::collections::VecDeque<(SimTime, Fault, Option<u64>)>,
    /// Extra recording for an explanation (`None` in every ordinary run).
    watch: Option<Box<watch::Watch>>,
}

impl<P: FromScenario> Engine<P> {
    /// Builds an engine for a validated scenario (see `scenario::from_str`).
    pub fn new(scenario: &Scenario, options: &Options) -> Engine<P> {
        let n = scenario.nodes.count;
        let seed = scenario.seed;
        // Message kinds are u8 indexes into KINDS, and `Metrics::kinds_sent` is a 64-bit set.
        assert!(P::KINDS.len() <= 64, "at most 64 message kinds per policy");
        let cluster = Cluster { nodes: n, seed };
        let config = P::config_from(scenario);
        let nodes = (0..n)
            .map(|i| Self::make_node(NodeId(i), &cluster, &config, scenario))
            .collect();
        let mut e = Engine {
            scenario: scenario.clone(),
            net: Network::new(
                &scenario.network,
                n as usize,
                P::KINDS,
                SimRng::new(seed, stream::NETWORK),
            ),
            work: Workload::new(
                &scenario.workload,
                n,
                SimRng::new(seed, stream::WORKLOAD),
                SimRng::new(seed, stream::CLIENT_HOP),
            ),
            config,
            now: SimTime::ZERO,
            queue: EventQueue::default(),
            nodes,
            metrics: Metrics::new(n as usize),
            tracer: Tracer::new(options.record_trace, options.recent_events),
            fault_rng: SimRng::new(seed, stream::FAULTS),
            phase: Phase::Running,
            effect_pool: Vec::new(),
            scratch_nodes: Vec::new(),
            history: Vec::new(),
            history_stream: options.stream_history.then(Vec::new),
            ops_limit: scenario.run.ops,
            next_msg: 0,
            messages_in_flight: 0,
            pending_undos: 0,
            applied_faults: Vec::new(),
            late_faults: Default::default(),
            watch: None,
        };
        e.metrics.rebuild.applicable = matches!(
            &scenario.policy,
            crate::scenario::schema::PolicySpec::Raft(r) if r.snapshot.is_some()
        ) || scenario
            .faults
            .iter()
            .any(|f| matches!(f.fault, crate::scenario::schema::FaultSpec::WipeDisk(_)));
        e.register_replicas(key_count(&scenario.workload.keys));
        e.schedule_start();
        e
    }

    fn make_node(id: NodeId, cluster: &Cluster, config: &P::Config, s: &Scenario) -> Node<P> {
        let mut clock = Clock::default();
        if let Some(c) = s
            .nodes
            .clocks
            .iter()
            .find(|c| NodeId::parse(&c.node) == Some(id))
        {
            clock = Clock::new(
                libm::round(c.skew_ms * 1000.0) as i64,
                libm::round(c.drift_ppm) as i64,
            );
        }
        Node {
            id,
            policy: P::new(id, cluster, config),
            status: NodeStatus::Up,
            incarnation: 0,
            clock,
            rng: SimRng::for_node(cluster.seed, id.index()),
            inbox: Default::default(),
        }
    }

    fn register_replicas(&mut self, keys: u32) {
        let mut out = std::mem::take(&mut self.scratch_nodes);
        for key in 0..keys {
            out.clear();
            self.nodes[0].policy.replicas_of(key, &mut out);
            self.metrics.replicas.set_replicas(key, &out);
        }
        self.scratch_nodes = out;
    }

    fn schedule_start(&mut self) {
        for i in 0..self.nodes.len() {
            self.with_node(NodeId(i as u16), |p, ctx| p.on_start(ctx));
        }
        for f in self.scenario.faults.clone() {
            let fault = Fault::from_spec(&f.fault);
            let undo_after_us = f.for_ms.map(ms_to_us);
            if f.after_same_time {
                let at = SimTime::from_ms(f.at_ms);
                self.late_faults.push_back((at, fault, undo_after_us));
                continue;
            }
            self.queue.push_at(
                SimTime::from_ms(f.at_ms),
                Event::Fault {
                    fault,
                    undo_after_us,
                },
            );
        }
        // Stable: entries at the same time keep their file order.
        self.late_faults
            .make_contiguous()
            .sort_by_key(|(at, _, _)| *at);
        for index in 0..self.scenario.random_faults.len() {
            self.schedule_random_fault(index);
        }
        if let Some(d) = self.scenario.run.duration_ms {
            self.queue.push_at(SimTime::from_ms(d), Event::WorkloadEnd);
        }
        match self.work.next_arrival_us() {
            Some(first) => self.queue.push_at(SimTime(first), Event::Arrival),
            None => {
                for c in 0..self.work.clients.len() as u32 {
                    self.queue
                        .push_after(SimTime::ZERO, 0, Event::ClientStart { client: c });
                }
            }
        }
    }
}

impl<P: Policy> Engine<P> {
    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn phase(&self) -> Phase {
        self.phase
    }
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    pub fn trace_hash(&self) -> u64 {
        self.tracer.hash()
    }
    pub fn trace_events(&self) -> u64 {
        self.tracer.events()
    }
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }
    pub fn tracer_mut(&mut self) -> &mut Tracer {
        &mut self.tracer
    }
    /// History kept in memory for the checkers (up to `run.history_limit` events).
    pub fn history(&self) -> &[HistoryEvent] {
        &self.history
    }
    /// History events since the last call (only with `Options::stream_history`).
    pub fn drain_history_stream(&mut self) -> Vec<HistoryEvent> {
        self.history_stream
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
    pub fn applied_faults(&self) -> &[(SimTime, Fault)] {
        &self.applied_faults
    }
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn messages_in_flight(&self) -> usize {
        self.messages_in_flight
    }
}
