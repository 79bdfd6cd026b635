//! Rounds another implementation drove: v0 (data-platform-libs' Python library) reads and
//! writes only `state`, `upgrade-stack` and `dependencies`, and leaves the keys only this
//! core writes as they were. Those keys then describe the time before v0 took over, and
//! trusting them takes a later refresh for a rollback, names a stale rollback revision, or
//! says "already upgraded" to a unit whose server v0 moved.
//!
//! # The seal
//!
//! Whenever this core writes a bag it also writes a [`SEAL_KEY`] into it: a copy of the
//! v0-visible keys of that bag as this write leaves them, and an epoch.
//!
//! - App bag: `{"epoch": N, "upgrade-stack": <text or null>}`, written by the leader in the
//!   same `relation-set` as every write of the stack (so two leaders whose hooks overlap
//!   leave a stack and a seal from the same hook), and when it adopts a new epoch.
//! - Unit bag: `{"epoch": N, "state": <text or null>}`, rewritten with every write of the bag.
//!
//! `dependencies` needs no copy: this core writes it in its own compact encoding
//! ([`crate::DependencyModel::to_json`]), v0 as Python's `json.dumps` spells it, so the text
//! itself shows who wrote it last. A leader sealing the app bag re-encodes a `dependencies`
//! written by v0 (the same model).
//!
//! The rule, applied to every view before any other rule reads it:
//!
//! - The app bag is **foreign** when its seal is present and `upgrade-stack` differs from the
//!   sealed text, or `dependencies` is not in this core's encoding (v0 prepared, popped or
//!   completed a round since). Its keys only this core writes (original versions, target,
//!   rounds, rollback marks, the compatibility skip) are then ignored; the leader deletes
//!   them.
//! - The current epoch is the app seal's, plus one while the app bag is foreign (the leader
//!   adopts that epoch when it next writes). No seal: epoch 0.
//! - A unit bag is **foreign** when its seal is present and either its `state` differs from
//!   the sealed one (v0 ran on that unit since) or its epoch is not the current one (it was
//!   sealed before a round another implementation drove). Its keys only this core writes
//!   (round marks, charm versions, pending refresh, approvals) are then ignored; the unit
//!   deletes its own.
//! - An unreadable seal is a foreign bag. A bag without a seal is trusted: nothing sealed it
//!   (a deployment v0 made, where those keys are absent anyway).
//!
//! What is left is v0's data, which this core reads as v0 does. Two consequences follow from
//! v0's data alone, beyond forgetting:
//!
//! - A recovery v0 prepared (a unit in `recovery`, no rollback round known) is a rollback to
//!   the charm the leader runs when it gets `upgrade-charm`: the leader records that charm as
//!   the original versions and marks the round a rollback, so it does not pause.
//! - While the original versions are unknown (v0 prepared the upgrade, and Juju does not tell
//!   a charm the revision it replaced), no status or log names a direct rollback: refreshed to
//!   a v0 revision while nothing failed, v0 would leave the units `ready` with an empty stack
//!   for ever. The statuses name the how-to's way instead (`pre-upgrade-check` after a
//!   failure, then `juju refresh` to the previous revision), which v0 completes.

use serde_json::{json, Value};

use crate::dependency::DependencyModel;
use crate::effect::{Effect, EffectSink, LogLevel, Status};
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::snapshot::{Bag, PeerSnapshot};
use crate::state::UnitState;
use crate::wire::{
    CHARM_VERSIONS_KEY, COMPATIBILITY_SKIPPED_KEY, DEPENDENCIES_KEY, ORIGINAL_VERSIONS_KEY,
    REFRESHED_AFTER_COMPLETING_KEY, REFRESH_PENDING_KEY, REFRESH_ROUND_KEY, RESUMED_ROUND_KEY,
    ROLLBACK_REFRESH_PENDING_KEY, ROLLBACK_ROUND_KEY, ROUND_KEY, SEAL_KEY, STACK_KEY, STATE_KEY,
    UPGRADE_TARGET_KEY,
};

use super::{Stop, Turn};

/// The app-bag keys only this core writes, ignored when the app bag is foreign.
pub(crate) const APP_ONLY_KEYS: [&str; 6] = [
    ORIGINAL_VERSIONS_KEY,
    UPGRADE_TARGET_KEY,
    ROUND_KEY,
    ROLLBACK_ROUND_KEY,
    ROLLBACK_REFRESH_PENDING_KEY,
    COMPATIBILITY_SKIPPED_KEY,
];

/// The unit-bag keys only this core writes, ignored when that unit's bag is foreign.
pub(crate) const UNIT_ONLY_KEYS: [&str; 6] = [
    ROUND_KEY,
    CHARM_VERSIONS_KEY,
    REFRESH_ROUND_KEY,
    REFRESHED_AFTER_COMPLETING_KEY,
    REFRESH_PENDING_KEY,
    RESUMED_ROUND_KEY,
];

/// The app seal's `(epoch, stack)`; `None` when absent, `Some(Err)` when unreadable.
fn app_seal(bag: &Bag) -> Option<Result<(u64, Value), ()>> {
    let text = bag.get(SEAL_KEY)?;
    Some(
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|seal| Some((seal.get("epoch")?.as_u64()?, seal.get(STACK_KEY)?.clone())))
            .ok_or(()),
    )
}

/// `dependencies` as this core would have written it, when the bag's text is not that (v0
/// wrote it); `None` when absent, already in this core's encoding, or unreadable (which
/// validation reports).
fn reencoded_dependencies(app: &Bag) -> Option<String> {
    let text = app.get(DEPENDENCIES_KEY)?;
    let ours = DependencyModel::from_json(text).ok()?.to_json();
    (ours != *text).then_some(ours)
}

/// Whether `dependencies` was written by another implementation.
fn dependencies_foreign(app: &Bag) -> bool {
    match app.get(DEPENDENCIES_KEY) {
        None => false,
        Some(text) => {
            DependencyModel::from_json(text).map_or(true, |model| model.to_json() != *text)
        }
    }
}

/// The unit seal's `(epoch, state)`; `None` when absent, `Some(Err)` when unreadable.
fn unit_seal(bag: &Bag) -> Option<Result<(u64, Value), ()>> {
    let text = bag.get(SEAL_KEY)?;
    Some(
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|seal| Some((seal.get("epoch")?.as_u64()?, seal.get(STATE_KEY)?.clone())))
            .ok_or(()),
    )
}

fn text_of(bag: &Bag, key: &str) -> Value {
    bag.get(key).map_or(Value::Null, |text| json!(text))
}

/// Whether the app bag is foreign, and the current epoch.
pub(crate) fn app_epoch(app: &Bag) -> (bool, u64) {
    match app_seal(app) {
        None => (false, 0),
        Some(Err(())) => (true, 1),
        Some(Ok((epoch, stack))) => {
            let foreign = stack != text_of(app, STACK_KEY) || dependencies_foreign(app);
            (foreign, epoch.saturating_add(u64::from(foreign)))
        }
    }
}

/// Whether a unit bag is foreign in `epoch`.
pub(crate) fn unit_is_foreign(bag: &Bag, epoch: u64) -> bool {
    match unit_seal(bag) {
        None => false,
        Some(Err(())) => true,
        Some(Ok((sealed_epoch, state))) => {
            sealed_epoch != epoch || state != text_of(bag, STATE_KEY)
        }
    }
}

/// The app seal for `app` (as this turn leaves it) in `epoch`.
pub(crate) fn app_seal_text(app: &Bag, epoch: u64) -> String {
    json!({"epoch": epoch, STACK_KEY: text_of(app, STACK_KEY)}).to_string()
}

/// The unit seal for `bag` (as this turn leaves it) in `epoch`.
pub(crate) fn unit_seal_text(bag: &Bag, epoch: u64) -> String {
    json!({"epoch": epoch, STATE_KEY: text_of(bag, STATE_KEY)}).to_string()
}

/// Removes the keys only this core writes from every foreign bag of `view`, judging the app
/// bag as read (`app_read`: the view's stack may already leave departed units out); returns
/// whether the app bag was foreign, the current epoch, and whether this unit's bag was.
pub(crate) fn forget_in_view(view: &mut PeerSnapshot, app_read: &Bag) -> (bool, u64, bool) {
    let (app_foreign, epoch) = app_epoch(app_read);
    if app_foreign {
        for key in APP_ONLY_KEYS {
            view.app_bag.remove(key);
        }
    }
    let mut own_foreign = false;
    for (&unit, bag) in view.unit_bags.iter_mut() {
        if unit_is_foreign(bag, epoch) {
            own_foreign |= unit == view.unit;
            for key in UNIT_ONLY_KEYS {
                bag.remove(key);
            }
        }
    }
    (app_foreign, epoch, own_foreign)
}

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// Applies the rule to this turn's view (before any other rule reads it): the foreign
    /// bags' keys are ignored, and deleted from the bags this unit may write.
    pub(super) fn forget_foreign_keys(&mut self) {
        let own_before = self.view.unit_bags.get(&self.view.unit).cloned();
        let app_before = self.app_bag_read.clone();
        let (app_foreign, epoch, own_foreign) = forget_in_view(&mut self.view, &self.app_bag_read);
        self.epoch = epoch;
        self.app_was_foreign = app_foreign;
        self.own_was_foreign = own_foreign;
        if app_foreign && self.view.is_leader {
            let stale: Vec<&str> = APP_ONLY_KEYS
                .into_iter()
                .filter(|key| app_before.contains_key(*key))
                .collect();
            if !stale.is_empty() {
                self.log(
                    LogLevel::Info,
                    format!(
                        "Another implementation (the upgrade library v0) drove the upgrade since this charm last wrote it: forgetting {}",
                        stale.join(", ")
                    ),
                );
            }
            for key in stale {
                self.set_app(key, String::new());
            }
        }
        if let (true, Some(before)) = (own_foreign, own_before) {
            for key in UNIT_ONLY_KEYS {
                if before.contains_key(key) {
                    self.emit(Effect::SetUnit {
                        key: key.to_owned(),
                        value: String::new(),
                    });
                }
            }
        }
    }

    /// Rewrites the seals of the bags this turn wrote (or found foreign), after every other
    /// write of the turn, so they go out in the same `relation-set`.
    pub(super) fn seal_written_bags(&mut self) {
        let wrote_v0_keys = self.app_writes.contains_key(STACK_KEY)
            || self.app_writes.contains_key(DEPENDENCIES_KEY);
        let first_seal = !self.app_bag_read.contains_key(SEAL_KEY) && !self.app_writes.is_empty();
        if self.view.is_leader && (wrote_v0_keys || first_seal || self.app_was_foreign) {
            let mut app = self.app_bag_read.clone();
            for (key, value) in &self.app_writes {
                super::apply_to_bag(&mut app, key, value);
            }
            let seal = app_seal_text(&app, self.epoch);
            // A charm that reports nothing keeps v0's data exactly, unless a seal is there to
            // keep true.
            let keep = self.reports_versions() || app.contains_key(SEAL_KEY);
            if keep && app.get(SEAL_KEY) != Some(&seal) {
                if let Some(ours) = reencoded_dependencies(&app) {
                    self.set_app(DEPENDENCIES_KEY, ours);
                }
                self.set_app(SEAL_KEY, seal);
            }
        }
        if !self.unit_writes.is_empty() || self.own_was_foreign {
            let mut own = self.own_bag_read.clone();
            for (key, value) in &self.unit_writes {
                super::apply_to_bag(&mut own, key, value);
            }
            let seal = unit_seal_text(&own, self.epoch);
            let keep = self.reports_versions() || own.contains_key(SEAL_KEY);
            if keep && own.get(SEAL_KEY) != Some(&seal) {
                self.emit(Effect::SetUnit {
                    key: SEAL_KEY.to_owned(),
                    value: seal,
                });
            }
        }
    }

    /// A recovery v0 prepared: a unit in `recovery` while no rollback round and no original
    /// versions are known. Needs every unit's bag.
    pub(super) fn recovery_prepared_by_v0(&self) -> Result<bool, Stop> {
        Ok(self.view.original_versions()?.is_none()
            && !self.view.is_rollback_round()?
            && self
                .view
                .unit_states()?
                .values()
                .any(|state| *state == Some(UnitState::Recovery)))
    }

    /// The leader running the charm a v0 recovery rolls back to takes it as a rollback: this
    /// charm is what the application returns to, and the round (a new one when v0 left none)
    /// is a rollback, so it does not pause.
    pub(super) fn adopt_v0_recovery(&mut self) -> Result<(), Stop> {
        self.log(
            LogLevel::Info,
            format!(
                "Rolling back to {} as prepared by the upgrade library v0's pre-upgrade-check",
                self.this_charm.describe()
            ),
        );
        self.set_app(ORIGINAL_VERSIONS_KEY, self.this_charm.to_json());
        if self.view.app_round()?.is_none() {
            self.start_round()?;
        }
        self.mark_rollback_round()
    }

    /// Whether statuses and logs may name a direct rollback: only when the versions it returns
    /// to are known.
    pub(super) fn direct_rollback_known(&self) -> Result<bool, Stop> {
        Ok(self
            .view
            .original_versions()?
            .is_some_and(|original| original.is_reported()))
    }
}

impl<S: EffectSink + ?Sized> Turn<'_, S> {
    /// The application status while an upgrade is under way and the versions a rollback
    /// returns to are unknown: as `app_status`, without a direct rollback.
    pub(super) fn app_status_original_unknown<H: UpgradeHooks>(
        &self,
        hooks: &H,
    ) -> Result<Status, Stop> {
        let app = &self.view.app;
        let stack = self.view.upgrade_stack()?;
        let states = self.view.unit_states()?;
        if stack.is_empty()
            && states
                .values()
                .all(|state| matches!(state, None | Some(UnitState::Idle)))
        {
            return Ok(Status::blocked(
                messages::refresh_not_prepared_app_original_unknown(app),
            ));
        }
        match self.view.cluster_state()? {
            Some(UnitState::Failed) => {
                let failed = states
                    .iter()
                    .filter(|(_, &state)| state == Some(UnitState::Failed))
                    .map(|(&unit, _)| unit);
                let unit = stack
                    .top()
                    .filter(|top| states.get(top) == Some(&Some(UnitState::Failed)))
                    .or_else(|| failed.clone().next())
                    .unwrap_or(self.view.unit);
                let what = if unit == self.view.unit && self.compatibility_blocker(hooks)?.is_some()
                {
                    "Refresh incompatible".to_owned()
                } else {
                    format!("Upgrade failed on {}", self.view.unit_name(unit))
                };
                return Ok(Status::blocked(
                    messages::upgrade_failed_app_original_unknown(app, &what),
                ));
            }
            Some(UnitState::Recovery) => {
                return Ok(Status::blocked(
                    messages::ready_to_roll_back_app_original_unknown(app),
                ));
            }
            _ => {}
        }
        if let Some(next) = self.paused_unit()? {
            return Ok(Status::blocked(messages::paused_app_original_unknown(
                &self.view.unit_name(next),
            )));
        }
        Ok(Status::maintenance(
            messages::UPGRADING_APP_ORIGINAL_UNKNOWN,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dependency model as v0 writes it (`json.dumps`).
    const DEPS: &str = r#"{"snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.34"}}"#;

    fn bag(pairs: &[(&str, &str)]) -> Bag {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_app_bag_is_foreign_once_v0_rewrote_the_stack_or_the_dependencies() {
        let ours = DependencyModel::from_json(DEPS).unwrap().to_json();
        let mut app = bag(&[(STACK_KEY, "[0, 1]"), (DEPENDENCIES_KEY, &ours)]);
        assert_eq!(app_epoch(&app), (false, 0), "no seal: trusted");
        app.insert(SEAL_KEY.into(), app_seal_text(&app, 3));
        assert_eq!(app_epoch(&app), (false, 3));
        app.insert(STACK_KEY.into(), "[0]".into());
        assert_eq!(app_epoch(&app), (true, 4));
        app.insert(STACK_KEY.into(), "[0, 1]".into());
        app.insert(DEPENDENCIES_KEY.into(), r#"{"a": 1}"#.into());
        assert_eq!(
            app_epoch(&app),
            (true, 4),
            "v0's spelling of the same model"
        );
        app.remove(DEPENDENCIES_KEY);
        assert_eq!(app_epoch(&app), (false, 3));
        app.insert(SEAL_KEY.into(), "{not json".into());
        assert_eq!(app_epoch(&app), (true, 1));
    }

    #[test]
    fn a_unit_bag_is_foreign_when_its_state_moved_or_its_epoch_is_old() {
        let mut unit = bag(&[(STATE_KEY, "idle"), (CHARM_VERSIONS_KEY, "x")]);
        assert!(!unit_is_foreign(&unit, 7), "no seal: trusted");
        unit.insert(SEAL_KEY.into(), unit_seal_text(&unit, 2));
        assert!(!unit_is_foreign(&unit, 2));
        assert!(unit_is_foreign(&unit, 3), "sealed before a foreign round");
        unit.insert(STATE_KEY.into(), "ready".into());
        assert!(unit_is_foreign(&unit, 2), "v0 ran on it");
    }

    #[test]
    fn forgetting_removes_only_the_keys_this_core_writes_from_foreign_bags() {
        let mut view = PeerSnapshot::new("mysql", 0, true);
        view.units.insert(1);
        let mut app = bag(&[
            (STACK_KEY, "[1, 0]"),
            (ORIGINAL_VERSIONS_KEY, r#"{"charm":"1","workload":"8"}"#),
            (ROUND_KEY, "4"),
        ]);
        app.insert(SEAL_KEY.into(), app_seal_text(&app, 0));
        app.insert(STACK_KEY.into(), "[1]".into());
        view.app_bag = app;
        let mut fresh = bag(&[(STATE_KEY, "ready"), (ROUND_KEY, "4")]);
        fresh.insert(SEAL_KEY.into(), unit_seal_text(&fresh, 1));
        let mut stale = bag(&[(STATE_KEY, "completed"), (ROUND_KEY, "4")]);
        stale.insert(SEAL_KEY.into(), unit_seal_text(&stale, 0));
        view.unit_bags.insert(0, fresh);
        view.unit_bags.insert(1, stale);

        let read = view.app_bag.clone();
        assert_eq!(forget_in_view(&mut view, &read), (true, 1, false));
        assert_eq!(view.app_value(STACK_KEY), Some("[1]"));
        assert_eq!(view.app_value(ORIGINAL_VERSIONS_KEY), None);
        assert_eq!(view.app_value(ROUND_KEY), None);
        assert_eq!(
            view.unit_value(0, ROUND_KEY),
            Some("4"),
            "sealed in epoch 1"
        );
        assert_eq!(view.unit_value(1, ROUND_KEY), None);
        assert_eq!(view.unit_value(1, STATE_KEY), Some("completed"));
    }
}
