//! In-app exports for slides and coursework: a PNG of the window, the SVG space-time diagram of
//! the window shown in the app, a CSV of the plotted metrics, and the JSONL history and trace
//! up to the current time (the same formats as `capsim export`, see `crate::export`).
//!
//! The history and trace are not kept in memory by the viewer, so they come from a deterministic
//! re-run of the session (its scenario and the user's interventions, applied at the same event
//! counts) to the current time. That runs on its own thread: the UI and the simulation go on.

use super::session::Intervention;
use super::worker::Frame;
use crate::engine::Options;
use crate::export::svg::SpaceTime;
use crate::io::AtomicFile;
use crate::scenario::Scenario;
use crate::sim::Sim;
use crate::trace::{Stamped, jsonl};
use crate::types::SimTime;
use crossbeam_channel::Receiver;
use eframe::egui::{self, Context, Ui};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One kind of export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Png,
    Svg,
    Csv,
    History,
    Trace,
}

impl Kind {
    /// The file name ending added to the path field.
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Png => ".png",
            Kind::Svg => ".svg",
            Kind::Csv => ".csv",
            Kind::History => ".history.jsonl",
            Kind::Trace => ".trace.jsonl",
        }
    }

    fn button(self) -> &'static str {
        match self {
            Kind::Png => "PNG of the window",
            Kind::Svg => "SVG space-time diagram",
            Kind::Csv => "CSV of the plotted metrics",
            Kind::History => "JSONL history",
            Kind::Trace => "JSONL trace",
        }
    }
}

type Shot = Arc<Mutex<Option<Arc<egui::ColorImage>>>>;

#[derive(Default)]
pub struct ExportsState {
    pub open: bool,
    /// The path field: files are written to it plus each kind's ending.
    pub base: String,
    /// What the last export did.
    pub status: String,
    /// An export running on its own thread.
    job: Option<Receiver<String>>,
    /// A screenshot on its way: frames to wait (for the export window to go), then its image.
    png: Option<(PathBuf, u8, Option<Shot>)>,
    /// "Choose…": the desktop's save dialog for the path field.
    dialog: super::dialog::FileDialog,
}

impl ExportsState {
    /// Whether an export is still running (tests wait for it).
    pub fn busy(&self) -> bool {
        self.job.is_some() || self.png.is_some()
    }

    fn path(&self, kind: Kind) -> PathBuf {
        let base = self.base.trim();
        let base = if base.is_empty() {
            "capsim-export"
        } else {
            base
        };
        PathBuf::from(format!("{base}{}", kind.suffix()))
    }

    /// Starts an export of `kind` as of frame `f`; `window` is the space-time diagram's.
    pub fn start(&mut self, kind: Kind, f: &Frame, window: (SimTime, SimTime)) {
        if self.busy() {
            return;
        }
        let path = self.path(kind);
        self.status = format!("writing {} …", path.display());
        if kind == Kind::Png {
            // Close this window first, so the picture shows the app, not the export dialog.
            self.open = false;
            self.png = Some((path, 2, None));
            return;
        }
        let job = Job {
            kind,
            path,
            scenario: (*f.scenario).clone(),
            interventions: f.interventions.clone(),
            until: f.now,
            window,
            series_csv: (kind == Kind::Csv).then(|| series_csv(f)),
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("capsim-export".into())
            .spawn(move || {
                let _ = tx.send(job.run());
            });
        match spawned {
            Ok(_) => self.job = Some(rx),
            Err(e) => self.status = format!("could not start the export: {e}"),
        }
    }

    /// Picks up finished work; call every frame.
    pub fn poll(&mut self, ctx: &Context) {
        if let Some(rx) = &self.job {
            match rx.try_recv() {
                Ok(status) => {
                    self.status = status;
                    self.job = None;
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.status = "the export stopped unexpectedly".into();
                    self.job = None;
                }
                Err(crossbeam_channel::TryRecvError::Empty) => ctx.request_repaint(),
            }
        }
        self.poll_png(ctx);
        self.poll_dialog();
    }

    /// A chosen file becomes the path field, without an ending the exports add themselves.
    fn poll_dialog(&mut self) {
        use super::dialog::Answer;
        match self.dialog.poll() {
            Some(Answer::Chosen(_, path)) => {
                self.base = base_of(&path.display().to_string());
                self.status.clear();
            }
            Some(Answer::Nothing(p)) => self.status = super::dialog::nothing_chosen(p),
            None => {}
        }
    }

    fn poll_png(&mut self, ctx: &Context) {
        let Some((path, wait, shot)) = &mut self.png else {
            return;
        };
        ctx.request_repaint();
        if *wait > 0 {
            *wait -= 1;
            return;
        }
        let Some(slot) = shot else {
            let slot: Shot = Arc::default();
            let fill = slot.clone();
            ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                egui::ScreenshotCallback::new(move |img| {
                    if let Ok(mut s) = fill.lock() {
                        *s = Some(img);
                    }
                }),
            ));
            *shot = Some(slot);
            return;
        };
        let image = slot.lock().ok().and_then(|mut s| s.take());
        if let Some(image) = image {
            self.status = match super::save_png(path, &image) {
                Ok(()) => format!(
                    "wrote {} ({}×{} pixels)",
                    path.display(),
                    image.size[0],
                    image.size[1]
                ),
                Err(e) => format!("{}: {e}", path.display()),
            };
            self.png = None;
        }
    }
}

/// The export window (the top bar's "Export" button opens it).
pub fn exports_ui(ctx: &Context, f: &Frame, state: &mut ExportsState, window: (SimTime, SimTime)) {
    state.poll(ctx);
    let mut open = state.open;
    egui::Window::new("Export")
        .open(&mut open)
        .collapsible(false)
        .default_width(380.0)
        // Under the top bar's Export button, over the side panel: the title stays readable.
        .default_pos(egui::pos2(ctx.content_rect().right() - 420.0, 40.0))
        .show(ctx, |ui| body_ui(ui, f, state, window));
    state.open = open && state.open;
}

fn body_ui(ui: &mut Ui, f: &Frame, state: &mut ExportsState, window: (SimTime, SimTime)) {
    ui.label("Writes the path below plus .png, .svg, .csv, .history.jsonl or .trace.jsonl.");
    ui.horizontal(|ui| {
        let choose = ui.add_enabled(!state.dialog.is_open(), egui::Button::new("Choose…"));
        if choose
            .on_hover_text("Pick the folder and name in a dialog")
            .clicked()
        {
            state.dialog.open(super::dialog::Purpose::Export, None);
        }
        ui.add(
            egui::TextEdit::singleline(&mut state.base)
                .hint_text("e.g. /tmp/lesson1 (default: capsim-export here)")
                .desired_width(f32::INFINITY),
        )
        .accessible_name("export path");
    });
    ui.weak(format!(
        "as of {:.1} ms; the diagram shows {:.1}–{:.1} ms",
        f.now.0 as f64 / 1000.0,
        window.0.0 as f64 / 1000.0,
        window.1.0 as f64 / 1000.0
    ));
    ui.add_enabled_ui(!state.busy(), |ui| {
        for kind in [Kind::Png, Kind::Svg, Kind::Csv, Kind::History, Kind::Trace] {
            if ui.button(kind.button()).clicked() {
                state.start(kind, f, window);
            }
        }
    });
    if !state.status.is_empty() {
        ui.separator();
        ui.label(&state.status);
    }
}

/// A path field value from a chosen file: an ending one of the exports adds is dropped, so
/// choosing `lesson.png` and exporting SVG writes `lesson.svg`, not `lesson.png.svg`.
fn base_of(chosen: &str) -> String {
    let endings = [Kind::History, Kind::Trace, Kind::Png, Kind::Svg, Kind::Csv];
    endings
        .iter()
        .find_map(|k| chosen.strip_suffix(k.suffix()))
        .unwrap_or(chosen)
        .to_string()
}

/// The plotted series as CSV: one row per sample, one column per curve (lag per node).
pub fn series_csv(f: &Frame) -> String {
    let s = &f.series;
    let mut out = String::from(
        "time_ms,availability,p50_ms,p99_ms,throughput_per_s,stale_reads,in_flight,divergent_keys",
    );
    for n in 0..s.lag_ms.len() {
        out += &format!(",lag_ms_n{}", n + 1);
    }
    out.push('\n');
    let at = |v: &[f64], i: usize| v.get(i).map_or(String::new(), |x| num(*x));
    for i in 0..s.len() {
        let cols = [
            &s.t_ms,
            &s.availability,
            &s.p50_ms,
            &s.p99_ms,
            &s.throughput,
            &s.stale,
            &s.in_flight,
            &s.divergent,
        ];
        let mut row: Vec<String> = cols.iter().map(|v| at(v, i)).collect();
        row.extend(s.lag_ms.iter().map(|v| at(v, i)));
        out += &row.join(",");
        out.push('\n');
    }
    out
}

/// A number for CSV: empty when undefined (NaN: nothing completed in that interval).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        String::new()
    }
}

/// One export, with everything it needs copied out of the frame.
struct Job {
    kind: Kind,
    path: PathBuf,
    scenario: Scenario,
    interventions: Vec<Intervention>,
    until: SimTime,
    window: (SimTime, SimTime),
    series_csv: Option<String>,
}

impl Job {
    /// Writes the file; returns the status line.
    fn run(self) -> String {
        match self.write() {
            Ok(what) => format!("wrote {} ({what})", self.path.display()),
            Err(e) => format!("{}: {e}", self.path.display()),
        }
    }

    fn write(&self) -> std::io::Result<String> {
        if let Some(csv) = &self.series_csv {
            crate::io::write_atomic(&self.path, csv.as_bytes())?;
            return Ok(format!("{} rows", csv.lines().count().saturating_sub(1)));
        }
        let history = self.kind == Kind::History;
        let options = Options {
            record_trace: !history,
            recent_events: 0,
            stream_history: history,
        };
        let mut lines = 0u64;
        if self.kind == Kind::Svg {
            let (from, until) = self.window;
            let mut diagram: Option<SpaceTime> = None;
            let sim = replay(
                &self.scenario,
                &self.interventions,
                self.until,
                &options,
                &mut |sim, e| {
                    diagram
                        .get_or_insert_with(|| {
                            SpaceTime::new(from, until, sim.node_count(), sim.message_kinds())
                        })
                        .observe(e);
                    Ok(())
                },
                &mut |_| Ok(()),
            )?;
            let d = diagram.unwrap_or_else(|| {
                SpaceTime::new(from, until, sim.node_count(), sim.message_kinds())
            });
            let title = format!("{} (seed {})", self.scenario.title, self.scenario.seed);
            crate::io::write_atomic(&self.path, d.render(&title).as_bytes())?;
            return Ok(format!("{} messages drawn", d.arrows()));
        }
        let mut file = AtomicFile::create(&self.path)?;
        let mut line = |text: String| {
            lines += 1;
            writeln!(file, "{text}")
        };
        let (scenario, ivs, until) = (&self.scenario, &self.interventions, self.until);
        if history {
            let mut each = |e: &_| line(serde_json::to_string(e).unwrap_or_default());
            replay(
                scenario,
                ivs,
                until,
                &options,
                &mut |_, _| Ok(()),
                &mut each,
            )?;
        } else {
            let mut each =
                |sim: &Sim, e: &Stamped| line(jsonl::to_json(e, sim.message_kinds()).to_string());
            replay(scenario, ivs, until, &options, &mut each, &mut |_| Ok(()))?;
        }
        file.commit()?;
        Ok(format!("{lines} lines"))
    }
}

type TraceSink<'a> = dyn FnMut(&Sim, &Stamped) -> std::io::Result<()> + 'a;
type HistorySink<'a> = dyn FnMut(&crate::check::history::HistoryEvent) -> std::io::Result<()> + 'a;

/// Re-runs the session to `until`: the scenario from t = 0 with the interventions applied at
/// the same points as `Session` applies them (after the same number of events, or by time once
/// the history before them changed), handing every trace and history event to the sinks.
pub fn replay(
    scenario: &Scenario,
    interventions: &[Intervention],
    until: SimTime,
    options: &Options,
    on_trace: &mut TraceSink<'_>,
    on_history: &mut HistorySink<'_>,
) -> std::io::Result<Sim> {
    let mut sim = Sim::new(scenario, options);
    let (mut next_iv, mut steps) = (0usize, 0u64);
    loop {
        while let Some(iv) = interventions.get(next_iv) {
            let done = sim.is_done();
            let due = iv.at <= until
                && match iv.after_steps {
                    Some(k) => steps >= k,
                    None => done || sim.next_event_time().is_none_or(|n| n > iv.at),
                };
            if !due {
                break;
            }
            if !done && sim.now() < iv.at {
                sim.run_until(iv.at);
            }
            sim.apply(iv.fault.clone());
            next_iv += 1;
        }
        if sim.is_done() {
            break;
        }
        match sim.next_event_time() {
            Some(t) if t <= until => {}
            Some(_) => break,
            None => {
                sim.step();
                break;
            }
        }
        if sim.step() {
            steps += 1;
        }
        if steps.is_multiple_of(4096) {
            drain(&mut sim, on_trace, on_history)?;
        }
    }
    if !sim.is_done() && sim.now() < until {
        sim.run_until(until);
    }
    drain(&mut sim, on_trace, on_history)?;
    Ok(sim)
}

fn drain(
    sim: &mut Sim,
    on_trace: &mut TraceSink<'_>,
    on_history: &mut HistorySink<'_>,
) -> std::io::Result<()> {
    for e in sim.drain_trace() {
        on_trace(sim, &e)?;
    }
    for e in sim.drain_history_stream() {
        on_history(&e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::base_of;

    #[test]
    fn a_chosen_file_loses_the_ending_an_export_adds() {
        assert_eq!(base_of("/tmp/lesson.png"), "/tmp/lesson");
        assert_eq!(base_of("/tmp/lesson.history.jsonl"), "/tmp/lesson");
        assert_eq!(base_of("/tmp/lesson.trace.jsonl"), "/tmp/lesson");
        // Other endings are part of the name the user chose.
        assert_eq!(base_of("/tmp/lesson.v2"), "/tmp/lesson.v2");
        assert_eq!(base_of("/tmp/run.jsonl"), "/tmp/run.jsonl");
    }
}
