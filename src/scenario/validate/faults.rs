//! Checks of the fault schedule and of random faults.

use super::{R, V, num, short};
use crate::scenario::limits::*;
use crate::scenario::schema::*;
use crate::scenario::set_path;

/// The `faults` list: each entry on its own, then every `Set` in the order the engine applies
/// them, each against the scenario as the earlier ones left it.
pub(super) fn schedule(v: &V, s: &Scenario) -> R {
    v.check(
        s.faults.len() <= MAX_FAULTS,
        "faults",
        format!("{} entries; the limit is {MAX_FAULTS}", s.faults.len()),
    )?;
    for (i, f) in s.faults.iter().enumerate() {
        entry(v, &format!("faults[{i}]"), f, s.run.duration_ms)?;
    }
    sets_in_order(v, s)
}

fn entry(v: &V, p: &str, f: &ScheduledFault, end_ms: Option<f64>) -> R {
    v.ms(&format!("{p}.at_ms"), f.at_ms, MAX_DURATION_MS)?;
    if let Some(end) = end_ms {
        v.check(
            f.at_ms <= end,
            format!("{p}.at_ms"),
            format!(
                "{} ms is after the end of the run (run.duration_ms is {} ms)",
                num(f.at_ms),
                num(end)
            ),
        )?;
    }
    if let Some(d) = f.for_ms {
        v.positive_ms(&format!("{p}.for_ms"), d, MAX_DURATION_MS)?;
        let lasting = !matches!(
            f.fault,
            FaultSpec::Set(..) | FaultSpec::HealAll | FaultSpec::HealCut(_)
        );
        v.check(
            lasting,
            format!("{p}.for_ms"),
            "this fault cannot be undone after a while; schedule the change back as its own entry",
        )?;
    }
    fault(v, &format!("{p}.fault"), &f.fault)
}

fn fault(v: &V, p: &str, f: &FaultSpec) -> R {
    match f {
        FaultSpec::Crash(n)
        | FaultSpec::WipeDisk(n)
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
            let from_ids = v.distinct_nodes(&format!("{p}.from"), from)?;
            let to_ids = v.distinct_nodes(&format!("{p}.to"), to)?;
            match to_ids.iter().position(|n| from_ids.contains(n)) {
                Some(i) => Err(v.err(
                    format!("{p}.to[{i}]"),
                    format!("`{}` is on both sides", to[i]),
                )),
                None => Ok(()),
            }
        }
        FaultSpec::CutLink { a, b, .. } => {
            let (a, b) = (v.node(&format!("{p}.a"), a)?, v.node(&format!("{p}.b"), b)?);
            v.check(a != b, format!("{p}.b"), "a link joins two different nodes")
        }
        FaultSpec::HealAll => Ok(()),
        FaultSpec::HealCut(cut) => v.check(*cut >= 1, p, "cuts are numbered from 1"),
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
                drift_ppm.is_finite() && drift_ppm.abs() <= MAX_DRIFT_PPM,
                format!("{p}.drift_ppm"),
                format!("must be within ±{MAX_DRIFT_PPM} ppm"),
            )
        }
        FaultSpec::Set(path, _) => v.check(
            !path.is_empty() && path.chars().count() <= MAX_SET_PATH,
            p,
            format!("a `Set` path has 1 to {MAX_SET_PATH} characters"),
        ),
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
        for (ni, n) in g.iter().enumerate() {
            let at = format!("{p}[{gi}][{ni}]");
            let id = v.node(&at, n)?;
            v.check(
                !seen.contains(&id),
                at,
                format!("node `{n}` is in two groups"),
            )?;
            seen.push(id);
        }
    }
    Ok(())
}

/// Applies the `Set`s the way the engine will (by time, ties in file order), so a change that
/// is only wrong after an earlier one (raise R after lowering N) is caught before the run.
fn sets_in_order(v: &V, s: &Scenario) -> R {
    let mut sets: Vec<(usize, f64, &str, &SetValue)> = s
        .faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match &f.fault {
            FaultSpec::Set(path, value) => Some((i, f.at_ms, path.as_str(), value)),
            _ => None,
        })
        .collect();
    v.check(
        sets.len() <= MAX_SETS,
        "faults",
        format!("{} `Set` entries; the limit is {MAX_SETS}", sets.len()),
    )?;
    if sets.is_empty() {
        return Ok(());
    }
    sets.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut current = set_path::without_faults(s);
    for (i, _, path, value) in sets {
        current = set_path::apply(&current, path, value).map_err(|m| {
            v.err(
                format!("faults[{i}].fault"),
                format!("Set(\"{}\", {value}): {m}", short(path)),
            )
        })?;
    }
    Ok(())
}

pub(super) fn random(v: &V, rf: &[RandomFault]) -> R {
    v.check(
        rf.len() <= MAX_RANDOM_FAULTS,
        "random_faults",
        format!("{} entries; the limit is {MAX_RANDOM_FAULTS}", rf.len()),
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
            format!("{} is smaller than min_ms {}", num(f.max_ms), num(f.min_ms)),
        )?;
        match f.kind {
            RandomFaultKind::LossBurst(l) => v.probability(&format!("{p}.kind"), l)?,
            RandomFaultKind::ClockSkew(ms) => v.ms(&format!("{p}.kind"), ms, MAX_DURATION_MS)?,
            RandomFaultKind::Partition | RandomFaultKind::CutLink => v.check(
                v.nodes >= 2,
                format!("{p}.kind"),
                "needs at least two nodes",
            )?,
            RandomFaultKind::Crash | RandomFaultKind::Pause => {}
        }
    }
    Ok(())
}
