//! A unit that got its new charm without `upgrade-charm`.
//!
//! Juju swaps the charm of a unit in error at the retry of its failed hook and runs that hook
//! with the new code, but never runs `upgrade-charm` for it (juju/juju#20173). Such a unit
//! would stay out of the round for good: `idle` (or `ready` for an older round) while every
//! other unit waits for it. Its own bag tells: the charm it recorded ([`crate::wire::CHARM_VERSIONS_KEY`])
//! is not the one handling the event. On the first event that sees this, the unit does what
//! `upgrade-charm` would have done, then handles the event.

use crate::effect::{EffectSink, LogLevel};
use crate::error::SnapshotError;
use crate::hooks::UpgradeHooks;
use crate::machine::Event;
use crate::snapshot::PeerSnapshot;
use crate::versions::CharmVersions;

use super::{Stop, Turn};

/// Whether the unit whose bag `view` holds runs `charm` but last recorded another charm: it
/// got `charm` without running `upgrade-charm` under it. Reads this unit's bag only. A charm
/// that reports no versions, or a bag that never recorded any, never counts as swapped.
pub fn missed_upgrade_charm(
    view: &PeerSnapshot,
    charm: &CharmVersions,
) -> Result<bool, SnapshotError> {
    if !charm.is_reported() {
        return Ok(false);
    }
    Ok(view
        .unit_charm_versions(view.unit)?
        .is_some_and(|recorded| recorded.is_reported() && recorded != *charm))
}

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// Before handling `event`: if this unit's charm was swapped without `upgrade-charm`, run
    /// `upgrade-charm`'s rules now. Returns whether it did; the event's own rules then still
    /// run (they re-evaluate the same bags, so nothing is done twice).
    pub(super) fn catch_up_on_missed_upgrade_charm<H: UpgradeHooks>(
        &mut self,
        event: &Event,
        hooks: &mut H,
    ) -> Result<bool, Stop> {
        if matches!(event, Event::UpgradeCharm | Event::RelationCreated) {
            return Ok(false);
        }
        let Some(previous) = self.previous_versions.clone() else {
            return Ok(false);
        };
        if !previous.is_reported() || previous == self.this_charm {
            return Ok(false);
        }
        self.log(
            LogLevel::Warning,
            format!(
                "{} runs {} but last ran {}: its charm was swapped without upgrade-charm (a hook \
                 in error as the refresh landed); joining the upgrade now",
                self.own_name(),
                self.this_charm.describe(),
                previous.describe()
            ),
        );
        self.upgrade_charm(hooks)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::CHARM_VERSIONS_KEY;

    fn view_recording(recorded: Option<&CharmVersions>) -> PeerSnapshot {
        let mut view = PeerSnapshot::new("mysql", 1, false);
        let bag = view.unit_bags.entry(1).or_default();
        bag.insert("state".into(), "idle".into());
        if let Some(recorded) = recorded {
            bag.insert(CHARM_VERSIONS_KEY.into(), recorded.to_json());
        }
        view
    }

    #[test]
    fn a_unit_whose_bag_records_another_charm_missed_upgrade_charm() {
        let old = CharmVersions::new("182", "8.0.33");
        let new = CharmVersions::new("183", "8.0.34");
        assert_eq!(
            missed_upgrade_charm(&view_recording(Some(&old)), &new),
            Ok(true)
        );
        assert_eq!(
            missed_upgrade_charm(&view_recording(Some(&new)), &new),
            Ok(false)
        );
    }

    #[test]
    fn nothing_recorded_or_nothing_reported_is_no_swap() {
        let new = CharmVersions::new("183", "8.0.34");
        assert_eq!(missed_upgrade_charm(&view_recording(None), &new), Ok(false));
        let old = CharmVersions::new("182", "8.0.33");
        assert_eq!(
            missed_upgrade_charm(&view_recording(Some(&old)), &CharmVersions::default()),
            Ok(false)
        );
    }

    #[test]
    fn an_unreadable_record_is_an_error_not_a_guess() {
        let mut view = view_recording(None);
        view.unit_bags
            .entry(1)
            .or_default()
            .insert(CHARM_VERSIONS_KEY.into(), "not json".into());
        let new = CharmVersions::new("183", "8.0.34");
        assert!(missed_upgrade_charm(&view, &new).is_err());
    }
}
