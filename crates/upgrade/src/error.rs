//! Typed errors of the upgrade core.
//!
//! Everything read from the peer relation is untrusted: any unit (or an older or newer charm
//! revision) may have written it. Each parser therefore returns one of these errors, keeping the
//! offending text so that the status and the log can name the problem exactly.

/// Longest piece of offending text quoted in an error message; the full text stays in the field.
const QUOTE_LIMIT: usize = 80;

/// Quotes `text` for a message, shortened so a huge bag value cannot flood a status line.
pub(crate) fn quoted(text: &str) -> String {
    let mut shown: String = text.chars().take(QUOTE_LIMIT).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// Joins unit numbers for a message: `1, 2, 5`.
fn unit_list(units: &[u32]) -> String {
    let names: Vec<String> = units.iter().map(u32::to_string).collect();
    names.join(", ")
}

/// A `state` value that is not one of the six unit states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a known state", quoted(.text))]
pub struct UnknownState {
    /// The text that was found.
    pub text: String,
}

/// Why an upgrade stack could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// Not a JSON list of non-negative integers.
    #[error("upgrade-stack {} is not a JSON list of unit numbers: {reason}", quoted(.text))]
    Malformed {
        /// The text that was found.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A unit appears more than once, so it would be upgraded twice.
    #[error("upgrade-stack lists unit {unit} more than once")]
    Duplicate {
        /// The repeated unit number.
        unit: u32,
    },
    /// Units that are not (or no longer) part of the application.
    #[error("upgrade-stack lists units that are not in the application: {}", unit_list(.units))]
    UnknownUnits {
        /// The unknown unit numbers, ascending.
        units: Vec<u32>,
    },
    /// Units of the application that a freshly built stack leaves out; they would never upgrade.
    #[error("upgrade-stack leaves out units of the application: {}", unit_list(.units))]
    MissingUnits {
        /// The missing unit numbers, ascending.
        units: Vec<u32>,
    },
}

/// A version string that cannot be read as `major[.minor[.patch]][-pre][+build]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {} is not valid: {reason}", quoted(.text))]
pub struct VersionParseError {
    /// The text that was found.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A requirement range that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("requirement {} is not valid: {reason}", quoted(.text))]
pub struct RequirementError {
    /// The text that was found.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a dependency model is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    /// Not JSON, or not shaped as a map of component name to dependency.
    #[error("dependencies {} are not a valid dependency model: {reason}", quoted(.text))]
    Malformed {
        /// The text that was found.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A component's `version` does not parse.
    #[error("component {component}: {source}")]
    Version {
        /// The component (first-level key), e.g. `snap`.
        component: String,
        /// The parse error.
        source: VersionParseError,
    },
    /// A component's `upgrade_supported` or one of its `dependencies` ranges does not parse.
    #[error("component {component} {field}: {source}")]
    Requirement {
        /// The component (first-level key), e.g. `charm`.
        component: String,
        /// `upgrade_supported` or `dependencies.<name>`.
        field: String,
        /// The parse error.
        source: RequirementError,
    },
    /// The component's own version is outside its `upgrade_supported` range (v0 refuses this).
    #[error(
        "component {component}: upgrade_supported value {upgrade_supported} greater than version value {version}"
    )]
    VersionOutsideOwnRange {
        /// The component (first-level key).
        component: String,
        /// Its `version`.
        version: String,
        /// Its `upgrade_supported`.
        upgrade_supported: String,
    },
}

/// Peer data that cannot be trusted: the core writes nothing and blocks the unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A unit's `state` is not a known state.
    #[error("unit {unit} state {} is not a known state", quoted(.text))]
    UnitState {
        /// The unit number.
        unit: u32,
        /// The text that was found.
        text: String,
    },
    /// The app bag's `upgrade-round` is not a number.
    #[error("upgrade-round {} is not a number", quoted(.text))]
    Round {
        /// The text that was found.
        text: String,
    },
    /// The app bag's `upgrade-stack` is unusable.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The app bag's `dependencies` is unusable.
    #[error(transparent)]
    Dependencies(#[from] DependencyError),
    /// Another key of the upgrade protocol holds a value that does not parse (the versions
    /// and rounds recorded beyond v0).
    #[error("{} {key} {} is not valid: {reason}", owner(.unit), quoted(.text))]
    Value {
        /// The key, e.g. `charm-versions`.
        key: &'static str,
        /// The unit whose bag holds it; `None` for the app bag.
        unit: Option<u32>,
        /// The text that was found.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The view holds this unit's bag and the application bag only
    /// ([`crate::PeerScope::OwnAndApp`]) and the decision needs another unit's. Not bad data:
    /// [`crate::handle_own_and_app`] answers it by asking for every unit's bag.
    #[error("unit {unit}'s bag was not read")]
    NotRead {
        /// The unit whose bag was needed.
        unit: u32,
    },
}

/// Names a bag for a message: `unit 2` or `app`.
fn owner(unit: &Option<u32>) -> String {
    match unit {
        Some(unit) => format!("unit {unit}"),
        None => "app".to_owned(),
    }
}

/// The charm's pre-upgrade check (or stack building) found the cluster not ready (v0's
/// `ClusterNotReadyError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (cause: {cause}{})", resolution_suffix(.resolution))]
pub struct ClusterNotReady {
    /// Shown to the operator as the action failure, e.g. "Pre-upgrade check failed. Cannot upgrade.".
    pub message: String,
    /// Short description of the cause, e.g. "Not all units are online".
    pub cause: String,
    /// What the operator can do about it; may be empty.
    pub resolution: String,
}

fn resolution_suffix(resolution: &str) -> String {
    if resolution.is_empty() {
        String::new()
    } else {
        format!("; resolution: {resolution}")
    }
}

/// The unit's upgrade (or rollback) of its workload failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upgrade failed: {cause}")]
pub struct UpgradeFailed {
    /// What went wrong, for the log.
    pub cause: String,
}

/// The deployed versions cannot be upgraded to the new charm's versions (v0's `VersionError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({cause})")]
pub struct VersionIncompatible {
    /// v0's message: `Versions incompatible, <component> <old> can not be upgraded to <new>...`.
    pub message: String,
    /// v0's cause: `Upgrades only supported for specific versions, <component> versions
    /// satisfying requirement <range>...`.
    pub cause: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_offending_text_is_shortened_in_the_message_but_kept_in_the_field() {
        let text = "x".repeat(500);
        let err = UnknownState { text: text.clone() };
        let message = err.to_string();
        assert!(message.len() < 120, "{message}");
        assert!(message.contains('…'));
        assert_eq!(err.text, text);
    }

    #[test]
    fn snapshot_error_names_unit_and_text() {
        let err = SnapshotError::UnitState {
            unit: 2,
            text: "upgrayding".into(),
        };
        assert_eq!(
            err.to_string(),
            "unit 2 state \"upgrayding\" is not a known state"
        );
    }

    #[test]
    fn cluster_not_ready_shows_resolution_only_when_given() {
        let mut err = ClusterNotReady {
            message: "Pre-upgrade check failed. Cannot upgrade.".into(),
            cause: "Not all units are online".into(),
            resolution: String::new(),
        };
        assert_eq!(
            err.to_string(),
            "Pre-upgrade check failed. Cannot upgrade. (cause: Not all units are online)"
        );
        err.resolution = "Ensure all units are online in the cluster".into();
        assert!(err
            .to_string()
            .ends_with("; resolution: Ensure all units are online in the cluster)"));
    }
}
