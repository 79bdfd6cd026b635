//! What a `juju refresh` means, beyond v0 (the charm reports its versions).
//!
//! - Back to the original versions while an upgrade is under way or failed: a rollback. The
//!   leader enters recovery by itself (new round, the stack repaired so the failed unit goes
//!   first and the units already upgraded follow), skips the compatibility check, and every
//!   unit rolls back one at a time. No `pre-upgrade-check` needed.
//! - To yet another revision mid-upgrade: the leader starts a new round and puts back every
//!   unit, so each one goes to the newest revision, one at a time, compatibility checked again.
//! - With no upgrade prepared (no stack, every unit idle): v0 logs and does nothing, leaving the
//!   operator guessing. Here the unit remembers the refresh in its bag, blocks with the exact
//!   next command, and joins by itself once `pre-upgrade-check` writes the stack, which also
//!   covers a refresh racing a `pre-upgrade-check` that has not finished. charm-refresh runs
//!   its checks by itself after the refresh instead; here the check also prepares the cluster
//!   (Charmed MySQL moves the primary to the leader), so it stays the operator's explicit step
//!   the operator's runbooks already contain, and `force-upgrade skip-pre-upgrade-check=true` is
//!   the way to start without it.
//! - A leader elected mid-upgrade takes the round over from the bags alone: if it received its
//!   charm during this round and the round does not target that charm yet, it does what the
//!   old leader would have done at `upgrade-charm`.

use crate::dependency::check_upgrade;
use crate::effect::{Effect, EffectSink, LogLevel, Status};
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::stack::UpgradeStack;
use crate::state::UnitState;
use crate::versions::CharmVersions;
use crate::wire::{
    COMPATIBILITY_SKIPPED_KEY, ORIGINAL_VERSIONS_KEY, REFRESHED_AFTER_COMPLETING_KEY,
    REFRESH_PENDING_KEY, REFRESH_ROUND_KEY, STACK_KEY, UPGRADE_TARGET_KEY,
};

use super::{Stop, Turn};

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// `upgrade-charm` when the charm reports its versions.
    pub(super) fn upgrade_charm_beyond_v0<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<(), Stop> {
        let completed_in = match self.view.app_round()? {
            Some(round)
                if self.view.own_state()? == Some(UnitState::Completed)
                    && self.view.marked_this_round(self.view.unit)? =>
            {
                Some(round)
            }
            _ => None,
        };
        if self.view.is_leader && self.view.original_versions()?.is_none() {
            // First refresh seen by this core: what ran before is what a rollback returns to.
            if let Some(before) = self
                .previous_versions
                .clone()
                .filter(|before| before.is_reported() && *before != self.this_charm)
            {
                self.log(
                    LogLevel::Info,
                    format!(
                        "Recording {} as the versions a rollback returns to",
                        before.describe()
                    ),
                );
                self.set_app(ORIGINAL_VERSIONS_KEY, before.to_json());
            }
        }
        if !self.round_in_progress()? {
            return self.refresh_without_stack();
        }
        if self.view.is_leader && self.view.app_value(COMPATIBILITY_SKIPPED_KEY).is_some() {
            // A new refresh is checked again, whatever was forced for the last one.
            self.set_app(COMPATIBILITY_SKIPPED_KEY, String::new());
        }
        if self.view.is_leader && !self.adopt_refresh(hooks)? {
            self.record_refresh_round()?;
            return self.settle(hooks);
        }
        self.record_refresh_round()?;
        let rolling_back = self.view.original_versions()?.as_ref() == Some(&self.this_charm);
        if rolling_back && !self.view.is_leader {
            self.log(LogLevel::Info, messages::rollback_joined(&self.this_charm));
        }
        if let Some(round) = completed_in {
            self.emit(Effect::SetUnit {
                key: REFRESHED_AFTER_COMPLETING_KEY.to_owned(),
                value: round.to_string(),
            });
        }
        // As v0: waiting until granted, also on top (the others may not be ready yet, or the
        // round failed), so no status from before the refresh stays up.
        self.status(Status::waiting(messages::WAITING_FOR_OTHERS));
        self.set_ready();
        self.settle(hooks)
    }

    /// Whether an upgrade round is under way: a stack, or a unit past `idle`.
    fn round_in_progress(&self) -> Result<bool, Stop> {
        if !self.view.upgrade_stack()?.is_empty() {
            return Ok(true);
        }
        Ok(self
            .view
            .unit_states()?
            .values()
            .any(|state| !matches!(state, None | Some(UnitState::Idle))))
    }

    /// `upgrade-charm` with no upgrade prepared: remember it and block with the next command,
    /// or forget it if the charm is back to what this unit ran before.
    fn refresh_without_stack(&mut self) -> Result<(), Stop> {
        let unit = self.view.unit;
        let pending = self.view.refresh_pending(unit)?;
        let before = pending
            .clone()
            .or_else(|| {
                self.previous_versions
                    .clone()
                    .filter(CharmVersions::is_reported)
            })
            .or(self.view.original_versions()?);
        if before.as_ref() == Some(&self.this_charm) {
            if pending.is_some() {
                self.log(LogLevel::Info, messages::refresh_undone(&self.this_charm));
                self.emit(Effect::SetUnit {
                    key: REFRESH_PENDING_KEY.to_owned(),
                    value: String::new(),
                });
                self.status(Status::active(""));
                self.set_own_state(UnitState::Idle);
            } else {
                self.log(
                    LogLevel::Debug,
                    "Refreshed to the versions already running: nothing to upgrade",
                );
            }
            return Ok(());
        }
        let rollback = self.rollback_command()?;
        self.log(LogLevel::Error, messages::NO_STACK);
        self.log(
            LogLevel::Error,
            messages::refresh_not_prepared_log(&self.view.app, &self.this_charm, &rollback),
        );
        if pending.is_none() {
            self.emit(Effect::SetUnit {
                key: REFRESH_PENDING_KEY.to_owned(),
                value: before.unwrap_or_default().to_json(),
            });
        }
        self.status(Status::blocked(messages::refresh_not_prepared(
            &self.view.app,
        )));
        Ok(())
    }

    /// A unit that was refreshed before the upgrade was prepared joins once the stack exists.
    pub(super) fn join_prepared_upgrade<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
        stack: &UpgradeStack,
    ) -> Result<bool, Stop> {
        if !self.joins_prepared_upgrade(stack)? {
            return Ok(false);
        }
        self.log(
            LogLevel::Info,
            format!(
                "The upgrade is prepared: {} joins it with {}",
                self.own_name(),
                self.this_charm.describe()
            ),
        );
        self.emit(Effect::SetUnit {
            key: REFRESH_PENDING_KEY.to_owned(),
            value: String::new(),
        });
        if self.view.is_leader && !self.adopt_refresh(hooks)? {
            self.record_refresh_round()?;
            return Ok(true);
        }
        self.record_refresh_round()?;
        self.status(Status::waiting(messages::WAITING_FOR_OTHERS));
        self.set_ready();
        Ok(true)
    }

    /// Whether [`Self::join_prepared_upgrade`] applies: a stack, and this unit idle with a
    /// refresh pending (this unit's bag and the app bag only).
    pub(super) fn joins_prepared_upgrade(&self, stack: &UpgradeStack) -> Result<bool, Stop> {
        Ok(!stack.is_empty()
            && self.view.refresh_pending(self.view.unit)?.is_some()
            && matches!(self.view.own_state()?, None | Some(UnitState::Idle)))
    }

    /// The leader makes the current round move to the charm it runs: a rollback (no
    /// compatibility check, recovery entered by itself), a second refresh (new round, every
    /// unit again), or the first refresh of a prepared round. Returns `false` when the
    /// compatibility check failed and the leader is now `failed`.
    fn adopt_refresh<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<bool, Stop> {
        let target = self.view.upgrade_target()?;
        if target.as_ref() == Some(&self.this_charm) {
            return Ok(true);
        }
        let rolling_back = self.view.original_versions()?.as_ref() == Some(&self.this_charm);
        if rolling_back {
            if self.view.own_state()? == Some(UnitState::Recovery) {
                self.log(
                    LogLevel::Info,
                    format!(
                        "Rolling back to {} as prepared by pre-upgrade-check",
                        self.this_charm.describe()
                    ),
                );
            } else {
                self.log(
                    LogLevel::Info,
                    messages::rollback_detected(&self.this_charm),
                );
                self.restart_round_with_every_unit(hooks)?;
                self.mark_rollback_round()?;
            }
        } else if let Some(previous) = &target {
            self.log(
                LogLevel::Warning,
                messages::second_refresh(previous, &self.this_charm),
            );
            self.restart_round_with_every_unit(hooks)?;
        } else if self.view.upgrade_stack()?.is_empty() {
            // The last round emptied its stack but has not ended everywhere: a new round takes
            // every unit to this charm.
            self.log(
                LogLevel::Info,
                format!(
                    "Refreshed to {} as the last upgrade round was ending: every unit upgrades again",
                    self.this_charm.describe()
                ),
            );
            self.restart_round_with_every_unit(hooks)?;
        }
        self.set_app(UPGRADE_TARGET_KEY, self.this_charm.to_json());
        if rolling_back {
            self.log(
                LogLevel::Info,
                "Skipping the compatibility check: rolling back to the versions the application ran before",
            );
            return Ok(true);
        }
        self.check_compatibility(hooks)
    }

    /// A new round whose stack holds every unit again, the current top still first.
    ///
    /// A stack already empty (every unit upgraded, not yet back to idle) is built again in the
    /// charm's order, so the newest charm still reaches every unit.
    fn restart_round_with_every_unit<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<(), Stop> {
        let mut stack = self.view.upgrade_stack()?;
        // A top that had completed in the round ending here may already be popped by the old
        // leader, in a hook not yet committed that went on to upgrade the next unit: the next
        // unit stays first, and the completed one goes again right after it.
        let completed_top = match (stack.top(), self.view.app_round()?) {
            (Some(top), Some(round)) if stack.len() > 1 => {
                let completed = self.view.unit_state(top)? == Some(UnitState::Completed)
                    && self.view.marked_this_round(top)?;
                let refreshed_after =
                    self.view.unit_round(top, REFRESHED_AFTER_COMPLETING_KEY)? == Some(round);
                (completed || refreshed_after).then_some(top)
            }
            _ => None,
        };
        self.start_round()?;
        let moved = match completed_top {
            Some(top) => {
                stack.pop();
                stack.insert_under_top(top).is_ok()
            }
            None => false,
        };
        if stack.is_empty() {
            let app_units = self.view.app_units();
            let built = hooks
                .build_upgrade_stack(&self.view)
                .ok()
                .and_then(|units| UpgradeStack::from_units(units).ok())
                .filter(|built| built.validate_complete(&app_units).is_ok());
            stack = match built {
                Some(built) => built,
                // Highest unit number on top, as the default order.
                None => UpgradeStack::from_units(app_units.into_iter().collect())?,
            };
            self.log(LogLevel::Debug, format!("Built upgrade stack of {stack}"));
            self.set_app(STACK_KEY, stack.to_json());
            return Ok(());
        }
        let inserted = stack.repair(&self.view.app_units());
        if !inserted.is_empty() {
            self.log(
                LogLevel::Debug,
                format!("Inserted {inserted:?} in to upgrade-stack - {stack}"),
            );
        }
        if !inserted.is_empty() || moved {
            self.set_app(STACK_KEY, stack.to_json());
        }
        Ok(())
    }

    /// v0's check at `upgrade-charm`: the new charm must support upgrading from the stored
    /// versions; failing it fails the leader (unless `force-upgrade` skipped it).
    fn check_compatibility<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<bool, Stop> {
        if self.view.app_value(COMPATIBILITY_SKIPPED_KEY).is_some() {
            self.log(
                LogLevel::Warning,
                "Compatibility check skipped by force-upgrade",
            );
            return Ok(true);
        }
        match self.view.stored_dependencies()? {
            Some(deployed) => {
                if let Err(err) = check_upgrade(&deployed, hooks.dependency_model()) {
                    self.log(LogLevel::Error, err.to_string());
                    self.fail_unit(hooks);
                    return Ok(false);
                }
            }
            None => self.log(
                LogLevel::Warning,
                "No dependencies stored for the deployed revision; skipping the version compatibility check.",
            ),
        }
        Ok(true)
    }

    /// This unit received its charm during the current round.
    fn record_refresh_round(&mut self) -> Result<(), Stop> {
        let Some(round) = self.view.app_round()? else {
            return Ok(());
        };
        if self.view.unit_round(self.view.unit, REFRESH_ROUND_KEY)? != Some(round) {
            self.emit(Effect::SetUnit {
                key: REFRESH_ROUND_KEY.to_owned(),
                value: round.to_string(),
            });
        }
        Ok(())
    }

    /// A leader elected mid-upgrade (or one that handles data before its own `upgrade-charm`
    /// was seen) takes the round over if it received its charm during this round and the round
    /// does not target that charm yet. A leader that has not received the refresh yet (its
    /// charm predates the round) waits for its `upgrade-charm`.
    pub(super) fn leader_catch_up<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        if self.view.upgrade_target()?.as_ref() == Some(&self.this_charm) {
            return Ok(());
        }
        if self.view.upgrade_stack()?.is_empty()
            && self.view.original_versions()?.as_ref() == Some(&self.this_charm)
        {
            // The last round ended on this charm (the leader that finished it recorded it as
            // what a rollback returns to): there is nothing to take over. With another charm,
            // this unit was refreshed again as the round ended and the old leader left before
            // its own `upgrade-charm`: nobody else would start the round that takes every unit
            // to it.
            return Ok(());
        }
        let Some(round) = self.view.app_round()? else {
            return Ok(());
        };
        let refreshed_in = self.view.unit_round(self.view.unit, REFRESH_ROUND_KEY)?;
        let refreshed_this_round = refreshed_in == Some(round);
        // A charm received in an earlier round of this upgrade still counts, but not in a
        // rollback round: there a unit refreshed before the recovery runs the charm being
        // rolled back, and taking the round over with it would undo the rollback. Elsewhere,
        // a leader that received a charm the round no longer targets while the round restarted
        // (an old leader took it over with an older charm, then left before its own
        // `upgrade-charm`) would otherwise leave the round on a charm nobody runs.
        let refreshed_earlier_in_this_upgrade = refreshed_in.is_some_and(|at| at < round)
            && !self.view.is_rollback_round()?
            && self.view.original_versions()?.as_ref() != Some(&self.this_charm);
        if !refreshed_this_round && !refreshed_earlier_in_this_upgrade {
            return Ok(());
        }
        if matches!(
            self.view.own_state()?,
            None | Some(UnitState::Idle | UnitState::Failed)
        ) {
            return Ok(());
        }
        self.log(
            LogLevel::Info,
            format!(
                "{} leads now and takes the upgrade round over with {}",
                self.own_name(),
                self.this_charm.describe()
            ),
        );
        self.adopt_refresh(hooks)?;
        Ok(())
    }

    /// The cluster failed, but the operator already refreshed back to the original versions:
    /// every failed unit still runs the newer charm and rolls back at its `upgrade-charm`, so
    /// `pre-upgrade-check` has nothing to prepare (entering recovery would only freeze it).
    pub(super) fn rollback_already_started(&self) -> Result<bool, Stop> {
        if !self.reports_versions() {
            return Ok(false);
        }
        let Some(original) = self.view.original_versions()? else {
            return Ok(false);
        };
        if original != self.this_charm {
            return Ok(false);
        }
        let mut failed_any = false;
        for (unit, state) in self.view.unit_states()? {
            if state == Some(UnitState::Failed) {
                failed_any = true;
                if self.view.unit_charm_versions(unit)?.as_ref() == Some(&original) {
                    return Ok(false); // it failed while rolling back: recovery is needed
                }
            }
        }
        Ok(failed_any)
    }

    /// The leader recorded its refresh as one nobody prepared (no stack, every unit idle as it
    /// saw them), but another unit took the same refresh for part of the round that was
    /// ending and is `ready` (or further) now: nobody would ever move it, and the status
    /// would say units upgrade. The leader takes the refresh into a new round instead, as at
    /// an `upgrade-charm` that saw the round under way. Returns whether it did.
    pub(super) fn adopt_pending_refresh_into_round<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<bool, Stop> {
        if !self.view.is_leader
            || !matches!(self.view.own_state()?, None | Some(UnitState::Idle))
            || self.view.refresh_pending(self.view.unit)?.is_none()
            || !self.view.upgrade_stack()?.is_empty()
        {
            return Ok(false);
        }
        let others_in_round = self.view.unit_states()?.into_iter().any(|(unit, state)| {
            unit != self.view.unit && !matches!(state, None | Some(UnitState::Idle))
        });
        if !others_in_round {
            return Ok(false);
        }
        self.log(
            LogLevel::Info,
            format!(
                "Units already took {} as part of the last round: {} starts a round with it",
                self.this_charm.describe(),
                self.own_name()
            ),
        );
        self.emit(Effect::SetUnit {
            key: REFRESH_PENDING_KEY.to_owned(),
            value: String::new(),
        });
        self.upgrade_charm_beyond_v0(hooks)?;
        Ok(true)
    }

    /// Whether some unit runs a refreshed charm that waits for the upgrade to be prepared.
    pub(super) fn any_refresh_pending(&self) -> Result<bool, Stop> {
        for unit in self.view.app_units() {
            if self.view.refresh_pending(unit)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
