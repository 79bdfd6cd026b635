//! A unit that reads only its own bag and the application bag (`handle_own_and_app`) decides
//! what it would decide with every unit's bag, or asks for them having done nothing.
//!
//! The property runs both ways on plausible peer data (a few units, states, stacks, rounds and
//! versions drawn from small sets so that rounds and targets match often) and on hostile data,
//! for every event; the examples below pin which hooks stay partial.

mod support;

use std::collections::BTreeSet;

use juju_upgrade::wire::{
    CHARM_VERSIONS_KEY, ORIGINAL_VERSIONS_KEY, REFRESH_PENDING_KEY, REFRESH_ROUND_KEY,
    RESUMED_ROUND_KEY, ROLLBACK_ROUND_KEY, ROUND_KEY, STACK_KEY, STATE_KEY, UPGRADE_TARGET_KEY,
};
use juju_upgrade::{
    handle, handle_own_and_app, messages, Bag, CharmVersions, Effect, Event, Handled, LogLevel,
    Outcome, PeerScope, PeerSnapshot, SnapshotError, Status, StatusKind, UnitState,
};
use proptest::prelude::*;
use support::{any_event, RecordingHooks};

/// The view `full` would be with only its own bag and the application bag read.
fn partial_of(full: &PeerSnapshot) -> PeerSnapshot {
    PeerSnapshot::own_and_app(
        full.app.clone(),
        full.unit,
        full.is_leader,
        full.units.clone(),
        full.unit_bags.get(&full.unit).cloned().unwrap_or_default(),
        full.app_bag.clone(),
    )
}

/// `handle_own_and_app` as the charm calls it, the hooks' versions and pause setting in the
/// input, with a `Vec` sink.
fn two_bags(
    event: Event,
    partial: PeerSnapshot,
    hooks: &mut RecordingHooks,
    effects: &mut Vec<Effect>,
) -> Handled {
    let input = hooks.input(event, partial);
    let Ok(handled) = handle_own_and_app(input, hooks, effects);
    handled
}

/// `handle` on a view of every unit, as [`two_bags`] calls it.
fn every_bag(
    event: Event,
    full: PeerSnapshot,
    hooks: &mut RecordingHooks,
    effects: &mut Vec<Effect>,
) -> Outcome {
    let input = hooks.input(event, full);
    let Ok(outcome) = handle(input, hooks, effects);
    outcome
}

/// Whether the core gave `partial` back, untouched, asking for every unit's bag.
fn asks_for_every_unit(handled: &Handled, partial: &PeerSnapshot) -> bool {
    matches!(handled, Handled::NeedsEveryUnit(pending) if pending.view() == partial)
}

/// What a partial view leaves out (see `handle_own_and_app`): the status a waiting unit sets
/// when it sees another upgrading, and the debug lines saying the cluster failed or is in
/// recovery.
fn only_said_with_every_unit(effect: &Effect) -> bool {
    match effect {
        Effect::UnitStatus(status) => *status == Status::waiting(messages::WAITING_FOR_OTHERS),
        Effect::Log { level, message } => {
            *level == LogLevel::Debug
                && [
                    "Cluster failed to upgrade, exiting...",
                    "Cluster in recovery, skip...",
                ]
                .contains(&message.as_str())
        }
        _ => false,
    }
}

fn without_waiting(effects: Vec<Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .filter(|effect| !only_said_with_every_unit(effect))
        .collect()
}

/// Runs `event` both ways and checks the contract; returns whether the partial view sufficed.
fn check_both_ways(
    event: Event,
    full: PeerSnapshot,
    hooks: RecordingHooks,
) -> Result<bool, TestCaseError> {
    let partial = partial_of(&full);
    let mut partial_hooks = hooks.clone();
    let mut partial_effects = Vec::new();
    let handled = two_bags(
        event,
        partial.clone(),
        &mut partial_hooks,
        &mut partial_effects,
    );
    match handled {
        Handled::NeedsEveryUnit(back) => {
            prop_assert_eq!(
                back.view(),
                &partial,
                "the view must come back as it was given"
            );
            prop_assert!(
                partial_effects.is_empty(),
                "effects escaped a partial decision: {:?}",
                partial_effects
            );
            prop_assert!(
                partial_hooks.calls.is_empty(),
                "the workload was touched on a partial view: {:?}",
                partial_hooks.calls
            );
            Ok(false)
        }
        Handled::Done(_) => {
            prop_assert!(!full.is_leader && !event.is_action());
            let mut full_hooks = hooks;
            let mut full_effects = Vec::new();
            every_bag(event, full, &mut full_hooks, &mut full_effects);
            prop_assert_eq!(
                without_waiting(partial_effects),
                without_waiting(full_effects)
            );
            prop_assert!(partial_hooks.calls.is_empty(), "{:?}", partial_hooks.calls);
            prop_assert_eq!(full_hooks.calls, partial_hooks.calls);
            Ok(true)
        }
    }
}

fn versions(charm: &str, workload: &str) -> CharmVersions {
    CharmVersions::new(charm, workload)
}

/// One of the two revisions of an upgrade, as JSON.
fn some_versions() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        versions("182", "8.0.33").to_json(),
        versions("183", "8.0.34").to_json(),
    ])
}

fn maybe(value: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop_oneof![1 => Just(None), 2 => value.prop_map(Some)]
}

fn round() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["1", "2"]).prop_map(str::to_owned)
}

fn unit_bag() -> impl Strategy<Value = Bag> {
    (
        maybe(
            prop::sample::select(UnitState::ALL_WORST_FIRST.to_vec())
                .prop_map(|state| state.as_str().to_owned()),
        ),
        maybe(round()),
        maybe(some_versions()),
        prop_oneof![3 => Just(None), 1 => some_versions().prop_map(Some)],
        maybe(round()),
        prop_oneof![3 => Just(None), 1 => round().prop_map(Some)],
    )
        .prop_map(|(state, round, charm, pending, refresh_round, resumed)| {
            [
                (STATE_KEY, state),
                (ROUND_KEY, round),
                (CHARM_VERSIONS_KEY, charm),
                (REFRESH_PENDING_KEY, pending),
                (REFRESH_ROUND_KEY, refresh_round),
                (RESUMED_ROUND_KEY, resumed),
            ]
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key.to_owned(), value)))
            .collect()
        })
}

/// A few units with plausible bags; the stack some of them, highest on top.
fn plausible_snapshot() -> impl Strategy<Value = PeerSnapshot> {
    (2u32..6)
        .prop_flat_map(|units| {
            (
                Just(units),
                0..units,
                any::<bool>(),
                prop::collection::vec(unit_bag(), units as usize),
                prop::sample::subsequence((0..units).collect::<Vec<u32>>(), 0..=units as usize),
                maybe(round()),
                prop_oneof![3 => Just(None), 1 => round().prop_map(Some)],
                maybe(some_versions()),
                maybe(some_versions()),
            )
        })
        .prop_map(
            |(units, unit, is_leader, bags, stack, round, rollback, original, target)| {
                let mut view = PeerSnapshot::new("mysql", unit, is_leader);
                view.units = (0..units).collect::<BTreeSet<u32>>();
                view.unit_bags = bags
                    .into_iter()
                    .enumerate()
                    .map(|(n, bag)| (n as u32, bag))
                    .collect();
                if !stack.is_empty() {
                    view.app_bag.insert(STACK_KEY.into(), format!("{stack:?}"));
                }
                for (key, value) in [
                    (ROUND_KEY, round),
                    (ROLLBACK_ROUND_KEY, rollback),
                    (ORIGINAL_VERSIONS_KEY, original),
                    (UPGRADE_TARGET_KEY, target),
                ] {
                    if let Some(value) = value {
                        view.app_bag.insert(key.into(), value);
                    }
                }
                view
            },
        )
}

fn plausible_hooks() -> impl Strategy<Value = RecordingHooks> {
    (
        prop_oneof![
            Just(CharmVersions::default()),
            Just(versions("182", "8.0.33")),
            Just(versions("183", "8.0.34")),
        ],
        prop_oneof![
            Just(None),
            prop::sample::select(vec!["all", "first", "none"]).prop_map(|s| Some(s.to_owned())),
        ],
        any::<bool>(),
    )
        .prop_map(|(versions, pause, fails)| RecordingHooks::new(versions, pause, fails))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn a_partial_view_decides_as_the_full_view_or_asks_for_every_unit(
        full in plausible_snapshot(),
        event in any_event(),
        hooks in plausible_hooks(),
    ) {
        check_both_ways(event, full, hooks)?;
    }
}

/// A plausible snapshot with one value replaced by arbitrary text, in the application bag or
/// this unit's (the bags a partial view reads), or with a stack naming a unit that is not
/// there. (A corrupt bag of another unit: see the example further down.)
fn corrupted_snapshot() -> impl Strategy<Value = PeerSnapshot> {
    (
        plausible_snapshot(),
        any::<bool>(),
        prop::sample::select(vec![
            STATE_KEY,
            ROUND_KEY,
            CHARM_VERSIONS_KEY,
            REFRESH_PENDING_KEY,
            STACK_KEY,
            UPGRADE_TARGET_KEY,
            ROLLBACK_ROUND_KEY,
        ]),
        prop_oneof![
            any::<String>(),
            Just("[0, 9]".to_owned()),
            Just("upgrayding".to_owned())
        ],
    )
        .prop_map(|(mut view, own_bag, key, text)| {
            if own_bag {
                let unit = view.unit;
                view.unit_bags
                    .entry(unit)
                    .or_default()
                    .insert(key.into(), text);
            } else {
                view.app_bag.insert(key.into(), text);
            }
            view
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_partial_view_of_corrupt_data_decides_as_the_full_view_or_asks(
        full in corrupted_snapshot(),
        event in any_event(),
        hooks in plausible_hooks(),
    ) {
        check_both_ways(event, full, hooks)?;
    }
}

/// The property must not pass by always asking for every unit: over many plausible cases, a
/// good share is decided on the partial view, writes included.
#[test]
fn plausible_cases_are_often_decided_on_the_partial_view_with_writes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (plausible_snapshot(), any_event(), plausible_hooks());
    let (mut partial, mut partial_writing, mut total) = (0, 0, 0);
    for _ in 0..3000 {
        let (full, event, hooks) = strategy
            .new_tree(&mut runner)
            .expect("strategy builds")
            .current();
        let mut effects = Vec::new();
        let handled = two_bags(event, partial_of(&full), &mut hooks.clone(), &mut effects);
        total += 1;
        if matches!(handled, Handled::Done(_)) {
            partial += 1;
            if effects.iter().any(|e| matches!(e, Effect::SetUnit { .. })) {
                partial_writing += 1;
            }
        }
        check_both_ways(event, full, hooks).expect("the contract holds");
    }
    assert!(
        partial * 5 > total,
        "only {partial} of {total} decided partially"
    );
    assert!(
        partial_writing * 20 > total,
        "only {partial_writing} of {total} wrote partially"
    );
}

// ---------- which hooks stay partial ----------

fn set(view: &mut PeerSnapshot, unit: u32, key: &str, value: &str) {
    view.unit_bags
        .entry(unit)
        .or_default()
        .insert(key.into(), value.into());
}

/// Five units mid-upgrade (round 1, stack [0, 1, 2, 3, 4], unit 4 upgrading), from `unit`'s
/// side; every other unit `ready` in round 1.
fn mid_upgrade(unit: u32) -> PeerSnapshot {
    let mut view = PeerSnapshot::new("mysql", unit, unit == 0);
    view.units.extend(0..5);
    view.app_bag
        .insert(STACK_KEY.into(), "[0, 1, 2, 3, 4]".into());
    view.app_bag.insert(ROUND_KEY.into(), "1".into());
    for other in 0..5 {
        set(
            &mut view,
            other,
            STATE_KEY,
            if other == 4 { "upgrading" } else { "ready" },
        );
        set(&mut view, other, ROUND_KEY, "1");
    }
    view
}

fn v0_hooks() -> RecordingHooks {
    RecordingHooks::new(CharmVersions::default(), None, false)
}

/// `event` on the unit of `full`, decided on its own bag and the application bag alone.
fn decide_on_two_bags(event: Event, full: &PeerSnapshot) -> (Handled, Vec<Effect>) {
    let mut effects = Vec::new();
    let handled = two_bags(event, partial_of(full), &mut v0_hooks(), &mut effects);
    (handled, effects)
}

#[test]
fn a_non_leader_waiting_its_turn_decides_from_two_bags() {
    let mut effects = Vec::new();
    let handled = two_bags(
        Event::RelationChanged,
        partial_of(&mid_upgrade(2)),
        &mut v0_hooks(),
        &mut effects,
    );
    assert!(matches!(handled, Handled::Done(_)));
    assert_eq!(effects, Vec::<Effect>::new(), "waiting writes nothing");
}

#[test]
fn upgrade_charm_on_a_unit_below_the_top_is_decided_from_two_bags() {
    let mut full = mid_upgrade(2);
    set(&mut full, 2, STATE_KEY, "idle");
    let (handled, effects) = decide_on_two_bags(Event::UpgradeCharm, &full);
    assert!(matches!(handled, Handled::Done(_)));
    assert!(effects.contains(&Effect::UnitStatus(Status::waiting(
        messages::WAITING_FOR_OTHERS
    ))));
    assert!(effects.contains(&Effect::SetUnit {
        key: STATE_KEY.into(),
        value: "ready".into()
    }));
}

#[test]
fn the_unit_on_top_the_leader_and_actions_need_every_unit() {
    let mut top = mid_upgrade(4);
    set(&mut top, 4, STATE_KEY, "ready");
    for (event, view) in [
        (Event::RelationChanged, top),
        (Event::RelationChanged, mid_upgrade(0)),
        (Event::ResumeUpgrade, mid_upgrade(2)),
    ] {
        let partial = partial_of(&view);
        let mut hooks = v0_hooks();
        let mut effects = Vec::new();
        let handled = two_bags(event, partial.clone(), &mut hooks, &mut effects);
        assert!(
            asks_for_every_unit(&handled, &partial),
            "{event} on unit {}",
            view.unit
        );
        assert!(effects.is_empty() && hooks.calls.is_empty());
    }
}

#[test]
fn the_top_unit_upgrades_once_it_has_read_every_unit() {
    let mut full = mid_upgrade(4);
    set(&mut full, 4, STATE_KEY, "ready");
    let others: Vec<(u32, Bag)> = full
        .unit_bags
        .iter()
        .filter(|(&unit, _)| unit != 4)
        .map(|(&unit, bag)| (unit, bag.clone()))
        .collect();
    let mut hooks = v0_hooks();
    let mut effects = Vec::new();
    let Handled::NeedsEveryUnit(partial) = two_bags(
        Event::RelationChanged,
        partial_of(&full),
        &mut hooks,
        &mut effects,
    ) else {
        panic!("the top unit decided without the others' states");
    };
    let completed = partial.view().clone().with_other_bags(others);
    assert_eq!(completed, full);
    every_bag(Event::RelationChanged, completed, &mut hooks, &mut effects);
    assert_eq!(hooks.calls, vec!["upgrade_unit"]);
    assert!(effects.contains(&Effect::SetUnit {
        key: STATE_KEY.into(),
        value: "completed".into()
    }));
}

#[test]
fn a_completed_unit_with_the_stack_empty_reads_every_unit_before_returning_to_idle() {
    let mut full = PeerSnapshot::new("mysql", 1, false);
    full.units.extend(0..3);
    for unit in 0..3 {
        set(
            &mut full,
            unit,
            STATE_KEY,
            if unit == 2 { "upgrading" } else { "completed" },
        );
    }
    let partial = partial_of(&full);
    let handled = two_bags(
        Event::RelationChanged,
        partial.clone(),
        &mut v0_hooks(),
        &mut Vec::new(),
    );
    assert!(asks_for_every_unit(&handled, &partial));
    let mut effects = Vec::new();
    every_bag(Event::RelationChanged, full, &mut v0_hooks(), &mut effects);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::SetUnit { .. })),
        "unit 2 still upgrades: unit 1 must stay completed, {effects:?}"
    );
}

#[test]
fn handle_refuses_a_partial_view_where_it_needs_the_others() {
    let mut top = mid_upgrade(4);
    set(&mut top, 4, STATE_KEY, "ready");
    let mut hooks = v0_hooks();
    let mut effects = Vec::new();
    every_bag(
        Event::RelationChanged,
        partial_of(&top),
        &mut hooks,
        &mut effects,
    );
    assert!(
        hooks.calls.is_empty(),
        "nothing may be upgraded on a partial view"
    );
    let blocked = effects.iter().any(|e| {
        matches!(
            e,
            Effect::UnitStatus(status) if status.kind == StatusKind::Blocked
                && status.message.ends_with("unit 0's bag was not read")
        )
    });
    assert!(blocked, "{effects:?}");
}

#[test]
fn other_bags_complete_the_view_but_never_replace_this_units_or_add_strangers() {
    let own = Bag::from([(STATE_KEY.to_owned(), "ready".to_owned())]);
    let partial = PeerSnapshot::own_and_app(
        "mysql",
        1,
        false,
        BTreeSet::from([0, 1]),
        own.clone(),
        Bag::new(),
    );
    assert_eq!(partial.scope, PeerScope::OwnAndApp);
    assert_eq!(
        partial.unit_state(0),
        Err(SnapshotError::NotRead { unit: 0 })
    );
    assert_eq!(
        partial.require_every_unit(),
        Err(SnapshotError::NotRead { unit: 0 })
    );
    let idle = Bag::from([(STATE_KEY.to_owned(), "idle".to_owned())]);
    let full = partial.with_other_bags([(0, idle.clone()), (1, idle.clone()), (7, idle)]);
    assert_eq!(full.scope, PeerScope::EveryUnit);
    assert_eq!(full.unit_bags.get(&1), Some(&own));
    assert_eq!(
        full.unit_bags.keys().copied().collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(full.require_every_unit(), Ok(()));
}

#[test]
fn a_corrupt_bag_of_another_unit_blocks_the_leader_not_a_unit_waiting_without_reading_it() {
    let mut full = mid_upgrade(2);
    set(&mut full, 3, STATE_KEY, "upgrayding");
    let (handled, mut effects) = decide_on_two_bags(Event::RelationChanged, &full);
    assert!(matches!(handled, Handled::Done(_)));
    assert_eq!(effects, Vec::<Effect>::new(), "unit 2 keeps waiting");

    let mut leader = mid_upgrade(0);
    set(&mut leader, 3, STATE_KEY, "upgrayding");
    let partial = partial_of(&leader);
    let handled = two_bags(
        Event::RelationChanged,
        partial.clone(),
        &mut v0_hooks(),
        &mut effects,
    );
    assert!(asks_for_every_unit(&handled, &partial));
    every_bag(
        Event::RelationChanged,
        leader,
        &mut v0_hooks(),
        &mut effects,
    );
    let blocked = effects.iter().any(|e| {
        matches!(
            e,
            Effect::UnitStatus(status) if status.kind == StatusKind::Blocked
                && status.message.contains("unit 3 state \"upgrayding\" is not a known state")
        )
    });
    assert!(blocked, "{effects:?}");
}
