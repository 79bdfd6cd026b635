//! Everything read from the peer relation is untrusted. Random bytes and strings into every
//! parser give `Ok` or a typed error (never a panic), and `handle` on random peer data never
//! panics and never writes when the data is invalid. The last part covers every key the core
//! reads, any set of units, every event with any action parameters, and whatever the charm
//! reports of itself (versions, pause setting).

mod support;

use juju_upgrade::wire::{
    CHARM_VERSIONS_KEY, COMPATIBILITY_SKIPPED_KEY, DEPENDENCIES_KEY, ORIGINAL_VERSIONS_KEY,
    REFRESH_PENDING_KEY, REFRESH_ROUND_KEY, RESUMED_ROUND_KEY, ROLLBACK_ROUND_KEY, ROUND_KEY,
    STACK_KEY, STATE_KEY, UPGRADE_TARGET_KEY,
};
use juju_upgrade::{
    handle, messages, parse_version, unit_number, verify_requirements, Bag, CharmVersions,
    DependencyModel, Effect, Event, Input, PauseAfterUnitRefresh, PeerScope, PeerSnapshot,
    Requirement, StatusKind, UnitState, UpgradeStack,
};
use proptest::prelude::*;
use support::{any_event, FakeHooks, RecordingHooks};

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
        let Ok(_) = handle(Input::new(event, view), &mut hooks, &mut effects);

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

// ---------- every key the core reads, every event, every action parameter ----------

/// A value for `key`: mostly well-formed for that key (so the core gets past validation and
/// into its rules), sometimes arbitrary text.
fn value_for(key: &'static str) -> BoxedStrategy<String> {
    let versions = ("[0-9]{1,3}", "8\\.0\\.3[0-9]")
        .prop_map(|(charm, workload)| CharmVersions::new(charm, workload).to_json());
    let round = "[0-9]{1,2}";
    let well_formed: BoxedStrategy<String> = match key {
        STATE_KEY => prop::sample::select(vec![
            "idle",
            "ready",
            "upgrading",
            "completed",
            "failed",
            "recovery",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        STACK_KEY => stack_like().boxed(),
        DEPENDENCIES_KEY => Just(support::REV_42_DEPS.to_owned()).boxed(),
        ROUND_KEY | REFRESH_ROUND_KEY | RESUMED_ROUND_KEY | ROLLBACK_ROUND_KEY => round.boxed(),
        COMPATIBILITY_SKIPPED_KEY => Just("true".to_owned()).boxed(),
        _ => versions.boxed(),
    };
    prop_oneof![
        10 => well_formed,
        1 => Just(String::new()),
        1 => any_text(),
    ]
    .boxed()
}

const APP_KEYS: [&str; 7] = [
    STACK_KEY,
    DEPENDENCIES_KEY,
    ROUND_KEY,
    ROLLBACK_ROUND_KEY,
    ORIGINAL_VERSIONS_KEY,
    UPGRADE_TARGET_KEY,
    COMPATIBILITY_SKIPPED_KEY,
];

const UNIT_KEYS: [&str; 6] = [
    STATE_KEY,
    ROUND_KEY,
    CHARM_VERSIONS_KEY,
    REFRESH_PENDING_KEY,
    REFRESH_ROUND_KEY,
    RESUMED_ROUND_KEY,
];

/// A bag with some of `keys` set, plus a key the core does not know.
fn bag(keys: &'static [&'static str]) -> impl Strategy<Value = Bag> {
    let entries: Vec<BoxedStrategy<Option<(String, String)>>> = keys
        .iter()
        .map(|&key| {
            prop::option::of(value_for(key).prop_map(move |value| (key.to_owned(), value))).boxed()
        })
        .collect();
    (entries, prop::option::of(("[a-z-]{1,12}", any_text())))
        .prop_map(|(entries, extra)| entries.into_iter().flatten().chain(extra).collect())
}

/// A snapshot of up to five units with arbitrary numbers (this unit among them or not), with
/// bags for some of them and for units that are not in the application.
fn hostile_snapshot() -> impl Strategy<Value = PeerSnapshot> {
    let unit_number = prop_oneof![0u32..6, any::<u32>()];
    (
        "[a-z][a-z0-9-]{0,8}",
        unit_number.clone(),
        any::<bool>(),
        prop::collection::btree_set(unit_number.clone(), 0..5),
        bag(&APP_KEYS),
        prop::collection::btree_map(unit_number, bag(&UNIT_KEYS), 0..6),
    )
        .prop_map(
            |(app, unit, is_leader, units, app_bag, unit_bags)| PeerSnapshot {
                app,
                unit,
                is_leader,
                units,
                app_bag,
                unit_bags,
                scope: PeerScope::EveryUnit,
            },
        )
}

/// The hooks' side: reported versions or not, any pause setting, failing upgrades or not.
fn hostile_hooks() -> impl Strategy<Value = RecordingHooks> {
    (
        prop_oneof![
            Just(CharmVersions::default()),
            ("[0-9]{1,3}", "8\\.0\\.3[0-9]").prop_map(|(c, w)| CharmVersions::new(c, w)),
        ],
        prop_oneof![
            Just(None),
            prop::sample::select(vec!["all", "first", "none"]).prop_map(|s| Some(s.to_owned())),
            any_text().prop_map(Some),
        ],
        any::<bool>(),
    )
        .prop_map(|(versions, pause, upgrade_fails)| {
            RecordingHooks::new(versions, pause, upgrade_fails)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the peer data, the event and the action parameters: no panic; corrupt data
    /// gives a blocked status naming the problem (and the action's failure) with no write and
    /// no workload touched; a non-leader never writes the app bag; an action always answers.
    #[test]
    fn hostile_peer_data_and_action_parameters_never_panic_and_are_refused_typed(
        view in hostile_snapshot(),
        event in any_event(),
        mut hooks in hostile_hooks(),
    ) {
        let valid = without_departed_units(&view).validate().is_ok();
        let refused_before_reading = event == Event::PreUpgradeCheck && !view.is_leader;
        let is_leader = view.is_leader;
        let mut effects = Vec::new();
        let Ok(_) = handle(Input::new(event, view), &mut hooks, &mut effects);

        let wrote = effects
            .iter()
            .any(|e| matches!(e, Effect::SetUnit { .. } | Effect::SetApp { .. }));
        let invalid_status = effects.iter().any(|e| matches!(
            e,
            Effect::UnitStatus(status)
                if status.kind == StatusKind::Blocked
                    && status.message.starts_with(messages::DATA_INVALID_PREFIX)
        ));
        let failure = effects.iter().find_map(|e| match e {
            Effect::ActionFail(message) => Some(message.clone()),
            _ => None,
        });
        let answered = failure.is_some()
            || effects.iter().any(|e| matches!(e, Effect::ActionResult { .. }));
        if !valid {
            prop_assert!(!wrote, "wrote despite invalid data: {:?}", effects);
            prop_assert_eq!(hooks.upgrades(), 0, "touched the workload on invalid data");
            if !refused_before_reading {
                prop_assert!(invalid_status, "no status names the problem: {:?}", effects);
                if event.is_action() {
                    let failure = failure.clone().unwrap_or_default();
                    prop_assert!(failure.starts_with(messages::DATA_INVALID_PREFIX), "{}", failure);
                }
            }
        } else {
            prop_assert!(!invalid_status, "valid data called invalid: {:?}", effects);
        }
        if !is_leader {
            let wrote_app = effects.iter().any(|e| matches!(e, Effect::SetApp { .. }));
            prop_assert!(!wrote_app, "non-leader wrote the app bag");
        }
        if event.is_action() {
            prop_assert!(answered, "{} ended without a result or a failure: {:?}", event, effects);
        }
    }

    #[test]
    fn charm_versions_pause_settings_and_unit_names_parse_totally(
        text in prop_oneof![any_text(), value_for(CHARM_VERSIONS_KEY)],
    ) {
        if let Ok(versions) = CharmVersions::from_json(&text) {
            prop_assert_eq!(CharmVersions::from_json(&versions.to_json()), Ok(versions));
        }
        if let Ok(setting) = text.parse::<PauseAfterUnitRefresh>() {
            prop_assert_eq!(setting.as_str(), text.as_str());
        }
        let _ = PauseAfterUnitRefresh::effective(Some(&text));
        if let Some(number) = unit_number(&text) {
            prop_assert!(text.ends_with(&number.to_string()));
        }
    }
}
