//! JSON Lines export of the trace (`--trace FILE`), one object per event. Documented in README.md.

use super::{FaultEvent, Stamped, TraceEvent};
use crate::types::NodeId;
use serde_json::{Value, json};

fn names(v: &[NodeId]) -> Vec<String> {
    v.iter().map(|n| n.to_string()).collect()
}

/// One trace event as JSON; `kinds` are the policy's message kind names.
pub fn to_json(s: &Stamped, kinds: &[&str]) -> Value {
    let kind = |k: &u8| kinds.get(*k as usize).copied().unwrap_or("?");
    let t = s.at.0;
    match &s.event {
        TraceEvent::Send {
            from,
            to,
            kind: k,
            msg,
            arrive,
        } => {
            json!({"t_us": t, "ev": "send", "from": from.to_string(), "to": to.to_string(), "kind": kind(k), "msg": msg, "arrive_us": arrive.0})
        }
        TraceEvent::Deliver {
            from,
            to,
            kind: k,
            msg,
            sent,
        } => {
            json!({"t_us": t, "ev": "deliver", "from": from.to_string(), "to": to.to_string(), "kind": kind(k), "msg": msg, "sent_us": sent.0})
        }
        TraceEvent::Drop {
            from,
            to,
            kind: k,
            msg,
            sent,
            reason,
        } => {
            json!({"t_us": t, "ev": "drop", "from": from.to_string(), "to": to.to_string(), "kind": kind(k), "msg": msg, "sent_us": sent.0, "reason": reason.as_str()})
        }
        TraceEvent::Timer { node } => json!({"t_us": t, "ev": "timer", "node": node.to_string()}),
        TraceEvent::Invoke {
            op,
            process,
            node,
            f,
            key,
            value,
        } => {
            json!({"t_us": t, "ev": "invoke", "op": op, "process": process, "node": node.to_string(), "f": f.as_str(), "key": key, "value": value.map(|v| v.0)})
        }
        TraceEvent::Complete {
            op,
            process,
            outcome,
            value,
            reason,
        } => {
            json!({"t_us": t, "ev": "complete", "op": op, "process": process, "type": outcome.as_str(), "value": value.map(|v| v.0), "reason": reason.map(|r| r.as_str())})
        }
        TraceEvent::Redirect { op, to } => {
            json!({"t_us": t, "ev": "redirect", "op": op, "to": to.to_string()})
        }
        TraceEvent::Fault(f) => fault_json(t, f),
        TraceEvent::Note { node, text } => {
            json!({"t_us": t, "ev": "note", "node": node.to_string(), "text": text})
        }
    }
}

fn fault_json(t: u64, f: &FaultEvent) -> Value {
    let (name, detail) = match f {
        FaultEvent::Crash(n) => ("crash", json!({"node": n.to_string()})),
        FaultEvent::WipeDisk(n) => ("wipe_disk", json!({"node": n.to_string()})),
        FaultEvent::Restart(n) => ("restart", json!({"node": n.to_string()})),
        FaultEvent::Pause(n) => ("pause", json!({"node": n.to_string()})),
        FaultEvent::Resume(n) => ("resume", json!({"node": n.to_string()})),
        FaultEvent::Block { cut, from, to } => (
            "block",
            json!({"cut": cut, "from": names(from), "to": names(to)}),
        ),
        FaultEvent::Unblock { cut } => ("unblock", json!({"cut": cut})),
        FaultEvent::HealAll => ("heal_all", json!({})),
        FaultEvent::ClockSkew { node, skew_us } => (
            "clock_skew",
            json!({"node": node.to_string(), "skew_us": skew_us}),
        ),
        FaultEvent::ClockDrift { node, drift_ppm } => (
            "clock_drift",
            json!({"node": node.to_string(), "drift_ppm": drift_ppm}),
        ),
        FaultEvent::LossBurst { loss_ppm } => {
            ("loss_burst", json!({"loss": *loss_ppm as f64 / 1e6}))
        }
        FaultEvent::LossBurstEnd => ("loss_burst_end", json!({})),
        FaultEvent::Set { path, value } => ("set", json!({"path": path, "value": value})),
    };
    let mut v = json!({"t_us": t, "ev": "fault", "fault": name});
    if let (Value::Object(m), Value::Object(d)) = (&mut v, detail) {
        m.extend(d);
    }
    v
}
