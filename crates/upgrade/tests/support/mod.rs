//! Test-only helpers shared by the core's tests, which call the core directly on hand-built
//! views: a scriptable [`FakeHooks`], snapshot builders, effect filters and the dependency
//! models of the how-to's revisions.
#![allow(dead_code, unused_imports)]

/// Revision 42: MySQL 8.0.33.
pub const REV_42_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "42"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.33"}
}"#;

/// Revision 43: MySQL 8.0.34.
pub const REV_43_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "43"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.34"}
}"#;

/// A revision that cannot upgrade from 8.0.33.
pub const REV_90_DEPS: &str = r#"{
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "90"},
    "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "^9.1", "version": "9.1.0"}
}"#;

/// Parses one of the models above.
pub fn model(json: &str) -> DependencyModel {
    match DependencyModel::from_json(json) {
        Ok(model) => model,
        Err(err) => panic!("fixture dependency model is invalid: {err}"),
    }
}

use juju_upgrade::wire::{STACK_KEY, STATE_KEY};
use juju_upgrade::{
    CharmVersions, ClusterNotReady, DependencyModel, Effect, LogLevel, PeerSnapshot, Status,
    UpgradeFailed, UpgradeHooks,
};

/// Hooks whose answers a test scripts, recording what the core asked.
pub struct FakeHooks {
    pub model: DependencyModel,
    pub check: Result<(), ClusterNotReady>,
    pub upgrade_result: Result<(), UpgradeFailed>,
    pub progress_messages: Vec<String>,
    pub workload_version: Option<String>,
    /// How many times `pre_upgrade_check` ran.
    pub checks_run: usize,
    /// The view handed to each `upgrade_unit` call.
    pub upgrades: Vec<PeerSnapshot>,
}

impl FakeHooks {
    pub fn new() -> Self {
        FakeHooks {
            model: model(REV_43_DEPS),
            check: Ok(()),
            upgrade_result: Ok(()),
            progress_messages: vec!["stopping services..".into(), "upgrading snap...".into()],
            workload_version: Some("8.0.34".into()),
            checks_run: 0,
            upgrades: Vec::new(),
        }
    }
}

impl UpgradeHooks for FakeHooks {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.checks_run += 1;
        self.check.clone()
    }

    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.upgrades.push(view.clone());
        for message in &self.progress_messages {
            progress(message);
        }
        self.upgrade_result.clone()
    }

    fn workload_version(&mut self, _: &PeerSnapshot) -> Option<String> {
        self.workload_version.clone()
    }
}

/// A snapshot of unit `unit` in app `mysql` whose units are those listed in `states`
/// (`""` leaves a unit without a state) plus `unit`.
pub fn view(unit: u32, is_leader: bool, states: &[(u32, &str)]) -> PeerSnapshot {
    let mut snapshot = PeerSnapshot::new("mysql", unit, is_leader);
    for &(other, state) in states {
        snapshot.units.insert(other);
        if !state.is_empty() {
            snapshot
                .unit_bags
                .entry(other)
                .or_default()
                .insert(STATE_KEY.into(), state.into());
        }
    }
    snapshot
}

/// `view` with an upgrade stack in the app bag.
pub fn view_with_stack(
    unit: u32,
    is_leader: bool,
    states: &[(u32, &str)],
    stack: &str,
) -> PeerSnapshot {
    let mut snapshot = view(unit, is_leader, states);
    snapshot.app_bag.insert(STACK_KEY.into(), stack.into());
    snapshot
}

pub fn run(event: juju_upgrade::Event, view: PeerSnapshot, hooks: &mut FakeHooks) -> Vec<Effect> {
    let mut effects = Vec::new();
    let Ok(_) = juju_upgrade::handle(juju_upgrade::Input::new(event, view), hooks, &mut effects);
    effects
}

/// Every bag write, in order.
pub fn writes(effects: &[Effect]) -> Vec<Effect> {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::SetUnit { .. } | Effect::SetApp { .. }))
        .cloned()
        .collect()
}

/// The values written to this unit's `state`, in order.
pub fn state_writes(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetUnit { key, value } if key == STATE_KEY => Some(value.clone()),
            _ => None,
        })
        .collect()
}

/// The values written to an app bag key, in order.
pub fn app_writes(effects: &[Effect], wanted: &str) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetApp { key, value } if key == wanted => Some(value.clone()),
            _ => None,
        })
        .collect()
}

pub fn statuses(effects: &[Effect]) -> Vec<Status> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::UnitStatus(status) => Some(status.clone()),
            _ => None,
        })
        .collect()
}

pub fn action_failure(effects: &[Effect]) -> Option<String> {
    effects.iter().find_map(|e| match e {
        Effect::ActionFail(message) => Some(message.clone()),
        _ => None,
    })
}

pub fn logs(effects: &[Effect], wanted: LogLevel) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log { level, message } if *level == wanted => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Hooks for generated cases: what the charm reports of itself (versions, pause setting) is
/// given, the upgrade succeeds or fails as told, and every call that reaches the workload is
/// recorded (`pre_upgrade_check`, `upgrade_unit`), in order.
#[derive(Debug, Clone)]
pub struct RecordingHooks {
    pub model: DependencyModel,
    pub versions: CharmVersions,
    pub pause: Option<String>,
    pub upgrade_fails: bool,
    pub calls: Vec<&'static str>,
}

impl RecordingHooks {
    pub fn new(versions: CharmVersions, pause: Option<String>, upgrade_fails: bool) -> Self {
        RecordingHooks {
            model: model(REV_43_DEPS),
            versions,
            pause,
            upgrade_fails,
            calls: Vec::new(),
        }
    }

    /// `event` on `view` as a charm with these hooks' versions and pause setting hands it in.
    pub fn input(&self, event: juju_upgrade::Event, view: PeerSnapshot) -> juju_upgrade::Input {
        juju_upgrade::Input::new(event, view)
            .with_charm(self.versions.clone())
            .with_pause_setting(self.pause.clone())
    }

    /// How many times the workload was upgraded.
    pub fn upgrades(&self) -> usize {
        self.calls
            .iter()
            .filter(|&&call| call == "upgrade_unit")
            .count()
    }
}

impl UpgradeHooks for RecordingHooks {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.calls.push("pre_upgrade_check");
        Ok(())
    }

    fn upgrade_unit(
        &mut self,
        _: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.calls.push("upgrade_unit");
        progress("upgrading snap...");
        if self.upgrade_fails {
            Err(UpgradeFailed {
                cause: "scripted".into(),
            })
        } else {
            Ok(())
        }
    }
}

/// Any event, the actions with any parameters.
pub fn any_event() -> impl proptest::strategy::Strategy<Value = juju_upgrade::Event> {
    use juju_upgrade::Event;
    use proptest::prelude::*;
    prop_oneof![
        Just(Event::RelationCreated),
        Just(Event::PreUpgradeCheck),
        Just(Event::UpgradeCharm),
        Just(Event::RelationChanged),
        Just(Event::LeaderElected),
        Just(Event::RelationDeparted),
        Just(Event::ConfigChanged),
        Just(Event::ResumeUpgrade),
        any::<(bool, bool, bool)>().prop_map(|(compatibility, pre_check, health)| {
            Event::ForceUpgrade {
                skip_compatibility_check: compatibility,
                skip_pre_upgrade_check: pre_check,
                skip_health_check: health,
            }
        }),
    ]
}
