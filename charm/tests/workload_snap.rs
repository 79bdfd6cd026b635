//! `SnapWorkload` against a mock command runner: the exact snap and MySQL Shell commands,
//! realistic outputs, and failures mapped to typed errors that keep stderr.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockall::Sequence;
use mysql_charm::workload::{
    CommandOutput, CommandRunner, CommandSpec, MemberRole, MemberState, MockCommandRunner,
    ProcessRunner, RetryPolicy, Sleeper, SnapConfig, SnapWorkload, Workload, WorkloadError,
    WorkloadRevision,
};

const MYSQLSH: &str = "charmed-mysql.mysqlsh";
const PASSWORD: &str = "s3cr3t 'pw\"";

const SNAP_LIST_182: &str = "\
Name           Version                  Rev  Tracking    Publisher        Notes
charmed-mysql  8.0.34-0ubuntu0.22.04.1  182  8.0/stable  dataplatformbot  held
";
const SNAP_LIST_183: &str = "\
Name           Version                  Rev  Tracking    Publisher        Notes
charmed-mysql  8.0.35-0ubuntu0.22.04.1  183  8.0/stable  dataplatformbot  held
";

/// `cluster.status()` as MySQL Shell 8.0 prints it: mysql/2 stopped, mysql/1 primary.
const STATUS_JSON: &str = r#"{
    "clusterName": "cluster-abc",
    "defaultReplicaSet": {
        "name": "default",
        "primary": "10.0.0.2:3306",
        "ssl": "REQUIRED",
        "status": "OK_NO_TOLERANCE_PARTIAL",
        "statusText": "Cluster is NOT tolerant to any failures. 1 member is not active.",
        "topology": {
            "mysql-0": {
                "address": "10.0.0.1:3306",
                "memberRole": "SECONDARY",
                "mode": "R/O",
                "readReplicas": {},
                "replicationLag": "applier_queue_applied",
                "role": "HA",
                "status": "ONLINE",
                "version": "8.0.34"
            },
            "mysql-1": {
                "address": "10.0.0.2:3306",
                "memberRole": "PRIMARY",
                "mode": "R/W",
                "readReplicas": {},
                "replicationLag": "applier_queue_applied",
                "role": "HA",
                "status": "ONLINE",
                "version": "8.0.34"
            },
            "mysql-2": {
                "address": "10.0.0.3:3306",
                "instanceErrors": ["NOTE: group_replication is stopped."],
                "memberRole": "SECONDARY",
                "memberState": "OFFLINE",
                "mode": "R/O",
                "readReplicas": {},
                "role": "HA",
                "status": "(MISSING)",
                "version": "8.0.35"
            }
        },
        "topologyMode": "Single-Primary"
    },
    "groupInformationSourceMember": "10.0.0.2:3306"
}"#;

fn status_with(unit_label: &str, state: &str) -> String {
    let mut status: serde_json::Value = serde_json::from_str(STATUS_JSON).expect("fixture");
    status["defaultReplicaSet"]["topology"][unit_label]["status"] = state.into();
    status.to_string()
}

/// Records pauses instead of sleeping; optionally creates a file at the first pause (the
/// socket of a server that comes up meanwhile).
#[derive(Clone, Default)]
struct FakeSleeper {
    slept: Rc<RefCell<Vec<Duration>>>,
    appears_after_first_pause: Option<PathBuf>,
}

impl Sleeper for FakeSleeper {
    fn sleep(&self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
        if let Some(path) = &self.appears_after_first_pause {
            std::fs::write(path, b"").expect("create socket");
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    runner: MockCommandRunner,
    seq: Sequence,
    scripts: Arc<Mutex<Vec<String>>>,
    sleeper: FakeSleeper,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            runner: MockCommandRunner::new(),
            seq: Sequence::new(),
            scripts: Arc::default(),
            sleeper: FakeSleeper::default(),
        }
    }

    fn config(&self) -> SnapConfig {
        let addresses: BTreeMap<String, String> = [
            ("mysql/0", "10.0.0.1"),
            ("mysql/1", "10.0.0.2"),
            ("mysql/2", "10.0.0.3"),
        ]
        .into_iter()
        .map(|(u, a)| (u.to_owned(), a.to_owned()))
        .collect();
        let mut config = SnapConfig::charmed_mysql(
            "mysql/0",
            "cluster-abc",
            "serverconfig",
            PASSWORD,
            addresses,
        );
        config.error_log = self.dir.path().join("error.log");
        config.data_dir = self.dir.path().join("data");
        config.socket = self.dir.path().join("mysqld.sock");
        config
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// Expects `program args...` next, answering `output`.
    fn expect(&mut self, program: &str, args: &[&str], output: CommandOutput) {
        let program = program.to_owned();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        self.runner
            .expect_run()
            .withf(move |c: &CommandSpec| {
                c.program == program && c.args == args && c.stdin.is_none()
            })
            .times(1)
            .in_sequence(&mut self.seq)
            .returning(move |_| Ok(output.clone()));
    }

    /// Expects a MySQL Shell script next; `answer` plays mysqlsh: it gets the script and
    /// returns (exit code, what the script printed after its marker, stderr).
    fn expect_mysqlsh(&mut self, answer: impl Fn(&str) -> (i32, String, String) + Send + 'static) {
        let scripts = Arc::clone(&self.scripts);
        self.runner
            .expect_run()
            .withf(|c: &CommandSpec| {
                c.program == MYSQLSH && c.args == ["--no-wizard", "--python"] && c.stdin.is_some()
            })
            .times(1)
            .in_sequence(&mut self.seq)
            .returning(move |c| {
                let script = c.stdin.clone().unwrap_or_default();
                scripts.lock().expect("lock").push(script.clone());
                let (code, printed, stderr) = answer(&script);
                Ok(CommandOutput {
                    exit_code: Some(code),
                    stdout: run_prints(&script, &printed),
                    stderr,
                })
            });
    }

    fn workload(self) -> (SnapWorkload<MockCommandRunner, FakeSleeper>, Checks) {
        let config = self.config();
        let checks = Checks {
            scripts: self.scripts,
            slept: Rc::clone(&self.sleeper.slept),
            _dir: self.dir,
        };
        (SnapWorkload::new(config, self.runner, self.sleeper), checks)
    }
}

/// What the test inspects after the calls.
struct Checks {
    scripts: Arc<Mutex<Vec<String>>>,
    slept: Rc<RefCell<Vec<Duration>>>,
    _dir: tempfile::TempDir,
}

impl Checks {
    fn script(&self, n: usize) -> String {
        self.scripts.lock().expect("lock")[n].clone()
    }

    fn slept(&self) -> Vec<Duration> {
        self.slept.borrow().clone()
    }
}

/// What mysqlsh prints running `script`: a connection warning, then the marker the script
/// prints (taken from its `print(...)` line), then `printed`.
fn run_prints(script: &str, printed: &str) -> String {
    let marker = script
        .lines()
        .find_map(|l| {
            l.strip_prefix("print(\"")
                .and_then(|l| l.strip_suffix("\")"))
        })
        .unwrap_or("<no marker printed>");
    format!("WARNING: Using a password on the command line interface can be insecure.\n{marker}\n{printed}\n")
}

/// The connection dictionary of a script's `shell.connect(...)` line.
fn connection_of(script: &str) -> serde_json::Value {
    let line = script.lines().next().unwrap_or_default();
    let dict = line
        .strip_prefix("shell.connect(")
        .and_then(|l| l.strip_suffix(')'))
        .unwrap_or("null");
    serde_json::from_str(dict).expect("connection dictionary")
}

fn ok(stdout: &str) -> CommandOutput {
    CommandOutput::success(stdout)
}

#[test]
fn installed_revision_reads_snap_list() {
    let mut f = Fixture::new();
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect(
        "snap",
        &["list", "charmed-mysql"],
        CommandOutput::failure(1, "error: no matching snaps installed\n"),
    );
    f.expect(
        "snap",
        &["list", "charmed-mysql"],
        CommandOutput::failure(
            1,
            "error: cannot communicate with server: connection refused\n",
        ),
    );
    let (workload, _) = f.workload();
    assert_eq!(
        workload.installed_revision().expect("listed"),
        Some(WorkloadRevision::new("8.0.34-0ubuntu0.22.04.1", "182"))
    );
    assert_eq!(workload.installed_revision().expect("absent"), None);
    match workload.installed_revision() {
        Err(WorkloadError::Command(failure)) => {
            assert_eq!(failure.command, "snap list charmed-mysql");
            assert_eq!(failure.exit_code, Some(1));
            assert_eq!(
                failure.stderr,
                "error: cannot communicate with server: connection refused"
            );
        }
        other => panic!("snapd down: {other:?}"),
    }
}

#[test]
fn install_refreshes_to_the_pinned_revision_and_holds() {
    let mut f = Fixture::new();
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect(
        "snap",
        &["refresh", "charmed-mysql", "--revision=183"],
        ok(""),
    );
    f.expect("snap", &["refresh", "--hold", "charmed-mysql"], ok(""));
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_183));
    let (workload, _) = f.workload();
    workload
        .install(&WorkloadRevision::new("8.0.35", "183"))
        .expect("refreshed");
}

#[test]
fn install_on_a_fresh_machine_and_at_the_same_revision() {
    let mut f = Fixture::new();
    f.expect(
        "snap",
        &["list", "charmed-mysql"],
        CommandOutput::failure(1, "error: no matching snaps installed"),
    );
    f.expect(
        "snap",
        &["install", "charmed-mysql", "--revision=182"],
        ok(""),
    );
    f.expect("snap", &["refresh", "--hold", "charmed-mysql"], ok(""));
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    // Already at the revision: no refresh (it would restart the service for nothing).
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect("snap", &["refresh", "--hold", "charmed-mysql"], ok(""));
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    let (workload, _) = f.workload();
    let target = WorkloadRevision::new("8.0.34", "182");
    workload.install(&target).expect("installed");
    workload.install(&target).expect("nothing to do");
}

#[test]
fn install_failures_keep_the_command_and_stderr() {
    let mut f = Fixture::new();
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect(
        "snap",
        &["refresh", "charmed-mysql", "--revision=999"],
        CommandOutput::failure(
            1,
            "error: cannot refresh \"charmed-mysql\": no revision 999\n",
        ),
    );
    // A refresh that "succeeds" but leaves another revision is caught too.
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect(
        "snap",
        &["refresh", "charmed-mysql", "--revision=183"],
        ok(""),
    );
    f.expect("snap", &["refresh", "--hold", "charmed-mysql"], ok(""));
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    let (workload, _) = f.workload();
    match workload.install(&WorkloadRevision::new("9.9.9", "999")) {
        Err(WorkloadError::Command(failure)) => {
            assert_eq!(failure.command, "snap refresh charmed-mysql --revision=999");
            assert_eq!(failure.exit_code, Some(1));
            assert!(failure.stderr.contains("no revision 999"));
        }
        other => panic!("refresh must fail: {other:?}"),
    }
    match workload.install(&WorkloadRevision::new("8.0.35", "183")) {
        Err(WorkloadError::UnexpectedOutput { reason, .. }) => {
            assert!(reason.contains("183") && reason.contains("182"), "{reason}")
        }
        other => panic!("wrong revision must be caught: {other:?}"),
    }
}

#[test]
fn stop_and_start_drive_the_snap_service_and_wait_for_the_socket() {
    let mut f = Fixture::new();
    f.sleeper.appears_after_first_pause = Some(f.socket());
    f.expect("snap", &["stop", "charmed-mysql.mysqld"], ok(""));
    f.expect("snap", &["start", "charmed-mysql.mysqld"], ok(""));
    let (workload, checks) = f.workload();
    workload.stop().expect("stopped");
    workload.start().expect("started");
    assert_eq!(checks.slept(), vec![Duration::from_secs(5)]);
}

#[test]
fn start_failures_are_typed() {
    let mut f = Fixture::new();
    f.expect(
        "snap",
        &["start", "charmed-mysql.mysqld"],
        CommandOutput::failure(
            1,
            "error: cannot perform the following tasks:\n- start of [charmed-mysql.mysqld]",
        ),
    );
    f.expect("snap", &["start", "charmed-mysql.mysqld"], ok(""));
    let (workload, checks) = f.workload();
    match workload.start() {
        Err(err @ WorkloadError::StartFailed { .. }) => {
            let failure = err.command_failure().expect("command kept");
            assert_eq!(failure.command, "snap start charmed-mysql.mysqld");
            assert!(failure.stderr.contains("start of [charmed-mysql.mysqld]"));
        }
        other => panic!("service start must fail: {other:?}"),
    }
    // The service starts but the socket never shows up: 7 checks, 6 pauses.
    match workload.start() {
        Err(WorkloadError::StartFailed {
            reason, failure, ..
        }) => {
            assert!(reason.contains("mysqld.sock"), "{reason}");
            assert!(failure.is_none());
        }
        other => panic!("no socket, no server: {other:?}"),
    }
    assert_eq!(checks.slept(), vec![Duration::from_secs(5); 6]);
}

#[test]
fn cluster_status_parses_mysql_shell_output() {
    let mut f = Fixture::new();
    f.expect_mysqlsh(|_| (0, STATUS_JSON.to_owned(), String::new()));
    let (workload, checks) = f.workload();
    let status = workload.cluster_status().expect("status");

    let script = checks.script(0);
    let connection = connection_of(&script);
    assert_eq!(connection["host"], "10.0.0.1");
    assert_eq!(connection["port"], 3306);
    assert_eq!(connection["user"], "serverconfig");
    assert_eq!(connection["password"], PASSWORD);
    assert!(
        script.contains("cluster = dba.get_cluster(\"cluster-abc\")"),
        "{script}"
    );
    assert!(script.contains("print(cluster.status())"), "{script}");

    assert_eq!(status.primary(), Some("mysql/1"));
    assert_eq!(status.online_units(), vec!["mysql/0", "mysql/1"]);
    let stopped = status.member("mysql/2").expect("mysql/2");
    assert_eq!(stopped.state, MemberState::Missing);
    assert_eq!(stopped.address.as_deref(), Some("10.0.0.3:3306"));
    assert_eq!(stopped.version.as_deref(), Some("8.0.35"));
    assert_eq!(
        status.member("mysql/0").and_then(|m| m.role),
        Some(MemberRole::Secondary)
    );
}

#[test]
fn a_silent_server_is_server_unavailable_with_stderr() {
    let mut f = Fixture::new();
    f.expect_mysqlsh(|_| {
        (
            1,
            String::new(),
            "MySQL Error 2003 (HY000): Can't connect to MySQL server on '10.0.0.1:3306' (111)\n"
                .to_owned(),
        )
    });
    f.expect_mysqlsh(|_| (0, "not json".to_owned(), String::new()));
    let (workload, _) = f.workload();
    match workload.cluster_status() {
        Err(err @ WorkloadError::ServerUnavailable { .. }) => {
            let failure = err.command_failure().expect("kept");
            assert_eq!(
                failure.command,
                "charmed-mysql.mysqlsh --no-wizard --python"
            );
            assert_eq!(failure.exit_code, Some(1));
            assert!(failure.stderr.contains("Can't connect to MySQL server"));
            assert!(!err.to_string().contains("s3cr3t"), "no secret in messages");
        }
        other => panic!("must be unavailable: {other:?}"),
    }
    assert!(matches!(
        workload.cluster_status(),
        Err(WorkloadError::UnexpectedOutput { .. })
    ));
}

#[test]
fn switch_primary_targets_the_unit_address() {
    let mut f = Fixture::new();
    f.expect_mysqlsh(|_| (0, String::new(), String::new()));
    f.expect_mysqlsh(|_| {
        (
            1,
            String::new(),
            "Cluster.set_primary_instance: Instance 10.0.0.3:3306 is not ONLINE (RuntimeError)"
                .to_owned(),
        )
    });
    let (workload, checks) = f.workload();
    workload.switch_primary("mysql/2").expect("switched");
    let script = checks.script(0);
    assert_eq!(connection_of(&script)["host"], "10.0.0.1");
    assert!(script.contains("shell.connect_to_primary()"), "{script}");
    assert!(
        script.contains("cluster.set_primary_instance(\"10.0.0.3:3306\")"),
        "{script}"
    );

    match workload.switch_primary("mysql/2") {
        Err(err @ WorkloadError::SwitchoverFailed { .. }) => {
            assert!(err
                .command_failure()
                .expect("kept")
                .stderr
                .contains("not ONLINE"))
        }
        other => panic!("must fail: {other:?}"),
    }
    // No address, no command.
    assert!(matches!(
        workload.switch_primary("mysql/7"),
        Err(WorkloadError::UnknownUnit { unit }) if unit == "mysql/7"
    ));
}

#[test]
fn slow_shutdown_is_set_on_the_target_instance() {
    let mut f = Fixture::new();
    f.expect_mysqlsh(|_| (0, String::new(), String::new()));
    let (workload, checks) = f.workload();
    workload.set_slow_shutdown("mysql/1").expect("set");
    let script = checks.script(0);
    assert_eq!(connection_of(&script)["host"], "10.0.0.2");
    assert!(
        script.contains(r#"session.run_sql("SET GLOBAL innodb_fast_shutdown = 0")"#),
        "{script}"
    );
}

#[test]
fn the_upgrade_checker_runs_against_the_leader() {
    let mut f = Fixture::new();
    let report = |errors: u32, summary: &str| {
        format!(
            "The MySQL server at 10.0.0.2:3306, version 8.0.34 - (Ubuntu), will now be checked \
             for compatibility issues for upgrade to MySQL 8.0.35...\n\
             {{\"serverAddress\": \"10.0.0.2:3306\", \"serverVersion\": \"8.0.34\", \
             \"targetVersion\": \"8.0.35\", \"errorCount\": {errors}, \"warningCount\": 1, \
             \"noticeCount\": 0, \"summary\": \"{summary}\", \"checksPerformed\": []}}"
        )
    };
    let clean = report(
        0,
        "No fatal errors were found that would prevent an upgrade",
    );
    let broken = report(
        2,
        "2 errors were found. Please correct these issues before upgrading",
    );
    f.expect_mysqlsh(move |_| (0, clean.clone(), String::new()));
    f.expect_mysqlsh(move |_| (0, broken.clone(), String::new()));
    f.expect_mysqlsh(|_| (0, "SAME_VERSION".to_owned(), String::new()));
    f.expect_mysqlsh(|_| {
        (
            1,
            String::new(),
            "Traceback ...\nValueError: bad target".to_owned(),
        )
    });
    let (workload, checks) = f.workload();

    workload.check_upgradable("mysql/1").expect("no errors");
    let script = checks.script(0);
    assert_eq!(connection_of(&script)["host"], "10.0.0.2");
    assert!(
        script.contains("util.check_for_server_upgrade(options={'outputFormat': 'JSON'})"),
        "{script}"
    );
    match workload.check_upgradable("mysql/1") {
        Err(WorkloadError::NotUpgradable {
            from_unit,
            summary,
            failure,
        }) => {
            assert_eq!(from_unit, "mysql/1");
            assert!(summary.starts_with("2 errors were found"), "{summary}");
            assert!(failure.is_none());
        }
        other => panic!("errors block the upgrade: {other:?}"),
    }
    workload.check_upgradable("mysql/1").expect("same version");
    match workload.check_upgradable("mysql/1") {
        Err(err @ WorkloadError::NotUpgradable { .. }) => {
            assert!(err
                .command_failure()
                .expect("kept")
                .stderr
                .contains("ValueError"))
        }
        other => panic!("a failing checker blocks: {other:?}"),
    }
}

#[test]
fn wait_until_online_polls_cluster_status_with_the_sleeper() {
    let mut f = Fixture::new();
    f.expect_mysqlsh(|_| (1, String::new(), "Can't connect".to_owned()));
    f.expect_mysqlsh(|_| (0, status_with("mysql-0", "RECOVERING"), String::new()));
    f.expect_mysqlsh(|_| (0, STATUS_JSON.to_owned(), String::new()));
    for _ in 0..3 {
        f.expect_mysqlsh(|_| (0, status_with("mysql-0", "RECOVERING"), String::new()));
    }
    let (workload, checks) = f.workload();
    let retry = RetryPolicy {
        attempts: 3,
        interval: Duration::from_secs(10),
    };
    workload
        .wait_until_online(retry)
        .expect("online at the third check");
    assert_eq!(checks.slept(), vec![Duration::from_secs(10); 2]);
    match workload.wait_until_online(retry) {
        Err(WorkloadError::NotBackOnline {
            attempts,
            last_seen,
            ..
        }) => {
            assert_eq!(attempts, 3);
            assert_eq!(last_seen, "RECOVERING");
        }
        other => panic!("stuck recovering: {other:?}"),
    }
}

#[test]
fn downgrade_refusal_is_read_from_the_last_start_in_the_error_log() {
    let f = Fixture::new();
    let log = f.config().error_log;
    // Keep `_checks`: it owns the temporary directory holding the log.
    let (workload, _checks) = f.workload();
    assert!(!workload.downgrade_refused().expect("no log yet"));

    let refused = "\
2024-01-10T10:00:00.000000Z 0 [System] [MY-010116] [Server] /snap/charmed-mysql/183/usr/sbin/mysqld (mysqld 8.0.34-0ubuntu0.22.04.1) starting as process 4242
2024-01-10T10:00:01.000000Z 1 [ERROR] [MY-013171] [InnoDB] Cannot boot server version 80034 on data directory built by version 80035. Downgrade is not supported
2024-01-10T10:00:01.000000Z 0 [ERROR] [MY-010119] [Server] Aborting
";
    write(&log, refused);
    assert!(workload.downgrade_refused().expect("read"));

    let later_clean_start = format!(
        "{refused}2024-01-10T11:00:00.000000Z 0 [System] [MY-010116] [Server] /snap/charmed-mysql/182/usr/sbin/mysqld (mysqld 8.0.34-0ubuntu0.22.04.1) starting as process 777\n\
         2024-01-10T11:00:02.000000Z 0 [System] [MY-010931] [Server] mysqld: ready for connections.\n"
    );
    write(&log, &later_clean_start);
    assert!(!workload.downgrade_refused().expect("read"));
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write log");
}

#[test]
fn reset_and_rejoin_reinstalls_then_clones_from_a_peer() {
    let mut f = Fixture::new();
    let data = f.config().data_dir;
    std::fs::create_dir_all(data.join("mysql")).expect("data dir");
    std::fs::write(data.join("ibdata1"), b"x").expect("data file");
    std::fs::write(f.socket(), b"").expect("socket");

    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect("snap", &["stop", "charmed-mysql.mysqld"], ok(""));
    f.expect("snap", &["remove", "charmed-mysql"], ok(""));
    f.expect(
        "snap",
        &["list", "charmed-mysql"],
        CommandOutput::failure(1, "error: no matching snaps installed"),
    );
    f.expect(
        "snap",
        &["install", "charmed-mysql", "--revision=182"],
        ok(""),
    );
    f.expect("snap", &["refresh", "--hold", "charmed-mysql"], ok(""));
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    f.expect("snap", &["start", "charmed-mysql.mysqld"], ok(""));
    f.expect_mysqlsh(|_| {
        (
            1,
            String::new(),
            "Can't connect to MySQL server on '10.0.0.2:3306'".to_owned(),
        )
    });
    f.expect_mysqlsh(|_| (0, String::new(), String::new()));
    let (workload, checks) = f.workload();

    workload.reset_and_rejoin().expect("rejoined");
    assert_eq!(
        std::fs::read_dir(&data).expect("list").count(),
        0,
        "data emptied"
    );
    // mysql/1 did not answer; mysql/2 did.
    assert_eq!(connection_of(&checks.script(0))["host"], "10.0.0.2");
    let script = checks.script(1);
    assert_eq!(connection_of(&script)["host"], "10.0.0.3");
    assert!(script.contains("shell.connect_to_primary()"), "{script}");
    assert!(
        script.contains("cluster.rescan({'removeInstances': 'auto'})"),
        "{script}"
    );
    let add = script
        .lines()
        .find(|l| l.starts_with("cluster.add_instance("))
        .expect("add_instance");
    assert!(add.contains("\"host\":\"10.0.0.1\""), "{add}");
    assert!(add.contains("\"label\":\"mysql-0\""), "{add}");
    assert!(add.contains("\"recoveryMethod\":\"clone\""), "{add}");
}

#[test]
fn reset_without_peers_has_no_donor() {
    let mut f = Fixture::new();
    f.expect("snap", &["list", "charmed-mysql"], ok(SNAP_LIST_182));
    let mut config = f.config();
    config.unit_addresses.retain(|unit, _| unit == "mysql/0");
    let workload = SnapWorkload::new(config, f.runner, f.sleeper);
    assert!(matches!(
        workload.reset_and_rejoin(),
        Err(WorkloadError::NoDonor { unit }) if unit == "mysql/0"
    ));
}

#[test]
fn secrets_stay_out_of_debug_output_and_command_lines() {
    let f = Fixture::new();
    let config = f.config();
    assert!(!format!("{config:?}").contains("s3cr3t"));
    let spec = CommandSpec::new(MYSQLSH, ["--no-wizard", "--python"]).with_stdin(PASSWORD);
    assert!(!format!("{spec:?}").contains("s3cr3t"));
    assert_eq!(
        spec.command_line(),
        "charmed-mysql.mysqlsh --no-wizard --python"
    );
}

#[test]
fn the_process_runner_feeds_stdin_and_keeps_exit_code_and_stderr() {
    let spec = CommandSpec::new("sh", ["-c", "cat; echo oops >&2; exit 3"]).with_stdin("hello");
    let output = ProcessRunner.run(&spec).expect("sh runs");
    assert_eq!(output.exit_code, Some(3));
    assert_eq!(output.stdout, "hello");
    assert_eq!(output.stderr, "oops\n");
    assert!(!output.succeeded());

    let missing = CommandSpec::new("definitely-not-a-real-program-4242", ["x"]);
    assert!(ProcessRunner.run(&missing).is_err());
}
