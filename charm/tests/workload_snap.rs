//! `SnapWorkload`'s MySQL Shell scripts executed by `python3` against a recording fake of
//! MySQL Shell's Python API (`charm/tests/fakes/mysqlsh.py`): the calls and arguments each
//! script makes, and the Shell's refusals surfacing as typed errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mysql_charm::workload::{
    CommandOutput, CommandRunner, CommandSpec, Passwords, ProcessRunner, Sleeper, SnapConfig,
    SnapWorkload, Workload, WorkloadError,
};
use serde_json::{json, Value};

const MYSQLSH: &str = "charmed-mysql.mysqlsh";

/// Runs MySQL Shell as the Python fake, everything else refused.
struct FakeShell {
    dir: PathBuf,
}

impl CommandRunner for FakeShell {
    fn run(&self, command: &CommandSpec) -> std::io::Result<CommandOutput> {
        assert_eq!(command.program, MYSQLSH, "only MySQL Shell runs here");
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/mysqlsh.py");
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

fn world(dir: &Path, state: Value) -> SnapWorkload<FakeShell, NoSleep> {
    std::fs::write(dir.join("state.json"), state.to_string()).expect("state");
    let addresses: BTreeMap<String, String> = [("mysql/0", "10.0.0.1"), ("mysql/1", "10.0.0.2")]
        .into_iter()
        .map(|(u, a)| (u.to_owned(), a.to_owned()))
        .collect();
    let passwords = Passwords {
        server_config: "sc'pw\"".into(),
        ..Passwords::default()
    };
    let config = SnapConfig::charmed_mysql("mysql/0", "cluster-abc", passwords, addresses);
    SnapWorkload::new(
        config,
        FakeShell {
            dir: dir.to_owned(),
        },
        NoSleep,
    )
}

fn calls(dir: &Path) -> Vec<(String, Value)> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("json line");
            (
                v["call"].as_str().unwrap_or_default().to_owned(),
                v["args"].clone(),
            )
        })
        .collect()
}

fn servers() -> Value {
    json!({
        "10.0.0.1:3306": {"up": true, "password": "sc'pw\""},
        "10.0.0.2:3306": {"up": true, "password": "sc'pw\""},
    })
}

#[test]
fn the_leader_creates_the_cluster_labels_it_and_the_lock_table() {
    let dir = tempfile::tempdir().expect("dir");
    let workload = world(dir.path(), json!({"servers": servers(), "cluster": null}));
    workload.create_cluster().expect("created");
    let calls = calls(dir.path());
    let names: Vec<&str> = calls.iter().map(|(c, _)| c.as_str()).collect();
    assert!(names.contains(&"dba.create_cluster"), "{names:?}");
    let create = &calls
        .iter()
        .find(|(c, _)| c == "dba.create_cluster")
        .expect("create")
        .1;
    assert_eq!(
        create,
        &json!(["cluster-abc", {"communicationStack": "MySQL"}])
    );
    let label = &calls
        .iter()
        .find(|(c, _)| c == "cluster.set_instance_option")
        .expect("label")
        .1;
    assert_eq!(label, &json!(["10.0.0.1:3306", "label", "mysql-0"]));
    assert!(calls.iter().any(
        |(c, a)| c == "cluster.create_cluster_set" && a == &json!(["cluster-set-cluster-abc"])
    ));
    let sql: Vec<&str> = calls
        .iter()
        .filter(|(c, _)| c == "session.run_sql")
        .filter_map(|(_, a)| a[0].as_str())
        .collect();
    assert!(
        sql.iter()
            .any(|s| s.starts_with("CREATE TABLE mysql.juju_units_operations")),
        "{sql:?}"
    );
    // Connected as serverconfig over TCP; the password never reaches the log.
    let connect = &calls
        .iter()
        .find(|(c, _)| c == "shell.connect")
        .expect("connect")
        .1;
    assert_eq!(connect[0]["user"], "serverconfig");
    assert_eq!(connect[0]["host"], "10.0.0.1");

    // A second create is refused by the Shell; the error keeps its message.
    match workload.create_cluster() {
        Err(WorkloadError::Command(failure)) => {
            assert!(
                failure
                    .stderr
                    .contains("already belongs to an InnoDB cluster"),
                "{failure}"
            )
        }
        other => panic!("expected the Shell's refusal: {other:?}"),
    }
}

#[test]
fn a_server_that_is_down_is_a_failed_command_with_the_shells_message() {
    let dir = tempfile::tempdir().expect("dir");
    let workload = world(
        dir.path(),
        json!({"servers": {"10.0.0.1:3306": {"up": false}}, "cluster": null}),
    );
    match workload.set_slow_shutdown("mysql/0") {
        Err(WorkloadError::Command(failure)) => {
            assert!(failure
                .stderr
                .contains("Can't connect to MySQL server on '10.0.0.1:3306'"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn switchover_and_slow_shutdown_make_the_calls_charmed_mysql_makes() {
    let dir = tempfile::tempdir().expect("dir");
    let workload = world(
        dir.path(),
        json!({"servers": servers(), "cluster": {"name": "cluster-abc", "status": {}}}),
    );
    workload.switch_primary("mysql/1").expect("switched");
    workload.set_slow_shutdown("mysql/1").expect("set");
    let calls = calls(dir.path());
    assert!(calls.iter().any(|(c, _)| c == "shell.connect_to_primary"));
    assert!(calls
        .iter()
        .any(|(c, a)| c == "cluster.set_primary_instance" && a == &json!(["10.0.0.2:3306"])));
    assert!(calls.iter().any(
        |(c, a)| c == "session.run_sql" && a == &json!(["SET GLOBAL innodb_fast_shutdown = 0"])
    ));
}
