//! What this charm revision ships: `versions.json` in the charm directory.
//!
//! One file pins the workload a revision installs (the `charmed-mysql` snap: its version and
//! the store revision carrying it) and states the revision's dependency model (components
//! `charm` and `snap`, as Charmed MySQL's `src/dependency.json`), which the leader compares
//! at `upgrade-charm` to decide whether the deployed versions may be upgraded in place.
//!
//! ```json
//! {
//!   "workload": {"name": "charmed-mysql", "version": "8.0.34", "revision": "69",
//!                "revisions": {"aarch64": "71"}},
//!   "dependencies": {
//!     "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "1"},
//!     "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.34"}
//!   }
//! }
//! ```
//!
//! The pinned workload and the `snap` component must agree: the compatibility check would
//! otherwise judge a version the charm does not install.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use juju_upgrade::{DependencyError, DependencyModel};
use serde::{Deserialize, Serialize};

use crate::workload::WorkloadRevision;

/// File name of the versions file, at the charm root.
pub const VERSIONS_FILE: &str = "versions.json";
/// The dependency-model component of the charm itself.
pub const CHARM_COMPONENT: &str = "charm";
/// The dependency-model component of the workload (Charmed MySQL calls it `snap`).
pub const WORKLOAD_COMPONENT: &str = "snap";

/// The workload build a charm revision installs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedWorkload {
    /// The package name, e.g. `charmed-mysql`.
    pub name: String,
    /// The MySQL version it carries, e.g. `8.0.34`.
    pub version: String,
    /// The package revision to install, e.g. `69`: the default for an architecture
    /// `revisions` does not name.
    pub revision: String,
    /// The revision per architecture, by `uname -m` name (`x86_64`, `aarch64`, `s390x`),
    /// as Charmed MySQL's `snap_revisions.json`: a store revision is built for one
    /// architecture.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revisions: BTreeMap<String, String>,
}

/// Why `versions.json` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// Not JSON, or not shaped as `{workload, dependencies}`.
    #[error("{VERSIONS_FILE} is not valid: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The dependency model is invalid.
    #[error("{VERSIONS_FILE} dependencies: {0}")]
    Dependencies(#[from] DependencyError),
    /// A component the charm needs is absent from the dependency model.
    #[error("{VERSIONS_FILE} dependencies have no {0:?} component")]
    MissingComponent(&'static str),
    /// The pinned workload and the `snap` component disagree.
    #[error(
        "{VERSIONS_FILE}: workload {field} {pinned:?} differs from the {WORKLOAD_COMPONENT} component's {component:?}"
    )]
    WorkloadMismatch {
        /// `version` or `name`.
        field: &'static str,
        /// The value under `workload`.
        pinned: String,
        /// The value under `dependencies.snap`.
        component: String,
    },
}

/// The file as stored.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsFile {
    workload: PinnedWorkload,
    dependencies: DependencyModel,
}

/// The versions of one charm revision, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    workload: PinnedWorkload,
    dependencies: DependencyModel,
}

/// Changes applied to a versions file when packing a charm revision (`cargo xtask pack`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionOverrides {
    /// The workload version (also the `snap` component's version).
    pub workload_version: Option<String>,
    /// The workload package revision, for every architecture.
    pub snap_revision: Option<String>,
    /// The `charm` component's version.
    pub charm_version: Option<String>,
    /// The `snap` component's `upgrade_supported`: the deployed workload versions this
    /// revision accepts to upgrade from.
    pub upgrade_supported: Option<String>,
}

impl Versions {
    /// Reads and validates `<charm_dir>/versions.json`.
    pub fn load(charm_dir: &Path) -> Result<Self, VersionsError> {
        let path = charm_dir.join(VERSIONS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| VersionsError::Read {
            path: path.clone(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses and validates the file's text.
    pub fn from_json(text: &str) -> Result<Self, VersionsError> {
        let file: VersionsFile =
            serde_json::from_str(text).map_err(|err| VersionsError::Malformed {
                reason: err.to_string(),
            })?;
        Self::new(file.workload, file.dependencies)
    }

    /// Builds and validates versions from their parts.
    pub fn new(
        workload: PinnedWorkload,
        dependencies: DependencyModel,
    ) -> Result<Self, VersionsError> {
        dependencies.validate()?;
        if dependencies.get(CHARM_COMPONENT).is_none() {
            return Err(VersionsError::MissingComponent(CHARM_COMPONENT));
        }
        let snap = dependencies
            .get(WORKLOAD_COMPONENT)
            .ok_or(VersionsError::MissingComponent(WORKLOAD_COMPONENT))?;
        if snap.version != workload.version {
            return Err(VersionsError::WorkloadMismatch {
                field: "version",
                pinned: workload.version.clone(),
                component: snap.version.clone(),
            });
        }
        if let Some(name) = snap.name.as_ref().filter(|name| **name != workload.name) {
            return Err(VersionsError::WorkloadMismatch {
                field: "name",
                pinned: workload.name.clone(),
                component: name.clone(),
            });
        }
        Ok(Self {
            workload,
            dependencies,
        })
    }

    /// The pinned workload.
    pub fn workload(&self) -> &PinnedWorkload {
        &self.workload
    }

    /// The pinned workload as the [`crate::workload::Workload`] trait installs it on this
    /// machine's architecture.
    pub fn workload_revision(&self) -> WorkloadRevision {
        self.workload_revision_for(std::env::consts::ARCH)
    }

    /// The pinned workload for the architecture `arch` (`uname -m` spelling, which is
    /// also Rust's for x86_64, aarch64 and s390x).
    pub fn workload_revision_for(&self, arch: &str) -> WorkloadRevision {
        let revision = self
            .workload
            .revisions
            .get(arch)
            .unwrap_or(&self.workload.revision);
        WorkloadRevision::new(&self.workload.version, revision)
    }

    /// The dependency model of this revision.
    pub fn dependencies(&self) -> &DependencyModel {
        &self.dependencies
    }

    /// A copy with `overrides` applied, validated again (e.g. a version outside its own
    /// `upgrade_supported` is refused, as the charm would refuse it at run time).
    pub fn with_overrides(&self, overrides: &VersionOverrides) -> Result<Self, VersionsError> {
        let mut workload = self.workload.clone();
        let mut dependencies = self.dependencies.clone();
        if let Some(version) = &overrides.workload_version {
            workload.version = version.clone();
            snap_component(&mut dependencies)?.version = version.clone();
        }
        if let Some(revision) = &overrides.snap_revision {
            // One revision for every architecture: the per-architecture pins no longer apply.
            workload.revision = revision.clone();
            workload.revisions.clear();
        }
        if let Some(range) = &overrides.upgrade_supported {
            snap_component(&mut dependencies)?.upgrade_supported = range.clone();
        }
        if let Some(version) = &overrides.charm_version {
            dependencies
                .components
                .get_mut(CHARM_COMPONENT)
                .ok_or(VersionsError::MissingComponent(CHARM_COMPONENT))?
                .version = version.clone();
        }
        Self::new(workload, dependencies)
    }

    /// The file's text, pretty-printed, as shipped in a charm.
    pub fn to_json_pretty(&self) -> String {
        let file = VersionsFile {
            workload: self.workload.clone(),
            dependencies: self.dependencies.clone(),
        };
        // Plain strings and maps of strings always serialise.
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }
}

fn snap_component(
    model: &mut DependencyModel,
) -> Result<&mut juju_upgrade::Dependency, VersionsError> {
    model
        .components
        .get_mut(WORKLOAD_COMPONENT)
        .ok_or(VersionsError::MissingComponent(WORKLOAD_COMPONENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../versions.json");

    fn shipped() -> Versions {
        match Versions::from_json(SHIPPED) {
            Ok(versions) => versions,
            Err(err) => panic!("the repository's versions.json must be valid: {err}"),
        }
    }

    #[test]
    fn the_repository_file_pins_charmed_mysql_and_matches_its_snap_component() {
        let versions = shipped();
        assert_eq!(versions.workload().name, "charmed-mysql");
        assert_eq!(versions.workload().version, "8.0.34");
        let revision = versions.workload_revision();
        assert_eq!(revision.version, "8.0.34");
        assert!(!revision.revision.is_empty());
        let snap = versions.dependencies().get(WORKLOAD_COMPONENT);
        assert_eq!(snap.map(|s| s.version.as_str()), Some("8.0.34"));
        assert!(versions.dependencies().get(CHARM_COMPONENT).is_some());
    }

    #[test]
    fn overrides_change_workload_and_components_together_and_round_trip() {
        let overrides = VersionOverrides {
            workload_version: Some("8.0.33".into()),
            snap_revision: Some("57".into()),
            charm_version: Some("2".into()),
            upgrade_supported: Some(">=8.0.30".into()),
        };
        let changed = shipped()
            .with_overrides(&overrides)
            .expect("valid overrides");
        assert_eq!(
            changed.workload_revision(),
            WorkloadRevision::new("8.0.33", "57")
        );
        let snap = changed
            .dependencies()
            .get(WORKLOAD_COMPONENT)
            .expect("snap");
        assert_eq!(snap.version, "8.0.33");
        assert_eq!(snap.upgrade_supported, ">=8.0.30");
        let charm = changed.dependencies().get(CHARM_COMPONENT).expect("charm");
        assert_eq!(charm.version, "2");
        let reread = Versions::from_json(&changed.to_json_pretty()).expect("round trip");
        assert_eq!(reread, changed);
    }

    #[test]
    fn each_architecture_installs_its_own_revision() {
        let text = SHIPPED.replacen(
            "\"revision\": \"69\"",
            "\"revision\": \"69\", \"revisions\": {\"aarch64\": \"71\", \"s390x\": \"72\"}",
            1,
        );
        let versions = Versions::from_json(&text).expect("valid");
        assert_eq!(versions.workload_revision_for("aarch64").revision, "71");
        assert_eq!(versions.workload_revision_for("s390x").revision, "72");
        assert_eq!(versions.workload_revision_for("x86_64").revision, "69");
        let reread = Versions::from_json(&versions.to_json_pretty()).expect("round trip");
        assert_eq!(reread, versions);
        let one = versions
            .with_overrides(&VersionOverrides {
                snap_revision: Some("57".into()),
                ..VersionOverrides::default()
            })
            .expect("override");
        assert_eq!(one.workload_revision_for("aarch64").revision, "57");
    }

    #[test]
    fn an_override_outside_its_own_range_is_refused() {
        let overrides = VersionOverrides {
            workload_version: Some("8.0.33".into()),
            upgrade_supported: Some(">8.0.33".into()),
            ..VersionOverrides::default()
        };
        let err = shipped().with_overrides(&overrides).unwrap_err();
        assert!(matches!(err, VersionsError::Dependencies(_)), "{err}");
    }

    #[test]
    fn mismatched_or_incomplete_files_are_typed_errors() {
        let mismatch = SHIPPED.replacen("\"version\": \"8.0.34\"", "\"version\": \"8.0.99\"", 1);
        assert!(matches!(
            Versions::from_json(&mismatch),
            Err(VersionsError::WorkloadMismatch {
                field: "version",
                ..
            })
        ));
        let no_snap = r#"{"workload": {"name": "charmed-mysql", "version": "8.0.34", "revision": "69"},
            "dependencies": {"charm": {"upgrade_supported": ">0", "version": "1"}}}"#;
        assert!(matches!(
            Versions::from_json(no_snap),
            Err(VersionsError::MissingComponent("snap"))
        ));
        assert!(matches!(
            Versions::from_json("{\"workload\": 1}"),
            Err(VersionsError::Malformed { .. })
        ));
        let missing = Versions::load(Path::new("/nonexistent/charm"));
        assert!(matches!(missing, Err(VersionsError::Read { .. })));
    }
}
