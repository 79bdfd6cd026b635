//! Who upgrades next: the one rule that grants a unit its turn.
//!
//! A unit changes its workload only when [`grant`] says [`Grant::Go`] for it. The same rule
//! answers three questions: may this unit upgrade now (the relation-changed rules), is the
//! upgrade paused before a unit (the leader's application status), and may `resume-upgrade` let
//! this unit go (its refusals say which condition failed, from [`Wait`]).

use crate::error::SnapshotError;
use crate::pause::PauseAfterUnitRefresh;
use crate::snapshot::PeerSnapshot;
use crate::state::UnitState;
use crate::versions::CharmVersions;
use crate::wire::{RESUMED_ROUND_KEY, ROLLBACK_REFRESH_PENDING_KEY};

/// What [`grant`] says about one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The unit upgrades (or rolls back) its workload now; also a unit found `upgrading`,
    /// whose interrupted upgrade goes on.
    Go,
    /// Everything else says go, but `pause-after-unit-refresh` pauses before this unit and
    /// the operator has not run `resume-upgrade` on it in this round.
    AwaitsResume,
    /// Not this unit's turn, and why.
    Wait(Wait),
}

/// Why a unit is not granted, in the order [`grant`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A unit failed: the upgrade is paused until the operator rolls back.
    ClusterFailed,
    /// The leader prepared a rollback that its refresh has not started yet.
    InRecovery,
    /// No upgrade stack: nothing is prepared, or every unit is done.
    NoStack,
    /// Another unit is on top of the stack.
    NotOnTop {
        /// The unit on top.
        top: u32,
    },
    /// The unit is not `ready` (nor `upgrading`).
    NotReady {
        /// Its state.
        state: Option<UnitState>,
    },
    /// The unit's `ready` is left over from an earlier round (it has not run this round's
    /// `upgrade-charm` yet).
    ReadyInEarlierRound,
    /// The unit runs another charm than the one the round moves to.
    RunsOtherCharm,
    /// Another unit is upgrading its workload.
    OtherUpgrading {
        /// That unit.
        unit: u32,
    },
    /// Not every unit has run the refreshed charm (the cluster state is not `ready`).
    OthersNotReady,
    /// A recovery waits for the leader to run the rollback's `upgrade-charm`.
    RollbackRefreshPending,
}

/// Whether `unit` may upgrade its workload now, from `view`.
///
/// `runs` is the charm the unit runs: for this unit the charm handling the event, for another
/// unit the versions its bag records; `None` when not reported, and then the round's target
/// does not hold the unit back (v0's rules). `pause` is the `pause-after-unit-refresh` value
/// as set (`None`: the charm has no such option).
pub(crate) fn grant(
    view: &PeerSnapshot,
    unit: u32,
    runs: Option<&CharmVersions>,
    pause: Option<&str>,
) -> Result<Grant, SnapshotError> {
    let cluster = view.cluster_state()?;
    match cluster {
        Some(UnitState::Failed) => return Ok(Grant::Wait(Wait::ClusterFailed)),
        Some(UnitState::Recovery) => return Ok(Grant::Wait(Wait::InRecovery)),
        _ => {}
    }
    let stack = view.upgrade_stack()?;
    let Some(top) = stack.top() else {
        return Ok(Grant::Wait(Wait::NoStack));
    };
    if top != unit {
        return Ok(Grant::Wait(Wait::NotOnTop { top }));
    }
    let state = view.unit_state(unit)?;
    if !matches!(state, Some(UnitState::Ready | UnitState::Upgrading)) {
        return Ok(Grant::Wait(Wait::NotReady { state }));
    }
    if !view.marked_this_round(unit)? {
        return Ok(Grant::Wait(Wait::ReadyInEarlierRound));
    }
    if let (Some(target), Some(runs)) = (view.upgrade_target()?, runs) {
        if target != *runs {
            return Ok(Grant::Wait(Wait::RunsOtherCharm));
        }
    }
    for (other, state) in view.unit_states()? {
        if other != unit && state == Some(UnitState::Upgrading) {
            return Ok(Grant::Wait(Wait::OtherUpgrading { unit: other }));
        }
    }
    if cluster != Some(UnitState::Ready) {
        return Ok(Grant::Wait(Wait::OthersNotReady));
    }
    if view.app_value(ROLLBACK_REFRESH_PENDING_KEY).is_some() {
        return Ok(Grant::Wait(Wait::RollbackRefreshPending));
    }
    if state == Some(UnitState::Upgrading) || !awaits_resume(view, unit, pause)? {
        return Ok(Grant::Go);
    }
    Ok(Grant::AwaitsResume)
}

/// Whether the pause setting stops the upgrade before the next unit once the units that left
/// the stack have finished, and the operator has not resumed `unit` in this round.
fn awaits_resume(
    view: &PeerSnapshot,
    unit: u32,
    pause: Option<&str>,
) -> Result<bool, SnapshotError> {
    if !pauses_before_next(view, pause)? {
        return Ok(false);
    }
    let round = view.app_round()?.unwrap_or(0);
    Ok(view.unit_round(unit, RESUMED_ROUND_KEY)? != Some(round))
}

/// Whether the setting pauses before the next unit of this round: a rollback pauses only with
/// `all` (see [`crate::pause`]).
pub(crate) fn pauses_before_next(
    view: &PeerSnapshot,
    pause: Option<&str>,
) -> Result<bool, SnapshotError> {
    let done = view
        .app_units()
        .len()
        .saturating_sub(view.upgrade_stack()?.len());
    let (setting, _) = PauseAfterUnitRefresh::effective(pause);
    Ok(if view.is_rollback_round()? {
        setting.pauses_rollback_after(done)
    } else {
        setting.pauses_after(done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ROUND_KEY, STACK_KEY, STATE_KEY, UPGRADE_TARGET_KEY};

    /// Three units, round 1, stack `[0, 1, 2]` (unit 2 on top), every unit `ready` in round 1.
    fn ready_view() -> PeerSnapshot {
        let mut view = PeerSnapshot::new("mysql", 2, false);
        view.units.extend([0, 1]);
        view.app_bag.insert(STACK_KEY.into(), "[0, 1, 2]".into());
        view.app_bag.insert(ROUND_KEY.into(), "1".into());
        for unit in 0..3 {
            let bag = view.unit_bags.entry(unit).or_default();
            bag.insert(STATE_KEY.into(), "ready".into());
            bag.insert(ROUND_KEY.into(), "1".into());
        }
        view
    }

    fn set(view: &mut PeerSnapshot, unit: Option<u32>, key: &str, value: &str) {
        let bag = match unit {
            Some(unit) => view.unit_bags.entry(unit).or_default(),
            None => &mut view.app_bag,
        };
        bag.insert(key.into(), value.into());
    }

    #[test]
    fn each_condition_of_the_grant_in_the_order_it_is_checked() {
        let target = CharmVersions::new("43", "8.0.34");
        let other = CharmVersions::new("42", "8.0.33");
        let target_json = target.to_json();
        type Change = fn(&mut PeerSnapshot);
        #[rustfmt::skip]
        let cases: Vec<(&str, Change, u32, Option<&str>, Grant)> = vec![
            ("every condition met", |_| {}, 2, None, Grant::Go),
            ("a unit failed", |v| set(v, Some(0), STATE_KEY, "failed"), 2, None,
                Grant::Wait(Wait::ClusterFailed)),
            ("the leader entered recovery", |v| set(v, Some(0), STATE_KEY, "recovery"), 2, None,
                Grant::Wait(Wait::InRecovery)),
            ("no stack", |v| set(v, None, STACK_KEY, "[]"), 2, None,
                Grant::Wait(Wait::NoStack)),
            ("another unit on top", |_| {}, 1, None,
                Grant::Wait(Wait::NotOnTop { top: 2 })),
            ("the top completed", |v| set(v, Some(2), STATE_KEY, "completed"), 2, None,
                Grant::Wait(Wait::NotReady { state: Some(UnitState::Completed) })),
            ("a unit still idle", |v| set(v, Some(1), STATE_KEY, "idle"), 2, None,
                Grant::Wait(Wait::OthersNotReady)),
            ("another unit upgrading", |v| {
                    set(v, Some(1), STATE_KEY, "upgrading");
                }, 2, None, Grant::Wait(Wait::OtherUpgrading { unit: 1 })),
            ("ready in an earlier round", |v| set(v, Some(2), ROUND_KEY, "0"), 2, None,
                Grant::Wait(Wait::ReadyInEarlierRound)),
            ("a recovery waits for the leader's refresh",
                |v| set(v, None, ROLLBACK_REFRESH_PENDING_KEY, "1"), 2, None,
                Grant::Wait(Wait::RollbackRefreshPending)),
            ("paused before the second unit", |v| set(v, None, STACK_KEY, "[0, 2]"), 2,
                Some("first"), Grant::AwaitsResume),
            ("resumed in this round", |v| {
                    set(v, None, STACK_KEY, "[0, 2]");
                    set(v, Some(2), RESUMED_ROUND_KEY, "1");
                }, 2, Some("first"), Grant::Go),
            ("resumed in an earlier round", |v| {
                    set(v, None, STACK_KEY, "[0, 2]");
                    set(v, Some(2), RESUMED_ROUND_KEY, "0");
                }, 2, Some("all"), Grant::AwaitsResume),
            ("an interrupted upgrade goes on, paused or not", |v| {
                    set(v, None, STACK_KEY, "[0, 2]");
                    set(v, Some(2), STATE_KEY, "upgrading");
                }, 2, Some("all"), Grant::Go),
            ("first does not pause a rollback", |v| {
                    set(v, None, STACK_KEY, "[0, 2]");
                    set(v, None, "rollback-round", "1");
                }, 2, Some("first"), Grant::Go),
            ("all pauses a rollback", |v| {
                    set(v, None, STACK_KEY, "[0, 2]");
                    set(v, None, "rollback-round", "1");
                }, 2, Some("all"), Grant::AwaitsResume),
            ("none never pauses", |v| set(v, None, STACK_KEY, "[0, 2]"), 2, Some("none"),
                Grant::Go),
            ("an invalid setting pauses like all", |v| set(v, None, STACK_KEY, "[0, 2]"), 2,
                Some("sometimes"), Grant::AwaitsResume),
        ];
        for (name, change, unit, pause, expected) in cases {
            let mut view = ready_view();
            change(&mut view);
            assert_eq!(grant(&view, unit, None, pause), Ok(expected), "{name}");
        }

        // The round's target holds back a unit that runs another charm, not one that does
        // not report what it runs.
        let mut view = ready_view();
        set(&mut view, None, UPGRADE_TARGET_KEY, &target_json);
        assert_eq!(grant(&view, 2, Some(&target), None), Ok(Grant::Go));
        assert_eq!(
            grant(&view, 2, Some(&other), None),
            Ok(Grant::Wait(Wait::RunsOtherCharm))
        );
        assert_eq!(grant(&view, 2, None, None), Ok(Grant::Go));
    }

    #[test]
    fn unreadable_data_is_an_error_not_a_grant() {
        let mut view = ready_view();
        set(&mut view, Some(1), STATE_KEY, "upgrayding");
        assert!(matches!(
            grant(&view, 2, None, None),
            Err(SnapshotError::UnitState { unit: 1, .. })
        ));
    }
}
