//! `Set("policy.read_quorum", 1)`: change one scenario field by its dotted path.
//!
//! The scenario is turned into a JSON value, the leaf at the path is replaced, and the result is
//! read back into a `Scenario` and checked like a file's settings; a change that would make the
//! scenario invalid is refused, so whoever applies it (engine, GUI) never adopts a bad one.
//! Path segments name struct fields; an enum's variant level is stepped through automatically
//! (`policy.read_quorum` reaches `policy.Leaderless.read_quorum`), and numbers index lists
//! (`network.links.0.loss`). Values are scalars: numbers, booleans, and strings (which also name
//! unit enum variants such as `"Sync"`).

use super::describe::did_you_mean;
use super::limits::MAX_SET_PATH;
use super::schema::{Scenario, SetValue};
use serde_json::Value;

/// Fields that cannot change during a run, and why.
const FIXED: &[(&str, &str)] = &[
    ("seed", "the random streams are seeded when the run starts"),
    (
        "nodes",
        "the cluster is built when the run starts (use the ClockSkew / ClockDrift faults for clocks)",
    ),
    ("title", "it is not a simulation parameter"),
    ("description", "it is not a simulation parameter"),
    ("expect", "expectations are checked against the whole run"),
    ("faults", "the schedule is fixed when the run starts"),
    (
        "run.duration_ms",
        "the end of the run is scheduled when it starts",
    ),
    (
        "workload.load.clients",
        "clients are created when the run starts",
    ),
    (
        "workload.client_nodes",
        "clients are placed when the run starts",
    ),
];

/// The scenario with `path` set to `value`, checked; or why that cannot be.
pub fn apply(scenario: &Scenario, path: &str, value: &SetValue) -> Result<Scenario, String> {
    if path.is_empty() || path.chars().count() > MAX_SET_PATH {
        return Err(format!("a path has 1 to {MAX_SET_PATH} characters"));
    }
    if let Some((f, why)) = FIXED
        .iter()
        .find(|(f, _)| path == *f || path.starts_with(&format!("{f}.")))
    {
        return Err(format!("`{f}` cannot be changed during a run: {why}"));
    }
    // The fault schedule is fixed (above), so it stays out of the round trip: with thousands
    // of faults, copying it for every `Set` would make checking a schedule quadratic.
    let mut root = serde_json::to_value(without_faults(scenario)).map_err(|e| e.to_string())?;
    let leaf = find(&mut root, path)?;
    *leaf = convert(leaf, value)?;
    let mut next: Scenario = serde_json::from_value(root).map_err(|e| e.to_string())?;
    super::validate::settings("", &next).map_err(|e| match e {
        super::ScenarioError::Invalid { path, message, .. } => {
            format!("would make {path} invalid: {message}")
        }
        other => other.to_string(),
    })?;
    next.faults = scenario.faults.clone();
    Ok(next)
}

/// A copy of the scenario without its fault schedule.
pub fn without_faults(s: &Scenario) -> Scenario {
    Scenario {
        title: s.title.clone(),
        description: s.description.clone(),
        seed: s.seed,
        nodes: s.nodes.clone(),
        network: s.network.clone(),
        policy: s.policy.clone(),
        workload: s.workload.clone(),
        faults: Vec::new(),
        random_faults: s.random_faults.clone(),
        run: s.run.clone(),
        expect: s.expect.clone(),
    }
}

fn find<'a>(root: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let mut cur = root;
    let mut walked = Vec::new();
    for seg in path.split('.') {
        let here = names_at(cur);
        cur = match step(cur, seg) {
            Some(next) => next,
            None => return Err(no_such_field(seg, &walked, &here)),
        };
        walked.push(seg);
    }
    if cur.is_object() || cur.is_array() {
        let inner = names_at(cur);
        return Err(if inner.is_empty() {
            format!("`{path}` is not a single value")
        } else {
            format!(
                "`{path}` is not a single value; name one of its fields: {}",
                inner.join(", ")
            )
        });
    }
    Ok(cur)
}

fn no_such_field(seg: &str, walked: &[&str], here: &[String]) -> String {
    let place = if walked.is_empty() {
        "the scenario".to_string()
    } else {
        format!("`{}`", walked.join("."))
    };
    let seg = super::validate::short(seg);
    if here.is_empty() {
        format!("no field `{seg}` in {place}")
    } else {
        format!(
            "no field `{seg}` in {place}{}; its fields: {}",
            did_you_mean(&seg, here),
            here.join(", ")
        )
    }
}

/// Field names reachable from `v` (through an enum variant level), or list indices.
fn names_at(v: &Value) -> Vec<String> {
    match v {
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((_, inner @ Value::Object(_))) => names_at(inner),
            Some((k, _)) => vec![k.clone()],
            None => Vec::new(),
        },
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) if !items.is_empty() => vec![format!("0..{}", items.len() - 1)],
        _ => Vec::new(),
    }
}

fn step<'a>(v: &'a mut Value, seg: &str) -> Option<&'a mut Value> {
    match v {
        Value::Object(map) => {
            if map.contains_key(seg) {
                return map.get_mut(seg);
            }
            // An externally tagged enum variant: `{"Leaderless": {...}}`; look inside it.
            if map.len() != 1 {
                return None;
            }
            step(map.values_mut().next()?, seg)
        }
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    }
}

/// The new leaf, in the type the old one had.
fn convert(old: &Value, value: &SetValue) -> Result<Value, String> {
    let json = match value {
        SetValue::Bool(b) => Value::Bool(*b),
        SetValue::Int(i) => Value::from(*i),
        SetValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or("not a finite number")?,
        SetValue::Text(s) => Value::String(s.clone()),
    };
    let fits = matches!(
        (old, &json),
        (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::String(_), Value::String(_))
            | (Value::Null, _)
    );
    if fits {
        Ok(json)
    } else {
        Err(format!("expected a value like {old}, got {json}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::schema::PolicySpec;

    #[test]
    fn steps_through_the_variant_level() {
        let s = Scenario::default();
        let next = apply(&s, "policy.read_quorum", &SetValue::Int(1)).unwrap();
        match next.policy {
            PolicySpec::Leaderless(l) => assert_eq!(l.read_quorum, 1),
            other => panic!("policy changed kind: {other:?}"),
        }
    }

    #[test]
    fn refuses_a_change_that_breaks_the_scenario() {
        let s = Scenario::default();
        let e = apply(&s, "policy.read_quorum", &SetValue::Int(4)).unwrap_err();
        assert!(e.contains("policy.read_quorum"), "{e}");
        assert!(e.contains("replication_factor"), "{e}");
    }

    #[test]
    fn names_the_fields_that_exist() {
        let s = Scenario::default();
        let e = apply(&s, "policy.read_qorum", &SetValue::Int(1)).unwrap_err();
        assert!(e.contains("did you mean `read_quorum`"), "{e}");
        let e = apply(&s, "seed", &SetValue::Int(1)).unwrap_err();
        assert!(e.contains("cannot be changed"), "{e}");
    }
}
