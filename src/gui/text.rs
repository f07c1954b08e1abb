//! Plain-language descriptions of faults, values and trace events for the event log.

use crate::engine::Fault;
use crate::trace::{FaultEvent, Stamped, TraceEvent};
use crate::types::{NodeId, OpKind, ValueId};
use std::collections::BTreeMap;

pub fn value(v: Option<ValueId>) -> String {
    v.map_or_else(|| "nothing".into(), |v| v.to_string())
}

fn group(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn fault(f: &Fault) -> String {
    match f {
        Fault::Crash(n) => format!("crash {n}"),
        Fault::WipeDisk(n) => format!("wipe {n}'s disk"),
        Fault::Restart(n) => format!("restart {n}"),
        Fault::Pause(n) => format!("pause {n}"),
        Fault::Resume(n) => format!("resume {n}"),
        Fault::Partition(groups) => {
            let g: Vec<String> = groups.iter().map(|g| format!("{{{}}}", group(g))).collect();
            format!("partition {} | rest", g.join(" | "))
        }
        Fault::PartitionOneWay { from, to } => {
            format!("one-way partition {} ↛ {}", group(from), group(to))
        }
        Fault::CutLink { a, b, one_way } => {
            if *one_way {
                format!("cut link {a} → {b}")
            } else {
                format!("cut link {a} ↔ {b}")
            }
        }
        Fault::Unblock(id) => format!("heal cut #{id}"),
        Fault::HealAll => "heal every partition".into(),
        Fault::ClockSkew { node, skew_us } => {
            format!("{node} clock skew {:+.1} ms", *skew_us as f64 / 1000.0)
        }
        Fault::ClockDrift { node, drift_ppm } => format!("{node} clock drift {drift_ppm} ppm"),
        Fault::LossBurst(p) => format!("loss burst {:.0}%", p * 100.0),
        Fault::LossBurstEnd => "loss burst over".into(),
        Fault::Set { path, value } => format!("set {path} = {value:?}"),
    }
}

fn fault_event(f: &FaultEvent, ops: &OpIndex) -> String {
    if let FaultEvent::Block { cut, .. } = f
        && let Some(what) = (*cut as usize).checked_sub(1).and_then(|i| ops.cuts.get(i))
    {
        return format!("cut #{cut}: {what}");
    }
    match f {
        FaultEvent::Crash(n) => format!("{n} crashed"),
        FaultEvent::WipeDisk(n) => format!("{n}'s disk was wiped"),
        FaultEvent::Restart(n) => format!("{n} restarted"),
        FaultEvent::Pause(n) => format!("{n} paused"),
        FaultEvent::Resume(n) => format!("{n} resumed"),
        FaultEvent::Block { cut, from, to } => {
            format!(
                "cut #{cut}: {} can no longer reach {}",
                group(from),
                group(to)
            )
        }
        FaultEvent::Unblock { cut } => format!("cut #{cut} healed"),
        FaultEvent::HealAll => "network healed".into(),
        FaultEvent::ClockSkew { node, skew_us } => {
            format!("{node} clock skew now {:+.1} ms", *skew_us as f64 / 1000.0)
        }
        FaultEvent::ClockDrift { node, drift_ppm } => {
            format!("{node} clock drift now {drift_ppm} ppm")
        }
        FaultEvent::LossBurst { loss_ppm } => {
            format!(
                "loss burst: {:.1}% of messages lost",
                *loss_ppm as f64 / 1e4
            )
        }
        FaultEvent::LossBurstEnd => "loss burst over".into(),
        FaultEvent::Set { path, value } => format!("parameter {path} set to {value}"),
    }
}

/// How a log line should stand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Good,
    Bad,
    Stale,
    Fault,
    Note,
}

/// What the log needs beyond one event: what each operation was (completions only name the op
/// id), and which fault made each cut (block events only list the nodes involved).
#[derive(Default)]
pub struct OpIndex {
    ops: BTreeMap<u64, (OpKind, u32, Option<ValueId>)>,
    /// `cuts[k - 1]` describes cut #k: the engine numbers cuts 1, 2, ... in the order the
    /// faults that block links are applied.
    cuts: Vec<String>,
}

impl OpIndex {
    pub fn build(events: &[Stamped]) -> OpIndex {
        let mut ops = BTreeMap::new();
        for e in events {
            if let TraceEvent::Invoke {
                op, f, key, value, ..
            } = &e.event
            {
                ops.insert(*op, (*f, *key, *value));
            }
        }
        OpIndex {
            ops,
            cuts: Vec::new(),
        }
    }

    /// Names each cut after the fault that made it (`faults`: every fault applied, in order).
    pub fn with_faults(mut self, faults: &[(crate::types::SimTime, Fault)]) -> OpIndex {
        self.cuts = faults
            .iter()
            .filter(|(_, f)| {
                matches!(
                    f,
                    Fault::Partition(_) | Fault::PartitionOneWay { .. } | Fault::CutLink { .. }
                )
            })
            .map(|(_, f)| fault(f))
            .collect();
        self
    }
}

/// One event as a sentence, with its tone. `stale` says whether an op id was a stale read.
pub fn event(
    e: &TraceEvent,
    kinds: &[&str],
    ops: &OpIndex,
    stale: impl Fn(u64) -> bool,
) -> (String, Tone) {
    let kind = |k: &u8| kinds.get(*k as usize).copied().unwrap_or("?");
    match e {
        TraceEvent::Send {
            from, to, kind: k, ..
        } => (format!("{from} → {to} {} sent", kind(k)), Tone::Plain),
        TraceEvent::Deliver {
            from, to, kind: k, ..
        } => (format!("{from} → {to} {} delivered", kind(k)), Tone::Plain),
        TraceEvent::Drop {
            from,
            to,
            kind: k,
            reason,
            ..
        } => (
            format!("{from} → {to} {} dropped ({})", kind(k), reason.as_str()),
            Tone::Bad,
        ),
        TraceEvent::Timer { node } => (format!("{node} timer fired"), Tone::Plain),
        TraceEvent::Invoke {
            process,
            node,
            f,
            key,
            value,
            ..
        } => {
            let what = match f {
                OpKind::Write => format!("write k{key} = {}", self::value(*value)),
                other => format!("{} k{key}", other.as_str()),
            };
            (format!("client {process} asks {node}: {what}"), Tone::Plain)
        }
        TraceEvent::Complete { .. } => completion(e, ops, stale),
        TraceEvent::Redirect { op, to } => (format!("op {op} redirected to {to}"), Tone::Plain),
        TraceEvent::Fault(f) => (fault_event(f, ops), Tone::Fault),
        TraceEvent::Note { node, text } => (note(*node, text), Tone::Note),
    }
}

/// A note as the log shows it: prefixed with its node unless the text already names the node in
/// its first words, as most do ("n1 became leader", "n1: event 7 appended", "controller n4: ...").
fn note(node: NodeId, text: &str) -> String {
    let name = node.to_string();
    let names_node = text
        .split_whitespace()
        .take(2)
        .any(|word| word.trim_end_matches(':') == name);
    if names_node {
        text.to_string()
    } else {
        format!("{node}: {text}")
    }
}

fn completion(e: &TraceEvent, ops: &OpIndex, stale: impl Fn(u64) -> bool) -> (String, Tone) {
    let TraceEvent::Complete {
        op,
        process,
        outcome,
        value,
        reason,
    } = e
    else {
        return (String::new(), Tone::Plain);
    };
    use crate::check::history::EventType;
    let what = match ops.ops.get(op) {
        Some((f, key, _)) => format!("{} k{key}", f.as_str()),
        None => format!("op {op}"),
    };
    let why = reason
        .map(|r| format!(" ({})", r.as_str()))
        .unwrap_or_default();
    match outcome {
        EventType::Ok => {
            let is_read = matches!(ops.ops.get(op), Some((OpKind::Read, _, _)));
            if is_read && stale(*op) {
                let s = format!("client {process} {what} → {} (stale!)", self::value(*value));
                (s, Tone::Stale)
            } else if is_read {
                (
                    format!("client {process} {what} → {}", self::value(*value)),
                    Tone::Good,
                )
            } else {
                (format!("client {process} {what} ok"), Tone::Good)
            }
        }
        EventType::Fail => (format!("client {process} {what} failed{why}"), Tone::Bad),
        _ => (
            format!("client {process} {what} unknown outcome{why}"),
            Tone::Bad,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SimTime;

    #[test]
    fn a_note_names_its_node_once() {
        let shown = |node: u16, text: &str| {
            let e = TraceEvent::Note {
                node: NodeId(node),
                text: text.to_string(),
            };
            event(&e, &[], &OpIndex::build(&[]), |_| false).0
        };
        let appended = crate::policy::Note::Log(crate::check::event_log::LogNote::Appended {
            offset: 288,
            key: 9,
            value: None,
            event: "withdrew",
        });
        assert_eq!(
            shown(0, &appended.describe(NodeId(0))),
            "n1: event 288 appended: 9 withdrew"
        );
        assert_eq!(
            shown(1, "n2 became leader for term 3"),
            "n2 became leader for term 3"
        );
        assert_eq!(
            shown(3, "controller n4: the ISR of epoch 2 is now {n1,n4}"),
            "controller n4: the ISR of epoch 2 is now {n1,n4}"
        );
        // About another node (n10 is not n1): the log says who noted it.
        assert_eq!(
            shown(0, "n4 needs entries from 7 on"),
            "n1: n4 needs entries from 7 on"
        );
        assert_eq!(shown(0, "n10 left"), "n1: n10 left");
    }

    #[test]
    fn cuts_are_named_after_the_faults_that_made_them() {
        let faults = vec![
            (
                SimTime(0),
                Fault::Partition(vec![vec![NodeId(0), NodeId(1)]]),
            ),
            (SimTime(5), Fault::Crash(NodeId(4))),
            (
                SimTime(9),
                Fault::CutLink {
                    a: NodeId(2),
                    b: NodeId(3),
                    one_way: true,
                },
            ),
        ];
        let ops = OpIndex::build(&[]).with_faults(&faults);
        let block = |cut| {
            TraceEvent::Fault(FaultEvent::Block {
                cut,
                from: vec![NodeId(2)],
                to: vec![NodeId(3)],
            })
        };
        let text = |cut| event(&block(cut), &[], &ops, |_| false).0;
        assert_eq!(text(1), "cut #1: partition {n1,n2} | rest");
        assert_eq!(text(2), "cut #2: cut link n3 → n4");
        assert_eq!(
            text(3),
            "cut #3: n3 can no longer reach n4",
            "unknown cut: the nodes"
        );
    }
}
