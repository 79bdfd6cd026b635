//! `SnapWorkload` on a fake machine: every command it runs is executed, `snap` by a fake
//! enforcing snapd's command-line semantics, MySQL Shell scripts by `python3` against a
//! recording fake of the Shell's Python API (`shell`, `dba`, `cluster`, `session`), both over
//! one shared world (`charm/tests/fakes/`). The tests assert the calls and arguments made
//! and what the world looks like after, never a canned answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use juju_upgrade::{PeerSnapshot, UpgradeHooks};
use mysql_charm::upgrade::MySqlUpgrade;
use mysql_charm::versions::Versions;
use mysql_charm::workload::{
    CommandOutput, CommandRunner, CommandSpec, Passwords, ProcessRunner, RetryPolicy, Sleeper,
    SnapConfig, SnapWorkload, Workload, WorkloadError, WorkloadRevision, INSTALLED_MARK,
};
use serde_json::{json, Value};

mod support;

/// Runs `snap`, `charmed-mysql.mysqlsh`, `systemctl` and `chown` as the Python fakes.
struct FakeMachine {
    dir: PathBuf,
}

impl CommandRunner for FakeMachine {
    fn run(&self, command: &CommandSpec) -> std::io::Result<CommandOutput> {
        let fake = match command.program.as_str() {
            "snap" => "snap.py",
            "charmed-mysql.mysqlsh" => "mysqlsh.py",
            "systemctl" => "systemctl.py",
            "chown" => "chown.py",
            other => panic!("the charm ran {other}, which no real machine step needs"),
        };
        let fake = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fakes")
            .join(fake);
        let mut args = vec![fake.display().to_string(), self.dir.display().to_string()];
        args.extend(command.args.iter().cloned());
        let mut spec = CommandSpec::new("python3", args).with_timeout(command.timeout);
        spec.stdin = command.stdin.clone();
        ProcessRunner.run(&spec)
    }
}

struct NoSleep;
impl Sleeper for NoSleep {
    fn sleep(&self, _: Duration) {}
}

const SC: &str = "sc'pw\"\\";

struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn world(&self) -> Value {
        let text = std::fs::read_to_string(self.path("world.json")).expect("world");
        serde_json::from_str(&text).expect("world json")
    }

    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("call"))
            .collect()
    }

    /// `tool call args...` of every recorded call, as one line each.
    fn lines(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| {
                let args: Vec<String> = c["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
                    .collect();
                format!(
                    "{} {} {}",
                    c["tool"].as_str().unwrap_or(""),
                    c["call"].as_str().unwrap_or(""),
                    args.join(" ")
                )
                .trim_end()
                .to_owned()
            })
            .collect()
    }

    fn events(&self) -> Vec<String> {
        serde_json::from_value(self.world()["events"].clone()).unwrap_or_default()
    }

    fn workload(&self) -> SnapWorkload<FakeMachine, NoSleep> {
        let addresses: BTreeMap<String, String> = [
            ("mysql/0", "10.0.0.1"),
            ("mysql/1", "10.0.0.2"),
            ("mysql/2", "10.0.0.3"),
        ]
        .into_iter()
        .map(|(u, a)| (u.to_owned(), a.to_owned()))
        .collect();
        let passwords = Passwords {
            root: "r00t'".into(),
            server_config: SC.into(),
            cluster_admin: "ca".into(),
            monitoring: "mon".into(),
            backups: "bak".into(),
        };
        let mut config = SnapConfig::charmed_mysql("mysql/0", "cluster-abc", passwords, addresses);
        config.common_dir = self.path("common");
        config.error_log = self.path("common/error.log");
        config.data_dir = self.path("common/data");
        config.socket = self.path("mysqld.sock");
        config.mysqld_config_dir = self.path("conf.d");
        config.plugin_dir = self.path("plugin");
        SnapWorkload::new(
            config,
            FakeMachine {
                dir: self.dir.path().to_owned(),
            },
            NoSleep,
        )
    }
}

fn server(version: &str, uuid: &str, gr: Option<&str>) -> Value {
    json!({
        "up": gr.is_some(), "version": version, "uuid": uuid,
        "data_version": version.split('-').next(),
        "users": {"root": "r00t'", "serverconfig": SC, "clusteradmin": "ca"},
        "gr": gr, "plugins": [], "configured": true,
    })
}

const V34: &str = "8.0.34-0ubuntu0.22.04.1";
const V35: &str = "8.0.35-0ubuntu0.22.04.1";

/// A machine: the snap at `revision` (or none), this server and two peers, and a cluster
/// of the three when `cluster`.
fn machine(revision: Option<&str>, local: Value, cluster: bool) -> Machine {
    let dir = tempfile::tempdir().expect("dir");
    let m = Machine { dir };
    for d in ["conf.d", "plugin"] {
        std::fs::create_dir_all(m.path(d)).expect("dir");
    }
    for lib in ["audit_log.so", "binlog_utils_udf.so"] {
        std::fs::write(m.path("plugin").join(lib), b"").expect("plugin");
    }
    let installed = revision.map(|rev| {
        std::fs::create_dir_all(m.path("common/data")).expect("common");
        std::fs::write(m.path("common").join(INSTALLED_MARK), b"").expect("mark");
        let active = local["up"].as_bool().unwrap_or(false);
        if active {
            std::fs::write(m.path("mysqld.sock"), b"").expect("socket");
        }
        json!({"revision": rev, "held": true, "enabled": active, "active": active, "aliases": []})
    });
    let mut primary = server(V34, "uuid-1", Some("ONLINE"));
    primary["locks"] = json!({"unit-add": "", "unit-teardown": ""});
    let world = json!({
        "paths": {
            "socket": m.path("mysqld.sock"), "error_log": m.path("common/error.log"),
            "data_dir": m.path("common/data"), "common_dir": m.path("common"),
            "config_dir": m.path("conf.d"),
        },
        "snap": {
            "installed": installed,
            "store": {"57": "8.0.33-0ubuntu0.22.04.2", "69": V34, "70": V35},
            "apps": ["mysqld", "mysql", "mysqlrouter", "mysqlsh", "xbcloud", "xbstream", "xtrabackup"],
        },
        "servers": {
            "10.0.0.1:3306": local,
            "10.0.0.2:3306": primary,
            "10.0.0.3:3306": server(V34, "uuid-2", Some("ONLINE")),
        },
        "local": "10.0.0.1:3306",
        "cluster": cluster.then(|| json!({
            "name": "cluster-abc", "set": "cluster-set-cluster-abc", "primary": "10.0.0.2:3306",
            "members": {
                "mysql-0": {"address": "10.0.0.1:3306", "uuid": "uuid-0"},
                "mysql-1": {"address": "10.0.0.2:3306", "uuid": "uuid-1"},
                "mysql-2": {"address": "10.0.0.3:3306", "uuid": "uuid-2"},
            },
        })),
        "events": [],
    });
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    m
}

fn versions() -> Versions {
    support::versions()
}

/// Runs the charm's upgrade steps for mysql/0 with `planned` units on `m`.
fn upgrade(m: &Machine, planned: usize) -> (Result<(), String>, Vec<String>) {
    let workload = m.workload();
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", planned).with_rejoin_policy(
        RetryPolicy {
            attempts: 3,
            interval: Duration::from_secs(15),
        },
    );
    let mut view = PeerSnapshot::new("mysql", 0, true);
    view.units.extend([1, 2]);
    view.app_bag.insert("upgrade-stack".into(), "[0]".into());
    let mut messages = Vec::new();
    let result = hooks
        .upgrade_unit(&view, &mut |m: &str| messages.push(m.to_owned()))
        .map_err(|e| e.cause);
    (result, messages)
}

#[test]
fn a_fresh_machine_installs_the_pinned_revision_holds_it_and_sets_the_aliases() {
    let m = machine(None, json!({"up": false, "users": {}}), false);
    let workload = m.workload();
    // Nothing installed: nothing to stop, and `snap stop` is not run.
    workload.stop().expect("nothing to stop");
    workload
        .install(&WorkloadRevision::new("8.0.34", "69"))
        .expect("installed");
    let lines = m.lines();
    assert_eq!(
        lines
            .iter()
            .filter(|l| !l.starts_with("snap list"))
            .take(3)
            .cloned()
            .collect::<Vec<_>>(),
        [
            "snap install charmed-mysql --revision=69",
            "snap refresh --hold charmed-mysql",
            "snap alias charmed-mysql.mysql mysql",
        ]
    );
    let world = m.world();
    assert_eq!(world["snap"]["installed"]["revision"], "69");
    assert_eq!(world["snap"]["installed"]["held"], true);
    // This older revision has no mysqlbinlog: tolerated, as Charmed MySQL does.
    assert_eq!(
        world["snap"]["installed"]["aliases"],
        json!([
            "mysql",
            "mysqlrouter",
            "mysqlsh",
            "xbcloud",
            "xbstream",
            "xtrabackup"
        ])
    );
    assert!(m.path("common").join(INSTALLED_MARK).exists());
    assert_eq!(
        workload.installed_revision().expect("listed"),
        Some(WorkloadRevision::new(V34, "69"))
    );
}

#[test]
fn a_snap_another_charm_installed_is_refused_untouched() {
    let m = machine(Some("69"), json!({"up": false, "users": {}}), false);
    std::fs::remove_file(m.path("common").join(INSTALLED_MARK)).expect("unmark");
    match m.workload().install(&WorkloadRevision::new("8.0.35", "70")) {
        Err(WorkloadError::Precondition { reason, .. }) => {
            assert!(reason.contains("not by this charm"), "{reason}")
        }
        other => panic!("must refuse: {other:?}"),
    }
    assert!(
        m.lines().iter().all(|l| l.starts_with("snap list")),
        "{:?}",
        m.lines()
    );
    assert_eq!(m.world()["snap"]["installed"]["revision"], "69");
}

#[test]
fn an_upgrade_stops_disabled_refreshes_then_starts_with_cron_paused_and_holds_while_recovering() {
    let mut local = server("8.0.33-0ubuntu0.22.04.2", "uuid-0", Some("ONLINE"));
    // A secondary: read-only, which INSTALL PLUGIN must lift and restore.
    local["super_read_only"] = json!(true);
    let m = machine(Some("57"), local, true);
    let (result, messages) = upgrade(&m, 3);
    assert_eq!(result, Ok(()));
    assert_eq!(
        messages,
        [
            "stopping services..",
            "upgrading snap...",
            "starting services...",
            "recovering unit after upgrade"
        ]
    );
    // The refresh did not boot mysqld early: it was stopped with --disable.
    assert_eq!(
        m.events(),
        [
            "mysqld stopped",
            "refreshed to 69",
            "cron stopped",
            "mysqld started on 8.0.34",
            "cron started"
        ]
    );
    let lines = m.lines();
    assert!(lines.contains(&"snap stop --disable charmed-mysql.mysqld".to_owned()));
    assert!(lines.contains(&"snap refresh charmed-mysql --revision=69".to_owned()));
    assert!(lines.contains(&"snap start --enable charmed-mysql.mysqld".to_owned()));
    assert!(!lines.iter().any(|l| l.contains("check_for_server_upgrade")));
    let world = m.world();
    let local = &world["servers"]["10.0.0.1:3306"];
    assert_eq!(local["plugins"], json!(["audit_log", "binlog_utils_udf"]));
    assert_eq!(local["gr"], "ONLINE", "held while RECOVERING, then ONLINE");
    assert_eq!(
        local["super_read_only"], true,
        "read-only again after the plugins"
    );
    let recovering_looks = m
        .lines()
        .iter()
        .filter(|l| l.contains("SELECT MEMBER_STATE FROM performance_schema"))
        .count();
    assert!(
        recovering_looks >= 2,
        "the recovery check held on RECOVERING"
    );
    assert_eq!(local["version"], V34);
    assert_eq!(
        m.workload().running_version().expect("version"),
        Some(V34.to_owned())
    );
}

#[test]
fn a_single_unit_reboots_its_cluster_from_complete_outage() {
    let m = machine(
        Some("57"),
        server("8.0.33-0ubuntu0.22.04.2", "uuid-0", Some("ONLINE")),
        true,
    );
    // The other members are gone: mysql/0 is the cluster's only unit.
    let mut world = m.world();
    for peer in ["10.0.0.2:3306", "10.0.0.3:3306"] {
        world["servers"][peer]["up"] = json!(false);
        world["servers"][peer]["gr"] = json!("OFFLINE");
    }
    world["cluster"]["members"] =
        json!({"mysql-0": {"address": "10.0.0.1:3306", "uuid": "uuid-0"}});
    world["cluster"]["primary"] = json!("10.0.0.1:3306");
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    let (result, _) = upgrade(&m, 1);
    assert_eq!(result, Ok(()));
    assert!(m
        .lines()
        .contains(&"mysqlsh dba.reboot_cluster_from_complete_outage cluster-abc".to_owned()));
    assert_eq!(m.world()["servers"]["10.0.0.1:3306"]["gr"], "ONLINE");
}

#[test]
fn a_refused_downgrade_resets_the_data_and_clones_back_under_the_lock_without_removing_the_snap() {
    // Rolled back to revision 69 (8.0.34) on data written by 8.0.35.
    let mut local = server(V35, "uuid-0", Some("ONLINE"));
    local["data_version"] = json!("8.0.35");
    let m = machine(Some("70"), local, true);
    std::fs::write(m.path("common/data/ibdata1"), b"8.0.35 data").expect("data");
    let (result, messages) = upgrade(&m, 3);
    assert_eq!(result, Ok(()), "{:?}", m.lines());
    assert_eq!(
        messages.last().map(String::as_str),
        Some("recovering unit after upgrade")
    );
    let lines = m.lines();
    assert!(!lines.iter().any(|l| l.starts_with("snap remove")));
    let position = |text: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(text))
            .unwrap_or_else(|| panic!("no {text:?} in {lines:#?}"))
    };
    let initialize = position("snap run charmed-mysql.mysqld --initialize --datadir=");
    let users = position("mysqlsh session.run_sql CREATE USER IF NOT EXISTS 'serverconfig'");
    let configure = position("mysqlsh dba.configure_instance");
    let rescan = position("mysqlsh cluster.rescan");
    let lock = position(
        "mysqlsh session.run_sql UPDATE mysql.juju_units_operations SET executor='mysql-0'",
    );
    let add = position("mysqlsh cluster.add_instance 10.0.0.1:3306");
    let release =
        position("mysqlsh session.run_sql UPDATE mysql.juju_units_operations SET executor=''");
    assert!(
        initialize < users && users < configure && configure < rescan,
        "{lines:#?}"
    );
    assert!(rescan < lock && lock < add && add < release, "{lines:#?}");
    let calls = m.calls();
    let add_call = calls
        .iter()
        .find(|c| c["call"] == "cluster.add_instance")
        .expect("add_instance");
    assert_eq!(
        add_call["args"][1],
        json!({"recoveryMethod": "clone", "label": "mysql-0"})
    );
    let rescan_call = calls
        .iter()
        .find(|c| c["call"] == "cluster.rescan")
        .expect("rescan");
    assert_eq!(rescan_call["args"][0], json!({"removeInstances": "auto"}));
    let world = m.world();
    let local = &world["servers"]["10.0.0.1:3306"];
    assert_eq!(local["data_version"], "8.0.34");
    assert_eq!(local["gr"], "ONLINE");
    assert_eq!(local["users"]["root"], "r00t'");
    assert_eq!(local["users"]["clusteradmin"], "ca");
    assert_eq!(local["users"]["monitoring"], "mon");
    assert_eq!(
        world["servers"]["10.0.0.2:3306"]["locks"]["unit-add"], "",
        "released"
    );
    assert_eq!(
        world["cluster"]["members"]["mysql-0"]["uuid"],
        local["uuid"]
    );
    assert_ne!(local["uuid"], "uuid-0", "a new incarnation");
    // The old data is gone; the init file is removed.
    assert!(!std::fs::read_dir(m.path("conf.d"))
        .expect("conf.d")
        .any(|_| true));
}

#[test]
fn a_held_lock_keeps_the_reset_instance_out_with_a_clear_error() {
    let mut local = server(V35, "uuid-0", Some("ONLINE"));
    local["data_version"] = json!("8.0.35");
    let m = machine(Some("70"), local, true);
    let mut world = m.world();
    world["servers"]["10.0.0.2:3306"]["locks"]["unit-add"] = json!("mysql-2");
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    let (result, _) = upgrade(&m, 3);
    let cause = result.expect_err("lock held");
    assert!(
        cause.contains("units-operations lock unit-add on mysql/1 stayed held by another unit"),
        "{cause}"
    );
    assert!(!m.lines().iter().any(|l| l.contains("cluster.add_instance")));
}

#[test]
fn an_offline_member_is_rejoined_through_the_primary_unless_it_still_rejoins_itself() {
    let m = machine(Some("69"), server(V34, "uuid-0", Some("OFFLINE")), true);
    let mut world = m.world();
    world["servers"]["10.0.0.1:3306"]["auto_rejoin"] = json!(true);
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    let workload = m.workload();
    assert!(!workload.rejoin_if_offline().expect("waits"));
    assert!(!m.lines().iter().any(|l| l.contains("rejoin_instance")));

    let mut world = m.world();
    world["servers"]["10.0.0.1:3306"]["auto_rejoin"] = json!(false);
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    assert!(workload.rejoin_if_offline().expect("rejoined"));
    let calls = m.calls();
    let rejoin = calls
        .iter()
        .find(|c| c["call"] == "cluster.rejoin_instance")
        .expect("rejoin");
    assert_eq!(rejoin["args"][0], "10.0.0.1:3306");
    assert_eq!(m.world()["servers"]["10.0.0.1:3306"]["gr"], "ONLINE");
    // ONLINE now: nothing more to do.
    assert!(!workload.rejoin_if_offline().expect("online"));
}

#[test]
fn the_leader_creates_the_cluster_labels_it_and_makes_the_lock_table() {
    let m = machine(Some("69"), server(V34, "uuid-0", Some("OFFLINE")), false);
    let mut world = m.world();
    world["servers"]["10.0.0.1:3306"]["gr"] = json!(null);
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    let workload = m.workload();
    workload.create_cluster().expect("created");
    let world = m.world();
    assert_eq!(world["cluster"]["name"], "cluster-abc");
    assert_eq!(world["cluster"]["set"], "cluster-set-cluster-abc");
    assert!(
        world["cluster"]["members"]["mysql-0"].is_object(),
        "labelled"
    );
    assert_eq!(
        world["servers"]["10.0.0.1:3306"]["locks"],
        json!({"unit-add": "", "unit-teardown": ""})
    );
    let create = m
        .calls()
        .into_iter()
        .find(|c| c["call"] == "dba.create_cluster")
        .expect("create");
    assert_eq!(
        create["args"],
        json!(["cluster-abc", {"communicationStack": "MySQL"}])
    );
    match workload.create_cluster() {
        Err(WorkloadError::Command(failure)) => {
            assert!(
                failure
                    .stderr
                    .contains("already belongs to an InnoDB cluster"),
                "{failure}"
            )
        }
        other => panic!("the Shell refuses a second cluster: {other:?}"),
    }
}

#[test]
fn a_new_unit_joins_through_the_primary_of_an_online_peer_under_the_lock() {
    let m = machine(Some("69"), server(V34, "uuid-new", Some("OFFLINE")), true);
    let mut world = m.world();
    world["servers"]["10.0.0.1:3306"]["gr"] = json!(null);
    world["cluster"]["members"]
        .as_object_mut()
        .expect("members")
        .remove("mysql-0");
    std::fs::write(m.path("world.json"), world.to_string()).expect("world");
    m.workload().join_cluster().expect("joined");
    let world = m.world();
    assert_eq!(world["cluster"]["members"]["mysql-0"]["uuid"], "uuid-new");
    assert_eq!(world["servers"]["10.0.0.1:3306"]["gr"], "ONLINE");
    assert_eq!(world["servers"]["10.0.0.1:3306"]["cloned"], true);
    assert_eq!(world["servers"]["10.0.0.2:3306"]["locks"]["unit-add"], "");
    let lines = m.lines();
    let lock = lines
        .iter()
        .position(|l| l.contains("SET executor='mysql-0', status='in-progress'"))
        .expect("lock taken");
    let add = lines
        .iter()
        .position(|l| l.starts_with("mysqlsh cluster.add_instance"))
        .expect("added");
    assert!(lock < add);
}

#[test]
fn get_cluster_status_reads_the_cluster_and_the_cluster_set_as_mysql_shell_prints_them() {
    let m = machine(Some("69"), server(V34, "uuid-0", Some("ONLINE")), true);
    let workload = m.workload();
    let status = workload.status_report(false).expect("status");
    assert_eq!(
        status["defaultReplicaSet"]["topology"]["mysql-1"]["memberRole"],
        "PRIMARY"
    );
    let set = workload.status_report(true).expect("cluster set");
    assert_eq!(set["domainName"], "cluster-set-cluster-abc");
    let parsed = workload.cluster_status().expect("parsed");
    assert_eq!(parsed.primary(), Some("mysql/1"));
}

#[test]
fn a_server_that_is_down_is_reported_with_the_shells_message() {
    let m = machine(Some("69"), server(V34, "uuid-0", None), true);
    match m.workload().cluster_status() {
        Err(err @ WorkloadError::ServerUnavailable { .. }) => {
            let failure = err.command_failure().expect("kept");
            assert!(
                failure
                    .stderr
                    .contains("Can't connect to MySQL server on '10.0.0.1:3306'"),
                "{failure}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn set_password_changes_it_on_the_primary() {
    let m = machine(Some("69"), server(V34, "uuid-0", Some("ONLINE")), true);
    m.workload()
        .update_password("clusteradmin", "n3w'pw")
        .expect("changed");
    assert_eq!(
        m.world()["servers"]["10.0.0.2:3306"]["users"]["clusteradmin"],
        "n3w'pw"
    );
}

#[test]
fn a_hung_command_is_killed_at_its_timeout() {
    let spec = CommandSpec::new("sleep", ["30"]).with_timeout(Duration::from_millis(200));
    let output = ProcessRunner.run(&spec).expect("ran");
    assert!(output.timed_out);
    assert!(!output.succeeded());
    assert!(output.stderr.contains("timeout"), "{}", output.stderr);
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
