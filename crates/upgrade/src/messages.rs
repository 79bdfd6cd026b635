//! User-visible strings, kept exactly as v0 and Charmed MySQL show them: operators' runbooks and
//! the operator's how-to quote them.

use crate::versions::CharmVersions;

/// Action failure when `pre-upgrade-check` runs on a non-leader.
pub const LEADER_ONLY: &str = "Action must be ran on the Juju leader.";
/// Action failure when the unit has no upgrade peer relation.
pub const NO_RELATION: &str = "Could not find upgrade relation.";
/// Action failure when `pre-upgrade-check` runs while an upgrade is in progress.
pub const ALREADY_UPGRADING: &str = "Cannot run pre-upgrade checks, cluster already upgrading.";
/// Leader status after `pre-upgrade-check` entered recovery.
pub const READY_TO_ROLLBACK: &str = "ready to rollback application";
/// Status (waiting) of a former leader still in `recovery`: leadership moved after its
/// `pre-upgrade-check` prepared the rollback, and the new leader's application status names
/// the refresh.
pub const RECOVERY_LEADER_MOVED: &str = "rollback prepared; waiting for the refresh back";
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
/// Blocked status of a unit (charm without reported versions) that received a second
/// `juju refresh` during the upgrade: the upgrade pauses there.
pub const REFRESHED_DURING_UPGRADE: &str =
    "refreshed again during the upgrade: run pre-upgrade-check on the leader, then juju refresh";
/// Prefix of the blocked status and log line for corrupt peer data.
pub const DATA_INVALID_PREFIX: &str = "upgrade data invalid: ";

// ---------- beyond v0 ----------
//
// The texts below are this core's own (v0 has no such states). Statuses are kept under 120
// characters for an application name of up to 8 characters, unit numbers of 2 digits and
// revisions of 5, as `juju status` truncates longer ones.

/// Unit status (blocked) of a unit that runs a refreshed charm no `pre-upgrade-check` prepared:
/// `Refreshed without pre-upgrade-check: run `juju run mysql/leader pre-upgrade-check``.
pub fn refresh_not_prepared(app: &str) -> String {
    format!("Refreshed without pre-upgrade-check: run `juju run {app}/leader pre-upgrade-check`")
}

/// Error log of that unit, after v0's [`NO_STACK`] line: what happened and both ways out.
pub fn refresh_not_prepared_log(app: &str, to: &CharmVersions, rollback: &str) -> String {
    format!(
        "Refreshed to {} without a prepared upgrade: nothing is upgraded until `juju run {app}/leader pre-upgrade-check` succeeds; this unit then joins the upgrade on its own. \
         To go back instead: `{rollback}`. To prepare without the health check (risk of downtime): `juju run {app}/leader force-upgrade skip-pre-upgrade-check=true`.",
        to.describe()
    )
}

/// Info log of a unit refreshed back to the charm it ran before the unprepared refresh.
pub fn refresh_undone(back_to: &CharmVersions) -> String {
    format!(
        "Refreshed back to {} before the upgrade was prepared: nothing to upgrade",
        back_to.describe()
    )
}

/// Application status (blocked) while units wait for `pre-upgrade-check`:
/// `Refresh waits for `juju run mysql/leader pre-upgrade-check`; or roll back: `juju refresh mysql --revision=42``.
pub fn refresh_not_prepared_app(app: &str, rollback: &str) -> String {
    format!(
        "Refresh waits for `juju run {app}/leader pre-upgrade-check`; or roll back: `{rollback}`"
    )
}

/// `pre-upgrade-check` result beyond v0: the order, how to start, how to roll back, and
/// whether units already run the refreshed charm (they join at once).
pub fn prepared_result(order: &str, rollback: &str, refreshed_already: bool) -> String {
    let start = if refreshed_already {
        "The charm is already refreshed: the upgrade starts now."
    } else {
        "Run `juju refresh` to start."
    };
    format!(
        "Pre-upgrade check successful. Units will upgrade in this order: {order}. {start} To roll back once it started: `{rollback}`."
    )
}

/// Info log of the leader recognising a rollback at `upgrade-charm` (or when elected).
pub fn rollback_detected(to: &CharmVersions) -> String {
    format!(
        "Rollback detected: refreshed back to the original {} while an upgrade was under way. \
         Entering recovery without pre-upgrade-check and skipping the compatibility check; the failed unit rolls back first, then the units already upgraded, one at a time.",
        to.describe()
    )
}

/// Info log of a non-leader unit joining a rollback.
pub fn rollback_joined(to: &CharmVersions) -> String {
    format!(
        "Rolling back to the original {}: this unit waits for its turn",
        to.describe()
    )
}

/// Warning log of the leader when a second `juju refresh` arrives mid-upgrade.
pub fn second_refresh(from: &CharmVersions, to: &CharmVersions) -> String {
    format!(
        "Refreshed to {} while the upgrade to {} was under way: every unit not yet on {} upgrades again, one at a time.",
        to.describe(),
        from.describe(),
        to.charm
    )
}

/// `pre-upgrade-check` result when the operator already refreshed back and the rollback runs.
pub fn rollback_already_started(original: &Option<CharmVersions>) -> String {
    let to = original.as_ref().map_or_else(
        || "the original revision".to_owned(),
        CharmVersions::describe,
    );
    format!(
        "A rollback to {to} is already under way (started by `juju refresh`): nothing to prepare. Units roll back one at a time; watch `juju status`."
    )
}

/// Error log after v0's rollback instructions: the direct way.
pub fn direct_rollback_hint(rollback: &str) -> String {
    format!(
        "Or roll back directly (detected automatically, no pre-upgrade-check needed): {rollback}"
    )
}

/// Unit status (blocked) of the next unit while the upgrade is paused before it:
/// `Paused: check upgraded units, then `juju run mysql/1 resume-upgrade``.
pub fn paused_unit(unit: &str) -> String {
    format!("Paused: check upgraded units, then `juju run {unit} resume-upgrade`")
}

/// Application status (blocked) while paused:
/// `Paused: check units, then `juju run mysql/1 resume-upgrade`. Roll back: `juju refresh mysql --revision=42``.
pub fn paused_app(unit: &str, rollback: &str) -> String {
    format!("Paused: check units, then `juju run {unit} resume-upgrade`. Roll back: `{rollback}`")
}

/// Application status (active) once `pre-upgrade-check` prepared an upgrade and before any
/// unit was refreshed: the refresh that starts it, in the form the deployment takes (a
/// Charmhub revision, or a charm file for a charm deployed from one). Nothing is under way
/// yet, so there is nothing to roll back:
/// ``Upgrade prepared: start it with `juju refresh mysql --revision=<new revision>` ``.
pub fn prepared_app(app: &str, deployed: Option<&CharmVersions>) -> String {
    let source = match deployed {
        Some(versions) if versions.is_reported() && !is_revision(&versions.charm) => {
            "--path=<new charm file>"
        }
        _ => "--revision=<new revision>",
    };
    format!("Upgrade prepared: start it with `juju refresh {app} {source}`")
}

fn is_revision(charm: &str) -> bool {
    !charm.is_empty() && charm.bytes().all(|b| b.is_ascii_digit())
}

/// Application status (maintenance) while units upgrade one at a time:
/// `Upgrading one unit at a time. Roll back: `juju refresh mysql --revision=42``.
pub fn upgrading_app(rollback: &str) -> String {
    format!("Upgrading one unit at a time. Roll back: `{rollback}`")
}

/// Application status (maintenance) while units roll back: `Rolling back to revision 42 one unit at a time`.
pub fn rolling_back_app(to: &CharmVersions) -> String {
    let to = if to.charm.bytes().all(|b| b.is_ascii_digit()) {
        format!("revision {}", to.charm)
    } else {
        to.charm.clone()
    };
    format!("Rolling back to {to} one unit at a time")
}

/// Application status (blocked) after a unit failed to upgrade:
/// `Upgrade failed on mysql/2, see `juju debug-log`. Roll back: `juju refresh mysql --revision=42``.
pub fn upgrade_failed_app(unit: &str, rollback: &str) -> String {
    format!("Upgrade failed on {unit}, see `juju debug-log`. Roll back: `{rollback}`")
}

/// Application status (blocked) after a unit failed to upgrade an application deployed from
/// a charm file: a `--path` refresh makes a new local revision, which is not recognised as a
/// rollback, so recovery comes first:
/// `Upgrade failed on mysql/2. Roll back: `juju run mysql/leader pre-upgrade-check`, then refresh to the old file`.
pub fn upgrade_failed_local_app(app: &str, unit: &str) -> String {
    format!(
        "Upgrade failed on {unit}. Roll back: `juju run {app}/leader pre-upgrade-check`, then refresh to the old file"
    )
}

/// Application status (blocked) after the leader found the refresh incompatible:
/// `Refresh incompatible, see `juju debug-log`. Roll back: `juju refresh mysql --revision=42``.
pub fn incompatible_app(rollback: &str) -> String {
    format!("Refresh incompatible, see `juju debug-log`. Roll back: `{rollback}`")
}

/// Application status (blocked) after a unit failed to roll back:
/// `Rollback failed on mysql/1, see `juju debug-log`; to retry: `juju run mysql/leader pre-upgrade-check``.
pub fn rollback_failed_app(app: &str, unit: &str) -> String {
    format!(
        "Rollback failed on {unit}, see `juju debug-log`; to retry: `juju run {app}/leader pre-upgrade-check`"
    )
}

/// Application status (blocked) once `pre-upgrade-check` prepared a rollback:
/// `Ready to roll back: `juju refresh mysql --revision=42``.
pub fn ready_to_roll_back_app(rollback: &str) -> String {
    format!("Ready to roll back: `{rollback}`")
}

/// Application status (blocked) once `pre-upgrade-check` prepared a retry of a rollback that
/// failed while the application already runs the original revision (Juju refuses
/// `juju refresh --revision` to the revision it runs, so the charm file is the way):
/// `Ready to roll back again: `juju refresh mysql --path=<charm file of revision 42>``.
pub fn ready_to_roll_back_again_app(app: &str, original: &CharmVersions) -> String {
    let of = if original.charm.bytes().all(|b| b.is_ascii_digit()) {
        format!("revision {}", original.charm)
    } else {
        original.charm.clone()
    };
    format!("Ready to roll back again: `juju refresh {app} --path=<charm file of {of}>`")
}

/// `resume-upgrade` failure: no upgrade to resume.
pub const RESUME_NOTHING_IN_PROGRESS: &str = "No upgrade in progress: nothing to resume.";
/// `resume-upgrade` failure: the charm has no `pause-after-unit-refresh` option.
pub const RESUME_NO_PAUSE_OPTION: &str =
    "This charm has no pause-after-unit-refresh option: its upgrades never pause.";
/// `resume-upgrade` failure: `pause-after-unit-refresh=none`.
pub const RESUME_PAUSE_IS_NONE: &str =
    "pause-after-unit-refresh is `none`: the upgrade never pauses, so there is nothing to resume.";

/// `resume-upgrade` failure while a failure stops the upgrade.
pub fn resume_while_failed(rollback: &str) -> String {
    format!(
        "The upgrade is stopped by a failure, not paused: see `juju status`. Roll back: `{rollback}`"
    )
}

/// `resume-upgrade` failure while a rollback is prepared and waits for the refresh.
pub fn resume_in_recovery(rollback: &str) -> String {
    format!("A rollback is prepared, not paused: start it with `{rollback}`")
}

/// `resume-upgrade` failure on a unit that is not the next to upgrade.
pub fn resume_wrong_unit(next: &str) -> String {
    format!("Run this action on {next}, the next unit to upgrade: `juju run {next} resume-upgrade`")
}

/// `resume-upgrade` failure on the next unit when it goes without being resumed.
pub fn resume_not_needed(unit: &str, setting: &str) -> String {
    format!(
        "{unit} does not wait for resume-upgrade (pause-after-unit-refresh={setting}): it upgrades on its own."
    )
}

/// `resume-upgrade` failure on the next unit of a rollback, which goes without being resumed.
pub fn resume_not_needed_in_rollback(unit: &str, setting: &str) -> String {
    format!(
        "{unit} does not wait for resume-upgrade: a rollback pauses only with pause-after-unit-refresh=all (it is {setting}); it rolls back on its own."
    )
}

/// `resume-upgrade` failure on the next unit when it cannot start yet.
pub fn resume_cannot_start(unit: &str, reason: &str) -> String {
    format!("{unit} cannot start yet: {reason}. Retry when `juju status` shows it paused.")
}

/// `resume-upgrade` result once the unit upgraded.
pub fn resumed_result(unit: &str) -> String {
    format!("Upgrade resumed: {unit} upgraded.")
}

/// `resume-upgrade` failure when the resumed unit failed to upgrade.
pub fn resumed_but_failed(unit: &str, rollback: &str) -> String {
    format!(
        "Upgrade resumed, but {unit} failed to upgrade: see `juju debug-log`. Roll back: `{rollback}`"
    )
}

/// `force-upgrade` failure when no check is skipped.
pub const FORCE_NOTHING_SKIPPED: &str = "Nothing to force: set at least one of skip-compatibility-check, skip-pre-upgrade-check or skip-health-check to true (each risks data loss or downtime).";

/// `force-upgrade` failure on a unit no check blocks.
pub fn force_not_blocked(unit: &str, state: &str, hint: &str) -> String {
    format!("{unit} is not blocked by a check (state {state}): nothing to force.{hint}")
}

/// `force-upgrade` failure when the leader is blocked by the compatibility check but that check
/// is not skipped.
pub fn force_needs_compatibility_skip(unit: &str) -> String {
    format!(
        "{unit} is blocked by the compatibility check (see `juju debug-log`): run with skip-compatibility-check=true to go on anyway."
    )
}

/// `force-upgrade` failure when a unit failed its upgrade but its health check is not skipped.
pub fn force_needs_health_skip(unit: &str) -> String {
    format!(
        "{unit} failed its upgrade: run with skip-health-check=true to accept it as upgraded after checking it by hand."
    )
}

/// `force-upgrade` failure when the upgrade is not prepared and the check is not skipped.
pub fn force_needs_pre_upgrade_skip(app: &str) -> String {
    format!(
        "The upgrade is not prepared: run `juju run {app}/leader pre-upgrade-check`, or force it with skip-pre-upgrade-check=true."
    )
}

/// `force-upgrade` failure when skipping the pre-upgrade check is asked on a non-leader.
pub fn force_prepare_on_leader(app: &str) -> String {
    format!(
        "Only the leader prepares the upgrade: `juju run {app}/leader force-upgrade skip-pre-upgrade-check=true`"
    )
}

/// Warning log and action log of every check `force-upgrade` skipped.
pub fn force_skipped(unit: &str, check: &str, detail: &str) -> String {
    format!(
        "force-upgrade on {unit}: skipped the {check}{detail}; the operator accepted the risk of data loss or downtime"
    )
}

/// `force-upgrade` result.
pub fn forced_result(unit: &str, skipped: &str) -> String {
    format!("Forced on {unit}: skipped the {skipped}; the upgrade goes on.")
}
