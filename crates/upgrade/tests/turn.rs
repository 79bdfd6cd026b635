//! One turn's calling protocol: the outcome it returns, a sink that fails, and the two-step
//! read through `Pending`.

use std::cell::Cell;

use juju_upgrade::wire::{ROUND_KEY, STACK_KEY, STATE_KEY};
use juju_upgrade::{
    handle, handle_own_and_app, ActionOutcome, Bag, ClusterNotReady, DependencyModel, Effect,
    EffectSink, Event, Handled, Input, PeerSnapshot, UpgradeFailed, UpgradeHooks,
};

/// Counts the calls that touch the workload.
#[derive(Default)]
struct Workload {
    model: DependencyModel,
    checks: Cell<usize>,
    upgrades: Cell<usize>,
}

impl UpgradeHooks for Workload {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.checks.set(self.checks.get() + 1);
        Ok(())
    }

    fn upgrade_unit(
        &mut self,
        _: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.upgrades.set(self.upgrades.get() + 1);
        progress("upgrading snap...");
        Ok(())
    }
}

/// A sink that fails on its `n`th effect (counting from 1) and records what it took.
struct FailsAt {
    n: usize,
    taken: Vec<Effect>,
}

#[derive(Debug, PartialEq, Eq)]
struct Refused(Effect);

impl EffectSink for FailsAt {
    type Error = Refused;

    fn apply(&mut self, effect: Effect) -> Result<(), Refused> {
        if self.taken.len() + 1 == self.n {
            return Err(Refused(effect));
        }
        self.taken.push(effect);
        Ok(())
    }
}

/// Unit 1 of two, on top of the stack `[0, 1]`, both `ready` in round 1: its
/// `relation-changed` upgrades it.
fn granted_view() -> PeerSnapshot {
    let mut view = PeerSnapshot::new("mysql", 1, false);
    view.units.insert(0);
    view.app_bag.insert(STACK_KEY.into(), "[0, 1]".into());
    view.app_bag.insert(ROUND_KEY.into(), "1".into());
    for unit in [0, 1] {
        let bag = view.unit_bags.entry(unit).or_default();
        bag.insert(STATE_KEY.into(), "ready".into());
        bag.insert(ROUND_KEY.into(), "1".into());
    }
    view
}

#[test]
fn the_outcome_holds_the_bags_as_the_event_left_them() {
    let mut hooks = Workload::default();
    let mut effects: Vec<Effect> = Vec::new();
    let Ok(outcome) = handle(
        Input::new(Event::RelationChanged, granted_view()),
        &mut hooks,
        &mut effects,
    );
    assert_eq!(hooks.upgrades.get(), 1);
    assert_eq!(
        outcome.own_bag.get(STATE_KEY).map(String::as_str),
        Some("completed")
    );
    assert_eq!(
        outcome.app_bag,
        granted_view().app_bag,
        "a non-leader writes no app data"
    );
    assert!(!outcome.became_idle);
    assert_eq!(outcome.action, None, "a hook has no action result");
    assert_eq!(
        outcome
            .unit_status
            .as_ref()
            .map(|status| status.message.as_str()),
        Some("upgrade completed")
    );
    assert_eq!(
        outcome.unit_view().own_state(),
        Ok(Some(juju_upgrade::UnitState::Completed))
    );
}

#[test]
fn the_outcome_notes_the_return_to_idle_and_the_action_failure() {
    // The last unit completes with an empty stack: back to idle.
    let mut view = PeerSnapshot::new("mysql", 0, false);
    view.app_bag.insert(STACK_KEY.into(), "[]".into());
    view.unit_bags
        .entry(0)
        .or_default()
        .insert(STATE_KEY.into(), "completed".into());
    let mut effects: Vec<Effect> = Vec::new();
    let Ok(outcome) = handle(
        Input::new(Event::RelationChanged, view),
        &mut Workload::default(),
        &mut effects,
    );
    assert!(outcome.became_idle, "{effects:?}");

    // pre-upgrade-check on a non-leader fails with v0's message.
    let mut effects: Vec<Effect> = Vec::new();
    let Ok(outcome) = handle(
        Input::new(Event::PreUpgradeCheck, granted_view()),
        &mut Workload::default(),
        &mut effects,
    );
    assert_eq!(
        outcome.action,
        Some(ActionOutcome::Failed(
            "Action must be ran on the Juju leader.".into()
        ))
    );
    assert!(outcome.action_failed());
}

#[test]
fn a_failing_sink_stops_the_turn_before_the_workload_is_touched() {
    // The effects of a granted unit, in order, with a sink that never fails.
    let mut all: Vec<Effect> = Vec::new();
    let Ok(_) = handle(
        Input::new(Event::RelationChanged, granted_view()),
        &mut Workload::default(),
        &mut all,
    );
    let upgrading = all
        .iter()
        .position(|effect| matches!(effect, Effect::SetUnit { key, value } if key == STATE_KEY && value == "upgrading"))
        .expect("the unit upgrades");
    // Failing at any effect up to `upgrading` stops the turn before `upgrade_unit`.
    for n in 1..=upgrading + 1 {
        let mut hooks = Workload::default();
        let mut sink = FailsAt {
            n,
            taken: Vec::new(),
        };
        let err = handle(
            Input::new(Event::RelationChanged, granted_view()),
            &mut hooks,
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(err, Refused(all[n - 1].clone()), "failing at effect {n}");
        assert_eq!(
            sink.taken,
            all[..n - 1],
            "nothing after the failure, at {n}"
        );
        assert_eq!(
            hooks.upgrades.get(),
            0,
            "the workload untouched, failing at {n}"
        );
    }
}

#[test]
fn a_failing_sink_stops_pre_upgrade_check_before_the_health_check() {
    let mut view = PeerSnapshot::new("mysql", 0, true);
    view.units.insert(1);
    for unit in [0, 1] {
        view.unit_bags
            .entry(unit)
            .or_default()
            .insert(STATE_KEY.into(), "idle".into());
    }
    let mut hooks = Workload::default();
    let mut sink = FailsAt {
        n: 1,
        taken: Vec::new(),
    };
    assert!(handle(
        Input::new(Event::PreUpgradeCheck, view),
        &mut hooks,
        &mut sink
    )
    .is_err());
    assert_eq!(hooks.checks.get(), 0);
}

#[test]
fn pending_completes_with_the_other_bags_as_if_every_bag_had_been_read() {
    let full = granted_view();
    let partial = PeerSnapshot::own_and_app(
        "mysql",
        1,
        false,
        full.app_units(),
        full.unit_bags[&1].clone(),
        full.app_bag.clone(),
    );
    let mut hooks = Workload::default();
    let mut effects: Vec<Effect> = Vec::new();
    let Ok(handled) = handle_own_and_app(
        Input::new(Event::RelationChanged, partial),
        &mut hooks,
        &mut effects,
    );
    let Handled::NeedsEveryUnit(pending) = handled else {
        panic!("the top unit needs every bag before it upgrades");
    };
    assert!(
        effects.is_empty(),
        "nothing emitted before the other bags are read"
    );
    assert_eq!(hooks.upgrades.get(), 0);
    assert_eq!(pending.units_to_read(), [0]);
    let bags: Vec<(u32, Bag)> = vec![(0, full.unit_bags[&0].clone())];
    let Ok(outcome) = pending.complete(bags, &mut hooks, &mut effects);

    let mut expected: Vec<Effect> = Vec::new();
    let Ok(expected_outcome) = handle(
        Input::new(Event::RelationChanged, full),
        &mut Workload::default(),
        &mut expected,
    );
    assert_eq!(effects, expected);
    assert_eq!(outcome, expected_outcome);
    assert_eq!(hooks.upgrades.get(), 1);
}
