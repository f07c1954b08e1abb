//! Issue 8's teaching features driven through egui_kittest: the space-time diagram, presenter
//! mode and the Export window. Each test checks what the feature produced (labels on screen,
//! the context's zoom, files on disk) against something derived independently.
#![cfg(feature = "gui")]

mod gui_common;

use capsim::engine::Options;
use capsim::gui::app::{Tab, View};
use capsim::gui::spacetime::{
    DEFAULT_SPAN_MS, DIAGRAM_LABEL, Diagram, Fate, Geometry, SpanKind, State, build, build_from,
    window,
};
use capsim::gui::{CapsimApp, Prefs};
use capsim::sim::Sim;
use capsim::trace::TraceEvent;
use capsim::types::SimTime;
use eframe::egui;
use eframe::egui::Pos2;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use gui_common::{
    SIZE, WAIT, click, click_at, gpu_renderer, harness, harness_sized, lesson, save_screenshot,
    screenshot_dir, seek, temp_dir,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn spacetime_prefs() -> Prefs {
    Prefs {
        view: View::SpaceTime,
        tab: Tab::Plots, // no event log: its lines name nodes too
        ..Prefs::default()
    }
}

fn label_containing(h: &Harness<'_, CapsimApp>, part: &str) -> String {
    // A label's text is its accesskit value; a button's is its label.
    let node = h.get_by_label_contains(part).accesskit_node();
    node.value().or_else(|| node.label()).unwrap_or_default()
}

/// Messages whose send time is in `[from, until]`, from an independent run of the lesson: each
/// is either put on the wire (`Send`) or lost at once (a `Drop` at its send time).
fn messages_sent_between(from: SimTime, until: SimTime) -> usize {
    let options = Options {
        record_trace: true,
        ..Options::default()
    };
    let mut sim = Sim::new(&lesson(), &options);
    sim.run_until(until);
    let mut ids = BTreeSet::new();
    for e in sim.drain_trace() {
        let (msg, sent) = match e.event {
            TraceEvent::Send { msg, .. } => (msg, e.at),
            TraceEvent::Drop { msg, sent, .. } => (msg, sent),
            _ => continue,
        };
        if sent >= from && sent <= until {
            ids.insert(msg);
        }
    }
    ids.len()
}

#[test]
fn spacetime_view_has_one_lane_per_node_and_one_arrow_per_message_sent_in_its_window() {
    let mut h = harness(spacetime_prefs());
    for t in [1000.0, 2300.0] {
        seek(&mut h, t);
        let nodes = lesson().nodes.count as usize;
        for i in 1..=nodes {
            // Exactly one lane label per node.
            h.get_by_role_and_label(Role::Label, &format!("n{i}"));
        }
        let extra = format!("n{}", nodes + 1);
        assert!(h.query_by_role_and_label(Role::Label, &extra).is_none());
        // The caption: "800.0–1000 ms: 123 messages sent".
        let caption = label_containing(&h, "messages sent");
        let count: usize = caption
            .split(": ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {caption:?}"));
        let now = SimTime::from_ms(t);
        let from = SimTime(now.0 - SimTime::from_ms(DEFAULT_SPAN_MS).0);
        let expected = messages_sent_between(from, now);
        assert!(expected > 0, "the lesson sends messages before {t} ms");
        assert_eq!(count, expected, "at {t} ms: {caption}");
    }
}

#[test]
fn zoom_buttons_change_the_window_and_the_diagram_follows_the_time_line() {
    let mut h = harness(spacetime_prefs());
    seek(&mut h, 1500.0);
    let caption = label_containing(&h, "messages sent");
    let start = |span: f64, now: f64| format!("{}–{now} ms", now - span);
    assert!(
        caption.starts_with(&start(DEFAULT_SPAN_MS, 1500.0)),
        "{caption}"
    );
    click(&mut h, "−");
    let caption = label_containing(&h, "messages sent");
    let span = 2.0 * DEFAULT_SPAN_MS;
    assert!(
        caption.starts_with(&start(span, 1500.0)),
        "zoomed out: {caption}"
    );
    seek(&mut h, 600.0);
    let caption = label_containing(&h, "messages sent");
    assert!(caption.starts_with(&start(span, 600.0)), "{caption}");
}

#[test]
fn presenter_mode_hides_editing_raises_zoom_and_shows_speaker_notes() {
    let mut h = harness(Prefs {
        tab: Tab::Policy,
        ..Prefs::default()
    });
    let policy_tab =
        |h: &Harness<'_, CapsimApp>| h.query_by_role_and_label(Role::Button, "Policy").is_some();
    assert!(policy_tab(&h));
    click(&mut h, "Present");
    h.run_steps(2);
    assert!(!policy_tab(&h), "the Policy tab is hidden");
    assert!(h.ctx.zoom_factor() >= 1.6, "zoom {}", h.ctx.zoom_factor());
    assert_eq!(h.state().prefs.zoom, 1.0, "presenter zoom is not saved");
    // The notes start folded to a button, so they hide nothing of the side panel.
    assert!(h.query_by_label_contains("next fault").is_none(), "folded");
    click(&mut h, "▲ Speaker notes");
    h.run_steps(3);
    let notes = label_containing(&h, "At 2 s the network splits");
    assert!(notes.starts_with("Five nodes"), "the description: {notes}");
    let next = label_containing(&h, "next fault");
    assert!(
        next.contains("at 2000 ms") && next.contains("for 3000 ms"),
        "{next}"
    );
    // High contrast: a pure background.
    let bg = h.ctx.style_of(h.ctx.theme()).visuals.panel_fill;
    assert!(bg == egui::Color32::BLACK || bg == egui::Color32::WHITE);
    h.key_press(egui::Key::F5);
    h.run_steps(2);
    assert!(policy_tab(&h), "F5 leaves presenter mode");
    assert_eq!(h.ctx.zoom_factor(), 1.0);
    assert!(h.query_by_label_contains("next fault").is_none());
}

/// Starting in presenter mode when egui's restored memory already holds presenter zoom (the
/// last session ended presenting): the user's zoom set on the first frame must not win over
/// presenter mode's, and leaving presenter mode restores the user's zoom, not the stale one.
#[test]
fn presenter_zoom_wins_over_a_zoom_restored_from_the_last_session() {
    let mut app = CapsimApp::new(
        &egui::Context::default(),
        lesson(),
        Prefs {
            zoom: 1.2,
            ..Prefs::default()
        },
    );
    app.set_presenter(true);
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, app: &mut CapsimApp| app.ui_root(ui), app);
    h.ctx.options_mut(|o| o.zoom_factor = 1.6); // what eframe restores from storage
    h.run_steps(3);
    assert!(h.state().presenter.on);
    assert_eq!(h.ctx.zoom_factor(), 1.6);
    h.key_press(egui::Key::F5);
    h.run_steps(3);
    assert!(!h.state().presenter.on);
    assert_eq!(h.ctx.zoom_factor(), 1.2, "the user's own zoom comes back");
}

/// The notes move to a window of their own (for a second screen) and back; kittest has one
/// window, so egui shows the separate one embedded, with the same notes in it.
#[test]
fn speaker_notes_move_to_their_own_window_and_back() {
    let mut h = harness(Prefs::default());
    click(&mut h, "Present");
    h.run_steps(3);
    click(&mut h, "▲ Speaker notes");
    h.run_steps(3);
    click(&mut h, "Own window ↗");
    h.run_steps(3);
    assert!(h.state().presenter.notes_apart);
    assert!(
        h.query_by_label_contains("capsim — speaker notes")
            .is_some(),
        "the separate window's title"
    );
    let next = label_containing(&h, "next fault");
    assert!(next.contains("at 2000 ms"), "{next}");
    assert!(h.query_by_label("Own window ↗").is_none());
    click(&mut h, "Back into the app");
    h.run_steps(3);
    assert!(!h.state().presenter.notes_apart);
    assert!(
        h.query_by_label("Own window ↗").is_some(),
        "the in-app notes again"
    );
    assert!(
        h.query_by_label_contains("capsim — speaker notes")
            .is_none()
    );
}

/// `name` in a directory of its own (see [`temp_dir`]), as the base of export file names.
fn temp_base(name: &str) -> PathBuf {
    temp_dir(name).join(name)
}

/// Opens the Export window, types the path and clicks one export; waits for the file.
fn export(h: &mut Harness<'_, CapsimApp>, base: &Path, button: &str, suffix: &str) -> String {
    if h.query_by_label("export path").is_none() {
        click(h, "Export");
    }
    let field = h.get_by_label("export path");
    field.focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("export path")
        .type_text(base.to_str().unwrap());
    h.run_steps(2);
    click(h, button);
    let start = Instant::now();
    while h.state().exports.busy() {
        assert!(start.elapsed() < WAIT, "the export did not finish");
        std::thread::sleep(Duration::from_millis(5));
        h.run_steps(1);
    }
    let status = h.state().exports.status.clone();
    assert!(status.starts_with("wrote"), "{status}");
    let path = format!("{}{suffix}", base.display());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `(lane elements, arrow elements)` of an SVG, parsing it as XML (which fails if it is not
/// well-formed).
fn svg_lanes_and_arrows(svg: &str) -> (usize, usize) {
    let (mut lanes, mut arrows) = (0, 0);
    for e in xml::reader::EventReader::from_str(svg) {
        match e.expect("the SVG is well-formed XML") {
            xml::reader::XmlEvent::StartElement { attributes, .. } => {
                let class = attributes
                    .iter()
                    .find(|a| a.name.local_name == "class")
                    .map(|a| a.value.as_str());
                match class {
                    Some("lane") => lanes += 1,
                    Some("arrow" | "drop") => arrows += 1,
                    _ => {}
                }
            }
            _ => continue,
        }
    }
    (lanes, arrows)
}

#[test]
fn exports_from_the_app_write_svg_csv_history_and_trace() {
    let mut h = harness(spacetime_prefs());
    seek(&mut h, 1000.0);
    let base = temp_base("lesson");

    let svg = export(&mut h, &base, "SVG space-time diagram", ".svg");
    let (lanes, arrows) = svg_lanes_and_arrows(&svg);
    assert_eq!(lanes, lesson().nodes.count as usize, "one lane per node");
    let in_app = messages_sent_between(
        SimTime::from_ms(1000.0 - DEFAULT_SPAN_MS),
        SimTime::from_ms(1000.0),
    );
    // The SVG draws the messages sent in the window that also arrived or were lost in it.
    assert!(
        arrows > 0 && arrows <= in_app,
        "{arrows} arrows, {in_app} sent"
    );

    let csv = export(&mut h, &base, "CSV of the plotted metrics", ".csv");
    let series = h.state_mut().frame().series.clone();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "time_ms");
    assert_eq!(header.len(), 8 + lesson().nodes.count as usize);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), series.len(), "one row per plotted sample");
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row.split(',').count(), header.len(), "{row}");
    }

    let history = export(&mut h, &base, "JSONL history", ".history.jsonl");
    assert!(history.lines().count() > 0);
    for line in history.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("history lines are JSON");
    }

    let trace = export(&mut h, &base, "JSONL trace", ".trace.jsonl");
    let mut last = 0;
    for line in trace.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("trace lines are JSON");
        last = v["t_us"].as_u64().expect("every trace line has a time");
    }
    assert!(last <= 1_000_000, "the trace stops at the current time");
    let _ = std::fs::remove_dir_all(base.parent().unwrap());
}

#[test]
fn the_export_replay_reproduces_the_session_with_its_interventions() {
    let mut h = harness(Prefs::default());
    seek(&mut h, 700.0);
    click(&mut h, "n2");
    click(&mut h, "Crash n2");
    seek(&mut h, 900.0);
    let sim = h.state_mut().snapshot(WAIT).expect("snapshot");
    let f = h.state_mut().frame();
    assert_eq!(f.interventions.len(), 1);
    let options = Options {
        record_trace: true,
        ..Options::default()
    };
    let mut crashes = 0;
    let replayed = capsim::gui::exports::replay(
        &f.scenario,
        &f.interventions,
        f.now,
        &options,
        &mut |_, e| {
            if matches!(
                e.event,
                TraceEvent::Fault(capsim::trace::FaultEvent::Crash(_))
            ) {
                crashes += 1;
            }
            Ok(())
        },
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!(crashes, 1);
    assert_eq!(replayed.now(), sim.now());
    assert_eq!(replayed.trace_hash(), sim.trace_hash());
}

#[test]
fn png_export_saves_the_rendered_window() {
    let Some(renderer) = gpu_renderer("png_export_saves_the_rendered_window") else {
        return;
    };
    let app = CapsimApp::new(&egui::Context::default(), lesson(), spacetime_prefs());
    let mut h = harness_sized(app, SIZE, Some(renderer));
    seek(&mut h, 300.0);
    let base = temp_base("window");
    export(&mut h, &base, "PNG of the window", ".png");
    let png = image::open(format!("{}.png", base.display())).expect("a PNG");
    assert_eq!((png.width(), png.height()), (1280, 800));
    let rgb = png.to_rgb8();
    let first = *rgb.get_pixel(0, 0);
    let distinct = rgb.pixels().filter(|p| **p != first).count();
    assert!(distinct > 1280 * 800 / 20, "the picture is not blank");
    assert!(
        h.query_by_label("export path").is_none(),
        "the Export window closed for the picture"
    );
    let _ = std::fs::remove_dir_all(base.parent().unwrap());
}

/// The diagram of a session at its current time, over the last `span_ms`.
fn diagram_of(s: &capsim::gui::session::Session, span_ms: f64) -> Diagram {
    let (nodes, cuts) = (s.sim.nodes_info(), s.sim.cuts());
    let state = State {
        nodes: &nodes,
        cuts: &cuts,
    };
    let (from, until) = window(s.now(), span_ms);
    build_from(&s.wire, state, from, until)
}

#[test]
fn the_partition_shows_as_a_span_with_drops_across_it_and_survives_a_rewind() {
    let mut s = capsim::gui::session::Session::new(lesson());
    s.seek(SimTime::from_ms(2100.0));
    let d = diagram_of(&s, 200.0);
    let cut_at = SimTime::from_ms(2000.0); // the lesson's partition
    let cut = d.spans.iter().find(|sp| sp.kind == SpanKind::Cut);
    assert_eq!(cut.map(|sp| (sp.from, sp.until)), Some((cut_at, s.now())));
    let minority = |n: capsim::types::NodeId| n.index() < 2; // n1, n2
    for a in &d.arrows {
        assert!(a.sent >= d.from && a.sent <= d.until);
        match a.fate {
            Fate::Delivered => {
                assert!(a.end >= a.sent && a.end <= s.now());
                // Nothing crosses the cut while it is in force.
                let crosses = minority(a.from) != minority(a.to);
                assert!(!(crosses && a.sent >= cut_at), "{a:?} crossed the cut");
            }
            Fate::InFlight => assert!(a.end > s.now(), "{a:?} should have arrived"),
            Fate::Dropped => assert!(a.end <= s.now()),
        }
    }
    let dropped_across = d
        .arrows
        .iter()
        .filter(|a| a.fate == Fate::Dropped && minority(a.from) != minority(a.to))
        .count();
    assert!(dropped_across > 0, "messages across the cut are dropped");
    // Completions sit on the lane of the node the client asked.
    assert!(d.marks.iter().any(|m| m.outcome.is_some()));

    // Back before the partition and forward again: the ring is rewound with the checkpoints,
    // so the replay draws exactly the same diagram (no duplicated or missing records).
    s.seek(SimTime::from_ms(900.0));
    let early = diagram_of(&s, 200.0);
    assert!(early.spans.is_empty(), "no partition before 2 s");
    assert!(
        early
            .arrows
            .iter()
            .all(|a| a.sent <= SimTime::from_ms(900.0))
    );
    s.seek(SimTime::from_ms(2100.0));
    assert_eq!(diagram_of(&s, 200.0), d);
}

/// How far `p` is from the segment `a`–`b` (the test's own measure, to pick clear spots).
fn distance_to_segment(p: Pos2, (a, b): (Pos2, Pos2)) -> f32 {
    let ab = b - a;
    let t = if ab.length_sq() > 0.0 {
        ((p - a).dot(ab) / ab.length_sq()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a + ab * t - p).length()
}

/// A delivered arrow between two lanes whose middle is well clear of every other arrow, and
/// that middle (`segments` are the arrows' ends on screen).
fn arrow_on_its_own(d: &Diagram, segments: &[(Pos2, Pos2)]) -> Option<(usize, Pos2)> {
    let clear_of_others = |i: usize, p: Pos2| {
        (0..segments.len()).all(|j| j == i || distance_to_segment(p, segments[j]) > 12.0)
    };
    (0..d.arrows.len())
        .filter(|&i| d.arrows[i].fate == Fate::Delivered && d.arrows[i].from != d.arrows[i].to)
        .map(|i| (i, segments[i].0 + (segments[i].1 - segments[i].0) * 0.5))
        .find(|&(i, mid)| clear_of_others(i, mid))
}

/// A point of a 40 × 30 grid over `area` at least 25 points from every arrow.
fn clear_spot(area: egui::Rect, segments: &[(Pos2, Pos2)]) -> Option<Pos2> {
    (0..40)
        .flat_map(|x| (0..30).map(move |y| (x, y)))
        .map(|(x, y)| {
            area.min + egui::vec2(x as f32, y as f32) * area.size() / egui::vec2(40.0, 30.0)
        })
        .find(|&p| segments.iter().all(|&s| distance_to_segment(p, s) > 25.0))
}

/// The text of every label on screen that names a message (hover text or selection).
fn message_labels(h: &Harness<'_, CapsimApp>) -> Vec<String> {
    h.query_all_by_label_contains("(msg #")
        .map(|n| {
            let n = n.accesskit_node();
            n.value().or_else(|| n.label()).unwrap_or_default()
        })
        .collect()
}

#[test]
fn hovering_an_arrow_names_its_message_and_clicking_selects_it() {
    // CAPSIM_SCREENSHOT_DIR=dir also draws the hover and the selection there, to look at.
    let renderer = screenshot_dir().and_then(|_| gpu_renderer("the space-time screenshots"));
    let shots = renderer.is_some();
    let app = CapsimApp::new(&egui::Context::default(), lesson(), spacetime_prefs());
    let mut h = harness_sized(app, SIZE, renderer);
    seek(&mut h, 1000.0);
    let f = h.state_mut().frame();
    let (from, until) = window(f.now, h.state().spacetime.span_ms);
    let d = build(&f, from, until);
    let rect = h.get_by_label(DIAGRAM_LABEL).rect();
    let g = Geometry::new(rect, &d);
    let segments: Vec<_> = d.arrows.iter().map(|a| g.ends(a, f.now)).collect();
    let (i, mid) = arrow_on_its_own(&d, &segments).expect("an arrow on its own at 1 s");
    let a = &d.arrows[i];
    let kind = f.kinds[a.kind];
    let names = |text: &str| {
        let (from, to) = (a.from.index() + 1, a.to.index() + 1);
        text.contains(&format!(
            "{kind} n{from} → n{to}, sent {:.3} ms",
            a.sent.as_ms()
        )) && text.contains(&format!("(msg #{})", a.id))
    };

    h.hover_at(mid);
    h.run_steps(4); // past the tooltip delay
    let hover = message_labels(&h);
    assert!(
        hover.len() == 1 && names(&hover[0]),
        "hover {hover:?}, {a:?}"
    );
    if shots {
        save_screenshot(&h.render().expect("render"), "spacetime-hover.png");
    }
    click_at(&mut h, mid);
    h.run_steps(2);
    assert_eq!(h.state().spacetime.selected, Some(a.id));
    let moved = h.get_by_label(DIAGRAM_LABEL).rect();
    assert_eq!(moved, rect, "selecting does not move the diagram");
    let selected = label_containing(&h, "selected: ");
    assert!(names(&selected), "selection {selected:?}, {a:?}");
    if shots {
        save_screenshot(&h.render().expect("render"), "spacetime-selected.png");
    }

    // A spot inside the lanes' area (right of the lane names, below the axis) far from every
    // arrow: no hover text, and a click there clears the selection.
    let area = egui::Rect::from_min_max(rect.min + egui::vec2(60.0, 30.0), rect.max);
    let empty = clear_spot(area, &segments).expect("an empty spot in the diagram");
    h.hover_at(empty);
    h.run_steps(4);
    let shown = message_labels(&h);
    assert!(
        shown.len() == 1 && shown[0].starts_with("selected: "),
        "{shown:?}"
    );
    click_at(&mut h, empty);
    h.run_steps(2);
    assert_eq!(h.state().spacetime.selected, None);
    assert!(message_labels(&h).is_empty(), "{:?}", message_labels(&h));
}
