//! `expect` blocks: a scenario's claims about its own results, checked by `capsim check`.

use super::report::{Linearizable, Report, VERDICT_FIELDS, expectable_fields, field};
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

/// A parsed expectation on a verdict field (`linearizable`): equal (or not) to one of its words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictClaim {
    pub equal: bool,
    pub word: &'static str,
}

/// Parses `true`, `false`, `"unknown"`, `"not_checked"`, optionally prefixed by `==` or `!=`.
pub fn parse_verdict(e: &Expectation) -> Result<VerdictClaim, String> {
    let text = match e {
        Expectation::Bool(b) => b.to_string(),
        Expectation::Text(t) => t.trim().to_string(),
        Expectation::Number(n) => return Err(format!("`{n}`: expected {}", verdict_words())),
    };
    let (equal, rest) = match (text.strip_prefix("=="), text.strip_prefix("!=")) {
        (Some(rest), _) => (true, rest),
        (_, Some(rest)) => (false, rest),
        _ => (true, text.as_str()),
    };
    let word = Linearizable::WORDS
        .into_iter()
        .find(|w| *w == rest.trim())
        .ok_or_else(|| format!("`{text}`: expected {}", verdict_words()))?;
    Ok(VerdictClaim { equal, word })
}

fn verdict_words() -> String {
    let words: Vec<String> = Linearizable::WORDS
        .iter()
        .map(|w| format!("`{w}`"))
        .collect();
    format!("{}, optionally after `==` or `!=`", words.join(", "))
}

fn is_verdict(field: &str) -> bool {
    VERDICT_FIELDS.contains(&field)
}

/// Parses an expectation for `field`, whichever kind of field it is.
fn parse_for(field: &str, e: &Expectation) -> Result<(), String> {
    if is_verdict(field) {
        parse_verdict(e).map(|_| ())
    } else {
        parse(e).map(|_| ())
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
        parse_for(k, e).map_err(|m| ScenarioError::invalid(file, format!("expect.{k}"), m))?;
    }
    Ok(())
}

/// One checked expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub field: String,
    pub expected: String,
    /// The report's value as text (`missing` if the report has no such field).
    pub actual: String,
    pub passed: bool,
}

pub fn evaluate(expect: &BTreeMap<String, Expectation>, report: &Report) -> Vec<Outcome> {
    let json = report.to_json();
    expect
        .iter()
        .map(|(k, e)| {
            let value = field(&json, k);
            let passed = if is_verdict(k) {
                let actual = value.map(as_word);
                parse_verdict(e).is_ok_and(|c| (actual.as_deref() == Some(c.word)) == c.equal)
            } else {
                let actual = value.and_then(as_number).unwrap_or(f64::NAN);
                parse(e).is_ok_and(|c| c.holds(actual))
            };
            let expected = match parse_verdict(e) {
                Ok(c) if is_verdict(k) => {
                    format!("{} {}", if c.equal { "==" } else { "!=" }, c.word)
                }
                _ => describe(e),
            };
            Outcome {
                field: k.clone(),
                expected,
                actual: value.map_or_else(|| "missing".to_string(), as_word),
                passed,
            }
        })
        .collect()
}

/// A JSON value as the word or number `expect` compares with (strings without quotes).
fn as_word(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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

    fn report_with(l: Linearizable) -> Report {
        Report {
            linearizable: l,
            ..Report::default()
        }
    }

    fn passes(field: &str, e: Expectation, r: &Report) -> bool {
        let mut m = BTreeMap::new();
        m.insert(field.to_string(), e);
        validate_keys("x.ron", &m).expect("valid expectation");
        evaluate(&m, r)[0].passed
    }

    #[test]
    fn linearizable_compares_as_a_bool_or_a_word() {
        let yes = report_with(Linearizable::Yes);
        let no = report_with(Linearizable::No);
        let unknown = report_with(Linearizable::Unknown);
        let t = |s: &str| Expectation::Text(s.into());
        assert!(passes("linearizable", Expectation::Bool(true), &yes));
        assert!(!passes("linearizable", Expectation::Bool(true), &no));
        assert!(!passes("linearizable", Expectation::Bool(true), &unknown));
        assert!(passes("linearizable", Expectation::Bool(false), &no));
        assert!(passes("linearizable", t("unknown"), &unknown));
        assert!(passes("linearizable", t("!= false"), &unknown));
        assert!(passes("linearizable", t("!=false"), &yes));
        assert!(!passes("linearizable", t("!=false"), &no));
        assert!(passes(
            "linearizable",
            t("==not_checked"),
            &Report::default()
        ));
        assert!(passes("linearizable", t("true"), &yes));
        let mut m = BTreeMap::new();
        m.insert("linearizable".to_string(), t(">0"));
        let e = validate_keys("x.ron", &m).unwrap_err().to_string();
        assert!(
            e.contains("expect.linearizable") && e.contains("not_checked"),
            "{e}"
        );
        m.insert("linearizable".to_string(), Expectation::Number(1.0));
        assert!(validate_keys("x.ron", &m).is_err());
    }

    #[test]
    fn nested_violation_counts_are_expectable() {
        let mut r = Report::default();
        r.violations.stale_read = 3;
        assert!(passes(
            "violations.stale_read",
            Expectation::Text(">0".into()),
            &r
        ));
        assert!(!passes(
            "violations.lost_write",
            Expectation::Text(">0".into()),
            &r
        ));
        let mut m = BTreeMap::new();
        m.insert(
            "violations.stale_read".to_string(),
            Expectation::Number(0.0),
        );
        assert_eq!(evaluate(&m, &r)[0].actual, "3");
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
