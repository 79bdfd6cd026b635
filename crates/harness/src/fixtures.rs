//! Charm revisions used by the tests and the explorer, as in the how-to: revision 42 runs
//! MySQL 8.0.33, 43 runs 8.0.34 (the upgrade that fails), 44 runs 8.0.35 (a second refresh
//! target), 90 runs 9.1.0 (cannot upgrade from 8.0.33).

use juju_upgrade::DependencyModel;

use crate::cluster::Revision;

/// Revision 42 (the how-to's "previous" revision): MySQL 8.0.33.
pub const REV_42_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "42"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.33"}
}"#;

/// Revision 43 (the how-to's failed upgrade target): MySQL 8.0.34.
pub const REV_43_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "43"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.34"}
}"#;

/// Revision 44: MySQL 8.0.35, compatible with 8.0.33 and 8.0.34.
pub const REV_44_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "44"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.35"}
}"#;

/// A revision that cannot upgrade from 8.0.33.
pub const REV_90_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "90"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "^9.1", "version": "9.1.0"}
}"#;

/// The revision deployed before every explored upgrade.
pub const ORIGINAL_REVISION: u32 = 42;
/// The revision the explored upgrade refreshes to.
pub const UPGRADE_REVISION: u32 = 43;
/// The revision a second refresh in the middle of the upgrade goes to.
pub const SECOND_REFRESH_REVISION: u32 = 44;

/// Parses one of the fixture models.
///
/// # Panics
///
/// If `json` is not a valid dependency model: only for the constants above.
pub fn model(json: &str) -> DependencyModel {
    match DependencyModel::from_json(json) {
        Ok(model) => model,
        Err(err) => panic!("fixture dependency model is invalid: {err}"),
    }
}

/// Revisions 42 (8.0.33), 43 (8.0.34), 44 (8.0.35) and 90 (9.1.0).
pub fn howto_revisions() -> Vec<(u32, Revision)> {
    let revision = |deps: &str, workload: &str| Revision {
        model: model(deps),
        workload: workload.into(),
    };
    vec![
        (42, revision(REV_42_DEPS, "8.0.33")),
        (43, revision(REV_43_DEPS, "8.0.34")),
        (44, revision(REV_44_DEPS, "8.0.35")),
        (90, revision(REV_90_DEPS, "9.1.0")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_models_parse_and_only_90_is_incompatible() {
        let base = model(REV_42_DEPS);
        for deps in [REV_43_DEPS, REV_44_DEPS] {
            assert!(juju_upgrade::check_upgrade(&base, &model(deps)).is_ok());
        }
        assert!(juju_upgrade::check_upgrade(&base, &model(REV_90_DEPS)).is_err());
        assert_eq!(howto_revisions().len(), 4);
    }
}
