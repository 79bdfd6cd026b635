//! The hooks of an ordinary day: install the pinned workload and start it, and the unit's
//! health as its status (when to show it is [`crate::status`]'s policy).

use juju_ops::Status;

use crate::context::HookContext;
use crate::error::CharmError;
use crate::status::{self, After};
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
    status::status_after(ctx, After::OrdinaryHook, None)
}

/// Sets this unit's status from its instance's membership of the cluster.
pub fn show_health(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    ctx.tools.status_set(&health(ctx))?;
    Ok(())
}

/// Sets this unit's status from its instance's health only when that is not active (the
/// server is down, recovering, out of the cluster): a problem of the workload comes before
/// what the upgrade asks of the operator, whose next step it would make fail. Returns whether
/// it did.
pub fn show_health_if_unwell(ctx: &HookContext<'_>) -> Result<bool, CharmError> {
    let status = health(ctx);
    if status.name == juju_ops::StatusName::Active {
        return Ok(false);
    }
    ctx.tools.status_set(&status)?;
    Ok(true)
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
