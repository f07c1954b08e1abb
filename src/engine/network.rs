//! The lossy network: per link, per direction and per message kind latency, loss and duplication,
//! plus partitions (two-way and one-way) and cut links.

use super::dist::Sampler;
use super::rng::SimRng;
use crate::scenario::schema::{LinkSpec, NetworkSpec};
use crate::trace::DropReason;
use crate::types::{NodeId, SimTime};

/// Settings for one (from, to, kind) combination.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    pub latency: Sampler,
    pub loss: f64,
    pub duplicate: f64,
}

/// What happens to one sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Dropped(DropReason),
    /// Delivered at this time, and (if duplicated) once more at the second time.
    Arrives(SimTime, Option<SimTime>),
}

#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    kinds: usize,
    /// Distinct parameter sets; `table[(from * nodes + to) * kinds + kind]` indexes into it.
    params: Vec<LinkParams>,
    table: Vec<u16>,
    /// `blocked[from * nodes + to]` counts the active cuts covering that direction.
    blocked: Vec<u16>,
    cuts: Vec<Cut>,
    next_cut: u32,
    /// A loss burst raises every link's loss to at least this probability.
    loss_floor: f64,
    /// Per parameter set: how many more messages pass before the next one is lost. Losses are
    /// independent per message, so the gaps between them are geometric; drawing a gap once per
    /// loss instead of a coin per message takes a random draw off nearly every send. Redrawn
    /// whenever the loss probability changes (exact, since the geometric is memoryless).
    loss_gap: Vec<u64>,
    rng: SimRng,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cut {
    id: u32,
    pairs: Vec<(NodeId, NodeId)>,
}

impl Network {
    /// Builds the lookup tables. `kind_names` are the policy's message kinds; the spec's names have
    /// been validated against them.
    pub fn new(spec: &NetworkSpec, nodes: usize, kind_names: &[&str], rng: SimRng) -> Network {
        let kinds = kind_names.len().max(1);
        let mut net = Network {
            nodes,
            kinds,
            params: Vec::new(),
            table: vec![0; nodes * nodes * kinds],
            blocked: vec![0; nodes * nodes],
            cuts: Vec::new(),
            next_cut: 1,
            loss_floor: 0.0,
            loss_gap: Vec::new(),
            rng,
        };
        net.configure(spec, kind_names);
        net
    }

    /// (Re)builds the parameter tables from the spec, keeping partitions and the RNG stream.
    pub fn configure(&mut self, spec: &NetworkSpec, kind_names: &[&str]) {
        let mut specs: Vec<LinkSpec> = Vec::new();
        self.params.clear();
        for from in 0..self.nodes {
            for to in 0..self.nodes {
                for (k, name) in kind_names.iter().enumerate() {
                    let s = resolve(spec, from, to, name);
                    let idx = match specs.iter().position(|x| *x == s) {
                        Some(i) => i,
                        None => {
                            specs.push(s.clone());
                            self.params.push(compile(&s, spec));
                            specs.len() - 1
                        }
                    };
                    self.table[(from * self.nodes + to) * self.kinds + k] = idx as u16;
                }
            }
        }
        self.redraw_loss_gaps();
    }

    fn redraw_loss_gaps(&mut self) {
        self.loss_gap.clear();
        for i in 0..self.params.len() {
            let loss = self.params[i].loss.max(self.loss_floor);
            let gap = loss_gap(&mut self.rng, loss);
            self.loss_gap.push(gap);
        }
    }

    pub fn params(&self, from: NodeId, to: NodeId, kind: u8) -> &LinkParams {
        let i = (from.index() * self.nodes + to.index()) * self.kinds + kind as usize;
        &self.params[self.table[i] as usize]
    }

    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked[from.index() * self.nodes + to.index()] > 0
    }

    /// Decides a message's fate at send time: blocked, lost, or its arrival time(s).
    #[inline(always)]
    pub fn send(&mut self, from: NodeId, to: NodeId, kind: u8, now: SimTime) -> Fate {
        if self.is_blocked(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        let i = (from.index() * self.nodes + to.index()) * self.kinds + kind as usize;
        let set = self.table[i] as usize;
        let p = &self.params[set];
        let gap = &mut self.loss_gap[set];
        if *gap == 0 {
            *gap = loss_gap(&mut self.rng, p.loss.max(self.loss_floor));
            return Fate::Dropped(DropReason::Loss);
        }
        *gap -= 1;
        let first = now.saturating_add(p.latency.sample_us(&mut self.rng));
        let dup = if self.rng.chance(p.duplicate) {
            Some(now.saturating_add(p.latency.sample_us(&mut self.rng)))
        } else {
            None
        };
        Fate::Arrives(first, dup)
    }

    /// Blocks every direction in `pairs`; returns the cut's id for healing it alone.
    pub fn block(&mut self, pairs: Vec<(NodeId, NodeId)>) -> u32 {
        for (a, b) in &pairs {
            self.blocked[a.index() * self.nodes + b.index()] += 1;
        }
        let id = self.next_cut;
        self.next_cut += 1;
        self.cuts.push(Cut { id, pairs });
        id
    }

    pub fn unblock(&mut self, id: u32) {
        if let Some(pos) = self.cuts.iter().position(|c| c.id == id) {
            let cut = self.cuts.remove(pos);
            for (a, b) in cut.pairs {
                self.blocked[a.index() * self.nodes + b.index()] -= 1;
            }
        }
    }

    pub fn heal_all(&mut self) {
        self.cuts.clear();
        self.blocked.iter_mut().for_each(|b| *b = 0);
    }

    pub fn active_cuts(&self) -> usize {
        self.cuts.len()
    }

    /// The active cuts with their ids and blocked (from, to) directions, oldest first.
    pub fn cuts(&self) -> impl Iterator<Item = (u32, &[(NodeId, NodeId)])> {
        self.cuts.iter().map(|c| (c.id, c.pairs.as_slice()))
    }

    pub fn set_loss_floor(&mut self, loss: f64) {
        self.loss_floor = loss;
        self.redraw_loss_gaps();
    }

    pub fn loss_floor(&self) -> f64 {
        self.loss_floor
    }
}

/// Messages that pass before the next loss when each is lost with probability `loss`: geometric,
/// `P(k) = (1 - loss)^k * loss`, by inversion (libm, so the same everywhere).
fn loss_gap(rng: &mut SimRng, loss: f64) -> u64 {
    if loss <= 0.0 {
        return u64::MAX;
    }
    if loss >= 1.0 {
        return 0;
    }
    // ln(u) / ln(1 - loss) for u in (0, 1]: non-negative; `as` saturates a huge one.
    (libm::log(rng.unit_open0()) / libm::log1p(-loss)) as u64
}

/// Every ordered pair (a, b) with a in `from` and b in `to`, a != b.
pub fn pairs_between(from: &[NodeId], to: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let mut out = Vec::new();
    for &a in from {
        for &b in to {
            if a != b {
                out.push((a, b));
            }
        }
    }
    out
}

/// The effective settings for one direction and kind: defaults, then the kind's settings, then
/// matching link overrides in file order.
fn resolve(spec: &NetworkSpec, from: usize, to: usize, kind: &str) -> LinkSpec {
    let mut s = LinkSpec {
        latency: Some(spec.latency.clone()),
        loss: Some(spec.loss),
        duplicate: Some(spec.duplicate),
    };
    if let Some(k) = spec.kinds.get(kind) {
        merge(&mut s, k);
    }
    for o in &spec.links {
        let kind_ok = o.kind.as_deref().is_none_or(|k| k == kind);
        let forward = matches_node(&o.from, from) && matches_node(&o.to, to);
        let backward = o.both_ways && matches_node(&o.from, to) && matches_node(&o.to, from);
        if kind_ok && (forward || backward) {
            merge(&mut s, &o.spec());
        }
    }
    s
}

fn merge(into: &mut LinkSpec, over: &LinkSpec) {
    if over.latency.is_some() {
        into.latency = over.latency.clone();
    }
    if over.loss.is_some() {
        into.loss = over.loss;
    }
    if over.duplicate.is_some() {
        into.duplicate = over.duplicate;
    }
}

fn matches_node(pattern: &str, node: usize) -> bool {
    pattern == "*" || NodeId::parse(pattern).is_some_and(|n| n.index() == node)
}

fn compile(s: &LinkSpec, defaults: &NetworkSpec) -> LinkParams {
    LinkParams {
        latency: Sampler::new(s.latency.as_ref().unwrap_or(&defaults.latency)),
        loss: s.loss.unwrap_or(defaults.loss),
        duplicate: s.duplicate.unwrap_or(defaults.duplicate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Geometric gaps give independent losses: the fraction of lost messages and of lost
    /// consecutive pairs match p and p², within five standard errors.
    #[test]
    fn loss_gaps_make_independent_losses() {
        let mut rng = SimRng::new(3, 9);
        let (p, n) = (0.3, 100_000);
        let mut lost = Vec::with_capacity(n);
        while lost.len() < n {
            let gap = loss_gap(&mut rng, p);
            lost.extend(std::iter::repeat_n(false, gap as usize));
            lost.push(true);
        }
        lost.truncate(n);
        let check = |hits: usize, q: f64| {
            let f = hits as f64 / n as f64;
            let se = (q * (1.0 - q) / n as f64).sqrt();
            assert!((f - q).abs() < 5.0 * se, "{f} vs {q}");
        };
        check(lost.iter().filter(|l| **l).count(), p);
        check(lost.windows(2).filter(|w| w[0] && w[1]).count(), p * p);
        assert_eq!(loss_gap(&mut rng, 0.0), u64::MAX);
        assert_eq!(loss_gap(&mut rng, 1.0), 0);
    }
}
