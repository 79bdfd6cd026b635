//! `pause-after-unit-refresh` and the `resume-upgrade` action.
//!
//! The unit on top of the stack, granted in every other way, waits when the setting pauses
//! before it and the operator has not resumed it in this round. `resume-upgrade` runs on that
//! unit (not the leader): it records the approval in its own bag, the only bag it may write,
//! and upgrades at once inside the action. Only the charm on the unit that upgrades (or rolls
//! back) must work for the operator to move on, as with charm-refresh on machines.

use crate::effect::{Effect, LogLevel};
use crate::error::SnapshotError;
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::pause::{PauseAfterUnitRefresh, RESUMED_ROUND_KEY, ROLLBACK_ROUND_KEY};
use crate::stack::UpgradeStack;
use crate::state::UnitState;

use super::{Turn, RESULT_KEY};

impl Turn<'_> {
    /// Whether `unit`, next in `stack`, must wait for `resume-upgrade` before it upgrades.
    pub(super) fn awaits_resume(
        &self,
        unit: u32,
        stack: &UpgradeStack,
    ) -> Result<bool, SnapshotError> {
        let done = self.view.app_units().len().saturating_sub(stack.len());
        if !self.pauses_after(done)? {
            return Ok(false);
        }
        let round = self.view.app_round()?.unwrap_or(0);
        Ok(self.view.unit_round(unit, RESUMED_ROUND_KEY)? != Some(round))
    }

    /// Whether the setting pauses before the next unit once `done` units of this round have
    /// finished: a rollback pauses only with `all`.
    fn pauses_after(&self, done: usize) -> Result<bool, SnapshotError> {
        let (setting, _) = PauseAfterUnitRefresh::effective(self.pause_setting.as_deref());
        Ok(if self.view.is_rollback_round()? {
            setting.pauses_rollback_after(done)
        } else {
            setting.pauses_after(done)
        })
    }

    /// The leader marks the round it just started as a rollback, so that it pauses only with
    /// `all` (see [`crate::pause`]). Not written for a charm that neither reports its
    /// versions nor has the pause option: v0's data stays v0's.
    pub(super) fn mark_rollback_round(&mut self) -> Result<(), SnapshotError> {
        if !self.beyond_v0() && self.pause_setting.is_none() {
            return Ok(());
        }
        if let Some(round) = self.view.app_round()? {
            self.set_app(ROLLBACK_ROUND_KEY, round.to_string());
        }
        Ok(())
    }

    /// The unit the upgrade is paused before, if it is: on top, `ready`, every other grant
    /// condition met, waiting only for `resume-upgrade`.
    pub(super) fn paused_unit(&self) -> Result<Option<u32>, SnapshotError> {
        let stack = self.view.upgrade_stack()?;
        let Some(top) = stack.top() else {
            return Ok(None);
        };
        let states = self.view.unit_states()?;
        if states.get(&top).copied().flatten() != Some(UnitState::Ready)
            || self.view.cluster_state()? != Some(UnitState::Ready)
            || states
                .values()
                .any(|&state| state == Some(UnitState::Upgrading))
            || !self.view.completed_this_round(top)?
        {
            return Ok(None);
        }
        if let Some(target) = self.view.upgrade_target()? {
            if self.view.unit_charm_versions(top)?.as_ref() != Some(&target) {
                return Ok(None);
            }
        }
        Ok(self.awaits_resume(top, &stack)?.then_some(top))
    }

    /// The `resume-upgrade` action.
    pub(super) fn resume_upgrade<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<(), SnapshotError> {
        let name = self.own_name();
        let rollback = self.rollback_command()?;
        let stack = self.view.upgrade_stack()?;
        let Some(top) = stack.top() else {
            return self.fail_action(messages::RESUME_NOTHING_IN_PROGRESS);
        };
        if self.pause_setting.is_none() {
            return self.fail_action(messages::RESUME_NO_PAUSE_OPTION);
        }
        let (setting, _) = PauseAfterUnitRefresh::effective(self.pause_setting.as_deref());
        if setting == PauseAfterUnitRefresh::Never {
            return self.fail_action(messages::RESUME_PAUSE_IS_NONE);
        }
        let cluster = self.view.cluster_state()?;
        match cluster {
            Some(UnitState::Failed) => {
                return self.fail_action(&messages::resume_while_failed(&rollback));
            }
            Some(UnitState::Recovery) => {
                return self.fail_action(&messages::resume_in_recovery(&rollback));
            }
            _ => {}
        }
        if top != self.view.unit {
            return self.fail_action(&messages::resume_wrong_unit(&self.view.unit_name(top)));
        }
        let own = self.view.own_state()?;
        if matches!(own, Some(UnitState::Upgrading | UnitState::Completed)) {
            return self.fail_action(&messages::resume_cannot_start(
                &name,
                "it is already upgrading or upgraded",
            ));
        }
        let done = self.view.app_units().len().saturating_sub(stack.len());
        if !self.pauses_after(done)? {
            if self.view.is_rollback_round()? {
                return self.fail_action(&messages::resume_not_needed_in_rollback(
                    &name,
                    setting.as_str(),
                ));
            }
            return self.fail_action(&messages::resume_not_needed(&name, setting.as_str()));
        }
        if own != Some(UnitState::Ready)
            || !self.view.completed_this_round(self.view.unit)?
            || !self.runs_round_target()?
        {
            return self.fail_action(&messages::resume_cannot_start(
                &name,
                "it has not run the refreshed charm yet",
            ));
        }
        let states = self.view.unit_states()?;
        if let Some((&other, _)) = states
            .iter()
            .find(|(_, &state)| state == Some(UnitState::Upgrading))
        {
            let reason = format!("{} is still upgrading", self.view.unit_name(other));
            return self.fail_action(&messages::resume_cannot_start(&name, &reason));
        }
        if cluster != Some(UnitState::Ready) {
            return self.fail_action(&messages::resume_cannot_start(
                &name,
                "not every unit runs the refreshed charm yet",
            ));
        }
        let round = self.view.app_round()?.unwrap_or(0);
        self.log(
            LogLevel::Info,
            format!("resume-upgrade: the operator resumed the upgrade; {name} upgrades now"),
        );
        if self.view.unit_round(self.view.unit, RESUMED_ROUND_KEY)? != Some(round) {
            self.emit(Effect::SetUnit {
                key: RESUMED_ROUND_KEY.to_owned(),
                value: round.to_string(),
            });
        }
        self.settle(hooks)?;
        if self.view.own_state()? == Some(UnitState::Failed) {
            return self.fail_action(&messages::resumed_but_failed(&name, &rollback));
        }
        self.emit(Effect::ActionResult {
            key: RESULT_KEY.to_owned(),
            value: messages::resumed_result(&name),
        });
        Ok(())
    }

    /// Fails the running action with `message` (and logs it).
    pub(super) fn fail_action(&mut self, message: &str) -> Result<(), SnapshotError> {
        self.log(LogLevel::Info, format!("action refused: {message}"));
        self.emit(Effect::ActionFail(message.to_owned()));
        Ok(())
    }
}
