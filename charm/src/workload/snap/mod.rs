//! The production workload: the `charmed-mysql` snap and MySQL Shell, as Charmed MySQL
//! (machines) drives them.
//!
//! **Not run against a real server.** Every command here is checked only by unit tests
//! with a mock [`CommandRunner`] and recorded outputs modelled on snapd's and MySQL
//! Shell's documented formats. The command lines follow Charmed MySQL's `src/upgrade.py`,
//! `src/mysql_vm_helpers.py` and `lib/charms/mysql/v0/mysql.py`:
//!
//! | operation | commands |
//! | --- | --- |
//! | installed revision | `snap list charmed-mysql` |
//! | install / refresh | `snap install` or `snap refresh charmed-mysql --revision=N`, `snap refresh --hold charmed-mysql`, then `snap list` to confirm |
//! | stop / start | `snap stop` / `snap start charmed-mysql.mysqld` (start then waits for the socket) |
//! | cluster status, switchover, slow shutdown, upgrade check, rejoin | `charmed-mysql.mysqlsh --no-wizard --python`, script on stdin |
//! | downgrade refused | reads `/var/snap/charmed-mysql/common/var/log/mysql/error.log` |
//!
//! Known gap: Charmed MySQL's reset after a refused downgrade also re-creates its users
//! and mysqld configuration (`workload_initialise`) between reinstalling the snap and
//! rejoining. That is charm knowledge (secrets, profiles) and is not done here;
//! [`SnapWorkload::reset_and_rejoin`] reinstalls, starts and asks a peer to clone this
//! instance back in.

mod mysqlsh;
mod runner;

#[cfg(any(test, feature = "mock"))]
pub use runner::MockCommandRunner;
pub use runner::{CommandOutput, CommandRunner, CommandSpec, ProcessRunner};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use mysqlsh::{after_marker, Connection, UpgradeCheck};

use super::cluster::instance_label;
use super::error_log::downgrade_refused_since_last_start;
use super::retry::wait_for_online;
use super::{
    ClusterStatus, CommandFailure, MemberState, RetryPolicy, Sleeper, Workload, WorkloadError,
    WorkloadRevision,
};

/// Where things are and who to be; the defaults are Charmed MySQL's.
#[derive(Clone)]
pub struct SnapConfig {
    /// This unit, e.g. `mysql/0`.
    pub unit: String,
    /// The InnoDB cluster's name.
    pub cluster_name: String,
    /// A MySQL user with cluster-admin rights (Charmed MySQL's `serverconfig`).
    pub user: String,
    /// Its password (sent on stdin only).
    pub password: String,
    /// Every unit's instance host (this one included), from the peer relation.
    pub unit_addresses: BTreeMap<String, String>,
    /// The MySQL classic-protocol port.
    pub port: u16,
    /// The snap, `charmed-mysql`.
    pub snap_name: String,
    /// mysqld's error log.
    pub error_log: PathBuf,
    /// mysqld's data directory (emptied by a reset).
    pub data_dir: PathBuf,
    /// mysqld's socket: its appearance means the server is up.
    pub socket: PathBuf,
    /// How long to wait for the socket after a start.
    pub start_wait: RetryPolicy,
}

impl SnapConfig {
    /// Charmed MySQL's layout, for `unit` in `cluster_name`.
    pub fn charmed_mysql(
        unit: impl Into<String>,
        cluster_name: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
        unit_addresses: BTreeMap<String, String>,
    ) -> Self {
        let common = PathBuf::from("/var/snap/charmed-mysql/common");
        Self {
            unit: unit.into(),
            cluster_name: cluster_name.into(),
            user: user.into(),
            password: password.into(),
            unit_addresses,
            port: 3306,
            snap_name: "charmed-mysql".to_owned(),
            error_log: common.join("var/log/mysql/error.log"),
            data_dir: common.join("var/lib/mysql"),
            socket: common.join("var/run/mysqld/mysqld.sock"),
            start_wait: RetryPolicy::SERVER_SOCKET,
        }
    }
}

impl fmt::Debug for SnapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapConfig")
            .field("unit", &self.unit)
            .field("cluster_name", &self.cluster_name)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("unit_addresses", &self.unit_addresses)
            .field("port", &self.port)
            .field("snap_name", &self.snap_name)
            .field("error_log", &self.error_log)
            .field("data_dir", &self.data_dir)
            .field("socket", &self.socket)
            .field("start_wait", &self.start_wait)
            .finish()
    }
}

/// The [`Workload`] of a machine unit running the `charmed-mysql` snap.
#[derive(Debug)]
pub struct SnapWorkload<R, S> {
    config: SnapConfig,
    runner: R,
    sleeper: S,
}

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

    /// Runs `command`; a non-zero exit becomes the [`CommandFailure`] in `Err(Ok(..))`,
    /// while a command that could not run at all is `Err(Err(..))`.
    fn run_checked(
        &self,
        command: &CommandSpec,
    ) -> Result<String, Result<CommandFailure, WorkloadError>> {
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

    fn snap<const N: usize>(&self, args: [&str; N]) -> CommandSpec {
        CommandSpec::new("snap", args)
    }

    fn service(&self) -> String {
        format!("{}.mysqld", self.config.snap_name)
    }

    fn mysqlsh(&self, script: String) -> CommandSpec {
        CommandSpec::new(
            format!("{}.mysqlsh", self.config.snap_name),
            ["--no-wizard", "--python"],
        )
        .with_stdin(script)
    }

    fn address_of(&self, unit: &str) -> Result<&str, WorkloadError> {
        self.config
            .unit_addresses
            .get(unit)
            .map(String::as_str)
            .ok_or_else(|| WorkloadError::UnknownUnit { unit: unit.into() })
    }

    fn connection_to(&self, unit: &str) -> Result<Connection<'_>, WorkloadError> {
        Ok(Connection {
            user: &self.config.user,
            password: &self.config.password,
            host: self.address_of(unit)?,
            port: self.config.port,
        })
    }

    fn output_of(&self, command: &CommandSpec, stdout: &str) -> Result<String, WorkloadError> {
        after_marker(stdout)
            .map(str::to_owned)
            .ok_or_else(|| WorkloadError::UnexpectedOutput {
                command: command.command_line(),
                reason: "the script's output marker is missing".to_owned(),
            })
    }

    fn install_command(&self, current: Option<&WorkloadRevision>, revision: &str) -> CommandSpec {
        let revision = format!("--revision={revision}");
        match current {
            None => self.snap(["install", &self.config.snap_name, &revision]),
            Some(_) => self.snap(["refresh", &self.config.snap_name, &revision]),
        }
    }

    /// Installs `target` if needed, holds the snap against auto-refresh, and confirms the
    /// revision now installed.
    fn ensure_installed(&self, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        let current = self.installed_revision()?;
        if current.as_ref().map(|c| &c.revision) != Some(&target.revision) {
            self.run_plain(&self.install_command(current.as_ref(), &target.revision))?;
        }
        self.run_plain(&self.snap(["refresh", "--hold", &self.config.snap_name]))?;
        match self.installed_revision()? {
            Some(now) if now.revision == target.revision => Ok(()),
            now => Err(WorkloadError::UnexpectedOutput {
                command: format!("snap list {}", self.config.snap_name),
                reason: format!(
                    "revision {} expected after the refresh, found {}",
                    target.revision,
                    now.map_or_else(|| "none".to_owned(), |n| n.revision)
                ),
            }),
        }
    }

    fn empty_data_dir(&self) -> Result<(), WorkloadError> {
        let dir = &self.config.data_dir;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(WorkloadError::io(dir, e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| WorkloadError::io(dir, e))?.path();
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| WorkloadError::io(&path, e))?;
        }
        Ok(())
    }
}

impl<R: CommandRunner, S: Sleeper> Workload for SnapWorkload<R, S> {
    fn installed_revision(&self) -> Result<Option<WorkloadRevision>, WorkloadError> {
        let command = self.snap(["list", &self.config.snap_name]);
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

    fn install(&self, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        self.ensure_installed(target)
    }

    fn stop(&self) -> Result<(), WorkloadError> {
        self.run_plain(&self.snap(["stop", &self.service()]))
            .map(drop)
    }

    fn start(&self) -> Result<(), WorkloadError> {
        let started = self.run_checked(&self.snap(["start", &self.service()]));
        match started {
            Ok(_) => {}
            Err(Ok(failure)) => {
                return Err(WorkloadError::StartFailed {
                    unit: self.config.unit.clone(),
                    reason: "the mysqld service did not start".to_owned(),
                    failure: Some(failure),
                })
            }
            Err(Err(error)) => return Err(error),
        }
        let wait = self.config.start_wait;
        for attempt in 1..=wait.attempts.max(1) {
            if self.config.socket.exists() {
                return Ok(());
            }
            if attempt < wait.attempts {
                self.sleeper.sleep(wait.interval);
            }
        }
        Err(WorkloadError::StartFailed {
            unit: self.config.unit.clone(),
            reason: format!("socket {} did not appear", self.config.socket.display()),
            failure: None,
        })
    }

    fn cluster_status(&self) -> Result<ClusterStatus, WorkloadError> {
        let unit = &self.config.unit;
        let command = self.mysqlsh(mysqlsh::cluster_status(
            &self.connection_to(unit)?,
            &self.config.cluster_name,
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

    fn switch_primary(&self, unit: &str) -> Result<(), WorkloadError> {
        let address = format!("{}:{}", self.address_of(unit)?, self.config.port);
        let command = self.mysqlsh(mysqlsh::set_primary(
            &self.connection_to(&self.config.unit)?,
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

    fn wait_until_online(&self, retry: RetryPolicy) -> Result<(), WorkloadError> {
        let unit = &self.config.unit;
        wait_for_online(
            unit,
            retry,
            || {
                Ok(self
                    .cluster_status()?
                    .member(unit)
                    .map(|m| m.state.clone())
                    .unwrap_or_else(|| MemberState::Other("not in the cluster".to_owned())))
            },
            |pause| self.sleeper.sleep(pause),
        )
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

    fn reset_and_rejoin(&self) -> Result<(), WorkloadError> {
        let unit = self.config.unit.clone();
        let installed = self
            .installed_revision()?
            .ok_or_else(|| WorkloadError::Precondition {
                operation: "reset".to_owned(),
                reason: format!("{} is not installed", self.config.snap_name),
            })?;
        let donors: Vec<&String> = self
            .config
            .unit_addresses
            .keys()
            .filter(|u| **u != unit)
            .collect();
        if donors.is_empty() {
            return Err(WorkloadError::NoDonor { unit });
        }
        self.stop()?;
        self.empty_data_dir()?;
        self.run_plain(&self.snap(["remove", &self.config.snap_name]))?;
        self.ensure_installed(&installed)?;
        self.start()?;
        let me = self.connection_to(&unit)?;
        let mut last_failure = None;
        for donor in donors {
            let command = self.mysqlsh(mysqlsh::rejoin(
                &self.connection_to(donor)?,
                &self.config.cluster_name,
                &me,
                &instance_label(&unit),
            ));
            match self.run_checked(&command) {
                Ok(_) => return Ok(()),
                Err(Ok(failure)) => {
                    log::warn!("rejoining {unit} through {donor} failed: {failure}");
                    last_failure = Some(failure);
                }
                Err(Err(error)) => return Err(error),
            }
        }
        match last_failure {
            Some(failure) => Err(WorkloadError::Command(failure)),
            None => Err(WorkloadError::NoDonor { unit }),
        }
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
        let command = self.mysqlsh(mysqlsh::reboot_from_complete_outage(
            &self.connection_to(unit)?,
            &self.config.cluster_name,
        ));
        self.run_plain(&command).map(drop)
    }
}
