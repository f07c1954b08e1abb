//! The policy editor: change a copy of the scenario with inline validation, apply it (the run
//! restarts from t=0 with the same seed), and open or save scenario files.

use super::dialog::{Answer, FileDialog, Purpose};
use super::worker::{Command, Frame};
use crate::scenario::schema::{
    Dist, LoadSpec, PolicySpec, RaftSpec, ReadFrom, ReadMode, Replication, Scenario,
};
use crate::scenario::{load, validate};
use eframe::egui::{self, DragValue, RichText, Ui};
use std::path::Path;
use std::sync::Arc;

#[derive(Default)]
pub struct EditorState {
    draft: Option<Scenario>,
    /// The scenario the draft was made from; a new one from the worker resets the draft.
    based_on: Option<Arc<Scenario>>,
    pub path: String,
    message: Option<(bool, String)>,
    /// The message the "Recent" list last acted on (each open or save is remembered once).
    remembered: Option<(bool, String)>,
    dialog: FileDialog,
    /// The what-if branch list's state.
    pub branches: super::branch_ui::BranchUi,
}

impl EditorState {
    /// The scenario as edited in the Policy tab (applied or not); compare mode's side B option.
    pub fn draft(&self) -> Option<&Scenario> {
        self.draft.as_ref()
    }
}

/// Most files the "Recent" list remembers.
const MAX_RECENT: usize = 8;

pub fn editor_ui(
    ui: &mut Ui,
    f: &Frame,
    st: &mut EditorState,
    recent: &mut Vec<String>,
    out: &mut Vec<Command>,
) {
    if st
        .based_on
        .as_ref()
        .is_none_or(|b| !Arc::ptr_eq(b, &f.scenario))
    {
        st.based_on = Some(f.scenario.clone());
        st.draft = Some((*f.scenario).clone());
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let Some(draft) = st.draft.as_mut() else {
                return;
            };
            ui.heading(&draft.title);
            if !draft.description.is_empty() {
                ui.label(RichText::new(&draft.description).weak());
            }
            if f.branches.len() > 1 {
                egui::CollapsingHeader::new(format!("What-if branches ({})", f.branches.len()))
                    .id_salt("branches")
                    .default_open(true)
                    .show(ui, |ui| {
                        super::branch_ui::branches_ui(ui, f, &mut st.branches, out)
                    });
            }
            egui::CollapsingHeader::new("Policy")
                .default_open(true)
                .show(ui, |ui| policy_ui(ui, draft));
            egui::CollapsingHeader::new("Network")
                .default_open(true)
                .show(ui, |ui| network_ui(ui, draft));
            egui::CollapsingHeader::new("Workload and run")
                .default_open(true)
                .show(ui, |ui| workload_ui(ui, draft));
            ui.separator();
            apply_ui(ui, f, st, out);
            ui.separator();
            file_ui(ui, f, st, out);
            remember_ui(ui, st, recent, out);
        });
}

/// A labelled number field; the label also names it for screen readers and tests.
fn number<T: egui::emath::Numeric>(ui: &mut Ui, label: &str, v: &mut T, speed: f64) {
    ui.label(label);
    ui.add(DragValue::new(v).speed(speed))
        .accessible_name(label);
    ui.end_row();
}

fn policy_ui(ui: &mut Ui, s: &mut Scenario) {
    egui::Grid::new("policy").num_columns(2).show(ui, |ui| {
        number(ui, "nodes", &mut s.nodes.count, 0.05);
        match &mut s.policy {
            PolicySpec::Leaderless(p) => {
                ui.label("Leaderless quorums (Dynamo)");
                ui.end_row();
                number(ui, "replicas N", &mut p.replication_factor, 0.05);
                number(ui, "read quorum R", &mut p.read_quorum, 0.05);
                number(ui, "write quorum W", &mut p.write_quorum, 0.05);
                number(ui, "request timeout ms", &mut p.request_timeout_ms, 1.0);
            }
            PolicySpec::SingleLeader(p) => {
                ui.label("Single leader (log shipping)");
                ui.end_row();
                ui.label("replication");
                ui.horizontal_wrapped(|ui| {
                    let modes = [
                        (Replication::NoAck, "acks=0"),
                        (Replication::Async, "async (acks=1)"),
                        (Replication::SemiSync, "semi-sync"),
                        (Replication::Sync, "sync"),
                        (Replication::InSync, "acks=all (ISR)"),
                    ];
                    for (mode, label) in modes {
                        ui.radio_value(&mut p.replication, mode, label);
                    }
                });
                ui.end_row();
                ui.label("reads from");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut p.read_from, ReadFrom::Leader, "leader");
                    ui.radio_value(&mut p.read_from, ReadFrom::AnyReplica, "any replica");
                });
                ui.end_row();
                ui.label("leader");
                ui.text_edit_singleline(&mut p.leader)
                    .accessible_name("leader");
                ui.end_row();
                number(ui, "resend interval ms", &mut p.resend_interval_ms, 1.0);
            }
            PolicySpec::Raft(p) => raft_ui(ui, p),
            PolicySpec::EventLog(p) => {
                ui.label("Event log (event sourcing, CQRS)");
                ui.end_row();
                number(ui, "poll interval ms", &mut p.poll_interval_ms, 1.0);
                number(ui, "fetch max events", &mut p.fetch_max, 0.5);
                number(ui, "snapshot every k events", &mut p.snapshot_every, 0.5);
            }
        }
    });
}

fn raft_ui(ui: &mut Ui, p: &mut RaftSpec) {
    ui.label("Raft consensus");
    ui.end_row();
    number(
        ui,
        "election timeout min ms",
        &mut p.election_timeout_min_ms,
        1.0,
    );
    number(
        ui,
        "election timeout max ms",
        &mut p.election_timeout_max_ms,
        1.0,
    );
    number(ui, "heartbeat ms", &mut p.heartbeat_ms, 1.0);
    ui.label("reads");
    ui.horizontal(|ui| {
        ui.radio_value(&mut p.read_mode, ReadMode::Log, "through the log");
        ui.radio_value(&mut p.read_mode, ReadMode::ReadIndex, "read index");
        ui.radio_value(&mut p.read_mode, ReadMode::Lease, "lease");
    });
    ui.end_row();
    number(ui, "lease ms", &mut p.lease_ms, 1.0);
}

fn network_ui(ui: &mut Ui, s: &mut Scenario) {
    egui::Grid::new("network").num_columns(2).show(ui, |ui| {
        match &mut s.network.latency {
            Dist::Exponential { mean_ms } => {
                number(ui, "latency mean ms (exponential)", mean_ms, 0.1)
            }
            Dist::Constant(ms) => number(ui, "latency ms (constant)", ms, 0.1),
            Dist::Normal { mean_ms, std_ms } => {
                number(ui, "latency mean ms (normal)", mean_ms, 0.1);
                number(ui, "latency std ms", std_ms, 0.1);
            }
            other => {
                ui.label("latency");
                ui.label(format!("{other:?} (edit in the file)"));
                ui.end_row();
            }
        }
        ui.label("loss");
        ui.add(egui::Slider::new(&mut s.network.loss, 0.0..=1.0))
            .accessible_name("loss");
        ui.end_row();
        ui.label("duplicate");
        ui.add(egui::Slider::new(&mut s.network.duplicate, 0.0..=1.0))
            .accessible_name("duplicate");
        ui.end_row();
    });
}

fn workload_ui(ui: &mut Ui, s: &mut Scenario) {
    egui::Grid::new("workload").num_columns(2).show(ui, |ui| {
        match &mut s.workload.load {
            LoadSpec::ClosedLoop {
                clients,
                think_time_ms,
            } => {
                number(ui, "clients (closed loop)", clients, 0.1);
                number(ui, "think time ms", think_time_ms, 0.5);
            }
            LoadSpec::OpenLoop {
                rate_per_sec,
                clients,
            } => {
                number(ui, "arrivals per second", rate_per_sec, 5.0);
                number(ui, "clients (open loop)", clients, 0.1);
            }
        }
        number(ui, "mix: read", &mut s.workload.mix.read, 0.01);
        number(ui, "mix: write", &mut s.workload.mix.write, 0.01);
        number(ui, "mix: delete", &mut s.workload.mix.delete, 0.01);
        number(ui, "client timeout ms", &mut s.workload.timeout_ms, 1.0);
        number(ui, "seed", &mut s.seed, 0.2);
        if let Some(d) = &mut s.run.duration_ms {
            number(ui, "duration ms", d, 10.0);
        }
    });
}

fn apply_ui(ui: &mut Ui, f: &Frame, st: &mut EditorState, out: &mut Vec<Command>) {
    let Some(draft) = st.draft.clone() else {
        return;
    };
    let check = validate::validate("edited scenario", &draft);
    let changed = draft != *f.scenario;
    match &check {
        Ok(()) if changed => {
            ui.label(
                RichText::new("✔ valid — Apply restarts the run from t = 0")
                    .color(super::palette::GREEN),
            );
        }
        Ok(()) => {
            ui.weak("no changes");
        }
        Err(e) => {
            ui.label(RichText::new(format!("✖ {e}")).color(super::palette::VERMILLION));
        }
    }
    // An invalid draft is explained above; fix it before applying any of it.
    let from_now = match &check {
        Ok(()) => super::branch_ui::plan_from_now(&draft, &f.live_scenario),
        Err(_) => Default::default(),
    };
    ui.horizontal_wrapped(|ui| {
        let ok = check.is_ok() && changed;
        if ui
            .add_enabled(ok, egui::Button::new("Apply (restart from t = 0)"))
            .on_hover_text("Same seed; your interventions are replayed at their times")
            .clicked()
        {
            out.push(Command::Restart(Box::new(draft.clone())));
        }
        if ui
            .add_enabled(changed, egui::Button::new("Revert"))
            .clicked()
        {
            st.draft = Some((*f.scenario).clone());
        }
        super::branch_ui::from_now_button_ui(ui, f, &from_now, out);
    });
    super::branch_ui::from_now_notes_ui(ui, &from_now);
}

/// The running scenario plus the session's interventions as scheduled faults.
pub fn scenario_with_interventions(f: &Frame) -> (Scenario, usize) {
    super::branches::scenario_for(&f.scenario, &f.interventions)
}

fn file_ui(ui: &mut Ui, f: &Frame, st: &mut EditorState, out: &mut Vec<Command>) {
    if let Some(answer) = st.dialog.poll() {
        match answer {
            Answer::Chosen(purpose, path) => {
                st.path = path.display().to_string();
                st.message = Some(match purpose {
                    Purpose::Open => open(&st.path, out),
                    // The editor only asks for Open and Save; an export path is no file to save.
                    Purpose::Save | Purpose::Export => save(f, &st.path),
                });
            }
            Answer::Nothing(purpose) => {
                st.message = Some((false, super::dialog::nothing_chosen(purpose)))
            }
        }
    }
    ui.label(RichText::new("Scenario file").strong());
    ui.horizontal(|ui| {
        ui.label("path");
        ui.add(egui::TextEdit::singleline(&mut st.path).desired_width(220.0))
            .accessible_name("scenario path");
    });
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Open")
            .on_hover_text("Opens the file in the path field")
            .clicked()
        {
            st.message = Some(open(st.path.trim(), out));
        }
        if ui
            .button("Save")
            .on_hover_text("Saves the scenario with your interventions as scheduled faults")
            .clicked()
        {
            st.message = Some(save(f, st.path.trim()));
        }
        dialog_buttons_ui(ui, st);
    });
    if let Some((ok, msg)) = &st.message {
        let color = if *ok {
            super::palette::GREEN
        } else {
            super::palette::VERMILLION
        };
        ui.label(RichText::new(msg).color(color));
    }
}

/// Adds the file just opened or saved to the "Recent" list, and offers the list.
fn remember_ui(
    ui: &mut Ui,
    st: &mut EditorState,
    recent: &mut Vec<String>,
    out: &mut Vec<Command>,
) {
    if st.message != st.remembered {
        st.remembered = st.message.clone();
        if let Some((true, _)) = &st.message {
            remember(recent, st.path.trim());
        }
    }
    if recent.is_empty() {
        return;
    }
    let mut chosen = None;
    egui::ComboBox::from_label("recent files")
        .selected_text("Recent…")
        .show_ui(ui, |ui| {
            for path in recent.iter() {
                if ui.selectable_label(false, path).clicked() {
                    chosen = Some(path.clone());
                }
            }
        });
    if let Some(path) = chosen {
        st.path = path;
        st.message = Some(open(st.path.trim(), out));
    }
}

/// Moves `path` to the front of `recent` (no duplicates, at most `MAX_RECENT`).
pub fn remember(recent: &mut Vec<String>, path: &str) {
    if path.is_empty() || recent.first().is_some_and(|p| p == path) {
        return;
    }
    recent.retain(|p| p != path);
    recent.insert(0, path.to_string());
    recent.truncate(MAX_RECENT);
}

/// "Open…" / "Save as…": the desktop's file dialog, on its own thread.
fn dialog_buttons_ui(ui: &mut Ui, st: &mut EditorState) {
    let idle = !st.dialog.is_open();
    let start_in = Path::new(st.path.trim())
        .parent()
        .filter(|p| p.is_dir())
        .map(Path::to_path_buf);
    let buttons = [
        (Purpose::Open, "Open…", "Choose a scenario file in a dialog"),
        (
            Purpose::Save,
            "Save as…",
            "Choose where to save in a dialog",
        ),
    ];
    for (purpose, label, tip) in buttons {
        if ui
            .add_enabled(idle, egui::Button::new(label))
            .on_hover_text(tip)
            .clicked()
        {
            st.dialog.open(purpose, start_in.clone());
        }
    }
    if !idle {
        ui.spinner();
        ui.weak("waiting for the file dialog…");
        // Poll for the answer even while nothing else changes.
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }
}

fn open(path: &str, out: &mut Vec<Command>) -> (bool, String) {
    if path.is_empty() {
        return (false, "type a file path first".into());
    }
    match crate::io::read_scenario(Path::new(path)) {
        Ok(s) => {
            out.push(Command::Load(Box::new(s)));
            (true, format!("opened {path}"))
        }
        Err(e) => (false, e.to_string()),
    }
}

fn save(f: &Frame, path: &str) -> (bool, String) {
    if path.is_empty() {
        return (false, "type a file path first".into());
    }
    let (scenario, skipped) = scenario_with_interventions(f);
    let text = load::to_string(&scenario);
    match crate::io::write_atomic(Path::new(path), text.as_bytes()) {
        Ok(()) if skipped > 0 => (
            true,
            format!("saved {path} ({skipped} interventions cannot be written as faults)"),
        ),
        Ok(()) => (true, format!("saved {path}")),
        Err(e) => (false, format!("{path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_RECENT, remember};

    #[test]
    fn recent_files_are_newest_first_without_duplicates_and_bounded() {
        let mut recent = Vec::new();
        for p in ["a.ron", "b.ron", "a.ron", ""] {
            remember(&mut recent, p);
        }
        assert_eq!(recent, vec!["a.ron".to_string(), "b.ron".to_string()]);
        for i in 0..20 {
            remember(&mut recent, &format!("f{i}.ron"));
        }
        assert_eq!(recent.len(), MAX_RECENT);
        assert_eq!(recent[0], "f19.ron");
    }
}
