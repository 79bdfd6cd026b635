//! A real database under the charm in `juju-sim`: one `mariadbd` per unit, chosen when
//! the hook environment has `JUJU_SIM_WORKLOAD=mariadb`.
//!
//! The emulated workload proves the charm's logic; this one proves that a failed upgrade
//! can be rolled back while a real database keeps serving. MariaDB (Debian's package,
//! installed by `scripts/install-mariadb`) stands in for MySQL: what the charm does to
//! the server, stop, switch revision, start, check, is the same.
//!
//! # One server per unit
//!
//! Each unit's server lives in `<machine dir>/mariadb-<app>-<n>/`: `data/` (created once
//! with `mariadb-install-db`), `my.cnf` (rewritten at every start), `revisions/<revision>.cnf`,
//! `installed.json`, the error log and the pid file. It listens on 127.0.0.1 only, on
//! port `base + n` where `n` is the unit number and `base` is the model's (the
//! `JUJU_SIM_MARIADB_BASE_PORT` variable, or derived once from the model directory and
//! kept in `<model dir>/mariadb/base-port`); a start first checks that the port is free.
//! The server runs as the current user (`user = root` when that is root), in its own
//! process group with no tie to the hook's output, so it outlives the hook; it is
//! stopped with SIGTERM (a clean shutdown, slow when `innodb_fast_shutdown=0` was set)
//! and waited for.
//!
//! # Revisions
//!
//! A workload revision is an options file the charm installs: it sets `version` so that
//! `SELECT @@version` reports `<server version>-juju-sim-<version>-r<revision>`, and the
//! server's `my.cnf` includes the installed revision's file. Upgrading or rolling back
//! is stop, install (switch the included file), start; a start is healthy when a real
//! SQL connection answers. With a servers directory (`JUJU_SIM_MARIADB_SERVERS`, as
//! `scripts/install-mariadb` fills it with the two newest versions Debian serves), each
//! revision runs the server of its own version, `<dir>/<version>/usr/sbin/mariadbd`, on
//! the unit's one data directory: an upgrade or a rollback then changes the real binary.
//! Without one, the system's server runs every revision. When the faults file of the model
//! (`<model dir>/mysql-faults.json`, [`FaultPlan`]) arms `start-fails` for a version,
//! that revision's options file gets an option mariadbd does not know
//! ([`REFUSED_OPTION`]): the server really refuses to start, and
//! [`WorkloadError::StartFailed`] carries the tail of its error log.
//!
//! # The cluster
//!
//! The primary is the unit named in `<model dir>/mariadb/primary` (claimed by the first
//! server to start). The others replicate from it with MariaDB's GTID replication over
//! loopback (every server writes a binary log with `log-slave-updates`, so any of them
//! can become the primary and serve the whole history to a new replica). Replicas run
//! `read_only`; the application user has no right to bypass it. A member is ONLINE when
//! its server answers and, for a replica, replicates from the primary without lag (see
//! the rules in `topology`). Switching the primary makes the old one read-only, waits
//! until the new one has applied everything (`MASTER_GTID_WAIT`), promotes it and
//! re-points the others; stopping the primary first hands its role to the lowest-numbered
//! ONLINE replica, as Group Replication elects a new primary when the old one leaves.
//!
//! # Galera
//!
//! With `JUJU_SIM_MARIADB_REPLICATION=galera` the servers form a Galera cluster instead
//! (Debian's galera-4 provider, [`GALERA_PROVIDER`]): each node listens on loopback for
//! SQL, group communication, incremental (IST) and full (SST, by mariabackup) state
//! transfers, one quarter of the model's port range each ([`GALERA_UNITS`] units at
//! most). The first node of a new cluster bootstraps it; any other start joins the nodes
//! of the address book, and a former member that finds no other node up refuses to start
//! (the cluster must be bootstrapped from its most advanced node). A node is ONLINE only
//! when the server reports `Synced` in the primary component: the charm's wait for a
//! member to be back asks the server, never a timer. The recorded primary alone takes
//! the client's writes (the others run `read_only`), as in single-primary mode.
//!
//! Every other unit's server is found through `<model dir>/mariadb/units/<app>-<n>.json`
//! ([`MariaDbEndpoint`]), written when a server starts; [`endpoints`] and
//! [`recorded_primary`] read them for test clients.
//!
//! Faults honoured besides `start-fails`: `no-rejoin` (the replica does not start
//! replicating, so it stays OFFLINE), `status-unavailable` (cluster status is refused)
//! and `upgrade-check-fails`. `downgrade-refused` is not simulated: a MariaDB server
//! refusing another version's data is read from its real error log
//! ([`Workload::downgrade_refused`]); within a release series MariaDB accepts both ways.
//! [`Workload::reboot_from_complete_outage`] has no group to re-form: the lone server
//! that holds the primary role serves once it answers.

mod layout;
mod options;
mod server;
mod sql;
mod topology;

pub use layout::{MariaDbEndpoint, PORT_SPAN, SHARED_DIR_NAME};
pub use options::{GALERA_PROVIDER, REFUSED_OPTION};
pub use server::MariaDbBinaries;
pub use sql::{QueryResult, SqlClient};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use layout::{
    create_exclusive, derived_base_port, parse_json, read_optional, to_json, write_atomically,
    Secrets, SharedPaths, UnitPaths, ADMIN_USER, APP_USER, REPLICATION_USER,
};
use options::ServerIdentity;
use sql::sql_text;
use topology::{member_view, probe, Probe};

use mysql_charm::workload::{
    wait_for_online, ClusterMember, ClusterStatus, CommandFailure, MemberState, RetryPolicy,
    Workload, WorkloadError, WorkloadRevision,
};

use crate::{FaultKind, FaultPlan};

/// The hook-environment variable that selects a workload in `juju-sim`.
pub const WORKLOAD_ENV_VAR: &str = "JUJU_SIM_WORKLOAD";
/// The value of [`WORKLOAD_ENV_VAR`] that selects this workload.
pub const WORKLOAD_ENV_VALUE: &str = "mariadb";
/// The hook-environment variable that fixes the model's port base (optional).
pub const BASE_PORT_ENV_VAR: &str = "JUJU_SIM_MARIADB_BASE_PORT";
/// The hook-environment variable naming a directory of unpacked servers, one per version
/// (`<dir>/<version>/usr/sbin/mariadbd`, as `scripts/install-mariadb` leaves them): a
/// revision then runs the server of its own version (optional; without it the system's
/// server runs every revision).
pub const SERVERS_ENV_VAR: &str = "JUJU_SIM_MARIADB_SERVERS";
/// The hook-environment variable that picks how the servers replicate: `galera` for a
/// Galera cluster, anything else (or nothing) for GTID replication from the primary.
pub const REPLICATION_ENV_VAR: &str = "JUJU_SIM_MARIADB_REPLICATION";
/// The value of [`REPLICATION_ENV_VAR`] that makes the servers a Galera cluster.
pub const GALERA: &str = "galera";
/// Units of a Galera model: each needs four ports (SQL, group communication, IST, SST),
/// so the model's port range holds this many.
pub const GALERA_UNITS: u16 = PORT_SPAN / 4;

/// How long a starting server may take to answer before the start counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a clean shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a new primary may take to apply what the old one wrote.
const CATCH_UP_TIMEOUT_SECS: u32 = 60;
/// The longest pause between two checks of [`Workload::wait_until_online`]: the
/// charm's budgets are sized for MySQL (10 s apart); a local server settles faster.
const ONLINE_POLL: Duration = Duration::from_millis(500);
/// Error-log lines kept in a start failure.
const LOG_TAIL_LINES: usize = 15;

/// What mariadbd logs when a start begins (`Starting MariaDB <version> ... as process N`).
const START_LINE: &str = "Starting MariaDB";
/// Error-log messages by which mariadbd refuses data written by another server version.
const DATA_REFUSALS: [&str; 4] = [
    "MY-013171",
    "Downgrade is not supported",
    "Upgrade after a crash is not supported",
    "Unsupported redo log format",
];

/// The [`Workload`] of one unit backed by a real `mariadbd`.
#[derive(Debug, Clone)]
pub struct MariaDbWorkload {
    unit: String,
    paths: UnitPaths,
    shared: SharedPaths,
    model_dir: PathBuf,
    base_port: Option<u16>,
    binaries: Option<MariaDbBinaries>,
    servers: Option<PathBuf>,
    galera: bool,
}

impl MariaDbWorkload {
    /// The workload of `unit`, whose machine directory is `machine_dir`, in the model at
    /// `model_dir`. The MariaDB programs are looked up now; a missing one is reported by
    /// the first operation that needs it.
    pub fn new(
        unit: impl Into<String>,
        machine_dir: impl AsRef<Path>,
        model_dir: impl Into<PathBuf>,
    ) -> Self {
        let unit = unit.into();
        let model_dir = model_dir.into();
        Self {
            paths: UnitPaths::new(machine_dir.as_ref(), &unit),
            shared: SharedPaths::new(&model_dir),
            unit,
            model_dir,
            base_port: None,
            binaries: MariaDbBinaries::locate(),
            servers: None,
            galera: false,
        }
    }

    /// Makes the model's servers a Galera cluster (Debian's galera-4 provider, state
    /// transfers by mariabackup) instead of GTID replicas of the primary.
    pub fn with_galera(mut self) -> Self {
        self.galera = true;
        self
    }

    /// Runs each revision on the server of its version unpacked under `dir`
    /// (`<dir>/<version>/`); a revision whose version is not there cannot be installed.
    pub fn with_servers(mut self, dir: impl Into<PathBuf>) -> Self {
        self.servers = Some(dir.into());
        self
    }

    /// Fixes the model's port base instead of deriving it (every unit of the model must
    /// use the same one).
    pub fn with_base_port(mut self, base_port: u16) -> Self {
        self.base_port = Some(base_port);
        self
    }

    /// Uses these programs instead of the ones found on `PATH`.
    pub fn with_binaries(mut self, binaries: MariaDbBinaries) -> Self {
        self.binaries = Some(binaries);
        self
    }

    /// The workload of the hook's unit when the hook environment (looked up with `var`)
    /// selects it with `JUJU_SIM_WORKLOAD=mariadb` under `juju-sim`; `None` otherwise.
    /// `JUJU_SIM_MARIADB_BASE_PORT`, when set, fixes the port base.
    pub fn from_hook_env(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if var(WORKLOAD_ENV_VAR)?.trim() != WORKLOAD_ENV_VALUE {
            return None;
        }
        let workload = Self::new(
            var("JUJU_UNIT_NAME")?,
            var("JUJU_SIM_MACHINE_DIR")?,
            var("JUJU_SIM_MODEL_DIR")?,
        );
        let workload = match var(BASE_PORT_ENV_VAR).and_then(|p| p.trim().parse().ok()) {
            Some(base) => workload.with_base_port(base),
            None => workload,
        };
        let workload = match var(SERVERS_ENV_VAR).filter(|d| !d.trim().is_empty()) {
            Some(dir) => workload.with_servers(dir.trim()),
            None => workload,
        };
        Some(match var(REPLICATION_ENV_VAR) {
            Some(mode) if mode.trim() == GALERA => workload.with_galera(),
            _ => workload,
        })
    }

    /// The unit this workload belongs to.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// This unit's directory (data, options, logs).
    pub fn unit_dir(&self) -> &Path {
        &self.paths.root
    }

    /// The server's error log.
    pub fn error_log(&self) -> &Path {
        &self.paths.error_log
    }

    /// The options file written for `revision` (by [`Workload::install`], and again at
    /// every start of that revision).
    pub fn revision_options_file(&self, revision: &str) -> PathBuf {
        self.paths.revision_options(revision)
    }

    /// The loopback port this unit's server listens on.
    pub fn port(&self) -> Result<u16, WorkloadError> {
        let number = unit_number(&self.unit).ok_or_else(|| WorkloadError::UnknownUnit {
            unit: self.unit.clone(),
        })?;
        let base = self.base_port()?;
        let refuse = |reason: String| WorkloadError::Precondition {
            operation: format!("choose a port for {}", self.unit),
            reason,
        };
        let span = if self.galera { GALERA_UNITS } else { PORT_SPAN };
        if number >= span {
            return Err(refuse(format!(
                "unit number {number} is beyond the model's {span} units"
            )));
        }
        base.checked_add(number)
            .ok_or_else(|| refuse(format!("base port {base} + {number} overflows")))
    }

    /// How clients reach this unit's server (known before the first start).
    pub fn endpoint(&self) -> Result<MariaDbEndpoint, WorkloadError> {
        Ok(MariaDbEndpoint {
            unit: self.unit.clone(),
            port: self.port()?,
            app_client_options: self.paths.app_client.clone(),
            admin_client_options: self.paths.admin_client.clone(),
            server_options: self.paths.server_options.clone(),
            pid_file: self.paths.pid.clone(),
            revision: self.installed_revision()?,
        })
    }

    /// A client logged in as the application user on this unit's server.
    pub fn app_client(&self) -> Result<SqlClient, WorkloadError> {
        Ok(SqlClient::new(
            &self.binaries()?.client,
            &self.paths.app_client,
        ))
    }

    /// Whether this unit's `mariadbd` process is alive.
    pub fn is_running(&self) -> Result<bool, WorkloadError> {
        Ok(server::running_pid(&self.paths.pid, &self.paths.server_options)?.is_some())
    }

    fn binaries(&self) -> Result<&MariaDbBinaries, WorkloadError> {
        self.binaries
            .as_ref()
            .ok_or_else(|| WorkloadError::Precondition {
                operation: "run MariaDB".into(),
                reason: "mariadbd, mariadb or mariadb-install-db not found \
                         (run scripts/install-mariadb)"
                    .into(),
            })
    }

    /// The Galera ports of the unit whose SQL port is `port`: group communication, IST
    /// and SST, each in its own quarter of the model's port range.
    fn galera_ports(&self, port: u16) -> Result<(u16, u16, u16), WorkloadError> {
        let base = self.base_port()?;
        let offset = port.saturating_sub(base);
        Ok((
            base + GALERA_UNITS + offset,
            base + 2 * GALERA_UNITS + offset,
            base + 3 * GALERA_UNITS + offset,
        ))
    }

    /// Whether no other server of the model runs: a Galera node then has no group to
    /// join.
    fn alone(&self) -> Result<bool, WorkloadError> {
        Ok(!read_endpoints(&self.shared)?
            .iter()
            .any(|e| e.unit != self.unit && endpoint_process_alive(e)))
    }

    /// The programs that run `version`: its unpacked server when the model has a servers
    /// directory, the system's server otherwise.
    fn binaries_for(&self, version: &str) -> Result<MariaDbBinaries, WorkloadError> {
        let system = self.binaries()?;
        let Some(servers) = &self.servers else {
            return Ok(system.clone());
        };
        let root = servers.join(version);
        MariaDbBinaries::unpacked(&root, &system.client).ok_or_else(|| {
            WorkloadError::Precondition {
                operation: format!("run MariaDB {version}"),
                reason: format!(
                    "no server of version {version} is unpacked in {} (run scripts/install-mariadb)",
                    servers.display()
                ),
            }
        })
    }

    fn base_port(&self) -> Result<u16, WorkloadError> {
        if let Some(base) = self.base_port {
            return Ok(base);
        }
        let path = &self.shared.base_port;
        if let Some(text) = read_optional(path)? {
            return parse_port(path, &text);
        }
        let derived = derived_base_port(&self.model_dir);
        if create_exclusive(path, derived.to_string().as_bytes(), 0o644)? {
            return Ok(derived);
        }
        parse_port(path, &read_optional(path)?.unwrap_or_default())
    }

    fn faults(&self) -> Result<FaultPlan, WorkloadError> {
        FaultPlan::load(&self.model_dir)
    }

    fn admin_client(&self, endpoint: &MariaDbEndpoint) -> Result<SqlClient, WorkloadError> {
        Ok(SqlClient::new(
            &self.binaries()?.client,
            &endpoint.admin_client_options,
        ))
    }

    fn require_installed(&self, operation: &str) -> Result<WorkloadRevision, WorkloadError> {
        self.installed_revision()?
            .ok_or_else(|| WorkloadError::Precondition {
                operation: operation.to_owned(),
                reason: format!("nothing is installed on {}", self.unit),
            })
    }

    fn endpoint_of(&self, unit: &str) -> Result<MariaDbEndpoint, WorkloadError> {
        if unit == self.unit {
            return self.endpoint();
        }
        read_endpoint(&self.shared, unit)?
            .ok_or_else(|| WorkloadError::UnknownUnit { unit: unit.into() })
    }

    /// What `endpoint`'s server answers; `Err` when it does not.
    fn probe(&self, endpoint: &MariaDbEndpoint) -> Result<Probe, WorkloadError> {
        let unavailable =
            |reason: &str, failure: Option<CommandFailure>| WorkloadError::ServerUnavailable {
                unit: endpoint.unit.clone(),
                reason: reason.to_owned(),
                failure,
            };
        if !endpoint_process_alive(endpoint) {
            return Err(unavailable("mariadbd is not running", None));
        }
        probe(&self.admin_client(endpoint)?, self.galera)
            .map_err(|failure| unavailable("no answer to SQL", Some(failure)))
    }

    /// Writes this unit's entry in the model's address book.
    fn publish_endpoint(&self) -> Result<(), WorkloadError> {
        let endpoint = self.endpoint()?;
        let path = self.shared.unit_record(&self.unit);
        write_atomically(&path, &to_json(&path, &endpoint)?, 0o644)
    }

    fn write_private_files(&self, port: u16, secrets: &Secrets) -> Result<(), WorkloadError> {
        let files = [
            (&self.paths.init_sql, options::init_sql(secrets)),
            (
                &self.paths.admin_client,
                options::client_options(port, ADMIN_USER, &secrets.admin_password),
            ),
            (
                &self.paths.app_client,
                options::client_options(port, APP_USER, &secrets.app_password),
            ),
        ];
        for (path, text) in files {
            write_atomically(path, text.as_bytes(), 0o600)?;
        }
        Ok(())
    }

    /// Writes `target`'s options file with the faults armed now.
    fn write_revision_options(&self, target: &WorkloadRevision) -> Result<PathBuf, WorkloadError> {
        let start_fails =
            self.faults()?
                .is_armed(FaultKind::StartFails, &self.unit, Some(&target.version));
        let server_version = self.binaries_for(&target.version)?.server_version()?;
        let text = options::revision_options(target, &server_version, start_fails);
        let path = self.paths.revision_options(&target.revision);
        write_atomically(&path, text.as_bytes(), 0o644)?;
        Ok(path)
    }

    fn start_failed(&self, reason: String, failure: Option<CommandFailure>) -> WorkloadError {
        WorkloadError::StartFailed {
            unit: self.unit.clone(),
            reason,
            failure,
        }
    }

    /// Starts the server and waits until it answers SQL, or fails with its error log.
    fn boot(&self, installed: &WorkloadRevision) -> Result<(), WorkloadError> {
        let binaries = self.binaries_for(&installed.version)?;
        let as_root = server::running_as_root();
        let port = self.port()?;
        server::initialise_data_dir(&binaries, &self.paths, as_root)?;
        std::fs::create_dir_all(&self.paths.tmp)
            .map_err(|e| WorkloadError::io(&self.paths.tmp, e))?;
        let secrets = Secrets::load_or_create(&self.shared)?;
        self.write_private_files(port, &secrets)?;
        if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
            return Err(self.start_failed(
                format!("port {port} on 127.0.0.1 is taken by another process: {e}"),
                None,
            ));
        }
        let revision_file = self.write_revision_options(installed)?;
        let server_id = u64::from(unit_number(&self.unit).unwrap_or(0)) + 1;
        // Galera: every node of the address book is a peer; the first node of a new
        // cluster bootstraps it, any other start joins (and fails when nobody is up).
        let sst_auth = format!("{ADMIN_USER}:{}", secrets.admin_password);
        let mut peers = Vec::new();
        let mut bootstrap = false;
        let galera = if self.galera {
            let (gcomm_port, ist_port, sst_port) = self.galera_ports(port)?;
            for endpoint in read_endpoints(&self.shared)? {
                if endpoint.unit != self.unit {
                    peers.push(self.galera_ports(endpoint.port)?.0);
                }
            }
            peers.push(gcomm_port);
            if self.alone()? {
                if self.paths.data.join("grastate.dat").exists() {
                    return Err(self.start_failed(
                        "no other Galera node is up to join, and this node was a member: \
                         the cluster must be bootstrapped from its most advanced node"
                            .into(),
                        None,
                    ));
                }
                bootstrap = true;
            }
            Some(options::GaleraIdentity {
                gcomm_port,
                ist_port,
                sst_port,
                peers: &peers,
                sst_auth: &sst_auth,
            })
        } else {
            None
        };
        let text = options::server_options(&ServerIdentity {
            paths: &self.paths,
            port,
            server_id,
            run_as_root: as_root,
            revision_file: &revision_file,
            basedir: binaries.basedir.as_deref(),
            galera,
        })?;
        write_atomically(&self.paths.server_options, text.as_bytes(), 0o600)?;
        self.publish_endpoint()?;

        let log_start = server::log_offset(&self.paths.error_log);
        let command = format!(
            "{} {}",
            binaries.server.display(),
            server::defaults_arg(&self.paths)
        );
        let extra: &[&str] = if bootstrap {
            &["--wsrep-new-cluster"]
        } else {
            &[]
        };
        let mut child = server::spawn_server(&binaries, &self.paths, extra)?;
        let admin = SqlClient::new(&binaries.client, &self.paths.admin_client);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut tail = server::log_tail(&self.paths.error_log, log_start, LOG_TAIL_LINES);
                if tail.is_empty() {
                    tail = server::log_tail(&self.paths.console_log, 0, LOG_TAIL_LINES);
                }
                return Err(self.start_failed(
                    format!("mariadbd exited during start ({status})"),
                    Some(CommandFailure {
                        command,
                        exit_code: status.code(),
                        stderr: tail,
                    }),
                ));
            }
            if admin.execute("SELECT 1").is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                let _ = server::send_signal(child.id(), "KILL");
                let _ = child.wait();
                return Err(self.start_failed(
                    format!("mariadbd did not answer SQL within {START_TIMEOUT:?}; killed"),
                    Some(CommandFailure {
                        command,
                        exit_code: None,
                        stderr: server::log_tail(&self.paths.error_log, log_start, LOG_TAIL_LINES),
                    }),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        server::reap_in_background(child);
        Ok(())
    }

    /// After a start: claim the primary role if nobody holds it, then either become
    /// writable (the primary) or replicate from the primary.
    fn take_role(&self, installed: &WorkloadRevision) -> Result<(), WorkloadError> {
        let me = self.endpoint()?;
        create_exclusive(&self.shared.primary, self.unit.as_bytes(), 0o644)?;
        let primary = recorded_primary_in(&self.shared)?;
        let admin = self.admin_client(&me)?;
        if primary.as_deref() == Some(self.unit.as_str()) {
            return admin
                .execute("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;")
                .map_err(WorkloadError::Command);
        }
        if self
            .faults()?
            .is_armed(FaultKind::NoRejoin, &self.unit, Some(&installed.version))
        {
            log::warn!("{}: not replicating (armed fault no-rejoin)", self.unit);
            return Ok(());
        }
        let Some(primary) = primary else {
            return Ok(());
        };
        if self.galera {
            // Galera replicates to every node; only the primary takes the client's writes.
            return admin
                .execute("SET GLOBAL read_only = 1;")
                .map_err(WorkloadError::Command);
        }
        let source = self.endpoint_of(&primary)?;
        self.replicate_from(&me, source.port)
    }

    /// Points `replica`'s server at the server on `source_port` and starts replicating.
    fn replicate_from(
        &self,
        replica: &MariaDbEndpoint,
        source_port: u16,
    ) -> Result<(), WorkloadError> {
        let secrets = Secrets::load_or_create(&self.shared)?;
        let sql = format!(
            "STOP SLAVE;\n\
             SET GLOBAL read_only = 1;\n\
             CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {source_port}, \
             MASTER_USER = {user}, MASTER_PASSWORD = {password}, \
             MASTER_USE_GTID = current_pos, MASTER_CONNECT_RETRY = 1;\n\
             START SLAVE;\n",
            user = sql_text(REPLICATION_USER),
            password = sql_text(&secrets.replication_password),
        );
        self.admin_client(replica)?
            .execute(&sql)
            .map_err(WorkloadError::Command)
    }

    /// Every server in the address book with what it answered (`None`: no answer).
    fn survey(&self) -> Result<Vec<(MariaDbEndpoint, Option<Probe>)>, WorkloadError> {
        read_endpoints(&self.shared)?
            .into_iter()
            .map(|endpoint| {
                let answer = self.probe(&endpoint).ok();
                Ok((endpoint, answer))
            })
            .collect()
    }

    /// Makes `target` the primary: the old primary (if it answers) turns read-only, the
    /// target applies everything it wrote, becomes writable, and the others follow it.
    fn promote(&self, target: &MariaDbEndpoint) -> Result<(), WorkloadError> {
        let failed =
            |reason: String, failure: Option<CommandFailure>| WorkloadError::SwitchoverFailed {
                unit: target.unit.clone(),
                reason,
                failure,
            };
        let target_admin = self.admin_client(target)?;
        let old = recorded_primary_in(&self.shared)?.filter(|old| *old != target.unit);
        let old_endpoint = match &old {
            Some(unit) => read_endpoint(&self.shared, unit)?.filter(|e| self.probe(e).is_ok()),
            None => None,
        };
        if self.galera {
            // Galera certifies every commit on all nodes before acknowledging it: no
            // position to wait for; the old primary stops taking writes first.
            if let Some(old_endpoint) = &old_endpoint {
                self.admin_client(old_endpoint)?
                    .execute("SET GLOBAL read_only = 1;")
                    .map_err(|f| {
                        failed("the old primary did not turn read-only".into(), Some(f))
                    })?;
            }
            target_admin
                .execute("SET GLOBAL read_only = 0;")
                .map_err(|f| failed("the new primary did not become writable".into(), Some(f)))?;
            write_atomically(&self.shared.primary, target.unit.as_bytes(), 0o644)?;
            log::info!("MariaDB (Galera) primary is now {}", target.unit);
            return Ok(());
        }
        if let Some(old_endpoint) = &old_endpoint {
            let old_admin = self.admin_client(old_endpoint)?;
            let position = old_admin
                .execute("SET GLOBAL read_only = 1;")
                .and_then(|()| old_admin.query("SELECT @@gtid_binlog_pos AS pos"))
                .map_err(|f| failed("the old primary did not turn read-only".into(), Some(f)))?
                .first("pos")
                .unwrap_or_default()
                .to_owned();
            let waited = target_admin
                .query(&format!(
                    "SELECT MASTER_GTID_WAIT({}, {CATCH_UP_TIMEOUT_SECS}) AS waited",
                    sql_text(&position)
                ))
                .map_err(|f| failed("could not wait for replication".into(), Some(f)))?;
            if waited.first("waited") != Some("0") {
                let _ = old_admin.execute("SET GLOBAL read_only = 0;");
                return Err(failed(
                    format!(
                        "{} did not apply the primary's transactions up to {position} \
                         within {CATCH_UP_TIMEOUT_SECS} s",
                        target.unit
                    ),
                    None,
                ));
            }
        }
        target_admin
            .execute("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;")
            .map_err(|f| failed("the new primary did not become writable".into(), Some(f)))?;
        write_atomically(&self.shared.primary, target.unit.as_bytes(), 0o644)?;
        log::info!("MariaDB primary is now {}", target.unit);
        for endpoint in read_endpoints(&self.shared)? {
            if endpoint.unit == target.unit || !endpoint_process_alive(&endpoint) {
                continue;
            }
            if let Err(e) = self.replicate_from(&endpoint, target.port) {
                // It follows the new primary at its next start.
                log::warn!("{} does not follow {} yet: {e}", endpoint.unit, target.unit);
            }
        }
        Ok(())
    }

    /// Before the primary stops: hand the role to the lowest-numbered ONLINE replica.
    fn hand_over_primary(&self) -> Result<(), WorkloadError> {
        let primary_port = Some(self.port()?);
        let successor = self
            .survey()?
            .into_iter()
            .filter(|(endpoint, answer)| {
                endpoint.unit != self.unit
                    && member_view(false, answer.as_ref(), primary_port).0 == MemberState::Online
            })
            .map(|(endpoint, _)| endpoint)
            .min_by_key(|e| (unit_number(&e.unit).unwrap_or(u16::MAX), e.unit.clone()));
        match successor {
            Some(next) => self.promote(&next),
            None => {
                log::info!("{}: no ONLINE replica to take over as primary", self.unit);
                Ok(())
            }
        }
    }

    /// The member state of this unit's server, for one check of `wait_until_online`.
    fn own_member_state(&self) -> Result<MemberState, WorkloadError> {
        let me = self.endpoint()?;
        let answer = self.probe(&me)?;
        let primary = recorded_primary_in(&self.shared)?;
        let primary_port = match &primary {
            Some(unit) => read_endpoint(&self.shared, unit)?.map(|e| e.port),
            None => None,
        };
        let is_primary = primary.as_deref() == Some(self.unit.as_str());
        Ok(member_view(is_primary, Some(&answer), primary_port).0)
    }
}

impl Workload for MariaDbWorkload {
    fn installed_revision(&self) -> Result<Option<WorkloadRevision>, WorkloadError> {
        let path = &self.paths.installed;
        read_optional(path)?
            .map(|text| parse_json(path, &text))
            .transpose()
    }

    fn install(&self, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        options::check_revision(target)?;
        if self.is_running()? {
            return Err(WorkloadError::Precondition {
                operation: format!("install {}", target.revision),
                reason: format!("mariadbd is running on {}; stop it first", self.unit),
            });
        }
        self.write_revision_options(target)?;
        let path = &self.paths.installed;
        write_atomically(path, &to_json(path, target)?, 0o644)
    }

    fn stop(&self) -> Result<(), WorkloadError> {
        let Some(pid) = server::running_pid(&self.paths.pid, &self.paths.server_options)? else {
            return Ok(());
        };
        if recorded_primary_in(&self.shared)?.as_deref() == Some(self.unit.as_str()) {
            if let Err(e) = self.hand_over_primary() {
                log::warn!(
                    "{}: stopping the primary without a successor: {e}",
                    self.unit
                );
            }
        }
        if let Err(e) = server::send_signal(pid, "TERM") {
            if server::is_our_server(pid, &self.paths.server_options) {
                return Err(e);
            }
        }
        if server::wait_until_gone(pid, &self.paths.server_options, STOP_TIMEOUT) {
            return Ok(());
        }
        log::warn!(
            "{}: mariadbd {pid} ignored SIGTERM for {STOP_TIMEOUT:?}; killing it",
            self.unit
        );
        server::send_signal(pid, "KILL")?;
        if server::wait_until_gone(pid, &self.paths.server_options, Duration::from_secs(10)) {
            Ok(())
        } else {
            Err(WorkloadError::Precondition {
                operation: "stop".into(),
                reason: format!("mariadbd {pid} of {} survived SIGKILL", self.unit),
            })
        }
    }

    fn start(&self) -> Result<(), WorkloadError> {
        let installed = self.require_installed("start")?;
        if self.is_running()? {
            return Ok(());
        }
        self.boot(&installed)?;
        if let Err(e) = self.take_role(&installed) {
            // The server is up; the charm's wait for ONLINE reports the missing role.
            log::warn!(
                "{}: mariadbd started but did not take its role: {e}",
                self.unit
            );
        }
        Ok(())
    }

    fn cluster_status(&self) -> Result<ClusterStatus, WorkloadError> {
        let me = self.endpoint()?;
        let installed_version = me.revision.as_ref().map(|r| r.version.clone());
        if self.faults()?.is_armed(
            FaultKind::StatusUnavailable,
            &self.unit,
            installed_version.as_deref(),
        ) {
            return Err(WorkloadError::ServerUnavailable {
                unit: self.unit.clone(),
                reason: "no answer (armed fault)".into(),
                failure: None,
            });
        }
        self.probe(&me)?;
        let primary = recorded_primary_in(&self.shared)?;
        let survey = self.survey()?;
        let primary_port = survey
            .iter()
            .find(|(e, _)| Some(&e.unit) == primary.as_ref())
            .map(|(e, _)| e.port);
        let members = survey.into_iter().map(|(endpoint, answer)| {
            let is_primary = Some(&endpoint.unit) == primary.as_ref();
            let (state, role) = member_view(is_primary, answer.as_ref(), primary_port);
            ClusterMember {
                address: Some(format!("127.0.0.1:{}", endpoint.port)),
                version: endpoint.revision.map(|r| r.version),
                unit: endpoint.unit,
                state,
                role,
            }
        });
        Ok(ClusterStatus::from_members(members))
    }

    fn switch_primary(&self, unit: &str) -> Result<(), WorkloadError> {
        let status = self.cluster_status()?;
        let target = status
            .member(unit)
            .ok_or_else(|| WorkloadError::UnknownUnit { unit: unit.into() })?;
        if status.primary() == Some(unit) {
            return Ok(());
        }
        if target.state != MemberState::Online {
            return Err(WorkloadError::SwitchoverFailed {
                unit: unit.to_owned(),
                reason: format!("{unit} is {}, not ONLINE", target.state),
                failure: None,
            });
        }
        self.promote(&self.endpoint_of(unit)?)
    }

    fn set_slow_shutdown(&self, unit: &str) -> Result<(), WorkloadError> {
        let endpoint = self.endpoint_of(unit)?;
        self.probe(&endpoint)?;
        self.admin_client(&endpoint)?
            .execute("SET GLOBAL innodb_fast_shutdown = 0")
            .map_err(|failure| WorkloadError::ServerUnavailable {
                unit: unit.to_owned(),
                reason: "could not set innodb_fast_shutdown".into(),
                failure: Some(failure),
            })
    }

    fn check_upgradable(&self, from_unit: &str) -> Result<(), WorkloadError> {
        let installed = self.require_installed("upgrade check")?;
        let from = self.endpoint_of(from_unit)?;
        let answer = self.probe(&from)?;
        if self.faults()?.is_armed(
            FaultKind::UpgradeCheckFails,
            &self.unit,
            Some(&installed.version),
        ) {
            return Err(WorkloadError::NotUpgradable {
                from_unit: from_unit.to_owned(),
                summary: format!(
                    "upgrade checker of {} reported 1 error against {} (armed fault)",
                    installed.version, answer.version
                ),
                failure: None,
            });
        }
        Ok(())
    }

    fn wait_until_online(&self, retry: RetryPolicy) -> Result<(), WorkloadError> {
        let budget = retry.interval.saturating_mul(retry.attempts.max(1));
        let step = retry
            .interval
            .min(ONLINE_POLL)
            .max(Duration::from_millis(1));
        let checks = u32::try_from(budget.as_millis() / step.as_millis())
            .unwrap_or(u32::MAX)
            .max(retry.attempts.max(1));
        let fine = RetryPolicy {
            attempts: checks,
            interval: step,
        };
        let mut done = 0;
        wait_for_online(
            &self.unit,
            fine,
            || {
                done += 1;
                if !self.is_running()? {
                    // A dead server does not come back by waiting.
                    return Err(WorkloadError::NotBackOnline {
                        unit: self.unit.clone(),
                        attempts: done,
                        last_seen: "mariadbd is not running".into(),
                    });
                }
                self.own_member_state()
            },
            std::thread::sleep,
        )
    }

    fn downgrade_refused(&self) -> Result<bool, WorkloadError> {
        let text = read_optional(&self.paths.error_log)?.unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let since = lines
            .iter()
            .rposition(|line| line.contains(START_LINE))
            .unwrap_or(0);
        Ok(lines[since..]
            .iter()
            .any(|line| DATA_REFUSALS.iter().any(|code| line.contains(code))))
    }

    fn reset_and_rejoin(&self) -> Result<(), WorkloadError> {
        let installed = self.require_installed("reset")?;
        let donor = self
            .survey()?
            .into_iter()
            .find(|(endpoint, answer)| endpoint.unit != self.unit && answer.is_some())
            .map(|(endpoint, _)| endpoint)
            .ok_or_else(|| WorkloadError::NoDonor {
                unit: self.unit.clone(),
            })?;
        self.stop()?;
        if recorded_primary_in(&self.shared)?.as_deref() == Some(self.unit.as_str()) {
            // Never wipe the primary's data while it is the primary.
            self.promote(&donor)?;
        }
        if self.paths.data.exists() {
            std::fs::remove_dir_all(&self.paths.data)
                .map_err(|e| WorkloadError::io(&self.paths.data, e))?;
        }
        log::warn!(
            "{}: data directory re-initialised; replaying the primary's binary log",
            self.unit
        );
        self.boot(&installed)?;
        self.take_role(&installed)
    }

    /// Replication from one primary has no group to re-form: a server that holds the
    /// primary role serves on its own as soon as it answers.
    fn reboot_from_complete_outage(&self) -> Result<(), WorkloadError> {
        if !self.is_running()? {
            return Err(WorkloadError::ServerUnavailable {
                unit: self.unit.clone(),
                reason: "mariadbd is not running".into(),
                failure: None,
            });
        }
        match recorded_primary_in(&self.shared)? {
            Some(primary) if primary == self.unit => Ok(()),
            other => Err(WorkloadError::Precondition {
                operation: "reboot cluster from complete outage".to_owned(),
                reason: format!(
                    "{} is not the primary (the primary is {})",
                    self.unit,
                    other.as_deref().unwrap_or("nobody")
                ),
            }),
        }
    }
}

/// The unit number of `app/N`, if it fits a port offset.
fn unit_number(unit: &str) -> Option<u16> {
    juju_ops::context::parse_unit_name(unit).and_then(|(_, n)| u16::try_from(n).ok())
}

fn parse_port(path: &Path, text: &str) -> Result<u16, WorkloadError> {
    text.trim()
        .parse()
        .map_err(|e| WorkloadError::BadStateFile {
            path: path.to_owned(),
            reason: format!("not a port: {e}"),
        })
}

/// Whether the server behind an address-book entry is alive (without asking it SQL).
fn endpoint_process_alive(endpoint: &MariaDbEndpoint) -> bool {
    matches!(
        server::running_pid(&endpoint.pid_file, &endpoint.server_options),
        Ok(Some(_))
    )
}

fn read_endpoint(
    shared: &SharedPaths,
    unit: &str,
) -> Result<Option<MariaDbEndpoint>, WorkloadError> {
    let path = shared.unit_record(unit);
    read_optional(&path)?
        .map(|text| parse_json(&path, &text))
        .transpose()
}

fn read_endpoints(shared: &SharedPaths) -> Result<Vec<MariaDbEndpoint>, WorkloadError> {
    let entries = match std::fs::read_dir(&shared.units) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WorkloadError::io(&shared.units, e)),
    };
    let mut endpoints = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| WorkloadError::io(&shared.units, e))?
            .path();
        let is_record = path.extension().is_some_and(|x| x == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !is_record {
            continue;
        }
        if let Some(text) = read_optional(&path)? {
            endpoints.push(parse_json::<MariaDbEndpoint>(&path, &text)?);
        }
    }
    endpoints.sort_by_key(|e| (unit_number(&e.unit).unwrap_or(u16::MAX), e.unit.clone()));
    Ok(endpoints)
}

fn recorded_primary_in(shared: &SharedPaths) -> Result<Option<String>, WorkloadError> {
    Ok(read_optional(&shared.primary)?
        .map(|text| text.trim().to_owned())
        .filter(|unit| !unit.is_empty()))
}

/// Every unit server of the model at `model_dir` that has started at least once, in
/// unit-number order: how test clients find the servers.
pub fn endpoints(model_dir: &Path) -> Result<Vec<MariaDbEndpoint>, WorkloadError> {
    read_endpoints(&SharedPaths::new(model_dir))
}

/// The unit recorded as the primary of the model at `model_dir` (the one to write to).
pub fn recorded_primary(model_dir: &Path) -> Result<Option<String>, WorkloadError> {
    recorded_primary_in(&SharedPaths::new(model_dir))
}

/// Stops every running server of the model at `model_dir` (SIGTERM, SIGKILL if one
/// ignores it) and returns the units whose server was running. For tests and tools that
/// throw a model away; the charm stops its own unit with [`Workload::stop`], which hands
/// the primary role over first.
pub fn stop_all_servers(model_dir: &Path) -> Result<Vec<String>, WorkloadError> {
    let mut stopped = Vec::new();
    for endpoint in endpoints(model_dir)? {
        let options = &endpoint.server_options;
        let Some(pid) = server::running_pid(&endpoint.pid_file, options)? else {
            continue;
        };
        if server::send_signal(pid, "TERM").is_err()
            || !server::wait_until_gone(pid, options, STOP_TIMEOUT)
        {
            let _ = server::send_signal(pid, "KILL");
            server::wait_until_gone(pid, options, Duration::from_secs(10));
        }
        stopped.push(endpoint.unit);
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const SIM: [(&str, &str); 3] = [
        ("JUJU_UNIT_NAME", "mysql/2"),
        ("JUJU_SIM_MACHINE_DIR", "/model/machines/2"),
        ("JUJU_SIM_MODEL_DIR", "/model"),
    ];

    #[test]
    fn chosen_only_when_the_hook_environment_asks_for_it() {
        assert!(MariaDbWorkload::from_hook_env(env(&SIM)).is_none());
        let mut other = SIM.to_vec();
        other.push((WORKLOAD_ENV_VAR, "emulated"));
        assert!(MariaDbWorkload::from_hook_env(env(&other)).is_none());

        let mut chosen = SIM.to_vec();
        chosen.push((WORKLOAD_ENV_VAR, "mariadb"));
        chosen.push((BASE_PORT_ENV_VAR, "31000"));
        let workload = MariaDbWorkload::from_hook_env(env(&chosen)).expect("selected");
        assert_eq!(workload.unit(), "mysql/2");
        assert_eq!(workload.port().expect("port"), 31_002);
        assert_eq!(
            workload.unit_dir(),
            Path::new("/model/machines/2/mariadb-mysql-2")
        );

        let outside_sim = [(WORKLOAD_ENV_VAR, "mariadb"), ("JUJU_UNIT_NAME", "mysql/2")];
        assert!(MariaDbWorkload::from_hook_env(env(&outside_sim)).is_none());
    }

    #[test]
    fn ports_are_base_plus_unit_number_and_the_base_is_kept_for_the_model() {
        let model = tempfile::tempdir().expect("tempdir");
        let machine = model.path().join("machines").join("0");
        let zero = MariaDbWorkload::new("db/0", &machine, model.path());
        let seven = MariaDbWorkload::new("db/7", &machine, model.path());
        let base = zero.port().expect("port");
        assert_eq!(seven.port().expect("port"), base + 7);
        let kept = std::fs::read_to_string(model.path().join("mariadb").join("base-port"))
            .expect("base port file");
        assert_eq!(kept.trim().parse::<u16>().expect("number"), base);

        let far = MariaDbWorkload::new("db/100", &machine, model.path());
        assert!(matches!(
            far.port(),
            Err(WorkloadError::Precondition { .. })
        ));
        let nameless = MariaDbWorkload::new("db", &machine, model.path());
        assert!(matches!(
            nameless.port(),
            Err(WorkloadError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn downgrade_refusals_count_only_after_the_last_start() {
        let model = tempfile::tempdir().expect("tempdir");
        let workload = MariaDbWorkload::new("db/0", model.path().join("m"), model.path());
        std::fs::create_dir_all(workload.unit_dir()).expect("dir");
        std::fs::write(
            workload.error_log(),
            "[Note] Starting MariaDB 10.11 as process 1\n\
             [ERROR] InnoDB: Upgrade after a crash is not supported.\n",
        )
        .expect("log");
        assert!(workload.downgrade_refused().expect("read"));
        let mut log = std::fs::read_to_string(workload.error_log()).expect("read");
        log.push_str("[Note] Starting MariaDB 10.11 as process 2\n[Note] ready for connections\n");
        std::fs::write(workload.error_log(), log).expect("log");
        assert!(!workload.downgrade_refused().expect("read"));
    }
}
