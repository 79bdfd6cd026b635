//! The model directory: where `model.json`, the lock, the debug log, the
//! operation history, the charm store, unit charm directories and machine
//! directories live, and how they are read and written safely.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::records::{LogEntry, OpRecord};
use super::Model;

/// Why the model directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model file is not what the emulator wrote.
    #[error("{path}: corrupt model file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The default model directory: `$JUJU_SIM_MODEL`, else
/// `$XDG_DATA_HOME/juju-sim/default`, else `~/.local/share/juju-sim/default`.
pub fn default_model_dir() -> Option<PathBuf> {
    let non_empty = |key: &str| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = non_empty("JUJU_SIM_MODEL") {
        return Some(dir);
    }
    if let Some(data) = non_empty("XDG_DATA_HOME") {
        return Some(data.join("juju-sim").join("default"));
    }
    non_empty("HOME").map(|home| home.join(".local/share/juju-sim/default"))
}

/// Paths inside a model directory and the operations on its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir {
    root: PathBuf,
}

/// An exclusive lock on a model directory, released when dropped.
#[derive(Debug)]
pub struct ModelLock {
    _file: File,
}

impl ModelDir {
    /// A model directory at `root` (not created yet).
    pub fn new(root: impl Into<PathBuf>) -> ModelDir {
        ModelDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `model.json`.
    pub fn model_file(&self) -> PathBuf {
        self.root.join("model.json")
    }

    /// The debug log (JSON lines, append-only).
    pub fn log_file(&self) -> PathBuf {
        self.root.join("debug-log.jsonl")
    }

    /// The operation history (JSON lines, append-only).
    pub fn history_file(&self) -> PathBuf {
        self.root.join("history.jsonl")
    }

    /// Where the store keeps charm archives.
    pub fn store_dir(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The agent directory of a unit (`units/<app>-<n>`).
    pub fn unit_dir(&self, unit: &str) -> PathBuf {
        self.root.join("units").join(unit.replace('/', "-"))
    }

    /// A unit's charm directory (`JUJU_CHARM_DIR`).
    pub fn charm_dir(&self, unit: &str) -> PathBuf {
        self.unit_dir(unit).join("charm")
    }

    /// A unit's hook-tools directory (first on the hook's `PATH`).
    pub fn tools_dir(&self, unit: &str) -> PathBuf {
        self.unit_dir(unit).join("tools")
    }

    /// A machine's directory (`JUJU_SIM_MACHINE_DIR`), kept across hooks and refreshes.
    pub fn machine_dir(&self, machine: &str) -> PathBuf {
        self.root.join("machines").join(machine)
    }

    /// True when a model has been saved here.
    pub fn exists(&self) -> bool {
        self.model_file().is_file()
    }

    /// Takes the exclusive lock (waits for another mutating command to finish).
    pub fn lock(&self) -> Result<ModelLock, ModelError> {
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(ModelError::Io {
                path,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(ModelLock { _file: file })
    }

    /// Reads `model.json` (`None` when there is no model yet). Needs no lock:
    /// writes replace the file atomically.
    pub fn load(&self) -> Result<Option<Model>, ModelError> {
        let path = self.model_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ModelError::Io { path, source: e }),
        };
        let model: Model = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if model.format != super::FORMAT {
            return Err(ModelError::Corrupt {
                path,
                message: format!("unsupported format {}", model.format),
            });
        }
        Ok(Some(model))
    }

    /// Writes `model.json` atomically (temporary file, then rename).
    pub fn save(&self, model: &Model) -> Result<(), ModelError> {
        write_json_atomically(&self.model_file(), model)
    }

    /// Appends debug-log entries.
    pub fn append_log(&self, entries: &[LogEntry]) -> Result<(), ModelError> {
        append_lines(&self.log_file(), entries)
    }

    /// Reads the whole debug log.
    pub fn read_log(&self) -> Result<Vec<LogEntry>, ModelError> {
        read_lines(&self.log_file())
    }

    /// Appends an operation record.
    pub fn append_history(&self, record: &OpRecord) -> Result<(), ModelError> {
        append_lines(&self.history_file(), std::slice::from_ref(record))
    }

    /// Reads the whole operation history.
    pub fn read_history(&self) -> Result<Vec<OpRecord>, ModelError> {
        read_lines(&self.history_file())
    }
}

/// Replaces `path` with `bytes` so that readers see the old or the new file, never half.
///
/// Atomic for readers, not durable: the file is not flushed to disk (no `fsync`). A reader
/// (another process) sees the new file as soon as the rename is done, whatever happens to
/// this process; only a crash of the whole machine could lose it. The engine replaces
/// `model.json` (and writes a hook context) for every operation; a flush each time is a
/// disk round trip per operation.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    replace_with(path, |file| file.write_all(bytes))
}

/// Replaces `path` with `value` as pretty JSON and a final newline, atomically as
/// [`write_atomically`] does, streaming the text into the file rather than building it in
/// memory first.
pub fn write_json_atomically<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
) -> Result<(), ModelError> {
    let mut encode_error = None;
    let written = replace_with(path, |file| {
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
        if let Err(e) = serde_json::to_writer_pretty(&mut writer, value) {
            if e.is_io() {
                return Err(std::io::Error::other(e));
            }
            let message = e.to_string();
            encode_error = Some(message.clone());
            return Err(std::io::Error::other(message));
        }
        writer.write_all(b"\n")?;
        writer.flush()
    });
    match (written, encode_error) {
        (Err(_), Some(message)) => Err(ModelError::Corrupt {
            path: path.to_path_buf(),
            message,
        }),
        (result, _) => result,
    }
}

/// The write buffer of [`write_json_atomically`]: large enough that a model of a few
/// hundred kilobytes goes out in a few system calls.
const WRITE_BUFFER: usize = 256 * 1024;

/// Writes a temporary file next to `path` with `write`, then renames it over `path`. The
/// temporary file is removed when writing fails.
fn replace_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<(), ModelError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = match File::create(&temp) {
        Ok(file) => file,
        // The directory may not exist yet (a new model); create it once, then retry.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            File::create(&temp).map_err(io_err(&temp))?
        }
        Err(e) => {
            return Err(ModelError::Io {
                path: temp,
                source: e,
            })
        }
    };
    if let Err(e) = write(&mut file) {
        drop(file);
        let _ = fs::remove_file(&temp);
        return Err(ModelError::Io {
            path: temp,
            source: e,
        });
    }
    drop(file);
    fs::rename(&temp, path).map_err(io_err(path))
}

fn append_lines<T: Serialize>(path: &Path, items: &[T]) -> Result<(), ModelError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for item in items {
        let line = serde_json::to_string(item).map_err(|e| ModelError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(text.as_bytes()).map_err(io_err(path))
}

fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ModelError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ModelError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let mut lines = Vec::new();
    for line in BufReader::new(file).lines() {
        lines.push(line.map_err(io_err(path))?);
    }
    let last = lines.len().saturating_sub(1);
    let mut items = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(item) => items.push(item),
            // A line cut short by a crash mid-append can only be the last one.
            Err(_) if number == last => {}
            Err(e) => {
                return Err(ModelError::Corrupt {
                    path: path.to_path_buf(),
                    message: format!("line {}: {e}", number + 1),
                })
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Model};

    #[test]
    fn save_and_load_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelDir::new(tmp.path().join("m"));
        assert!(dir.load().unwrap().is_none());
        let _lock = dir.lock().unwrap();
        let mut model = Model::new("m", "uuid", 1);
        model.env.insert("K".into(), "V".into());
        dir.save(&model).unwrap();
        assert_eq!(dir.load().unwrap(), Some(model));
        let text = fs::read_to_string(dir.model_file()).unwrap();
        assert!(
            text.contains("\n  \"name\": \"m\""),
            "model.json is pretty-printed"
        );
    }

    #[test]
    fn log_appends_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelDir::new(tmp.path());
        let entry = |m: &str| LogEntry {
            time: 1,
            unit: Some("a/0".into()),
            context: None,
            level: Level::Info,
            module: "x".into(),
            message: m.into(),
        };
        dir.append_log(&[entry("one")]).unwrap();
        dir.append_log(&[entry("two"), entry("three")]).unwrap();
        let read: Vec<String> = dir
            .read_log()
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(read, ["one", "two", "three"]);
    }

    #[test]
    fn corrupt_model_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelDir::new(tmp.path());
        fs::write(dir.model_file(), "{").unwrap();
        assert!(matches!(dir.load(), Err(ModelError::Corrupt { .. })));
    }
}
