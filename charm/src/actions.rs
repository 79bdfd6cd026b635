//! The charm's actions (`actions.yaml`).
//!
//! - `pre-upgrade-check`: the upgrade core's action (prepare an upgrade, or enter recovery
//!   after a failed one), run with the MySQL checks of [`crate::upgrade::MySqlUpgrade`];
//!   an idle leader then shows its health (it may have just become the primary).
//! - `resume-upgrade`: on the next unit while `pause-after-unit-refresh` pauses the upgrade;
//!   that unit upgrades now.
//! - `force-upgrade`: on the unit a check blocks, with the checks to skip named
//!   (`skip-compatibility-check`, `skip-pre-upgrade-check`, `skip-health-check`).
//! - `get-cluster-status`: MySQL Shell's `cluster.status()` (or, with `cluster-set`, the
//!   cluster set's status), lower-cased, as Charmed MySQL reports it: `success` and
//!   `status.<...>`.
//! - `get-password` / `set-password`: a system user's password, from and to the
//!   application's secret ([`crate::secrets`]); `set-password` on the leader only.
//!
//! A failure the operator can act on is reported with `action-fail` and a message saying
//! what went wrong; only a failing hook tool makes the action process exit non-zero.

use std::collections::BTreeMap;

use juju_upgrade::Event;

use crate::context::HookContext;
use crate::error::CharmError;
use crate::secrets;
use crate::status::{status_after, After};
use crate::upgrade::on_upgrade_event;
use crate::workload::users;

/// Name of the action preparing an upgrade (or a rollback).
pub const PRE_UPGRADE_CHECK: &str = "pre-upgrade-check";
/// Name of the action reporting the cluster status.
pub const GET_CLUSTER_STATUS: &str = "get-cluster-status";
/// Name of the action fetching a system user's password.
pub const GET_PASSWORD: &str = "get-password";
/// Name of the action changing a system user's password.
pub const SET_PASSWORD: &str = "set-password";

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
        PRE_UPGRADE_CHECK => upgrade(ctx, Event::PreUpgradeCheck),
        RESUME_UPGRADE => upgrade(ctx, Event::ResumeUpgrade),
        FORCE_UPGRADE => {
            let params = ctx.tools.action_get()?;
            match force_event(&params) {
                Ok(event) => upgrade(ctx, event),
                Err(message) => {
                    ctx.tools.action_fail(&message)?;
                    Ok(())
                }
            }
        }
        GET_CLUSTER_STATUS => get_cluster_status(ctx),
        GET_PASSWORD => get_password(ctx),
        SET_PASSWORD => set_password(ctx),
        other => {
            ctx.tools
                .action_fail(&format!("This charm has no action {other:?}."))?;
            Ok(())
        }
    }
}

/// Runs the upgrade core for the action, then the status policy (after `pre-upgrade-check`
/// the leader may have just become the primary: it shows that at once).
fn upgrade(ctx: &HookContext<'_>, event: Event) -> Result<(), CharmError> {
    let outcome = on_upgrade_event(ctx, event)?;
    status_after(ctx, After::Upgrade(event), outcome.as_ref())
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

/// `get-cluster-status`: `success` and the status dictionary, lower-cased (Charmed
/// MySQL lower-cases the whole JSON), flattened into the dotted keys `action-set` takes.
fn get_cluster_status(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let params = ctx.tools.action_get()?;
    let cluster_set = match params.get("cluster-set") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(value)) => *value,
        Some(other) => {
            ctx.tools
                .action_fail(&format!("cluster-set must be true or false, not {other}"))?;
            return Ok(());
        }
    };
    let status = match ctx.workload.status_report(cluster_set) {
        Ok(status) => status,
        Err(err) => {
            log::error!("Error while reading cluster status: {err}");
            ctx.tools
                .action_fail("Failed to read cluster status. See logs for more information.")?;
            return Ok(());
        }
    };
    let lowered: serde_json::Value =
        serde_json::from_str(&status.to_string().to_lowercase()).unwrap_or(status);
    let mut results = BTreeMap::from([("success".to_owned(), "True".to_owned())]);
    flatten("status", &lowered, &mut results);
    ctx.tools.action_set(&results)?;
    Ok(())
}

/// `value` as `action-set` results under `prefix`: objects become dotted keys, lists
/// their JSON text, `true`/`false`/`null` the Python words `ops` would write. Keys
/// Juju refuses (only letters, digits and dashes) are left out, with a warning.
pub fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key.is_empty()
                    || !key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    log::warn!("leaving out the result {prefix}.{key}: not a valid action key");
                    continue;
                }
                flatten(&format!("{prefix}.{key}"), item, out);
            }
        }
        Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
        }
        Value::Bool(flag) => {
            out.insert(
                prefix.to_owned(),
                if *flag { "True" } else { "False" }.to_owned(),
            );
        }
        Value::Null => {
            out.insert(prefix.to_owned(), "None".to_owned());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The `username` parameter (default root), or the failure message naming the users
/// the charm manages.
fn username_param(params: &serde_json::Map<String, serde_json::Value>) -> Result<String, String> {
    let name = match params.get("username") {
        None | Some(serde_json::Value::Null) => users::ROOT.to_owned(),
        Some(serde_json::Value::String(name)) if name.is_empty() => users::ROOT.to_owned(),
        Some(serde_json::Value::String(name)) => name.clone(),
        Some(other) => other.to_string(),
    };
    if secrets::key_of(&name).is_some() {
        Ok(name)
    } else {
        Err(format!(
            "The action can be run only for users used by the charm: {} not {name}",
            secrets::USERS.join(", ")
        ))
    }
}

/// `get-password`: `username` and `password` of a system user.
fn get_password(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let params = ctx.tools.action_get()?;
    let user = match username_param(&params) {
        Ok(user) => user,
        Err(message) => {
            ctx.tools.action_fail(&message)?;
            return Ok(());
        }
    };
    let Some(passwords) = secrets::passwords(ctx.tools, ctx.app())? else {
        ctx.tools
            .action_fail("The passwords are not created yet (the leader creates them).")?;
        return Ok(());
    };
    let password = match user.as_str() {
        users::ROOT => passwords.root,
        users::SERVER_CONFIG => passwords.server_config,
        users::CLUSTER_ADMIN => passwords.cluster_admin,
        users::MONITORING => passwords.monitoring,
        _ => passwords.backups,
    };
    ctx.tools.action_set(&BTreeMap::from([
        ("username".to_owned(), user),
        ("password".to_owned(), password),
    ]))?;
    Ok(())
}

/// `set-password` (leader only): the new (or a generated) password set on the primary,
/// then stored in the secret.
fn set_password(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    if !ctx.tools.is_leader()? {
        ctx.tools
            .action_fail("set-password action can only be run on the leader unit.")?;
        return Ok(());
    }
    let params = ctx.tools.action_get()?;
    let user = match username_param(&params) {
        Ok(user) => user,
        Err(message) => {
            ctx.tools.action_fail(&message)?;
            return Ok(());
        }
    };
    let password = match params.get("password") {
        Some(serde_json::Value::String(text)) if !text.is_empty() => text.clone(),
        _ => secrets::generate_password()?,
    };
    if let Err(err) = ctx.workload.update_password(&user, &password) {
        log::error!("Failed to update the password of {user}: {err}");
        ctx.tools
            .action_fail(&format!("Failed to update the password of {user}: {err}"))?;
        return Ok(());
    }
    secrets::store_password(ctx.tools, ctx.app(), &user, &password)?;
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
    fn cluster_status_flattens_into_action_keys_as_charmed_mysql_reports_it() {
        let text = include_str!("../tests/fixtures/cluster-status.json").to_lowercase();
        let status: Value = serde_json::from_str(&text).expect("fixture");
        let mut out = BTreeMap::new();
        flatten("status", &status, &mut out);
        let get = |key: &str| out.get(key).map(String::as_str);
        assert_eq!(
            get("status.defaultreplicaset.topology.mysql-1.memberrole"),
            Some("primary")
        );
        assert_eq!(
            get("status.defaultreplicaset.topology.mysql-2.status"),
            Some("(missing)")
        );
        assert_eq!(
            get("status.defaultreplicaset.topology.mysql-1.replicationlag"),
            Some("None")
        );
        assert_eq!(
            get("status.defaultreplicaset.topology.mysql-2.instanceerrors"),
            Some("[\"note: group_replication is stopped.\"]")
        );
        assert!(juju_ops::tools::validate_action_keys(out.keys().map(String::as_str)).is_ok());
    }

    #[test]
    fn force_upgrade_refuses_a_skip_that_is_not_a_boolean() {
        assert_eq!(
            force_event(&params(json!({"skip-health-check": "yes"}))),
            Err("force-upgrade: skip-health-check must be true or false, not \"yes\"".to_owned())
        );
    }
}
