//! Staleness probes: "how eventual is eventual?" (Bailis et al., "Probabilistically Bounded
//! Staleness for Practical Partial Quorums", VLDB 2012).
//!
//! t-visibility follows the paper's WARS model by Monte Carlo, using the scenario's own latency
//! samplers: per trial, for each of the N replicas draw a write-request delay W, ack delay A,
//! read-request delay R and read-response delay S (message kinds `write_req`, `write_ack`,
//! `read_req`, `read_resp` on the link from the coordinator n1 to that replica and back; like the
//! paper, every replica is treated as remote). The write commits when the W-th ack arrives; a read
//! sent to all N replicas t ms later takes the first R responses, and is consistent if any of those
//! replicas had received the write before the read request reached it. No repair, no other traffic.
//!
//! k-staleness: the probability that a read returns one of the last k committed versions, i.e. that
//! its R responders meet the write quorum (the first W to acknowledge) of one of the last k writes.
//! Monte Carlo again, reported beside the paper's closed form 1 - (C(N-W, R) / C(N, R))^k, which
//! holds when quorums are uniformly random (iid latencies).

use crate::engine::network::Network;
use crate::engine::rng::{SimRng, stream};
use crate::policy::leaderless::KINDS;
use crate::scenario::schema::{PolicySpec, Scenario};
use crate::types::NodeId;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TPoint {
    pub t_ms: f64,
    pub p_consistent: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KPoint {
    pub k: u32,
    pub p: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The paper's closed form for uniformly random quorums.
    pub p_closed_form: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeResult {
    pub trials: u64,
    pub n: u16,
    pub r: u16,
    pub w: u16,
    pub points: Vec<TPoint>,
    pub k_staleness: Vec<KPoint>,
}

/// Most trials one probe runs.
pub const MAX_TRIALS: u64 = 10_000_000;

/// Estimates t-visibility at each `t_ms` and k-staleness for k = 1..=k_max.
pub fn probe(s: &Scenario, t_ms: &[f64], trials: u64, k_max: u32) -> Result<ProbeResult, String> {
    let PolicySpec::Leaderless(l) = &s.policy else {
        return Err(
            "policy: the staleness probe models leaderless quorums (Leaderless(...))".into(),
        );
    };
    if trials == 0 || trials > MAX_TRIALS {
        return Err(format!("--trials must be between 1 and {MAX_TRIALS}"));
    }
    if let Some(bad) = t_ms.iter().find(|t| !t.is_finite() || **t < 0.0) {
        return Err(format!(
            "--t-ms: {bad} is not a non-negative number of milliseconds"
        ));
    }
    let (n, r, w) = (l.replication_factor, l.read_quorum, l.write_quorum);
    let mut net = Network::new(
        &s.network,
        s.nodes.count as usize,
        KINDS,
        SimRng::new(s.seed, stream::PROBE),
    );
    let mut rng = SimRng::new(s.seed, stream::PROBE + 1);
    let mut consistent = vec![0u64; t_ms.len()];
    let mut fresh_within = vec![0u64; k_max as usize];
    let mut draw = Draw::new(n as usize);
    for _ in 0..trials {
        draw.sample(&mut net, &mut rng);
        let commit_us = draw.commit_time(w as usize);
        let responders = draw.read_responders(r as usize).to_vec();
        for (i, t) in t_ms.iter().enumerate() {
            // Consistent if some responder had the write before the read request reached it.
            let read_start = commit_us + t * 1000.0;
            consistent[i] += responders
                .iter()
                .any(|&j| draw.w[j] <= read_start + draw.r[j]) as u64;
        }
        count_k_staleness(
            &mut draw,
            &mut net,
            &mut rng,
            &responders,
            w as usize,
            &mut fresh_within,
        );
    }
    let points = t_ms
        .iter()
        .zip(&consistent)
        .map(|(t, c)| {
            let (p, lo, hi) = wilson(*c, trials);
            TPoint {
                t_ms: *t,
                p_consistent: p,
                ci_low: lo,
                ci_high: hi,
            }
        })
        .collect();
    let k_staleness = (1..=k_max)
        .map(|k| {
            let (p, lo, hi) = wilson(fresh_within[k as usize - 1], trials);
            KPoint {
                k,
                p,
                ci_low: lo,
                ci_high: hi,
                p_closed_form: closed_form_k(n, r, w, k),
            }
        })
        .collect();
    Ok(ProbeResult {
        trials,
        n,
        r,
        w,
        points,
        k_staleness,
    })
}

/// One trial's four delays per replica, in microseconds.
struct Draw {
    w: Vec<f64>,
    a: Vec<f64>,
    r: Vec<f64>,
    s: Vec<f64>,
    order: Vec<usize>,
}

const WRITE_REQ: u8 = 0;
const WRITE_ACK: u8 = 1;
const READ_REQ: u8 = 2;
const READ_RESP: u8 = 3;
const COORDINATOR: NodeId = NodeId(0);

impl Draw {
    fn new(n: usize) -> Draw {
        Draw {
            w: vec![0.0; n],
            a: vec![0.0; n],
            r: vec![0.0; n],
            s: vec![0.0; n],
            order: (0..n).collect(),
        }
    }

    fn sample(&mut self, net: &mut Network, rng: &mut SimRng) {
        for i in 0..self.w.len() {
            let replica = NodeId(i as u16);
            self.w[i] = delay(net, rng, COORDINATOR, replica, WRITE_REQ);
            self.a[i] = delay(net, rng, replica, COORDINATOR, WRITE_ACK);
            self.r[i] = delay(net, rng, COORDINATOR, replica, READ_REQ);
            self.s[i] = delay(net, rng, replica, COORDINATOR, READ_RESP);
        }
    }

    /// Commit time: when the `w`-th acknowledgement reaches the coordinator.
    fn commit_time(&self, w: usize) -> f64 {
        let mut acks: Vec<f64> = (0..self.w.len()).map(|i| self.w[i] + self.a[i]).collect();
        acks.sort_by(f64::total_cmp);
        acks[w - 1]
    }

    /// Replicas in the order their read responses arrive (ties by replica index).
    fn read_responders(&mut self, r: usize) -> &[usize] {
        let (rr, s) = (&self.r, &self.s);
        self.order
            .sort_by(|x, y| (rr[*x] + s[*x]).total_cmp(&(rr[*y] + s[*y])).then(x.cmp(y)));
        &self.order[..r]
    }
}

fn delay(net: &mut Network, rng: &mut SimRng, from: NodeId, to: NodeId, kind: u8) -> f64 {
    net.params(from, to, kind).latency.sample_us(rng) as f64
}

/// Adds, for each k, whether a read's responders meet one of the last k write quorums.
fn count_k_staleness(
    d: &mut Draw,
    net: &mut Network,
    rng: &mut SimRng,
    responders: &[usize],
    w: usize,
    out: &mut [u64],
) {
    let mut hit = false;
    for slot in out.iter_mut() {
        // One more (older) write with its own, independently drawn quorum.
        d.sample(net, rng);
        let (wr, a) = (&d.w, &d.a);
        let mut by_ack: Vec<usize> = (0..wr.len()).collect();
        by_ack.sort_by(|x, y| (wr[*x] + a[*x]).total_cmp(&(wr[*y] + a[*y])).then(x.cmp(y)));
        hit |= by_ack[..w].iter().any(|q| responders.contains(q));
        *slot += hit as u64;
    }
}

/// 1 - (C(N-W, R) / C(N, R))^k: the chance a random read quorum meets one of k random write quorums.
pub fn closed_form_k(n: u16, r: u16, w: u16, k: u32) -> f64 {
    let miss = binomial(n.saturating_sub(w), r) / binomial(n, r);
    1.0 - libm::pow(miss, k as f64)
}

fn binomial(n: u16, k: u16) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Wilson score interval (95%) for `hits` successes in `n` trials: (estimate, low, high).
pub fn wilson(hits: u64, n: u64) -> (f64, f64, f64) {
    let z = 1.959_963_984_540_054;
    let (h, n) = (hits as f64, n as f64);
    let p = h / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * libm::sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom;
    (p, (centre - half).max(0.0), (centre + half).min(1.0))
}
