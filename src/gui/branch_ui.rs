//! The Policy tab's what-if controls: "Apply from now (new branch)", which turns the edited
//! fields into timed `Set` interventions, and the list of branches (switch, rename, delete, save).

use super::branches::{self, Branch, BranchCommand, Headline};
use super::palette;
use super::worker::{Command, Frame};
use crate::engine::Fault;
use crate::scenario::Scenario;
use crate::scenario::schema::SetValue;
use crate::scenario::set_path;
use eframe::egui::{self, RichText, Ui};
use serde_json::Value;

/// Most changed fields one "Apply from now" looks at.
const MAX_CHANGES: usize = 64;

/// What "Apply from now" would do with the edited scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FromNowPlan {
    /// One `Set` per changed field that can change mid-run.
    pub sets: Vec<Fault>,
    /// Changed fields that cannot, with why.
    pub refused: Vec<(String, String)>,
}

/// Compares the edited scenario with the one running now (which earlier `Set`s may have
/// changed) field by field, and checks each change the way the engine will.
pub fn plan_from_now(draft: &Scenario, live: &Scenario) -> FromNowPlan {
    let live = set_path::without_faults(live);
    let mut draft = set_path::without_faults(draft);
    // The viewer caps the history it keeps in memory; that is not an edit.
    draft.run.history_limit = live.run.history_limit;
    let mut plan = FromNowPlan::default();
    let (Ok(old), Ok(new)) = (serde_json::to_value(&live), serde_json::to_value(&draft)) else {
        return plan;
    };
    let mut changed = Vec::new();
    diff(&old, &new, "", &mut changed);
    let mut current = live;
    for (path, value) in changed {
        let Some(value) = value.as_ref().and_then(set_value) else {
            let why = "its kind or length changed; edit it and use Apply (restart)";
            plan.refused.push((path, why.into()));
            continue;
        };
        match set_path::apply(&current, &path, &value) {
            Ok(next) => {
                current = next;
                plan.sets.push(Fault::Set { path, value });
            }
            Err(why) => plan.refused.push((path, why)),
        }
    }
    plan
}

/// Paths of the leaves that differ (`None` when a part changed shape, not just value).
fn diff(old: &Value, new: &Value, path: &str, out: &mut Vec<(String, Option<Value>)>) {
    if old == new || out.len() >= MAX_CHANGES {
        return;
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b))
            if a.len() == b.len() && a.keys().all(|k| b.contains_key(k)) =>
        {
            for (k, v) in b {
                diff(&a[k], v, &join(k), out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &join(&i.to_string()), out);
            }
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => {
            out.push((path.to_string(), None))
        }
        _ => out.push((path.to_string(), Some(new.clone()))),
    }
}

fn set_value(v: &Value) -> Option<SetValue> {
    match v {
        Value::Bool(b) => Some(SetValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(SetValue::Int)
            .or_else(|| n.as_f64().map(SetValue::Float)),
        Value::String(s) => Some(SetValue::Text(s.clone())),
        _ => None,
    }
}

/// The "Apply from now (new branch)" button (next to Apply).
pub fn from_now_button_ui(ui: &mut Ui, f: &Frame, plan: &FromNowPlan, out: &mut Vec<Command>) {
    let tip = format!(
        "Keeps the current run as a branch and makes these changes at {} in a new one",
        branches::seconds(f.now)
    );
    if ui
        .add_enabled(
            !plan.sets.is_empty(),
            egui::Button::new("Apply from now (new branch)"),
        )
        .on_hover_text(tip)
        .clicked()
    {
        out.push(Command::ApplyFromNow(plan.sets.clone()));
    }
}

/// What "Apply from now" will set, and what it cannot.
pub fn from_now_notes_ui(ui: &mut Ui, plan: &FromNowPlan) {
    if !plan.sets.is_empty() {
        ui.label(format!("From now: {}", branches::describe_sets(&plan.sets)));
    }
    for (path, why) in &plan.refused {
        let text = if why.contains(path.as_str()) {
            format!("✖ not from now: {why}")
        } else {
            format!("✖ not from now: {path}: {why}")
        };
        ui.label(RichText::new(text).color(palette::VERMILLION));
    }
    if plan.sets.is_empty() && plan.refused.is_empty() {
        return;
    }
    ui.weak("The current run stays as a branch (listed at the top of this tab) to switch back to.");
    ui.weak(
        "Mid-run changes can touch policy, network and workload settings; the seed, the nodes, \
         the clients and the run's length are fixed when a run starts (use Apply (restart)).",
    );
}

/// The branch list's own state: the name being edited and the save path.
#[derive(Default)]
pub struct BranchUi {
    renaming: Option<(usize, String)>,
    pub path: String,
    message: Option<(bool, String)>,
}

/// The list of branches with their divergence point and numbers (shown once there are two).
pub fn branches_ui(ui: &mut Ui, f: &Frame, st: &mut BranchUi, out: &mut Vec<Command>) {
    for (i, b) in f.branches.iter().enumerate() {
        branch_row_ui(ui, f, st, i, b, out);
    }
    ui.horizontal(|ui| {
        ui.label("save to");
        let field = egui::TextEdit::singleline(&mut st.path)
            .hint_text("what-if.ron")
            .desired_width(200.0);
        ui.add(field).accessible_name("branch file");
    });
    if let Some((ok, msg)) = &st.message {
        let color = if *ok {
            palette::GREEN
        } else {
            palette::VERMILLION
        };
        ui.label(RichText::new(msg).color(color));
    }
}

fn branch_row_ui(
    ui: &mut Ui,
    f: &Frame,
    st: &mut BranchUi,
    i: usize,
    b: &Branch,
    out: &mut Vec<Command>,
) {
    let current = i == f.current_branch;
    ui.horizontal_wrapped(|ui| {
        let marker = if current { "▶" } else { "·" };
        ui.label(RichText::new(marker).strong());
        match &mut st.renaming {
            Some((j, text)) if *j == i => {
                let edit = ui
                    .add(egui::TextEdit::singleline(text).desired_width(180.0))
                    .accessible_name("branch name");
                if edit.lost_focus() || ui.button("ok").clicked() {
                    out.push(Command::Branch(BranchCommand::Rename(i, text.clone())));
                    st.renaming = None;
                }
            }
            _ => {
                let name = RichText::new(&b.name);
                ui.label(if current { name.strong() } else { name });
            }
        }
    });
    let headline = if current {
        Some(Headline::of(f.now, &f.report))
    } else {
        b.headline
    };
    ui.horizontal_wrapped(|ui| {
        ui.add_space(14.0);
        let from = match b.diverged_at {
            Some(t) => format!("from {}", branches::seconds(t)),
            None => "from the start".into(),
        };
        let n = b.interventions.len();
        let changes = if n == 1 { "change" } else { "changes" };
        let mut text = format!("{from} · {n} {changes}");
        if let Some(h) = headline {
            text += &numbers(&h);
        }
        ui.weak(text);
    });
    ui.horizontal(|ui| {
        ui.add_space(14.0);
        branch_buttons_ui(ui, f, st, i, b, out);
    });
}

fn numbers(h: &Headline) -> String {
    let ok = if h.ops == 0 {
        "no ops yet".to_string()
    } else {
        format!("{:.0}% ok", h.availability * 100.0)
    };
    format!(
        " · {} stale · {ok} (to {})",
        h.stale_reads,
        branches::seconds(h.at)
    )
}

fn branch_buttons_ui(
    ui: &mut Ui,
    f: &Frame,
    st: &mut BranchUi,
    i: usize,
    b: &Branch,
    out: &mut Vec<Command>,
) {
    let n = i + 1;
    let current = i == f.current_branch;
    let switch = ui
        .add_enabled(!current, egui::Button::new("switch"))
        .accessible_name(format!("switch to branch {n}"))
        .on_hover_text("Replays this branch's changes and seeks to the same time");
    if switch.clicked() {
        out.push(Command::Branch(BranchCommand::Switch(i)));
    }
    if ui
        .button("rename")
        .accessible_name(format!("rename branch {n}"))
        .clicked()
    {
        st.renaming = Some((i, b.name.clone()));
    }
    if ui
        .add_enabled(!current, egui::Button::new("delete"))
        .accessible_name(format!("delete branch {n}"))
        .clicked()
    {
        out.push(Command::Branch(BranchCommand::Delete(i)));
    }
    let save = ui
        .button("save")
        .accessible_name(format!("save branch {n}"))
        .on_hover_text("Saves the scenario with this branch's changes as timed schedule entries");
    if save.clicked() {
        st.message = Some(branches::save(&f.scenario, b, st.path.trim()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson() -> Scenario {
        crate::scenario::from_str("lesson", crate::cli::DEFAULT_LESSON).unwrap()
    }

    #[test]
    fn a_plan_sets_what_can_change_and_explains_what_cannot() {
        let live = lesson();
        let mut draft = live.clone();
        draft.network.loss = 0.25;
        draft.seed += 1;
        if let crate::scenario::schema::PolicySpec::Leaderless(p) = &mut draft.policy {
            p.read_quorum = 1;
        }
        let plan = plan_from_now(&draft, &live);
        let paths: Vec<_> = plan
            .sets
            .iter()
            .map(|f| match f {
                Fault::Set { path, .. } => path.as_str(),
                _ => "",
            })
            .collect();
        assert!(paths.contains(&"network.loss"), "{paths:?}");
        assert!(
            paths.iter().any(|p| p.ends_with("read_quorum")),
            "{paths:?}"
        );
        assert_eq!(plan.refused.len(), 1, "{:?}", plan.refused);
        assert!(plan.refused[0].1.contains("cannot be changed"));
        assert_eq!(plan_from_now(&live, &live), FromNowPlan::default());
    }
}
