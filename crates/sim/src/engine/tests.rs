//! Scheduler and engine tests with a scripted process runner: instead of
//! running the charm, the runner hands the hook context to a closure that
//! edits it as the hook tools would and returns an exit code. Fast enough to
//! explore orderings (12 units, retries, refresh while in error, bounds).

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::rc::Rc;

use super::*;
use crate::context::HookContext;
use crate::model::{OpKind, OpRecord};

/// What the scripted "charm" sees: the request (env) and the context to edit.
type Script = Box<dyn FnMut(&RunRequest, &mut HookContext) -> i32>;

/// What a script records for the test to inspect afterwards.
type Shared<T> = Rc<RefCell<Vec<T>>>;

struct ScriptedRunner {
    script: Script,
}

impl ProcessRunner for ScriptedRunner {
    fn run(&mut self, request: &RunRequest) -> std::io::Result<RunOutput> {
        let text = fs::read_to_string(&request.context_file)?;
        let mut ctx: HookContext = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        let code = (self.script)(request, &mut ctx);
        fs::write(
            &request.context_file,
            serde_json::to_string(&ctx).map_err(std::io::Error::other)?,
        )?;
        Ok(RunOutput {
            exit: Exit::Code(code),
            stdout: Vec::new(),
            stderr: Vec::new(),
            warning: None,
        })
    }
}

const METADATA: &str = "name: app\npeers:\n  replicas:\n    interface: app_peers\n";
const ACTIONS: &str = "go:\n  params:\n    n: {type: integer, default: 1}\n";
const CONFIG: &str = "options:\n  mode: {type: string, default: fast}\n  size: {type: int}\n";

fn write_charm(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("metadata.yaml"), METADATA).unwrap();
    fs::write(dir.join("actions.yaml"), ACTIONS).unwrap();
    fs::write(dir.join("config.yaml"), CONFIG).unwrap();
    let dispatch = dir.join("dispatch");
    fs::write(&dispatch, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&dispatch, fs::Permissions::from_mode(0o755)).unwrap();
}

struct Fixture {
    _tmp: tempfile::TempDir,
    charm: PathBuf,
    engine: Engine,
}

fn fixture(options: EngineOptions, script: Script) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let charm = tmp.path().join("charm");
    write_charm(&charm);
    let options = EngineOptions {
        tool_binary: Some(PathBuf::from("/bin/sh")),
        ..options
    };
    let engine = Engine::open(tmp.path().join("model"), options)
        .unwrap()
        .with_runner(Box::new(ScriptedRunner { script }));
    Fixture {
        _tmp: tmp,
        charm,
        engine,
    }
}

fn ok_script() -> Script {
    Box::new(|_, _| 0)
}

fn dispatch_path(request: &RunRequest) -> &str {
    request
        .env
        .get("JUJU_DISPATCH_PATH")
        .map(String::as_str)
        .unwrap_or_default()
}

fn history_of(engine: &Engine, unit: &str) -> Vec<OpRecord> {
    engine
        .history()
        .unwrap()
        .into_iter()
        .filter(|r| r.unit == unit)
        .collect()
}

fn names(records: &[OpRecord]) -> Vec<String> {
    records.iter().map(|r| r.name.clone()).collect()
}

#[test]
fn joined_hooks_follow_go_string_order() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    f.engine.deploy(&f.charm, "app", 12, None).unwrap();
    // Every other unit enters the relation first, then app/0 catches up alone.
    for n in 1..12 {
        while f.engine.step_unit(&format!("app/{n}")).unwrap().is_some() {}
    }
    while f.engine.step_unit("app/0").unwrap().is_some() {}
    let joined: Vec<String> = history_of(&f.engine, "app/0")
        .into_iter()
        .filter(|r| r.name == "replicas-relation-joined")
        .filter_map(|r| r.remote_unit)
        .collect();
    assert_eq!(joined[..4], ["app/1", "app/10", "app/11", "app/2"]);
    assert_eq!(joined.len(), 11);
}

#[test]
fn an_action_enqueued_at_deploy_runs_before_config_changed() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    f.engine.run_action("app/0", "go", Map::new()).unwrap();
    f.engine.settle().unwrap();
    assert_eq!(
        names(&history_of(&f.engine, "app/0")),
        [
            "charm-swap",
            "install",
            "replicas-relation-created",
            "leader-elected",
            "go",
            "config-changed",
            "start"
        ]
    );
}

#[test]
fn pending_actions_outrank_a_charm_upgrade_and_run_with_the_old_code() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    f.engine.settle().unwrap();
    let since = f.engine.history().unwrap().len();
    f.engine.run_action("app/0", "go", Map::new()).unwrap();
    f.engine
        .refresh("app", Source::Path(f.charm.clone()))
        .unwrap();
    f.engine.settle().unwrap();
    let after: Vec<OpRecord> = f
        .engine
        .history()
        .unwrap()
        .into_iter()
        .skip(since)
        .collect();
    let summary: Vec<(String, Option<u64>)> =
        after.iter().map(|r| (r.name.clone(), r.revision)).collect();
    assert_eq!(
        summary,
        [
            ("go".to_string(), Some(1)),
            ("charm-swap".to_string(), Some(2)),
            ("upgrade-charm".to_string(), Some(2)),
            ("config-changed".to_string(), Some(2)),
        ]
    );
}

/// A script that fails the hook named in `failing` (shared, so tests can change it).
fn failing_script(failing: Rc<RefCell<Option<String>>>) -> Script {
    Box::new(move |request, _| {
        let hook = dispatch_path(request)
            .trim_start_matches("hooks/")
            .to_string();
        i32::from(failing.borrow().as_deref() == Some(hook.as_str()))
    })
}

#[test]
fn refresh_while_in_error_swaps_the_code_without_upgrade_charm() {
    let failing = Rc::new(RefCell::new(None));
    let mut f = fixture(EngineOptions::default(), failing_script(failing.clone()));
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    f.engine.settle().unwrap();
    *failing.borrow_mut() = Some("config-changed".into());
    f.engine
        .set_config(
            "app",
            &BTreeMap::from([("mode".to_string(), "slow".to_string())]),
        )
        .unwrap();
    let report = f.engine.settle().unwrap();
    assert_eq!(report.errors.len(), 1);
    let since = f.engine.history().unwrap().len();
    f.engine
        .refresh("app", Source::Path(f.charm.clone()))
        .unwrap();
    *failing.borrow_mut() = None;
    f.engine.resolved("app/0").unwrap();
    assert!(f.engine.settle().unwrap().is_clean());
    let after: Vec<(String, Option<u64>)> = f
        .engine
        .history()
        .unwrap()
        .into_iter()
        .skip(since)
        .map(|r| (r.name, r.revision))
        .collect();
    assert_eq!(
        after,
        [
            ("charm-swap".to_string(), Some(2)),
            ("config-changed".to_string(), Some(2))
        ]
    );
}

#[test]
fn a_failed_upgrade_charm_keeps_its_code_until_it_succeeds() {
    let failing = Rc::new(RefCell::new(None));
    let mut f = fixture(EngineOptions::default(), failing_script(failing.clone()));
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    f.engine.settle().unwrap();
    *failing.borrow_mut() = Some("upgrade-charm".into());
    f.engine
        .refresh("app", Source::Path(f.charm.clone()))
        .unwrap();
    assert_eq!(f.engine.settle().unwrap().errors[0].hook, "upgrade-charm");
    let since = f.engine.history().unwrap().len();
    f.engine
        .refresh("app", Source::Path(f.charm.clone()))
        .unwrap();
    *failing.borrow_mut() = None;
    f.engine.resolved("app/0").unwrap();
    assert!(f.engine.settle().unwrap().is_clean());
    let after: Vec<(String, Option<u64>)> = f
        .engine
        .history()
        .unwrap()
        .into_iter()
        .skip(since)
        .map(|r| (r.name, r.revision))
        .collect();
    assert_eq!(
        after,
        [
            ("upgrade-charm".to_string(), Some(2)),
            ("config-changed".to_string(), Some(2)),
            ("charm-swap".to_string(), Some(3)),
            ("upgrade-charm".to_string(), Some(3)),
            ("config-changed".to_string(), Some(3)),
        ]
    );
}

#[test]
fn a_model_that_never_settles_names_what_is_pending() {
    // Every relation-changed writes a new value: two units ping-pong forever.
    let mut counter = 0u64;
    let script: Script = Box::new(move |request, ctx| {
        if dispatch_path(request).ends_with("-relation-changed") {
            counter += 1;
            let unit = ctx.unit.clone();
            if let Some(view) = ctx.relations.values_mut().next() {
                view.units
                    .entry(unit)
                    .or_default()
                    .insert("n".into(), counter.to_string());
                view.unit_dirty = true;
            }
        }
        0
    });
    let mut f = fixture(
        EngineOptions {
            max_steps: 60,
            ..EngineOptions::default()
        },
        script,
    );
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    let error = f.engine.settle().unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("the model did not settle after 60 operations"),
        "{text}"
    );
    assert!(
        text.contains("replicas-relation-changed for app/"),
        "{text}"
    );
}

#[test]
fn hooks_get_the_juju_environment_and_nothing_else() {
    let seen: Shared<BTreeMap<String, String>> = Rc::default();
    let record = seen.clone();
    let script: Script = Box::new(move |request, _| {
        record.borrow_mut().push(request.env.clone());
        0
    });
    let options = EngineOptions {
        env: BTreeMap::from([("FROM_OPTIONS".to_string(), "1".to_string())]),
        system_path: Some("/usr/bin:/bin".into()),
        ..EngineOptions::default()
    };
    let mut f = fixture(options, script);
    f.engine.set_model_env("OPS_VENV", Some("/x")).unwrap();
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    let task = f.engine.run_action("app/1", "go", Map::new()).unwrap();
    f.engine.settle().unwrap();
    let envs = seen.borrow();
    let find = |dispatch: &str, unit: &str| {
        envs.iter()
            .find(|e| e["JUJU_DISPATCH_PATH"] == dispatch && e["JUJU_UNIT_NAME"] == unit)
            .cloned()
            .unwrap_or_else(|| panic!("no {dispatch} on {unit}"))
    };
    let changed = find("hooks/replicas-relation-changed", "app/1");
    assert_eq!(changed["JUJU_HOOK_NAME"], "replicas-relation-changed");
    assert_eq!(changed["JUJU_RELATION"], "replicas");
    assert_eq!(changed["JUJU_RELATION_ID"], "replicas:0");
    assert_eq!(changed["JUJU_REMOTE_UNIT"], "app/0");
    assert_eq!(changed["JUJU_REMOTE_APP"], "app");
    assert_eq!(changed["JUJU_VERSION"], JUJU_VERSION);
    assert_eq!(changed["JUJU_MACHINE_ID"], "1");
    assert_eq!(changed["FROM_OPTIONS"], "1");
    assert_eq!(changed["OPS_VENV"], "/x");
    assert!(
        changed["PATH"].ends_with("/units/app-1/tools:/usr/bin:/bin"),
        "{}",
        changed["PATH"]
    );
    assert!(changed["JUJU_CONTEXT_ID"].starts_with("app/1-replicas-relation-changed-"));
    assert_eq!(changed["JUJU_CHARM_DIR"], changed["CHARM_DIR"]);
    assert!(Path::new(&changed["JUJU_SIM_MACHINE_DIR"]).is_dir());
    assert!(!changed.contains_key("HOME") && !changed.contains_key("USER"));
    let created = find("hooks/replicas-relation-created", "app/1");
    assert_eq!(
        created["JUJU_REMOTE_UNIT"], "",
        "set but empty for relation-created"
    );
    let install = find("hooks/install", "app/1");
    assert!(!install.contains_key("JUJU_RELATION"));
    let action = find("actions/go", "app/1");
    assert_eq!(action["JUJU_HOOK_NAME"], "");
    assert_eq!(action["JUJU_ACTION_NAME"], "go");
    assert_eq!(action["JUJU_ACTION_UUID"], task.to_string());
    assert_eq!(action["JUJU_ACTION_TAG"], format!("action-{task}"));
}

#[test]
fn remote_unit_bags_are_cached_until_a_hook_for_that_unit_runs() {
    // app/0's action writes `v`; every run of app/1 reports what it sees of app/0's bag.
    let seen: Shared<(String, Option<String>)> = Rc::default();
    let record = seen.clone();
    let mut value = 0;
    let script: Script = Box::new(move |request, ctx| {
        let path = dispatch_path(request).to_string();
        if ctx.unit == "app/0" && path == "actions/go" {
            value += 1;
            let view = ctx.relations.values_mut().next().unwrap();
            view.units
                .get_mut("app/0")
                .unwrap()
                .insert("v".into(), value.to_string());
            view.unit_dirty = true;
        }
        if ctx.unit == "app/1" {
            let view = ctx.relations.values().next();
            let v = view
                .and_then(|r| r.units.get("app/0"))
                .and_then(|b| b.get("v"))
                .cloned();
            record.borrow_mut().push((path, v));
        }
        0
    });
    let mut f = fixture(EngineOptions::default(), script);
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    f.engine.settle().unwrap();
    f.engine.run_action("app/0", "go", Map::new()).unwrap();
    f.engine.step_unit("app/0").unwrap();
    f.engine.run_action("app/1", "go", Map::new()).unwrap();
    seen.borrow_mut().clear();
    // The action comes first (it outranks relation hooks) and still sees the cached bag.
    f.engine.step_unit("app/1").unwrap();
    f.engine.step_unit("app/1").unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            ("actions/go".to_string(), None),
            (
                "hooks/replicas-relation-changed".to_string(),
                Some("1".to_string())
            )
        ]
    );
}

/// Every cached copy of a remote unit bag the units' agents hold, by (unit, remote).
fn cached_copies(engine: &Engine) -> BTreeMap<(String, String), Bag> {
    let mut copies = BTreeMap::new();
    for unit in engine.model().units.values() {
        for seen in unit.relations.values() {
            for (remote, bag) in &seen.cache {
                copies.insert((unit.name.clone(), remote.clone()), bag.clone());
            }
        }
    }
    copies
}

/// The action `go` on app/0: its bag gets `v = 1` in the first relation.
fn app0_writes_v(ctx: &mut HookContext) {
    let view = ctx.relations.values_mut().next().unwrap();
    view.units
        .get_mut("app/0")
        .unwrap()
        .insert("v".into(), "1".into());
    view.unit_dirty = true;
}

/// What this hook sees of app/0's `v` in the first relation.
fn v_seen_of_app0(ctx: &HookContext) -> Option<String> {
    ctx.relations
        .values()
        .next()
        .and_then(|r| r.units.get("app/0"))
        .and_then(|b| b.get("v"))
        .cloned()
}

#[test]
fn cached_bags_are_kept_only_while_they_differ_and_survive_reopening() {
    // app/0's action writes `v`; app/1 reports what it sees of app/0's bag.
    let script = |seen: Shared<(String, Option<String>)>| -> Script {
        Box::new(move |request, ctx| {
            let path = dispatch_path(request).to_string();
            if ctx.unit == "app/0" && path == "actions/go" {
                app0_writes_v(ctx);
            }
            if ctx.unit == "app/1" {
                let v = v_seen_of_app0(ctx);
                seen.borrow_mut().push((path, v));
            }
            0
        })
    };
    let seen: Shared<(String, Option<String>)> = Rc::default();
    let mut f = fixture(EngineOptions::default(), script(seen.clone()));
    f.engine.deploy(&f.charm, "app", 3, None).unwrap();
    f.engine.settle().unwrap();
    assert_eq!(
        cached_copies(&f.engine),
        BTreeMap::new(),
        "settled: no copies"
    );

    f.engine.run_action("app/0", "go", Map::new()).unwrap();
    f.engine.step_unit("app/0").unwrap();
    // The other agents keep app/0's bag as it was before the write.
    let before = f.engine.unit_bag("app/2", "replicas").unwrap();
    let copies = cached_copies(&f.engine);
    assert_eq!(copies.keys().collect::<Vec<_>>().len(), 2);
    for unit in ["app/1", "app/2"] {
        let copy = &copies[&(unit.to_string(), "app/0".to_string())];
        assert_eq!(copy.get("v"), None);
        assert_eq!(copy.get("private-address"), Some(&"10.1.0.2".to_string()));
    }
    assert_eq!(before.get("v"), None, "app/2's own bag is untouched");

    // The copies are part of the saved model.
    let dir = f.engine.dir().to_path_buf();
    drop(f.engine);
    let mut engine = Engine::open(
        &dir,
        EngineOptions {
            tool_binary: Some(PathBuf::from("/bin/sh")),
            ..EngineOptions::default()
        },
    )
    .unwrap()
    .with_runner(Box::new(ScriptedRunner {
        script: script(seen.clone()),
    }));
    assert_eq!(cached_copies(&engine), copies);
    engine.run_action("app/1", "go", Map::new()).unwrap();
    seen.borrow_mut().clear();
    engine.step_unit("app/1").unwrap();
    engine.step_unit("app/1").unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            ("actions/go".to_string(), None),
            (
                "hooks/replicas-relation-changed".to_string(),
                Some("1".to_string())
            )
        ]
    );
    engine.settle().unwrap();
    assert_eq!(
        cached_copies(&engine),
        BTreeMap::new(),
        "settled: no copies"
    );
}

#[test]
fn a_departed_hook_still_sees_the_last_bag_of_the_removed_unit() {
    // app/0's action writes `v`; app/1 reports what it sees of app/0's bag in -departed.
    let seen: Shared<Option<String>> = Rc::default();
    let record = seen.clone();
    let script: Script = Box::new(move |request, ctx| {
        let path = dispatch_path(request).to_string();
        if ctx.unit == "app/0" && path == "actions/go" {
            app0_writes_v(ctx);
        }
        if ctx.unit == "app/1" && path == "hooks/replicas-relation-departed" {
            let v = v_seen_of_app0(ctx);
            record.borrow_mut().push(v);
        }
        0
    });
    let mut f = fixture(EngineOptions::default(), script);
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    f.engine.run_action("app/0", "go", Map::new()).unwrap();
    f.engine.settle().unwrap();
    assert_eq!(cached_copies(&f.engine), BTreeMap::new());
    f.engine.remove_unit("app/0").unwrap();
    f.engine.settle().unwrap();
    assert_eq!(*seen.borrow(), [Some("1".to_string())]);
    assert_eq!(cached_copies(&f.engine), BTreeMap::new());
}

#[test]
fn config_reaches_hooks_typed_with_defaults() {
    let seen: Shared<BTreeMap<String, Option<Value>>> = Rc::default();
    let record = seen.clone();
    let script: Script = Box::new(move |request, ctx| {
        if dispatch_path(request) == "hooks/config-changed" {
            record.borrow_mut().push(ctx.config.clone());
        }
        0
    });
    let mut f = fixture(EngineOptions::default(), script);
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    f.engine.settle().unwrap();
    f.engine
        .set_config(
            "app",
            &BTreeMap::from([("size".to_string(), "3".to_string())]),
        )
        .unwrap();
    f.engine.settle().unwrap();
    assert!(f
        .engine
        .set_config(
            "app",
            &BTreeMap::from([("size".to_string(), "x".to_string())])
        )
        .is_err());
    assert!(f
        .engine
        .set_config(
            "app",
            &BTreeMap::from([("nope".to_string(), "1".to_string())])
        )
        .is_err());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["mode"], Some(Value::from("fast")));
    assert_eq!(seen[0]["size"], None);
    assert_eq!(seen[1]["size"], Some(Value::from(3)));
}

#[test]
fn a_non_leader_cannot_commit_the_application_bag() {
    let script: Script = Box::new(|request, ctx| {
        if dispatch_path(request) == "actions/go" {
            let app = ctx.app.clone();
            let view = ctx.relations.values_mut().next().unwrap();
            view.apps
                .entry(app)
                .or_default()
                .insert("k".into(), "v".into());
            view.app_dirty = true;
        }
        0
    });
    let mut f = fixture(EngineOptions::default(), script);
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    f.engine.settle().unwrap();
    let denied = f.engine.run_action("app/1", "go", Map::new()).unwrap();
    let allowed = f.engine.run_action("app/0", "go", Map::new()).unwrap();
    f.engine.settle().unwrap();
    assert_eq!(f.engine.task(denied).unwrap().status, TaskStatus::Failed);
    assert_eq!(
        f.engine.task(allowed).unwrap().status,
        TaskStatus::Completed
    );
    assert_eq!(f.engine.app_bag("app", "replicas").unwrap()["k"], "v");
}

#[test]
fn removing_a_unit_cancels_its_pending_tasks() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    f.engine.settle().unwrap();
    let task = f.engine.run_action("app/1", "go", Map::new()).unwrap();
    f.engine.remove_unit("app/1").unwrap();
    assert_eq!(f.engine.task(task).unwrap().status, TaskStatus::Cancelled);
    assert!(
        f.engine.run_action("app/1", "go", Map::new()).is_err(),
        "a dying unit takes no actions"
    );
    f.engine.settle().unwrap();
    assert!(!f.engine.model().units.contains_key("app/1"));
    assert!(!f.engine.charm_dir("app/1").exists());
}

#[test]
fn deploy_checks_names_and_store_revisions() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    assert!(f.engine.deploy(&f.charm, "Bad_Name", 1, None).is_err());
    assert_eq!(
        f.engine.deploy(&f.charm, "a", 1, Some(181)).unwrap(),
        ["a/0"]
    );
    assert_eq!(f.engine.model().applications["a"].revision, 181);
    assert!(
        f.engine.deploy(&f.charm, "a", 1, None).is_err(),
        "application exists"
    );
    assert!(
        f.engine.add_charm(&f.charm, Some(181)).is_err(),
        "revision taken"
    );
    assert_eq!(
        f.engine.add_charm(&f.charm, None).unwrap(),
        ("app".to_string(), 182)
    );
    assert_eq!(f.engine.refresh("a", Source::Revision(182)).unwrap(), 182);
    f.engine.settle().unwrap();
    assert_eq!(f.engine.model().units["a/0"].charm_revision, Some(182));
    assert!(history_of(&f.engine, "a/0")
        .iter()
        .any(|r| r.kind == OpKind::CharmSwap && r.revision == Some(182)));
}

#[test]
fn targeted_faults_wait_for_their_hook() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    f.engine.fail_next_hook_named("app/0", "start").unwrap();
    let report = f.engine.settle().unwrap();
    assert!(report.is_clean(), "the retry succeeds");
    let outcomes: Vec<(String, Outcome)> = history_of(&f.engine, "app/0")
        .into_iter()
        .map(|r| (r.name, r.outcome))
        .collect();
    let failed: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        failed,
        ["start"],
        "only the targeted hook failed: {outcomes:?}"
    );
    assert_eq!(
        f.engine.model().units["app/0"].faults,
        crate::model::Faults::default(),
        "used up"
    );
}

#[test]
fn update_status_runs_when_the_unit_is_otherwise_idle() {
    let mut f = fixture(EngineOptions::default(), ok_script());
    f.engine.deploy(&f.charm, "app", 2, None).unwrap();
    f.engine.update_status("app").unwrap();
    f.engine.settle().unwrap();
    for unit in ["app/0", "app/1"] {
        let hooks = names(&history_of(&f.engine, unit));
        assert_eq!(
            hooks.last().map(String::as_str),
            Some("update-status"),
            "{unit}: {hooks:?}"
        );
        assert_eq!(hooks.iter().filter(|h| *h == "update-status").count(), 1);
    }
    assert!(f.engine.update_status("nope").is_err());
}

#[test]
fn start_after_refresh_is_a_switch() {
    for (switch, expected) in [
        (false, vec!["upgrade-charm", "config-changed"]),
        (true, vec!["upgrade-charm", "config-changed", "start"]),
    ] {
        let mut f = fixture(
            EngineOptions {
                start_after_refresh: switch,
                ..EngineOptions::default()
            },
            ok_script(),
        );
        f.engine.deploy(&f.charm, "app", 1, None).unwrap();
        f.engine.settle().unwrap();
        let since = f.engine.history().unwrap().len();
        f.engine
            .refresh("app", Source::Path(f.charm.clone()))
            .unwrap();
        f.engine.settle().unwrap();
        let hooks: Vec<String> = f
            .engine
            .history()
            .unwrap()
            .into_iter()
            .skip(since)
            .filter(|r| r.kind == OpKind::Hook)
            .map(|r| r.name)
            .collect();
        assert_eq!(hooks, expected);
    }
}

#[test]
fn resolved_retries_do_not_use_the_automatic_budget() {
    let failing = Rc::new(RefCell::new(Some("install".to_string())));
    let options = EngineOptions {
        max_auto_retries: 1,
        ..EngineOptions::default()
    };
    let mut f = fixture(options, failing_script(failing.clone()));
    f.engine.deploy(&f.charm, "app", 1, None).unwrap();
    let report = f.engine.settle().unwrap();
    assert_eq!(
        report.errors[0].attempts, 2,
        "first run and one automatic retry"
    );
    f.engine.resolved("app/0").unwrap();
    let report = f.engine.settle().unwrap();
    // The resolved run and one more automatic retry in this settle.
    assert_eq!(report.errors[0].attempts, 4);
    assert_eq!(report.operations.iter().filter(|s| s.retry).count(), 1);
}

#[test]
fn a_handler_that_cannot_start_fails_the_hook() {
    let tmp = tempfile::tempdir().unwrap();
    let charm = tmp.path().join("charm");
    write_charm(&charm);
    fs::write(charm.join("dispatch"), "#!/nonexistent/interpreter\n").unwrap();
    let options = EngineOptions {
        tool_binary: Some(PathBuf::from("/bin/sh")),
        ..EngineOptions::default()
    };
    let mut engine = Engine::open(tmp.path().join("model"), options).unwrap();
    engine.deploy(&charm, "app", 1, None).unwrap();
    let report = engine.settle().unwrap();
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].hook, "install");
    assert!(
        report.errors[0].reason.starts_with("fork/exec "),
        "{}",
        report.errors[0].reason
    );
}

#[test]
fn a_missing_handler_skips_hooks_and_fails_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let charm = tmp.path().join("charm");
    write_charm(&charm);
    fs::remove_file(charm.join("dispatch")).unwrap();
    let options = EngineOptions {
        tool_binary: Some(PathBuf::from("/bin/sh")),
        ..EngineOptions::default()
    };
    let mut engine = Engine::open(tmp.path().join("model"), options).unwrap();
    engine.deploy(&charm, "app", 1, None).unwrap();
    assert!(engine.settle().unwrap().is_clean());
    let outcomes: Vec<Outcome> = history_of(&engine, "app/0")
        .into_iter()
        .filter(|r| r.kind == OpKind::Hook)
        .map(|r| r.outcome)
        .collect();
    assert!(
        !outcomes.is_empty() && outcomes.iter().all(|o| *o == Outcome::Skipped),
        "{outcomes:?}"
    );
    let task = engine.run_action("app/0", "go", Map::new()).unwrap();
    engine.settle().unwrap();
    let task = engine.task(task).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(
        task.message.as_deref(),
        Some("action not implemented on unit \"app/0\"")
    );
}

#[test]
fn a_refresh_ends_with_leader_settings_changed_on_non_leaders() {
    // Juju's machine order: upgrade-charm, config-changed, leader-settings-changed on
    // non-leaders, then start (only when start after a refresh is on).
    for (switch, tail) in [(false, vec![]), (true, vec!["start"])] {
        let mut f = fixture(
            EngineOptions {
                start_after_refresh: switch,
                ..EngineOptions::default()
            },
            ok_script(),
        );
        f.engine.deploy(&f.charm, "app", 2, None).unwrap();
        f.engine.settle().unwrap();
        let since = f.engine.history().unwrap().len();
        f.engine
            .refresh("app", Source::Path(f.charm.clone()))
            .unwrap();
        f.engine.settle().unwrap();
        let leader = f.engine.leader("app").unwrap().to_string();
        for unit in ["app/0", "app/1"] {
            let hooks: Vec<String> = f
                .engine
                .history()
                .unwrap()
                .into_iter()
                .skip(since)
                .filter(|r| r.kind == OpKind::Hook && r.unit == unit)
                .map(|r| r.name)
                .collect();
            let mut expected = vec!["upgrade-charm", "config-changed"];
            if unit != leader {
                expected.push("leader-settings-changed");
            }
            expected.extend(tail.iter().copied());
            assert_eq!(hooks, expected, "{unit} (start after refresh: {switch})");
        }
    }
}
