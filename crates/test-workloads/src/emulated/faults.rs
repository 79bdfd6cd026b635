//! Faults a test arms for the emulated MySQL servers: a JSON file in the model directory,
//! read afresh by every operation, so a test can arm and disarm faults between hooks.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::write_atomically;
use mysql_charm::workload::WorkloadError;

/// Name of the faults file, in the model directory.
pub const FAULTS_FILE_NAME: &str = "mysql-faults.json";

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// mysqld of the matching version/unit fails to start (error log: MY-010119 Aborting).
    StartFails,
    /// The member starts but does not rejoin the group: it stays OFFLINE.
    NoRejoin,
    /// The upgrade checker run by the matching version/unit reports errors.
    UpgradeCheckFails,
    /// The matching unit's server does not answer cluster-status queries.
    StatusUnavailable,
    /// Starting the matching version on data written by a newer server fails with
    /// MY-013171 ("Downgrade is not supported") even where MySQL downgrades in place
    /// (within 8.0 from 8.0.35 on); elsewhere it fails without this fault.
    DowngradeRefused,
}

/// One armed fault. Each selector that is present must match; an absent one matches
/// anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The fault.
    pub kind: FaultKind,
    /// Only for this workload version (the version being started, or installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Only for this unit, e.g. `mysql/2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl FaultRule {
    /// A rule matching every unit and version.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            version: None,
            unit: None,
        }
    }

    /// Restricts the rule to one version.
    pub fn for_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Restricts the rule to one unit.
    pub fn for_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    fn matches(&self, kind: FaultKind, unit: &str, version: Option<&str>) -> bool {
        self.kind == kind
            && selects(self.unit.as_deref(), Some(unit))
            && selects(self.version.as_deref(), version)
    }
}

/// An absent selector matches anything; a present one only an equal value.
fn selects(selector: Option<&str>, value: Option<&str>) -> bool {
    match selector {
        None => true,
        Some(wanted) => value == Some(wanted),
    }
}

/// The faults file: `{"faults": [FaultRule, ...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// The armed faults.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

impl FaultPlan {
    /// Where the faults file of a model lives.
    pub fn path(model_dir: &Path) -> PathBuf {
        model_dir.join(FAULTS_FILE_NAME)
    }

    /// Reads the faults of a model; no file means no faults.
    pub fn load(model_dir: &Path) -> Result<Self, WorkloadError> {
        let path = Self::path(model_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(WorkloadError::io(&path, e)),
        };
        serde_json::from_str(&text).map_err(|e| WorkloadError::BadStateFile {
            path,
            reason: e.to_string(),
        })
    }

    /// Writes (atomically) the faults of a model, replacing any armed before.
    pub fn save(&self, model_dir: &Path) -> Result<(), WorkloadError> {
        let path = Self::path(model_dir);
        let json = serde_json::to_vec_pretty(self).map_err(|e| WorkloadError::BadStateFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &json)
    }

    /// Adds a rule.
    pub fn arm(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// Whether a fault of `kind` applies to `unit` running (or starting) `version`.
    pub fn is_armed(&self, kind: FaultKind, unit: &str, version: Option<&str>) -> bool {
        self.faults.iter().any(|r| r.matches(kind, unit, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_narrow_a_rule() {
        let plan = FaultPlan::default()
            .arm(FaultRule::new(FaultKind::StartFails).for_version("8.0.35"))
            .arm(FaultRule::new(FaultKind::NoRejoin).for_unit("mysql/2"));
        assert!(plan.is_armed(FaultKind::StartFails, "mysql/0", Some("8.0.35")));
        assert!(!plan.is_armed(FaultKind::StartFails, "mysql/0", Some("8.0.34")));
        assert!(!plan.is_armed(FaultKind::StartFails, "mysql/0", None));
        assert!(plan.is_armed(FaultKind::NoRejoin, "mysql/2", None));
        assert!(!plan.is_armed(FaultKind::NoRejoin, "mysql/1", Some("8.0.35")));
        assert!(!plan.is_armed(FaultKind::UpgradeCheckFails, "mysql/2", None));
    }

    #[test]
    fn the_documented_json_shape_parses_and_typos_are_rejected() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"faults": [
                {"kind": "start-fails", "version": "8.0.35"},
                {"kind": "no-rejoin", "unit": "mysql/1"},
                {"kind": "upgrade-check-fails"},
                {"kind": "status-unavailable", "unit": "mysql/0", "version": "8.0.34"},
                {"kind": "downgrade-refused"}
            ]}"#,
        )
        .expect("documented shape");
        assert_eq!(plan.faults.len(), 5);
        assert_eq!(plan.faults[4].kind, FaultKind::DowngradeRefused);

        let typo = serde_json::from_str::<FaultPlan>(
            r#"{"faults": [{"kind": "start-fails", "versoin": "1"}]}"#,
        );
        assert!(typo.is_err());
    }
}
