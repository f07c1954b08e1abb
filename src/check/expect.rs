//! `expect` blocks: a scenario's claims about its own results, checked by `capsim check`.

use super::report::{Report, expectable_fields, field};
use crate::scenario::ScenarioError;
use crate::scenario::schema::Expectation;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed expectation: compare the field with `Cmp` against a number (booleans are 0/1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Claim {
    pub cmp: Cmp,
    pub value: f64,
}

pub fn parse(e: &Expectation) -> Result<Claim, String> {
    match e {
        Expectation::Bool(b) => Ok(Claim {
            cmp: Cmp::Eq,
            value: if *b { 1.0 } else { 0.0 },
        }),
        Expectation::Number(n) => Ok(Claim {
            cmp: Cmp::Eq,
            value: *n,
        }),
        Expectation::Text(t) => parse_text(t.trim()),
    }
}

fn parse_text(t: &str) -> Result<Claim, String> {
    let ops = [
        ("==", Cmp::Eq),
        ("!=", Cmp::Ne),
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ];
    let (cmp, rest) = ops
        .iter()
        .find_map(|(s, c)| t.strip_prefix(s).map(|r| (*c, r)))
        .ok_or_else(|| format!("`{t}` should look like \">0\", \"<=0.5\" or \"==3\""))?;
    let value: f64 = match rest.trim() {
        "true" => 1.0,
        "false" => 0.0,
        n => n
            .parse()
            .map_err(|_| format!("`{t}`: `{n}` is not a number"))?,
    };
    Ok(Claim { cmp, value })
}

impl Claim {
    pub fn holds(&self, actual: f64) -> bool {
        match self.cmp {
            Cmp::Eq => actual == self.value,
            Cmp::Ne => actual != self.value,
            Cmp::Lt => actual < self.value,
            Cmp::Le => actual <= self.value,
            Cmp::Gt => actual > self.value,
            Cmp::Ge => actual >= self.value,
        }
    }
}

/// Checks that every key names a report field and every value parses.
pub fn validate_keys(
    file: &str,
    expect: &BTreeMap<String, Expectation>,
) -> Result<(), ScenarioError> {
    if expect.len() > crate::scenario::limits::MAX_EXPECT {
        return Err(ScenarioError::invalid(file, "expect", "too many entries"));
    }
    let valid = expectable_fields();
    for (k, e) in expect {
        if !valid.contains(k) {
            return Err(ScenarioError::invalid(
                file,
                format!("expect.{k}"),
                format!("unknown result field; valid ones: {}", valid.join(", ")),
            ));
        }
        parse(e).map_err(|m| ScenarioError::invalid(file, format!("expect.{k}"), m))?;
    }
    Ok(())
}

/// One checked expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub field: String,
    pub expected: String,
    pub actual: f64,
    pub passed: bool,
}

pub fn evaluate(expect: &BTreeMap<String, Expectation>, report: &Report) -> Vec<Outcome> {
    let json = report.to_json();
    expect
        .iter()
        .map(|(k, e)| {
            let actual = field(&json, k).and_then(as_number).unwrap_or(f64::NAN);
            let passed = parse(e).is_ok_and(|c| c.holds(actual));
            Outcome {
                field: k.clone(),
                expected: describe(e),
                actual,
                passed,
            }
        })
        .collect()
}

fn as_number(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_bool().map(|b| if b { 1.0 } else { 0.0 }))
}

fn describe(e: &Expectation) -> String {
    match e {
        Expectation::Bool(b) => format!("== {b}"),
        Expectation::Number(n) => format!("== {n}"),
        Expectation::Text(t) => t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_comparison() {
        let c = |t: &str| parse(&Expectation::Text(t.into())).unwrap();
        assert_eq!(
            c(">0"),
            Claim {
                cmp: Cmp::Gt,
                value: 0.0
            }
        );
        assert_eq!(
            c(">=0.99"),
            Claim {
                cmp: Cmp::Ge,
                value: 0.99
            }
        );
        assert_eq!(
            c("<= 5"),
            Claim {
                cmp: Cmp::Le,
                value: 5.0
            }
        );
        assert_eq!(
            c("!=3"),
            Claim {
                cmp: Cmp::Ne,
                value: 3.0
            }
        );
        assert!(parse(&Expectation::Text("about 3".into())).is_err());
        assert!(parse(&Expectation::Text(">x".into())).is_err());
    }

    #[test]
    fn claims_compare_correctly() {
        let gt0 = Claim {
            cmp: Cmp::Gt,
            value: 0.0,
        };
        assert!(gt0.holds(1.0) && !gt0.holds(0.0));
        assert!(
            !Claim {
                cmp: Cmp::Eq,
                value: 0.0
            }
            .holds(f64::NAN)
        );
    }

    #[test]
    fn unknown_key_lists_valid_ones() {
        let mut m = BTreeMap::new();
        m.insert("stale_raeds".to_string(), Expectation::Number(0.0));
        let e = validate_keys("x.ron", &m).unwrap_err().to_string();
        assert!(
            e.contains("expect.stale_raeds") && e.contains("stale_reads"),
            "{e}"
        );
    }
}
