//! docs/scenario-format.md stays true: its complete example loads, runs and meets its own
//! `expect` block, and every RON snippet in it loads (as a scenario or inside one).

const DOC: &str = include_str!("../docs/scenario-format.md");

/// The text of every ```ron block, with the line it starts on.
fn ron_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut current, line.trim()) {
            (None, "```ron") => current = Some((i + 2, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn example() -> String {
    let start = DOC.find("<!-- example:begin -->").expect("begin marker");
    let end = DOC.find("<!-- example:end -->").expect("end marker");
    let blocks = ron_blocks(&DOC[start..end]);
    assert_eq!(blocks.len(), 1, "one ron block between the markers");
    blocks[0].1.clone()
}

#[test]
fn the_complete_example_loads_runs_and_meets_its_expectations() {
    let scenario = capsim::scenario::from_str("docs/scenario-format.md", &example())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!scenario.expect.is_empty());
    assert!(!scenario.faults.is_empty() && !scenario.random_faults.is_empty());
    let report = capsim::sim::run(&scenario);
    let outcomes = capsim::check::expect::evaluate(&scenario.expect, &report);
    for o in &outcomes {
        assert!(
            o.passed,
            "expected {} {}, got {}",
            o.field, o.expected, o.actual
        );
    }
}

#[test]
fn every_snippet_loads() {
    let blocks = ron_blocks(DOC);
    assert!(blocks.len() >= 8, "found only {} ron blocks", blocks.len());
    // Snippets are whole scenarios, top-level fields, or `network` fields; some name five nodes.
    let wrappers = [
        "{}",
        "({})",
        "(nodes: (count: 5), {})",
        "(nodes: (count: 5), network: ({}))",
    ];
    for (line, body) in blocks {
        let loads = wrappers.iter().any(|w| {
            let text = w.replace("{}", &body);
            capsim::scenario::from_str("snippet.ron", &text).is_ok()
        });
        assert!(
            loads,
            "the snippet at docs/scenario-format.md:{line} does not load:\n{body}"
        );
    }
}
