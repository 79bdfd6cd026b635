//! Everything read from the peer relation is untrusted. Random bytes and strings into every
//! parser give `Ok` or a typed error (never a panic), and `handle` on random peer data never
//! panics and never writes when the data is invalid.

mod support;

use juju_upgrade::{
    handle, parse_version, verify_requirements, DependencyModel, Effect, Event, PeerSnapshot,
    Requirement, UnitState, UpgradeStack, DEPENDENCIES_KEY, ROUND_KEY, STACK_KEY, STATE_KEY,
};
use proptest::prelude::*;
use support::FakeHooks;

/// Arbitrary text, including text built from random bytes.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

/// Text shaped like a version range, to reach deep into the range parser.
fn range_like() -> impl Strategy<Value = String> {
    "[ \\^~<>=!*.,|0-9xXv+-]{0,24}"
}

/// Text shaped like a stack, to reach past the JSON parser.
fn stack_like() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<i64>(), 0..8).prop_map(|n| format!("{n:?}")),
        prop::collection::vec(0u32..6, 0..8).prop_map(|n| format!("{n:?}")),
        "\\[[0-9., \"a-]{0,16}\\]",
    ]
}

proptest! {
    #[test]
    fn unit_state_parse_is_total(text in any_text()) {
        match text.parse::<UnitState>() {
            Ok(state) => prop_assert_eq!(state.as_str(), text.as_str()),
            Err(err) => prop_assert_eq!(err.text, text),
        }
    }

    #[test]
    fn stack_parse_is_total_and_round_trips(text in prop_oneof![any_text(), stack_like()]) {
        if let Ok(stack) = UpgradeStack::from_json(&text) {
            prop_assert_eq!(UpgradeStack::from_json(&stack.to_json()), Ok(stack));
        }
    }

    #[test]
    fn requirement_and_version_parse_are_total(
        range in prop_oneof![any_text(), range_like()],
        version in prop_oneof![any_text(), "[0-9.v+-]{0,12}"],
    ) {
        match Requirement::parse(&range) {
            Ok(requirement) => {
                prop_assert_eq!(requirement.as_str(), range.as_str());
                if let Ok(parsed) = parse_version(&version) {
                    let _ = requirement.matches(&parsed);
                }
            }
            Err(err) => prop_assert_eq!(err.text, range.clone()),
        }
        if let Err(err) = parse_version(&version) {
            prop_assert_eq!(err.text, version.clone());
        }
        let _ = verify_requirements(&version, &range);
    }

    #[test]
    fn dependency_model_parse_is_total_and_round_trips(
        text in prop_oneof![
            any_text(),
            (range_like(), "[0-9.]{0,8}", any::<String>()).prop_map(|(range, version, name)| {
                format!(
                    r#"{{"c": {{"dependencies": {{"x": {range:?}}}, "name": {name:?}, "upgrade_supported": {range:?}, "version": {version:?}}}}}"#
                )
            }),
        ]
    ) {
        if let Ok(model) = DependencyModel::from_json(&text) {
            prop_assert_eq!(DependencyModel::from_json(&model.to_json()), Ok(model));
        }
    }
}

/// `view` with the stack units that are not in the application taken out: they departed, and
/// the core skips them (the leader drops them) rather than calling the data invalid.
fn without_departed_units(view: &PeerSnapshot) -> PeerSnapshot {
    let mut view = view.clone();
    if let Ok(stack) = view.upgrade_stack() {
        let members = view.app_units();
        let kept: Vec<u32> = stack
            .as_slice()
            .iter()
            .copied()
            .filter(|unit| members.contains(unit))
            .collect();
        if let Ok(kept) = UpgradeStack::from_units(kept) {
            view.app_bag.insert(STACK_KEY.into(), kept.to_json());
        }
    }
    view
}

fn state_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "idle",
            "ready",
            "upgrading",
            "completed",
            "failed",
            "recovery"
        ])
        .prop_map(|s| Some(s.to_owned())),
        any_text().prop_map(Some),
    ]
}

fn peer_data() -> impl Strategy<Value = (u32, bool, Vec<Option<String>>, String, String, String)> {
    (
        0u32..3,
        any::<bool>(),
        prop::collection::vec(state_text(), 3),
        prop_oneof![Just(String::new()), stack_like(), any_text()],
        prop_oneof![
            Just(String::new()),
            Just(support::REV_42_DEPS.to_owned()),
            any_text()
        ],
        prop_oneof![Just(String::new()), "[0-9]{1,3}", any_text()],
    )
}

proptest! {
    #[test]
    fn handle_never_panics_and_never_writes_invalid_data(
        (unit, is_leader, states, stack, deps, round) in peer_data(),
        event in prop::sample::select(vec![
            Event::RelationCreated,
            Event::PreUpgradeCheck,
            Event::UpgradeCharm,
            Event::RelationChanged,
        ]),
        upgrade_fails in any::<bool>(),
    ) {
        let mut view = PeerSnapshot::new("mysql", unit, is_leader);
        view.units.extend([0, 1, 2]);
        for (other, state) in states.iter().enumerate() {
            if let Some(state) = state {
                view.unit_bags
                    .entry(other as u32)
                    .or_default()
                    .insert(STATE_KEY.into(), state.clone());
            }
        }
        view.app_bag.insert(STACK_KEY.into(), stack);
        view.app_bag.insert(DEPENDENCIES_KEY.into(), deps);
        view.app_bag.insert(ROUND_KEY.into(), round);
        let valid = without_departed_units(&view).validate().is_ok();

        let mut hooks = FakeHooks::new();
        if upgrade_fails {
            hooks.upgrade_result = Err(juju_upgrade::UpgradeFailed { cause: "scripted".into() });
        }
        let mut effects = Vec::new();
        handle(&event, view, &mut hooks, &mut effects);

        let wrote = effects
            .iter()
            .any(|e| matches!(e, Effect::SetUnit { .. } | Effect::SetApp { .. }));
        if !valid {
            prop_assert!(!wrote, "wrote despite invalid data: {:?}", effects);
        }
        if !is_leader {
            let wrote_app = effects.iter().any(|e| matches!(e, Effect::SetApp { .. }));
            prop_assert!(!wrote_app, "non-leader wrote the app bag");
        }
    }
}
