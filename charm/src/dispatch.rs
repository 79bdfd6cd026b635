//! The process entry point: which event Juju started us for, and who handles it.
//!
//! [`run`] reads the dispatch environment, sets up logging through `juju-log`, loads the
//! charm's `versions.json`, builds the workload (the `charmed-mysql` snap,
//! [`snap_workload`]) and hands the event to [`route`], which is free of process state so
//! tests drive it with mock tools and a mock workload. [`run_with`] does the same with
//! another workload: the binaries that run the charm under `juju-sim` pass the test
//! workloads' chooser.

use std::collections::BTreeMap;
use std::process::ExitCode;

use juju_ops::{Dispatch, Event as JujuEvent, HookTools, ProcessHookTools, RelationHookKind};
use juju_upgrade::Event;
use log::LevelFilter;

use crate::actions;
use crate::cache;
use crate::context::HookContext;
use crate::error::CharmError;
use crate::lifecycle;
use crate::peer::{self, UPGRADE_ENDPOINT};
use crate::status::{status_after, After};
use crate::upgrade::{missed_upgrade_charm_here, on_upgrade_event};
use crate::versions::Versions;
use crate::workload::{ProcessRunner, SnapConfig, SnapWorkload, ThreadSleeper, Workload};

/// Handles one event. Hooks this charm has no business with succeed doing nothing.
pub fn route(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let upgrade = |event: Event| -> Result<(), CharmError> {
        let outcome = on_upgrade_event(ctx, event)?;
        status_after(ctx, After::Upgrade(event), outcome.as_ref())
    };
    match &ctx.dispatch.event {
        JujuEvent::Action { name, .. } => actions::run(ctx, name),
        JujuEvent::Hook {
            relation: Some(relation),
            ..
        } if relation.name() == UPGRADE_ENDPOINT => match relation.kind {
            RelationHookKind::Created => upgrade(Event::RelationCreated),
            RelationHookKind::Changed => upgrade(Event::RelationChanged),
            RelationHookKind::Departed => upgrade(Event::RelationDeparted),
            RelationHookKind::Joined | RelationHookKind::Broken => Ok(()),
        },
        JujuEvent::Hook { name, .. } => {
            if !NO_CATCH_UP_HOOKS.contains(&name.as_str()) && missed_upgrade_charm_here(ctx)? {
                // The charm was swapped without `upgrade-charm`: run it now, so the unit joins
                // the upgrade instead of leaving the others waiting for it.
                log::warn!("this unit's charm was swapped without upgrade-charm; running it now");
                upgrade(Event::UpgradeCharm)?;
            }
            ordinary_hook(ctx, name, upgrade)
        }
    }
}

/// The hooks that need no check for a missed `upgrade-charm`: those the upgrade core handles
/// itself, which notice it on their own, `install` (no upgrade data yet), and `stop` and
/// `remove` (the unit is leaving).
const NO_CATCH_UP_HOOKS: [&str; 6] = [
    "install",
    "upgrade-charm",
    "leader-elected",
    "config-changed",
    "stop",
    "remove",
];

/// A hook outside the `upgrade` relation.
fn ordinary_hook(
    ctx: &HookContext<'_>,
    name: &str,
    upgrade: impl Fn(Event) -> Result<(), CharmError>,
) -> Result<(), CharmError> {
    match name {
        "install" => lifecycle::install(ctx),
        "start" => lifecycle::start(ctx),
        "upgrade-charm" => upgrade(Event::UpgradeCharm),
        // The new leader takes over what the old one may have left undone.
        "leader-elected" => {
            // The system users' passwords, created once by the first leader.
            if ctx.workload.needs_setup() {
                crate::secrets::ensure_passwords(ctx.tools, ctx.app())?;
            }
            upgrade(Event::LeaderElected)
        }
        // `pause-after-unit-refresh` may have changed: a paused unit may go now.
        "config-changed" => upgrade(Event::ConfigChanged),
        // Its health may have changed: an OFFLINE member rejoins, a set-up that waited goes on.
        "update-status" => lifecycle::update_status(ctx),
        // The unit may have lost leadership.
        "leader-settings-changed" => status_after(ctx, After::OrdinaryHook, None),
        _ => Ok(()),
    }
}

/// Runs the charm for the event in this process's environment, on the `charmed-mysql`
/// snap.
///
/// Every error is logged through `juju-log`. A failed action also gets `action-fail` with
/// the error. The exit status is non-zero when the work could not be done, so Juju discards
/// the hook's relation writes and retries it.
pub fn run() -> ExitCode {
    run_with(snap_workload)
}

/// Runs the charm as [`run`] does, on the workload `build_workload` makes for the event
/// and the unit (called once, after `versions.json` is loaded). A failure to build it is
/// the hook's or action's failure.
pub fn run_with<F>(build_workload: F) -> ExitCode
where
    F: FnOnce(&Dispatch, &dyn HookTools) -> Result<Box<dyn Workload>, CharmError>,
{
    let tools = ProcessHookTools::new();
    if let Err(err) = juju_ops::logger::init(LevelFilter::Debug) {
        eprintln!("WARNING logging through juju-log is unavailable: {err}");
    }
    let dispatch = match Dispatch::from_env() {
        Ok(dispatch) => dispatch,
        Err(err) => {
            log::error!("{}", CharmError::from(err));
            return ExitCode::FAILURE;
        }
    };
    let outcome = load_and_route(&dispatch, &tools, build_workload);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let event = describe(&dispatch);
            log::error!("{event} failed: {err}");
            if dispatch.is_action() {
                if let Err(fail) = tools.action_fail(&format!("{event} failed: {err}")) {
                    log::error!("cannot report the failure with action-fail: {fail}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

fn load_and_route<F>(
    dispatch: &Dispatch,
    tools: &dyn HookTools,
    build_workload: F,
) -> Result<(), CharmError>
where
    F: FnOnce(&Dispatch, &dyn HookTools) -> Result<Box<dyn Workload>, CharmError>,
{
    // Before any hook tool: a hook that dies half-way must not leave a cache behind that
    // missed what Juju refreshed for it.
    cache::on_hook_start(&dispatch.charm_dir, cache::cache_hook(&dispatch.event))?;
    let versions = Versions::load(&dispatch.charm_dir)?;
    let workload = build_workload(dispatch, tools)?;
    let ctx = HookContext {
        dispatch,
        tools,
        workload: workload.as_ref(),
        versions: &versions,
    };
    route(&ctx)
}

/// `hooks/<name>` or `actions/<name>`, for messages.
fn describe(dispatch: &Dispatch) -> String {
    match &dispatch.event {
        JujuEvent::Hook { name, .. } => format!("hook {name}"),
        JujuEvent::Action { name, .. } => format!("action {name}"),
    }
}

/// The peer relation carrying cluster-wide settings.
pub const DATABASE_PEERS: &str = "database-peers";
/// The config option turning the audit-log plugin on (Charmed MySQL's, default true).
pub const PLUGIN_AUDIT_ENABLED: &str = "plugin-audit-enabled";

/// The production workload, the `charmed-mysql` snap: addresses from the `upgrade`
/// relation (`private-address` of every unit), the cluster name from config (default: the
/// application name), the system users' passwords from the application's Juju secret
/// ([`crate::secrets`]).
pub fn snap_workload(
    dispatch: &Dispatch,
    tools: &dyn HookTools,
) -> Result<Box<dyn Workload>, CharmError> {
    let mut addresses = BTreeMap::new();
    if let Some(relation) = peer::upgrade_relation(tools)? {
        let mut units = tools.relation_list(&relation)?;
        units.push(dispatch.unit_name.clone());
        for unit in units {
            if let Some(address) =
                tools.relation_get_unit_key(&relation, &unit, "private-address")?
            {
                addresses.insert(unit, address);
            }
        }
    }
    let cluster_name = match tools.config_get_key("cluster-name")? {
        Some(serde_json::Value::String(name)) if !name.is_empty() => name,
        _ => dispatch.app_name.clone(),
    };
    let passwords = crate::secrets::passwords(tools, &dispatch.app_name)?.unwrap_or_default();
    let mut config =
        SnapConfig::charmed_mysql(&dispatch.unit_name, cluster_name, passwords, addresses);
    config.audit_log = !matches!(
        tools.config_get_key(PLUGIN_AUDIT_ENABLED)?,
        Some(serde_json::Value::Bool(false))
    );
    Ok(Box::new(SnapWorkload::new(
        config,
        ProcessRunner,
        ThreadSleeper,
    )))
}
