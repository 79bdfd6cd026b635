//! The charm's actions (`actions.yaml`).
//!
//! - `pre-upgrade-check`: the upgrade core's action (prepare an upgrade, or enter recovery
//!   after a failed one), run with the MySQL checks of [`crate::upgrade::MySqlUpgrade`];
//!   an idle leader then shows its health (it may have just become the primary).
//! - `resume-upgrade`: on the next unit while `pause-after-unit-refresh` pauses the upgrade;
//!   that unit upgrades now.
//! - `force-upgrade`: on the unit a check blocks, with the checks to skip named
//!   (`skip-compatibility-check`, `skip-pre-upgrade-check`, `skip-health-check`).
//! - `get-cluster-status`: the cluster as this unit's server sees it, one result per member.
//!
//! A failure the operator can act on is reported with `action-fail` and a message saying
//! what went wrong; only a failing hook tool makes the action process exit non-zero.

use std::collections::BTreeMap;

use juju_upgrade::Event;

use crate::context::HookContext;
use crate::error::CharmError;
use crate::lifecycle;
use crate::upgrade::on_upgrade_event;

/// Name of the action preparing an upgrade (or a rollback).
pub const PRE_UPGRADE_CHECK: &str = "pre-upgrade-check";
/// Name of the action reporting the cluster status.
pub const GET_CLUSTER_STATUS: &str = "get-cluster-status";
/// Name of the action letting the next unit upgrade while the upgrade is paused.
pub const RESUME_UPGRADE: &str = "resume-upgrade";
/// Name of the action moving a blocked unit on without the checks it names.
pub const FORCE_UPGRADE: &str = "force-upgrade";
/// `force-upgrade` parameter: skip the leader's version compatibility check.
pub const SKIP_COMPATIBILITY_CHECK: &str = "skip-compatibility-check";
/// `force-upgrade` parameter: prepare the upgrade without the pre-upgrade health check.
pub const SKIP_PRE_UPGRADE_CHECK: &str = "skip-pre-upgrade-check";
/// `force-upgrade` parameter: accept a unit whose upgrade or health check failed.
pub const SKIP_HEALTH_CHECK: &str = "skip-health-check";

/// Runs the action `name`.
pub fn run(ctx: &HookContext<'_>, name: &str) -> Result<(), CharmError> {
    match name {
        PRE_UPGRADE_CHECK => {
            let outcome = on_upgrade_event(ctx, Event::PreUpgradeCheck)?;
            // The check may have made the leader the primary: show it at once.
            match &outcome.own_view {
                Some(view) if view.is_leader && !outcome.sink.action_failed => {
                    lifecycle::show_health_unless_upgrading_here(ctx, view)
                }
                _ => Ok(()),
            }
        }
        RESUME_UPGRADE => on_upgrade_event(ctx, Event::ResumeUpgrade).map(drop),
        FORCE_UPGRADE => {
            let params = ctx.tools.action_get()?;
            match force_event(&params) {
                Ok(event) => on_upgrade_event(ctx, event).map(drop),
                Err(message) => {
                    ctx.tools.action_fail(&message)?;
                    Ok(())
                }
            }
        }
        GET_CLUSTER_STATUS => get_cluster_status(ctx),
        other => {
            ctx.tools
                .action_fail(&format!("This charm has no action {other:?}."))?;
            Ok(())
        }
    }
}

/// The `force-upgrade` event for the action's parameters: each skip is a boolean, false when
/// absent. Juju validates them against `actions.yaml` already; anything else is refused with
/// a message naming the parameter.
pub fn force_event(params: &serde_json::Map<String, serde_json::Value>) -> Result<Event, String> {
    let flag = |name: &str| match params.get(name) {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(value)) => Ok(*value),
        Some(other) => Err(format!(
            "{FORCE_UPGRADE}: {name} must be true or false, not {other}"
        )),
    };
    Ok(Event::ForceUpgrade {
        skip_compatibility_check: flag(SKIP_COMPATIBILITY_CHECK)?,
        skip_pre_upgrade_check: flag(SKIP_PRE_UPGRADE_CHECK)?,
        skip_health_check: flag(SKIP_HEALTH_CHECK)?,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn force_upgrade_params_name_each_skip_and_default_to_false() {
        assert_eq!(
            force_event(&params(json!({}))),
            Ok(Event::ForceUpgrade {
                skip_compatibility_check: false,
                skip_pre_upgrade_check: false,
                skip_health_check: false,
            })
        );
        assert_eq!(
            force_event(&params(json!({
                "skip-compatibility-check": false,
                "skip-pre-upgrade-check": true,
                "skip-health-check": true,
            }))),
            Ok(Event::ForceUpgrade {
                skip_compatibility_check: false,
                skip_pre_upgrade_check: true,
                skip_health_check: true,
            })
        );
    }

    #[test]
    fn force_upgrade_refuses_a_skip_that_is_not_a_boolean() {
        assert_eq!(
            force_event(&params(json!({"skip-health-check": "yes"}))),
            Err("force-upgrade: skip-health-check must be true or false, not \"yes\"".to_owned())
        );
    }
}
