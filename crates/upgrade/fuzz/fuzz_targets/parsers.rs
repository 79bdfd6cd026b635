//! Every parser of untrusted peer data, on arbitrary text: `Ok` or a typed error, never a panic;
//! what parses writes back to what parses the same.
#![no_main]

use juju_upgrade::{
    parse_version, unit_number, verify_requirements, CharmVersions, DependencyModel,
    PauseAfterUnitRefresh, Requirement, UnitState, UpgradeStack,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let _ = text.parse::<UnitState>();
    if let Ok(stack) = UpgradeStack::from_json(text) {
        assert_eq!(UpgradeStack::from_json(&stack.to_json()), Ok(stack));
    }
    if let Ok(model) = DependencyModel::from_json(text) {
        assert_eq!(DependencyModel::from_json(&model.to_json()), Ok(model));
    }
    if let Ok(versions) = CharmVersions::from_json(text) {
        assert_eq!(CharmVersions::from_json(&versions.to_json()), Ok(versions));
    }
    let _ = text.parse::<PauseAfterUnitRefresh>();
    let _ = unit_number(text);
    let (range, version) = text.split_once('\n').unwrap_or((text, text));
    if let Ok(requirement) = Requirement::parse(range) {
        if let Ok(parsed) = parse_version(version) {
            let _ = requirement.matches(&parsed);
        }
    }
    let _ = verify_requirements(version, range);
});
