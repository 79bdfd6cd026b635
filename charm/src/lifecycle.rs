//! The hooks of an ordinary day: install the pinned workload and start it, and the unit's
//! health as its status (when to show it is [`crate::status`]'s policy).

use std::collections::BTreeMap;

use juju_ops::Status;
use juju_upgrade::PeerSnapshot;

use crate::context::HookContext;
use crate::error::CharmError;
use crate::peer;
use crate::status::{self, After};
use crate::workload::{MemberRole, MemberState, RetryPolicy, WorkloadError};

/// Active message of the unit whose instance is the cluster's primary (as Charmed MySQL).
pub const PRIMARY_MESSAGE: &str = "Primary";

/// Unit-state key (`state-set`): the server was set up as a cluster node.
pub const INITIALISED_KEY: &str = "mysql-initialised";
/// Unit-state key: the instance was made a cluster member (created or added).
pub const MEMBER_KEY: &str = "mysql-cluster-member";

/// `install`: installs the workload this revision pins (unless that revision is already
/// there); the snap's mysqld is set up at `start` (Charmed MySQL's install: "Waiting to
/// start MySQL"); a workload needing no set-up is started at once.
/// Revisions are compared, not versions: `snap list` shows the package's version string
/// (`8.0.34-0ubuntu0.22.04.1`), `versions.json` the MySQL version (`8.0.34`).
pub fn install(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    let target = ctx.versions.workload_revision();
    let name = &ctx.versions.workload().name;
    ctx.tools.status_set(&Status::maintenance(format!(
        "installing {name} {}",
        target.version
    )))?;
    let installed = ctx.workload.installed_revision()?;
    if installed.as_ref().map(|r| &r.revision) != Some(&target.revision) {
        log::info!(
            "installing {name} {} (revision {})",
            target.version,
            target.revision
        );
        ctx.workload.stop()?;
        ctx.workload.install(&target)?;
    }
    if !ctx.workload.needs_setup() {
        // The test workloads come up as cluster nodes when started: at once, as a
        // deployed unit's server is expected to run.
        ctx.workload.start()?;
        return publish_version(ctx);
    }
    ctx.tools
        .status_set(&Status::waiting("Waiting to start MySQL"))?;
    Ok(())
}

/// `start`: while an upgrade runs, nothing (the upgrade restarts mysqld itself); else
/// makes this unit a cluster node ([`ensure_member`]; a workload that needs no set-up is
/// started) and shows its health.
pub fn start(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    if upgrade_in_progress(ctx)? {
        log::info!("an upgrade is in progress: start leaves mysqld to it");
        return Ok(());
    }
    if !ctx.workload.needs_setup() {
        // The test workloads come up as cluster nodes when started (their version was
        // published at install).
        ctx.workload.start()?;
    } else if !ensure_member(ctx)? {
        return Ok(());
    }
    if let Err(err) = ctx
        .workload
        .wait_until_online(RetryPolicy::REJOIN_AFTER_UPGRADE)
    {
        log::warn!("the instance is not ONLINE yet: {err}");
    }
    status::status_after(ctx, After::OrdinaryHook, None)
}

/// `update-status`: finishes a setup that had to wait, rejoins an OFFLINE member whose
/// own rejoin attempts are exhausted (as Charmed MySQL), then shows the unit's health.
/// Nothing is touched while an upgrade runs.
pub fn update_status(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    if !upgrade_in_progress(ctx)? {
        if !ensure_member(ctx)? {
            // The status says what the set-up waits for.
            return Ok(());
        }
        match ctx.workload.rejoin_if_offline() {
            Ok(true) => log::info!("rejoined the cluster"),
            Ok(false) => {}
            Err(err) => log::error!("cannot rejoin the cluster: {err}"),
        }
    }
    status::status_after(ctx, After::OrdinaryHook, None)
}

/// Sets the server up once (users, configure-instance), then creates the cluster on
/// the leader or joins it through an ONLINE peer under the units-operations lock.
/// `Ok(false)` (with a waiting status) when it must wait: for the leader's passwords,
/// or for a peer to join through.
pub fn ensure_member(ctx: &HookContext<'_>) -> Result<bool, CharmError> {
    if !ctx.workload.needs_setup() {
        return Ok(true);
    }
    let state = ctx.tools.state_get()?;
    let flag = |key: &str| state.get(key).map(String::as_str) == Some("true");
    if flag(INITIALISED_KEY) && flag(MEMBER_KEY) {
        return Ok(true);
    }
    if crate::secrets::passwords(ctx.tools, ctx.app())?.is_none() {
        ctx.tools.status_set(&Status::waiting(
            "waiting for the leader to create the system users' passwords",
        ))?;
        return Ok(false);
    }
    if !flag(INITIALISED_KEY) {
        ctx.tools
            .status_set(&Status::maintenance("Setting up cluster node"))?;
        ctx.workload.initialise()?;
        set_flag(ctx, INITIALISED_KEY)?;
        publish_version(ctx)?;
    }
    if ctx.tools.is_leader()? {
        ctx.workload.create_cluster()?;
    } else {
        ctx.tools
            .status_set(&Status::maintenance("joining the cluster"))?;
        match ctx.workload.join_cluster() {
            Ok(()) => {}
            Err(err @ (WorkloadError::NoDonor { .. } | WorkloadError::Precondition { .. })) => {
                log::info!("cannot join the cluster yet: {err}");
                ctx.tools
                    .status_set(&Status::waiting("waiting to join the cluster"))?;
                return Ok(false);
            }
            Err(err) => return Err(err.into()),
        }
    }
    set_flag(ctx, MEMBER_KEY)?;
    ctx.tools.open_ports(&[3306, 33060])?;
    Ok(true)
}

fn set_flag(ctx: &HookContext<'_>, key: &str) -> Result<(), CharmError> {
    ctx.tools
        .state_set(&BTreeMap::from([(key.to_owned(), "true".to_owned())]))?;
    Ok(())
}

/// The running server's version as the workload version (Charmed MySQL's).
pub fn publish_version(ctx: &HookContext<'_>) -> Result<(), CharmError> {
    match ctx.workload.running_version() {
        Ok(Some(version)) => ctx.tools.application_version_set(&version)?,
        Ok(None) => {}
        Err(err) => log::warn!("Failed to get MySQL version: {err}"),
    }
    Ok(())
}

/// Whether this unit's bag or the application bag of the `upgrade` relation says an
/// upgrade is under way (unreadable data counts as one: leave the server alone).
fn upgrade_in_progress(ctx: &HookContext<'_>) -> Result<bool, CharmError> {
    let Some(relation) = peer::upgrade_relation(ctx.tools)? else {
        return Ok(false);
    };
    let (own, app) = peer::own_and_app_bags(ctx.tools, &relation, ctx.app(), ctx.unit_number())?;
    let mut view = PeerSnapshot::new(ctx.app(), ctx.unit_number(), false);
    view.unit_bags.insert(ctx.unit_number(), own);
    view.app_bag = app;
    Ok(view.upgrade_in_progress().unwrap_or(true))
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
