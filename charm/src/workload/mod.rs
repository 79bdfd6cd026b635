//! The MySQL workload: what a unit does to its server when the upgrade core grants it
//! its turn.
//!
//! The charm drives a sans-IO upgrade core; when that core says "this unit upgrades (or
//! rolls back) now", the charm calls a [`Workload`] to do what Charmed MySQL (machines)
//! does in its `upgrade-granted` handler: stop mysqld, refresh the `charmed-mysql` snap
//! to the revision the charm pins, start mysqld with log rotation paused, install the
//! plugins, and wait until the instance is back in the InnoDB cluster (a single unit
//! reboots its cluster from complete outage). When mysqld refuses to start on data
//! written by a newer server (error MY-013171), a multi-unit cluster resets this
//! instance's data and clones it back from the others. At deploy it sets the server up
//! and creates or joins the cluster.
//!
//! The implementation here is [`SnapWorkload`]: the snap and MySQL Shell commands behind
//! a [`CommandRunner`]. Its tests run every command against fakes of `snap` and of MySQL
//! Shell's Python API (`charm/tests/fakes`); it has not run against a real server. The
//! workloads the `juju-sim` emulator runs the charm with (an emulated cluster
//! and a real MariaDB server per unit) live in the `mysql-test-workloads` crate and build
//! on what this module shares: the trait, the cluster view, the errors, the wait for a
//! member to be ONLINE, the instance labels and the reading of mysqld's error log.
//!
//! The trait speaks in unit names (`mysql/0`); mapping names to instance labels and
//! addresses is the implementation's business.

mod cluster;
mod error;
pub mod error_log;
mod retry;
mod snap;

pub use cluster::{instance_label, ClusterMember, ClusterStatus, MemberRole, MemberState};
pub use error::{CommandFailure, WorkloadError};
pub use retry::{wait_for_online, RetryPolicy, Sleeper, ThreadSleeper};
#[cfg(any(test, feature = "mock"))]
pub use snap::MockCommandRunner;
pub use snap::{
    users, CommandOutput, CommandRunner, CommandSpec, Passwords, ProcessRunner, SnapConfig,
    SnapWorkload, Timeouts, ALIASES, DEFAULT_TIMEOUT, INSTALLED_MARK,
};

use serde::{Deserialize, Serialize};

/// A workload build the charm pins: the human version and the package revision that
/// carries it (for the snap, `snap refresh --revision=<revision>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadRevision {
    /// The MySQL version this revision ships, e.g. `8.0.34`.
    pub version: String,
    /// The package revision to install, e.g. `182`.
    pub revision: String,
}

impl WorkloadRevision {
    /// Builds a revision from its two parts.
    pub fn new(version: impl Into<String>, revision: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            revision: revision.into(),
        }
    }
}

/// What the charm needs from the MySQL server of its unit during an upgrade or rollback.
///
/// Every method acts on behalf of the unit the implementation was built for; methods
/// taking a `unit` name act on that other unit's instance.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Workload {
    /// The workload installed on this machine, or `None` before the first install.
    fn installed_revision(&self) -> Result<Option<WorkloadRevision>, WorkloadError>;

    /// Installs, or refreshes to, exactly `target` (up or down). Stop the server first.
    fn install(&self, target: &WorkloadRevision) -> Result<(), WorkloadError>;

    /// Marks the installed workload as this charm's, so that a later install does not
    /// take it for another charm's (Charmed MySQL touches the mark before every refresh).
    fn claim_installation(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Stops mysqld on this unit (a no-op when it is already stopped or not installed).
    fn stop(&self) -> Result<(), WorkloadError>;

    /// Starts mysqld on this unit. [`WorkloadError::StartFailed`] means the server did not
    /// come up; check [`Workload::downgrade_refused`] to know why.
    fn start(&self) -> Result<(), WorkloadError>;

    /// Stops what rotates mysqld's logs around a restart, so the error log read after a
    /// failed start is the one the start wrote (Charmed MySQL stops cron).
    fn pause_log_rotation(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Starts log rotation again; called whatever the restart did.
    fn resume_log_rotation(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Installs the server plugins the charm runs with (Charmed MySQL: `audit_log` when
    /// enabled, `binlog_utils_udf`) after a start; installed ones are left alone.
    fn install_plugins(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// The version the running server reports (Charmed MySQL's workload version), e.g.
    /// `8.0.34-0ubuntu0.22.04.1`; by default the installed package's version.
    fn running_version(&self) -> Result<Option<String>, WorkloadError> {
        Ok(self.installed_revision()?.map(|revision| revision.version))
    }

    /// The cluster as this unit's server sees it. [`WorkloadError::ServerUnavailable`]
    /// when the server does not answer.
    fn cluster_status(&self) -> Result<ClusterStatus, WorkloadError>;

    /// The unit whose instance is the cluster's primary, if any.
    fn primary(&self) -> Result<Option<String>, WorkloadError> {
        Ok(self.cluster_status()?.primary().map(str::to_owned))
    }

    /// Makes `unit`'s instance the primary (Charmed MySQL: the leader, so that it is
    /// upgraded last and no switchover happens mid-way).
    fn switch_primary(&self, unit: &str) -> Result<(), WorkloadError>;

    /// Sets `innodb_fast_shutdown=0` on `unit`'s instance, so its next shutdown flushes
    /// everything and the new server starts from clean data files.
    fn set_slow_shutdown(&self, unit: &str) -> Result<(), WorkloadError>;

    /// Runs the upgrade checker of the workload installed here against `from_unit`'s
    /// still-running server. [`WorkloadError::NotUpgradable`] when the checker reports
    /// errors. Not one of Charmed MySQL's upgrade steps: the charm does not call it; the
    /// test workloads' own tests do.
    fn check_upgradable(&self, from_unit: &str) -> Result<(), WorkloadError>;

    /// Waits, within `retry`, until this unit's instance is back in the cluster (the
    /// snap: ONLINE, or RECOVERING once a hold on recovery ran out).
    /// [`WorkloadError::NotBackOnline`] when the attempts run out.
    fn wait_until_online(&self, retry: RetryPolicy) -> Result<(), WorkloadError>;

    /// After mysqld restarted: a single planned unit reboots its cluster from complete
    /// outage (Group Replication does not re-form a group alone); otherwise waits as
    /// [`Workload::wait_until_online`].
    fn recover_after_restart(
        &self,
        planned_units: usize,
        retry: RetryPolicy,
    ) -> Result<(), WorkloadError> {
        let _ = planned_units;
        self.wait_until_online(retry)
    }

    /// Rejoins this instance through an ONLINE peer when it is OFFLINE and Group
    /// Replication gave up rejoining by itself; `Ok(true)` when a rejoin was made.
    fn rejoin_if_offline(&self) -> Result<bool, WorkloadError> {
        Ok(false)
    }

    /// What `get-cluster-status` reports: MySQL Shell's `cluster.status()` (or the
    /// cluster set's status) as JSON; by default the members in that shape
    /// ([`ClusterStatus::to_shell_status`]), and no cluster set.
    fn status_report(&self, cluster_set: bool) -> Result<serde_json::Value, WorkloadError> {
        if cluster_set {
            return Err(WorkloadError::Precondition {
                operation: "cluster-set status".to_owned(),
                reason: "this workload has no cluster set".to_owned(),
            });
        }
        Ok(self.cluster_status()?.to_shell_status())
    }

    /// Whether this workload is set up by the charm ([`Workload::initialise`], the
    /// cluster created or joined, the system users' passwords in a Juju secret). The
    /// test workloads come up as cluster nodes and say no.
    fn needs_setup(&self) -> bool {
        false
    }

    /// Sets up a freshly started server as a cluster node: root's password, the system
    /// users, the plugins, and the instance configured for InnoDB Cluster. Workloads
    /// that come up as cluster nodes (the test workloads) have nothing to do.
    fn initialise(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Creates the cluster (and cluster set) on this, the leader's, instance.
    fn create_cluster(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Adds this instance to the cluster through an ONLINE peer, under the
    /// units-operations lock.
    fn join_cluster(&self) -> Result<(), WorkloadError> {
        Ok(())
    }

    /// Sets a new password for the system user `user` on the cluster's primary.
    fn update_password(&self, user: &str, password: &str) -> Result<(), WorkloadError> {
        let _ = (user, password);
        Err(WorkloadError::Precondition {
            operation: format!("changing the password of {user}"),
            reason: "this workload has no system users".to_owned(),
        })
    }

    /// Whether the last start attempt was refused because the data directory was written
    /// by a newer server (MySQL error MY-013171).
    fn downgrade_refused(&self) -> Result<bool, WorkloadError>;

    /// Throws away this instance's data and rejoins the cluster from an online member.
    /// Only sound with another ONLINE member; call [`Workload::wait_until_online`] after.
    fn reset_and_rejoin(&self) -> Result<(), WorkloadError>;

    /// Re-forms the cluster from this instance when no member is ONLINE (MySQL Shell's
    /// `dba.reboot_cluster_from_complete_outage()`): a Group Replication member that
    /// starts alone does not bootstrap the group again, so a single unit needs this after
    /// every restart. A no-op when this instance is ONLINE already; refused while other
    /// members are ONLINE. Call [`Workload::wait_until_online`] after.
    fn reboot_from_complete_outage(&self) -> Result<(), WorkloadError>;
}
