//! A fake Juju for charm tests: `MockHookTools` whose answers come from, and whose writes go
//! to, one shared in-memory model of the unit's world (peer bags, leadership, goal state),
//! recording what an operator would see (statuses, action results, workload version, logs).

#![allow(dead_code)] // each test file uses a different part of the fake

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use juju_ops::{Dispatch, MockHookTools, RelationId, Status, StatusName};
use mysql_charm::context::HookContext;
use mysql_charm::dispatch::route;
use mysql_charm::versions::Versions;
use mysql_charm::workload::{MockWorkload, WorkloadRevision};
use mysql_charm::CharmError;

pub type Bag = BTreeMap<String, String>;

/// The world as one unit's hook tools see it.
#[derive(Debug, Default)]
pub struct World {
    /// This unit, e.g. `mysql/0`.
    pub me: String,
    pub leader: bool,
    /// Whether the `upgrade` relation exists.
    pub has_relation: bool,
    /// Other units in the relation (relation-list).
    pub peers: Vec<String>,
    /// Unit bags by unit name (this unit's includes its uncommitted writes).
    pub unit_bags: BTreeMap<String, Bag>,
    pub app_bag: Bag,
    /// Every unit of the application (goal-state).
    pub planned: Vec<String>,
    /// Every status-set, in order.
    pub statuses: Vec<Status>,
    /// Every application status set (by the leader), in order.
    pub app_statuses: Vec<Status>,
    /// The application's config (config-get); unset options are absent.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The running action's parameters (action-get).
    pub action_params: serde_json::Map<String, serde_json::Value>,
    pub action_results: Bag,
    pub action_failure: Option<String>,
    pub workload_versions: Vec<String>,
    pub logs: Vec<(log::Level, String)>,
    /// The unit bags read (relation-get of a unit), in order.
    pub unit_bags_read: Vec<String>,
    /// How many times goal-state was read.
    pub goal_state_reads: usize,
    /// How many times relation-ids ran.
    pub relation_ids_calls: usize,
    /// `status-set` of a status with this message fails (the agent went away).
    pub status_set_fails_on: Option<String>,
}

impl World {
    /// `me` and `others` in an `upgrade` relation; everyone is planned.
    pub fn new(me: &str, others: &[&str], leader: bool) -> Self {
        let mut planned: Vec<String> = others.iter().map(|u| (*u).to_owned()).collect();
        planned.push(me.to_owned());
        planned.sort();
        Self {
            me: me.to_owned(),
            leader,
            has_relation: true,
            peers: others.iter().map(|u| (*u).to_owned()).collect(),
            planned,
            ..Self::default()
        }
    }

    pub fn set_state(&mut self, unit: &str, state: &str) {
        self.unit_bags
            .entry(unit.to_owned())
            .or_default()
            .insert("state".into(), state.into());
    }

    pub fn state_of(&self, unit: &str) -> Option<&str> {
        self.unit_bags
            .get(unit)
            .and_then(|bag| bag.get("state"))
            .map(String::as_str)
    }

    pub fn last_status(&self) -> Option<&Status> {
        self.statuses.last()
    }

    /// The messages of every status set, in order.
    pub fn status_messages(&self) -> Vec<String> {
        self.statuses.iter().map(|s| s.message.clone()).collect()
    }

    pub fn logged(&self, text: &str) -> bool {
        self.logs.iter().any(|(_, line)| line.contains(text))
    }
}

/// A shared world and the mock tools over it.
pub struct FakeJuju {
    pub world: Arc<Mutex<World>>,
}

fn lock(world: &Arc<Mutex<World>>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|p| p.into_inner())
}

fn merge(bag: &mut Bag, values: &Bag) {
    for (key, value) in values {
        if value.is_empty() {
            bag.remove(key);
        } else {
            bag.insert(key.clone(), value.clone());
        }
    }
}

impl FakeJuju {
    pub fn new(world: World) -> Self {
        Self {
            world: Arc::new(Mutex::new(world)),
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mock tools answering from the world.
    pub fn tools(&self) -> MockHookTools {
        let mut tools = MockHookTools::new();
        let w = self.world.clone();
        {
            let w = w.clone();
            tools
                .expect_is_leader()
                .returning(move || Ok(lock(&w).leader));
        }
        {
            let w = w.clone();
            tools.expect_relation_ids().returning(move |endpoint| {
                let mut world = lock(&w);
                world.relation_ids_calls += 1;
                Ok(if endpoint == "upgrade" && world.has_relation {
                    vec![RelationId::new("upgrade", 3)]
                } else {
                    Vec::new()
                })
            });
        }
        {
            let w = w.clone();
            tools
                .expect_relation_list()
                .returning(move |_| Ok(lock(&w).peers.clone()));
        }
        {
            let w = w.clone();
            tools.expect_relation_get_unit().returning(move |_, unit| {
                let mut world = lock(&w);
                world.unit_bags_read.push(unit.to_owned());
                Ok(world.unit_bags.get(unit).cloned().unwrap_or_default())
            });
        }
        {
            let w = w.clone();
            tools
                .expect_relation_get_unit_key()
                .returning(move |_, unit, key| {
                    Ok(lock(&w)
                        .unit_bags
                        .get(unit)
                        .and_then(|b| b.get(key))
                        .cloned())
                });
        }
        {
            let w = w.clone();
            tools
                .expect_relation_get_app()
                .returning(move |_, _| Ok(lock(&w).app_bag.clone()));
        }
        {
            let w = w.clone();
            tools
                .expect_relation_set_unit()
                .returning(move |_, values| {
                    let mut world = lock(&w);
                    let me = world.me.clone();
                    merge(world.unit_bags.entry(me).or_default(), values);
                    Ok(())
                });
        }
        {
            let w = w.clone();
            tools.expect_relation_set_app().returning(move |_, values| {
                let mut world = lock(&w);
                assert!(world.leader, "relation-set --app by a non-leader");
                merge(&mut world.app_bag, values);
                Ok(())
            });
        }
        {
            let w = w.clone();
            tools.expect_planned_units().returning(move || {
                let mut world = lock(&w);
                world.goal_state_reads += 1;
                Ok(world.planned.clone())
            });
        }
        {
            let w = w.clone();
            tools.expect_status_set().returning(move |status| {
                assert!(status.name != StatusName::Error);
                let mut world = lock(&w);
                if world.status_set_fails_on.as_deref() == Some(status.message.as_str()) {
                    return Err(juju_ops::ToolError::Failed {
                        tool: "status-set".into(),
                        args: vec![status.message.clone()],
                        code: Some(1),
                        stderr: "ERROR connection is shut down".into(),
                    });
                }
                world.statuses.push(status.clone());
                Ok(())
            });
        }
        {
            let w = w.clone();
            tools.expect_app_status_set().returning(move |status| {
                let mut world = lock(&w);
                assert!(world.leader, "status-set --application by a non-leader");
                world.app_statuses.push(status.clone());
                Ok(())
            });
        }
        {
            let w = w.clone();
            tools
                .expect_config_get_key()
                .returning(move |key| Ok(lock(&w).config.get(key).cloned()));
        }
        {
            let w = w.clone();
            tools
                .expect_action_get()
                .returning(move || Ok(lock(&w).action_params.clone()));
        }
        {
            let w = w.clone();
            tools.expect_action_set().returning(move |values| {
                lock(&w).action_results.extend(values.clone());
                Ok(())
            });
        }
        {
            let w = w.clone();
            tools.expect_action_fail().returning(move |message| {
                lock(&w).action_failure = Some(message.to_owned());
                Ok(())
            });
        }
        {
            let w = w.clone();
            tools
                .expect_application_version_set()
                .returning(move |version| {
                    lock(&w).workload_versions.push(version.to_owned());
                    Ok(())
                });
        }
        {
            let w = w.clone();
            tools.expect_juju_log().returning(move |level, message| {
                lock(&w).logs.push((level, message.to_owned()));
                Ok(())
            });
        }
        tools
    }
}

/// The dispatch environment of `unit` for `path` (`hooks/<name>` or `actions/<name>`), with a
/// charm directory Juju wrote no revision into: the charm reports no versions (v0).
pub fn dispatch(unit: &str, path: &str) -> Dispatch {
    dispatch_in(unit, path, Path::new("/charm"))
}

/// [`dispatch`] with `charm_dir` as the charm directory.
pub fn dispatch_in(unit: &str, path: &str, charm_dir: &Path) -> Dispatch {
    let charm_dir = charm_dir.display().to_string();
    let mut vars: Vec<(String, String)> = [
        ("JUJU_DISPATCH_PATH", path),
        ("JUJU_UNIT_NAME", unit),
        ("JUJU_MODEL_NAME", "test"),
        ("JUJU_CHARM_DIR", charm_dir.as_str()),
        ("JUJU_VERSION", "3.6.4"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if let Some(action) = path.strip_prefix("actions/") {
        vars.push(("JUJU_ACTION_NAME".into(), action.into()));
        vars.push(("JUJU_ACTION_UUID".into(), "1".into()));
        vars.push(("JUJU_HOOK_NAME".into(), String::new()));
    }
    if let Some(hook) = path.strip_prefix("hooks/") {
        vars.push(("JUJU_HOOK_NAME".into(), hook.into()));
        if hook.starts_with("upgrade-relation-") {
            vars.push(("JUJU_RELATION".into(), "upgrade".into()));
            vars.push(("JUJU_RELATION_ID".into(), "upgrade:3".into()));
            vars.push(("JUJU_REMOTE_APP".into(), "mysql".into()));
            let about_a_unit = hook.ends_with("-joined") || hook.ends_with("-departed");
            let remote = if about_a_unit { "mysql/9" } else { "" };
            vars.push(("JUJU_REMOTE_UNIT".into(), remote.into()));
            if hook.ends_with("-departed") {
                vars.push(("JUJU_DEPARTING_UNIT".into(), "mysql/9".into()));
            }
        }
    }
    match Dispatch::from_vars(vars) {
        Ok(dispatch) => dispatch,
        Err(err) => panic!("test dispatch for {path}: {err}"),
    }
}

/// The repository's `versions.json` (8.0.34).
pub fn versions_json() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../versions.json")
}

/// The repository's pinned versions, loaded.
pub fn versions() -> Versions {
    let file = versions_json();
    match Versions::load(file.parent().unwrap_or(Path::new("."))) {
        Ok(versions) => versions,
        Err(err) => panic!("versions.json: {err}"),
    }
}

/// Routes `dispatch` through the charm with `juju`'s hook tools and `workload`.
pub fn run(
    juju: &FakeJuju,
    workload: &MockWorkload,
    dispatch: &Dispatch,
) -> Result<(), CharmError> {
    let tools = juju.tools();
    let versions = versions();
    let ctx = HookContext {
        dispatch,
        tools: &tools,
        workload,
        versions: &versions,
    };
    route(&ctx)
}

/// A unit's workload upgrading to 8.0.34 (snap revision 69) exactly once, in a cluster of
/// several units.
pub fn upgrades_once() -> MockWorkload {
    let mut workload = upgrading_to_8_0_34();
    workload.expect_reboot_from_complete_outage().never();
    workload
}

/// The workload of a single-unit application upgrading to 8.0.34 exactly once: the lone
/// member reboots its cluster from the complete outage once mysqld is up.
pub fn upgrades_once_alone() -> MockWorkload {
    let mut workload = upgrading_to_8_0_34();
    workload
        .expect_reboot_from_complete_outage()
        .times(1)
        .returning(|| Ok(()));
    workload
}

fn upgrading_to_8_0_34() -> MockWorkload {
    let mut workload = MockWorkload::new();
    workload
        .expect_installed_revision()
        .returning(|| Ok(Some(WorkloadRevision::new("8.0.34", "69"))));
    workload.expect_stop().times(1).returning(|| Ok(()));
    workload
        .expect_install()
        .withf(|target| *target == WorkloadRevision::new("8.0.34", "69"))
        .times(1)
        .returning(|_| Ok(()));
    workload.expect_check_upgradable().never();
    workload.expect_start().times(1).returning(|| Ok(()));
    workload
        .expect_wait_until_online()
        .times(1)
        .returning(|_| Ok(()));
    workload
}
