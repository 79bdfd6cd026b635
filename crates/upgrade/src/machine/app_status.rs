//! The application status the leader sets beyond v0: always what the operator should do next,
//! and, while an upgrade is under way, the exact command that rolls it back.
//!
//! Recomputed from the bags at the end of every event the leader handles, so a new leader
//! shows the same thing. In order: an invalid `pause-after-unit-refresh`; units refreshed
//! without a prepared upgrade; a failure (incompatible refresh, failed upgrade, failed
//! rollback); a prepared rollback; a pause; a rollback running; an upgrade running; otherwise
//! active with no message.

use crate::effect::{Effect, EffectSink, Status};
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::pause::PauseAfterUnitRefresh;
use crate::state::UnitState;

use super::{Stop, Turn};

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// Sets the application status (leader, beyond v0 only).
    pub(super) fn publish_app_status<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<(), Stop> {
        if !self.reports_versions() || !self.view.is_leader {
            return Ok(());
        }
        let status = self.app_status(hooks)?;
        self.emit(Effect::AppStatus(status));
        Ok(())
    }

    fn app_status<H: UpgradeHooks>(&self, hooks: &H) -> Result<Status, Stop> {
        let (_, invalid) = PauseAfterUnitRefresh::effective(self.pause_setting.as_deref());
        if let Some(err) = invalid {
            return Ok(Status::blocked(err.to_string()));
        }
        if !self.view.upgrade_in_progress()? {
            return Ok(Status::active(""));
        }
        if self.view.upgrade_stack()?.is_empty()
            && self.view.own_state()? == Some(UnitState::Idle)
            && self
                .view
                .unit_states()?
                .values()
                .all(|state| matches!(state, None | Some(UnitState::Idle | UnitState::Completed)))
            && !self.any_refresh_pending()?
            && self.view.original_versions()?.as_ref() == Some(&self.this_charm)
        {
            // The leader finished the round on the charm it runs; the others only return to
            // idle. A rollback to the revision that runs would be refused by Juju.
            return Ok(Status::active(""));
        }
        if !self.direct_rollback_known()? {
            return self.app_status_original_unknown(hooks);
        }
        let app = &self.view.app;
        let rollback = self.rollback_command()?;
        let stack = self.view.upgrade_stack()?;
        let states = self.view.unit_states()?;
        if stack.is_empty()
            && states
                .values()
                .all(|state| matches!(state, None | Some(UnitState::Idle)))
        {
            return Ok(Status::blocked(messages::refresh_not_prepared_app(
                app, &rollback,
            )));
        }
        let original = self.view.original_versions()?;
        let rolling_back = original.is_some() && self.view.upgrade_target()? == original;
        match self.view.cluster_state()? {
            Some(UnitState::Failed) => {
                let failed: Vec<u32> = states
                    .iter()
                    .filter(|(_, &state)| state == Some(UnitState::Failed))
                    .map(|(&unit, _)| unit)
                    .collect();
                let unit = stack
                    .top()
                    .filter(|top| failed.contains(top))
                    .or_else(|| failed.first().copied())
                    .unwrap_or(self.view.unit);
                let name = self.view.unit_name(unit);
                let failed_on = self.view.unit_charm_versions(unit)?;
                if let (true, Some(original)) = (rolling_back, &original) {
                    if failed_on.as_ref() != Some(original) {
                        // The rollback is under way; this unit rolls back at its upgrade-charm.
                        return Ok(Status::maintenance(messages::rolling_back_app(original)));
                    }
                }
                let message =
                    if unit == self.view.unit && self.compatibility_blocker(hooks)?.is_some() {
                        messages::incompatible_app(&rollback)
                    } else if original.is_some() && failed_on == original {
                        messages::rollback_failed_app(app, &name)
                    } else {
                        messages::upgrade_failed_app(&name, &rollback)
                    };
                return Ok(Status::blocked(message));
            }
            Some(UnitState::Recovery) => {
                if original.as_ref() == Some(&self.this_charm) {
                    // A retry after a failed rollback: the application already runs the
                    // original revision, and Juju refuses a refresh to the revision it runs.
                    return Ok(Status::blocked(messages::ready_to_roll_back_again_app(
                        app,
                        &self.this_charm,
                    )));
                }
                return Ok(Status::blocked(messages::ready_to_roll_back_app(&rollback)));
            }
            _ => {}
        }
        if let Some(next) = self.paused_unit()? {
            return Ok(Status::blocked(messages::paused_app(
                &self.view.unit_name(next),
                &rollback,
            )));
        }
        match original {
            Some(original) if self.view.upgrade_target()?.as_ref() == Some(&original) => {
                Ok(Status::maintenance(messages::rolling_back_app(&original)))
            }
            _ => Ok(Status::maintenance(messages::upgrading_app(&rollback))),
        }
    }
}
