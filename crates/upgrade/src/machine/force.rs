//! The `force-upgrade` action: the operator moves a blocked unit on, naming each check to
//! skip.
//!
//! What blocks a unit is read from the bags, never remembered separately:
//! - the leader is `failed` and its charm does not support upgrading from the stored versions
//!   (and no force skipped that already): the compatibility check blocks it;
//! - any other `failed` unit: its upgrade or its health check after the upgrade failed;
//! - the leader is `idle` with no stack: the upgrade is not prepared (its pre-upgrade check
//!   failed, or was never run although units already run the refreshed charm).
//!
//! The action refuses when nothing is skipped, when the skip named does not match what blocks
//! the unit, and on a unit that nothing blocks, saying which unit is blocked. Every skip is
//! logged as a warning and returned in the action's `skipped` result.

use crate::dependency::check_upgrade;
use crate::effect::{Effect, EffectSink, LogLevel, Status};
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::state::UnitState;
use crate::wire::{
    COMPATIBILITY_SKIPPED_KEY, RESULT_KEY, ROUND_KEY, SKIPPED_KEY, UPGRADE_TARGET_KEY,
};

use super::{Stop, Turn};

/// The checks the operator asked to skip.
#[derive(Debug, Clone, Copy)]
pub(super) struct Skips {
    pub(super) compatibility_check: bool,
    pub(super) pre_upgrade_check: bool,
    pub(super) health_check: bool,
}

impl Skips {
    fn any(self) -> bool {
        self.compatibility_check || self.pre_upgrade_check || self.health_check
    }
}

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// The `force-upgrade` action.
    pub(super) fn force_upgrade<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
        skips: Skips,
    ) -> Result<(), Stop> {
        if !skips.any() {
            return self.fail_action(messages::FORCE_NOTHING_SKIPPED);
        }
        let name = self.own_name();
        let own = self.view.own_state()?;
        if own == Some(UnitState::Failed) {
            if let Some(reason) = self.compatibility_blocker(hooks)? {
                if !skips.compatibility_check {
                    return self.fail_action(&messages::force_needs_compatibility_skip(&name));
                }
                return self.force_past_compatibility(hooks, &name, &reason);
            }
            if !skips.health_check {
                return self.fail_action(&messages::force_needs_health_skip(&name));
            }
            return self.force_past_health(hooks, &name);
        }
        let unprepared = matches!(own, None | Some(UnitState::Idle))
            && self.view.upgrade_stack()?.is_empty()
            && self.view.cluster_state()? == Some(UnitState::Idle);
        if unprepared {
            if !skips.pre_upgrade_check {
                return self.fail_action(&messages::force_needs_pre_upgrade_skip(&self.view.app));
            }
            if !self.view.is_leader {
                return self.fail_action(&messages::force_prepare_on_leader(&self.view.app));
            }
            return self.force_past_pre_upgrade_check(hooks, &name, skips);
        }
        let hint = match self
            .view
            .unit_states()?
            .into_iter()
            .find(|&(unit, state)| unit != self.view.unit && state == Some(UnitState::Failed))
        {
            Some((unit, _)) => format!(
                " The blocked unit is {0}: `juju run {0} force-upgrade ...`",
                self.view.unit_name(unit)
            ),
            None => String::new(),
        };
        let state = own.map_or("none", UnitState::as_str);
        self.fail_action(&messages::force_not_blocked(&name, state, &hint))
    }

    /// Why the compatibility check blocks this unit, if it does: it is the leader, `failed`,
    /// and its charm does not support upgrading from the stored versions (a rollback and a
    /// check already skipped by force do not count).
    pub(super) fn compatibility_blocker<H: UpgradeHooks>(
        &self,
        hooks: &H,
    ) -> Result<Option<String>, Stop> {
        if !self.view.is_leader
            || self.view.own_state()? != Some(UnitState::Failed)
            || self.view.app_value(COMPATIBILITY_SKIPPED_KEY).is_some()
        {
            return Ok(None);
        }
        if self.reports_versions()
            && self.view.original_versions()?.as_ref() == Some(&self.this_charm)
        {
            return Ok(None);
        }
        let Some(deployed) = self.view.stored_dependencies()? else {
            return Ok(None);
        };
        Ok(check_upgrade(&deployed, hooks.dependency_model())
            .err()
            .map(|err| err.to_string()))
    }

    fn force_past_compatibility<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
        name: &str,
        reason: &str,
    ) -> Result<(), Stop> {
        let check = "compatibility check";
        self.log(
            LogLevel::Warning,
            messages::force_skipped(name, check, &format!(" ({reason})")),
        );
        self.set_app(COMPATIBILITY_SKIPPED_KEY, "true".to_owned());
        if self.reports_versions() && self.view.upgrade_target()?.as_ref() != Some(&self.this_charm)
        {
            self.set_app(UPGRADE_TARGET_KEY, self.this_charm.to_json());
        }
        self.status(Status::waiting(messages::WAITING_FOR_OTHERS));
        self.set_ready();
        self.settle(hooks)?;
        self.forced(name, check)
    }

    fn force_past_health<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
        name: &str,
    ) -> Result<(), Stop> {
        let check = "health check";
        self.log(
            LogLevel::Warning,
            messages::force_skipped(
                name,
                check,
                " (its upgrade reported a failure; accepted as upgraded)",
            ),
        );
        // Accepted as upgraded: publish what it runs, as a successful upgrade does.
        if let Some(version) = hooks.workload_version(&self.view) {
            self.emit(Effect::WorkloadVersion(version));
        }
        self.status(Status::maintenance(messages::UPGRADE_COMPLETED));
        if let Some(round) = self.view.app_round()? {
            self.emit(Effect::SetUnit {
                key: ROUND_KEY.to_owned(),
                value: round.to_string(),
            });
        }
        self.set_own_state(UnitState::Completed);
        self.settle(hooks)?;
        self.forced(name, check)
    }

    fn force_past_pre_upgrade_check<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
        name: &str,
        skips: Skips,
    ) -> Result<(), Stop> {
        let mut skipped = vec!["pre-upgrade check"];
        self.log(
            LogLevel::Warning,
            messages::force_skipped(name, "pre-upgrade check", ""),
        );
        if skips.compatibility_check {
            skipped.push("compatibility check");
            self.log(
                LogLevel::Warning,
                messages::force_skipped(name, "compatibility check", ""),
            );
            self.set_app(COMPATIBILITY_SKIPPED_KEY, "true".to_owned());
        }
        self.prepare_upgrade(hooks)?;
        self.emit(Effect::ActionResult {
            key: SKIPPED_KEY.to_owned(),
            value: skipped.join(", "),
        });
        Ok(())
    }

    /// The action result of a successful force.
    fn forced(&mut self, name: &str, check: &str) -> Result<(), Stop> {
        self.emit(Effect::ActionResult {
            key: RESULT_KEY.to_owned(),
            value: messages::forced_result(name, check),
        });
        self.emit(Effect::ActionResult {
            key: SKIPPED_KEY.to_owned(),
            value: check.to_owned(),
        });
        Ok(())
    }
}
