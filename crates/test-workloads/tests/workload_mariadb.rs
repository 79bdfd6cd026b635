//! The MariaDB workload against real `mariadbd` servers, one per unit, in a temporary
//! model directory: upgrade and rollback of one unit, a start failure armed through the
//! faults file that really stops mariadbd from starting, switchover, restarts, and that
//! every row written is on every server.
//!
//! Needs MariaDB (`scripts/install-mariadb`). Without it the test prints why and
//! returns, except under `CI=true`, where a missing server is a failure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql_charm::workload::{
    MemberRole, MemberState, RetryPolicy, Workload, WorkloadError, WorkloadRevision,
};
use mysql_test_workloads::mariadb::{self, MariaDbBinaries, SqlClient, REFUSED_OPTION};
use mysql_test_workloads::{FaultKind, FaultPlan, FaultRule, MariaDbWorkload};

const UNITS: [&str; 3] = ["mysql/0", "mysql/1", "mysql/2"];

/// Budget for a member to be ONLINE: 60 s, checked every 500 ms by the workload.
const SETTLE: RetryPolicy = RetryPolicy {
    attempts: 120,
    interval: Duration::from_millis(500),
};

fn old_revision() -> WorkloadRevision {
    WorkloadRevision::new("8.0.34", "182")
}

fn new_revision() -> WorkloadRevision {
    WorkloadRevision::new("8.0.35", "183")
}

fn bad_revision() -> WorkloadRevision {
    WorkloadRevision::new("8.0.36", "184")
}

/// Whether the test can run; panics under CI without MariaDB.
fn mariadb_available() -> bool {
    if MariaDbBinaries::locate().is_some() {
        return true;
    }
    let message = "mariadbd, mariadb or mariadb-install-db not found: \
                   run `bash scripts/install-mariadb`";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (required when CI=true)");
    }
    eprintln!("SKIPPED workload_mariadb: {message}");
    false
}

/// Three units on three machines of one model, and a guard that stops their servers
/// whatever happens to the test.
struct Cluster {
    model: tempfile::TempDir,
    units: Vec<MariaDbWorkload>,
}

impl Cluster {
    fn new() -> Self {
        Self::with(|workload| workload)
    }

    /// Three Galera nodes.
    fn galera() -> Self {
        Self::with(MariaDbWorkload::with_galera)
    }

    fn with(configure: impl Fn(MariaDbWorkload) -> MariaDbWorkload) -> Self {
        let model = tempfile::tempdir().expect("temporary model directory");
        let units = UNITS
            .iter()
            .enumerate()
            .map(|(machine, unit)| {
                let machine_dir = model.path().join("machines").join(machine.to_string());
                configure(MariaDbWorkload::new(*unit, machine_dir, model.path()))
            })
            .collect();
        Self { model, units }
    }

    fn model_dir(&self) -> &Path {
        self.model.path()
    }

    fn unit(&self, n: usize) -> &MariaDbWorkload {
        &self.units[n]
    }

    fn arm(&self, plan: FaultPlan) {
        plan.save(self.model_dir()).expect("faults file");
    }

    /// A client on `n`'s server as the application user.
    fn app(&self, n: usize) -> SqlClient {
        self.unit(n).app_client().expect("client")
    }

    /// A client on the recorded primary.
    fn primary_app(&self) -> SqlClient {
        let primary = mariadb::recorded_primary(self.model_dir())
            .expect("primary file")
            .expect("a primary is recorded");
        let n = UNITS
            .iter()
            .position(|u| *u == primary)
            .expect("primary is one of the units");
        self.app(n)
    }

    fn count_rows(&self, n: usize) -> Result<u64, String> {
        self.app(n)
            .query("SELECT COUNT(*) AS n FROM demo.items")
            .map_err(|e| e.to_string())?
            .first("n")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| "no count".to_owned())
    }

    /// Waits until `n`'s server has exactly `rows` rows (replication is asynchronous).
    fn wait_for_rows(&self, n: usize, rows: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = Err("not asked".to_owned());
        while Instant::now() < deadline {
            last = self.count_rows(n);
            if last == Ok(rows) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} never had {rows} rows; last answer {last:?}", UNITS[n]);
    }

    fn insert_rows(&self, first: u64, count: u64) {
        let values: Vec<String> = (first..first + count)
            .map(|id| format!("({id}, 'row {id}')"))
            .collect();
        self.primary_app()
            .execute(&format!(
                "INSERT INTO demo.items (id, label) VALUES {};",
                values.join(", ")
            ))
            .expect("insert on the primary");
    }

    fn version_of(&self, n: usize) -> String {
        self.app(n)
            .query("SELECT @@version AS v")
            .expect("version query")
            .first("v")
            .expect("a version")
            .to_owned()
    }

    fn status(&self) -> mysql_charm::workload::ClusterStatus {
        self.unit(0).cluster_status().expect("cluster status")
    }

    fn wait_online(&self, n: usize) {
        self.unit(n)
            .wait_until_online(SETTLE)
            .unwrap_or_else(|e| panic!("{} not ONLINE: {e}", UNITS[n]));
    }

    /// Stop, switch revision, start, wait: what the charm does to an upgrading unit.
    fn refresh(&self, n: usize, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        let unit = self.unit(n);
        unit.stop()?;
        unit.install(target)?;
        unit.start()?;
        unit.wait_until_online(SETTLE)
    }

    fn server_pids(&self) -> Vec<(String, u32)> {
        mariadb::endpoints(self.model_dir())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| {
                let pid = std::fs::read_to_string(&e.pid_file)
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                alive_with_options(pid, &e.server_options).then_some((e.unit, pid))
            })
            .collect()
    }
}

/// Whether `pid` is a live mariadbd started with `options` (read from /proc).
fn alive_with_options(pid: u32, options: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let zombie = std::fs::read_to_string(proc_dir.join("stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true);
    let wanted = format!("--defaults-file={}", options.display());
    !zombie
        && std::fs::read(proc_dir.join("cmdline"))
            .map(|c| c.split(|b| *b == 0).any(|arg| arg == wanted.as_bytes()))
            .unwrap_or(false)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for unit in &self.units {
            if let Err(e) = unit.stop() {
                eprintln!("cleanup: stopping {} failed: {e}", unit.unit());
            }
        }
        // Anything that survived a clean stop is killed: no server outlives the test.
        for (unit, pid) in self.server_pids() {
            eprintln!("cleanup: killing leftover mariadbd {pid} of {unit}");
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn three_real_servers_upgrade_roll_back_refuse_a_bad_revision_and_keep_every_row() {
    if !mariadb_available() {
        return;
    }
    let cluster = Cluster::new();

    // Deploy: every unit installs the old revision and starts; the first one started
    // becomes the primary, the others replicate from it.
    for n in 0..3 {
        assert_eq!(cluster.unit(n).installed_revision().expect("read"), None);
        cluster.unit(n).install(&old_revision()).expect("install");
        cluster.unit(n).start().expect("start");
    }
    for n in 0..3 {
        cluster.wait_online(n);
    }
    let status = cluster.status();
    assert_eq!(status.online_units(), UNITS.to_vec());
    assert_eq!(status.primary(), Some("mysql/0"));
    let ports: Vec<u16> = (0..3)
        .map(|n| cluster.unit(n).port().expect("port"))
        .collect();
    assert_eq!(ports[1], ports[0] + 1);
    assert_eq!(ports[2], ports[0] + 2);
    for n in 0..3 {
        assert!(
            cluster.version_of(n).ends_with("-juju-sim-8.0.34-r182"),
            "{}",
            cluster.version_of(n)
        );
    }

    // Rows written on the primary reach every replica; replicas refuse writes.
    cluster
        .primary_app()
        .execute(
            "CREATE DATABASE demo; \
             CREATE TABLE demo.items (id BIGINT PRIMARY KEY, label VARCHAR(64)) ENGINE=InnoDB;",
        )
        .expect("schema");
    cluster.insert_rows(1, 100);
    for n in 0..3 {
        cluster.wait_for_rows(n, 100);
    }
    let refused = cluster
        .app(2)
        .execute("INSERT INTO demo.items VALUES (9999, 'on a replica')")
        .expect_err("a replica is read-only");
    assert!(refused.stderr.contains("read-only"), "{}", refused.stderr);

    // Upgrade one unit: it comes back ONLINE on the new revision with every row, and
    // follows the rows written while it was away.
    cluster.unit(2).stop().expect("stop");
    assert!(!cluster.unit(2).is_running().expect("running?"));
    cluster.insert_rows(101, 50);
    cluster
        .unit(2)
        .install(&new_revision())
        .expect("install new");
    cluster.unit(2).start().expect("start new");
    cluster.wait_online(2);
    assert!(cluster.version_of(2).ends_with("-juju-sim-8.0.35-r183"));
    assert_eq!(
        cluster.unit(2).installed_revision().expect("read"),
        Some(new_revision())
    );
    cluster.wait_for_rows(2, 150);
    let status = cluster.status();
    assert_eq!(
        status
            .member("mysql/2")
            .and_then(|m| m.version.clone())
            .as_deref(),
        Some("8.0.35")
    );

    // Roll it back.
    cluster.refresh(2, &old_revision()).expect("rollback");
    assert!(cluster.version_of(2).ends_with("-juju-sim-8.0.34-r182"));
    cluster.insert_rows(151, 10);
    cluster.wait_for_rows(2, 160);

    // An armed start failure is a real refusal by mariadbd.
    cluster
        .arm(FaultPlan::default().arm(FaultRule::new(FaultKind::StartFails).for_version("8.0.36")));
    let unit1 = cluster.unit(1);
    unit1.stop().expect("stop");
    unit1.install(&bad_revision()).expect("install bad");
    let options = std::fs::read_to_string(unit1.revision_options_file("184")).expect("options");
    assert!(options.contains(REFUSED_OPTION), "{options}");
    let error = unit1.start().expect_err("the bad revision must not start");
    match &error {
        WorkloadError::StartFailed { unit, failure, .. } => {
            assert_eq!(unit, "mysql/1");
            let log = &failure.as_ref().expect("the failed command").stderr;
            assert!(log.contains("unknown variable"), "{log}");
            assert!(log.contains(REFUSED_OPTION), "{log}");
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
    assert!(!unit1.is_running().expect("running?"));
    assert!(!unit1.downgrade_refused().expect("log"));
    let status = cluster.status();
    assert_eq!(
        status.member("mysql/1").map(|m| m.state.clone()),
        Some(MemberState::Offline)
    );
    assert_eq!(status.online_units(), vec!["mysql/0", "mysql/2"]);
    // The others keep serving while it is down.
    cluster.insert_rows(161, 10);
    cluster.wait_for_rows(2, 170);
    // Rolling back repairs it, data intact and caught up.
    cluster
        .refresh(1, &old_revision())
        .expect("rollback of the failed unit");
    cluster.wait_for_rows(1, 170);
    cluster.arm(FaultPlan::default());

    // Switchover to the last unit: the old primary turns into a replica of it.
    cluster
        .unit(0)
        .set_slow_shutdown("mysql/0")
        .expect("slow shutdown");
    cluster
        .unit(0)
        .switch_primary("mysql/2")
        .expect("switchover");
    assert_eq!(
        cluster.unit(1).primary().expect("primary").as_deref(),
        Some("mysql/2")
    );
    cluster.wait_online(0);
    cluster.wait_online(1);
    cluster.insert_rows(171, 10);
    for n in 0..3 {
        cluster.wait_for_rows(n, 180);
    }
    let status = cluster.status();
    assert_eq!(
        status.member("mysql/0").and_then(|m| m.role),
        Some(MemberRole::Secondary)
    );
    assert!(cluster.unit(0).check_upgradable("mysql/2").is_ok());

    // Stopping the primary hands its role to the lowest-numbered ONLINE replica.
    cluster.unit(2).stop().expect("stop primary");
    assert_eq!(
        mariadb::recorded_primary(cluster.model_dir())
            .expect("read")
            .as_deref(),
        Some("mysql/0")
    );
    cluster.insert_rows(181, 10);
    cluster.unit(2).start().expect("restart");
    cluster.wait_online(2);

    // Data survives a restart of every server.
    for n in 0..3 {
        cluster.unit(n).stop().expect("stop");
    }
    assert!(
        cluster.server_pids().is_empty(),
        "{:?}",
        cluster.server_pids()
    );
    for n in 0..3 {
        cluster.unit(n).start().expect("start again");
    }
    for n in 0..3 {
        cluster.wait_online(n);
        cluster.wait_for_rows(n, 190);
    }
    let ids = cluster
        .app(1)
        .query("SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(DISTINCT id) AS n FROM demo.items")
        .expect("query");
    assert_eq!(
        (ids.first("lo"), ids.first("hi"), ids.first("n")),
        (Some("1"), Some("190"), Some("190"))
    );

    // The guard's clean stop leaves nothing running.
    let pids = cluster.server_pids();
    assert_eq!(pids.len(), 3, "{pids:?}");
    let model_dir = cluster.model_dir().to_owned();
    let recorded = mariadb::endpoints(&model_dir).expect("endpoints");
    drop(cluster);
    for endpoint in recorded {
        let pid: Option<u32> = std::fs::read_to_string(&endpoint.pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        assert!(
            !matches!(pid, Some(pid) if alive_with_options(pid, &endpoint.server_options)),
            "{} still running",
            endpoint.unit
        );
    }
}

#[test]
fn refuses_what_a_real_server_cannot_do() {
    if !mariadb_available() {
        return;
    }
    let cluster = Cluster::new();
    let unit = cluster.unit(0);
    assert!(matches!(
        unit.start(),
        Err(WorkloadError::Precondition { .. })
    ));
    assert!(matches!(
        unit.cluster_status(),
        Err(WorkloadError::ServerUnavailable { .. })
    ));
    unit.install(&old_revision()).expect("install");
    unit.start().expect("start");
    assert!(matches!(
        unit.install(&new_revision()),
        Err(WorkloadError::Precondition { .. })
    ));
    assert!(matches!(
        unit.reset_and_rejoin(),
        Err(WorkloadError::NoDonor { .. })
    ));
    assert!(matches!(
        unit.switch_primary("mysql/7"),
        Err(WorkloadError::UnknownUnit { .. })
    ));
    // Another process holding the next unit's port is caught before mariadbd starts.
    let port = cluster.unit(1).port().expect("port");
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    cluster.unit(1).install(&old_revision()).expect("install");
    match cluster.unit(1).start() {
        Err(WorkloadError::StartFailed { reason, .. }) => {
            assert!(reason.contains(&port.to_string()), "{reason}")
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
    drop(squatter);
}

/// What a Galera node's error log says about how it joined.
fn error_log_of(unit: &MariaDbWorkload) -> String {
    std::fs::read_to_string(unit.error_log()).expect("error log")
}

#[test]
fn galera_nodes_rejoin_by_ist_are_online_only_when_synced_and_a_lone_former_member_waits() {
    if !mariadb_available() {
        return;
    }
    if !Path::new(mariadb::GALERA_PROVIDER).is_file() {
        let message = "no Galera provider: run `bash scripts/install-mariadb`";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message} (required when CI=true)");
        }
        eprintln!("SKIPPED galera: {message}");
        return;
    }
    let cluster = Cluster::galera();
    for n in 0..3 {
        cluster.unit(n).install(&old_revision()).expect("install");
        cluster.unit(n).start().expect("start");
        cluster.wait_online(n);
    }
    let status = cluster.status();
    assert_eq!(status.online_units(), UNITS.to_vec());
    assert_eq!(status.primary(), Some("mysql/0"));
    assert!(
        error_log_of(cluster.unit(0)).contains("--wsrep-new-cluster"),
        "the first node bootstraps the cluster"
    );
    cluster
        .primary_app()
        .execute(
            "CREATE DATABASE demo; \
             CREATE TABLE demo.items (id BIGINT PRIMARY KEY, label VARCHAR(64)) ENGINE=InnoDB;",
        )
        .expect("schema");
    cluster.insert_rows(1, 50);
    for n in 0..3 {
        cluster.wait_for_rows(n, 50);
    }

    // A stopped node misses writes; started again it rejoins by IST, and is ONLINE only
    // once Galera reports it Synced.
    let ists = |log: &str| log.matches("IST received").count();
    let donated = |log: &str| {
        log.lines()
            .filter(|l| l.contains("--role 'donor'") && !l.contains("--bypass"))
            .count()
    };
    let before = ists(&error_log_of(cluster.unit(2)));
    let full_before: usize = (0..2)
        .map(|n| donated(&error_log_of(cluster.unit(n))))
        .sum();
    cluster.unit(2).stop().expect("stop");
    assert_eq!(
        cluster.status().member("mysql/2").map(|m| m.state.clone()),
        Some(MemberState::Offline)
    );
    cluster.insert_rows(51, 50);
    cluster.refresh(2, &new_revision()).expect("rejoined");
    let log = error_log_of(cluster.unit(2));
    assert_eq!(ists(&log), before + 1, "{log}");
    let full_after: usize = (0..2)
        .map(|n| donated(&error_log_of(cluster.unit(n))))
        .sum();
    assert_eq!(
        full_after, full_before,
        "no full state transfer for a restart"
    );
    cluster.wait_for_rows(2, 100);
    assert!(cluster.version_of(2).ends_with("-juju-sim-8.0.35-r183"));

    // The primary hands over to a Synced node when it stops.
    cluster.unit(0).stop().expect("stop the primary");
    let status = cluster.unit(1).cluster_status().expect("status");
    assert_eq!(status.primary(), Some("mysql/1"));
    cluster.insert_rows(101, 10);

    // With every other node down, a former member does not form a cluster of its own.
    cluster.unit(2).stop().expect("stop");
    cluster.unit(1).stop().expect("stop the last node");
    match cluster.unit(0).start() {
        Err(WorkloadError::StartFailed { reason, .. }) => {
            assert!(reason.contains("bootstrapped"), "{reason}")
        }
        other => panic!("a lone former member started: {other:?}"),
    }
    assert!(!cluster.unit(0).is_running().expect("process check"));
}
