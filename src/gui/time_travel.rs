//! Time travel in the Storage tab: an event-sourced aggregate (an account, a cart, a product's
//! reviews, a user's plays) as of any event in the write side's log. The state is a fold of the
//! events, so the slider walks that fold one event at a time; a compensating event shows up as a
//! step back, an erasure as the end of the aggregate.

use crate::policy::event_log::domain::TimeTravelStep;
use crate::scenario::schema::{Domain, PolicySpec};
use crate::types::Key;
use eframe::egui::{self, RichText, Ui};

/// Steps listed around the selected one.
const CONTEXT_STEPS: usize = 4;

#[derive(Default)]
pub struct TimeTravelState {
    /// The aggregate (key) to load.
    pub key: Key,
    /// Set by the panel; the app loads the history from a copy of the simulation and clears it.
    pub request: Option<Key>,
    /// The loaded history: which key, as of which simulation step, and its steps.
    pub loaded: Option<(Key, u64, Vec<TimeTravelStep>)>,
    /// Index into the loaded steps.
    pub at: usize,
}

impl TimeTravelState {
    /// Keeps a freshly loaded history, selecting its newest step.
    pub fn set(&mut self, key: Key, sim_steps: u64, steps: Vec<TimeTravelStep>) {
        self.at = steps.len().saturating_sub(1);
        self.loaded = Some((key, sim_steps, steps));
    }
}

fn noun(domain: Domain) -> &'static str {
    match domain {
        Domain::Bank => "account",
        Domain::Cart => "cart",
        Domain::Reviews => "product",
        Domain::SongPlays => "user",
    }
}

/// The panel; shown only for event-sourced runs. `sim_steps` is the frame's step count.
pub fn time_travel_ui(ui: &mut Ui, policy: &PolicySpec, sim_steps: u64, st: &mut TimeTravelState) {
    let PolicySpec::EventLog(spec) = policy else {
        return;
    };
    let noun = noun(spec.domain);
    egui::CollapsingHeader::new(RichText::new("Time travel").strong())
        .id_salt("time travel")
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label(noun);
                ui.add(egui::DragValue::new(&mut st.key).range(0..=u32::MAX as u64))
                    .labelled_by(label.id);
                if ui
                    .button("Load history")
                    .on_hover_text(
                        "Fold this aggregate's events from the write side's log, as it is now",
                    )
                    .clicked()
                {
                    st.request = Some(st.key);
                }
            });
            steps_ui(ui, st, sim_steps, noun);
        });
}

fn steps_ui(ui: &mut Ui, st: &mut TimeTravelState, sim_steps: u64, noun: &str) {
    let Some((key, loaded_at, steps)) = &st.loaded else {
        ui.weak("Pick a key and load its history to see its state as of any event.");
        return;
    };
    if steps.is_empty() {
        ui.label(format!("The log holds no events of {noun} {key}."));
        return;
    }
    if *loaded_at != sim_steps {
        ui.weak("The run has moved on since: load again for the newest events.");
    }
    let last = steps.len() - 1;
    st.at = st.at.min(last);
    let offset_at = |i: usize| steps[i].offset;
    ui.horizontal(|ui| {
        let label = ui.label("as of");
        ui.spacing_mut().slider_width = (ui.available_width() - 110.0).clamp(120.0, 320.0);
        let slider = egui::Slider::new(&mut st.at, 0..=last)
            .custom_formatter(move |v, _| format!("event #{}", offset_at(v as usize)));
        ui.add(slider).labelled_by(label.id);
    });
    let s = &steps[st.at];
    ui.label(
        RichText::new(format!(
            "{noun} {key} after event #{}: {}",
            s.offset, s.state
        ))
        .strong()
        .size(16.0),
    );
    let from = st.at.saturating_sub(CONTEXT_STEPS);
    let to = (st.at + CONTEXT_STEPS).min(last);
    egui::Grid::new("time travel steps")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for (i, s) in steps.iter().enumerate().take(to + 1).skip(from) {
                let text = |t: String| {
                    let r = RichText::new(t).monospace();
                    if i == st.at { r.strong() } else { r }
                };
                ui.label(text(format!("#{}", s.offset)));
                ui.label(text(s.event.to_string()));
                ui.label(text(s.state.clone()));
                ui.end_row();
            }
        });
}
