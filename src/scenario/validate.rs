//! Semantic checks: every error names the field path and says why.
//!
//! [`validate`] checks a whole scenario; [`settings`] checks everything a `Set` can change, and
//! is what `set_path::apply` runs on a changed scenario before anyone adopts it.

mod event_log;
mod faults;
mod log;
mod raft;

use super::describe::did_you_mean;
use super::limits::*;
use super::load::ScenarioError;
use super::schema::*;
use crate::types::NodeId;

type R = Result<(), ScenarioError>;

struct V<'a> {
    file: &'a str,
    nodes: u16,
}

impl V<'_> {
    fn err(&self, path: impl Into<String>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::invalid(self.file, path, msg)
    }

    fn check(&self, ok: bool, path: impl Into<String>, msg: impl Into<String>) -> R {
        if ok { Ok(()) } else { Err(self.err(path, msg)) }
    }

    fn node(&self, path: &str, name: &str) -> Result<NodeId, ScenarioError> {
        // Only the canonical spelling: `n1`, not `n01` or `n+1`.
        let canonical = name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_digit());
        match NodeId::parse(name) {
            Some(n) if canonical && n.0 < self.nodes => Ok(n),
            _ => Err(self.err(
                path,
                format!(
                    "no node named `{}`; nodes are n1..n{}",
                    short(name),
                    self.nodes
                ),
            )),
        }
    }

    /// Node names that must each appear at most once.
    fn distinct_nodes(&self, path: &str, names: &[String]) -> Result<Vec<NodeId>, ScenarioError> {
        let mut seen = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let id = self.node(&format!("{path}[{i}]"), name)?;
            self.check(
                !seen.contains(&id),
                format!("{path}[{i}]"),
                format!("`{name}` is listed twice"),
            )?;
            seen.push(id);
        }
        Ok(seen)
    }

    fn probability(&self, path: &str, p: f64) -> R {
        self.check(
            (0.0..=1.0).contains(&p),
            path,
            format!("{} is not a probability between 0 and 1", num(p)),
        )
    }

    /// A non-negative, finite number of milliseconds no larger than `max`.
    fn ms(&self, path: &str, ms: f64, max: f64) -> R {
        self.check(
            ms.is_finite() && ms >= 0.0,
            path,
            format!("{} must be a non-negative number of milliseconds", num(ms)),
        )?;
        self.check(
            ms <= max,
            path,
            format!("{} ms is more than the limit of {max} ms", num(ms)),
        )
    }

    fn positive_ms(&self, path: &str, ms: f64, max: f64) -> R {
        self.ms(path, ms, max)?;
        self.check(ms > 0.0, path, "must be greater than 0")
    }

    /// A relative weight: finite, non-negative and not so large that sums overflow.
    fn weight(&self, path: &str, w: f64) -> R {
        self.check(
            w.is_finite() && (0.0..=MAX_WEIGHT).contains(&w),
            path,
            format!("{} must be a number between 0 and {MAX_WEIGHT}", num(w)),
        )
    }
}

/// A number as a message shows it: plain when it is of a sensible size, else in exponent form.
pub(crate) fn num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// The path of a map entry: `expect.ops`, or `expect["odd key"]` when the key is not a name.
fn key_path(map: &str, key: &str) -> String {
    let is_name = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if is_name && key.len() <= 64 {
        format!("{map}.{key}")
    } else {
        format!("{map}[{:?}]", short(key))
    }
}

/// Input echoed in a message, cut short so a megabyte of junk does not become the message.
pub(crate) fn short(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Checks a whole scenario.
pub fn validate(file: &str, s: &Scenario) -> R {
    let v = V {
        file,
        nodes: s.nodes.count,
    };
    v.check(
        s.title.len() <= MAX_TEXT,
        "title",
        format!("text longer than {MAX_TEXT} bytes"),
    )?;
    v.check(
        s.description.len() <= MAX_TEXT,
        "description",
        format!("text longer than {MAX_TEXT} bytes"),
    )?;
    settings(file, s)?;
    faults::schedule(&v, s)?;
    expect(&v, s)
}

/// Checks everything but the fault schedule, the texts and `expect` (what a `Set` can change).
pub fn settings(file: &str, s: &Scenario) -> R {
    let v = V {
        file,
        nodes: s.nodes.count,
    };
    v.check(
        (1..=MAX_NODES).contains(&s.nodes.count),
        "nodes.count",
        format!("must be between 1 and {MAX_NODES}"),
    )?;
    clocks(&v, &s.nodes.clocks)?;
    network(&v, &s.network, policy_kinds(&s.policy))?;
    policy(&v, &s.policy)?;
    workload(&v, &s.workload)?;
    consistency_mix(&v, &s.workload, &s.policy)?;
    run(&v, &s.run)?;
    key_cells(&v, s)?;
    faults::random(&v, &s.random_faults)
}

fn expect(v: &V, s: &Scenario) -> R {
    let valid = crate::check::report::expectable_fields();
    for (key, e) in &s.expect {
        let path = key_path("expect", key);
        v.check(
            valid.contains(key),
            &path,
            format!(
                "unknown result field{}; valid ones: {}",
                did_you_mean(key, &valid),
                valid.join(", ")
            ),
        )?;
        if let Ok(claim) = crate::check::expect::parse(e) {
            v.check(
                claim.value.is_finite(),
                &path,
                "compare with a finite number",
            )?;
        }
    }
    crate::check::expect::validate_keys(v.file, &s.expect)
}

/// The message kinds of the scenario's policy (names usable in `network.kinds` and link overrides).
pub fn policy_kinds(p: &PolicySpec) -> &'static [&'static str] {
    match p {
        PolicySpec::Leaderless(_) => crate::policy::leaderless::KINDS,
        PolicySpec::SingleLeader(_) => crate::policy::single_leader::KINDS,
        PolicySpec::Raft(_) => crate::policy::raft::KINDS,
        PolicySpec::EventLog(_) => crate::policy::event_log::KINDS,
    }
}

fn clocks(v: &V, clocks: &[ClockSpec]) -> R {
    let mut seen = Vec::new();
    for (i, c) in clocks.iter().enumerate() {
        let p = format!("nodes.clocks[{i}]");
        let id = v.node(&format!("{p}.node"), &c.node)?;
        v.check(
            !seen.contains(&id),
            format!("{p}.node"),
            format!("`{}` already has a clock entry", c.node),
        )?;
        seen.push(id);
        v.check(
            c.skew_ms.is_finite() && c.skew_ms.abs() <= MAX_DURATION_MS,
            format!("{p}.skew_ms"),
            "must be a finite number of ms within a day",
        )?;
        v.check(
            c.drift_ppm.is_finite() && c.drift_ppm.abs() <= MAX_DRIFT_PPM,
            format!("{p}.drift_ppm"),
            format!("must be within ±{MAX_DRIFT_PPM} ppm"),
        )?;
    }
    Ok(())
}

pub fn dist(file: &str, path: &str, d: &Dist) -> R {
    let v = V { file, nodes: 0 };
    check_dist(&v, path, d, 0)
}

fn check_dist(v: &V, path: &str, d: &Dist, depth: usize) -> R {
    v.check(
        depth < MAX_DIST_DEPTH,
        path,
        format!("distributions nest deeper than {MAX_DIST_DEPTH} levels"),
    )?;
    let finite = |name: &str, x: f64| {
        v.check(
            x.is_finite(),
            format!("{path}.{name}"),
            format!("{} is not a finite number", num(x)),
        )
    };
    match d {
        Dist::Constant(ms) => v.ms(path, *ms, MAX_LATENCY_MS),
        Dist::Uniform { min_ms, max_ms } => {
            v.ms(&format!("{path}.min_ms"), *min_ms, MAX_LATENCY_MS)?;
            v.ms(&format!("{path}.max_ms"), *max_ms, MAX_LATENCY_MS)?;
            v.check(
                min_ms <= max_ms,
                format!("{path}.max_ms"),
                format!("{} is smaller than min_ms {}", num(*max_ms), num(*min_ms)),
            )
        }
        Dist::Normal { mean_ms, std_ms } => {
            v.ms(&format!("{path}.mean_ms"), *mean_ms, MAX_LATENCY_MS)?;
            v.ms(&format!("{path}.std_ms"), *std_ms, MAX_LATENCY_MS)
        }
        Dist::Exponential { mean_ms } => v.ms(&format!("{path}.mean_ms"), *mean_ms, MAX_LATENCY_MS),
        Dist::Pareto { scale_ms, shape } => {
            v.ms(&format!("{path}.scale_ms"), *scale_ms, MAX_LATENCY_MS)?;
            finite("shape", *shape)?;
            v.check(
                *shape > 0.0,
                format!("{path}.shape"),
                "must be greater than 0",
            )
        }
        Dist::LogNormal { mu, sigma } => {
            finite("mu", *mu)?;
            finite("sigma", *sigma)?;
            v.check(
                *mu <= 15.0,
                format!("{path}.mu"),
                "exp(mu) would exceed an hour",
            )?;
            v.check(
                (0.0..=10.0).contains(sigma),
                format!("{path}.sigma"),
                "must be between 0 and 10",
            )
        }
        Dist::Mixture(parts) => {
            v.check(
                !parts.is_empty() && parts.len() <= MAX_MIXTURE_PARTS,
                path,
                format!("a mixture needs 1 to {MAX_MIXTURE_PARTS} parts"),
            )?;
            for (i, (w, d)) in parts.iter().enumerate() {
                v.weight(&format!("{path}[{i}].0"), *w)?;
                check_dist(v, &format!("{path}[{i}].1"), d, depth + 1)?;
            }
            v.check(
                parts.iter().any(|(w, _)| *w > 0.0),
                path,
                "at least one weight must be positive",
            )
        }
        Dist::Shifted { shift_ms, dist } => {
            v.ms(&format!("{path}.shift_ms"), *shift_ms, MAX_LATENCY_MS)?;
            check_dist(v, &format!("{path}.dist"), dist, depth + 1)
        }
    }
}

fn link_spec(v: &V, path: &str, s: &LinkSpec) -> R {
    if let Some(d) = &s.latency {
        check_dist(v, &format!("{path}.latency"), d, 0)?;
    }
    if let Some(p) = s.loss {
        v.probability(&format!("{path}.loss"), p)?;
    }
    if let Some(p) = s.duplicate {
        v.probability(&format!("{path}.duplicate"), p)?;
    }
    Ok(())
}

fn kind_name(v: &V, path: &str, kind: &str, kinds: &[&str]) -> R {
    v.check(
        kinds.contains(&kind),
        path,
        format!(
            "unknown message kind `{}`{}; this policy's kinds: {}",
            short(kind),
            did_you_mean(kind, kinds),
            kinds.join(", ")
        ),
    )
}

fn network(v: &V, n: &NetworkSpec, kinds: &[&str]) -> R {
    check_dist(v, "network.latency", &n.latency, 0)?;
    v.probability("network.loss", n.loss)?;
    v.probability("network.duplicate", n.duplicate)?;
    for (k, s) in &n.kinds {
        let p = key_path("network.kinds", k);
        kind_name(v, &p, k, kinds)?;
        link_spec(v, &p, s)?;
    }
    v.check(
        n.links.len() <= MAX_LINK_OVERRIDES,
        "network.links",
        format!(
            "{} entries; the limit is {MAX_LINK_OVERRIDES}",
            n.links.len()
        ),
    )?;
    for (i, l) in n.links.iter().enumerate() {
        let p = format!("network.links[{i}]");
        if l.from != "*" {
            v.node(&format!("{p}.from"), &l.from)?;
        }
        if l.to != "*" {
            v.node(&format!("{p}.to"), &l.to)?;
        }
        if let Some(k) = &l.kind {
            kind_name(v, &format!("{p}.kind"), k, kinds)?;
        }
        link_spec(v, &p, &l.spec())?;
    }
    Ok(())
}

fn policy(v: &V, p: &PolicySpec) -> R {
    match p {
        PolicySpec::Leaderless(l) => leaderless(v, l),
        PolicySpec::SingleLeader(s) => single_leader(v, s),
        PolicySpec::Raft(r) => raft::raft(v, r),
        PolicySpec::EventLog(e) => event_log::check(v, e),
    }
}

fn single_leader(v: &V, s: &SingleLeaderSpec) -> R {
    let leader = v.node("policy.leader", &s.leader)?;
    for (name, ms) in [
        ("resend_interval_ms", s.resend_interval_ms),
        ("replica_lag_max_ms", s.replica_lag_max_ms),
        ("leader_timeout_ms", s.leader_timeout_ms),
        ("heartbeat_interval_ms", s.heartbeat_interval_ms),
        ("fence_timeout_ms", s.fence_timeout_ms),
    ] {
        v.positive_ms(&format!("policy.{name}"), ms, MAX_DURATION_MS)?;
    }
    v.check(
        (1..=10_000).contains(&s.max_batch),
        "policy.max_batch",
        "must be between 1 and 10000",
    )?;
    let mut brokers = v.nodes;
    if let Some(c) = &s.controller {
        let c = v.node("policy.controller", c)?;
        v.check(
            c != leader,
            "policy.controller",
            "the controller stores no data, so it cannot also be the leader",
        )?;
        brokers -= 1;
    }
    v.check(
        (1..=brokers).contains(&s.min_insync_replicas),
        "policy.min_insync_replicas",
        format!("must be between 1 and the {brokers} nodes that store data"),
    )?;
    match &s.log {
        Some(l) => log::log_spec(v, l),
        None => Ok(()),
    }
}

fn leaderless(v: &V, l: &LeaderlessSpec) -> R {
    let rf = l.replication_factor;
    v.check(rf >= 1, "policy.replication_factor", "must be at least 1")?;
    v.check(
        rf <= v.nodes,
        "policy.replication_factor",
        format!("{rf} is larger than the {} nodes", v.nodes),
    )?;
    for (name, q) in [
        ("read_quorum", l.read_quorum),
        ("write_quorum", l.write_quorum),
    ] {
        v.check(q >= 1, format!("policy.{name}"), "must be at least 1")?;
        v.check(
            q <= rf,
            format!("policy.{name}"),
            format!("{q} is larger than replication_factor {rf}"),
        )?;
    }
    v.check(
        (1..=256).contains(&l.vnodes),
        "policy.vnodes",
        "must be between 1 and 256",
    )?;
    v.positive_ms(
        "policy.request_timeout_ms",
        l.request_timeout_ms,
        MAX_DURATION_MS,
    )?;
    consistency_levels(v, l)?;
    leaderless_repair(v, l)
}

fn consistency_levels(v: &V, l: &LeaderlessSpec) -> R {
    let rf = l.replication_factor;
    v.check(
        l.read_consistency != Some(Consistency::Any),
        "policy.read_consistency",
        "Any is for writes only (Cassandra refuses reads at ANY)",
    )?;
    for (name, level) in [
        ("read_consistency", l.read_consistency),
        ("write_consistency", l.write_consistency),
    ] {
        if let Some(level) = level {
            let needed = level.needed(rf);
            v.check(
                needed <= rf,
                format!("policy.{name}"),
                format!("{level:?} needs {needed} replicas but replication_factor is {rf}"),
            )?;
        }
    }
    v.check(
        !l.sloppy_quorum || l.failure_detector,
        "policy.sloppy_quorum",
        "a sloppy quorum picks the healthy nodes, so it needs failure_detector: true",
    )
}

/// `workload.consistency_mix`: real weights, levels the replication factor can meet, no ANY
/// (it would apply to reads too).
fn consistency_mix(v: &V, w: &WorkloadSpec, policy: &PolicySpec) -> R {
    let mix = &w.consistency_mix;
    v.check(
        mix.len() <= MAX_MIXTURE_PARTS,
        "workload.consistency_mix",
        format!("at most {MAX_MIXTURE_PARTS} entries"),
    )?;
    for (i, (weight, level)) in mix.iter().enumerate() {
        let path = format!("workload.consistency_mix[{i}]");
        v.weight(&path, *weight)?;
        v.check(
            *level != Consistency::Any,
            &path,
            "Any is for writes only; set policy.write_consistency: Any instead",
        )?;
        if let PolicySpec::Leaderless(l) = policy {
            let (needed, rf) = (level.needed(l.replication_factor), l.replication_factor);
            v.check(
                needed <= rf,
                &path,
                format!("{level:?} needs {needed} replicas but replication_factor is {rf}"),
            )?;
        }
    }
    v.check(
        mix.is_empty() || mix.iter().any(|(w, _)| *w > 0.0),
        "workload.consistency_mix",
        "at least one weight must be positive",
    )
}

fn leaderless_repair(v: &V, l: &LeaderlessSpec) -> R {
    v.positive_ms(
        "policy.gossip_interval_ms",
        l.gossip_interval_ms,
        MAX_DURATION_MS,
    )?;
    v.positive_ms(
        "policy.convict_after_ms",
        l.convict_after_ms,
        MAX_DURATION_MS,
    )?;
    v.ms(
        "policy.max_hint_window_ms",
        l.max_hint_window_ms,
        MAX_DURATION_MS,
    )?;
    v.probability("policy.read_repair_chance", l.read_repair_chance)?;
    if let Some(g) = l.gc_grace_ms {
        v.positive_ms("policy.gc_grace_ms", g, MAX_DURATION_MS)?;
    }
    v.positive_ms(
        "policy.compaction_interval_ms",
        l.compaction_interval_ms,
        MAX_DURATION_MS,
    )?;
    if let Some(a) = l.anti_entropy_interval_ms {
        v.positive_ms("policy.anti_entropy_interval_ms", a, MAX_DURATION_MS)?;
    }
    v.check(
        (1..=64).contains(&l.merkle_ranges),
        "policy.merkle_ranges",
        "must be between 1 and 64",
    )
}

fn workload(v: &V, w: &WorkloadSpec) -> R {
    let clients = match &w.load {
        LoadSpec::ClosedLoop {
            clients,
            think_time_ms,
        } => {
            v.ms(
                "workload.load.think_time_ms",
                *think_time_ms,
                MAX_DURATION_MS,
            )?;
            *clients
        }
        LoadSpec::OpenLoop {
            rate_per_sec,
            clients,
        } => {
            v.check(
                rate_per_sec.is_finite() && *rate_per_sec > 0.0 && *rate_per_sec <= 1e7,
                "workload.load.rate_per_sec",
                "must be between 0 and 10000000",
            )?;
            *clients
        }
    };
    v.check(
        (1..=MAX_CLIENTS).contains(&clients),
        "workload.load.clients",
        format!("must be between 1 and {MAX_CLIENTS}"),
    )?;
    let m = &w.mix;
    for (name, x) in [("read", m.read), ("write", m.write), ("delete", m.delete)] {
        v.weight(&format!("workload.mix.{name}"), x)?;
    }
    v.check(
        m.read + m.write + m.delete > 0.0,
        "workload.mix",
        "at least one of read, write, delete must be positive",
    )?;
    keys(v, &w.keys)?;
    if let TargetSpec::Node(n) = &w.target {
        v.node("workload.target", n)?;
    }
    v.distinct_nodes("workload.client_nodes", &w.client_nodes)?;
    if let Some(d) = &w.client_latency {
        check_dist(v, "workload.client_latency", d, 0)?;
    }
    v.positive_ms("workload.timeout_ms", w.timeout_ms, MAX_DURATION_MS)
}

pub fn key_count(k: &KeySpec) -> u32 {
    match k {
        KeySpec::Uniform { count }
        | KeySpec::Zipf { count, .. }
        | KeySpec::HotSet { count, .. } => *count,
    }
}

fn keys(v: &V, k: &KeySpec) -> R {
    let count = key_count(k);
    v.check(
        (1..=MAX_KEYS).contains(&count),
        "workload.keys.count",
        format!("must be between 1 and {MAX_KEYS}"),
    )?;
    match k {
        KeySpec::Uniform { .. } => Ok(()),
        KeySpec::Zipf { s, .. } => v.check(
            s.is_finite() && (0.0..=10.0).contains(s),
            "workload.keys.s",
            "must be between 0 and 10",
        ),
        KeySpec::HotSet {
            hot_fraction,
            hot_probability,
            ..
        } => {
            v.check(
                *hot_fraction > 0.0 && *hot_fraction <= 1.0,
                "workload.keys.hot_fraction",
                "must be in (0, 1]",
            )?;
            v.probability("workload.keys.hot_probability", *hot_probability)
        }
    }
}

fn run(v: &V, r: &RunSpec) -> R {
    v.check(
        r.ops.is_some() || r.duration_ms.is_some(),
        "run",
        "set `ops`, `duration_ms` or both, so the run ends",
    )?;
    if let Some(ops) = r.ops {
        v.check(
            (1..=MAX_OPS).contains(&ops),
            "run.ops",
            format!("must be between 1 and {MAX_OPS}"),
        )?;
    }
    if let Some(d) = r.duration_ms {
        v.positive_ms("run.duration_ms", d, MAX_DURATION_MS)?;
    }
    v.ms("run.drain_ms", r.drain_ms, MAX_DURATION_MS)?;
    v.check(
        r.history_limit <= MAX_HISTORY_LIMIT,
        "run.history_limit",
        format!("must be at most {MAX_HISTORY_LIMIT}"),
    )
}

fn key_cells(v: &V, s: &Scenario) -> R {
    let cells = key_count(&s.workload.keys) as u64 * s.nodes.count as u64;
    v.check(
        cells <= MAX_KEY_CELLS,
        "workload.keys.count",
        format!("keys × nodes = {cells} is more than the limit of {MAX_KEY_CELLS}"),
    )
}
