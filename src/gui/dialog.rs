//! The native file dialog (rfd through the XDG desktop portal) on a background thread.
//!
//! The portal call can take as long as the user looks at the dialog, so it never runs on the UI
//! thread: `FileDialog::open` starts it and `poll` picks up the answer on a later frame. Without a
//! portal (a bare X server, a minimal desktop) rfd answers "nothing chosen" at once; the message
//! then points to the path field, which always works.

use crossbeam_channel::{Receiver, TryRecvError};
use std::path::PathBuf;

/// What the chosen path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Open,
    Save,
    /// Where exported files go: a base path the exports add their endings to.
    Export,
}

/// What a finished dialog gave back.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Chosen(Purpose, PathBuf),
    /// Cancelled, or no portal to show a dialog.
    Nothing(Purpose),
}

#[derive(Default)]
pub struct FileDialog {
    pending: Option<(Purpose, Receiver<Option<PathBuf>>)>,
}

impl FileDialog {
    pub fn is_open(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts a dialog on its own thread, unless one is already open.
    pub fn open(&mut self, purpose: Purpose, start_in: Option<PathBuf>) {
        if self.pending.is_some() {
            return;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("capsim-file-dialog".into())
            .spawn(move || {
                let _ = tx.send(show(purpose, start_in));
            });
        if spawned.is_ok() {
            self.pending = Some((purpose, rx));
        }
    }

    /// The dialog's answer once it is closed; `None` while it is still open (or none is).
    pub fn poll(&mut self) -> Option<Answer> {
        let (purpose, rx) = self.pending.as_ref()?;
        let purpose = *purpose;
        let answer = match rx.try_recv() {
            Ok(Some(path)) => Answer::Chosen(purpose, path),
            Ok(None) | Err(TryRecvError::Disconnected) => Answer::Nothing(purpose),
            Err(TryRecvError::Empty) => return None,
        };
        self.pending = None;
        Some(answer)
    }
}

fn show(purpose: Purpose, start_in: Option<PathBuf>) -> Option<PathBuf> {
    let mut d = rfd::FileDialog::new();
    if purpose != Purpose::Export {
        d = d.add_filter("capsim scenario", &["ron"]);
    }
    if let Some(dir) = start_in {
        d = d.set_directory(dir);
    }
    match purpose {
        Purpose::Open => d.set_title("Open a scenario").pick_file(),
        Purpose::Save => d
            .set_title("Save the scenario")
            .set_file_name("scenario.ron")
            .save_file(),
        Purpose::Export => d
            .set_title("Export to (each file adds its ending: .png, .svg, .csv, ...)")
            .set_file_name("capsim-export")
            .save_file(),
    }
}

/// The message shown when a dialog closed without a path.
pub fn nothing_chosen(purpose: Purpose) -> String {
    let what = match purpose {
        Purpose::Open => "opened",
        Purpose::Save => "saved",
        Purpose::Export => "chosen",
    };
    format!(
        "nothing {what}: the dialog was cancelled, or this desktop has no file-dialog portal \
         (xdg-desktop-portal) — type the path in the field instead"
    )
}
