//! The MySQL workload: what a unit does to its server when the upgrade core grants it
//! its turn.
//!
//! The charm drives a sans-IO upgrade core; when that core says "this unit upgrades (or
//! rolls back) now", the charm calls a [`Workload`] to do what Charmed MySQL (machines)
//! does in its `upgrade-granted` handler: stop mysqld, refresh the `charmed-mysql` snap
//! to the revision the charm pins, run the upgrade checker against the leader's
//! still-old server (first unit only), start mysqld, and wait until the instance is back
//! ONLINE in the InnoDB cluster (a single unit first reboots its cluster from the
//! complete outage: a lone member does not re-form the group). When mysqld refuses to
//! start on data written by a newer server (error MY-013171), a multi-unit cluster resets
//! this instance's data and lets it rejoin from the others.
//!
//! The implementation here is [`SnapWorkload`]: the snap and MySQL Shell commands behind
//! a [`CommandRunner`]. It is unit-tested with mocks only; it has not run against a real
//! server. The workloads the `juju-sim` emulator runs the charm with (an emulated cluster
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
    CommandOutput, CommandRunner, CommandSpec, ProcessRunner, SnapConfig, SnapWorkload,
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

    /// Stops mysqld on this unit (a no-op when it is already stopped).
    fn stop(&self) -> Result<(), WorkloadError>;

    /// Starts mysqld on this unit. [`WorkloadError::StartFailed`] means the server did not
    /// come up; check [`Workload::downgrade_refused`] to know why.
    fn start(&self) -> Result<(), WorkloadError>;

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
    /// still-running server (Charmed MySQL: the leader, on the first upgrading unit).
    /// [`WorkloadError::NotUpgradable`] when the checker reports errors.
    fn check_upgradable(&self, from_unit: &str) -> Result<(), WorkloadError>;

    /// Waits, within `retry`, until this unit's instance is ONLINE in the cluster.
    /// [`WorkloadError::NotBackOnline`] when the attempts run out.
    fn wait_until_online(&self, retry: RetryPolicy) -> Result<(), WorkloadError>;

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
