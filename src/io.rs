//! The thin layer that touches the file system: reading scenarios and writing files atomically.
//! The simulator core never does I/O; the CLI and the GUI go through here.

use crate::scenario::{self, Scenario, ScenarioError};
use std::io::{Read, Write};
use std::path::Path;

/// Reads and validates a scenario file; errors name the file (and line:col for syntax).
pub fn read_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let limit = scenario::limits::MAX_FILE_BYTES;
    let file = std::fs::File::open(path).map_err(|e| unreadable(&name, e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(ScenarioError::Unreadable {
            file: name,
            reason: "is a directory, not a scenario file".into(),
        });
    }
    // Read at most one byte past the limit: a huge file (or an endless one such as a device)
    // is refused without reading it all.
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&name, e))?;
    if bytes.len() > limit {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(ScenarioError::TooLarge {
            file: name,
            bytes: size.max(bytes.len() as u64) as usize,
            limit,
        });
    }
    scenario::from_bytes(&name, &bytes)
}

fn unreadable(file: &str, e: std::io::Error) -> ScenarioError {
    ScenarioError::Unreadable {
        file: file.into(),
        reason: e.to_string(),
    }
}

/// The temporary file an atomic write of `path` goes through: hidden, in the same directory (so
/// the final rename stays on one file system), named after the target and this process.
fn temp_beside(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capsim".into());
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target. A crash mid-save leaves the old file intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Every `*.ron` file under `path` (or `path` itself), sorted.
pub fn scenario_files(path: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        if p.is_dir() {
            out.extend(scenario_files(&p)?);
        } else if p.extension().is_some_and(|e| e == "ron") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// A file written in pieces (a streamed trace or history) that appears only when complete: the
/// bytes go to a temporary file beside the target, renamed over it by [`AtomicFile::commit`].
/// Dropped without a commit (an error part-way), the temporary file is removed.
pub struct AtomicFile {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let tmp = temp_beside(path);
        let file = std::fs::File::create(&tmp)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            out: Some(std::io::BufWriter::new(file)),
        })
    }

    /// Flushes, syncs and renames the temporary file over the target.
    pub fn commit(mut self) -> std::io::Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let path = self.path.display().to_string();
        let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{path}: {e}"));
        let file = out.into_inner().map_err(|e| named(e.into_error()))?;
        file.sync_all().map_err(named)?;
        let renamed = std::fs::rename(&self.tmp, &self.path).map_err(named);
        if renamed.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        renamed
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.out {
            Some(out) => out.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().map_or(Ok(()), |out| out.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
