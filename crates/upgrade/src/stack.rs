//! The upgrade stack: the order in which units upgrade (or roll back).
//!
//! Stored by the leader in the app bag as `upgrade-stack`, a JSON list of unit numbers. The TOP
//! is the LAST element and is the next unit to upgrade; the leader pops it once that unit has
//! completed. v0 reads and writes exactly this representation, so a Python charm and this core
//! can hand over to each other mid-upgrade.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::StackError;

/// Units in upgrade order, bottom first; the last element upgrades next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeStack {
    units: Vec<u32>,
}

impl UpgradeStack {
    /// A stack from units listed bottom first; rejects a unit listed twice.
    pub fn from_units(units: Vec<u32>) -> Result<Self, StackError> {
        let mut seen = BTreeSet::new();
        for &unit in &units {
            if !seen.insert(unit) {
                return Err(StackError::Duplicate { unit });
            }
        }
        Ok(UpgradeStack { units })
    }

    /// Parses the app bag's `upgrade-stack` value.
    ///
    /// Accepts only a JSON list of integers in `0..=u32::MAX` with no repeats; anything else
    /// (other JSON, strings, floats, negatives) is an error that keeps the text.
    pub fn from_json(text: &str) -> Result<Self, StackError> {
        let malformed = |reason: String| StackError::Malformed {
            text: text.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|err| malformed(err.to_string()))?;
        let items = value
            .as_array()
            .ok_or_else(|| malformed("not a list".to_owned()))?;
        let mut units = Vec::with_capacity(items.len());
        for item in items {
            let unit = item
                .as_u64()
                .and_then(|number| u32::try_from(number).ok())
                .ok_or_else(|| malformed(format!("{item} is not a unit number")))?;
            units.push(unit);
        }
        Self::from_units(units)
    }

    /// The stored form, as Python's `json.dumps` writes it (`[0, 1, 2]`), so data written by
    /// this core and by v0 look the same.
    pub fn to_json(&self) -> String {
        format!("[{}]", self.joined())
    }

    fn joined(&self) -> String {
        let parts: Vec<String> = self.units.iter().map(u32::to_string).collect();
        parts.join(", ")
    }

    /// The next unit to upgrade.
    pub fn top(&self) -> Option<u32> {
        self.units.last().copied()
    }

    /// Removes and returns the top unit (done by the leader once it completed).
    pub fn pop(&mut self) -> Option<u32> {
        self.units.pop()
    }

    /// Puts `unit` on top; rejects a unit already in the stack.
    pub fn push(&mut self, unit: u32) -> Result<(), StackError> {
        if self.contains(unit) {
            return Err(StackError::Duplicate { unit });
        }
        self.units.push(unit);
        Ok(())
    }

    /// Whether no unit is left to upgrade.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// How many units are left to upgrade.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether `unit` is still to upgrade.
    pub fn contains(&self, unit: u32) -> bool {
        self.units.contains(&unit)
    }

    /// The units, bottom first.
    pub fn as_slice(&self) -> &[u32] {
        &self.units
    }

    /// Puts back the units that already left the stack, for a rollback (v0's
    /// `_repair_upgrade_stack`).
    ///
    /// Every unit of `app_units` missing from the stack is inserted at index `len - 1`, just
    /// under the top, so the failed unit on top still rolls back first. The missing units are
    /// inserted from the highest number to the lowest, which for the default stack (highest
    /// number upgrades first) makes the rollback order the reverse of the upgrade order. An empty
    /// stack is left alone, as v0 does. Returns the inserted units in insertion order.
    pub fn repair(&mut self, app_units: &BTreeSet<u32>) -> Vec<u32> {
        if self.units.is_empty() {
            return Vec::new();
        }
        let missing: Vec<u32> = app_units
            .iter()
            .rev()
            .copied()
            .filter(|unit| !self.units.contains(unit))
            .collect();
        for &unit in &missing {
            let under_top = self.units.len() - 1;
            self.units.insert(under_top, unit);
        }
        missing
    }

    /// Puts `unit` just under the top, or on top of an empty stack, so the unit that is next
    /// stays next; rejects a unit already in the stack.
    ///
    /// Used for a unit that must go (again) although it already left the stack, e.g. after a
    /// second `juju refresh` reached it mid-upgrade.
    pub fn insert_under_top(&mut self, unit: u32) -> Result<(), StackError> {
        if self.contains(unit) {
            return Err(StackError::Duplicate { unit });
        }
        let under_top = self.units.len().saturating_sub(1);
        self.units.insert(under_top, unit);
        Ok(())
    }

    /// Checks that every unit in the stack belongs to the application.
    pub fn validate(&self, app_units: &BTreeSet<u32>) -> Result<(), StackError> {
        let unknown: BTreeSet<u32> = self
            .units
            .iter()
            .copied()
            .filter(|unit| !app_units.contains(unit))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(StackError::UnknownUnits {
                units: unknown.into_iter().collect(),
            })
        }
    }

    /// Checks that the stack holds exactly the application's units, as a freshly built stack
    /// must: a unit left out would never upgrade and the cluster would never return to idle.
    pub fn validate_complete(&self, app_units: &BTreeSet<u32>) -> Result<(), StackError> {
        self.validate(app_units)?;
        let missing: Vec<u32> = app_units
            .iter()
            .copied()
            .filter(|unit| !self.units.contains(unit))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(StackError::MissingUnits { units: missing })
        }
    }
}

impl fmt::Display for UpgradeStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(list: &[u32]) -> BTreeSet<u32> {
        list.iter().copied().collect()
    }

    fn stack(list: &[u32]) -> UpgradeStack {
        UpgradeStack::from_units(list.to_vec()).expect("no duplicates")
    }

    #[test]
    fn top_is_the_last_element_and_pop_removes_it() {
        let mut s = stack(&[0, 1, 2]);
        assert_eq!(s.top(), Some(2));
        assert_eq!(s.pop(), Some(2));
        assert_eq!(s.top(), Some(1));
        s.push(7).expect("new unit");
        assert_eq!(s.top(), Some(7));
        assert_eq!(s.push(0), Err(StackError::Duplicate { unit: 0 }));
        assert_eq!(s.as_slice(), &[0, 1, 7]);
    }

    #[test]
    fn json_round_trips_in_python_layout() {
        let s = UpgradeStack::from_json("[0,1, 2]").expect("valid");
        assert_eq!(s.as_slice(), &[0, 1, 2]);
        assert_eq!(s.to_json(), "[0, 1, 2]");
        assert_eq!(UpgradeStack::default().to_json(), "[]");
        assert_eq!(UpgradeStack::from_json("[]"), Ok(UpgradeStack::default()));
    }

    #[test]
    fn malformed_json_non_integers_and_duplicates_are_rejected() {
        for bad in [
            "",
            "[",
            "{}",
            "3",
            "null",
            "[\"1\"]",
            "[1.5]",
            "[-1]",
            "[1.0]",
            "[4294967296]",
            "[[1]]",
        ] {
            match UpgradeStack::from_json(bad) {
                Err(StackError::Malformed { text, .. }) => assert_eq!(text, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert_eq!(
            UpgradeStack::from_json("[0, 2, 0]"),
            Err(StackError::Duplicate { unit: 0 })
        );
    }

    #[test]
    fn repair_inserts_missing_units_just_under_the_top() {
        // v0's test_repair_upgrade_stack_puts_failed_unit_first_in_stack: [0, 2] with 1
        // completed and 2 failed becomes [0, 1, 2].
        let mut s = stack(&[0, 2]);
        assert_eq!(s.repair(&units(&[0, 1, 2])), vec![1]);
        assert_eq!(s.as_slice(), &[0, 1, 2]);

        // Default MySQL order [0, 1, 2, 3]: 3 and 2 completed, 1 failed. The rollback order is
        // 1 (failed), then 2, 3, then the leader 0.
        let mut s = stack(&[0, 1]);
        assert_eq!(s.repair(&units(&[0, 1, 2, 3])), vec![3, 2]);
        assert_eq!(s.as_slice(), &[0, 3, 2, 1]);
    }

    #[test]
    fn repair_leaves_a_complete_or_empty_stack_alone() {
        // v0's test_repair_upgrade_stack_does_not_modify_existing_stack.
        let mut s = stack(&[0, 2, 1]);
        assert!(s.repair(&units(&[0, 1, 2])).is_empty());
        assert_eq!(s.as_slice(), &[0, 2, 1]);
        let mut empty = UpgradeStack::default();
        assert!(empty.repair(&units(&[0, 1])).is_empty());
        assert!(empty.is_empty());
    }

    #[test]
    fn insert_under_top_keeps_the_next_unit_next() {
        let mut s = stack(&[0, 1]);
        s.insert_under_top(2).expect("new unit");
        assert_eq!(s.as_slice(), &[0, 2, 1]);
        assert_eq!(
            s.insert_under_top(1),
            Err(StackError::Duplicate { unit: 1 })
        );
        let mut empty = UpgradeStack::default();
        empty.insert_under_top(3).expect("new unit");
        assert_eq!(empty.as_slice(), &[3]);
    }

    #[test]
    fn validate_rejects_units_outside_the_application() {
        assert_eq!(stack(&[0, 1]).validate(&units(&[0, 1, 2])), Ok(()));
        assert_eq!(
            stack(&[0, 5, 1, 9]).validate(&units(&[0, 1])),
            Err(StackError::UnknownUnits { units: vec![5, 9] })
        );
        assert_eq!(
            stack(&[0, 1]).validate_complete(&units(&[0, 1, 2])),
            Err(StackError::MissingUnits { units: vec![2] })
        );
        assert_eq!(
            stack(&[2, 0, 1]).validate_complete(&units(&[0, 1, 2])),
            Ok(())
        );
    }
}
