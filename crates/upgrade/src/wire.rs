//! The wire format: every key the core reads or writes in the `upgrade` peer relation, and the
//! action result keys.
//!
//! Bags are string maps; a key set to `""` is deleted (Juju's rule). The first four keys are
//! those of data-platform-libs' `upgrade` library v0 (the Python library Charmed MySQL runs),
//! with its meaning; the others are written only by this core, and a v0 unit ignores them.
//!
//! | key | bag | written by | holds | cleared |
//! | --- | --- | --- | --- | --- |
//! | [`STATE_KEY`] `state` | unit | the unit | its [`crate::UnitState`] | never (`idle` between upgrades) |
//! | [`STACK_KEY`] `upgrade-stack` | app | leader | the [`crate::UpgradeStack`], top last | popped unit by unit; `[]` when done |
//! | [`DEPENDENCIES_KEY`] `dependencies` | app | leader | the deployed [`crate::DependencyModel`] | replaced when an upgrade completes |
//! | [`ROUND_KEY`] `upgrade-round` | app | leader | the current round (a stack or a recovery starts one) | never |
//! | [`ROUND_KEY`] `upgrade-round` | unit | the unit | the round of its last `ready` or `completed` | when a refresh finds no stack |
//! | [`ORIGINAL_VERSIONS_KEY`] `original-versions` | app | leader | the [`crate::CharmVersions`] a rollback returns to | replaced when an upgrade completes |
//! | [`UPGRADE_TARGET_KEY`] `upgrade-target` | app | leader | the versions the current round moves to | when the round ends or recovery starts |
//! | [`ROLLBACK_ROUND_KEY`] `rollback-round` | app | leader | the round that is a rollback | outdated by the next round |
//! | [`ROLLBACK_REFRESH_PENDING_KEY`] `rollback-refresh-pending` | app | leader | the recovery's round, until the leader runs the rollback's `upgrade-charm` | then |
//! | [`COMPATIBILITY_SKIPPED_KEY`] `compatibility-check-skipped` | app | leader | `true` while `force-upgrade` skipped the compatibility check | next refresh; upgrade completed |
//! | [`CHARM_VERSIONS_KEY`] `charm-versions` | unit | the unit | the versions of the charm it runs | never (rewritten on change) |
//! | [`REFRESH_ROUND_KEY`] `refresh-round` | unit | the unit | the round in which it last received a charm | never (rewritten) |
//! | [`REFRESHED_AFTER_COMPLETING_KEY`] `refreshed-after-completing` | unit | the unit | the round it had completed when it received another charm | never (rewritten) |
//! | [`REFRESH_PENDING_KEY`] `refresh-pending` | unit | the unit | the versions it ran before a refresh no stack covers yet | when it joins the upgrade or is refreshed back |
//! | [`RESUMED_ROUND_KEY`] `resumed-round` | unit | the unit | the round in which the operator ran `resume-upgrade` on it | when the upgrade completes |
//!
//! Action results: [`RESULT_KEY`] (what `pre-upgrade-check`, `resume-upgrade` and
//! `force-upgrade` did) and [`SKIPPED_KEY`] (the checks `force-upgrade` skipped).

/// Unit bag: the unit's [`crate::UnitState`].
pub const STATE_KEY: &str = "state";

/// App bag: the [`crate::UpgradeStack`] as a JSON list of unit numbers; the last one upgrades
/// next.
pub const STACK_KEY: &str = "upgrade-stack";

/// App bag: the deployed revision's [`crate::DependencyModel`] as JSON, the baseline the next
/// refresh is checked against.
pub const DEPENDENCIES_KEY: &str = "dependencies";

/// The upgrade round: in the app bag, the number of the current round (a new stack or a
/// recovery starts a new one); in a unit bag, the round in which that unit last became `ready`
/// (ran `upgrade-charm`) or completed. A unit is granted only when it became `ready` in the
/// current round.
///
/// It tells a fresh `completed` from one left over from an aborted round, so the leader never
/// pops a unit that a recovery re-inserted before it has rolled back. When the app bag has no
/// round (a stack written by v0), the leader falls back to v0's rule.
pub const ROUND_KEY: &str = "upgrade-round";

/// App bag: the [`crate::CharmVersions`] the application ran before the current upgrade
/// started, i.e. those of the last completed upgrade (or of the deployment). What a rollback
/// returns to.
pub const ORIGINAL_VERSIONS_KEY: &str = "original-versions";

/// App bag: the [`crate::CharmVersions`] the current upgrade round moves every unit to. Set by
/// the leader once it runs the refreshed charm; a refresh to anything else starts a new round.
pub const UPGRADE_TARGET_KEY: &str = "upgrade-target";

/// App bag: the upgrade round that is a rollback, written by the leader when it enters
/// recovery or recognises a refresh back to the original versions. A later round (a new
/// upgrade, a second refresh) no longer matches it.
pub const ROLLBACK_ROUND_KEY: &str = "rollback-round";

/// App bag: set by recovery (to the recovery's round) until the leader runs the rollback's
/// `upgrade-charm`. Unit bags reach the others late, the app bag does not: while it is set no
/// unit is granted, so a unit that runs a refresh older than the recovery (an `upgrade-charm`
/// that came late) cannot upgrade to the failed revision on an old copy of the leader's state.
pub const ROLLBACK_REFRESH_PENDING_KEY: &str = "rollback-refresh-pending";

/// App bag: set while `force-upgrade` has skipped the compatibility check for the current
/// refresh; cleared by the next refresh and when the upgrade completes.
pub const COMPATIBILITY_SKIPPED_KEY: &str = "compatibility-check-skipped";

/// Unit bag: the [`crate::CharmVersions`] of the charm this unit runs.
pub const CHARM_VERSIONS_KEY: &str = "charm-versions";

/// Unit bag: the upgrade round during which this unit last received a refreshed charm
/// (`upgrade-charm`). A leader elected mid-upgrade uses it to tell "I was refreshed during this
/// round" from "I am behind".
pub const REFRESH_ROUND_KEY: &str = "refresh-round";

/// Unit bag: the round in which this unit had completed when it received another charm
/// (`upgrade-charm`) and went `ready` again. The leader may already have popped it, in a hook
/// that has not committed, and gone on to upgrade the next unit; a leader restarting the round
/// therefore lets that next unit go first, not this one.
pub const REFRESHED_AFTER_COMPLETING_KEY: &str = "refreshed-after-completing";

/// Unit bag: set while this unit runs a refreshed charm that no upgrade stack covers yet
/// (`juju refresh` without, or before the end of, `pre-upgrade-check`); holds the
/// [`crate::CharmVersions`] the unit ran before. Cleared when the unit joins the upgrade.
pub const REFRESH_PENDING_KEY: &str = "refresh-pending";

/// Unit bag: the upgrade round in which the operator ran `resume-upgrade` on this unit, for
/// that round only, so an approval never carries over to a rollback or a later upgrade.
pub const RESUMED_ROUND_KEY: &str = "resumed-round";

/// Action result key under which `pre-upgrade-check`, `resume-upgrade` and `force-upgrade`
/// report what they did.
pub const RESULT_KEY: &str = "result";

/// Action result key under which `force-upgrade` lists the checks it skipped.
pub const SKIPPED_KEY: &str = "skipped";

/// Every bag key, with its bag: what a reader of the wire format (a tool that inspects or
/// clears upgrade data, a test) can iterate over.
pub const BAG_KEYS: [(&str, BagKind); 15] = [
    (STATE_KEY, BagKind::Unit),
    (STACK_KEY, BagKind::App),
    (DEPENDENCIES_KEY, BagKind::App),
    (ROUND_KEY, BagKind::App),
    (ROUND_KEY, BagKind::Unit),
    (ORIGINAL_VERSIONS_KEY, BagKind::App),
    (UPGRADE_TARGET_KEY, BagKind::App),
    (ROLLBACK_ROUND_KEY, BagKind::App),
    (ROLLBACK_REFRESH_PENDING_KEY, BagKind::App),
    (COMPATIBILITY_SKIPPED_KEY, BagKind::App),
    (CHARM_VERSIONS_KEY, BagKind::Unit),
    (REFRESH_ROUND_KEY, BagKind::Unit),
    (REFRESHED_AFTER_COMPLETING_KEY, BagKind::Unit),
    (REFRESH_PENDING_KEY, BagKind::Unit),
    (RESUMED_ROUND_KEY, BagKind::Unit),
];

/// Which databag of the peer relation a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BagKind {
    /// The application bag: only the leader writes it, every unit reads it.
    App,
    /// A unit's own bag: only that unit writes it.
    Unit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_table_is_listed_once_per_bag() {
        let mut seen = std::collections::BTreeSet::new();
        for (key, bag) in BAG_KEYS {
            assert!(seen.insert((key, bag == BagKind::App)), "{key} twice");
        }
        assert_eq!(seen.len(), 15);
        let docs = include_str!("wire.rs");
        for (key, _) in BAG_KEYS {
            assert!(
                docs.contains(&format!("`{key}` |")),
                "{key} not in the table"
            );
        }
    }
}
