//! What a charm build is, as the upgrade protocol records it: its charm version and the
//! workload version it pins.
//!
//! Each unit records the versions of the charm it runs ([`CHARM_VERSIONS_KEY`]); the leader
//! records the versions the application ran before the current upgrade
//! ([`ORIGINAL_VERSIONS_KEY`]) and the versions the current upgrade round moves to
//! ([`UPGRADE_TARGET_KEY`]). A `juju refresh` back to the original versions while an upgrade is
//! under way is a rollback, recognised without `pre-upgrade-check`, and the original charm
//! revision gives the operator the exact rollback command.

use serde::{Deserialize, Serialize};

/// A charm build: its own version and the workload version it pins.
///
/// The charm reports it in [`crate::Input::charm`]. An empty `charm` means
/// "not reported", and keeps the core in its v0-compatible behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CharmVersions {
    /// The charm's revision or version, whatever identifies this build. A number is taken as
    /// the Charmhub revision that `juju refresh --revision` accepts, e.g. `42`.
    pub charm: String,
    /// The workload version this charm build installs, e.g. `8.0.33`.
    pub workload: String,
}

impl CharmVersions {
    /// Versions of a charm build.
    pub fn new(charm: impl Into<String>, workload: impl Into<String>) -> Self {
        CharmVersions {
            charm: charm.into(),
            workload: workload.into(),
        }
    }

    /// Whether the charm reported anything (a non-empty `charm`).
    pub fn is_reported(&self) -> bool {
        !self.charm.is_empty()
    }

    /// The stored form: a JSON object with `charm` and `workload`.
    pub fn to_json(&self) -> String {
        // Serialising two strings cannot fail; fall back to an empty object all the same.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Parses the stored form; the error is the parser's reason.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|err| err.to_string())
    }

    /// How an operator reads it: `revision 42 (workload 8.0.33)`.
    pub fn describe(&self) -> String {
        let charm = if self.charm.bytes().all(|b| b.is_ascii_digit()) && !self.charm.is_empty() {
            format!("revision {}", self.charm)
        } else {
            format!("charm {}", self.charm)
        };
        if self.workload.is_empty() {
            charm
        } else {
            format!("{charm} (workload {})", self.workload)
        }
    }
}

/// The exact command that rolls `app` back to `original`.
///
/// `juju refresh <app> --revision=<N>` when the original charm is a Charmhub revision; a charm
/// deployed from a file can only be refreshed back from that file; when the original is not
/// known (an upgrade prepared by v0), the revision is left for the operator to fill in.
pub fn rollback_command(app: &str, original: Option<&CharmVersions>) -> String {
    match original {
        Some(versions)
            if !versions.charm.is_empty() && versions.charm.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("juju refresh {app} --revision={}", versions.charm)
        }
        Some(versions) if versions.is_reported() => {
            format!(
                "juju refresh {app} --path=<charm file of {}>",
                versions.charm
            )
        }
        _ => format!("juju refresh {app} --revision=<previous revision>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_through_json() {
        let versions = CharmVersions::new("42", "8.0.33");
        let text = versions.to_json();
        assert_eq!(text, r#"{"charm":"42","workload":"8.0.33"}"#);
        assert_eq!(CharmVersions::from_json(&text), Ok(versions));
        assert!(CharmVersions::from_json("42").is_err());
        assert!(CharmVersions::from_json(r#"{"charm": 42}"#).is_err());
    }

    #[test]
    fn unreported_versions_are_empty() {
        assert!(!CharmVersions::default().is_reported());
        assert!(CharmVersions::new("local:mysql-3", "").is_reported());
    }

    #[test]
    fn rollback_command_uses_the_revision_when_there_is_one() {
        let rev = CharmVersions::new("42", "8.0.33");
        assert_eq!(
            rollback_command("mysql", Some(&rev)),
            "juju refresh mysql --revision=42"
        );
        let local = CharmVersions::new("local:mysql-3", "8.0.33");
        assert_eq!(
            rollback_command("mysql", Some(&local)),
            "juju refresh mysql --path=<charm file of local:mysql-3>"
        );
        assert_eq!(
            rollback_command("mysql", None),
            "juju refresh mysql --revision=<previous revision>"
        );
        assert_eq!(
            rollback_command("mysql", Some(&CharmVersions::default())),
            "juju refresh mysql --revision=<previous revision>"
        );
    }

    #[test]
    fn describe_names_revision_and_workload() {
        assert_eq!(
            CharmVersions::new("42", "8.0.33").describe(),
            "revision 42 (workload 8.0.33)"
        );
        assert_eq!(CharmVersions::new("dev", "").describe(), "charm dev");
    }
}
