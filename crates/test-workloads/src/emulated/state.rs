//! One emulated unit's MySQL server, persisted as JSON in its machine directory, and the
//! scan that puts every unit's file together into the cluster.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use mysql_charm::workload::{
    instance_label, MemberRole, MemberState, WorkloadError, WorkloadRevision,
};

/// File names of the per-unit state files start with this; the unit's instance label
/// follows (`mysql-workload-mysql-0.json`), so co-located units do not collide.
pub const STATE_FILE_PREFIX: &str = "mysql-workload-";

/// Everything the emulator knows about one unit's server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatedUnitState {
    /// The unit this file belongs to (the cluster view is keyed by it, not by file name).
    pub unit: String,
    /// The installed workload; `None` before the first install.
    pub installed: Option<WorkloadRevision>,
    /// Whether mysqld is running.
    pub running: bool,
    /// The Group Replication state of this member.
    pub member_state: MemberState,
    /// The role in the group; `None` when not in the group.
    pub role: Option<MemberRole>,
    /// `innodb_fast_shutdown=0` is set on the running server (reset at every start).
    pub slow_shutdown: bool,
    /// The server version that last wrote the data directory; `None` until the first
    /// start. An older server starts on it only where MySQL downgrades in place.
    pub data_format_version: Option<String>,
    /// How many times mysqld was started (the emulated process id in the log).
    pub starts: u64,
    /// The server's error log, one line per entry.
    pub error_log: Vec<String>,
}

impl EmulatedUnitState {
    /// A unit with nothing installed.
    pub fn fresh(unit: &str) -> Self {
        Self {
            unit: unit.to_owned(),
            installed: None,
            running: false,
            member_state: MemberState::Offline,
            role: None,
            slow_shutdown: false,
            data_format_version: None,
            starts: 0,
            error_log: Vec::new(),
        }
    }

    /// Whether this server has ever started, i.e. is part of the cluster's metadata.
    pub fn is_cluster_member(&self) -> bool {
        self.data_format_version.is_some()
    }

    /// The installed version, when there is one.
    pub fn installed_version(&self) -> Option<&str> {
        self.installed.as_ref().map(|r| r.version.as_str())
    }
}

/// The state file of `unit` in `machine_dir`.
pub(crate) fn state_file(machine_dir: &Path, unit: &str) -> PathBuf {
    machine_dir.join(format!("{STATE_FILE_PREFIX}{}.json", instance_label(unit)))
}

/// Reads a state file; `None` when it does not exist.
pub(crate) fn read_state(path: &Path) -> Result<Option<EmulatedUnitState>, WorkloadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WorkloadError::io(path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| WorkloadError::BadStateFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

/// Writes a state file atomically.
pub(crate) fn write_state(path: &Path, state: &EmulatedUnitState) -> Result<(), WorkloadError> {
    let json = serde_json::to_vec_pretty(state).map_err(|e| WorkloadError::BadStateFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    write_atomically(path, &json)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so a
/// concurrent reader sees the old or the new content, never a torn one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WorkloadError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| WorkloadError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, bytes).map_err(|e| WorkloadError::io(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| WorkloadError::io(path, e))
}

/// Every unit's state under `<model dir>/machines/*/`, with the file it came from.
pub(crate) fn scan_states(
    model_dir: &Path,
) -> Result<Vec<(PathBuf, EmulatedUnitState)>, WorkloadError> {
    let machines = model_dir.join("machines");
    let entries = match std::fs::read_dir(&machines) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WorkloadError::io(&machines, e)),
    };
    let mut files = Vec::new();
    for machine in entries {
        let machine = machine.map_err(|e| WorkloadError::io(&machines, e))?.path();
        if !machine.is_dir() {
            continue;
        }
        let inner = std::fs::read_dir(&machine).map_err(|e| WorkloadError::io(&machine, e))?;
        for file in inner {
            let path = file.map_err(|e| WorkloadError::io(&machine, e))?.path();
            let is_state = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(STATE_FILE_PREFIX) && n.ends_with(".json"));
            if is_state {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut states: Vec<(PathBuf, EmulatedUnitState)> = Vec::new();
    for path in files {
        let Some(state) = read_state(&path)? else {
            continue; // removed between listing and reading
        };
        if let Some((other, _)) = states.iter().find(|(_, s)| s.unit == state.unit) {
            return Err(WorkloadError::BadStateFile {
                path: path.clone(),
                reason: format!("unit {} also has {}", state.unit, other.display()),
            });
        }
        states.push((path, state));
    }
    Ok(states)
}
