//! The `juju-sim` binary end to end: every command against a model in a
//! temporary directory, with the shell test charm (directory and packed
//! `.charm`) and the binary itself as the hook tools.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn charm_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/shell-charm")
}

fn sim(model: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_juju-sim"))
        .arg("--model")
        .arg(model)
        .args(args)
        .env_remove("JUJU_SIM_MODEL")
        .output()
        .expect("run juju-sim")
}

fn ok(model: &Path, args: &[&str]) -> String {
    let out = sim(model, args);
    assert!(
        out.status.success(),
        "juju-sim {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn status_json(model: &Path) -> Value {
    serde_json::from_str(&ok(model, &["status", "--format", "json"])).expect("status json")
}

/// A packed copy of the shell charm with `version.txt` = `version`.
fn packed(root: &Path, version: &str) -> PathBuf {
    let dir = root.join(format!("src-{version}"));
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(charm_source()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    fs::write(dir.join("version.txt"), format!("{version}\n")).unwrap();
    let out = root.join(format!("shelly-{version}.charm"));
    juju_sim::charm_archive::pack(&dir, &[], &out).unwrap();
    out
}

#[test]
fn deploy_status_run_refresh_and_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let v1 = packed(tmp.path(), "v1");
    let out = ok(
        &model,
        &[
            "deploy",
            v1.to_str().unwrap(),
            "db",
            "-n",
            "3",
            "--revision",
            "181",
        ],
    );
    assert!(out.contains("Deployed \"db\" (revision 181)"), "{out}");

    let table = ok(&model, &["status"]);
    assert!(
        table.contains("App  Version  Status  Scale  Charm   Channel  Rev  Exposed  Message"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("db ") && l.contains("active") && l.contains(" 181 ")),
        "{table}"
    );
    assert!(table
        .lines()
        .any(|l| l.starts_with("db/0*") && l.contains("active") && l.contains("idle")));
    assert!(table
        .lines()
        .any(|l| l.starts_with("db/2 ") && l.contains("ready")));
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&ok(&model, &["status", "--format", "yaml"])).unwrap();
    assert_eq!(
        yaml["applications"]["db"]["units"]
            .as_mapping()
            .map(|units| units.len()),
        Some(3)
    );

    let out = ok(
        &model,
        &["run", "db/leader", "report", "count=2", "greeting=hi"],
    );
    assert!(out.contains("task 1 on unit-db-0"), "{out}");
    assert!(
        out.contains("greeting: hi\n")
            && out.contains("unit: db/0\n")
            && out.contains("count: '2'\n"),
        "{out}"
    );
    assert!(
        out.contains("reporting"),
        "action-log lines are shown: {out}"
    );

    let failed = sim(&model, &["run", "db/1", "fail"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("the following task failed"));
    let task = ok(&model, &["show-task", "2", "--format", "json"]);
    let task: Value = serde_json::from_str(&task).unwrap();
    assert_eq!(task["status"], "failed");
    assert_eq!(task["message"], "asked to fail");

    let invalid = sim(&model, &["run", "db/1", "report", "count=0"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&invalid.stderr).starts_with("ERROR validation failed: "));

    let background = ok(
        &model,
        &["run", "db/2", "report", "count=1", "--background"],
    );
    assert!(background.contains("show-task 3"), "{background}");
    let pending: Value =
        serde_json::from_str(&ok(&model, &["show-task", "3", "--format", "json"])).unwrap();
    assert_eq!(pending["status"], "pending");
    ok(&model, &["settle"]);
    let done: Value =
        serde_json::from_str(&ok(&model, &["show-task", "3", "--format", "json"])).unwrap();
    assert_eq!(done["status"], "completed");

    let v2 = packed(tmp.path(), "v2");
    ok(&model, &["refresh", "db", "--path", v2.to_str().unwrap()]);
    let status = status_json(&model);
    assert_eq!(status["applications"]["db"]["charm-rev"], 182);
    assert_eq!(status["applications"]["db"]["version"], "v2");
    let history = ok(&model, &["history", "--unit", "db/1"]);
    let tail: Vec<&str> = history.lines().rev().take(3).collect();
    assert!(
        tail[2].contains("upgrade-charm rev 182 ok")
            && tail[1].contains("config-changed rev 182 ok")
            && tail[0].contains("leader-settings-changed rev 182 ok"),
        "db/1 is not the leader: {history}"
    );
    ok(&model, &["refresh", "db", "--revision", "181"]);
    assert_eq!(status_json(&model)["applications"]["db"]["charm-rev"], 181);

    let log = ok(
        &model,
        &[
            "debug-log",
            "--include",
            "db/1",
            "--level",
            "INFO",
            "--replay",
        ],
    );
    assert!(log.lines().all(|l| l.starts_with("unit-db-1: ")), "{log}");
    assert!(
        log.contains("INFO unit.db/1.juju-log upgrade-charm with code v2"),
        "{log}"
    );
    assert!(!log.contains(" DEBUG "));
    let last = ok(&model, &["debug-log", "-n", "3"]);
    assert_eq!(last.lines().count(), 3);
}

#[test]
fn faults_leadership_units_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let charm = charm_source();
    ok(&model, &["deploy", charm.to_str().unwrap(), "-n", "2"]);

    ok(
        &model,
        &[
            "fault",
            "kill-agent",
            "shelly/1",
            "--after-tool-calls",
            "2",
            "--hook",
            "config-changed",
        ],
    );
    ok(&model, &["config", "shelly", "flavour=mint"]);
    let history = ok(&model, &["history", "--unit", "shelly/1"]);
    assert!(history.contains("config-changed rev 1 killed"), "{history}");
    let config = ok(&model, &["config", "shelly"]);
    assert!(
        config.contains("value: mint") && config.contains("source: user"),
        "{config}"
    );

    ok(&model, &["fault", "fail-next-hook", "shelly/0"]);
    ok(&model, &["config", "shelly", "flavour=lemon", "--no-wait"]);
    // One step at a time is not a CLI command; settle retries and recovers.
    let out = sim(&model, &["settle"]);
    assert!(out.status.success());
    let history = ok(&model, &["history", "--unit", "shelly/0"]);
    assert!(
        history.contains("config-changed rev 1 failed: injected failure"),
        "{history}"
    );

    let unit: serde_yaml::Value =
        serde_yaml::from_str(&ok(&model, &["show-unit", "shelly/0"])).unwrap();
    let info = &unit["shelly/0"]["relation-info"][0];
    assert_eq!(info["endpoint"], serde_yaml::Value::from("replicas"));
    assert_eq!(
        info["local-unit"]["data"]["flavour"],
        serde_yaml::Value::from("lemon")
    );
    assert_eq!(
        info["related-units"]["shelly/1"]["data"]["flavour"],
        serde_yaml::Value::from("lemon")
    );
    assert_eq!(
        unit["shelly/0"]["charm-state"]["flavour"],
        serde_yaml::Value::from("lemon")
    );

    ok(&model, &["leader", "shelly/1"]);
    let status = status_json(&model);
    assert_eq!(
        status["applications"]["shelly"]["units"]["shelly/1"]["leader"],
        true
    );
    // Juju leaves `leader` out unless it is true.
    assert_eq!(
        status["applications"]["shelly"]["units"]["shelly/0"].get("leader"),
        None
    );

    ok(&model, &["add-unit", "shelly"]);
    let units = |status: &Value| {
        status["applications"]["shelly"]["units"]
            .as_object()
            .map(|u| u.len())
    };
    assert_eq!(units(&status_json(&model)), Some(3));
    ok(&model, &["remove-unit", "shelly/0"]);
    let status = status_json(&model);
    assert_eq!(units(&status), Some(2));
    assert!(status["applications"]["shelly"]["units"]
        .get("shelly/0")
        .is_none());

    let config = ok(&model, &["model-config", "--env", "OPS_VENV=/opt/venv"]);
    assert!(config.contains("OPS_VENV=/opt/venv"), "{config}");

    let bad = sim(&model, &["resolved", "shelly/1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not in an error state"));

    ok(&model, &["destroy"]);
    assert!(!model.exists());
    assert_eq!(sim(&model, &["status"]).status.code(), Some(1));
}

#[test]
fn every_command_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    let commands = [
        "deploy",
        "add-charm",
        "refresh",
        "run",
        "show-task",
        "status",
        "debug-log",
        "add-unit",
        "remove-unit",
        "resolved",
        "settle",
        "fault",
        "update-status",
        "leader",
        "config",
        "model-config",
        "show-unit",
        "history",
        "destroy",
    ];
    for command in commands {
        let out = ok(tmp.path(), &[command, "--help"]);
        assert!(
            out.contains(&format!("Usage: juju-sim {command}")),
            "{command}: {out}"
        );
    }
    for fault in ["fail-next-hook", "kill-agent"] {
        assert!(ok(tmp.path(), &["fault", fault, "--help"]).contains("Usage: juju-sim fault"));
    }
    let usage = sim(tmp.path(), &["refresh", "app"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error exits 2");
}

#[test]
fn a_relative_model_directory_works_in_every_hook() {
    let tmp = tempfile::tempdir().unwrap();
    let charm = packed(tmp.path(), "v1");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_juju-sim"))
            .args(args)
            .current_dir(tmp.path())
            .env("JUJU_SIM_MODEL", "rel/model")
            .output()
            .expect("run juju-sim")
    };
    let out = run(&["deploy", charm.to_str().unwrap(), "db", "-n", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value =
        serde_json::from_slice(&run(&["status", "--format", "json"]).stdout).unwrap();
    for unit in ["db/0", "db/1"] {
        assert_eq!(
            status["applications"]["db"]["units"][unit]["workload-status"]["current"], "active",
            "{unit}: {status}"
        );
    }
    let log = String::from_utf8_lossy(&run(&["debug-log", "--replay"]).stdout).to_string();
    assert!(!log.contains("fork/exec"), "{log}");
    // The same model by its relative path with --model.
    let out = Command::new(env!("CARGO_BIN_EXE_juju-sim"))
        .args(["--model", "rel/model", "update-status", "db"])
        .current_dir(tmp.path())
        .env_remove("JUJU_SIM_MODEL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A charm whose config-changed sets a status, then waits (at most 10 s) for a file `go`
/// in its machine directory before setting the next.
fn waiting_charm(root: &Path) -> PathBuf {
    let dir = root.join("waiter");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("metadata.yaml"),
        "name: waiter\nsummary: s\ndescription: d\n",
    )
    .unwrap();
    fs::write(
        dir.join("config.yaml"),
        "options:\n  step:\n    type: string\n    default: a\n    description: d\n",
    )
    .unwrap();
    let dispatch = dir.join("dispatch");
    fs::write(
        &dispatch,
        r#"#!/bin/bash
set -eu
m="$JUJU_SIM_MACHINE_DIR"
case "$JUJU_DISPATCH_PATH" in
  hooks/config-changed)
    if [ "$(config-get step)" = "b" ]; then
      status-set maintenance "stopping services.."
      touch "$m/in-hook"
      for _ in $(seq 1 200); do [ -e "$m/go" ] && break; sleep 0.05; done
      status-set maintenance "starting services..."
    fi
    status-set active "ready"
    ;;
esac
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&dispatch, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_status_set_shows_while_the_hook_still_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let charm = waiting_charm(tmp.path());
    ok(&model, &["deploy", charm.to_str().unwrap()]);
    let machine = model.join("machines/0");
    let mut config = Command::new(env!("CARGO_BIN_EXE_juju-sim"))
        .arg("--model")
        .arg(&model)
        .args(["config", "waiter", "step=b"])
        .env_remove("JUJU_SIM_MODEL")
        .spawn()
        .unwrap();
    let workload = |status: &Value| {
        let shown = &status["applications"]["waiter"]["units"]["waiter/0"]["workload-status"];
        (
            shown["current"].as_str().unwrap_or_default().to_string(),
            shown["message"].as_str().unwrap_or_default().to_string(),
        )
    };
    let mut seen = None;
    for _ in 0..200 {
        if machine.join("in-hook").exists() {
            seen = Some(status_json(&model));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let during = seen.expect("the hook started");
    fs::write(machine.join("go"), "").unwrap();
    assert!(config.wait().unwrap().success());
    assert_eq!(
        workload(&during),
        ("maintenance".into(), "stopping services..".into()),
        "{during}"
    );
    assert_eq!(
        during["applications"]["waiter"]["units"]["waiter/0"]["juju-status"]["current"],
        "executing"
    );
    let table = ok(&model, &["status"]);
    assert!(table.contains("ready"), "{table}");
    assert_eq!(
        workload(&status_json(&model)),
        ("active".into(), "ready".into())
    );
}

#[test]
fn background_agents_run_the_model_while_commands_return() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("models");
    let charm = packed(tmp.path(), "v1");
    let juju = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_juju-sim"))
            .args(args)
            .env("JUJU_SIM_HOME", &home)
            .env_remove("JUJU_SIM_MODEL")
            .env_remove("JUJU_MODEL")
            .output()
            .expect("run juju-sim")
    };
    let add = juju(&[
        "add-model",
        "bg",
        "--config",
        "juju-sim-agents=background",
        "--config",
        "juju-sim-operation-delay=1s",
    ]);
    assert!(add.status.success(), "{add:?}");
    let deploy = juju(&["deploy", charm.to_str().unwrap(), "db", "-n", "2"]);
    assert!(deploy.status.success(), "{deploy:?}");
    // A 1 s pause after each operation: the unit cannot install and run the action in 100 ms.
    let late = juju(&["run", "db/0", "report", "count=1", "--wait", "100ms"]);
    assert_eq!(late.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&late.stderr).contains("timed out"),
        "{late:?}"
    );
    let agent_pid: i32 = fs::read_to_string(home.join("bg/.agent.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{agent_pid}")).exists());
    // Faster now: the agent reads the setting before each operation.
    assert!(juju(&["model-config", "juju-sim-operation-delay=0s"])
        .status
        .success());
    let mut active = false;
    for _ in 0..600 {
        let status: Value =
            serde_json::from_slice(&juju(&["status", "--format", "json"]).stdout).unwrap();
        let units = status["applications"]["db"]["units"].as_object().cloned();
        active = units.is_some_and(|units| {
            units
                .values()
                .all(|u| u["workload-status"]["current"] == "active")
        });
        if active {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(active, "the agent brought every unit up");
    let run = juju(&["run", "db/0", "report", "count=2", "--format", "json"]);
    assert!(run.status.success(), "{run:?}");
    let task: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(task["db/0"]["results"]["count"], "2");
    // The task that timed out ran as well.
    let first: Value =
        serde_json::from_slice(&juju(&["show-task", "1", "--format", "json"]).stdout).unwrap();
    assert_eq!(first["status"], "completed");

    let destroy = juju(&["destroy-model", "bg", "--no-prompt"]);
    assert!(destroy.status.success(), "{destroy:?}");
    assert!(!home.join("bg").exists());
    for _ in 0..100 {
        let gone = fs::read_to_string(format!("/proc/{agent_pid}/stat"))
            .map_or(true, |stat| stat.contains(") Z "));
        if gone {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the agent {agent_pid} outlived its model");
}
