//! The engine end to end with the real hook tools: the `juju-sim` binary is
//! the hook-tool binary, and the charm is `tests/charms/shell-charm`, whose
//! `dispatch` is a bash script calling those tools.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use juju_sim::engine::{Engine, EngineOptions, Source};
use juju_sim::model::{OpKind, OpRecord, Outcome, TaskStatus};
use serde_json::{json, Map, Value};

const APP: &str = "shelly";

fn charm_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/shell-charm")
}

/// A copy of the shell charm whose `version.txt` says `version`.
fn charm_version(root: &Path, version: &str) -> PathBuf {
    let dir = root.join(format!("charm-{version}"));
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(charm_source()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    fs::write(dir.join("version.txt"), format!("{version}\n")).unwrap();
    dir
}

fn options(seed: u64) -> EngineOptions {
    EngineOptions {
        tool_binary: Some(PathBuf::from(env!("CARGO_BIN_EXE_juju-sim"))),
        seed,
        ..EngineOptions::default()
    }
}

struct Fixture {
    tmp: tempfile::TempDir,
    engine: Engine,
}

impl Fixture {
    /// A model with `n` units of the shell charm (v1), settled.
    fn deployed(n: usize, seed: u64) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let mut engine = Engine::open(tmp.path().join("model"), options(seed)).unwrap();
        let charm = charm_version(tmp.path(), "v1");
        engine.deploy(&charm, APP, n, None).unwrap();
        let report = engine.settle().unwrap();
        assert!(report.is_clean(), "deploy left errors: {:?}", report.errors);
        Fixture { tmp, engine }
    }

    fn history_len(&self) -> usize {
        self.engine.history().unwrap().len()
    }

    /// Operation records of `unit` after the first `since` records of the model.
    fn ops_since(&self, since: usize, unit: &str) -> Vec<OpRecord> {
        self.engine
            .history()
            .unwrap()
            .into_iter()
            .skip(since)
            .filter(|r| r.unit == unit)
            .collect()
    }

    fn hooks_since(&self, since: usize, unit: &str) -> Vec<String> {
        self.ops_since(since, unit)
            .into_iter()
            .filter(|r| r.kind == OpKind::Hook && r.outcome == Outcome::Succeeded)
            .map(|r| r.name)
            .collect()
    }

    /// juju-log messages of `unit`.
    fn juju_logs(&self, unit: &str) -> Vec<String> {
        self.engine
            .log_entries()
            .unwrap()
            .into_iter()
            .filter(|e| e.unit.as_deref() == Some(unit) && e.module.ends_with(".juju-log"))
            .map(|e| e.message)
            .collect()
    }

    fn completed(&self, unit: &str) -> Vec<String> {
        let dir = self.engine.machine_dir(unit).unwrap();
        fs::read_to_string(dir.join("completed"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn config(&mut self, key: &str, value: &str) {
        let values = BTreeMap::from([(key.to_string(), value.to_string())]);
        self.engine.set_config(APP, &values).unwrap();
    }
}

fn params(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn units(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{APP}/{i}")).collect()
}

#[test]
fn deploy_runs_each_unit_through_the_machine_sequence() {
    let f = Fixture::deployed(3, 1);
    for unit in units(3) {
        let hooks = f.engine.hooks_run(&unit).unwrap();
        let leader_hook = if unit == "shelly/0" {
            "leader-elected"
        } else {
            "leader-settings-changed"
        };
        assert_eq!(
            hooks[..5],
            [
                "install",
                "replicas-relation-created",
                leader_hook,
                "config-changed",
                "start"
            ],
            "{unit}: {hooks:?}"
        );
        // Then one joined per other unit, each immediately followed by its changed.
        let rest = &hooks[5..];
        let mut joined = Vec::new();
        for (i, hook) in rest.iter().enumerate() {
            assert!(
                hook.starts_with("replicas-relation-"),
                "{unit}: unexpected {hook} in {rest:?}"
            );
            if hook == "replicas-relation-joined" {
                joined.push(i);
            }
        }
        assert_eq!(joined.len(), 2, "{unit}: {rest:?}");
        let records: Vec<OpRecord> = f
            .engine
            .history()
            .unwrap()
            .into_iter()
            .filter(|r| {
                r.unit == unit
                    && r.kind == OpKind::Hook
                    && r.name.starts_with("replicas-relation-j")
            })
            .collect();
        let mut remotes: Vec<String> = records
            .iter()
            .filter_map(|r| r.remote_unit.clone())
            .collect();
        remotes.sort();
        let mut others: Vec<String> = units(3).into_iter().filter(|u| *u != unit).collect();
        others.sort();
        assert_eq!(remotes, others, "{unit} joined every other unit once");
        let all: Vec<OpRecord> = f
            .engine
            .history()
            .unwrap()
            .into_iter()
            .filter(|r| r.unit == unit)
            .collect();
        for (i, record) in all.iter().enumerate() {
            if record.name == "replicas-relation-joined" {
                let next = &all[i + 1];
                assert_eq!(
                    next.name, "replicas-relation-changed",
                    "{unit}: joined not followed by changed"
                );
                assert_eq!(next.remote_unit, record.remote_unit);
            }
        }
        assert!(f
            .juju_logs(&unit)
            .iter()
            .any(|m| m == "config-changed with code v1 flavour=vanilla"));
    }
    let status = f.engine.status();
    let app = &status.applications[APP];
    assert_eq!(app.charm_rev, 1);
    assert_eq!(app.scale, 3);
    assert!(app.units["shelly/0"].leader);
    for unit in app.units.values() {
        assert_eq!(unit.workload_status.current, "active");
        assert_eq!(unit.workload_status.message, "ready");
        assert_eq!(unit.juju_status.current, "idle");
    }
    assert!(f
        .juju_logs("shelly/0")
        .contains(&"leader-elected is-leader=True".to_string()));
    // The committed bags carry the network keys and the config-changed write.
    let bag = f.engine.unit_bag("shelly/1", "replicas").unwrap();
    assert_eq!(bag.get("flavour").map(String::as_str), Some("vanilla"));
    assert!(bag.contains_key("private-address") && bag.contains_key("ingress-address"));
}

#[test]
fn action_on_the_leader_returns_results_with_defaults() {
    let mut f = Fixture::deployed(2, 2);
    let id = f
        .engine
        .run_action("shelly/leader", "report", params(json!({"count": 3})))
        .unwrap();
    assert_eq!(f.engine.task(id).unwrap().status, TaskStatus::Pending);
    f.engine.settle().unwrap();
    let task = f.engine.task(id).unwrap();
    assert_eq!(task.status, TaskStatus::Completed, "{task:?}");
    assert_eq!(task.unit, "shelly/0");
    assert_eq!(task.results["unit"], json!("shelly/0"));
    assert_eq!(task.results["leader"], json!("True"));
    assert_eq!(
        task.results["greeting"],
        json!("hello"),
        "default inserted at enqueue"
    );
    assert_eq!(task.results["count"], json!("3"));
    assert_eq!(task.results["return-code"], json!(0));
    assert_eq!(task.results["stdout"], json!("report done\n"));
    assert_eq!(
        task.log
            .iter()
            .map(|l| l.message.as_str())
            .collect::<Vec<_>>(),
        ["reporting"]
    );

    let unknown = f.engine.run_action(
        "shelly/1",
        "report",
        params(json!({"count": 1, "bogus": 1})),
    );
    assert!(unknown
        .unwrap_err()
        .to_string()
        .starts_with("validation failed: "));
    let missing = f.engine.run_action("shelly/1", "report", Map::new());
    assert!(missing
        .unwrap_err()
        .to_string()
        .contains("count is required"));
    let undefined = f
        .engine
        .run_action("shelly/1", "nope", Map::new())
        .unwrap_err();
    assert_eq!(
        undefined.to_string(),
        "action \"nope\" not defined on unit \"shelly/1\""
    );

    // action-fail: the task fails, its writes still commit, the unit is not in error.
    let failing = f.engine.run_action("shelly/1", "fail", Map::new()).unwrap();
    f.engine.settle().unwrap();
    let task = f.engine.task(failing).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.message.as_deref(), Some("asked to fail"));
    assert_eq!(
        f.engine.unit_bag("shelly/1", "replicas").unwrap()["failed-action"],
        "yes"
    );
    assert!(f.engine.errors().is_empty());
}

#[test]
fn refresh_runs_upgrade_charm_then_config_changed_with_the_new_code_on_every_unit() {
    let mut f = Fixture::deployed(3, 3);
    let v2 = charm_version(f.tmp.path(), "v2");
    let since = f.history_len();
    assert_eq!(f.engine.refresh(APP, Source::Path(v2)).unwrap(), 2);
    assert_eq!(
        f.engine.status().applications[APP].charm_rev,
        2,
        "Rev changes when the refresh is accepted"
    );
    f.engine.settle().unwrap();
    for unit in units(3) {
        let ops = f.ops_since(since, &unit);
        let names: Vec<&str> = ops.iter().map(|r| r.name.as_str()).collect();
        // Juju's machine order: leader-settings-changed only on non-leaders, no start.
        let expected: &[&str] = if f.engine.leader(APP) == Some(unit.as_str()) {
            &["charm-swap", "upgrade-charm", "config-changed"]
        } else {
            &[
                "charm-swap",
                "upgrade-charm",
                "config-changed",
                "leader-settings-changed",
            ]
        };
        assert_eq!(names, expected, "{unit}: no start, nothing else");
        assert!(ops.iter().all(|r| r.revision == Some(2)), "{unit}: {ops:?}");
        let logs = f.juju_logs(&unit);
        assert!(
            logs.contains(&"upgrade-charm with code v2".to_string()),
            "{unit}: {logs:?}"
        );
        assert!(logs.contains(&"config-changed with code v2 flavour=vanilla".to_string()));
        let charm_dir = f.engine.charm_dir(&unit);
        assert_eq!(
            fs::read_to_string(charm_dir.join("version.txt")).unwrap(),
            "v2\n"
        );
        assert_eq!(
            fs::read_to_string(charm_dir.join("revision")).unwrap(),
            "2\n"
        );
    }
    assert_eq!(f.engine.status().applications[APP].version, "v2");

    // Rolling back is the same procedure, to the stored revision 1.
    let since = f.history_len();
    f.engine.refresh(APP, Source::Revision(1)).unwrap();
    f.engine.settle().unwrap();
    for unit in units(3) {
        let hooks = f.hooks_since(since, &unit);
        let mut expected = vec!["upgrade-charm", "config-changed"];
        if f.engine.leader(APP) != Some(unit.as_str()) {
            expected.push("leader-settings-changed");
        }
        assert_eq!(hooks, expected, "{unit}");
        assert!(f
            .juju_logs(&unit)
            .contains(&"upgrade-charm with code v1".to_string()));
    }
    assert!(
        f.engine.refresh(APP, Source::Revision(1)).is_err(),
        "already on revision 1"
    );
    assert!(
        f.engine.refresh(APP, Source::Revision(9)).is_err(),
        "no such revision"
    );
}

#[test]
fn unit_bag_changes_fan_out_and_coalesce() {
    let mut f = Fixture::deployed(3, 4);
    // Three commits by shelly/0 before anyone else runs.
    for note in ["a", "b", "c"] {
        f.engine
            .run_action("shelly/0", "set-note", params(json!({"note": note})))
            .unwrap();
    }
    let since = f.history_len();
    for _ in 0..3 {
        let step = f.engine.step_unit("shelly/0").unwrap().unwrap();
        assert_eq!(step.outcome, Outcome::Succeeded);
    }
    f.engine.settle().unwrap();
    for unit in ["shelly/1", "shelly/2"] {
        let changed: Vec<OpRecord> = f
            .ops_since(since, unit)
            .into_iter()
            .filter(|r| r.name == "replicas-relation-changed")
            .collect();
        assert_eq!(
            changed.len(),
            1,
            "{unit}: one coalesced change: {changed:?}"
        );
        assert_eq!(changed[0].remote_unit.as_deref(), Some("shelly/0"));
        assert_eq!(
            f.juju_logs(unit).last().map(String::as_str),
            Some("replicas:0: saw unit shelly/0 note=c")
        );
    }
    assert!(
        f.ops_since(since, "shelly/0")
            .iter()
            .all(|r| r.kind == OpKind::Action),
        "the writer does not hear its own change"
    );

    // The leader's application bag: every other unit gets one app-level change.
    let since = f.history_len();
    f.engine
        .run_action(
            "shelly/leader",
            "set-note",
            params(json!({"note": "shared", "app": true})),
        )
        .unwrap();
    f.engine.settle().unwrap();
    assert_eq!(f.engine.app_bag(APP, "replicas").unwrap()["note"], "shared");
    for unit in ["shelly/1", "shelly/2"] {
        let changed: Vec<OpRecord> = f
            .ops_since(since, unit)
            .into_iter()
            .filter(|r| r.name == "replicas-relation-changed")
            .collect();
        assert_eq!(changed.len(), 1, "{unit}");
        assert_eq!(
            changed[0].remote_unit.as_deref(),
            Some(""),
            "app-level change has an empty remote unit"
        );
        assert_eq!(
            f.juju_logs(unit).last().map(String::as_str),
            Some("replicas:0: saw app note=shared")
        );
    }
    assert!(f
        .ops_since(since, "shelly/0")
        .iter()
        .all(|r| r.kind == OpKind::Action));
}

#[test]
fn an_injected_failure_discards_the_writes_and_the_retry_commits_them() {
    let mut f = Fixture::deployed(2, 5);
    f.engine.fail_next_hook("shelly/1").unwrap();
    f.config("flavour", "chocolate");
    let step = f.engine.step_unit("shelly/1").unwrap().unwrap();
    assert_eq!(step.operation, "config-changed");
    assert!(matches!(step.outcome, Outcome::Failed { .. }));
    // The hook ran its tools, but nothing batched was committed.
    assert!(f
        .juju_logs("shelly/1")
        .contains(&"config-changed with code v1 flavour=chocolate".to_string()));
    assert_eq!(
        f.engine.unit_bag("shelly/1", "replicas").unwrap()["flavour"],
        "vanilla"
    );
    let unit = &f.engine.model().units["shelly/1"];
    assert_eq!(unit.state.as_ref().unwrap()["flavour"], "vanilla");
    let shown = &f.engine.status().applications[APP].units["shelly/1"];
    assert_eq!(shown.workload_status.current, "error");
    assert_eq!(
        shown.workload_status.message,
        "hook failed: \"config-changed\""
    );
    assert_eq!(shown.juju_status.current, "idle");

    let clock = f.engine.model().clock;
    let report = f.engine.settle().unwrap();
    assert!(report.is_clean());
    assert!(report
        .operations
        .iter()
        .any(|s| s.unit == "shelly/1" && s.retry && s.outcome == Outcome::Succeeded));
    assert!(
        f.engine.model().clock >= clock + 5,
        "the retry waited for its backoff in virtual time"
    );
    assert_eq!(
        f.engine.unit_bag("shelly/1", "replicas").unwrap()["flavour"],
        "chocolate"
    );
    assert_eq!(
        f.engine.model().units["shelly/1"].state.as_ref().unwrap()["flavour"],
        "chocolate"
    );
}

#[test]
fn a_hook_that_keeps_failing_blocks_the_unit_until_resolved() {
    let mut f = Fixture::deployed(3, 6);
    let machine = f.engine.machine_dir("shelly/2").unwrap();
    fs::write(machine.join("fail-config-changed"), "").unwrap();
    f.config("flavour", "mint");
    let report = f.engine.settle().unwrap();
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert_eq!(report.errors[0].unit, "shelly/2");
    assert_eq!(report.errors[0].hook, "config-changed");
    assert_eq!(report.errors[0].reason, "exit status 1");
    assert_eq!(
        report.errors[0].attempts, 4,
        "first run plus three automatic retries"
    );

    // While in error, relation changes wait; actions still run.
    let since = f.history_len();
    for note in ["x", "y"] {
        f.engine
            .run_action("shelly/0", "set-note", params(json!({"note": note})))
            .unwrap();
        f.engine.step_unit("shelly/0").unwrap();
    }
    let task = f
        .engine
        .run_action("shelly/2", "report", params(json!({"count": 1})))
        .unwrap();
    f.engine.settle().unwrap();
    assert_eq!(f.engine.task(task).unwrap().status, TaskStatus::Completed);
    assert!(f
        .ops_since(since, "shelly/2")
        .iter()
        .all(|r| r.kind == OpKind::Action || r.name == "config-changed"));

    fs::remove_file(machine.join("fail-config-changed")).unwrap();
    let since = f.history_len();
    f.engine.resolved("shelly/2").unwrap();
    let report = f.engine.settle().unwrap();
    assert!(report.is_clean());
    let hooks = f.hooks_since(since, "shelly/2");
    assert_eq!(hooks[0], "config-changed");
    // The changes accumulated while in error arrive as one change with the latest data.
    let changed: Vec<OpRecord> = f
        .ops_since(since, "shelly/2")
        .into_iter()
        .filter(|r| {
            r.name == "replicas-relation-changed" && r.remote_unit.as_deref() == Some("shelly/0")
        })
        .collect();
    assert_eq!(changed.len(), 1);
    assert!(f
        .juju_logs("shelly/2")
        .contains(&"replicas:0: saw unit shelly/0 note=y".to_string()));
}

#[test]
fn killing_the_agent_mid_hook_reruns_the_hook_without_an_error() {
    let mut f = Fixture::deployed(2, 7);
    let before = f.completed("shelly/1").len();
    // config-changed calls config-get, then juju-log, then relation-set: killed after juju-log.
    f.engine.kill_agent_mid_hook("shelly/1", 2).unwrap();
    let since = f.history_len();
    f.config("flavour", "lemon");
    let report = f.engine.settle().unwrap();
    assert!(report.is_clean());
    let outcomes: Vec<(String, Outcome)> = f
        .ops_since(since, "shelly/1")
        .into_iter()
        .filter(|r| r.name == "config-changed")
        .map(|r| (r.name, r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("config-changed".to_string(), Outcome::Killed),
            ("config-changed".to_string(), Outcome::Succeeded)
        ]
    );
    let completed = f.completed("shelly/1");
    assert_eq!(
        completed[before..]
            .iter()
            .filter(|l| l.starts_with("config-changed"))
            .count(),
        1
    );
    assert_eq!(
        f.engine.unit_bag("shelly/1", "replicas").unwrap()["flavour"],
        "lemon"
    );
    // The juju-log of the killed run was applied at once; the run happened twice.
    let logs = f.juju_logs("shelly/1");
    assert_eq!(
        logs.iter()
            .filter(|m| *m == "config-changed with code v1 flavour=lemon")
            .count(),
        2
    );
}

#[test]
fn moving_leadership_runs_leader_elected_and_leader_settings_changed() {
    let mut f = Fixture::deployed(3, 8);
    let since = f.history_len();
    f.engine.move_leader(APP, "shelly/2").unwrap();
    f.engine.settle().unwrap();
    assert_eq!(f.hooks_since(since, "shelly/2"), ["leader-elected"]);
    assert_eq!(
        f.hooks_since(since, "shelly/0"),
        ["leader-settings-changed"]
    );
    assert_eq!(
        f.hooks_since(since, "shelly/1"),
        ["leader-settings-changed"]
    );
    assert_eq!(
        f.juju_logs("shelly/2").last().map(String::as_str),
        Some("leader-elected is-leader=True")
    );
    assert!(f.engine.status().applications[APP].units["shelly/2"].leader);
    let id = f
        .engine
        .run_action("shelly/leader", "report", params(json!({"count": 1})))
        .unwrap();
    f.engine.settle().unwrap();
    assert_eq!(
        f.engine.task(id).unwrap().results["unit"],
        json!("shelly/2")
    );
}

#[test]
fn adding_and_removing_units_joins_and_departs() {
    let mut f = Fixture::deployed(2, 9);
    let since = f.history_len();
    assert_eq!(f.engine.add_unit(APP, 1).unwrap(), ["shelly/2"]);
    f.engine.settle().unwrap();
    let hooks = f.hooks_since(since, "shelly/2");
    assert_eq!(
        hooks[..5],
        [
            "install",
            "replicas-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start"
        ]
    );
    for unit in ["shelly/0", "shelly/1"] {
        let joined: Vec<OpRecord> = f
            .ops_since(since, unit)
            .into_iter()
            .filter(|r| r.name == "replicas-relation-joined")
            .collect();
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].remote_unit.as_deref(), Some("shelly/2"));
    }

    // Removing the leader: leadership moves, the others see it depart.
    let since = f.history_len();
    f.engine.remove_unit("shelly/0").unwrap();
    f.engine.settle().unwrap();
    assert!(!f.engine.model().units.contains_key("shelly/0"));
    let gone: Vec<String> = f
        .engine
        .history()
        .unwrap()
        .into_iter()
        .skip(since)
        .filter(|r| r.unit == "shelly/0")
        .map(|r| format!("{} {}", r.name, r.remote_unit.unwrap_or_default()))
        .collect();
    assert_eq!(
        gone,
        [
            "replicas-relation-departed shelly/1",
            "replicas-relation-departed shelly/2",
            "stop ",
            "remove "
        ]
    );
    assert_eq!(f.engine.leader(APP), Some("shelly/1"));
    assert!(f
        .hooks_since(since, "shelly/1")
        .contains(&"leader-elected".to_string()));
    for unit in ["shelly/1", "shelly/2"] {
        let departed: Vec<OpRecord> = f
            .ops_since(since, unit)
            .into_iter()
            .filter(|r| r.name == "replicas-relation-departed")
            .collect();
        assert_eq!(departed.len(), 1, "{unit}");
        assert_eq!(departed[0].remote_unit.as_deref(), Some("shelly/0"));
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let f = Fixture::deployed(3, seed);
        f.engine
            .history()
            .unwrap()
            .into_iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.unit,
                    r.name,
                    r.remote_unit.unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(11), run(11));
}
