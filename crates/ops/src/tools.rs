//! The hook tools, as a trait so charms can be tested with a mock.
//!
//! CONTRACT for implementers (fixed, the charm is written against it):

use std::collections::BTreeMap;

/// A relation id as Juju prints it: `upgrade:3` (endpoint and integer id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelationId {
    /// Endpoint name, e.g. `upgrade`.
    pub endpoint: String,
    /// Model-wide integer id.
    pub id: u64,
}

/// Workload status names a charm may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusName {
    Active,
    Blocked,
    Maintenance,
    Waiting,
}

/// A status with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub name: StatusName,
    pub message: String,
}

/// Error from running a hook tool.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("placeholder")]
    Placeholder,
}

/// Every hook tool the charm uses. Implemented by [`ProcessHookTools`].
#[mockall::automock]
pub trait HookTools {
    fn juju_log(&self, level: log::Level, message: &str) -> Result<(), ToolError>;
    fn status_set(&self, status: &Status) -> Result<(), ToolError>;
    fn app_status_set(&self, status: &Status) -> Result<(), ToolError>;
    fn status_get(&self) -> Result<Status, ToolError>;
    fn is_leader(&self) -> Result<bool, ToolError>;
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError>;
    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError>;
    /// A unit's whole bag (`unit` = `mysql/1`, may be this unit).
    fn relation_get_unit(
        &self,
        relation: &RelationId,
        unit: &str,
    ) -> Result<BTreeMap<String, String>, ToolError>;
    /// An application's whole bag.
    fn relation_get_app(
        &self,
        relation: &RelationId,
        app: &str,
    ) -> Result<BTreeMap<String, String>, ToolError>;
    /// Sets keys in this unit's bag; an empty value deletes the key.
    fn relation_set_unit(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError>;
    /// Sets keys in this application's bag (leader only); an empty value deletes.
    fn relation_set_app(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError>;
    fn action_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError>;
    fn action_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError>;
    fn action_fail(&self, message: &str) -> Result<(), ToolError>;
    fn action_log(&self, message: &str) -> Result<(), ToolError>;
    fn application_version_set(&self, version: &str) -> Result<(), ToolError>;
    fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError>;
    fn state_get(&self) -> Result<BTreeMap<String, String>, ToolError>;
    fn state_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError>;
    fn leader_get(&self) -> Result<BTreeMap<String, String>, ToolError>;
    fn leader_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError>;
}
