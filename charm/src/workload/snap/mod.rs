//! The production workload: the `charmed-mysql` snap and MySQL Shell, as Charmed MySQL
//! (machines) drives them in `src/mysql_vm_helpers.py`, `src/upgrade.py`, `src/charm.py`
//! and `lib/charms/mysql/v0/mysql.py`.
//!
//! | operation | commands |
//! | --- | --- |
//! | installed revision | `snap list charmed-mysql` |
//! | install / refresh | refused when the snap is there without this charm's mark; `snap install` or `snap refresh charmed-mysql --revision=N`, `snap refresh --hold`, `snap alias`, then `snap list` to confirm |
//! | stop / start | `snap stop --disable` / `snap start --enable charmed-mysql.mysqld`; start waits up to 120 s for the socket and a connection |
//! | cron around a restart | `systemctl stop cron` / `systemctl start cron` |
//! | running version | `SELECT version()` |
//! | recovery after a restart | single unit: `dba.reboot_cluster_from_complete_outage`; else up to 30 checks 15 s apart, holding while RECOVERING |
//! | reset after a refused downgrade | data directory deleted, `snap run charmed-mysql.mysqld --initialize`, users and `dba.configure_instance`, `cluster.rescan` and a clone `cluster.add_instance` under the units-operations lock |
//! | deploy | users, `dba.configure_instance`, `dba.create_cluster` (leader) or `cluster.add_instance` under the lock |
//!
//! MySQL Shell scripts go to `charmed-mysql.mysqlsh --no-wizard --python` on stdin
//! ([`mysqlsh`]); every command has a timeout ([`Timeouts`]).

mod mysqlsh;
mod runner;

#[cfg(any(test, feature = "mock"))]
pub use runner::MockCommandRunner;
pub use runner::{CommandOutput, CommandRunner, CommandSpec, ProcessRunner, DEFAULT_TIMEOUT};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mysqlsh::{after_marker, Connection, Endpoint, SystemUser, UpgradeCheck, UNIT_ADD_LOCK};

use super::cluster::instance_label;
use super::error_log::downgrade_refused_since_last_start;
use super::{
    ClusterStatus, CommandFailure, MemberState, RetryPolicy, Sleeper, Workload, WorkloadError,
    WorkloadRevision,
};

/// The passwords of the charm's system users (Charmed MySQL's `root`, `serverconfig`,
/// `clusteradmin`, `monitoring`, `backups`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Passwords {
    /// `root@localhost`.
    pub root: String,
    /// `serverconfig`: every MySQL Shell script logs in as this user.
    pub server_config: String,
    /// `clusteradmin`, created by `dba.configure_instance`.
    pub cluster_admin: String,
    /// `monitoring` (the exporter).
    pub monitoring: String,
    /// `backups`.
    pub backups: String,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passwords(<redacted>)")
    }
}

/// The MySQL user names of [`Passwords`].
pub mod users {
    /// Root, local socket only.
    pub const ROOT: &str = "root";
    /// The charm's administrative user.
    pub const SERVER_CONFIG: &str = "serverconfig";
    /// The InnoDB Cluster administrator.
    pub const CLUSTER_ADMIN: &str = "clusteradmin";
    /// The metrics exporter's user.
    pub const MONITORING: &str = "monitoring";
    /// The backup user.
    pub const BACKUPS: &str = "backups";
}

/// How long each kind of command may run before it is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `snap list`, `snap alias`, `systemctl`, `chown`.
    pub quick: Duration,
    /// `snap install` / `snap refresh` (a download).
    pub snap_install: Duration,
    /// `snap stop` / `snap start` (a slow shutdown flushes everything).
    pub service: Duration,
    /// An ordinary MySQL Shell script.
    pub mysqlsh: Duration,
    /// Scripts that restart or copy a server: configure-instance, reboot from outage,
    /// a clone, `mysqld --initialize`.
    pub long_mysqlsh: Duration,
}

impl Timeouts {
    /// The budgets used on a real machine.
    pub const PRODUCTION: Self = Self {
        quick: Duration::from_secs(60),
        snap_install: Duration::from_secs(900),
        service: Duration::from_secs(900),
        mysqlsh: Duration::from_secs(120),
        long_mysqlsh: Duration::from_secs(3600),
    };
}

/// Where things are and who to be; the defaults are Charmed MySQL's.
#[derive(Clone, Debug)]
pub struct SnapConfig {
    /// This unit, e.g. `mysql/0`.
    pub unit: String,
    /// The InnoDB cluster's name.
    pub cluster_name: String,
    /// The cluster set's name.
    pub cluster_set_name: String,
    /// The system users' passwords (sent on stdin only).
    pub passwords: Passwords,
    /// Every unit's instance host (this one included), from the peer relation.
    pub unit_addresses: BTreeMap<String, String>,
    /// The MySQL classic-protocol port.
    pub port: u16,
    /// The snap, `charmed-mysql`.
    pub snap_name: String,
    /// The snap's common directory, holding the mark of this charm's installation.
    pub common_dir: PathBuf,
    /// mysqld's error log.
    pub error_log: PathBuf,
    /// mysqld's data directory (deleted by a reset).
    pub data_dir: PathBuf,
    /// mysqld's socket: its appearance means the server is up.
    pub socket: PathBuf,
    /// Where mysqld reads extra configuration files from (the one-off init file).
    pub mysqld_config_dir: PathBuf,
    /// The system user mysqld runs as (`snap_daemon`).
    pub system_user: String,
    /// Where the plugin libraries are; a missing one is skipped, as Charmed MySQL does.
    pub plugin_dir: PathBuf,
    /// How long to wait for the socket and a connection after a start (Charmed MySQL:
    /// every 5 s for 120 s).
    pub start_wait: RetryPolicy,
    /// How often to look at a RECOVERING member, and for how many looks at most per
    /// recovery check (Charmed MySQL holds without limit; a hook must end).
    pub recovering_hold: RetryPolicy,
    /// How often, and how many times, to try to take the units-operations lock.
    pub lock_wait: RetryPolicy,
    /// The command timeouts.
    pub timeouts: Timeouts,
    /// Whether the audit-log plugin is installed (config `plugin-audit-enabled`).
    pub audit_log: bool,
}

/// The snap aliases Charmed MySQL sets; `mysqlbinlog` may be missing from older revisions.
pub const ALIASES: [&str; 7] = [
    "mysql",
    "mysqlrouter",
    "mysqlsh",
    "xbcloud",
    "xbstream",
    "mysqlbinlog",
    "xtrabackup",
];

/// The file in the snap's common directory marking an installation made by this charm.
pub const INSTALLED_MARK: &str = "installed_by_mysql_server_charm";

/// The plugins installed after every start: `(name, library)`.
const AUDIT_LOG: (&str, &str) = ("audit_log", "audit_log.so");
const BINLOG_UTILS: (&str, &str) = ("binlog_utils_udf", "binlog_utils_udf.so");

impl SnapConfig {
    /// Charmed MySQL's layout, for `unit` in `cluster_name`.
    pub fn charmed_mysql(
        unit: impl Into<String>,
        cluster_name: impl Into<String>,
        passwords: Passwords,
        unit_addresses: BTreeMap<String, String>,
    ) -> Self {
        let common = PathBuf::from("/var/snap/charmed-mysql/common");
        let cluster_name = cluster_name.into();
        Self {
            unit: unit.into(),
            cluster_set_name: format!("cluster-set-{cluster_name}"),
            cluster_name,
            passwords,
            unit_addresses,
            port: 3306,
            snap_name: "charmed-mysql".to_owned(),
            error_log: common.join("var/log/mysql/error.log"),
            data_dir: common.join("var/lib/mysql"),
            socket: common.join("var/run/mysqld/mysqld.sock"),
            mysqld_config_dir: PathBuf::from(
                "/var/snap/charmed-mysql/current/etc/mysql/mysql.conf.d",
            ),
            plugin_dir: PathBuf::from("/snap/charmed-mysql/current/usr/lib/mysql/plugin"),
            common_dir: common,
            system_user: "snap_daemon".to_owned(),
            start_wait: RetryPolicy::SERVER_START,
            recovering_hold: RetryPolicy::RECOVERING_HOLD,
            lock_wait: RetryPolicy::UNITS_OPERATIONS_LOCK,
            timeouts: Timeouts::PRODUCTION,
            audit_log: true,
        }
    }
}

/// The [`Workload`] of a machine unit running the `charmed-mysql` snap.
#[derive(Debug)]
pub struct SnapWorkload<R, S> {
    config: SnapConfig,
    runner: R,
    sleeper: S,
}

/// What a failed command means to the caller: `Err(Ok(..))` it ran and failed,
/// `Err(Err(..))` it could not run.
type Checked = Result<String, Result<CommandFailure, WorkloadError>>;

impl<R: CommandRunner, S: Sleeper> SnapWorkload<R, S> {
    /// A workload that runs its commands with `runner` and waits with `sleeper`.
    pub fn new(config: SnapConfig, runner: R, sleeper: S) -> Self {
        Self {
            config,
            runner,
            sleeper,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &SnapConfig {
        &self.config
    }

    fn run(&self, command: &CommandSpec) -> Result<CommandOutput, WorkloadError> {
        self.runner
            .run(command)
            .map_err(|source| WorkloadError::Spawn {
                command: command.command_line(),
                source,
            })
    }

    fn run_checked(&self, command: &CommandSpec) -> Checked {
        let output = self.run(command).map_err(Err)?;
        if output.succeeded() {
            Ok(output.stdout)
        } else {
            Err(Ok(CommandFailure {
                command: command.command_line(),
                exit_code: output.exit_code,
                stderr: output.stderr.trim().to_owned(),
            }))
        }
    }

    /// Runs `command`; any failure is a plain [`WorkloadError::Command`].
    fn run_plain(&self, command: &CommandSpec) -> Result<String, WorkloadError> {
        self.run_checked(command)
            .map_err(|e| e.map_or_else(|err| err, WorkloadError::Command))
    }

    fn snap<const N: usize>(&self, args: [&str; N], timeout: Duration) -> CommandSpec {
        CommandSpec::new("snap", args).with_timeout(timeout)
    }

    fn service(&self) -> String {
        format!("{}.mysqld", self.config.snap_name)
    }

    fn mysqlsh_with(&self, script: String, timeout: Duration) -> CommandSpec {
        CommandSpec::new(
            format!("{}.mysqlsh", self.config.snap_name),
            ["--no-wizard", "--python"],
        )
        .with_stdin(script)
        .with_timeout(timeout)
    }

    fn mysqlsh(&self, script: String) -> CommandSpec {
        self.mysqlsh_with(script, self.config.timeouts.mysqlsh)
    }

    fn address_of(&self, unit: &str) -> Result<&str, WorkloadError> {
        self.config
            .unit_addresses
            .get(unit)
            .map(String::as_str)
            .ok_or_else(|| WorkloadError::UnknownUnit { unit: unit.into() })
    }

    fn instance_address(&self, unit: &str) -> Result<String, WorkloadError> {
        Ok(format!("{}:{}", self.address_of(unit)?, self.config.port))
    }

    /// As `serverconfig`, over TCP to `unit`'s instance.
    fn connection_to(&self, unit: &str) -> Result<Connection<'_>, WorkloadError> {
        Ok(Connection {
            user: users::SERVER_CONFIG,
            password: &self.config.passwords.server_config,
            endpoint: Endpoint::Tcp {
                host: self.address_of(unit)?,
                port: self.config.port,
            },
        })
    }

    fn own_connection(&self) -> Result<Connection<'_>, WorkloadError> {
        self.connection_to(&self.config.unit)
    }

    /// As root over the local socket (the only way in right after `--initialize`).
    fn root_connection(&self) -> Connection<'_> {
        Connection {
            user: users::ROOT,
            password: &self.config.passwords.root,
            endpoint: Endpoint::Socket(&self.config.socket),
        }
    }

    fn output_of(&self, command: &CommandSpec, stdout: &str) -> Result<String, WorkloadError> {
        after_marker(stdout)
            .map(|text| text.trim().to_owned())
            .ok_or_else(|| WorkloadError::UnexpectedOutput {
                command: command.command_line(),
                reason: "the script's output marker is missing".to_owned(),
            })
    }

    /// Runs a script and returns what it printed after its marker; a failure is a
    /// [`WorkloadError::Command`] with its stderr.
    fn script_output(&self, command: &CommandSpec) -> Result<String, WorkloadError> {
        let stdout = self.run_plain(command)?;
        self.output_of(command, &stdout)
    }

    fn other_units(&self) -> Vec<&str> {
        self.config
            .unit_addresses
            .keys()
            .map(String::as_str)
            .filter(|unit| *unit != self.config.unit)
            .collect()
    }

    fn snap_list(&self) -> Result<Option<(WorkloadRevision, bool)>, WorkloadError> {
        let command = self.snap(["list", &self.config.snap_name], self.config.timeouts.quick);
        match self.run_checked(&command) {
            Ok(stdout) => mysqlsh::parse_snap_list(&stdout, &self.config.snap_name)
                .map(Some)
                .map_err(|reason| WorkloadError::UnexpectedOutput {
                    command: command.command_line(),
                    reason,
                }),
            Err(Ok(failure)) if failure.stderr.contains("no matching snaps installed") => Ok(None),
            Err(Ok(failure)) => Err(WorkloadError::Command(failure)),
            Err(Err(error)) => Err(error),
        }
    }

    fn mark(&self) -> PathBuf {
        self.config.common_dir.join(INSTALLED_MARK)
    }

    fn write_mark(&self) -> Result<(), WorkloadError> {
        let mark = self.mark();
        std::fs::write(&mark, b"").map_err(|e| WorkloadError::io(&mark, e))
    }

    /// Installs `target` if needed, holds the snap against auto-refresh, sets the aliases,
    /// marks the installation as this charm's and confirms the revision now installed.
    fn ensure_installed(&self, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        let t = self.config.timeouts;
        let name = &self.config.snap_name;
        let current = self.snap_list()?;
        if current.is_some() && !self.mark().exists() {
            return Err(WorkloadError::Precondition {
                operation: format!("installing {name}"),
                reason: format!(
                    "{name} is already installed on this machine but not by this charm (no {}); \
                     another charm (e.g. MySQL Router) may use it",
                    self.mark().display()
                ),
            });
        }
        let revision = format!("--revision={}", target.revision);
        match &current {
            None => {
                self.run_plain(&self.snap(["install", name, &revision], t.snap_install))?;
            }
            Some((installed, _)) if installed.revision != target.revision => {
                self.run_plain(&self.snap(["refresh", name, &revision], t.snap_install))?;
            }
            Some(_) => {}
        }
        let held = match self.snap_list()? {
            Some((now, held)) if now.revision == target.revision => held,
            now => {
                return Err(WorkloadError::UnexpectedOutput {
                    command: format!("snap list {name}"),
                    reason: format!(
                        "revision {} expected after the refresh, found {}",
                        target.revision,
                        now.map_or_else(|| "none".to_owned(), |(n, _)| n.revision)
                    ),
                })
            }
        };
        if !held {
            self.run_plain(&self.snap(["refresh", "--hold", name], t.quick))?;
        }
        for alias in ALIASES {
            let app = format!("{name}.{alias}");
            match self.run_checked(&self.snap(["alias", &app, alias], t.quick)) {
                Ok(_) => {}
                // Older revisions do not ship mysqlbinlog (as Charmed MySQL tolerates).
                Err(Ok(failure)) if alias == "mysqlbinlog" => {
                    log::warn!("no {alias} alias: {failure}");
                }
                Err(e) => return Err(e.map_or_else(|err| err, WorkloadError::Command)),
            }
        }
        self.write_mark()
    }

    fn systemctl(&self, action: &str, unit: &str) -> Result<(), WorkloadError> {
        self.run_plain(
            &CommandSpec::new("systemctl", [action, unit]).with_timeout(self.config.timeouts.quick),
        )
        .map(drop)
    }

    fn start_service(&self) -> Result<(), WorkloadError> {
        let start = self.snap(
            ["start", "--enable", &self.service()],
            self.config.timeouts.service,
        );
        match self.run_checked(&start) {
            Ok(_) => Ok(()),
            Err(Ok(failure)) => Err(WorkloadError::StartFailed {
                unit: self.config.unit.clone(),
                reason: "the mysqld service did not start".to_owned(),
                failure: Some(failure),
            }),
            Err(Err(error)) => Err(error),
        }
    }

    /// Waits for the socket and, with `connect`, a `serverconfig` connection (Charmed
    /// MySQL's `wait_until_mysql_connection`).
    fn wait_until_connectable(&self, connect: bool) -> Result<(), WorkloadError> {
        let wait = self.config.start_wait;
        let attempts = wait.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            if !self.config.socket.exists() {
                last = format!("socket {} not found", self.config.socket.display());
            } else if !connect {
                return Ok(());
            } else {
                let check = self.mysqlsh(mysqlsh::check_connection(&self.own_connection()?));
                match self.run_checked(&check) {
                    Ok(_) => return Ok(()),
                    Err(Ok(failure)) => last = format!("no connection ({failure})"),
                    Err(Err(error)) => return Err(error),
                }
            }
            if attempt < attempts {
                self.sleeper.sleep(wait.interval);
            }
        }
        Err(WorkloadError::StartFailed {
            unit: self.config.unit.clone(),
            reason: format!(
                "not accepting connections after {} s: {last}",
                wait.total().as_secs()
            ),
            failure: None,
        })
    }

    /// This instance's Group Replication state and whether it is rejoining by itself;
    /// `None` when the server does not answer.
    fn member_state(&self) -> Result<Option<(MemberState, bool)>, WorkloadError> {
        let command = self.mysqlsh(mysqlsh::member_state(&self.own_connection()?));
        let stdout = match self.run_checked(&command) {
            Ok(stdout) => stdout,
            Err(Ok(failure)) => {
                log::debug!("member state unavailable: {failure}");
                return Ok(None);
            }
            Err(Err(error)) => return Err(error),
        };
        let output = self.output_of(&command, &stdout)?;
        let mut words = output.split_whitespace();
        match (words.next(), words.next()) {
            (Some(state), Some(rejoin)) => {
                Ok(Some((MemberState::parse(state), rejoin == "auto-rejoin")))
            }
            _ => Err(WorkloadError::UnexpectedOutput {
                command: command.command_line(),
                reason: format!("expected `<state> <auto-rejoin|no-rejoin>`, got {output:?}"),
            }),
        }
    }

    /// Holds while this instance is RECOVERING (Charmed MySQL's `hold_if_recovering`),
    /// at most `recovering_hold` looks.
    fn hold_if_recovering(&self) -> Result<(), WorkloadError> {
        let hold = self.config.recovering_hold;
        for _ in 0..hold.attempts {
            match self.member_state()? {
                Some((MemberState::Recovering, _)) => {
                    log::debug!("{} is recovering", self.config.unit);
                    self.sleeper.sleep(hold.interval);
                }
                _ => return Ok(()),
            }
        }
        log::warn!(
            "{} still RECOVERING after holding {} s",
            self.config.unit,
            hold.total().as_secs()
        );
        Ok(())
    }

    /// The ONLINE peer that answers, with the address of the cluster's primary as it sees
    /// it (Charmed MySQL's `_get_primary_from_online_peer`).
    fn online_peer_primary(&self) -> Result<(String, String), WorkloadError> {
        for peer in self.other_units() {
            let command = self.mysqlsh(mysqlsh::cluster_status(
                &self.connection_to(peer)?,
                &self.config.cluster_name,
                false,
            ));
            let status = match self.script_output(&command) {
                Ok(text) => mysqlsh::parse_cluster_status(&text).map_err(|reason| {
                    WorkloadError::UnexpectedOutput {
                        command: command.command_line(),
                        reason,
                    }
                })?,
                Err(WorkloadError::Command(failure)) => {
                    log::info!("{peer} does not answer: {failure}");
                    continue;
                }
                Err(other) => return Err(other),
            };
            if status.member(peer).map(|m| &m.state) != Some(&MemberState::Online) {
                continue;
            }
            if let Some(primary) = status.primary() {
                return Ok((peer.to_owned(), primary.to_owned()));
            }
        }
        Err(WorkloadError::NoDonor {
            unit: self.config.unit.clone(),
        })
    }

    /// Runs `work` holding the units-operations lock `task` on `primary`'s instance;
    /// released whatever `work` returns.
    fn with_lock<T>(
        &self,
        primary: &str,
        task: &str,
        work: impl FnOnce() -> Result<T, WorkloadError>,
    ) -> Result<T, WorkloadError> {
        let label = instance_label(&self.config.unit);
        let on = self.connection_to(primary)?;
        let wait = self.config.lock_wait;
        let mut acquired = false;
        for attempt in 1..=wait.attempts.max(1) {
            let command = self.mysqlsh(mysqlsh::acquire_lock(&on, task, &label));
            if self.script_output(&command)? == "1" {
                acquired = true;
                break;
            }
            log::info!(
                "the {task} lock is held by another unit ({attempt}/{})",
                wait.attempts
            );
            if attempt < wait.attempts {
                self.sleeper.sleep(wait.interval);
            }
        }
        if !acquired {
            return Err(WorkloadError::Precondition {
                operation: format!("{task} of {label}"),
                reason: format!(
                    "the units-operations lock {task} on {primary} stayed held by another unit for {} s",
                    wait.total().as_secs()
                ),
            });
        }
        let result = work();
        let release = self.mysqlsh(mysqlsh::release_lock(&on, task, &label));
        if let Err(err) = self.run_plain(&release) {
            log::error!("cannot release the {task} lock on {primary}: {err}");
            if result.is_ok() {
                return Err(err);
            }
        }
        result
    }

    /// Adds this instance to the cluster through `primary`, cloning its data, under the
    /// unit-add lock.
    fn add_to_cluster(&self, primary: &str) -> Result<(), WorkloadError> {
        let address = self.instance_address(&self.config.unit)?;
        let label = instance_label(&self.config.unit);
        self.with_lock(primary, UNIT_ADD_LOCK, || {
            let command = self.mysqlsh_with(
                mysqlsh::add_instance(
                    &self.connection_to(primary)?,
                    &self.config.cluster_name,
                    &address,
                    &label,
                ),
                self.config.timeouts.long_mysqlsh,
            );
            self.run_plain(&command).map(drop)
        })
    }

    /// Sets root's password with a one-off init file and starts mysqld on it (Charmed
    /// MySQL's `reset_root_password_and_start_mysqld`); the files are removed after.
    fn start_with_root_password(&self) -> Result<(), WorkloadError> {
        let dir = &self.config.mysqld_config_dir;
        let sql = self.config.common_dir.join("alter-root-user.sql");
        let cnf = dir.join("z-custom-init-file.cnf");
        let statement = format!(
            "ALTER USER 'root'@'localhost' IDENTIFIED BY {};\nFLUSH PRIVILEGES;\n",
            mysqlsh::sql_str(&self.config.passwords.root)
        );
        std::fs::write(&sql, statement).map_err(|e| WorkloadError::io(&sql, e))?;
        let result = (|| {
            std::fs::write(&cnf, format!("[mysqld]\ninit_file = {}\n", sql.display()))
                .map_err(|e| WorkloadError::io(&cnf, e))?;
            let owner = format!("{}:root", self.config.system_user);
            for file in [&sql, &cnf] {
                self.run_plain(
                    &CommandSpec::new("chown", [owner.as_str(), &file.display().to_string()])
                        .with_timeout(self.config.timeouts.quick),
                )?;
            }
            self.start_service()?;
            self.wait_until_connectable(false)
        })();
        for file in [&sql, &cnf] {
            if let Err(e) = std::fs::remove_file(file) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("cannot remove {}: {e}", file.display());
                }
            }
        }
        result
    }

    /// Deletes the data directory and creates it again, empty, owned by mysqld's user
    /// (Charmed MySQL's `reset_data_dir`).
    fn reset_data_dir(&self) -> Result<(), WorkloadError> {
        let dir = &self.config.data_dir;
        log::warn!("Resetting data directory: {}", dir.display());
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(WorkloadError::io(dir, e)),
        }
        std::fs::create_dir_all(dir).map_err(|e| WorkloadError::io(dir, e))?;
        let owner = format!("{}:root", self.config.system_user);
        self.run_plain(
            &CommandSpec::new("chown", [owner.as_str(), &dir.display().to_string()])
                .with_timeout(self.config.timeouts.quick),
        )
        .map(drop)
    }

    fn install_plugin_list(&self) -> Result<(), WorkloadError> {
        let mut plugins = Vec::new();
        for plugin in self
            .config
            .audit_log
            .then_some(AUDIT_LOG)
            .into_iter()
            .chain([BINLOG_UTILS])
        {
            if self.config.plugin_dir.join(plugin.1).exists() {
                plugins.push(plugin);
            } else {
                log::warn!("plugin {} file not found; not installed", plugin.0);
            }
        }
        if plugins.is_empty() {
            return Ok(());
        }
        let command = self.mysqlsh(mysqlsh::install_plugins(&self.own_connection()?, &plugins));
        self.run_plain(&command).map(drop)
    }
}

impl<R: CommandRunner, S: Sleeper> Workload for SnapWorkload<R, S> {
    fn installed_revision(&self) -> Result<Option<WorkloadRevision>, WorkloadError> {
        Ok(self.snap_list()?.map(|(revision, _)| revision))
    }

    fn install(&self, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        self.ensure_installed(target)
    }

    fn claim_installation(&self) -> Result<(), WorkloadError> {
        if self.snap_list()?.is_some() {
            self.write_mark()?;
        }
        Ok(())
    }

    fn stop(&self) -> Result<(), WorkloadError> {
        if self.snap_list()?.is_none() {
            log::debug!(
                "{} is not installed: nothing to stop",
                self.config.snap_name
            );
            return Ok(());
        }
        self.run_plain(&self.snap(
            ["stop", "--disable", &self.service()],
            self.config.timeouts.service,
        ))
        .map(drop)
    }

    fn start(&self) -> Result<(), WorkloadError> {
        self.start_service()?;
        self.wait_until_connectable(true)
    }

    fn pause_log_rotation(&self) -> Result<(), WorkloadError> {
        self.systemctl("stop", "cron")
    }

    fn resume_log_rotation(&self) -> Result<(), WorkloadError> {
        self.systemctl("start", "cron")
    }

    fn install_plugins(&self) -> Result<(), WorkloadError> {
        self.install_plugin_list()
    }

    fn running_version(&self) -> Result<Option<String>, WorkloadError> {
        let command = self.mysqlsh(mysqlsh::server_version(&self.own_connection()?));
        let version = self.script_output(&command)?;
        Ok((!version.is_empty()).then_some(version))
    }

    fn cluster_status(&self) -> Result<ClusterStatus, WorkloadError> {
        let unit = &self.config.unit;
        let command = self.mysqlsh(mysqlsh::cluster_status(
            &self.own_connection()?,
            &self.config.cluster_name,
            false,
        ));
        let stdout = self.run_checked(&command).map_err(|e| match e {
            Ok(failure) => WorkloadError::ServerUnavailable {
                unit: unit.clone(),
                reason: "cluster status failed".to_owned(),
                failure: Some(failure),
            },
            Err(error) => error,
        })?;
        let output = self.output_of(&command, &stdout)?;
        mysqlsh::parse_cluster_status(&output).map_err(|reason| WorkloadError::UnexpectedOutput {
            command: command.command_line(),
            reason,
        })
    }

    fn status_report(&self, cluster_set: bool) -> Result<serde_json::Value, WorkloadError> {
        let connection = self.own_connection()?;
        let script = if cluster_set {
            mysqlsh::cluster_set_status(&connection)
        } else {
            mysqlsh::cluster_status(&connection, &self.config.cluster_name, false)
        };
        let command = self.mysqlsh(script);
        let output = self.script_output(&command)?;
        mysqlsh::json_object(&output).map_err(|reason| WorkloadError::UnexpectedOutput {
            command: command.command_line(),
            reason,
        })
    }

    fn switch_primary(&self, unit: &str) -> Result<(), WorkloadError> {
        let address = self.instance_address(unit)?;
        let command = self.mysqlsh(mysqlsh::set_primary(
            &self.own_connection()?,
            &self.config.cluster_name,
            &address,
        ));
        self.run_checked(&command).map(drop).map_err(|e| match e {
            Ok(failure) => WorkloadError::SwitchoverFailed {
                unit: unit.to_owned(),
                reason: format!("set_primary_instance({address}) failed"),
                failure: Some(failure),
            },
            Err(error) => error,
        })
    }

    fn set_slow_shutdown(&self, unit: &str) -> Result<(), WorkloadError> {
        let command = self.mysqlsh(mysqlsh::slow_shutdown(&self.connection_to(unit)?));
        self.run_plain(&command).map(drop)
    }

    fn check_upgradable(&self, from_unit: &str) -> Result<(), WorkloadError> {
        let command = self.mysqlsh(mysqlsh::upgrade_check(&self.connection_to(from_unit)?));
        let stdout = self.run_checked(&command).map_err(|e| match e {
            Ok(failure) => WorkloadError::NotUpgradable {
                from_unit: from_unit.to_owned(),
                summary: "the upgrade checker failed".to_owned(),
                failure: Some(failure),
            },
            Err(error) => error,
        })?;
        let output = self.output_of(&command, &stdout)?;
        match mysqlsh::parse_upgrade_check(&output) {
            Ok(UpgradeCheck::SameVersion) => Ok(()),
            Ok(UpgradeCheck::Report { error_count: 0, .. }) => Ok(()),
            Ok(UpgradeCheck::Report { summary, .. }) => Err(WorkloadError::NotUpgradable {
                from_unit: from_unit.to_owned(),
                summary,
                failure: None,
            }),
            Err(reason) => Err(WorkloadError::UnexpectedOutput {
                command: command.command_line(),
                reason,
            }),
        }
    }

    /// Charmed MySQL's `recover_unit_after_restart`: each check first holds while the
    /// instance is RECOVERING, then accepts it ONLINE or RECOVERING in the cluster.
    fn wait_until_online(&self, retry: RetryPolicy) -> Result<(), WorkloadError> {
        let unit = &self.config.unit;
        let attempts = retry.attempts.max(1);
        let mut last_seen = String::new();
        for attempt in 1..=attempts {
            self.hold_if_recovering()?;
            match self.cluster_status() {
                Ok(status) => match status.member(unit).map(|m| m.state.clone()) {
                    Some(MemberState::Online | MemberState::Recovering) => return Ok(()),
                    Some(state) => last_seen = state.to_string(),
                    None => last_seen = "not in the cluster".to_owned(),
                },
                Err(WorkloadError::ServerUnavailable { failure, .. }) => {
                    last_seen = failure.map_or_else(|| "no answer".to_owned(), |f| f.to_string())
                }
                Err(other) => return Err(other),
            }
            log::debug!("Instance not yet back in the cluster. Retry {attempt}/{attempts}");
            if attempt < attempts {
                self.sleeper.sleep(retry.interval);
            }
        }
        Err(WorkloadError::NotBackOnline {
            unit: unit.clone(),
            attempts,
            last_seen,
        })
    }

    fn recover_after_restart(
        &self,
        _planned_units: usize,
        retry: RetryPolicy,
    ) -> Result<(), WorkloadError> {
        // A single unit's cluster was rebooted from complete outage before this (see
        // `reboot_from_complete_outage`); it is back when its only member is.
        self.wait_until_online(retry)
    }

    fn rejoin_if_offline(&self) -> Result<bool, WorkloadError> {
        match self.member_state()? {
            Some((MemberState::Offline, false)) => {}
            Some((MemberState::Offline, true)) => {
                log::info!("Cluster auto-rejoin attempts are still ongoing.");
                return Ok(false);
            }
            _ => return Ok(false),
        }
        let (peer, primary) = match self.online_peer_primary() {
            Ok(found) => found,
            Err(WorkloadError::NoDonor { .. }) => {
                log::warn!("Instance does not have ONLINE peers. Cannot perform manual rejoin");
                return Ok(false);
            }
            Err(other) => return Err(other),
        };
        let held =
            self.script_output(&self.mysqlsh(mysqlsh::locks_held(&self.connection_to(&primary)?)))?;
        if held != "0" {
            log::info!("waiting: cluster lock is held");
            return Ok(false);
        }
        log::info!("Rejoining {} through {peer}", self.config.unit);
        let address = self.instance_address(&self.config.unit)?;
        let command = self.mysqlsh_with(
            mysqlsh::rejoin_instance(
                &self.connection_to(&primary)?,
                &self.config.cluster_name,
                &address,
            ),
            self.config.timeouts.long_mysqlsh,
        );
        self.run_plain(&command)?;
        Ok(true)
    }

    fn downgrade_refused(&self) -> Result<bool, WorkloadError> {
        let path = &self.config.error_log;
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(WorkloadError::io(path, e)),
        };
        let log = String::from_utf8_lossy(&bytes);
        Ok(downgrade_refused_since_last_start(
            &log.lines().collect::<Vec<_>>(),
        ))
    }

    fn needs_setup(&self) -> bool {
        true
    }

    fn initialise(&self) -> Result<(), WorkloadError> {
        let p = &self.config.passwords;
        self.start_with_root_password()?;
        let users = [
            SystemUser {
                name: users::SERVER_CONFIG,
                password: &p.server_config,
                grants: "ALL ON *.* WITH GRANT OPTION",
                options: "",
            },
            SystemUser {
                name: users::MONITORING,
                password: &p.monitoring,
                grants: "SELECT, PROCESS, REPLICATION CLIENT ON *.*",
                options: "WITH MAX_USER_CONNECTIONS 3",
            },
            SystemUser {
                name: users::BACKUPS,
                password: &p.backups,
                grants: "BACKUP_ADMIN, PROCESS, RELOAD, LOCK TABLES, REPLICATION CLIENT ON *.*",
                options: "",
            },
        ];
        let command = self.mysqlsh(mysqlsh::configure_system_users(
            &self.root_connection(),
            &p.root,
            &users,
        ));
        self.run_plain(&command)?;
        self.install_plugin_list()?;
        let command = self.mysqlsh_with(
            mysqlsh::configure_instance(
                &self.own_connection()?,
                users::CLUSTER_ADMIN,
                &p.cluster_admin,
            ),
            self.config.timeouts.long_mysqlsh,
        );
        self.run_plain(&command)?;
        // configure_instance restarted mysqld.
        self.wait_until_connectable(true)
    }

    fn create_cluster(&self) -> Result<(), WorkloadError> {
        let connection = self.own_connection()?;
        let command = self.mysqlsh_with(
            mysqlsh::create_cluster(
                &connection,
                &self.config.cluster_name,
                &self.config.cluster_set_name,
                &self.instance_address(&self.config.unit)?,
                &instance_label(&self.config.unit),
            ),
            self.config.timeouts.long_mysqlsh,
        );
        self.run_plain(&command)?;
        self.run_plain(&self.mysqlsh(mysqlsh::create_lock_table(&connection)))
            .map(drop)
    }

    fn join_cluster(&self) -> Result<(), WorkloadError> {
        let (_, primary) = self.online_peer_primary()?;
        self.add_to_cluster(&primary)
    }

    fn update_password(&self, user: &str, password: &str) -> Result<(), WorkloadError> {
        let host = if user == users::ROOT {
            "localhost"
        } else {
            "%"
        };
        let (_, primary) = match self.cluster_status()?.primary() {
            Some(primary) => (String::new(), primary.to_owned()),
            None => self.online_peer_primary()?,
        };
        let command = self.mysqlsh(mysqlsh::update_password(
            &self.connection_to(&primary)?,
            user,
            host,
            password,
        ));
        self.run_plain(&command).map(drop)
    }

    /// Charmed MySQL's `_reset_on_unsupported_downgrade`: the data directory deleted and
    /// initialised again by the installed (older) server, the instance set up as at deploy,
    /// its stale incarnation rescanned out of the metadata, and the instance added back
    /// with a clone under the units-operations lock. The snap stays installed.
    fn reset_and_rejoin(&self) -> Result<(), WorkloadError> {
        let name = &self.config.snap_name;
        if self.snap_list()?.is_none() {
            return Err(WorkloadError::Precondition {
                operation: "reset".to_owned(),
                reason: format!("{name} is not installed"),
            });
        }
        let (_, primary) = self.online_peer_primary()?;
        self.stop()?;
        self.reset_data_dir()?;
        log::debug!("Initialize datadir after resetting it");
        let data_dir = format!("--datadir={}", self.config.data_dir.display());
        let user = format!("--user={}", self.config.system_user);
        self.run_plain(&self.snap(
            ["run", &self.service(), "--initialize", &data_dir, &user],
            self.config.timeouts.long_mysqlsh,
        ))?;
        self.initialise()?;
        let rescan = self.mysqlsh(mysqlsh::rescan_removing(
            &self.connection_to(&primary)?,
            &self.config.cluster_name,
        ));
        self.run_plain(&rescan)?;
        self.add_to_cluster(&primary)
    }

    fn reboot_from_complete_outage(&self) -> Result<(), WorkloadError> {
        let unit = &self.config.unit;
        if self
            .cluster_status()
            .ok()
            .and_then(|status| status.member(unit).map(|m| m.state == MemberState::Online))
            .unwrap_or(false)
        {
            return Ok(());
        }
        log::info!("Recovering single unit cluster");
        let command = self.mysqlsh_with(
            mysqlsh::reboot_from_complete_outage(
                &self.own_connection()?,
                &self.config.cluster_name,
            ),
            self.config.timeouts.long_mysqlsh,
        );
        self.run_plain(&command).map(drop)
    }
}
