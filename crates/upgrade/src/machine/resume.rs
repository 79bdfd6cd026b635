//! `pause-after-unit-refresh` and the `resume-upgrade` action.
//!
//! The unit on top of the stack, granted in every other way, waits when the setting pauses
//! before it and the operator has not resumed it in this round. `resume-upgrade` runs on that
//! unit (not the leader): it records the approval in its own bag, the only bag it may write,
//! and upgrades at once inside the action. Only the charm on the unit that upgrades (or rolls
//! back) must work for the operator to move on, as with charm-refresh on machines.

use crate::effect::{Effect, EffectSink, LogLevel};
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::pause::PauseAfterUnitRefresh;
use crate::state::UnitState;
use crate::wire::{RESULT_KEY, RESUMED_ROUND_KEY, ROLLBACK_ROUND_KEY};

use super::grant::{self, Grant, Wait};
use super::{Stop, Turn};

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// The leader marks the round it just started as a rollback, so that it pauses only with
    /// `all` (see [`crate::pause`]). Not written for a charm that neither reports its
    /// versions nor has the pause option: v0's data stays v0's.
    pub(super) fn mark_rollback_round(&mut self) -> Result<(), Stop> {
        if !self.reports_versions() && self.pause_setting.is_none() {
            return Ok(());
        }
        if let Some(round) = self.view.app_round()? {
            self.set_app(ROLLBACK_ROUND_KEY, round.to_string());
        }
        Ok(())
    }

    /// The unit the upgrade is paused before, if it is: the top of the stack, which the grant
    /// holds only for `resume-upgrade` (see [`grant`](super::grant)).
    pub(super) fn paused_unit(&self) -> Result<Option<u32>, Stop> {
        let Some(top) = self.view.upgrade_stack()?.top() else {
            return Ok(None);
        };
        Ok((self.grant_for(top)? == Grant::AwaitsResume).then_some(top))
    }

    /// The `resume-upgrade` action.
    pub(super) fn resume_upgrade<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        let name = self.own_name();
        let rollback = self.rollback_command()?;
        if self.view.upgrade_stack()?.is_empty() {
            return self.fail_action(messages::RESUME_NOTHING_IN_PROGRESS);
        }
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
        let cannot_start = |reason: &str| messages::resume_cannot_start(&name, reason);
        let refusal = match self.grant_for(self.view.unit)? {
            // Paused before this unit; or already resumed in this round (the action's upgrade
            // did not commit): it goes now.
            Grant::AwaitsResume => None,
            Grant::Wait(Wait::NotOnTop { top }) => {
                Some(messages::resume_wrong_unit(&self.view.unit_name(top)))
            }
            Grant::Go if self.view.own_state()? == Some(UnitState::Upgrading) => {
                Some(cannot_start("it is already upgrading or upgraded"))
            }
            Grant::Wait(Wait::NotReady {
                state: Some(UnitState::Upgrading | UnitState::Completed),
            }) => Some(cannot_start("it is already upgrading or upgraded")),
            _ if !grant::pauses_before_next(&self.view, self.pause_setting.as_deref())? => {
                Some(if self.view.is_rollback_round()? {
                    messages::resume_not_needed_in_rollback(&name, setting.as_str())
                } else {
                    messages::resume_not_needed(&name, setting.as_str())
                })
            }
            Grant::Wait(
                Wait::NotReady { .. } | Wait::ReadyInEarlierRound | Wait::RunsOtherCharm,
            ) => Some(cannot_start("it has not run the refreshed charm yet")),
            Grant::Wait(Wait::OtherUpgrading { unit }) => Some(cannot_start(&format!(
                "{} is still upgrading",
                self.view.unit_name(unit)
            ))),
            Grant::Wait(Wait::OthersNotReady) => {
                Some(cannot_start("not every unit runs the refreshed charm yet"))
            }
            Grant::Wait(Wait::RollbackRefreshPending) => Some(cannot_start(
                "the rollback's refresh has not reached the leader yet",
            )),
            Grant::Go => None,
            // Refused above with the rollback command.
            Grant::Wait(Wait::ClusterFailed | Wait::InRecovery | Wait::NoStack) => {
                Some(messages::RESUME_NOTHING_IN_PROGRESS.to_owned())
            }
        };
        if let Some(message) = refusal {
            return self.fail_action(&message);
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
    pub(super) fn fail_action(&mut self, message: &str) -> Result<(), Stop> {
        self.log(LogLevel::Info, format!("action refused: {message}"));
        self.emit(Effect::ActionFail(message.to_owned()));
        Ok(())
    }
}
