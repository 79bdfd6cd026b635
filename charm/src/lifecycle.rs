//! The hooks of an ordinary day: install the pinned workload and start it, and show the
//! unit's health as its status.
//!
//! A status set here must never hide an upgrade's ("other units upgrading first...",
//! "upgrade failed. Check logs for rollback instruction", "ready to rollback application",
//! "Paused: ...", "Refreshed without pre-upgrade-check: ..."), so the health status is only
//! shown while no upgrade is under way.

use juju_ops::Status;
use juju_upgrade::{PeerSnapshot, UnitState};

use crate::context::HookContext;
use crate::error::CharmError;
use crate::peer;
use crate::workload::{MemberRole, MemberState, RetryPolicy, WorkloadError};

/// Active message of the unit whose instance is the cluster's primary (as Charmed MySQL).
pub const PRIMARY_MESSAGE: &str = "Primary";

/// `install`: installs the workload this revision pins (unless it is already there) and
/// starts it; the workload version is published at once.
pub fn install(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let target = ctx.versions.workload_revision();
    let name = &ctx.versions.workload().name;
    ctx.tools.status_set(&Status::maintenance(format!(
        "installing {name} {}",
        target.version
    )))?;
    if ctx.workload.installed_revision()?.as_ref() != Some(&target) {
        log::info!(
            "installing {name} {} (revision {})",
            target.version,
            target.revision
        );
        ctx.workload.stop()?;
        ctx.workload.install(&target)?;
    }
    ctx.workload.start()?;
    ctx.tools.application_version_set(&target.version)?;
    Ok(())
}

/// `start`: makes sure mysqld runs and waits until the instance is ONLINE, then shows the
/// unit's health. An instance that does not come back in time is shown, not failed: the
/// next `update-status` looks again.
pub fn start(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    ctx.workload.start()?;
    if let Err(err) = ctx
        .workload
        .wait_until_online(RetryPolicy::REJOIN_AFTER_UPGRADE)
    {
        log::warn!("the instance is not ONLINE yet: {err}");
    }
    show_health_if_idle(ctx)
}

/// `start` and `update-status`: shows the unit's health unless an upgrade is under way
/// ([`show_health_if_no_upgrade`] on this unit's bag and the application bag, read here).
pub fn show_health_if_idle(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let view = own_view(ctx)?;
    show_health_if_no_upgrade(ctx, view.as_ref())
}

/// Shows the unit's health unless `view` (this unit's bag and the application bag; `None`
/// without the relation) says an upgrade is under way ([`PeerSnapshot::upgrade_in_progress`]:
/// a stack, this unit past `idle`, or this unit waiting for `pre-upgrade-check` after a
/// refresh). `leader-elected` and `config-changed` pass the view their upgrade event left.
pub fn show_health_if_no_upgrade(
    ctx: &HookContext<'_>,
    view: Option<&PeerSnapshot>,
) -> Result<(), CharmError> {
    // Unreadable data is the core's to report: do not paint over it.
    if view.is_some_and(|view| view.upgrade_in_progress().unwrap_or(true)) {
        log::debug!("upgrade in progress; leaving this unit's status alone");
        return Ok(());
    }
    show_health(ctx)
}

/// After `pre-upgrade-check` on the leader: shows its health (the check may have made it the
/// primary) unless this unit itself takes part in an upgrade, as `view` (this unit's bag and
/// the application bag after the action) says. The stack the check just wrote does not
/// count: until the refresh, the units show their health.
pub fn show_health_unless_upgrading_here(
    ctx: &HookContext<'_>,
    view: &PeerSnapshot,
) -> Result<(), CharmError> {
    let idle = matches!(view.own_state(), Ok(None | Some(UnitState::Idle)));
    let refresh_pending = !matches!(view.refresh_pending(view.unit), Ok(None));
    if !idle || refresh_pending {
        log::debug!("this unit takes part in an upgrade; leaving its status alone");
        return Ok(());
    }
    show_health(ctx)
}

/// Sets this unit's status from its instance's membership of the cluster.
pub fn show_health(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    ctx.tools.status_set(&health(ctx))?;
    Ok(())
}

/// This unit's bag and the application bag of the `upgrade` relation, or `None` without the
/// relation. The other units' bags are not read: they never make this unit show an upgrade
/// status while its own bag and the stack say it takes no part in one.
fn own_view(ctx: &HookContext<'_>) -> Result<Option<PeerSnapshot>, CharmError> {
    let Some(relation) = peer::upgrade_relation(ctx.tools)? else {
        return Ok(None);
    };
    let (own, app) = peer::own_and_app_bags(ctx.tools, &relation, ctx.app(), ctx.unit_number())?;
    let mut view = PeerSnapshot::new(ctx.app(), ctx.unit_number(), false);
    view.unit_bags.insert(ctx.unit_number(), own);
    view.app_bag = app;
    Ok(Some(view))
}

/// The status that says how this unit's instance is doing.
fn health(ctx: &HookContext<'_>) -> Status {
    let status = match ctx.workload.cluster_status() {
        Ok(status) => status,
        Err(WorkloadError::ServerUnavailable { reason, .. }) => {
            return Status::blocked(format!("MySQL is not available: {reason}"));
        }
        Err(err) => {
            log::error!("cannot read the cluster status: {err}");
            return Status::blocked("cannot read the cluster status; see the logs");
        }
    };
    match status.member(ctx.unit_name()) {
        Some(member) => match (&member.state, member.role) {
            (MemberState::Online, Some(MemberRole::Primary)) => Status::active(PRIMARY_MESSAGE),
            (MemberState::Online, _) => Status::active(""),
            (MemberState::Recovering, _) => {
                Status::waiting("recovering: catching up with the cluster")
            }
            (state, _) => Status::blocked(format!("instance is {state} in the cluster")),
        },
        None => Status::waiting("waiting to join the cluster"),
    }
}
