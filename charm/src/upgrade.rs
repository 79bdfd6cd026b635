//! Charmed MySQL's side of the upgrade protocol: [`MySqlUpgrade`] implements the core's
//! [`UpgradeHooks`] over a [`Workload`] as Charmed MySQL's `src/upgrade.py` does, and
//! [`on_upgrade_event`] runs the core for one hook or action.
//!
//! - Pre-upgrade check (leader): every planned unit is an ONLINE member, else "Pre-upgrade
//!   check failed. Cannot upgrade." (cause "Not all units are online", or "Failed to retrieve
//!   cluster status" when mysqld does not answer); then the leader is made primary, so it
//!   upgrades last and no switchover happens mid-way, and every instance gets a slow shutdown.
//! - The unit granted its turn: "stopping services..", "upgrading snap...", "starting
//!   services..." (log rotation paused, mysqld started, plugins installed), "recovering unit
//!   after upgrade" (back in the cluster; a single unit reboots its cluster from complete
//!   outage). A start refused because the data is newer (MY-013171) resets and rejoins the
//!   instance when other members can donate the data; a single unit fails (restore from
//!   backup). The workload version is the one the running server reports.
//! - What this build is ([`this_charm`]): the Juju charm revision and the workload version
//!   `versions.json` pins, which turns on what the core does beyond v0 (automatic rollback,
//!   the rollback command in statuses, ...); and the `pause-after-unit-refresh` config
//!   ([`pause_setting`]).

use juju_ops::{HookTools, ToolError};
use juju_upgrade::{
    handle_own_and_app, messages, missed_upgrade_charm, no_relation, read_other_bags, CacheHook,
    CharmVersions, ClusterNotReady, DependencyModel, Event, Handled, Input, Outcome, PeerSnapshot,
    UpgradeFailed, UpgradeHooks, PAUSE_OPTION,
};

use crate::cache;
use crate::context::HookContext;
use crate::error::CharmError;
use crate::peer::{self, ToolSink};
use crate::revision::charm_id;
use crate::versions::Versions;
use crate::workload::{RetryPolicy, Workload, WorkloadError};

/// The MySQL upgrade steps of one unit.
pub struct MySqlUpgrade<'a> {
    workload: &'a dyn Workload,
    versions: &'a Versions,
    unit_name: String,
    /// Juju's goal state for the application: `None` until read, which is done only when the
    /// core needs every unit (only then may it call the checks and the upgrade that use it).
    planned_units: Option<usize>,
    rejoin: RetryPolicy,
}

impl<'a> MySqlUpgrade<'a> {
    /// The steps of `unit_name` in an application of `planned_units` units (Juju's goal
    /// state), installing what `versions` pins.
    pub fn new(
        workload: &'a dyn Workload,
        versions: &'a Versions,
        unit_name: impl Into<String>,
        planned_units: usize,
    ) -> Self {
        Self {
            workload,
            versions,
            unit_name: unit_name.into(),
            planned_units: Some(planned_units),
            rejoin: RetryPolicy::REJOIN_AFTER_UPGRADE,
        }
    }

    /// Waits for the instance to rejoin with `retry` instead of Charmed MySQL's 30 × 10 s.
    pub fn with_rejoin_policy(mut self, retry: RetryPolicy) -> Self {
        self.rejoin = retry;
        self
    }

    /// The steps before Juju's goal state was read: enough for the core to decide on this
    /// unit's bag and the application bag, which never upgrades or checks the cluster
    /// ([`juju_upgrade::handle_own_and_app`]); [`Self::with_planned_units`] completes them.
    pub fn before_goal_state(
        workload: &'a dyn Workload,
        versions: &'a Versions,
        unit_name: impl Into<String>,
    ) -> Self {
        let mut steps = Self::new(workload, versions, unit_name, 0);
        steps.planned_units = None;
        steps
    }

    /// Sets the number of units Juju's goal state plans.
    pub fn with_planned_units(mut self, planned_units: usize) -> Self {
        self.planned_units = Some(planned_units);
        self
    }

    /// The planned units, or why a step that needs them cannot run.
    fn planned_units(&self) -> Result<usize, String> {
        self.planned_units.ok_or_else(|| {
            "the application's planned units (goal-state) were not read before this step".to_owned()
        })
    }

    /// Starts mysqld on the refreshed workload and installs the plugins; a refused
    /// downgrade resets the instance instead (its plugins come with the reset).
    fn restart_after_refresh(&self, planned_units: usize) -> Result<(), UpgradeFailed> {
        match self.workload.start() {
            Ok(()) => self
                .workload
                .install_plugins()
                .map_err(|err| failed("Failed to install MySQL plugins", &err)),
            Err(err) => self.recover_from_failed_start(err, planned_units),
        }
    }

    /// mysqld did not start after the refresh: a refused downgrade is repaired from the
    /// other members when there are some; anything else fails the unit.
    fn recover_from_failed_start(
        &self,
        err: WorkloadError,
        planned_units: usize,
    ) -> Result<(), UpgradeFailed> {
        if !matches!(err, WorkloadError::StartFailed { .. }) {
            return Err(failed(
                "Failed to start MySQL server after snap refresh",
                &err,
            ));
        }
        match self.workload.downgrade_refused() {
            Ok(true) => {}
            Ok(false) => {
                return Err(failed(
                    "Failed to start MySQL server after snap refresh",
                    &err,
                ));
            }
            Err(read) => {
                log::error!("cannot read the MySQL error log: {read}");
                return Err(failed(
                    "Failed to start MySQL server after snap refresh",
                    &err,
                ));
            }
        }
        if planned_units <= 1 {
            return Err(UpgradeFailed {
                cause: "Downgrade is incompatible. Restore from backup is required.".to_owned(),
            });
        }
        log::info!("Downgrade is incompatible (MY-013171). Resetting workload");
        self.workload.reset_and_rejoin().map_err(|err| {
            failed(
                "Failed to reset the workload after an incompatible downgrade",
                &err,
            )
        })
    }
}

/// An [`UpgradeFailed`] whose cause reads "<what>: <error>".
fn failed(what: &str, err: &WorkloadError) -> UpgradeFailed {
    UpgradeFailed {
        cause: format!("{what}: {err}"),
    }
}

fn not_ready(cause: &str, resolution: &str) -> ClusterNotReady {
    ClusterNotReady {
        message: messages::PRE_UPGRADE_CHECK_FAILED.to_owned(),
        cause: cause.to_owned(),
        resolution: resolution.to_owned(),
    }
}

impl UpgradeHooks for MySqlUpgrade<'_> {
    fn dependency_model(&self) -> &DependencyModel {
        self.versions.dependencies()
    }

    fn pre_upgrade_check(&mut self, view: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        let status = self.workload.cluster_status().map_err(|err| {
            log::error!("cannot read the cluster status: {err}");
            not_ready(
                "Failed to retrieve cluster status",
                "Ensure that mysqld is running for this unit",
            )
        })?;
        let planned_units = self.planned_units().map_err(|cause| {
            log::error!("{cause}");
            not_ready(&cause, "Run the action again")
        })?;
        let online = status.online_units();
        if online.len() < planned_units {
            // Name the units the operator has to look at, not the healthy ones.
            let not_online: Vec<String> = view
                .app_units()
                .into_iter()
                .map(|unit| view.unit_name(unit))
                .filter(|name| !online.contains(&name.as_str()))
                .collect();
            let not_joined = planned_units.saturating_sub(online.len() + not_online.len());
            let mut down = if not_online.is_empty() {
                String::new()
            } else {
                format!("not ONLINE: {}", not_online.join(", "))
            };
            if not_joined > 0 {
                if !down.is_empty() {
                    down.push_str("; ");
                }
                down.push_str(&format!(
                    "{not_joined} planned unit(s) not in the cluster yet"
                ));
            }
            log::error!(
                "{} of {} planned units are ONLINE; {down}",
                online.len(),
                planned_units,
            );
            return Err(not_ready(
                "Not all units are online",
                "Ensure all units are online in the cluster",
            ));
        }
        // The upgrade stack is built from the units in the upgrade relation: one Juju has
        // not told this unit about yet would be left out of it and refresh unprepared.
        let in_relation = view.app_units();
        if in_relation.len() < planned_units {
            log::error!(
                "{} of {} planned units have joined the upgrade relation ({}); the upgrade \
                 stack would leave the others out",
                in_relation.len(),
                planned_units,
                in_relation
                    .iter()
                    .map(|&unit| view.unit_name(unit))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            return Err(not_ready(
                "Not all units have joined the upgrade relation",
                "Wait until every unit has joined, then run the action again",
            ));
        }
        if status.primary() != Some(self.unit_name.as_str()) {
            log::info!("Switching the primary to {} (the leader)", self.unit_name);
            self.workload
                .switch_primary(&self.unit_name)
                .map_err(|err| {
                    log::error!("cannot switch the primary: {err}");
                    not_ready("Failed to set primary", "Check the cluster status")
                })?;
        }
        for unit in view.app_units() {
            let name = view.unit_name(unit);
            self.workload.set_slow_shutdown(&name).map_err(|err| {
                log::error!("cannot set slow shutdown on {name}: {err}");
                not_ready("Failed to set slow shutdown", "Check the cluster status")
            })?;
        }
        Ok(())
    }

    fn upgrade_unit(
        &mut self,
        _view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        let planned_units = self
            .planned_units()
            .map_err(|cause| UpgradeFailed { cause })?;
        let target = self.versions.workload_revision();
        let installed = match self.workload.installed_revision() {
            Ok(Some(revision)) => format!("{} (revision {})", revision.version, revision.revision),
            Ok(None) => "nothing".to_owned(),
            Err(err) => format!("unknown ({err})"),
        };
        log::info!(
            "{}: refreshing {} from {installed} to {} (revision {})",
            self.unit_name,
            self.versions.workload().name,
            target.version,
            target.revision
        );
        progress("stopping services..");
        self.workload
            .stop()
            .map_err(|err| failed("Failed to stop MySQL server", &err))?;
        self.workload
            .claim_installation()
            .map_err(|err| failed("Failed to install workload snap", &err))?;
        progress("upgrading snap...");
        self.workload
            .install(&target)
            .map_err(|err| failed("Failed to install workload snap", &err))?;
        progress("starting services...");
        // Log rotation stays stopped while mysqld starts, so a refused start is read from
        // the error log it wrote; it is started again whatever happens.
        self.workload
            .pause_log_rotation()
            .map_err(|err| failed("Failed to stop log rotation", &err))?;
        let restarted = self.restart_after_refresh(planned_units);
        if let Err(err) = self.workload.resume_log_rotation() {
            log::error!("cannot start log rotation again: {err}");
            restarted?;
            return Err(failed("Failed to start log rotation", &err));
        }
        restarted?;
        progress("recovering unit after upgrade");
        if planned_units <= 1 {
            // Charmed MySQL's single-unit recovery: the lone member does not re-form the
            // group by itself.
            self.workload
                .reboot_from_complete_outage()
                .map_err(|err| failed("Failed to reboot the cluster from complete outage", &err))?;
        }
        self.workload
            .recover_after_restart(planned_units, self.rejoin)
            .map_err(|err| failed("Upgraded unit is not healthy", &err))?;
        log::info!(
            "{}: back ONLINE on {} {}",
            self.unit_name,
            self.versions.workload().name,
            target.version
        );
        Ok(())
    }

    fn workload_version(&mut self, _view: &PeerSnapshot) -> Option<String> {
        match self.workload.running_version() {
            Ok(version) => version,
            Err(err) => {
                log::warn!("Failed to get MySQL version: {err}");
                None
            }
        }
    }
}

/// What this charm build is: the Juju charm revision of the charm directory, or its
/// `local:` URL for a charm deployed from a file ([`crate::revision::charm_id`]), and the
/// workload version `versions.json` pins.
///
/// When the revision cannot be read, the error is logged and nothing is reported: the core
/// then keeps v0's behaviour (no automatic rollback, no rollback command in statuses).
pub fn this_charm(ctx: &HookContext<'_>) -> CharmVersions {
    match charm_id(&ctx.dispatch.charm_dir) {
        Ok(revision) => CharmVersions::new(revision, ctx.versions.workload().version.clone()),
        Err(err) => {
            log::warn!(
                "{err}; reporting no charm versions, so upgrades run as the v0 library's (no automatic rollback detection)"
            );
            CharmVersions::default()
        }
    }
}

/// The `pause-after-unit-refresh` config value as set (`all`, `first`, `none`; anything else
/// is the core's to report), or `None` when this revision has no such option.
pub fn pause_setting(tools: &dyn HookTools) -> Result<Option<String>, ToolError> {
    Ok(match tools.config_get_key(PAUSE_OPTION)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => Some(text),
        Some(other) => Some(other.to_string()),
    })
}

/// Runs the upgrade core for one event on this unit and returns what it left; `None` without
/// the `upgrade` relation.
///
/// Reads in two steps: this unit's bag and the application bag first, and the core decides
/// from those alone when it can (a unit waiting its turn: a fixed number of tool calls
/// whatever the number of units); only when it needs the others' bags does this read them,
/// and Juju's goal state, and let the core decide on every unit's bag. The others' bags come
/// from the unit's copies of them ([`crate::cache`]) where those may stand for what Juju
/// shows: then only the unit this hook is about is read, whatever the number of units.
///
/// Without the `upgrade` relation the core answers with v0's messages (the action fails
/// with "Could not find upgrade relation."). A failing hook tool stops the core's turn before
/// it touches the workload, and is this function's error: the hook fails and Juju retries it.
pub fn on_upgrade_event(
    ctx: &HookContext<'_>,
    event: Event,
) -> Result<Option<Outcome>, CharmError> {
    let Some(relation) = peer::upgrade_relation_of(&ctx.dispatch.event, ctx.tools)? else {
        let mut sink = ToolSink::without_relation(ctx.tools);
        no_relation(&event, &mut sink)?;
        return Ok(None);
    };
    let view = peer::own_and_app(ctx.tools, &relation, ctx.app(), ctx.unit_number())?;
    let input = Input::new(event, view)
        .with_charm(this_charm(ctx))
        .with_pause_setting(pause_setting(ctx.tools)?);
    let mut hooks = MySqlUpgrade::before_goal_state(ctx.workload, ctx.versions, ctx.unit_name());
    let mut sink = ToolSink::new(ctx.tools, relation.clone());
    let outcome = match handle_own_and_app(input, &mut hooks, &mut sink)? {
        Handled::Done(outcome) => outcome,
        Handled::NeedsEveryUnit(pending) => {
            let hook = cache::cache_hook(&ctx.dispatch.event);
            let others = pending.units_to_read().into_iter().collect();
            let view = pending.view();
            let got = read_other_bags(
                &cache::cache_key(&relation, ctx.unit_number()),
                hook,
                &others,
                cache::load(&ctx.dispatch.charm_dir, hook),
                |unit| {
                    ctx.tools
                        .relation_get_unit(&relation, &view.unit_name(unit))
                },
            )?;
            if let Some(miss) = &got.miss {
                log::debug!("peer cache not used ({miss}): read every unit's bag");
            }
            let mut hooks = hooks.with_planned_units(ctx.tools.planned_units()?.len());
            let outcome = pending.complete(got.bags.clone(), &mut hooks, &mut sink)?;
            sink.commit()?;
            if hook != CacheHook::Keeps || got.changed() {
                cache::store(&ctx.dispatch.charm_dir, &got.cache);
            }
            return Ok(Some(outcome));
        }
    };
    sink.commit()?;
    Ok(Some(outcome))
}

/// Whether this unit runs a charm it got without `upgrade-charm`: Juju swaps the charm of a
/// unit in error at the retry of its failed hook (an `update-status`, a
/// `leader-settings-changed`) and runs no `upgrade-charm` for it (juju/juju#20173). Its bag
/// still records the charm it ran before. Reads this unit's bag only; `false` without the
/// `upgrade` relation or when this build reports no versions.
pub fn missed_upgrade_charm_here(ctx: &HookContext<'_>) -> Result<bool, CharmError> {
    let Some(relation) = peer::upgrade_relation(ctx.tools)? else {
        return Ok(false);
    };
    let (own, _app) = peer::own_and_app_bags(ctx.tools, &relation, ctx.app(), ctx.unit_number())?;
    let mut view = PeerSnapshot::new(ctx.app(), ctx.unit_number(), false);
    view.unit_bags.insert(ctx.unit_number(), own);
    match missed_upgrade_charm(&view, &this_charm(ctx)) {
        Ok(missed) => Ok(missed),
        Err(err) => {
            // The core reports unreadable peer data at the next upgrade event.
            log::warn!("cannot tell whether this unit missed upgrade-charm: {err}");
            Ok(false)
        }
    }
}
