//! An explanation as plain-language sentences, for the "Why?" panel and `capsim` output.

use super::{Answer, CarrierMsg, Explanation, Fate, Whereabouts};
use crate::types::{NodeId, SimTime, ValueId};

/// Seconds with milliseconds: "3.214 s".
pub fn secs(t: SimTime) -> String {
    format!("{:.3} s", t.as_ms() / 1000.0)
}

/// A read's result or an update's value: "v12", or "nothing" for a delete / an absent key.
pub fn value(v: Option<ValueId>) -> String {
    v.map_or_else(|| "nothing".into(), |v| v.to_string())
}

/// What a missed update is called: "v15", or "the delete".
fn update(v: Option<ValueId>) -> String {
    v.map_or_else(|| "the delete".into(), |v| v.to_string())
}

fn nodes(list: &[NodeId]) -> String {
    if list.is_empty() {
        return "no replica".into();
    }
    list.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The headline, then the missed update, who answered, and where the update was on each replica.
pub fn sentences(e: &Explanation) -> Vec<String> {
    let mut out = vec![headline(e), missed(e), answered(e)];
    for w in &e.replicas {
        out.push(whereabouts(e, w));
    }
    out
}

/// "Read of k17 at 3.214 s by client 4 via n1 returned v12 (written 2.100 s)."
pub fn headline(e: &Explanation) -> String {
    let r = &e.read;
    let via = r
        .coordinator
        .map_or_else(String::new, |n| format!(" via {n}"));
    let written = match (r.returned, r.returned_written) {
        (Some(_), Some(t)) => format!(" (written {})", secs(t)),
        (None, _) => " (the key was empty or deleted)".into(),
        _ => String::new(),
    };
    format!(
        "Read of k{} at {} by client {}{via} returned {}{written}.",
        r.key,
        secs(r.invoked),
        r.process,
        value(r.returned)
    )
}

/// "It missed v15, acknowledged at 3.050 s (written via n3; held by n3,n4 then)."
fn missed(e: &Explanation) -> String {
    let m = &e.missed;
    let via = m
        .coordinator
        .map_or_else(String::new, |n| format!("via {n}; "));
    let resurrected = if m.value.is_none() && e.read.returned.is_some() {
        " The read brought a deleted value back (resurrected)."
    } else {
        ""
    };
    format!(
        "It missed {}, acknowledged at {} ({via}held by {} then), before the read began.{resurrected}",
        update(m.value),
        secs(m.acked),
        nodes(&m.held_at_ack)
    )
}

/// "R=1, W=1 of N=3: only n1 answered, holding v12."
fn answered(e: &Explanation) -> String {
    let rule = e
        .rule
        .as_ref()
        .map_or_else(String::new, |r| format!("{r}: "));
    let each: Vec<String> = e
        .answered
        .iter()
        .map(|a: &Answer| format!("{} (held {})", a.node, value(a.held)))
        .collect();
    match each.len() {
        0 => format!("{rule}no replica's answer was seen."),
        1 => format!("{rule}only {} answered.", each[0]),
        _ => format!("{rule}{} answered.", each.join(", ")),
    }
}

/// Where the missed update was on one replica when the read looked.
pub fn whereabouts(e: &Explanation, w: &Whereabouts) -> String {
    let v = update(e.missed.value);
    let answered = e.answered.iter().any(|a| a.node == w.node);
    let role = if answered {
        "answered"
    } else {
        "did not answer the read"
    };
    let head = format!("{} ({role}):", w.node);
    if let Some(t) = w.applied {
        return format!("{head} had applied {v} at {}.", secs(t));
    }
    let mut parts = Vec::new();
    match w.carriers.last() {
        Some(c) => parts.push(carrier(c, &v, w.carriers.len(), e.kept_on_receipt)),
        // A coordinator writes its own copy without a message.
        None if e.missed.coordinator == Some(w.node) => parts.push(match e.kept_on_receipt {
            Some(why) => format!("it coordinated {v}, but {why}"),
            None => format!("it coordinated {v} but had not applied it to its own copy"),
        }),
        None => parts.push(format!("no message carrying {v} had been sent to it yet")),
    }
    if !w.cut_from.is_empty() {
        parts.push(format!(
            "the link from {} is cut (partition)",
            nodes(&w.cut_from)
        ));
    }
    if w.crashed {
        parts.push("it was crashed".into());
    }
    if w.paused {
        parts.push("it was paused".into());
    }
    format!(
        "{head} had not applied {v} by {} — {}.",
        secs(w.at),
        parts.join("; ")
    )
}

/// The latest carrier's story: "the message n3→n1 (#812, sent 3.002 s) was dropped at 3.010 s
/// (partition)".
fn carrier(c: &CarrierMsg, v: &str, count: usize, kept: Option<&str>) -> String {
    let more = if count > 1 {
        format!(" (the last of {count} carrying {v})")
    } else {
        format!(" carrying {v}")
    };
    let what = format!(
        "the message {}→{} #{}{more}, sent {},",
        c.from,
        c.to,
        c.id,
        secs(c.sent)
    );
    match (c.fate, kept) {
        (Fate::Delivered { at }, Some(why)) => format!("{what} arrived at {}, but {why}", secs(at)),
        _ => format!("{what} {}", fate(c.fate)),
    }
}

/// What became of a message: "was dropped at 3.010 s (partition)".
pub fn fate(f: Fate) -> String {
    match f {
        Fate::InFlight { arrives: Some(t) } => format!("was still in flight (arrives {})", secs(t)),
        Fate::InFlight { arrives: None } => "was still in flight".into(),
        Fate::Delivered { at } => {
            format!(
                "arrived at {} but was not applied yet (e.g. not committed)",
                secs(at)
            )
        }
        Fate::Dropped { at, reason } => {
            format!("was dropped at {} ({})", secs(at), reason.as_str())
        }
    }
}
