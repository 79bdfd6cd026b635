//! Charmed MySQL's side of the upgrade protocol: [`MySqlUpgrade`] implements the core's
//! [`UpgradeHooks`] over a [`Workload`] as Charmed MySQL's `src/upgrade.py` does, and
//! [`on_upgrade_event`] runs the core for one hook or action.
//!
//! - Pre-upgrade check (leader): every planned unit is an ONLINE member, else "Pre-upgrade
//!   check failed. Cannot upgrade." (cause "Not all units are online", or "Failed to retrieve
//!   cluster status" when mysqld does not answer); then the leader is made primary, so it
//!   upgrades last and no switchover happens mid-way, and every instance gets a slow shutdown.
//! - The unit granted its turn: "stopping services..", "upgrading snap...", "check if upgrade is
//!   possible" (only the first unit to upgrade, against the leader's still-old server),
//!   "starting services...", "recovering unit after upgrade" (back ONLINE in the cluster; a
//!   single unit first reboots its cluster from the complete outage, as a lone member does
//!   not re-form the group).
//!   A start refused because the data is newer (MY-013171) resets and rejoins the instance
//!   when other members can donate the data; a single unit fails (restore from backup).
//! - What this build is ([`this_charm`]): the Juju charm revision and the workload version
//!   `versions.json` pins, which turns on what the core does beyond v0 (automatic rollback,
//!   the rollback command in statuses, ...); and the `pause-after-unit-refresh` config
//!   ([`pause_setting`]).

use juju_ops::{HookTools, ToolError};
use juju_upgrade::{
    handle_own_and_app, messages, no_relation, CharmVersions, ClusterNotReady, DependencyModel,
    Event, Handled, Input, Outcome, PeerSnapshot, UpgradeFailed, UpgradeHooks, PAUSE_OPTION,
};

use crate::context::HookContext;
use crate::error::CharmError;
use crate::peer::{self, ToolSink};
use crate::revision::charm_revision;
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

    /// Charmed MySQL runs the upgrade checker on the first unit to upgrade only: while
    /// every planned unit is still in the stack, and never for a single unit.
    fn is_first_upgrading_unit(&self, view: &PeerSnapshot, planned_units: usize) -> bool {
        let stacked = view.upgrade_stack().map(|stack| stack.len()).unwrap_or(0);
        planned_units > 1 && stacked >= planned_units
    }

    /// The unit at the bottom of the stack: the leader, which upgrades last and therefore
    /// still runs the old server while the first unit checks against it.
    fn last_to_upgrade(view: &PeerSnapshot) -> Option<String> {
        let stack = view.upgrade_stack().ok()?;
        stack.as_slice().first().map(|&unit| view.unit_name(unit))
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
            log::error!(
                "{} of {} planned units are ONLINE ({})",
                online.len(),
                planned_units,
                online.join(", ")
            );
            return Err(not_ready(
                "Not all units are online",
                "Ensure all units are online in the cluster",
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
        view: &PeerSnapshot,
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
        progress("upgrading snap...");
        self.workload
            .install(&target)
            .map_err(|err| failed("Failed to install workload snap", &err))?;
        if self.is_first_upgrading_unit(view, planned_units) {
            if let Some(leader) = Self::last_to_upgrade(view) {
                progress("check if upgrade is possible");
                self.workload
                    .check_upgradable(&leader)
                    .map_err(|err| failed("Cannot upgrade MySQL server", &err))?;
                log::debug!("MySQL server is upgradeable");
            }
        }
        progress("starting services...");
        if let Err(err) = self.workload.start() {
            self.recover_from_failed_start(err, planned_units)?;
        }
        progress("recovering unit after upgrade");
        if planned_units <= 1 {
            // Charmed MySQL's single-unit recovery: the lone member does not re-form the
            // group by itself.
            self.workload
                .reboot_from_complete_outage()
                .map_err(|err| failed("Failed to reboot the cluster from complete outage", &err))?;
        }
        self.workload
            .wait_until_online(self.rejoin)
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
        match self.workload.installed_revision() {
            Ok(revision) => revision.map(|r| r.version),
            Err(err) => {
                log::warn!("Failed to get MySQL version: {err}");
                None
            }
        }
    }
}

/// What this charm build is: the Juju charm revision of the charm directory (see
/// [`crate::revision`]) and the workload version `versions.json` pins.
///
/// When the revision cannot be read, the error is logged and nothing is reported: the core
/// then keeps v0's behaviour (no automatic rollback, no rollback command in statuses).
pub fn this_charm(ctx: &HookContext<'_>) -> CharmVersions {
    match charm_revision(&ctx.dispatch.charm_dir) {
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
/// and Juju's goal state, and let the core decide on every unit's bag.
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
            let bags = peer::read_bags(
                ctx.tools,
                &relation,
                pending.view(),
                pending.units_to_read(),
            )?;
            let mut hooks = hooks.with_planned_units(ctx.tools.planned_units()?.len());
            pending.complete(bags, &mut hooks, &mut sink)?
        }
    };
    sink.commit()?;
    Ok(Some(outcome))
}
