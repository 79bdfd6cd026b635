//! What one unit sees of the upgrade peer relation at the start of a hook.
//!
//! The charm reads the relation through hook tools and hands the core a [`PeerSnapshot`]; the
//! core never calls Juju itself. The bags are untrusted strings: the accessors here parse them
//! and return typed errors instead of guessing.

use std::collections::{BTreeMap, BTreeSet};

use crate::dependency::DependencyModel;
use crate::error::SnapshotError;
use crate::stack::UpgradeStack;
use crate::state::{cluster_state, UnitState};
use crate::versions::CharmVersions;
use crate::wire::{
    CHARM_VERSIONS_KEY, DEPENDENCIES_KEY, ORIGINAL_VERSIONS_KEY, REFRESHED_AFTER_COMPLETING_KEY,
    REFRESH_PENDING_KEY, REFRESH_ROUND_KEY, RESUMED_ROUND_KEY, ROLLBACK_ROUND_KEY, ROUND_KEY,
    STACK_KEY, STATE_KEY, UPGRADE_TARGET_KEY,
};

/// A relation databag: string keys to string values.
pub type Bag = BTreeMap<String, String>;

/// The unit number in a Juju unit name (`mysql/2` is 2); `None` if the name is not `app/N`.
pub fn unit_number(name: &str) -> Option<u32> {
    let (app, number) = name.rsplit_once('/')?;
    if app.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// How much of the peer relation a [`PeerSnapshot`] holds.
///
/// Reading a bag is a hook-tool call, so a unit that reads every bag in every hook makes one
/// more call per unit in the application, and a whole rollout n^3 calls. Most hooks of a
/// non-leader only find that it is not its turn, which its own bag and the application bag
/// (the stack, the round, the target) already say: the charm reads those first and the rest
/// only when [`crate::handle_own_and_app`] asks for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PeerScope {
    /// Every unit's bag, this unit's and the application's.
    #[default]
    EveryUnit,
    /// This unit's bag and the application bag only. The units are known (`relation-list`),
    /// their bags are not: reading one is [`SnapshotError::NotRead`].
    OwnAndApp,
}

/// This unit's view of the peer relation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSnapshot {
    /// The application name, e.g. `mysql`.
    pub app: String,
    /// This unit's number (`mysql/2` is 2).
    pub unit: u32,
    /// Whether this unit is the leader (`is-leader`).
    pub is_leader: bool,
    /// Every unit of the application, this one included.
    pub units: BTreeSet<u32>,
    /// The application databag.
    pub app_bag: Bag,
    /// Unit databags by unit number; a unit that never wrote may be absent.
    pub unit_bags: BTreeMap<u32, Bag>,
    /// Which bags were read: with [`PeerScope::OwnAndApp`], `unit_bags` holds this unit's only.
    pub scope: PeerScope,
}

impl PeerSnapshot {
    /// A snapshot of a unit alone in its application, with empty bags.
    pub fn new(app: impl Into<String>, unit: u32, is_leader: bool) -> Self {
        PeerSnapshot {
            app: app.into(),
            unit,
            is_leader,
            units: BTreeSet::from([unit]),
            app_bag: Bag::new(),
            unit_bags: BTreeMap::new(),
            scope: PeerScope::EveryUnit,
        }
    }

    /// A view holding only this unit's bag and the application bag, of an application whose
    /// units are `units` (see [`PeerScope::OwnAndApp`]).
    pub fn own_and_app(
        app: impl Into<String>,
        unit: u32,
        is_leader: bool,
        units: BTreeSet<u32>,
        own_bag: Bag,
        app_bag: Bag,
    ) -> Self {
        let mut view = PeerSnapshot::new(app, unit, is_leader);
        view.units.extend(units);
        view.unit_bags.insert(unit, own_bag);
        view.app_bag = app_bag;
        view.scope = PeerScope::OwnAndApp;
        view
    }

    /// Adds the other units' bags to a view read with [`PeerScope::OwnAndApp`]: it becomes a
    /// view of every unit. This unit's bag is kept as read; bags of units outside the
    /// application are ignored.
    pub fn with_other_bags(mut self, bags: impl IntoIterator<Item = (u32, Bag)>) -> Self {
        let members = self.app_units();
        for (unit, bag) in bags {
            if unit != self.unit && members.contains(&unit) {
                self.unit_bags.insert(unit, bag);
            }
        }
        self.scope = PeerScope::EveryUnit;
        self
    }

    /// Whether `unit`'s bag was read: always for this unit, for the others only in a view of
    /// every unit.
    pub fn has_read(&self, unit: u32) -> bool {
        unit == self.unit || self.scope == PeerScope::EveryUnit
    }

    /// An error unless every unit's bag was read: the core calls it before anything that
    /// acts on the workload, so that nothing is done on a partial view.
    pub fn require_every_unit(&self) -> Result<(), SnapshotError> {
        match self
            .app_units()
            .into_iter()
            .find(|&unit| !self.has_read(unit))
        {
            Some(unit) => Err(SnapshotError::NotRead { unit }),
            None => Ok(()),
        }
    }

    /// The application's units, with this unit always included.
    pub fn app_units(&self) -> BTreeSet<u32> {
        let mut units = self.units.clone();
        units.insert(self.unit);
        units
    }

    /// Juju's name for a unit of this application, e.g. `mysql/2`.
    pub fn unit_name(&self, unit: u32) -> String {
        format!("{}/{unit}", self.app)
    }

    /// A unit bag value; an empty value counts as absent, as Juju deletes keys set to "".
    /// A bag that was not read (see [`PeerScope`]) reads as empty here; the typed accessors
    /// below report it as [`SnapshotError::NotRead`] instead.
    pub fn unit_value(&self, unit: u32, key: &str) -> Option<&str> {
        self.unit_bags
            .get(&unit)
            .and_then(|bag| bag.get(key))
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// [`Self::unit_value`], refusing a bag that was not read.
    fn read_unit_value(&self, unit: u32, key: &str) -> Result<Option<&str>, SnapshotError> {
        if !self.has_read(unit) {
            return Err(SnapshotError::NotRead { unit });
        }
        Ok(self.unit_value(unit, key))
    }

    /// An app bag value; an empty value counts as absent.
    pub fn app_value(&self, key: &str) -> Option<&str> {
        self.app_bag
            .get(key)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// A unit's state; `None` when it has not written one.
    pub fn unit_state(&self, unit: u32) -> Result<Option<UnitState>, SnapshotError> {
        self.read_unit_value(unit, STATE_KEY)?
            .map(|text| {
                text.parse().map_err(|_| SnapshotError::UnitState {
                    unit,
                    text: text.to_owned(),
                })
            })
            .transpose()
    }

    /// This unit's state.
    pub fn own_state(&self) -> Result<Option<UnitState>, SnapshotError> {
        self.unit_state(self.unit)
    }

    /// Every application unit's state.
    pub fn unit_states(&self) -> Result<BTreeMap<u32, Option<UnitState>>, SnapshotError> {
        self.app_units()
            .into_iter()
            .map(|unit| Ok((unit, self.unit_state(unit)?)))
            .collect()
    }

    /// The cluster state over every application unit (see [`cluster_state`]).
    pub fn cluster_state(&self) -> Result<Option<UnitState>, SnapshotError> {
        Ok(cluster_state(self.unit_states()?.into_values()))
    }

    /// The upgrade stack; empty when absent (v0 treats `[]` and a missing key alike).
    pub fn upgrade_stack(&self) -> Result<UpgradeStack, SnapshotError> {
        match self.app_value(STACK_KEY) {
            Some(text) => Ok(UpgradeStack::from_json(text)?),
            None => Ok(UpgradeStack::default()),
        }
    }

    /// The current upgrade round, if the stack was written by this core.
    pub fn app_round(&self) -> Result<Option<u64>, SnapshotError> {
        self.app_value(ROUND_KEY)
            .map(|text| {
                text.parse::<u64>().map_err(|_| SnapshotError::Round {
                    text: text.to_owned(),
                })
            })
            .transpose()
    }

    /// Whether `unit`'s round mark ([`ROUND_KEY`], written with `ready` and with `completed`)
    /// is the current round's: its `ready` or `completed` belongs to this round, not to an
    /// aborted one. Always true without a round (a stack written by v0).
    pub fn marked_this_round(&self, unit: u32) -> Result<bool, SnapshotError> {
        Ok(match self.app_round()? {
            None => true,
            Some(round) => {
                self.read_unit_value(unit, ROUND_KEY)? == Some(round.to_string().as_str())
            }
        })
    }

    /// The dependency model stored as the baseline of the deployed revision, if any.
    pub fn stored_dependencies(&self) -> Result<Option<DependencyModel>, SnapshotError> {
        self.app_value(DEPENDENCIES_KEY)
            .map(|text| DependencyModel::from_json(text).map_err(SnapshotError::from))
            .transpose()
    }

    /// Checks everything the core reads: every application unit's state, the stack (which may
    /// only name application units), the round and the stored dependencies, and the versions
    /// and rounds recorded beyond v0. In a view of this unit and the application
    /// ([`PeerScope::OwnAndApp`]), the bags it holds.
    pub fn validate(&self) -> Result<(), SnapshotError> {
        let read: Vec<u32> = self
            .app_units()
            .into_iter()
            .filter(|&unit| self.has_read(unit))
            .collect();
        for &unit in &read {
            self.unit_state(unit)?;
        }
        self.upgrade_stack()?.validate(&self.app_units())?;
        self.app_round()?;
        self.stored_dependencies()?;
        self.original_versions()?;
        self.upgrade_target()?;
        self.is_rollback_round()?;
        for unit in read {
            self.unit_charm_versions(unit)?;
            self.refresh_pending(unit)?;
            self.unit_round(unit, REFRESH_ROUND_KEY)?;
            self.unit_round(unit, REFRESHED_AFTER_COMPLETING_KEY)?;
            self.unit_round(unit, RESUMED_ROUND_KEY)?;
        }
        Ok(())
    }

    /// The versions the application ran before the current upgrade (app bag
    /// [`ORIGINAL_VERSIONS_KEY`]), if recorded.
    pub fn original_versions(&self) -> Result<Option<CharmVersions>, SnapshotError> {
        self.versions_at(None, ORIGINAL_VERSIONS_KEY)
    }

    /// The versions the current upgrade round moves to (app bag [`UPGRADE_TARGET_KEY`]).
    pub fn upgrade_target(&self) -> Result<Option<CharmVersions>, SnapshotError> {
        self.versions_at(None, UPGRADE_TARGET_KEY)
    }

    /// The versions of the charm `unit` runs (its bag's [`CHARM_VERSIONS_KEY`]), if recorded.
    pub fn unit_charm_versions(&self, unit: u32) -> Result<Option<CharmVersions>, SnapshotError> {
        self.versions_at(Some(unit), CHARM_VERSIONS_KEY)
    }

    /// If `unit` runs a refreshed charm that no stack covers yet, the versions it ran before
    /// (its bag's [`REFRESH_PENDING_KEY`]).
    pub fn refresh_pending(&self, unit: u32) -> Result<Option<CharmVersions>, SnapshotError> {
        self.versions_at(Some(unit), REFRESH_PENDING_KEY)
    }

    /// Whether the current round is a rollback (the app bag's [`ROLLBACK_ROUND_KEY`] names
    /// it): recovery entered by `pre-upgrade-check`, or a refresh back to the original versions.
    pub fn is_rollback_round(&self) -> Result<bool, SnapshotError> {
        let Some(text) = self.app_value(ROLLBACK_ROUND_KEY) else {
            return Ok(false);
        };
        let marked = text.parse::<u64>().map_err(|err| SnapshotError::Value {
            key: ROLLBACK_ROUND_KEY,
            unit: None,
            text: text.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(self.app_round()? == Some(marked))
    }

    /// A round number kept in `unit`'s bag under `key` ([`ROUND_KEY`], [`REFRESH_ROUND_KEY`],
    /// [`RESUMED_ROUND_KEY`]).
    pub fn unit_round(&self, unit: u32, key: &'static str) -> Result<Option<u64>, SnapshotError> {
        self.read_unit_value(unit, key)?
            .map(|text| {
                text.parse::<u64>().map_err(|err| SnapshotError::Value {
                    key,
                    unit: Some(unit),
                    text: text.to_owned(),
                    reason: err.to_string(),
                })
            })
            .transpose()
    }

    fn versions_at(
        &self,
        unit: Option<u32>,
        key: &'static str,
    ) -> Result<Option<CharmVersions>, SnapshotError> {
        let text = match unit {
            Some(unit) => self.read_unit_value(unit, key)?,
            None => self.app_value(key),
        };
        text.map(|text| {
            CharmVersions::from_json(text).map_err(|reason| SnapshotError::Value {
                key,
                unit,
                text: text.to_owned(),
                reason,
            })
        })
        .transpose()
    }

    /// Whether an upgrade is under way: a stack is written, a unit is anywhere but `idle`, or a
    /// unit runs a refreshed charm that waits for `pre-upgrade-check`. While it is, a charm
    /// should hold back other disruptive operations (reconfiguration, scaling, backups).
    pub fn upgrade_in_progress(&self) -> Result<bool, SnapshotError> {
        if !self.upgrade_stack()?.is_empty() {
            return Ok(true);
        }
        for unit in self.app_units() {
            if !matches!(self.unit_state(unit)?, None | Some(UnitState::Idle))
                || self.refresh_pending(unit)?.is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StackError;

    fn snapshot() -> PeerSnapshot {
        let mut view = PeerSnapshot::new("mysql", 0, true);
        view.units.extend([1, 2]);
        view
    }

    fn set_state(view: &mut PeerSnapshot, unit: u32, state: &str) {
        view.unit_bags
            .entry(unit)
            .or_default()
            .insert(STATE_KEY.into(), state.into());
    }

    #[test]
    fn states_parse_and_missing_bags_are_unreported() {
        let mut view = snapshot();
        set_state(&mut view, 0, "ready");
        set_state(&mut view, 1, "");
        assert_eq!(view.unit_state(0), Ok(Some(UnitState::Ready)));
        assert_eq!(view.unit_state(1), Ok(None), "empty means deleted");
        assert_eq!(view.unit_state(2), Ok(None), "never wrote");
        assert_eq!(view.cluster_state(), Ok(None));
        set_state(&mut view, 1, "completed");
        set_state(&mut view, 2, "upgrading");
        assert_eq!(view.cluster_state(), Ok(Some(UnitState::Ready)));
    }

    #[test]
    fn unknown_state_is_reported_with_unit_and_text() {
        let mut view = snapshot();
        set_state(&mut view, 2, "upgrayding");
        let err = view.cluster_state().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unit 2 state \"upgrayding\" is not a known state"
        );
        assert_eq!(view.validate(), Err(err));
    }

    #[test]
    fn units_outside_the_application_are_ignored() {
        let mut view = snapshot();
        for unit in 0..3 {
            set_state(&mut view, unit, "idle");
        }
        set_state(&mut view, 7, "garbage from a departed unit");
        assert_eq!(view.cluster_state(), Ok(Some(UnitState::Idle)));
        assert_eq!(view.validate(), Ok(()));
    }

    #[test]
    fn unit_numbers_come_from_juju_unit_names() {
        assert_eq!(unit_number("mysql/2"), Some(2));
        assert_eq!(unit_number("my-sql/10"), Some(10));
        for bad in [
            "mysql",
            "mysql/",
            "/3",
            "mysql/-1",
            "mysql/+1",
            "mysql/x",
            "mysql/99999999999",
        ] {
            assert_eq!(unit_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn this_unit_always_counts_as_an_application_unit() {
        let mut view = PeerSnapshot::new("mysql", 3, false);
        view.units.clear();
        assert_eq!(view.app_units(), BTreeSet::from([3]));
        assert_eq!(view.unit_name(3), "mysql/3");
    }

    #[test]
    fn stack_is_empty_when_absent_and_checked_against_the_application() {
        let mut view = snapshot();
        assert!(view.upgrade_stack().expect("absent is fine").is_empty());
        view.app_bag.insert(STACK_KEY.into(), "[0, 1, 2]".into());
        assert_eq!(view.upgrade_stack().map(|s| s.top()), Ok(Some(2)));
        view.app_bag.insert(STACK_KEY.into(), "[0, 1, 5]".into());
        assert_eq!(
            view.validate(),
            Err(SnapshotError::Stack(StackError::UnknownUnits {
                units: vec![5]
            }))
        );
        view.app_bag.insert(STACK_KEY.into(), "[0, 1".into());
        assert!(matches!(
            view.upgrade_stack(),
            Err(SnapshotError::Stack(StackError::Malformed { .. }))
        ));
    }

    #[test]
    fn stored_dependencies_parse_or_fail_typed() {
        let mut view = snapshot();
        assert_eq!(view.stored_dependencies(), Ok(None));
        view.app_bag.insert(
            DEPENDENCIES_KEY.into(),
            r#"{"charm": {"upgrade_supported": ">0", "version": "1"}}"#.into(),
        );
        let stored = view.stored_dependencies().expect("valid").expect("present");
        assert!(stored.get("charm").is_some());
        view.app_bag
            .insert(DEPENDENCIES_KEY.into(), "{'charm': 1}".into());
        assert!(matches!(
            view.validate(),
            Err(SnapshotError::Dependencies(_))
        ));
    }
}
