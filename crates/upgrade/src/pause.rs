//! `pause-after-unit-refresh`: when the rolling upgrade stops for the operator to check the
//! units already upgraded, and `resume-upgrade` lets the next one go.
//!
//! The setting is the charm's config option of that name (`all`, `first`, `none`), handed to
//! the core in [`crate::Input::pause_after_unit_refresh`]. The operator's approval is
//! recorded by the paused unit in its own bag ([`RESUMED_ROUND_KEY`]), for the current round
//! only, so an approval never carries over to a rollback or a later upgrade.
//!
//! A rollback (a round the leader marks with [`ROLLBACK_ROUND_KEY`]: recovery entered by
//! `pre-upgrade-check` after a failure, or a refresh back to the original versions) pauses
//! only with `all`. It returns every unit to the revision that ran before, known to work, and
//! the operator's how-to promises that it completes after `juju refresh` with no further command;
//! with the default `first` it would otherwise stop after the failed unit rolled back.

use std::fmt;
use std::str::FromStr;

/// The config option's name, as operators type it.
pub const PAUSE_OPTION: &str = "pause-after-unit-refresh";

/// When the rolling upgrade waits for `resume-upgrade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PauseAfterUnitRefresh {
    /// Before every unit but the first.
    All,
    /// Before the second unit only: check one upgraded unit, then the rest go on their own.
    First,
    /// Never (config value `none`).
    Never,
}

/// A `pause-after-unit-refresh` value that is not `all`, `first` or `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{PAUSE_OPTION} must be \"all\", \"first\" or \"none\", not {}", crate::error::quoted(.text))]
pub struct InvalidPauseSetting {
    /// The value found.
    pub text: String,
}

impl PauseAfterUnitRefresh {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseAfterUnitRefresh::All => "all",
            PauseAfterUnitRefresh::First => "first",
            PauseAfterUnitRefresh::Never => "none",
        }
    }

    /// Whether the next unit must wait for `resume-upgrade`, given how many units of the current
    /// round have finished and left the stack.
    pub fn pauses_after(self, units_done: usize) -> bool {
        match self {
            PauseAfterUnitRefresh::All => units_done >= 1,
            PauseAfterUnitRefresh::First => units_done == 1,
            PauseAfterUnitRefresh::Never => false,
        }
    }

    /// Whether the next unit of a rollback must wait for `resume-upgrade`: only with `all`
    /// (see the module documentation), given how many units have finished.
    pub fn pauses_rollback_after(self, units_done: usize) -> bool {
        self == PauseAfterUnitRefresh::All && units_done >= 1
    }

    /// How the core reads the option: absent (the charm has no such option) never pauses, as
    /// v0; an invalid value pauses like `all`, the safe choice, and is reported.
    pub fn effective(setting: Option<&str>) -> (Self, Option<InvalidPauseSetting>) {
        match setting.map(str::parse::<Self>) {
            None => (PauseAfterUnitRefresh::Never, None),
            Some(Ok(parsed)) => (parsed, None),
            Some(Err(err)) => (PauseAfterUnitRefresh::All, Some(err)),
        }
    }
}

impl FromStr for PauseAfterUnitRefresh {
    type Err = InvalidPauseSetting;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "all" => Ok(PauseAfterUnitRefresh::All),
            "first" => Ok(PauseAfterUnitRefresh::First),
            "none" => Ok(PauseAfterUnitRefresh::Never),
            _ => Err(InvalidPauseSetting {
                text: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for PauseAfterUnitRefresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PauseAfterUnitRefresh::*;

    #[test]
    fn config_values_parse_and_print() {
        for setting in [All, First, Never] {
            assert_eq!(setting.as_str().parse(), Ok(setting));
        }
        assert_eq!(
            "All"
                .parse::<PauseAfterUnitRefresh>()
                .unwrap_err()
                .to_string(),
            "pause-after-unit-refresh must be \"all\", \"first\" or \"none\", not \"All\""
        );
    }

    #[test]
    fn first_pauses_before_the_second_unit_only_and_all_before_every_later_unit() {
        let pauses = |setting: PauseAfterUnitRefresh| -> Vec<bool> {
            (0..4).map(|done| setting.pauses_after(done)).collect()
        };
        assert_eq!(pauses(First), [false, true, false, false]);
        assert_eq!(pauses(All), [false, true, true, true]);
        assert_eq!(pauses(Never), [false, false, false, false]);
    }

    #[test]
    fn a_rollback_pauses_only_with_all() {
        let pauses = |setting: PauseAfterUnitRefresh| -> Vec<bool> {
            (0..4)
                .map(|done| setting.pauses_rollback_after(done))
                .collect()
        };
        assert_eq!(pauses(All), [false, true, true, true]);
        assert_eq!(pauses(First), [false, false, false, false]);
        assert_eq!(pauses(Never), [false, false, false, false]);
    }

    #[test]
    fn missing_option_never_pauses_and_invalid_option_pauses_like_all() {
        assert_eq!(PauseAfterUnitRefresh::effective(None), (Never, None));
        assert_eq!(
            PauseAfterUnitRefresh::effective(Some("first")),
            (First, None)
        );
        let (setting, err) = PauseAfterUnitRefresh::effective(Some("sometimes"));
        assert_eq!(setting, All);
        assert_eq!(err.map(|e| e.text), Some("sometimes".to_owned()));
    }
}
