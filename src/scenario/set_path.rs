//! `Set("policy.read_quorum", 1)`: change one scenario field by its dotted path.
//!
//! The scenario is turned into a JSON value, the leaf at the path is replaced, and the result is
//! read back into a `Scenario` (and then validated like a file). Path segments name struct fields;
//! an enum's variant level is stepped through automatically (`policy.read_quorum` reaches
//! `policy.Leaderless.read_quorum`), and numbers index lists (`faults.0.at_ms`). Values are
//! scalars: numbers, booleans, and strings (which also name unit enum variants such as `"Sync"`).

use super::schema::{Scenario, SetValue};
use serde_json::Value;

/// Fields that cannot change during a run.
const FIXED: &[&str] = &["seed", "nodes.count", "title", "description", "expect"];

pub fn apply(scenario: &Scenario, path: &str, value: &SetValue) -> Result<Scenario, String> {
    if let Some(f) = FIXED
        .iter()
        .find(|f| path == **f || path.starts_with(&format!("{f}.")))
    {
        return Err(format!("`{f}` cannot be changed during a run"));
    }
    let mut root = serde_json::to_value(scenario).map_err(|e| e.to_string())?;
    let leaf = find(&mut root, path)?;
    *leaf = convert(leaf, value)?;
    serde_json::from_value(root).map_err(|e| format!("{path}: {e}"))
}

fn find<'a>(root: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let mut cur = root;
    for seg in path.split('.') {
        cur = step(cur, seg).ok_or_else(|| format!("no field `{seg}` in path `{path}`"))?;
    }
    if cur.is_object() || cur.is_array() {
        return Err(format!(
            "`{path}` is not a single value; name one of its fields"
        ));
    }
    Ok(cur)
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
