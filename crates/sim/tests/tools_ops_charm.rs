//! Runs the Python test charm (`tests/charms/ops-charm`, built on PyPI `ops`)
//! directly under a hand-built hook context with the `juju-sim` binary
//! symlinked as every hook tool: an `install` hook, then the `greet` action
//! (succeeding and failing), then a hook that fails. ops parses every tool
//! output it reads, so this proves our output formats are what ops expects.
//!
//! The venv comes from `OPS_VENV` (set by `scripts/test`), else the
//! workspace's `.venv` (created by `scripts/python-venv`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use juju_sim::context::{ActionContext, Bag, HookContext, Immediate, RelationView, StatusValue};
use juju_sim::tools::TOOL_NAMES;
use serde_json::json;

mod support;
use support::ops_venv;

const UNIT: &str = "ops-sim-test/0";
const APP: &str = "ops-sim-test";

fn bag(pairs: &[(&str, &str)]) -> Bag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A unit directory: a copy of the charm, a tools dir and a context file.
struct Unit {
    dir: tempfile::TempDir,
}

impl Unit {
    fn new() -> Unit {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/ops-charm");
        copy_dir(&source, &dir.path().join("charm"));
        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).expect("tools dir");
        for name in TOOL_NAMES {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_juju-sim"), tools.join(name))
                .expect("symlink");
        }
        Unit { dir }
    }

    fn context_path(&self) -> PathBuf {
        self.dir.path().join("context.json")
    }

    fn write_context(&self, ctx: &HookContext) {
        std::fs::write(
            self.context_path(),
            serde_json::to_vec_pretty(ctx).expect("json"),
        )
        .expect("write context");
    }

    fn read_context(&self) -> HookContext {
        serde_json::from_slice(&std::fs::read(self.context_path()).expect("read"))
            .expect("parse context")
    }

    /// Runs `dispatch` the way Juju does: a fresh environment, cwd = charm dir.
    fn dispatch(&self, ctx: &HookContext, dispatch_path: &str, extra: &[(&str, &str)]) -> Output {
        self.write_context(ctx);
        let charm = self.dir.path().join("charm");
        let path = format!(
            "{}:/usr/local/bin:/usr/bin:/bin",
            self.dir.path().join("tools").display()
        );
        let mut command = Command::new(charm.join("dispatch"));
        command
            .env_clear()
            .current_dir(&charm)
            .stdin(Stdio::null())
            .env("PATH", path)
            .env("LANG", "C.UTF-8")
            .env("OPS_VENV", ops_venv())
            .env("JUJU_SIM_CONTEXT", self.context_path())
            .env("JUJU_CONTEXT_ID", &ctx.id)
            .env("JUJU_DISPATCH_PATH", dispatch_path)
            .env("JUJU_UNIT_NAME", UNIT)
            .env("JUJU_MODEL_NAME", "sim")
            .env("JUJU_MODEL_UUID", "6f1b1e6e-4c3a-4f5e-9a43-2b7a1c0d9e10")
            .env("JUJU_VERSION", "3.6.4")
            .env("JUJU_CHARM_DIR", &charm)
            .env("CHARM_DIR", &charm)
            .env("JUJU_PRINCIPAL_UNIT", "")
            .envs(extra.iter().copied());
        command.output().expect("run dispatch")
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read charm dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            // std::fs::copy keeps the permission bits (dispatch stays executable).
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The leader, in its peer relation with one other unit, in `install`.
fn install_context() -> HookContext {
    HookContext {
        id: format!("{UNIT}-install-5e0f3c1a9b7d4e2f8a6c0b1d3e5f7a9c"),
        unit: UNIT.into(),
        app: APP.into(),
        is_leader: true,
        hook: Some("install".into()),
        relations: BTreeMap::from([(
            0,
            RelationView {
                endpoint: "replicas".into(),
                remote_app: APP.into(),
                members: vec!["ops-sim-test/1".into()],
                units: BTreeMap::from([
                    (UNIT.to_string(), bag(&[("private-address", "10.0.0.1")])),
                    (
                        "ops-sim-test/1".to_string(),
                        bag(&[("private-address", "10.0.0.2"), ("greeting", "hi")]),
                    ),
                ]),
                apps: BTreeMap::from([(APP.to_string(), Bag::new())]),
                ..RelationView::default()
            },
        )]),
        config: BTreeMap::from([
            ("greeting".to_string(), Some(json!("hello"))),
            ("fail-hooks".to_string(), Some(json!(false))),
        ]),
        unit_statuses: BTreeMap::from([
            (
                UNIT.to_string(),
                StatusValue {
                    status: "waiting".into(),
                    message: "agent initialising".into(),
                },
            ),
            (
                "ops-sim-test/1".to_string(),
                StatusValue {
                    status: "waiting".into(),
                    message: String::new(),
                },
            ),
        ]),
        private_address: "10.0.0.1".into(),
        ..HookContext::default()
    }
}

/// What a hook leaves for the next run: committed data, no effects.
fn next_run(mut ctx: HookContext, id: &str) -> HookContext {
    ctx.id = id.into();
    ctx.immediate.clear();
    ctx.unit_status_cache = None;
    for relation in ctx.relations.values_mut() {
        relation.unit_dirty = false;
        relation.app_dirty = false;
    }
    ctx
}

fn greet(ctx: HookContext, id: &str, params: serde_json::Value) -> HookContext {
    let mut ctx = next_run(ctx, id);
    ctx.hook = None;
    let serde_json::Value::Object(params) = params else {
        panic!("params must be a map")
    };
    ctx.action = Some(ActionContext {
        name: "greet".into(),
        id: "1".into(),
        params,
        ..ActionContext::default()
    });
    ctx
}

fn logs(ctx: &HookContext) -> Vec<String> {
    ctx.immediate
        .iter()
        .filter_map(|effect| match effect {
            Immediate::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[track_caller]
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "dispatch failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn ops_charm_runs_install_then_actions_on_our_tools() {
    let unit = Unit::new();

    // install
    let output = unit.dispatch(
        &install_context(),
        "hooks/install",
        &[("JUJU_HOOK_NAME", "install")],
    );
    assert_success(&output);
    let after_install = unit.read_context();
    let greeting = "hello from ops-sim-test/0 with 1 peers";
    let statuses: Vec<&Immediate> = after_install
        .immediate
        .iter()
        .filter(|effect| !matches!(effect, Immediate::Log { .. }))
        .collect();
    assert_eq!(
        statuses,
        vec![
            &Immediate::UnitStatus {
                status: "maintenance".into(),
                message: "installing".into()
            },
            &Immediate::WorkloadVersion {
                version: "1.2.3".into()
            },
            &Immediate::UnitStatus {
                status: "active".into(),
                message: greeting.into()
            },
            &Immediate::AppStatus {
                status: "active".into(),
                message: "led by ops-sim-test/0".into()
            },
        ]
    );
    let logs = logs(&after_install);
    assert!(
        logs.contains(&"peer ops-sim-test/1 says hi".to_string()),
        "{logs:?}"
    );
    assert!(
        logs.contains(&"handled InstallEvent (event 1)".to_string()),
        "{logs:?}"
    );
    let peers = &after_install.relations[&0];
    assert_eq!(
        peers.units[UNIT],
        bag(&[
            ("events", "1"),
            ("greeting", "hello"),
            ("private-address", "10.0.0.1")
        ])
    );
    assert_eq!(peers.apps[APP], bag(&[("leader", UNIT)]));
    assert!(peers.unit_dirty && peers.app_dirty);
    // ops kept its stored state in Juju's charm state.
    let state = after_install.state.clone().expect("ops wrote charm state");
    assert!(
        state
            .keys()
            .any(|key| key.contains("StoredStateData[_stored]")),
        "{state:?}"
    );

    // A successful action sees the committed state of the install hook.
    let ctx = greet(
        after_install.clone(),
        &format!("{UNIT}-greet-1"),
        json!({"name": "bob", "fail": false}),
    );
    let output = unit.dispatch(
        &ctx,
        "actions/greet",
        &[
            ("JUJU_HOOK_NAME", ""),
            ("JUJU_ACTION_NAME", "greet"),
            ("JUJU_ACTION_UUID", "1"),
        ],
    );
    assert_success(&output);
    let after_action = unit.read_context();
    let action = after_action.action.as_ref().expect("action context");
    assert_eq!(action.failed, None);
    assert_eq!(
        serde_json::Value::Object(action.results.clone()),
        json!({
            "greeting": "hello, bob!",
            "peers": "1",
            "leader": "True",
            "unit-status": greeting,
            "planned-units": "2",
            "stored-events": "1",
            "app": {"status": "active", "leader-in-peer-data": UNIT},
        })
    );
    assert!(after_action.immediate.contains(&Immediate::ActionLog {
        message: "greeting bob".into()
    }));

    // A failing action: action-fail's message, exit 0.
    let ctx = greet(
        after_install.clone(),
        &format!("{UNIT}-greet-2"),
        json!({"name": "eve", "fail": true}),
    );
    let output = unit.dispatch(
        &ctx,
        "actions/greet",
        &[
            ("JUJU_HOOK_NAME", ""),
            ("JUJU_ACTION_NAME", "greet"),
            ("JUJU_ACTION_UUID", "2"),
        ],
    );
    assert_success(&output);
    let failed = unit.read_context();
    let action = failed.action.as_ref().expect("action context");
    assert_eq!(action.failed.as_deref(), Some("asked not to greet eve"));
    assert!(action.results.is_empty());
}

#[test]
fn failing_hook_exits_non_zero_after_writing() {
    let unit = Unit::new();
    let mut ctx = install_context();
    ctx.is_leader = false;
    ctx.config.insert("fail-hooks".into(), Some(json!(true)));
    ctx.hook = Some("config-changed".into());
    let output = unit.dispatch(
        &ctx,
        "hooks/config-changed",
        &[("JUJU_HOOK_NAME", "config-changed")],
    );
    assert!(!output.status.success(), "the hook should fail");
    let after = unit.read_context();
    // The batched write is in the context for the engine to drop; the status
    // change was immediate and stays.
    assert!(after.relations[&0].unit_dirty);
    assert!(
        !after.relations[&0].app_dirty,
        "a non-leader must not write the app bag"
    );
    assert!(after.immediate.contains(&Immediate::UnitStatus {
        status: "active".into(),
        message: "hello from ops-sim-test/0 with 1 peers".into()
    }));
}
