//! Property tests of the scenario loader: mutated versions of the shipped scenarios, deeply
//! nested input and random text never make it panic, and every error it returns says where:
//! `file:line:col` inside the text, or `file: <field path>`.

use capsim::scenario::{ScenarioError, from_bytes, from_str};
use proptest::prelude::*;

const SHIPPED: &[(&str, &str)] = &[
    (
        "quorum-partition.ron",
        include_str!("../scenarios/quorum-partition.ron"),
    ),
    (
        "quorum-partition-one.ron",
        include_str!("../scenarios/quorum-partition-one.ron"),
    ),
    (
        "bench-quorum.ron",
        include_str!("../scenarios/bench-quorum.ron"),
    ),
];

const TOP_LEVEL: &[&str] = &[
    "title",
    "description",
    "seed",
    "nodes",
    "network",
    "policy",
    "workload",
    "faults",
    "random_faults",
    "run",
    "expect",
];

/// Checks that an error names the file and either a position inside the text or a field path.
fn assert_locates(file: &str, text: &[u8], e: &ScenarioError) {
    let shown = e.to_string();
    match e {
        ScenarioError::Syntax {
            line, col, message, ..
        } => {
            assert!(
                shown.starts_with(&format!("{file}:{line}:{col}: ")),
                "{shown}"
            );
            assert!(!message.is_empty(), "{shown}");
            let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            assert!(
                *line >= 1 && *line <= lines.len(),
                "{shown}: line outside the text"
            );
            let width = String::from_utf8_lossy(lines[line - 1]).chars().count();
            assert!(
                *col >= 1 && *col <= width + 1,
                "{shown}: column outside line {line}"
            );
        }
        ScenarioError::Invalid { path, message, .. } => {
            assert!(shown.starts_with(&format!("{file}: {path}: ")), "{shown}");
            assert!(!message.is_empty(), "{shown}");
            let first = path.split(['.', '[']).next().unwrap_or_default();
            assert!(TOP_LEVEL.contains(&first), "{shown}: not a field path");
            // Map keys that are not plain names are quoted: `expect["a b"]`.
            let names = path.split("[\"").next().unwrap_or_default();
            assert!(
                names
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c)),
                "{shown}: odd characters in the path"
            );
        }
        other => panic!("the loader returned a file-level error for small text: {other}"),
    }
}

fn check(file: &str, text: &[u8]) {
    if let Err(e) = from_bytes(file, text) {
        assert_locates(file, text, &e);
    }
}

/// Numbers that probe the edges of every field's range.
const ODD_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "1.5",
    "-0.0",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "65535",
    "65536",
    "4294967296",
    "18446744073709551616",
    "0.000001",
    "3",
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipByte {
        at: usize,
        byte: u8,
    },
    Truncate {
        at: usize,
    },
    DuplicateLine {
        line: usize,
    },
    DeleteLine {
        line: usize,
    },
    SwapLines {
        a: usize,
        b: usize,
    },
    SwapNumber {
        nth: usize,
        with: usize,
    },
    Nest {
        at: usize,
        opener: usize,
        depth: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::FlipByte { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), 0..ODD_NUMBERS.len())
            .prop_map(|(nth, with)| Mutation::SwapNumber { nth, with }),
        (
            any::<usize>(),
            0..4usize,
            prop_oneof![1..80usize, Just(10_000)]
        )
            .prop_map(|(at, opener, depth)| Mutation::Nest { at, opener, depth }),
    ]
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let len = text.len().max(1);
    match *m {
        Mutation::FlipByte { at, byte } => {
            if let Some(b) = text.get_mut(at % len) {
                *b = byte;
            }
        }
        Mutation::Truncate { at } => text.truncate(at % len),
        Mutation::DuplicateLine { line } | Mutation::DeleteLine { line } => {
            let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let i = line % lines.len();
            if matches!(m, Mutation::DeleteLine { .. }) {
                lines.remove(i);
            } else {
                lines.insert(i, lines[i].clone());
            }
            *text = lines.join(&b'\n');
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            lines.swap(a % n, b % n);
            *text = lines.join(&b'\n');
        }
        Mutation::SwapNumber { nth, with } => swap_number(text, nth, ODD_NUMBERS[with]),
        Mutation::Nest { at, opener, depth } => {
            let opener = ["[", "(", "{", "Some("][opener];
            let at = at % (text.len() + 1);
            text.splice(at..at, opener.repeat(depth).into_bytes());
        }
    }
}

/// Replaces the `nth` number in the text (counting modulo how many there are).
fn swap_number(text: &mut Vec<u8>, nth: usize, with: &str) {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let starts = text[i].is_ascii_digit() && (i == 0 || !text[i - 1].is_ascii_alphanumeric());
        if starts {
            let end = (i..text.len())
                .find(|&j| !(text[j].is_ascii_alphanumeric() || text[j] == b'.'))
                .unwrap_or(text.len());
            spans.push(i..end);
            i = end;
        } else {
            i += 1;
        }
    }
    if !spans.is_empty() {
        let span = spans[nth % spans.len()].clone();
        text.splice(span, with.bytes());
    }
}

/// Random text made mostly of the format's own punctuation and words.
fn ron_like_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\"".to_string()),
        Just("\n".to_string()),
        Just("Some(".to_string()),
        Just("/*".to_string()),
        Just("//".to_string()),
        prop::sample::select(TOP_LEVEL).prop_map(str::to_string),
        prop::sample::select(ODD_NUMBERS).prop_map(str::to_string),
        "[a-zA-Z_]{1,8}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_shipped_scenarios_never_panic_and_errors_say_where(
        which in 0..SHIPPED.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (name, original) = SHIPPED[which];
        let mut text = original.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut text, m);
        }
        check(name, &text);
    }

    #[test]
    fn random_text_never_panics_and_errors_say_where(text in ron_like_text()) {
        check("random.ron", text.as_bytes());
    }

    #[test]
    fn random_bytes_never_panic_and_errors_say_where(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check("bytes.ron", &bytes);
    }
}

#[test]
fn shipped_scenarios_load() {
    for (name, text) in SHIPPED {
        if let Err(e) = from_str(name, text) {
            panic!("{e}");
        }
    }
}

#[test]
fn deep_nesting_everywhere_is_an_error_not_a_crash() {
    let (name, text) = SHIPPED[0];
    // Every position that starts a line, with every kind of bracket, 10_000 deep.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    for at in starts {
        for opener in ["[", "(", "{", "Some("] {
            let mut nested = text.as_bytes().to_vec();
            nested.splice(at..at, opener.repeat(10_000).into_bytes());
            let e = from_bytes(name, &nested).expect_err("10_000 brackets cannot be valid");
            assert_locates(name, &nested, &e);
        }
    }
}

#[test]
fn a_saved_scenario_loads_back_unchanged() {
    for (name, text) in SHIPPED {
        let scenario = from_str(name, text).unwrap();
        let saved = capsim::scenario::load::to_string(&scenario);
        let again = from_str("saved.ron", &saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
        assert_eq!(again, scenario);
    }
}
