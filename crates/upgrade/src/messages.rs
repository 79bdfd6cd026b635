//! User-visible strings, kept exactly as v0 and Charmed MySQL show them: operators' runbooks and
//! the seed how-to quote them.

/// Action failure when `pre-upgrade-check` runs on a non-leader.
pub const LEADER_ONLY: &str = "Action must be ran on the Juju leader.";
/// Action failure when the unit has no upgrade peer relation.
pub const NO_RELATION: &str = "Could not find upgrade relation.";
/// Action failure when `pre-upgrade-check` runs while an upgrade is in progress.
pub const ALREADY_UPGRADING: &str = "Cannot run pre-upgrade checks, cluster already upgrading.";
/// Leader status after `pre-upgrade-check` entered recovery.
pub const READY_TO_ROLLBACK: &str = "ready to rollback application";
/// Status of a unit waiting for its turn.
pub const WAITING_FOR_OTHERS: &str = "other units upgrading first...";
/// Status of the unit granted the upgrade.
pub const UPGRADING: &str = "upgrading...";
/// Status of a unit that finished upgrading, until the whole cluster is done.
pub const UPGRADE_COMPLETED: &str = "upgrade completed";
/// Log error on `upgrade-charm` without a stack (refresh without `pre-upgrade-check`).
pub const NO_STACK: &str = "Cluster upgrade failed, ensure pre-upgrade checks are ran first.";
/// Charmed MySQL's blocked status for a failed unit (the default of
/// [`crate::UpgradeHooks::failed_status`]).
pub const UPGRADE_FAILED: &str = "upgrade failed. Check logs for rollback instruction";
/// Charmed MySQL's pre-upgrade check failure message.
pub const PRE_UPGRADE_CHECK_FAILED: &str = "Pre-upgrade check failed. Cannot upgrade.";
/// Prefix of the blocked status and log line for corrupt peer data.
pub const DATA_INVALID_PREFIX: &str = "upgrade data invalid: ";
