//! The desktop app (feature `gui`): an eframe window over a simulation running on its own thread.
//!
//! `worker` owns the simulation and answers [`Command`]s; the UI (`app` and the `*_ui` panels)
//! only reads the latest immutable [`Frame`]. See DESIGN.md, "The GUI never owns the simulation".

pub mod app;
pub mod bench;
pub mod branch_ui;
pub mod branches;
pub mod cluster;
mod cluster_layout;
pub mod compare;
pub mod compare_panels;
pub mod dialog;
pub mod editor;
pub mod exports;
pub mod inspect;
pub mod log;
pub mod palette;
pub mod plots;
pub mod presenter;
pub mod series;
pub mod session;
pub mod spacetime;
mod spacetime_draw;
pub mod storage;
pub mod text;
pub mod time_travel;
pub mod timeline;
pub mod why;
pub mod wire;
pub mod worker;

pub use app::{CapsimApp, Prefs};
pub use worker::{Command, Frame, Speed};

use crate::scenario::Scenario;
use crate::types::SimTime;
use eframe::egui;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the window opens.
#[derive(Debug, Default)]
pub struct Launch {
    pub scenario: Scenario,
    /// Run the simulation to this time before showing it.
    pub until_ms: Option<f64>,
    /// Save a screenshot of the window here, then close (exit code 0 on success).
    pub screenshot: Option<PathBuf>,
    /// Inner window size in points (default 1280×800).
    pub window_size: Option<[f32; 2]>,
    /// Side panel to show first.
    pub tab: Option<app::Tab>,
    /// Dark (true) or light theme; `None` keeps the saved choice.
    pub dark: Option<bool>,
    /// Open compare mode with this scenario as side B (`--compare FILE_B`).
    pub compare: Option<Scenario>,
    /// Central view to show first (cluster or space-time diagram).
    pub view: Option<app::View>,
    /// Start in presenter mode.
    pub presenter: bool,
    /// Open the explanation of the latest stale read (after `until_ms`).
    pub explain_last: bool,
}

const PREFS_KEY: &str = "capsim-prefs";
/// Frames drawn after the simulation reached the target before taking the screenshot.
const SETTLE_FRAMES: u32 = 6;
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(90);

enum Shot {
    WaitingForSim,
    Settling(u32),
    Requested(Arc<Mutex<Option<Arc<egui::ColorImage>>>>),
    Finished,
}

struct ScreenshotJob {
    path: PathBuf,
    state: Shot,
    started: Instant,
    exit: Arc<AtomicI32>,
}

struct NativeApp {
    app: CapsimApp,
    shot: Option<ScreenshotJob>,
}

impl eframe::App for NativeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.ui_root(ui);
        if let Some(job) = &mut self.shot {
            job.advance(&mut self.app, ui.ctx());
        }
    }

    /// Not while presenting: egui's memory carries the zoom, and the next start would size its
    /// window by presenter mode's 1.6 before the app sets the user's zoom again.
    fn persist_egui_memory(&self) -> bool {
        self.shot.is_none() && !self.app.presenter.on
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.shot.is_none() {
            eframe::set_value(storage, PREFS_KEY, &self.app.prefs);
        }
    }
}

impl ScreenshotJob {
    fn advance(&mut self, app: &mut CapsimApp, ctx: &egui::Context) {
        if self.started.elapsed() > SCREENSHOT_TIMEOUT {
            eprintln!("capsim: gave up waiting for the screenshot");
            self.finish(ctx, 1);
            return;
        }
        ctx.request_repaint();
        match &self.state {
            Shot::WaitingForSim => {
                let f = app.frame();
                if f.acked >= app.sent() && !f.busy && app.compare.idle() {
                    self.state = Shot::Settling(0);
                }
            }
            Shot::Settling(n) if *n < SETTLE_FRAMES => self.state = Shot::Settling(n + 1),
            Shot::Settling(_) => {
                let slot = Arc::new(Mutex::new(None));
                let fill = slot.clone();
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                    egui::ScreenshotCallback::new(move |img| {
                        if let Ok(mut s) = fill.lock() {
                            *s = Some(img);
                        }
                    }),
                ));
                self.state = Shot::Requested(slot);
            }
            Shot::Requested(slot) => {
                let image = slot.lock().ok().and_then(|mut s| s.take());
                if let Some(image) = image {
                    let code = match save_png(&self.path, &image) {
                        Ok(()) => 0,
                        Err(e) => {
                            eprintln!("capsim: {}: {e}", self.path.display());
                            1
                        }
                    };
                    self.finish(ctx, code);
                }
            }
            Shot::Finished => {}
        }
    }

    fn finish(&mut self, ctx: &egui::Context, code: i32) {
        self.exit.store(code, Ordering::SeqCst);
        self.state = Shot::Finished;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

/// Writes the screenshot as an RGB PNG (atomically).
pub fn save_png(path: &std::path::Path, image: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let rgb: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| {
            let [r, g, b, _] = c.to_srgba_unmultiplied();
            [r, g, b]
        })
        .collect();
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    );
    image::ImageEncoder::write_image(
        encoder,
        &rgb,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| e.to_string())?;
    crate::io::write_atomic(path, &png).map_err(|e| e.to_string())
}

/// Opens the window and blocks until it is closed; returns the process exit code.
pub fn run(launch: Launch) -> i32 {
    let size = launch.window_size.unwrap_or([1280.0, 800.0]);
    let shooting = launch.screenshot.is_some();
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size(size)
            .with_min_inner_size([640.0, 480.0])
            .with_title(format!("capsim — {}", launch.scenario.title)),
        ..Default::default()
    };
    if shooting {
        // A screenshot must show the requested size and the default look, not saved state.
        // egui's own memory holds the zoom of the last session: restored, it scaled the new
        // window (1280x800 at a presenter session's 1.6 came out screen-sized) and then lost to
        // the prefs' zoom, so every other presenter screenshot was the wrong size and zoom.
        // `persistence_path: None` means eframe's default place, so a fresh, empty one instead.
        options.persist_window = false;
        options.persistence_path = Some(shot_storage());
    }
    let exit = Arc::new(AtomicI32::new(0));
    let job_exit = exit.clone();
    let result = eframe::run_native(
        "capsim",
        options,
        Box::new(move |cc| {
            let prefs = match cc.storage {
                Some(s) if !shooting => eframe::get_value(s, PREFS_KEY).unwrap_or_default(),
                _ => Prefs::default(),
            };
            let mut prefs: Prefs = prefs;
            if let Some(tab) = launch.tab {
                prefs.tab = tab;
            }
            if let Some(dark) = launch.dark {
                prefs.dark = dark;
            }
            if let Some(view) = launch.view {
                prefs.view = view;
            }
            let mut app = CapsimApp::new(&cc.egui_ctx, launch.scenario, prefs);
            if let Some(b) = launch.compare {
                let f = app.frame();
                if let Err(e) = app.compare.start(&cc.egui_ctx, &f, &b) {
                    eprintln!("capsim: --compare: {e}");
                }
            }
            if launch.presenter {
                app.set_presenter(true);
            }
            if let Some(ms) = launch.until_ms {
                app.send(Command::Seek(SimTime::from_ms(ms)));
                if let Some(run) = &mut app.compare.run {
                    run.seek(SimTime::from_ms(ms));
                }
            }
            if launch.explain_last {
                app.send(Command::ExplainLatest);
            }
            let shot = launch.screenshot.map(|path| ScreenshotJob {
                path,
                state: Shot::WaitingForSim,
                started: Instant::now(),
                exit: job_exit,
            });
            Ok(Box::new(NativeApp { app, shot }))
        }),
    );
    if shooting {
        let _ = std::fs::remove_dir_all(shot_storage());
    }
    match result {
        Ok(()) => exit.load(Ordering::SeqCst),
        Err(e) => {
            eprintln!("capsim: cannot open a window: {e}");
            eprintln!("capsim: `capsim run FILE` prints a summary without a window");
            1
        }
    }
}

/// An empty storage folder for one screenshot run (removed when the run ends).
fn shot_storage() -> PathBuf {
    std::env::temp_dir().join(format!("capsim-screenshot-{}", std::process::id()))
}
