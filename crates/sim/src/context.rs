//! The hook context shared between the engine and the hook tools.
//!
//! For every hook or action the engine writes one [`HookContext`] as JSON to a
//! file and points the process at it with `JUJU_SIM_CONTEXT`; each hook-tool
//! invocation (a separate process) locks the file, reads it, applies its
//! command and writes it back. When the hook process exits the engine reads
//! the file once more: batched writes (relation, state) are committed only on
//! exit 0; [`Immediate`] effects are applied whatever the exit status, as Juju
//! applies them at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A string map, the shape of every databag.
pub type Bag = BTreeMap<String, String>;

/// Everything one hook or action process can read, and what it wrote so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookContext {
    /// `JUJU_CONTEXT_ID` of this run; tools refuse a context file whose id differs.
    pub id: String,
    /// This unit, e.g. `mysql/0`.
    pub unit: String,
    /// This unit's application, e.g. `mysql`.
    pub app: String,
    /// Leadership as seen by this run (is-leader, --app writes, status --application).
    pub is_leader: bool,
    /// Set for hooks: the hook name, e.g. `upgrade-relation-changed`.
    pub hook: Option<String>,
    /// Set for relation hooks: the relation the hook is about (`-r` default).
    pub relation_id: Option<u64>,
    /// Set for relation joined/changed/departed hooks (may be empty for app changes).
    pub remote_unit: Option<String>,
    /// Set for actions.
    pub action: Option<ActionContext>,
    /// Every relation this unit is in (peer relations included), by id.
    pub relations: BTreeMap<u64, RelationView>,
    /// Charm config options from config.yaml with their current values
    /// (`None` = unset and no default).
    pub config: BTreeMap<String, Option<serde_json::Value>>,
    /// The unit's charm state (state-get/-set/-delete); `None` when the unit has none.
    pub state: Option<Bag>,
    /// Leader settings (leader-get/-set).
    pub leader_settings: Bag,
    /// This unit's current workload status (status-get).
    pub unit_status: StatusValue,
    /// What the first `status-get` of this run read: Juju caches the unit's
    /// status per hook, so a later `status-set` does not change what
    /// `status-get` prints. Set by the tools; the engine leaves it `None`.
    #[serde(default)]
    pub unit_status_cache: Option<StatusValue>,
    /// The application status and every unit's status (status-get --application).
    pub app_status: StatusValue,
    /// Every unit's workload status, by unit name (for status-get --application).
    pub unit_statuses: BTreeMap<String, StatusValue>,
    /// Effects Juju applies at once; the engine applies them even if the hook fails.
    pub immediate: Vec<Immediate>,
    /// Private address of this unit (unit-get, pre-populated bag keys).
    pub private_address: String,
    /// How many hook-tool calls this run has made so far: every tool call that
    /// reads this file adds one, whatever it does. The engine starts it at 0;
    /// tests and benchmarks read it back to see what a hook costs.
    #[serde(default)]
    pub tool_calls: u64,
}

/// One relation as this unit sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelationView {
    /// Endpoint name on this side, e.g. `upgrade`.
    pub endpoint: String,
    /// The application on the other side (this app for a peer relation).
    pub remote_app: String,
    /// Remote units this unit's agent knows (joined and not departed), sorted.
    pub members: Vec<String>,
    /// Unit bags by unit name. This unit's own bag is its local, writable copy;
    /// others are the snapshot this unit's agent has cached.
    pub units: BTreeMap<String, Bag>,
    /// Application bags by application name. Own app: the local writable copy.
    pub apps: BTreeMap<String, Bag>,
    /// True once this run changed its own unit bag here (commit on success).
    pub unit_dirty: bool,
    /// True once this run changed its own application bag here.
    pub app_dirty: bool,
}

/// A workload status with message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusValue {
    pub status: String,
    pub message: String,
}

impl Default for StatusValue {
    fn default() -> Self {
        StatusValue {
            status: "unknown".into(),
            message: String::new(),
        }
    }
}

/// The running action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionContext {
    pub name: String,
    /// Task id (decimal string in Juju 3.x).
    pub id: String,
    /// Parameters after validation and defaults.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Results set with action-set, as a nested map (dotted keys split).
    pub results: serde_json::Map<String, serde_json::Value>,
    /// Set by action-fail (last message wins).
    pub failed: Option<String>,
}

/// Effects applied whatever the exit status of the hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Immediate {
    /// `juju-log`.
    Log { level: String, message: String },
    /// `status-set`.
    UnitStatus { status: String, message: String },
    /// `status-set --application`.
    AppStatus { status: String, message: String },
    /// `application-version-set`.
    WorkloadVersion { version: String },
    /// `leader-set` (the whole new map is also in `leader_settings`).
    LeaderSet { settings: Bag },
    /// `action-log`.
    ActionLog { message: String },
}
