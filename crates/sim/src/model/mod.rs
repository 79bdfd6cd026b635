//! The emulated model: what a Juju controller plus each unit agent would
//! remember, as plain serialisable data. It is kept in a directory
//! ([`ModelDir`]) as human-readable `model.json`; the engine mutates it.

mod dir;
mod records;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::context::{Bag, StatusValue};
pub use dir::{
    default_model_dir, write_atomically, write_json_atomically, ModelDir, ModelError, ModelLock,
};
pub use records::{
    civil, clock_text, since_text, timestamp_text, Level, LogEntry, OpKind, OpRecord, Outcome,
};

/// The current `model.json` format number.
pub const FORMAT: u32 = 1;

/// Everything the emulator remembers about one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// `model.json` format number ([`FORMAT`]).
    pub format: u32,
    /// `JUJU_MODEL_NAME`.
    pub name: String,
    /// `JUJU_MODEL_UUID`.
    pub uuid: String,
    /// Virtual seconds since the model was created; hooks and retry backoff advance it.
    pub clock: u64,
    /// State of the scheduler's random choice among units with work (seeded).
    pub rng: u64,
    /// Next machine number.
    pub next_machine: u64,
    /// Next relation id (model-wide, from 0).
    pub next_relation: u64,
    /// Next task id (model-wide, from 1).
    pub next_task: u64,
    /// Next hook-run number (used in `JUJU_CONTEXT_ID`).
    pub next_run: u64,
    /// Next operation-history sequence number.
    pub next_record: u64,
    /// Extra environment given to every hook (`model-config --env`).
    pub env: BTreeMap<String, String>,
    /// The charm store: charm name → revision → archive.
    pub store: BTreeMap<String, BTreeMap<u64, StoredCharm>>,
    /// Applications by name.
    pub applications: BTreeMap<String, Application>,
    /// Units by name (`app/N`).
    pub units: BTreeMap<String, Unit>,
    /// Relations by id.
    pub relations: BTreeMap<u64, Relation>,
    /// Action tasks by id.
    pub tasks: BTreeMap<u64, Task>,
    /// Wall-clock Unix time of virtual second 0 (when the model was created):
    /// the dates `juju status` shows are this plus the virtual time.
    #[serde(default)]
    pub epoch: u64,
    /// Settings given with `model-config key=value` (kept and shown; the
    /// emulator acts only on its own, `--env` and `--seed`).
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
}

impl Model {
    /// An empty model.
    pub fn new(name: &str, uuid: &str, seed: u64) -> Model {
        Model {
            format: FORMAT,
            name: name.to_string(),
            uuid: uuid.to_string(),
            clock: 0,
            rng: seed,
            next_machine: 0,
            next_relation: 0,
            next_task: 1,
            next_run: 0,
            next_record: 0,
            env: BTreeMap::new(),
            store: BTreeMap::new(),
            applications: BTreeMap::new(),
            units: BTreeMap::new(),
            relations: BTreeMap::new(),
            tasks: BTreeMap::new(),
            epoch: 0,
            config: BTreeMap::new(),
        }
    }

    /// The units of `app`, in Go string order (`app/10` before `app/2`).
    pub fn units_of(&self, app: &str) -> Vec<&Unit> {
        self.units.values().filter(|u| u.app == app).collect()
    }

    /// The relation of `app` on `endpoint`, if one exists.
    pub fn relation_of(&self, app: &str, endpoint: &str) -> Option<&Relation> {
        self.relations.values().find(|r| {
            r.endpoints
                .iter()
                .any(|e| e.app == app && e.endpoint == endpoint)
        })
    }

    /// To call just before the committed bag of `unit` in relation `relation_id`
    /// changes or is removed: every other unit's agent that has `unit` as a member
    /// and no cached copy of its bag (so it sees the committed one) gets a cached
    /// copy of the bag as it is now, and keeps seeing that until a joined/changed
    /// hook for `unit` is dispatched to it.
    pub fn keep_cached_copies(&mut self, relation_id: u64, unit: &str) {
        let Some(bag) = self
            .relations
            .get(&relation_id)
            .and_then(|relation| relation.units.get(unit))
        else {
            return;
        };
        for other in self.units.values_mut() {
            if other.name == unit {
                continue;
            }
            let Some(seen) = other.relations.get_mut(&relation_id) else {
                continue;
            };
            if seen.members.contains_key(unit) && !seen.cache.contains_key(unit) {
                seen.cache.insert(unit.to_string(), bag.data.clone());
            }
        }
    }

    /// The relations `app` takes part in.
    pub fn relations_of<'a>(&'a self, app: &'a str) -> impl Iterator<Item = &'a Relation> + 'a {
        self.relations
            .values()
            .filter(move |r| r.endpoints.iter().any(|e| e.app == app))
    }
}

/// One charm revision in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCharm {
    /// The archive, relative to the model directory.
    pub archive: String,
    /// Where it was uploaded from.
    pub source: String,
}

/// An application: its charm, config, leadership and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// Charm name in the store.
    pub charm: String,
    /// The application's charm revision (changes as soon as a refresh is accepted).
    pub revision: u64,
    /// Config values set by the operator (defaults come from the charm).
    pub config: BTreeMap<String, Value>,
    /// Bumped on every config change; units compare it to run `config-changed`.
    pub config_version: u64,
    /// The leader, as the controller sees it.
    pub leader: Option<String>,
    /// Status set by the leader with `status-set --application` (kept across leader changes).
    pub status: Option<StatusValue>,
    /// The version most recently set by any unit with `application-version-set`.
    pub workload_version: String,
    /// Peer endpoint → relation id.
    pub peer_relations: BTreeMap<String, u64>,
    /// Leader settings (`leader-get`/`leader-set`).
    pub leader_settings: Bag,
    /// Bumped on every leader-settings change and leadership move.
    pub leader_settings_version: u64,
    /// Next unit number.
    pub next_unit: u64,
    /// The base the operator deployed on (`ubuntu@22.04`).
    #[serde(default = "default_base")]
    pub base: String,
    /// When the status `juju status` shows for the application last changed.
    #[serde(default)]
    pub status_since: Since,
}

/// The base of an application deployed without `--base`.
pub fn default_base() -> String {
    "ubuntu@22.04".to_string()
}

/// A status as last shown, and the virtual time it first showed: what
/// `juju status` prints as `since`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Since {
    /// The status shown.
    pub status: String,
    /// Its message.
    pub message: String,
    /// Virtual time it started to show.
    pub at: u64,
}

impl Since {
    /// Moves the time to `now` when (status, message) differ from the ones recorded.
    pub fn update(&mut self, status: &StatusValue, now: u64) {
        if self.status != status.status || self.message != status.message {
            *self = Since {
                status: status.status.clone(),
                message: status.message.clone(),
                at: now,
            };
        }
    }
}

/// Life of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Life {
    /// Normal.
    Alive,
    /// `remove-unit` was called: departing, then stop and remove.
    Dying,
}

/// The agent status of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// `allocating`, `idle`, `executing` or `error`.
    pub status: String,
    /// E.g. `running install hook` or `hook failed: "install"`.
    pub message: String,
}

impl AgentStatus {
    /// An agent status with a message.
    pub fn new(status: &str, message: &str) -> AgentStatus {
        AgentStatus {
            status: status.to_string(),
            message: message.to_string(),
        }
    }
}

/// One unit and its agent's local state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// `app/N`.
    pub name: String,
    /// Its application.
    pub app: String,
    /// Machine id (one machine per unit).
    pub machine: String,
    /// The unit's address (also in its relation bags).
    pub address: String,
    /// Alive or dying.
    pub life: Life,
    /// The charm revision in the unit's charm directory (`None` before install).
    pub charm_revision: Option<u64>,
    /// `install` has succeeded.
    pub installed: bool,
    /// `start` has succeeded (it never runs again on machines).
    pub started: bool,
    /// `stop` has succeeded (dying units only).
    pub stopped: bool,
    /// Workload status.
    pub workload: StatusValue,
    /// Whether the charm ever called `status-set` (Juju picks defaults otherwise).
    pub status_set_by_charm: bool,
    /// Agent status.
    pub agent: AgentStatus,
    /// Set by `application-version-set`.
    pub workload_version: String,
    /// The agent has accepted leadership (ran or is running `leader-elected`).
    pub leader_local: bool,
    /// Leader-settings version this unit last handled.
    pub leader_settings_seen: Option<u64>,
    /// Config version this unit last ran `config-changed` for.
    pub config_seen: Option<u64>,
    /// Follow-up hooks queued by earlier hooks (`start` after `config-changed`, ...).
    pub queue: VecDeque<HookInfo>,
    /// The hook that failed and blocks other hooks until it succeeds or is resolved.
    pub error: Option<HookError>,
    /// Per relation: what this unit's agent has seen.
    pub relations: BTreeMap<u64, UnitRelation>,
    /// Charm state (`state-get`/`state-set`); `None` until first set.
    pub state: Option<Bag>,
    /// Armed fault injections.
    pub faults: Faults,
    /// `update-status` was requested and runs when nothing else is due.
    #[serde(default)]
    pub update_status_due: bool,
    /// Virtual time the unit (and its machine) was added.
    #[serde(default)]
    pub created: u64,
    /// When the workload status `juju status` shows last changed.
    #[serde(default)]
    pub workload_since: Since,
    /// When the agent status `juju status` shows last changed.
    #[serde(default)]
    pub agent_since: Since,
}

/// What a unit's agent remembers about one relation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UnitRelation {
    /// `-relation-created` has succeeded.
    pub created: bool,
    /// Remote units joined → settings version last seen (`None`: joined, `-changed` still due).
    pub members: BTreeMap<String, Option<u64>>,
    /// Remote application → app-bag version last seen.
    pub apps: BTreeMap<String, u64>,
    /// The agent's cached copy of a member's bag, taken when a joined/changed
    /// hook for that member is dispatched, kept only while it differs from the
    /// committed bag: a member with no entry here sees the committed bag, and
    /// the engine copies a committed bag into the caches that rely on it just
    /// before it changes or goes ([`Model::keep_cached_copies`]). So a settled
    /// model holds no copies, and `model.json` grows with the units, not with
    /// their square.
    pub cache: BTreeMap<String, Bag>,
}

/// A failed hook waiting for a retry or `resolved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookError {
    /// The hook to retry (same relation and remote unit).
    pub hook: HookInfo,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Virtual time of the next automatic retry (`None`: only `resolved` retries).
    pub retry_at: Option<u64>,
    /// Why it failed, e.g. `exit status 1`.
    pub reason: String,
    /// `resolved` asked for a retry now (not counted against automatic retries).
    #[serde(default)]
    pub resolved: bool,
}

/// Armed fault injections of a unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Faults {
    /// The next matching hook's result is forced to a failure (its writes are discarded).
    pub fail_hook: Option<FailFault>,
    /// The next matching hook or action process is killed after some hook-tool calls.
    pub kill_agent: Option<KillFault>,
}

/// An armed `fail-next-hook` fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailFault {
    /// Only this hook (full name, e.g. `upgrade-charm`); `None`: whatever hook runs next.
    pub hook: Option<String>,
}

/// An armed `kill-agent` fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillFault {
    /// Kill right after this many hook-tool calls.
    pub after_tool_calls: u32,
    /// Only this hook or action name; `None`: whatever runs next.
    pub hook: Option<String>,
}

/// Whether a fault aimed at `target` (`None`: anything) applies to a run named `name`.
pub fn fault_matches(target: Option<&str>, name: &str) -> bool {
    target.is_none_or(|t| t == name)
}

/// The kinds of hooks the emulator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    /// `install`.
    Install,
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `remove`.
    Remove,
    /// `config-changed`.
    ConfigChanged,
    /// `upgrade-charm`.
    UpgradeCharm,
    /// `leader-elected`.
    LeaderElected,
    /// `leader-settings-changed`.
    LeaderSettingsChanged,
    /// `update-status`.
    UpdateStatus,
    /// `<endpoint>-relation-created`.
    RelationCreated,
    /// `<endpoint>-relation-joined`.
    RelationJoined,
    /// `<endpoint>-relation-changed`.
    RelationChanged,
    /// `<endpoint>-relation-departed`.
    RelationDeparted,
    /// `<endpoint>-relation-broken`.
    RelationBroken,
}

/// One hook to run, with its relation details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookInfo {
    /// Which hook.
    pub kind: HookKind,
    /// For relation hooks: the relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation_id: Option<u64>,
    /// For relation hooks: the local endpoint name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// For relation hooks: the remote application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_app: Option<String>,
    /// For joined/changed/departed: the remote unit (`None` for an app-bag change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_unit: Option<String>,
    /// For departed: the unit going away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departing_unit: Option<String>,
}

impl HookInfo {
    /// A hook that is not about a relation.
    pub fn simple(kind: HookKind) -> HookInfo {
        HookInfo {
            kind,
            relation_id: None,
            endpoint: None,
            remote_app: None,
            remote_unit: None,
            departing_unit: None,
        }
    }

    /// A relation hook.
    pub fn relation(
        kind: HookKind,
        relation_id: u64,
        endpoint: &str,
        remote_app: &str,
    ) -> HookInfo {
        HookInfo {
            kind,
            relation_id: Some(relation_id),
            endpoint: Some(endpoint.to_string()),
            remote_app: Some(remote_app.to_string()),
            remote_unit: None,
            departing_unit: None,
        }
    }

    /// The same hook about a remote unit.
    pub fn with_remote_unit(mut self, unit: &str) -> HookInfo {
        self.remote_unit = Some(unit.to_string());
        self
    }

    /// The full hook name, e.g. `upgrade-relation-changed`.
    pub fn name(&self) -> String {
        let relation = |suffix: &str| {
            format!(
                "{}-relation-{suffix}",
                self.endpoint.as_deref().unwrap_or("unknown")
            )
        };
        match self.kind {
            HookKind::Install => "install".into(),
            HookKind::Start => "start".into(),
            HookKind::Stop => "stop".into(),
            HookKind::Remove => "remove".into(),
            HookKind::ConfigChanged => "config-changed".into(),
            HookKind::UpgradeCharm => "upgrade-charm".into(),
            HookKind::LeaderElected => "leader-elected".into(),
            HookKind::LeaderSettingsChanged => "leader-settings-changed".into(),
            HookKind::UpdateStatus => "update-status".into(),
            HookKind::RelationCreated => relation("created"),
            HookKind::RelationJoined => relation("joined"),
            HookKind::RelationChanged => relation("changed"),
            HookKind::RelationDeparted => relation("departed"),
            HookKind::RelationBroken => relation("broken"),
        }
    }

    /// True for `<endpoint>-relation-*` hooks.
    pub fn is_relation_hook(&self) -> bool {
        self.relation_id.is_some()
    }
}

/// One side of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationEndpoint {
    /// Application.
    pub app: String,
    /// Its endpoint name.
    pub endpoint: String,
}

/// A databag with a version that changes whenever its content does.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VersionedBag {
    /// Bumped on every committed change (0: never written).
    pub version: u64,
    /// The data.
    pub data: Bag,
}

/// A relation (a peer relation has one endpoint) with its committed databags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// Model-wide id.
    pub id: u64,
    /// One endpoint (peer) or two.
    pub endpoints: Vec<RelationEndpoint>,
    /// Unit bags of the units in scope (they ran `-relation-created` and are not dying).
    pub units: BTreeMap<String, VersionedBag>,
    /// Application bags.
    pub apps: BTreeMap<String, VersionedBag>,
}

impl Relation {
    /// True for a peer relation.
    pub fn is_peer(&self) -> bool {
        self.endpoints.len() == 1
    }

    /// `app`'s endpoint name in this relation.
    pub fn endpoint_of(&self, app: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.app == app)
            .map(|e| e.endpoint.as_str())
    }

    /// The application on the other side from `app` (itself for a peer relation).
    pub fn remote_app_of(&self, app: &str) -> Option<&str> {
        if self.is_peer() {
            return self.endpoints.first().map(|e| e.app.as_str());
        }
        self.endpoints
            .iter()
            .find(|e| e.app != app)
            .map(|e| e.app.as_str())
    }

    /// The units in scope on the side of `remote_app`, excluding `unit`.
    pub fn remote_members(&self, unit: &str, remote_app: &str) -> BTreeSet<String> {
        self.units
            .keys()
            .filter(|u| u.as_str() != unit && app_of(u) == remote_app)
            .cloned()
            .collect()
    }
}

/// The application part of a unit name.
pub fn app_of(unit: &str) -> &str {
    unit.split_once('/').map_or(unit, |(app, _)| app)
}

/// Task states, as `juju show-task` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Enqueued, not started.
    Pending,
    /// The action process is running.
    Running,
    /// Finished without failure.
    Completed,
    /// `action-fail` was called or the process exited non-zero.
    Failed,
    /// Its unit went away before it ran.
    Cancelled,
    /// The agent died while it ran.
    Aborted,
}

impl TaskStatus {
    /// True once the task will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, TaskStatus::Pending | TaskStatus::Running)
    }
}

/// An `action-log` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLogLine {
    /// Virtual time.
    pub time: u64,
    /// The message.
    pub message: String,
}

/// An action task on one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Task id (`JUJU_ACTION_UUID`).
    pub id: u64,
    /// The unit it runs on.
    pub unit: String,
    /// Action name.
    pub action: String,
    /// Validated parameters with defaults.
    pub params: Map<String, Value>,
    /// Current state.
    pub status: TaskStatus,
    /// Failure message (`action-fail` text or `exit status N`).
    pub message: Option<String>,
    /// Results: `action-set` values plus `return-code`, `stdout`, `stderr`.
    pub results: Map<String, Value>,
    /// `action-log` messages.
    pub log: Vec<TaskLogLine>,
    /// Virtual time of enqueue.
    pub enqueued: u64,
    /// Virtual time it started.
    pub started: Option<u64>,
    /// Virtual time it finished.
    pub completed: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names_follow_juju() {
        assert_eq!(
            HookInfo::simple(HookKind::LeaderSettingsChanged).name(),
            "leader-settings-changed"
        );
        let hook = HookInfo::relation(HookKind::RelationChanged, 3, "upgrade", "mysql")
            .with_remote_unit("mysql/1");
        assert_eq!(hook.name(), "upgrade-relation-changed");
        assert!(hook.is_relation_hook());
    }

    #[test]
    fn model_round_trips_through_json() {
        let mut model = Model::new("m", "u", 7);
        model.tasks.insert(
            1,
            Task {
                id: 1,
                unit: "a/0".into(),
                action: "x".into(),
                params: Map::new(),
                status: TaskStatus::Pending,
                message: None,
                results: Map::new(),
                log: vec![],
                enqueued: 0,
                started: None,
                completed: None,
            },
        );
        let text = serde_json::to_string_pretty(&model).unwrap();
        assert_eq!(serde_json::from_str::<Model>(&text).unwrap(), model);
    }

    #[test]
    fn go_string_order_of_units() {
        let mut names = vec![
            "mysql/2".to_string(),
            "mysql/10".to_string(),
            "mysql/1".to_string(),
        ];
        names.sort();
        assert_eq!(names, ["mysql/1", "mysql/10", "mysql/2"]);
    }
}
