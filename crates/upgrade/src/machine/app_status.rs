//! The application status the leader sets beyond v0: always what the operator should do next,
//! and, while an upgrade is under way, the exact command that rolls it back.
//!
//! Recomputed from the bags at the end of every event the leader handles, so a new leader
//! shows the same thing. In order: an invalid `pause-after-unit-refresh`; units refreshed
//! without a prepared upgrade; a failure (incompatible refresh, failed upgrade, failed
//! rollback); a prepared rollback; an upgrade prepared but not refreshed to yet (the refresh
//! to start it, and no rollback wording: nothing runs to roll back from); a pause; a rollback
//! running; an upgrade running; otherwise active with no message.

use crate::effect::{Effect, EffectSink, Status};
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::pause::PauseAfterUnitRefresh;
use crate::state::UnitState;

use super::{Stop, Turn};
use crate::versions::CharmVersions;

/// A charm deployed from a file: its versions name it by a `local:` URL, not a revision.
fn is_local(versions: &CharmVersions) -> bool {
    versions.is_reported() && !versions.charm.bytes().all(|b| b.is_ascii_digit())
}

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

    /// A stack `pre-upgrade-check` wrote and no refresh yet: every unit idle, none waiting
    /// with a refreshed charm, no round target, and every unit that recorded its charm runs
    /// the original one.
    fn prepared_not_refreshed(&self) -> Result<bool, Stop> {
        if self.view.upgrade_stack()?.is_empty() || self.view.upgrade_target()?.is_some() {
            return Ok(false);
        }
        let original = self.view.original_versions()?;
        for unit in self.view.app_units() {
            if !matches!(self.view.unit_state(unit)?, None | Some(UnitState::Idle))
                || self.view.refresh_pending(unit)?.is_some()
                || self
                    .view
                    .unit_charm_versions(unit)?
                    .is_some_and(|runs| Some(&runs) != original.as_ref())
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn app_status<H: UpgradeHooks>(&self, hooks: &H) -> Result<Status, Stop> {
        let (_, invalid) = PauseAfterUnitRefresh::effective(self.pause_setting.as_deref());
        if let Some(err) = invalid {
            return Ok(Status::blocked(err.to_string()));
        }
        if !self.view.upgrade_in_progress()? {
            return Ok(Status::active(""));
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
        if self.prepared_not_refreshed()? {
            return Ok(Status::active(messages::prepared_app(
                app,
                original.as_ref(),
            )));
        }
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
                    } else if original.as_ref().is_some_and(is_local) {
                        messages::upgrade_failed_local_app(app, &name)
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
