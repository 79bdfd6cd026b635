//! The example's workload: `kv`, a small versioned key-value store kept in one JSON file.
//!
//! It stands in for a stateful service without being a daemon: "installing" a version records
//! it, "starting" opens the data file with that version's rules and marks the store serving,
//! "stopping" clears the mark. What it keeps is what an upgrade must not lose (the entries)
//! and what a rollback must respect (the data format):
//!
//! - the data format of a version is its major number: every `1.x` reads and writes format 1,
//!   `2.0.0` migrates format 1 data to format 2 when it starts;
//! - a version refuses to start on data of a newer format ([`KvError::DowngradeRefused`]):
//!   once `2.0.0` ran, no `1.x` can, which is why the charm's dependency model never lets a
//!   `1.x` revision follow a `2.x` one (nor a `1.0` revision follow `1.1`);
//! - a fault armed for a version ([`KvStore::arm_start_failure`]) makes its start fail, as a
//!   broken release would; the tests use it for the upgrade that fails on the first unit.
//!
//! [`Workload`] is the charm's view of it; the explorer's tests implement it in memory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        reason: String,
    },
    /// The data file is not what the store writes.
    #[error("{path} is not a kv data file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        reason: String,
    },
    /// No version is installed.
    #[error("kv is not installed")]
    NotInstalled,
    /// The version is not of the form `MAJOR.MINOR.PATCH`.
    #[error("{0:?} is not a kv version (MAJOR.MINOR.PATCH)")]
    BadVersion(String),
    /// The data was written in a newer format than this version reads.
    #[error(
        "kv {version} reads data format {reads}, the data is in format {found}: downgrade refused"
    )]
    DowngradeRefused {
        /// The version that refused to start.
        version: String,
        /// The format it reads.
        reads: u32,
        /// The data's format.
        found: u32,
    },
    /// The start failed (a fault armed for this version).
    #[error("kv {0} failed to start")]
    StartFailed(String),
    /// The store is not serving.
    #[error("kv is not serving")]
    NotServing,
}

/// What the charm does with its workload.
pub trait Workload {
    /// The installed version.
    fn installed(&self) -> Result<String, KvError>;
    /// Stops the store, installs `version` and starts it; an error leaves it stopped.
    fn install(&mut self, version: &str) -> Result<(), KvError>;
    /// Whether it serves its data.
    fn check_health(&self) -> Result<(), KvError>;
}

/// The data format `version` reads and writes: its major number.
pub fn data_format(version: &str) -> Result<u32, KvError> {
    let bad = || KvError::BadVersion(version.to_owned());
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        return Err(bad());
    }
    parts[0].parse().map_err(|_| bad())
}

/// The store on disk: a directory with `installed`, `serving`, `data.json` and armed faults.
#[derive(Debug, Clone)]
pub struct KvStore {
    dir: PathBuf,
}

const INSTALLED: &str = "installed";
const SERVING: &str = "serving";
const DATA: &str = "data.json";

impl KvStore {
    /// The store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KvStore { dir: dir.into() }
    }

    /// Where the charm keeps it on a machine: `$JUJU_SIM_MACHINE_DIR/kv` under juju-sim (the
    /// emulated machine), `/var/lib/minimal-kv` on a real one.
    pub fn on_this_machine() -> Self {
        match std::env::var_os("JUJU_SIM_MACHINE_DIR") {
            Some(machine) => KvStore::new(Path::new(&machine).join("kv")),
            None => KvStore::new("/var/lib/minimal-kv"),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<String>, KvError> {
        let path = self.path(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io(&path, &err)),
        }
    }

    fn write(&self, name: &str, text: &str) -> Result<(), KvError> {
        fs::create_dir_all(&self.dir).map_err(|err| io(&self.dir, &err))?;
        let path = self.path(name);
        let staged = self.path(&format!(".{name}.new"));
        fs::write(&staged, text).map_err(|err| io(&staged, &err))?;
        fs::rename(&staged, &path).map_err(|err| io(&path, &err))
    }

    fn remove(&self, name: &str) -> Result<(), KvError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io(&path, &err)),
            _ => Ok(()),
        }
    }

    /// The data file: its format and entries (format 1, empty, when there is none yet).
    fn data(&self) -> Result<(u32, BTreeMap<String, String>), KvError> {
        let Some(text) = self.read(DATA)? else {
            return Ok((1, BTreeMap::new()));
        };
        let corrupt = |reason: String| KvError::Corrupt {
            path: self.path(DATA),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|err| corrupt(err.to_string()))?;
        let format = value["format"]
            .as_u64()
            .and_then(|f| u32::try_from(f).ok())
            .ok_or_else(|| corrupt("no format".into()))?;
        let entries = serde_json::from_value(value["entries"].clone())
            .map_err(|err| corrupt(err.to_string()))?;
        Ok((format, entries))
    }

    fn write_data(&self, format: u32, entries: &BTreeMap<String, String>) -> Result<(), KvError> {
        let value = serde_json::json!({ "format": format, "entries": entries });
        self.write(DATA, &value.to_string())
    }

    /// Starts the installed version: refuses newer data, migrates older data to its format.
    pub fn start(&self) -> Result<(), KvError> {
        let version = self.installed()?;
        let reads = data_format(&version)?;
        if self.read(&fault_file(&version))?.is_some() {
            return Err(KvError::StartFailed(version));
        }
        let (found, entries) = self.data()?;
        if found > reads {
            return Err(KvError::DowngradeRefused {
                version,
                reads,
                found,
            });
        }
        self.write_data(reads, &entries)?;
        self.write(SERVING, &version)
    }

    /// Stops the store.
    pub fn stop(&self) -> Result<(), KvError> {
        self.remove(SERVING)
    }

    /// The version serving, if any.
    pub fn serving(&self) -> Result<Option<String>, KvError> {
        self.read(SERVING)
    }

    /// The data format on disk.
    pub fn format(&self) -> Result<u32, KvError> {
        self.data().map(|(format, _)| format)
    }

    /// Stores `key` = `value` (only while serving).
    pub fn put(&self, key: &str, value: &str) -> Result<(), KvError> {
        let version = self.serving()?.ok_or(KvError::NotServing)?;
        let (format, mut entries) = self.data()?;
        entries.insert(key.to_owned(), value.to_owned());
        self.write_data(format.max(data_format(&version)?), &entries)
    }

    /// The value of `key` (only while serving).
    pub fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.serving()?.ok_or(KvError::NotServing)?;
        Ok(self.data()?.1.get(key).cloned())
    }

    /// Makes every start of `version` fail until [`Self::disarm_start_failure`].
    pub fn arm_start_failure(&self, version: &str) -> Result<(), KvError> {
        self.write(&fault_file(version), "armed")
    }

    /// Lets `version` start again.
    pub fn disarm_start_failure(&self, version: &str) -> Result<(), KvError> {
        self.remove(&fault_file(version))
    }
}

impl Workload for KvStore {
    fn installed(&self) -> Result<String, KvError> {
        self.read(INSTALLED)?.ok_or(KvError::NotInstalled)
    }

    fn install(&mut self, version: &str) -> Result<(), KvError> {
        data_format(version)?;
        self.stop()?;
        self.write(INSTALLED, version)?;
        self.start()
    }

    fn check_health(&self) -> Result<(), KvError> {
        match self.serving()? {
            Some(version) if version == self.installed()? => self.data().map(|_| ()),
            _ => Err(KvError::NotServing),
        }
    }
}

fn fault_file(version: &str) -> String {
    format!("fail-start-{version}")
}

fn io(path: &Path, err: &std::io::Error) -> KvError {
    KvError::Io {
        path: path.to_path_buf(),
        reason: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_keeps_the_entries_and_a_minor_rollback_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut kv = KvStore::new(dir.path());
        kv.install("1.0.0").unwrap();
        kv.put("greeting", "hello").unwrap();
        kv.install("1.1.0").unwrap();
        assert_eq!(kv.get("greeting").unwrap().as_deref(), Some("hello"));
        kv.install("1.0.0").unwrap();
        kv.check_health().unwrap();
        assert_eq!(kv.get("greeting").unwrap().as_deref(), Some("hello"));
        assert_eq!(kv.format().unwrap(), 1);
    }

    #[test]
    fn data_a_newer_major_wrote_refuses_an_older_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut kv = KvStore::new(dir.path());
        kv.install("1.1.0").unwrap();
        kv.put("k", "v").unwrap();
        kv.install("2.0.0").unwrap();
        assert_eq!(kv.format().unwrap(), 2);
        let err = kv.install("1.1.0").unwrap_err();
        assert_eq!(
            err,
            KvError::DowngradeRefused {
                version: "1.1.0".into(),
                reads: 1,
                found: 2
            }
        );
        assert!(err.to_string().contains("downgrade refused"), "{err}");
        // Refused, it is stopped, and the data is untouched.
        assert_eq!(kv.check_health(), Err(KvError::NotServing));
        kv.install("2.0.0").unwrap();
        assert_eq!(kv.get("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn an_armed_start_failure_stops_that_version_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut kv = KvStore::new(dir.path());
        kv.install("1.0.0").unwrap();
        kv.arm_start_failure("1.1.0").unwrap();
        assert_eq!(
            kv.install("1.1.0"),
            Err(KvError::StartFailed("1.1.0".into()))
        );
        assert_eq!(kv.check_health(), Err(KvError::NotServing));
        kv.install("1.0.0").unwrap();
        kv.check_health().unwrap();
    }

    #[test]
    fn bad_versions_and_corrupt_data_are_refused_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut kv = KvStore::new(dir.path());
        assert_eq!(kv.install("1.0"), Err(KvError::BadVersion("1.0".into())));
        assert_eq!(kv.installed(), Err(KvError::NotInstalled));
        fs::write(dir.path().join(DATA), "{not json").unwrap();
        let err = kv.install("1.0.0").unwrap_err();
        assert!(matches!(err, KvError::Corrupt { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(dir.path().join(DATA)).unwrap(),
            "{not json"
        );
    }
}
