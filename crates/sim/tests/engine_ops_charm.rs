//! The engine running the Python test charm (`tests/charms/ops-charm`, built
//! on PyPI `ops`) end to end: ops checks the hook environment the engine
//! builds and parses every tool output, so a deploy, an action, a refresh
//! and a failing hook through the engine prove the pieces fit together.
//!
//! The venv comes from `OPS_VENV` (set by `scripts/test`), else the
//! workspace's `.venv` (created by `scripts/python-venv`); the engine passes
//! it to hooks as extra environment, as `juju-sim model-config --env` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use juju_sim::engine::{Engine, EngineOptions, Source};
use juju_sim::model::{OpKind, Outcome, TaskStatus};
use serde_json::{json, Map};

mod support;
use support::ops_venv;

const APP: &str = "greeter";

fn charm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/ops-charm")
}

#[test]
fn an_ops_charm_deploys_runs_an_action_refreshes_and_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        tool_binary: Some(PathBuf::from(env!("CARGO_BIN_EXE_juju-sim"))),
        ..EngineOptions::default()
    };
    let mut engine = Engine::open(tmp.path().join("model"), options).unwrap();
    engine
        .set_model_env("OPS_VENV", Some(&ops_venv().display().to_string()))
        .unwrap();
    // One unit: this charm rewrites its peer data in every hook, so two units
    // would trade relation-changed hooks for ever (as they would under Juju).
    engine.deploy(&charm(), APP, 1, None).unwrap();
    let report = engine.settle().unwrap();
    let failures: Vec<String> = engine
        .log_entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.level >= juju_sim::model::Level::Warning)
        .map(|e| e.render())
        .collect();
    assert!(
        report.is_clean(),
        "{:?}\n{}",
        report.errors,
        failures.join("\n")
    );
    assert_eq!(
        engine.hooks_run("greeter/0").unwrap(),
        [
            "install",
            "replicas-relation-created",
            "leader-elected",
            "config-changed",
            "start"
        ]
    );
    let status = engine.status();
    let app = &status.applications[APP];
    assert_eq!(app.application_status.message, "led by greeter/0");
    assert_eq!(app.version, "1.2.3");
    let unit = &app.units["greeter/0"];
    assert_eq!(unit.workload_status.current, "active");
    assert_eq!(
        unit.workload_status.message,
        "hello from greeter/0 with 0 peers"
    );
    // ops keeps its stored state in Juju's charm state; five hooks counted.
    let state = engine.model().units["greeter/0"]
        .state
        .clone()
        .unwrap_or_default();
    assert_eq!(
        state
            .get("OpsSimTestCharm/StoredStateData[_stored]")
            .map(String::as_str),
        Some("{events: 5}\n")
    );
    assert_eq!(
        engine.app_bag(APP, "replicas").unwrap()["leader"],
        "greeter/0"
    );

    let task = engine
        .run_action("greeter/leader", "greet", Map::new())
        .unwrap();
    engine.settle().unwrap();
    let task = engine.task(task).unwrap();
    assert_eq!(task.status, TaskStatus::Completed, "{task:?}");
    assert_eq!(task.results["greeting"], json!("hello, world!"));
    assert_eq!(task.results["leader"], json!("True"));
    assert_eq!(task.results["planned-units"], json!("1"));
    assert_eq!(task.log[0].message, "greeting world");

    let since = engine.history().unwrap().len();
    engine.refresh(APP, Source::Path(charm())).unwrap();
    engine.settle().unwrap();
    let after: Vec<String> = engine
        .history()
        .unwrap()
        .into_iter()
        .skip(since)
        .filter(|r| r.kind == OpKind::Hook)
        .map(|r| r.name)
        .collect();
    assert_eq!(after, ["upgrade-charm", "config-changed"]);

    // A hook that raises: its peer-data write is dropped, the unit is in error.
    let before = engine.unit_bag("greeter/0", "replicas").unwrap();
    let values = BTreeMap::from([("fail-hooks".to_string(), "true".to_string())]);
    engine.set_config(APP, &values).unwrap();
    let report = engine.settle().unwrap();
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].hook, "config-changed");
    assert_eq!(engine.unit_bag("greeter/0", "replicas").unwrap(), before);
    let last = engine.history().unwrap().pop().unwrap();
    assert!(matches!(last.outcome, Outcome::Failed { .. }));
    assert_eq!(
        engine.status().applications[APP].units["greeter/0"]
            .workload_status
            .message,
        "hook failed: \"config-changed\""
    );
}
