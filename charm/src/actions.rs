//! The charm's actions (`actions.yaml`).
//!
//! - `pre-upgrade-check`: the upgrade core's action (prepare an upgrade, or enter recovery
//!   after a failed one), run with the MySQL checks of [`crate::upgrade::MySqlUpgrade`];
//!   an idle leader then shows its health (it may have just become the primary).
//! - `get-cluster-status`: the cluster as this unit's server sees it, one result per member.
//!
//! A failure the operator can act on is reported with `action-fail` and a message saying
//! what went wrong; only a failing hook tool makes the action process exit non-zero.

use std::collections::BTreeMap;

use juju_upgrade::Event;

use crate::dispatch::HookContext;
use crate::error::CharmError;
use crate::lifecycle;
use crate::upgrade::on_upgrade_event;

/// Name of the action preparing an upgrade (or a rollback).
pub const PRE_UPGRADE_CHECK: &str = "pre-upgrade-check";
/// Name of the action reporting the cluster status.
pub const GET_CLUSTER_STATUS: &str = "get-cluster-status";

/// Runs the action `name`.
pub fn run(ctx: &HookContext<'_>, name: &str) -> Result<(), CharmError> {
    match name {
        PRE_UPGRADE_CHECK => {
            on_upgrade_event(ctx, Event::PreUpgradeCheck)?;
            // The check may have made the leader the primary: show it at once.
            if ctx.tools.is_leader()? {
                lifecycle::show_health_if_idle(ctx)?;
            }
            Ok(())
        }
        GET_CLUSTER_STATUS => get_cluster_status(ctx),
        other => {
            ctx.tools
                .action_fail(&format!("This charm has no action {other:?}."))?;
            Ok(())
        }
    }
}

/// `get-cluster-status`: `primary` and, per member (keyed by its instance label such as
/// `mysql-0`), `members.<label>.unit`, `.state`, `.role` and `.version`.
fn get_cluster_status(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let status = match ctx.workload.cluster_status() {
        Ok(status) => status,
        Err(err) => {
            log::error!("get-cluster-status: {err}");
            ctx.tools
                .action_fail(&format!("Failed to read the cluster status: {err}"))?;
            return Ok(());
        }
    };
    let mut results = BTreeMap::new();
    results.insert(
        "primary".to_owned(),
        status.primary().unwrap_or("none").to_owned(),
    );
    for member in status.members.values() {
        let label = member.unit.replace('/', "-");
        let mut put = |field: &str, value: String| {
            results.insert(format!("members.{label}.{field}"), value);
        };
        put("unit", member.unit.clone());
        put("state", member.state.to_string());
        put(
            "role",
            member
                .role
                .map_or_else(|| "none".to_owned(), |role| role.to_string()),
        );
        put(
            "version",
            member
                .version
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
        );
    }
    ctx.tools.action_set(&results)?;
    Ok(())
}
