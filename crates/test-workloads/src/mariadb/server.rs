//! The `mariadbd` process of one unit: finding the programs, initialising a data
//! directory, starting the server detached from the hook, and telling whether the
//! process behind a pid file is still ours.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::layout::UnitPaths;
use mysql_charm::workload::{CommandFailure, WorkloadError};

/// The MariaDB programs the workload runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaDbBinaries {
    /// `mariadbd`, the server.
    pub server: PathBuf,
    /// `mariadb`, the command-line client.
    pub client: PathBuf,
    /// `mariadb-install-db`, which creates a data directory.
    pub install_db: PathBuf,
    /// The installation directory of a server unpacked from its package (`<dir>/usr`),
    /// whose messages and system tables are there rather than under `/usr`; `None` for
    /// the system's server.
    pub basedir: Option<PathBuf>,
}

/// `mariadbd` in an unpacked server package.
const UNPACKED_SERVER: &str = "usr/sbin/mariadbd";
/// `mariadb-install-db` in an unpacked server package.
const UNPACKED_INSTALL_DB: &str = "usr/bin/mariadb-install-db";

/// Where Debian puts the programs, searched after `PATH` (a non-root `PATH` often lacks
/// `/usr/sbin`, where `mariadbd` lives).
const EXTRA_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl MariaDbBinaries {
    /// Finds the three programs on `PATH` or in the usual system directories; `None`
    /// when any is missing (run `scripts/install-mariadb`).
    pub fn locate() -> Option<Self> {
        Some(Self {
            server: find_program("mariadbd")?,
            client: find_program("mariadb")?,
            install_db: find_program("mariadb-install-db")?,
            basedir: None,
        })
    }

    /// The server unpacked into `root` (`dpkg -x` of `mariadb-server-core` and
    /// `mariadb-client-core` of one version, as `scripts/install-mariadb` does), talked to
    /// with `client`; `None` when `root` holds no server.
    pub fn unpacked(root: &Path, client: &Path) -> Option<Self> {
        let server = root.join(UNPACKED_SERVER);
        let install_db = root.join(UNPACKED_INSTALL_DB);
        (server.is_file() && install_db.is_file()).then(|| Self {
            server,
            client: client.to_owned(),
            install_db,
            basedir: Some(root.join("usr")),
        })
    }

    /// The server's own version, e.g. `10.11.6-MariaDB`, from `mariadbd --version`.
    pub fn server_version(&self) -> Result<String, WorkloadError> {
        let command = format!("{} --version", self.server.display());
        let output = Command::new(&self.server)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| WorkloadError::Spawn {
                command: command.clone(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        parse_server_version(&stdout).ok_or_else(|| WorkloadError::UnexpectedOutput {
            command,
            reason: format!("no `Ver <version>` in {:?}", stdout.trim()),
        })
    }
}

/// `mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu ...` -> `10.11.6-MariaDB`
/// (the packaging suffix dropped; replication clients parse the leading numbers).
fn parse_server_version(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    words.find(|w| *w == "Ver")?;
    let full = words.next()?;
    let core = match full.find("-MariaDB") {
        Some(at) => &full[..at + "-MariaDB".len()],
        None => full,
    };
    core.starts_with(|c: char| c.is_ascii_digit())
        .then(|| core.to_owned())
}

/// Whether this process runs as root (mariadbd then needs `--user=root`).
pub(crate) fn running_as_root() -> bool {
    // /proc/self/status: "Uid:\t<real>\t<effective>\t<saved>\t<fs>".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Creates the unit's data directory once (system tables, no users but root over the
/// socket): built beside the final path and renamed, so a half-made one is never used.
pub(crate) fn initialise_data_dir(
    binaries: &MariaDbBinaries,
    paths: &UnitPaths,
    as_root: bool,
) -> Result<(), WorkloadError> {
    if paths.data.join("mysql").is_dir() {
        return Ok(());
    }
    let staging = paths.root.join("data.initialising");
    for stale in [&staging, &paths.data] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| WorkloadError::io(stale, e))?;
        }
    }
    std::fs::create_dir_all(&paths.tmp).map_err(|e| WorkloadError::io(&paths.tmp, e))?;
    let mut args = vec![
        "--no-defaults".to_owned(),
        format!("--datadir={}", staging.display()),
        format!("--tmpdir={}", paths.tmp.display()),
        "--skip-test-db".to_owned(),
        "--innodb-log-file-size=8M".to_owned(),
        "--innodb-buffer-pool-size=32M".to_owned(),
    ];
    if let Some(basedir) = &binaries.basedir {
        args.push(format!("--basedir={}", basedir.display()));
    }
    if as_root {
        args.push("--user=root".to_owned());
    }
    let command = format!("{} {}", binaries.install_db.display(), args.join(" "));
    let output = Command::new(&binaries.install_db)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| WorkloadError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(WorkloadError::Command(CommandFailure {
            command,
            exit_code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }));
    }
    std::fs::rename(&staging, &paths.data).map_err(|e| WorkloadError::io(&paths.data, e))
}

/// The argument that names the unit's options file: it is what tells our server apart
/// from any other process that may have inherited a stale pid.
pub(crate) fn defaults_arg(paths: &UnitPaths) -> String {
    format!("--defaults-file={}", paths.server_options.display())
}

/// Starts `mariadbd` in its own process group (the emulator's kill-agent fault kills the
/// hook's group; a real daemon survives its hook), with no tie to the hook's output.
pub(crate) fn spawn_server(
    binaries: &MariaDbBinaries,
    paths: &UnitPaths,
    extra_args: &[&str],
) -> Result<Child, WorkloadError> {
    use std::os::unix::process::CommandExt;

    let console = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.console_log)
        .map_err(|e| WorkloadError::io(&paths.console_log, e))?;
    let console_err = console
        .try_clone()
        .map_err(|e| WorkloadError::io(&paths.console_log, e))?;
    Command::new(&binaries.server)
        .arg(defaults_arg(paths))
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(console_err)
        .process_group(0)
        .spawn()
        .map_err(|source| WorkloadError::Spawn {
            command: format!("{} {}", binaries.server.display(), defaults_arg(paths)),
            source,
        })
}

/// Reaps the server when it exits, if this process lives that long (a test); a hook
/// exits first and the server is adopted by init.
pub(crate) fn reap_in_background(mut child: Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// Whether `pid` is a live (not zombie) process started with the options file
/// `server_options`.
pub(crate) fn is_our_server(pid: u32, server_options: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let alive = std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|stat| {
            // "pid (comm) S ...": the state follows the last ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false);
    alive
        && std::fs::read(proc_dir.join("cmdline"))
            .map(|cmdline| {
                let wanted = format!("--defaults-file={}", server_options.display());
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == wanted.as_bytes())
            })
            .unwrap_or(false)
}

/// The pid of a running server, from its pid file; `None` when there is no pid file or
/// its process is gone (or was not started with `server_options`).
pub(crate) fn running_pid(
    pid_file: &Path,
    server_options: &Path,
) -> Result<Option<u32>, WorkloadError> {
    let text = match std::fs::read_to_string(pid_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(WorkloadError::io(pid_file, e)),
    };
    Ok(text
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|pid| is_our_server(*pid, server_options)))
}

/// Sends `signal` (`TERM`, `KILL`) to `pid` with the `kill` program.
pub(crate) fn send_signal(pid: u32, signal: &str) -> Result<(), WorkloadError> {
    let command = format!("kill -{signal} {pid}");
    let output = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|source| WorkloadError::Spawn {
            command: command.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(WorkloadError::Command(CommandFailure {
            command,
            exit_code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }))
    }
}

/// Waits until `pid` is no longer our server; `false` when `timeout` ran out first.
pub(crate) fn wait_until_gone(pid: u32, server_options: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_our_server(pid, server_options) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The size of the error log now: what a start logs comes after it.
pub(crate) fn log_offset(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The last `max_lines` lines written to `path` since `offset`.
pub(crate) fn log_tail(path: &Path, offset: u64, max_lines: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_lose_their_packaging_suffix() {
        assert_eq!(
            parse_server_version(
                "mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)"
            )
            .as_deref(),
            Some("10.11.6-MariaDB")
        );
        assert_eq!(
            parse_server_version("mariadbd Ver 11.4.2 for Linux").as_deref(),
            Some("11.4.2")
        );
        assert_eq!(parse_server_version("mariadbd Ver"), None);
        assert_eq!(parse_server_version("Ver garbage"), None);
    }

    #[test]
    fn log_tail_reads_only_what_came_after_the_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("error.log");
        std::fs::write(&log, "old 1\nold 2\n").expect("write");
        let offset = log_offset(&log);
        std::fs::write(&log, "old 1\nold 2\nnew 1\n\nnew 2\nnew 3\n").expect("write");
        assert_eq!(log_tail(&log, offset, 2), "new 2\nnew 3");
        assert_eq!(log_tail(&log, offset, 10), "new 1\nnew 2\nnew 3");
        assert_eq!(log_tail(&dir.path().join("missing"), 0, 3), "");
    }

    #[test]
    fn only_processes_started_with_our_options_count_as_ours() {
        let options = Path::new("/nonexistent/machine/my.cnf");
        assert!(!is_our_server(std::process::id(), options));
        assert!(!is_our_server(u32::MAX, options));
    }
}
