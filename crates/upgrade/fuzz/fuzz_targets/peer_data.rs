//! `handle` (and `handle_own_and_app` on the unit's own bag and the application bag) on
//! arbitrary peer data, for every event: never a panic, and when the data does not
//! validate, no bag write and no workload touched.
#![no_main]

use juju_upgrade::wire::{DEPENDENCIES_KEY, ROUND_KEY, STACK_KEY, STATE_KEY};
use juju_upgrade::{
    handle, handle_own_and_app, ClusterNotReady, DependencyModel, Effect, Event, Handled, Input,
    PeerSnapshot, UpgradeFailed, UpgradeHooks,
};
use libfuzzer_sys::fuzz_target;

struct Hooks {
    model: DependencyModel,
    upgrades: usize,
}

impl UpgradeHooks for Hooks {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }
    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        Ok(())
    }
    fn upgrade_unit(
        &mut self,
        _: &PeerSnapshot,
        _: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.upgrades += 1;
        Ok(())
    }
}

const EVENTS: [Event; 7] = [
    Event::RelationCreated,
    Event::PreUpgradeCheck,
    Event::UpgradeCharm,
    Event::RelationChanged,
    Event::LeaderElected,
    Event::RelationDeparted,
    Event::ResumeUpgrade,
];

fuzz_target!(|data: &[u8]| {
    // Fields separated by 0xff: three unit states, the stack, the dependencies, the round.
    let fields: Vec<String> = data
        .split(|&b| b == 0xff)
        .map(|field| String::from_utf8_lossy(field).into_owned())
        .collect();
    let field = |i: usize| fields.get(i).cloned().unwrap_or_default();
    let selector = data.first().copied().unwrap_or(0);
    let mut view = PeerSnapshot::new("mysql", u32::from(selector % 3), selector & 0x80 != 0);
    view.units.extend([0, 1, 2]);
    for unit in 0..3u32 {
        view.unit_bags
            .entry(unit)
            .or_default()
            .insert(STATE_KEY.into(), field(unit as usize));
    }
    view.app_bag.insert(STACK_KEY.into(), field(3));
    view.app_bag.insert(DEPENDENCIES_KEY.into(), field(4));
    view.app_bag.insert(ROUND_KEY.into(), field(5));
    let event = EVENTS[usize::from(selector) % EVENTS.len()];
    let valid_without_stack = {
        let mut probe = view.clone();
        probe.app_bag.remove(STACK_KEY);
        probe.validate().is_ok()
    };
    let mut hooks = Hooks {
        model: DependencyModel::default(),
        upgrades: 0,
    };
    // The same event decided from this unit's bag and the application bag alone: either
    // nothing at all (every unit's bag needed), or nothing that touches the workload.
    let partial = PeerSnapshot::own_and_app(
        view.app.clone(),
        view.unit,
        view.is_leader,
        view.units.clone(),
        view.unit_bags.get(&view.unit).cloned().unwrap_or_default(),
        view.app_bag.clone(),
    );
    let mut partial_effects: Vec<Effect> = Vec::new();
    let Ok(handled) = handle_own_and_app(
        Input::new(event, partial),
        &mut hooks,
        &mut partial_effects,
    );
    match handled {
        Handled::NeedsEveryUnit(_) => assert!(partial_effects.is_empty(), "{partial_effects:?}"),
        Handled::Done(_) => assert!(!view.is_leader && !event.is_action()),
    }
    assert_eq!(
        hooks.upgrades, 0,
        "the workload was touched on a partial view"
    );
    let mut effects: Vec<Effect> = Vec::new();
    let Ok(_) = handle(Input::new(event, view), &mut hooks, &mut effects);
    if !valid_without_stack {
        let wrote = effects
            .iter()
            .any(|e| matches!(e, Effect::SetUnit { .. } | Effect::SetApp { .. }));
        assert!(!wrote, "wrote on invalid data: {effects:?}");
        assert_eq!(hooks.upgrades, 0);
    }
});
