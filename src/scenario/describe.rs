//! ron's error messages, retold in the scenario's own terms: Rust type names become the section
//! of the file they stand for, unknown names come with the valid ones (and the closest one), and
//! "expected X" names X in words a scenario author uses.

use super::limits;

/// A message for one ron error (the caller adds `file:line:col`).
pub fn describe(code: &ron::Error) -> String {
    use ron::Error as E;
    match code {
        E::NoSuchStructField {
            expected,
            found,
            outer,
        } => format!(
            "unknown field `{found}`{}{}; valid fields: {}",
            in_section(outer.as_deref()),
            did_you_mean(found, expected),
            expected.join(", ")
        ),
        E::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => format!(
            "unknown variant `{found}`{}{}; expected one of: {}",
            outer
                .as_deref()
                .map(|o| format!(" for {}", section(o)))
                .unwrap_or_default(),
            did_you_mean(found, expected),
            expected.join(", ")
        ),
        E::MissingStructField { field, outer } => {
            format!("missing field `{field}`{}", in_section(outer.as_deref()))
        }
        E::DuplicateStructField { field, outer } => {
            format!(
                "field `{field}` is given twice{}",
                in_section(outer.as_deref())
            )
        }
        E::ExceededRecursionLimit => {
            format!("nesting deeper than {} levels", limits::MAX_NESTING)
        }
        E::Message(m) => message(m),
        other => expected(other).unwrap_or_else(|| lowercase_first(&other.to_string())),
    }
}

/// ron's "Expected ..." errors in scenario terms; `None` for the ones whose own text is clear.
fn expected(code: &ron::Error) -> Option<String> {
    use ron::Error as E;
    let text = match code {
        E::Eof => "unexpected end of file (a bracket or quote left open?)",
        E::ExpectedComma => "expected `,` between entries, or a closing bracket",
        E::ExpectedFloat => "expected a number",
        E::ExpectedInteger => "expected a whole number",
        E::IntegerOutOfBounds => "number out of range for this field",
        E::ExpectedBoolean => "expected `true` or `false`",
        E::ExpectedString => "expected a string in double quotes",
        E::ExpectedStringEnd => "string not closed: missing `\"`",
        E::ExpectedIdentifier => "expected a name (a field or variant name)",
        E::ExpectedStructLike => "expected `(`",
        E::ExpectedNamedStructLike(name) => {
            return Some(format!("expected `(` to start {}", section(name)));
        }
        E::ExpectedStructName(name) => return Some(format!("expected {}", section(name))),
        E::ExpectedDifferentStructName { expected, found } => {
            return Some(format!("expected {}, found `{found}`", section(expected)));
        }
        E::ExpectedStructLikeEnd | E::ExpectedOptionEnd => "expected `)`",
        E::ExpectedArray => "expected a list `[...]`",
        E::ExpectedArrayEnd => "expected `]` closing the list",
        E::ExpectedMap => "expected a map `{...}`",
        E::ExpectedMapColon => "expected `:` between a map key and its value",
        E::ExpectedMapEnd => "expected `}` closing the map",
        E::ExpectedOption => "expected a value, `Some(...)` or `None`",
        E::ExpectedUnit => "expected `()`",
        E::TrailingCharacters => "unexpected text after the end of the scenario",
        E::UnexpectedChar(c) => return Some(format!("unexpected character {c:?}")),
        _ => return None,
    };
    Some(text.to_string())
}

/// serde's free-text messages: the untagged value types get a description of what they accept.
fn message(m: &str) -> String {
    if m.contains("untagged enum SetValue") {
        "a `Set` value must be a number, `true`/`false`, or a string".into()
    } else if m.contains("untagged enum Expectation") {
        "an `expect` value must be a number, `true`/`false`, or a string like \">0\" or \"<=0.5\""
            .into()
    } else {
        lowercase_first(m)
    }
}

/// Where in the file a Rust type lives, for messages (`NodesSpec` is the `nodes` section).
pub fn section(type_name: &str) -> String {
    let known = match type_name {
        "Scenario" => "the scenario",
        "NodesSpec" => "`nodes`",
        "ClockSpec" => "a `nodes.clocks` entry",
        "NetworkSpec" => "`network`",
        "LinkSpec" => "a `network.kinds` entry",
        "LinkOverride" => "a `network.links` entry",
        "Dist" => "a latency distribution",
        "PolicySpec" => "`policy`",
        "LeaderlessSpec" => "`policy: Leaderless(...)`",
        "SingleLeaderSpec" => "`policy: SingleLeader(...)`",
        "Replication" => "`policy.replication`",
        "ReadFrom" => "`policy.read_from`",
        "LogSpec" => "`policy.log`",
        "Cleanup" => "`policy.log.cleanup`",
        "WorkloadSpec" => "`workload`",
        "LoadSpec" => "`workload.load`",
        "KeySpec" => "`workload.keys`",
        "TargetSpec" => "`workload.target`",
        "Mix" => "`workload.mix`",
        "SessionSpec" => "`workload.session`",
        "Consistency" => "a consistency level (`One`, `Two`, `Three`, `Quorum`, `All`, `Any`)",
        "ConflictResolution" => "`policy.conflict`",
        "SiblingMerge" => "`policy.sibling_merge`",
        "RunSpec" => "`run`",
        "ScheduledFault" => "a `faults` entry",
        "FaultSpec" => "a fault",
        "RandomFault" => "a `random_faults` entry",
        "RandomFaultKind" => "a random fault's `kind`",
        // Struct variants (`Exponential(mean_ms: ..)`, `CutLink(a: .., b: ..)`) keep their name.
        other => return format!("`{other}`"),
    };
    known.to_string()
}

fn in_section(outer: Option<&str>) -> String {
    outer
        .map(|o| format!(" in {}", section(o)))
        .unwrap_or_default()
}

/// ` (did you mean `x`?)` when one valid name is close to what was written.
pub fn did_you_mean<S: AsRef<str>>(found: &str, valid: &[S]) -> String {
    closest(found, valid)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// The valid name nearest to `found`, if it is near enough to be a likely typo.
pub fn closest<'a, S: AsRef<str>>(found: &str, valid: &'a [S]) -> Option<&'a str> {
    let found_lower = found.to_lowercase();
    valid
        .iter()
        .map(|v| {
            (
                edit_distance(&found_lower, &v.as_ref().to_lowercase()),
                v.as_ref(),
            )
        })
        .filter(|(d, v)| *d > 0 || *v != found)
        .min_by_key(|(d, _)| *d)
        .filter(|(d, v)| *d <= (v.chars().count() / 3).max(1))
        .map(|(_, v)| v)
}

/// Edit distance counting an insertion, deletion, substitution or swap of neighbours as one
/// edit (optimal string alignment). Names are short; long input is cut to keep this cheap.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    // d[i][j]: distance between the first i chars of a and the first j chars of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let fields = ["replication_factor", "read_quorum", "write_quorum"];
        assert_eq!(closest("read_qourum", &fields), Some("read_quorum"));
        assert_eq!(closest("Read_Quorum", &fields), Some("read_quorum"));
        assert_eq!(closest("colour", &fields), None);
        assert_eq!(did_you_mean("xyz", &fields), "");
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("cuont", "count"), 1);
    }
}
