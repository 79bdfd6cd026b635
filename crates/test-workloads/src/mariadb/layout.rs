//! Where the MariaDB workload keeps its files: one directory per unit in the unit's
//! machine directory, and one shared directory in the model (the address book, the
//! primary's name, the port base and the credentials every server accepts).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use mysql_charm::workload::{instance_label, WorkloadError, WorkloadRevision};

/// Name of the model-wide directory shared by every unit's server.
pub const SHARED_DIR_NAME: &str = "mariadb";

/// How many unit numbers one model's port range covers (`base .. base + PORT_SPAN`).
pub const PORT_SPAN: u16 = 100;

/// The files of one unit's server, under `<machine dir>/mariadb-<app>-<n>/`.
#[derive(Debug, Clone)]
pub(crate) struct UnitPaths {
    pub root: PathBuf,
    pub data: PathBuf,
    pub tmp: PathBuf,
    pub server_options: PathBuf,
    pub revisions: PathBuf,
    pub installed: PathBuf,
    pub admin_client: PathBuf,
    pub app_client: PathBuf,
    pub init_sql: PathBuf,
    pub pid: PathBuf,
    pub error_log: PathBuf,
    pub console_log: PathBuf,
    pub socket: PathBuf,
}

/// Unix socket paths longer than this do not fit `sockaddr_un` (108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 100;

impl UnitPaths {
    pub(crate) fn new(machine_dir: &Path, unit: &str) -> Self {
        let root = machine_dir.join(format!("mariadb-{}", instance_label(unit)));
        let mut socket = root.join("mariadbd.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            // Deep temporary directories overflow sockaddr_un; the socket is unused by
            // the workload (everything goes over TCP) but mariadbd insists on one.
            socket = std::env::temp_dir().join(format!(
                "juju-sim-mariadb-{:016x}.sock",
                fnv1a(root.as_os_str().as_encoded_bytes())
            ));
        }
        Self {
            data: root.join("data"),
            // Each server's own: concurrent bootstraps sharing /tmp trip over each
            // other's internal temporary tables.
            tmp: root.join("tmp"),
            server_options: root.join("my.cnf"),
            revisions: root.join("revisions"),
            installed: root.join("installed.json"),
            admin_client: root.join("admin-client.cnf"),
            app_client: root.join("app-client.cnf"),
            init_sql: root.join("init.sql"),
            pid: root.join("mariadbd.pid"),
            error_log: root.join("error.log"),
            console_log: root.join("console.log"),
            socket,
            root,
        }
    }

    /// The options file of one workload revision.
    pub(crate) fn revision_options(&self, revision: &str) -> PathBuf {
        self.revisions.join(format!("{revision}.cnf"))
    }
}

/// The model-wide files, under `<model dir>/mariadb/`.
#[derive(Debug, Clone)]
pub(crate) struct SharedPaths {
    pub units: PathBuf,
    pub primary: PathBuf,
    pub base_port: PathBuf,
    pub secrets: PathBuf,
}

impl SharedPaths {
    pub(crate) fn new(model_dir: &Path) -> Self {
        let dir = model_dir.join(SHARED_DIR_NAME);
        Self {
            units: dir.join("units"),
            primary: dir.join("primary"),
            base_port: dir.join("base-port"),
            secrets: dir.join("secrets.json"),
        }
    }

    pub(crate) fn unit_record(&self, unit: &str) -> PathBuf {
        self.units.join(format!("{}.json", instance_label(unit)))
    }
}

/// One unit's server in the model's address book: written when the server first starts,
/// read by every unit that needs to talk to it (cluster status, switchover, replication)
/// and by test clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MariaDbEndpoint {
    /// The unit, e.g. `mysql/1`.
    pub unit: String,
    /// Its loopback TCP port (the server listens on 127.0.0.1 only).
    pub port: u16,
    /// A client options file (`mariadb --defaults-file=...`) that logs in as the
    /// application user: data statements only, refused by a read-only replica.
    pub app_client_options: PathBuf,
    /// A client options file for the administrative user (replication, shutdown).
    pub admin_client_options: PathBuf,
    /// The server's options file (its command line is `mariadbd --defaults-file=<this>`).
    pub server_options: PathBuf,
    /// The server's pid file.
    pub pid_file: PathBuf,
    /// The workload revision the server last started with.
    pub revision: Option<WorkloadRevision>,
}

/// The credentials every server of the model creates at start (never on a command
/// line: they live in 0600 files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Secrets {
    pub admin_password: String,
    pub replication_password: String,
    pub app_password: String,
}

pub(crate) const ADMIN_USER: &str = "juju_admin";
pub(crate) const REPLICATION_USER: &str = "juju_repl";
pub(crate) const APP_USER: &str = "juju_app";

impl Secrets {
    /// The model's credentials, generated by the first unit that needs them.
    pub(crate) fn load_or_create(paths: &SharedPaths) -> Result<Self, WorkloadError> {
        if let Some(text) = read_optional(&paths.secrets)? {
            return parse_json(&paths.secrets, &text);
        }
        let fresh = Self {
            admin_password: random_token()?,
            replication_password: random_token()?,
            app_password: random_token()?,
        };
        let json = to_json(&paths.secrets, &fresh)?;
        if create_exclusive(&paths.secrets, &json, 0o600)? {
            Ok(fresh)
        } else {
            // Another unit won the race: its secrets are the model's.
            let text = read_optional(&paths.secrets)?.unwrap_or_default();
            parse_json(&paths.secrets, &text)
        }
    }
}

/// 128 random bits, hex-encoded: enough for passwords of servers bound to loopback.
fn random_token() -> Result<String, WorkloadError> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| WorkloadError::io(path, e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// FNV-1a, 64 bits: a stable hash (unlike `DefaultHasher`) for names derived from paths.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The port base a model derives from its directory: 20000..49900, a multiple of
/// [`PORT_SPAN`], so that two models on one machine rarely overlap (and when they do,
/// the start-time port check says so).
pub(crate) fn derived_base_port(model_dir: &Path) -> u16 {
    let slots = 300u64;
    let slot = fnv1a(model_dir.as_os_str().as_encoded_bytes()) % slots;
    // slot < 300, so the result is at most 20000 + 29900 = 49900.
    20_000 + u16::try_from(slot).unwrap_or(0) * PORT_SPAN
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, WorkloadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WorkloadError::io(path, e)),
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, WorkloadError> {
    serde_json::from_str(text).map_err(|e| WorkloadError::BadStateFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

pub(crate) fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, WorkloadError> {
    serde_json::to_vec_pretty(value).map_err(|e| WorkloadError::BadStateFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn ensure_parent(path: &Path) -> Result<(), WorkloadError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| WorkloadError::io(dir, e))?;
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path` (created with `mode`), then renames
/// it over `path`: readers in other hooks see the old or the new content, never half.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WorkloadError> {
    ensure_parent(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temp)
        .map_err(|e| WorkloadError::io(&temp, e))?;
    file.write_all(bytes)
        .map_err(|e| WorkloadError::io(&temp, e))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(|e| WorkloadError::io(path, e))
}

/// Creates `path` with `bytes` only if it does not exist yet; `false` when it did (the
/// first writer wins, as when two units claim the primary role at once).
pub(crate) fn create_exclusive(
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<bool, WorkloadError> {
    ensure_parent(path)?;
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(WorkloadError::io(path, e)),
    };
    file.write_all(bytes)
        .map_err(|e| WorkloadError::io(path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_port_bases_are_aligned_and_in_range() {
        for dir in ["/tmp/a", "/tmp/b", "/var/lib/model", ""] {
            let base = derived_base_port(Path::new(dir));
            assert!((20_000..=49_900).contains(&base), "{base}");
            assert_eq!(base % PORT_SPAN, 0);
        }
        assert_eq!(
            derived_base_port(Path::new("/tmp/a")),
            derived_base_port(Path::new("/tmp/a"))
        );
    }

    #[test]
    fn long_machine_dirs_move_the_socket_out_but_keep_it_per_unit() {
        let deep = Path::new("/tmp").join("x".repeat(120));
        let a = UnitPaths::new(&deep, "mysql/0");
        let b = UnitPaths::new(&deep, "mysql/1");
        assert!(a.socket.as_os_str().len() <= MAX_SOCKET_PATH);
        assert_ne!(a.socket, b.socket);
        let short = UnitPaths::new(Path::new("/m"), "mysql/0");
        assert_eq!(short.socket, Path::new("/m/mariadb-mysql-0/mariadbd.sock"));
    }

    #[test]
    fn exclusive_creation_keeps_the_first_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("primary");
        assert!(create_exclusive(&path, b"mysql/0", 0o644).expect("first"));
        assert!(!create_exclusive(&path, b"mysql/1", 0o644).expect("second"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "mysql/0");
    }
}
