//! Semantic checks: every error names the field path and says why.

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
        match NodeId::parse(name) {
            Some(n) if n.0 < self.nodes => Ok(n),
            _ => Err(self.err(
                path,
                format!("no node named `{name}`; nodes are n1..n{}", self.nodes),
            )),
        }
    }

    fn probability(&self, path: &str, p: f64) -> R {
        self.check(
            (0.0..=1.0).contains(&p),
            path,
            format!("{p} is not a probability between 0 and 1"),
        )
    }

    /// A non-negative, finite number of milliseconds no larger than `max`.
    fn ms(&self, path: &str, ms: f64, max: f64) -> R {
        self.check(
            ms.is_finite() && ms >= 0.0,
            path,
            format!("{ms} must be a non-negative number of milliseconds"),
        )?;
        self.check(
            ms <= max,
            path,
            format!("{ms} ms is more than the limit of {max} ms"),
        )
    }

    fn positive_ms(&self, path: &str, ms: f64, max: f64) -> R {
        self.ms(path, ms, max)?;
        self.check(ms > 0.0, path, "must be greater than 0")
    }
}

pub fn validate(file: &str, s: &Scenario) -> R {
    let v = V {
        file,
        nodes: s.nodes.count,
    };
    v.check(
        (1..=MAX_NODES).contains(&s.nodes.count),
        "nodes.count",
        format!("must be between 1 and {MAX_NODES}"),
    )?;
    v.check(
        s.title.len() <= MAX_TEXT && s.description.len() <= MAX_TEXT,
        "description",
        "text longer than 64 KiB",
    )?;
    clocks(&v, &s.nodes.clocks)?;
    network(&v, &s.network, policy_kinds(&s.policy))?;
    policy(&v, &s.policy)?;
    workload(&v, &s.workload)?;
    run(&v, &s.run)?;
    key_cells(&v, s)?;
    faults(&v, s)?;
    random_faults(&v, &s.random_faults)?;
    crate::check::expect::validate_keys(file, &s.expect)
}

/// The message kinds of the scenario's policy (names usable in `network.kinds` and link overrides).
pub fn policy_kinds(p: &PolicySpec) -> &'static [&'static str] {
    match p {
        PolicySpec::Leaderless(_) => crate::policy::leaderless::KINDS,
        PolicySpec::SingleLeader(_) => crate::policy::single_leader::KINDS,
    }
}

fn clocks(v: &V, clocks: &[ClockSpec]) -> R {
    for (i, c) in clocks.iter().enumerate() {
        let p = format!("nodes.clocks[{i}]");
        v.node(&format!("{p}.node"), &c.node)?;
        v.check(
            c.skew_ms.is_finite() && c.skew_ms.abs() <= MAX_DURATION_MS,
            format!("{p}.skew_ms"),
            "must be a finite number of ms within a day",
        )?;
        v.check(
            c.drift_ppm.is_finite() && c.drift_ppm.abs() <= 500_000.0,
            format!("{p}.drift_ppm"),
            "must be within ±500000 ppm",
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
            format!("{x} is not a finite number"),
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
                format!("{max_ms} is smaller than min_ms {min_ms}"),
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
                v.check(
                    w.is_finite() && *w >= 0.0,
                    format!("{path}[{i}].0"),
                    "weight must be a non-negative number",
                )?;
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
            "unknown message kind `{kind}`; this policy's kinds: {}",
            kinds.join(", ")
        ),
    )
}

fn network(v: &V, n: &NetworkSpec, kinds: &[&str]) -> R {
    check_dist(v, "network.latency", &n.latency, 0)?;
    v.probability("network.loss", n.loss)?;
    v.probability("network.duplicate", n.duplicate)?;
    for (k, s) in &n.kinds {
        kind_name(v, &format!("network.kinds.{k}"), k, kinds)?;
        link_spec(v, &format!("network.kinds.{k}"), s)?;
    }
    v.check(
        n.links.len() <= MAX_LINK_OVERRIDES,
        "network.links",
        format!("more than {MAX_LINK_OVERRIDES} entries"),
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
    )
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
        v.check(
            x.is_finite() && x >= 0.0,
            format!("workload.mix.{name}"),
            "must be a non-negative number",
        )?;
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
    for (i, n) in w.client_nodes.iter().enumerate() {
        v.node(&format!("workload.client_nodes[{i}]"), n)?;
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

fn faults(v: &V, s: &Scenario) -> R {
    v.check(
        s.faults.len() <= MAX_FAULTS,
        "faults",
        format!("more than {MAX_FAULTS} entries"),
    )?;
    for (i, f) in s.faults.iter().enumerate() {
        let p = format!("faults[{i}]");
        v.ms(&format!("{p}.at_ms"), f.at_ms, MAX_DURATION_MS)?;
        if let Some(end) = s.run.duration_ms {
            v.check(
                f.at_ms <= end,
                format!("{p}.at_ms"),
                format!("{} ms is after the end of the run ({end} ms)", f.at_ms),
            )?;
        }
        if let Some(d) = f.for_ms {
            v.positive_ms(&format!("{p}.for_ms"), d, MAX_DURATION_MS)?;
        }
        fault(v, &format!("{p}.fault"), &f.fault, s)?;
    }
    Ok(())
}

fn fault(v: &V, p: &str, f: &FaultSpec, s: &Scenario) -> R {
    match f {
        FaultSpec::Crash(n)
        | FaultSpec::Restart(n)
        | FaultSpec::Pause(n)
        | FaultSpec::Resume(n) => v.node(p, n).map(drop),
        FaultSpec::Partition(groups) => partition(v, p, groups),
        FaultSpec::PartitionOneWay { from, to } => {
            v.check(
                !from.is_empty() && !to.is_empty(),
                p,
                "both `from` and `to` need at least one node",
            )?;
            for n in from.iter().chain(to) {
                v.node(p, n)?;
            }
            Ok(())
        }
        FaultSpec::CutLink { a, b, .. } => {
            let (a, b) = (v.node(&format!("{p}.a"), a)?, v.node(&format!("{p}.b"), b)?);
            v.check(a != b, p, "a link joins two different nodes")
        }
        FaultSpec::HealAll => Ok(()),
        FaultSpec::ClockSkew { node, skew_ms } => {
            v.node(&format!("{p}.node"), node)?;
            v.check(
                skew_ms.is_finite() && skew_ms.abs() <= MAX_DURATION_MS,
                format!("{p}.skew_ms"),
                "must be a finite number of ms within a day",
            )
        }
        FaultSpec::ClockDrift { node, drift_ppm } => {
            v.node(&format!("{p}.node"), node)?;
            v.check(
                drift_ppm.is_finite() && drift_ppm.abs() <= 500_000.0,
                format!("{p}.drift_ppm"),
                "must be within ±500000 ppm",
            )
        }
        FaultSpec::Set(path, value) => {
            let changed = super::set_path::apply(s, path, value).map_err(|m| v.err(p, m))?;
            let mut inner = changed;
            inner.faults.clear();
            validate(v.file, &inner)
                .map_err(|e| v.err(p, format!("after Set(\"{path}\", ..): {e}")))
        }
    }
}

fn partition(v: &V, p: &str, groups: &[Vec<String>]) -> R {
    v.check(
        !groups.is_empty(),
        p,
        "a partition needs at least one group",
    )?;
    let mut seen = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        v.check(!g.is_empty(), format!("{p}[{gi}]"), "an empty group")?;
        for n in g {
            let id = v.node(&format!("{p}[{gi}]"), n)?;
            v.check(
                !seen.contains(&id),
                format!("{p}[{gi}]"),
                format!("node `{n}` is in two groups"),
            )?;
            seen.push(id);
        }
    }
    Ok(())
}

fn random_faults(v: &V, rf: &[RandomFault]) -> R {
    v.check(
        rf.len() <= MAX_RANDOM_FAULTS,
        "random_faults",
        format!("more than {MAX_RANDOM_FAULTS} entries"),
    )?;
    for (i, f) in rf.iter().enumerate() {
        let p = format!("random_faults[{i}]");
        v.check(
            f.per_second.is_finite() && (0.0..=1000.0).contains(&f.per_second),
            format!("{p}.per_second"),
            "must be between 0 and 1000",
        )?;
        v.ms(&format!("{p}.min_ms"), f.min_ms, MAX_DURATION_MS)?;
        v.ms(&format!("{p}.max_ms"), f.max_ms, MAX_DURATION_MS)?;
        v.check(
            f.min_ms <= f.max_ms,
            format!("{p}.max_ms"),
            "is smaller than min_ms",
        )?;
        match f.kind {
            RandomFaultKind::LossBurst(l) => v.probability(&format!("{p}.kind"), l)?,
            RandomFaultKind::ClockSkew(ms) => v.ms(&format!("{p}.kind"), ms, MAX_DURATION_MS)?,
            RandomFaultKind::Partition | RandomFaultKind::CutLink => v.check(
                v.nodes >= 2,
                format!("{p}.kind"),
                "needs at least two nodes",
            )?,
            _ => {}
        }
    }
    Ok(())
}
