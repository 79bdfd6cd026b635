//! What the core does beyond v0 when the charm reports its versions and its
//! `pause-after-unit-refresh` setting, checked on one unit's hand-built view: v0 behaviour kept
//! without versions, refused and accepted actions, corrupt beyond-v0 keys, determinism, and the
//! statuses. (The same rules driven through a whole application are in the harness crate's
//! `tests/beyond_v0.rs`.)

mod support;

use juju_upgrade::wire::{
    CHARM_VERSIONS_KEY, ORIGINAL_VERSIONS_KEY, REFRESH_PENDING_KEY, ROLLBACK_ROUND_KEY, ROUND_KEY,
    STACK_KEY, STATE_KEY, UPGRADE_TARGET_KEY,
};
use juju_upgrade::{
    handle, messages, CharmVersions, ClusterNotReady, DependencyModel, Effect, Event, Input,
    LogLevel, PeerSnapshot, StatusKind, UpgradeFailed, UpgradeHooks,
};
use support::{action_failure, logs, run, view_with_stack, writes, FakeHooks};

fn force(compatibility: bool, pre_upgrade: bool, health: bool) -> Event {
    Event::ForceUpgrade {
        skip_compatibility_check: compatibility,
        skip_pre_upgrade_check: pre_upgrade,
        skip_health_check: health,
    }
}

fn versions(charm: &str, workload: &str) -> String {
    CharmVersions::new(charm, workload).to_json()
}

// ---------- what the charm reports, and what is recorded ----------

/// Hooks that report versions and a pause setting over [`FakeHooks`].
struct Versioned {
    inner: FakeHooks,
    this: CharmVersions,
    pause: Option<String>,
}

impl Versioned {
    fn new(charm: &str, workload: &str, pause: Option<&str>) -> Self {
        Versioned {
            inner: FakeHooks::new(),
            this: CharmVersions::new(charm, workload),
            pause: pause.map(str::to_owned),
        }
    }
}

impl UpgradeHooks for Versioned {
    fn dependency_model(&self) -> &DependencyModel {
        self.inner.dependency_model()
    }
    fn pre_upgrade_check(&mut self, view: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.inner.pre_upgrade_check(view)
    }
    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.inner.upgrade_unit(view, progress)
    }
    fn workload_version(&mut self, view: &PeerSnapshot) -> Option<String> {
        self.inner.workload_version(view)
    }
}

fn run_versioned(event: Event, view: PeerSnapshot, hooks: &mut Versioned) -> Vec<Effect> {
    let mut effects = Vec::new();
    let input = Input::new(event, view)
        .with_charm(hooks.this.clone())
        .with_pause_setting(hooks.pause.clone());
    let Ok(_) = handle(input, hooks, &mut effects);
    effects
}

#[test]
fn without_reported_versions_the_core_keeps_v0_behaviour_exactly() {
    // The v0 trap is kept for a charm that does not report its versions: one log, nothing else.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        support::view(0, true, &[(0, "idle"), (1, "idle")]),
        &mut hooks,
    );
    assert_eq!(
        effects,
        vec![Effect::Log {
            level: LogLevel::Error,
            message: messages::NO_STACK.into()
        }]
    );
    // No application status and no key beyond v0's on any event.
    for event in [
        Event::RelationCreated,
        Event::UpgradeCharm,
        Event::RelationChanged,
        Event::LeaderElected,
        Event::PreUpgradeCheck,
    ] {
        let effects = run(
            event,
            view_with_stack(0, true, &[(0, "ready"), (1, "ready")], "[0, 1]"),
            &mut FakeHooks::new(),
        );
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::AppStatus(_))),
            "{event}"
        );
        for write in writes(&effects) {
            let key = match write {
                Effect::SetUnit { key, .. } | Effect::SetApp { key, .. } => key,
                _ => unreachable!(),
            };
            assert!(
                [STATE_KEY, STACK_KEY, ROUND_KEY, "dependencies"].contains(&key.as_str()),
                "{event} wrote {key}"
            );
        }
    }
}

// ---------- automatic rollback ----------

// ---------- pause-after-unit-refresh and resume-upgrade ----------

#[test]
fn resume_upgrade_during_a_rollback_with_first_says_the_unit_goes_on_its_own() {
    // One unit rolled back; with `first` an upgrade would pause before mysql/1 here.
    let states = [(0, "ready"), (1, "ready"), (2, "completed")];
    let rollback_view = |marked: bool| {
        let mut view = view_with_stack(1, false, &states, "[0, 1]");
        view.app_bag.insert(ROUND_KEY.into(), "2".into());
        if marked {
            view.app_bag.insert(ROLLBACK_ROUND_KEY.into(), "2".into());
        }
        for (unit, _) in states {
            view.unit_bags
                .entry(unit)
                .or_default()
                .insert(ROUND_KEY.into(), "2".into());
        }
        view
    };
    let mut hooks = Versioned::new("42", "8.0.33", Some("first"));
    let effects = run_versioned(Event::ResumeUpgrade, rollback_view(true), &mut hooks);
    assert_eq!(
        action_failure(&effects),
        Some(messages::resume_not_needed_in_rollback("mysql/1", "first"))
    );
    assert_eq!(
        messages::resume_not_needed_in_rollback("mysql/1", "first"),
        "mysql/1 does not wait for resume-upgrade: a rollback pauses only with pause-after-unit-refresh=all (it is first); it rolls back on its own."
    );
    assert!(
        hooks.inner.upgrades.is_empty(),
        "a refused action upgrades nothing"
    );

    // The same view in a round that is not a rollback: mysql/1 is paused and the action
    // lets it go; a rollback mark from an earlier round does not count.
    for view in [rollback_view(false), {
        let mut view = rollback_view(true);
        view.app_bag.insert(ROLLBACK_ROUND_KEY.into(), "1".into());
        view
    }] {
        let mut hooks = Versioned::new("42", "8.0.33", Some("first"));
        let effects = run_versioned(Event::ResumeUpgrade, view, &mut hooks);
        assert_eq!(action_failure(&effects), None);
        assert_eq!(hooks.inner.upgrades.len(), 1);
    }
}

#[test]
fn a_rollback_mark_that_is_not_a_round_number_is_corrupt_data() {
    let mut view = view_with_stack(0, true, &[(0, "ready"), (1, "ready")], "[0, 1]");
    view.app_bag
        .insert(ROLLBACK_ROUND_KEY.into(), "soon".into());
    let mut hooks = Versioned::new("42", "8.0.33", Some("first"));
    let effects = run_versioned(Event::RelationChanged, view, &mut hooks);
    assert!(writes(&effects).is_empty(), "{effects:?}");
    let blocked = effects.iter().any(|effect| {
        matches!(effect, Effect::UnitStatus(status)
            if status.kind == StatusKind::Blocked && status.message.contains(ROLLBACK_ROUND_KEY))
    });
    assert!(blocked, "{effects:?}");
}

#[test]
fn resume_upgrade_on_a_unit_that_goes_on_its_own_says_so() {
    // pause first, two units already done: the next unit does not wait.
    let mut hooks = Versioned::new("43", "8.0.34", Some("first"));
    let mut view = view_with_stack(
        0,
        false,
        &[(0, "ready"), (1, "completed"), (2, "completed")],
        "[0]",
    );
    view.app_bag.insert(ROUND_KEY.into(), "1".into());
    let effects = run_versioned(Event::ResumeUpgrade, view, &mut hooks);
    assert_eq!(
        action_failure(&effects).as_deref(),
        Some("mysql/0 does not wait for resume-upgrade (pause-after-unit-refresh=first): it upgrades on its own.")
    );
    assert!(hooks.inner.upgrades.is_empty());
}

// ---------- force-upgrade ----------

#[test]
fn force_upgrade_skip_health_check_publishes_the_workload_version_the_unit_runs() {
    let mut view = view_with_stack(
        2,
        false,
        &[(0, "ready"), (1, "ready"), (2, "failed")],
        "[0, 1, 2]",
    );
    view.app_bag.insert(ROUND_KEY.into(), "1".into());
    let mut hooks = Versioned::new("43", "8.0.34", Some("none"));
    hooks.inner.workload_version = Some("8.0.34".into());
    let effects = run_versioned(force(false, false, true), view, &mut hooks);
    assert_eq!(action_failure(&effects), None);
    assert!(
        effects.contains(&Effect::WorkloadVersion("8.0.34".into())),
        "{effects:?}"
    );
    assert!(hooks.inner.upgrades.is_empty(), "nothing upgraded again");
}

// ---------- refreshes nobody prepared, and refreshes mid-upgrade ----------

// ---------- leader changes and retried hooks ----------

#[test]
fn the_same_inputs_give_the_same_effects() {
    let mut base = view_with_stack(
        0,
        true,
        &[(0, "ready"), (1, "ready"), (2, "failed")],
        "[0, 1, 2]",
    );
    base.app_bag.insert(ROUND_KEY.into(), "1".into());
    base.app_bag
        .insert(ORIGINAL_VERSIONS_KEY.into(), versions("42", "8.0.33"));
    base.app_bag
        .insert(UPGRADE_TARGET_KEY.into(), versions("43", "8.0.34"));
    for unit in 0..3 {
        base.unit_bags
            .entry(unit)
            .or_default()
            .insert(CHARM_VERSIONS_KEY.into(), versions("43", "8.0.34"));
    }
    for event in [
        Event::UpgradeCharm,
        Event::RelationChanged,
        Event::LeaderElected,
        Event::PreUpgradeCheck,
        Event::ResumeUpgrade,
        force(false, false, true),
    ] {
        let mut first = Versioned::new("42", "8.0.33", Some("first"));
        let mut second = Versioned::new("42", "8.0.33", Some("first"));
        let once = run_versioned(event, base.clone(), &mut first);
        let again = run_versioned(event, base.clone(), &mut second);
        assert_eq!(once, again, "{event}");
        assert!(!once.is_empty(), "{event} decided something");
    }
}

// ---------- statuses ----------

#[test]
fn statuses_name_the_next_command_and_fit_in_juju_status() {
    let rollback = "juju refresh mysql-ha --revision=12345";
    let unit = "mysql-ha/99";
    let long = [
        messages::refresh_not_prepared("mysql-ha"),
        messages::refresh_not_prepared_app("mysql-ha", rollback),
        messages::paused_unit(unit),
        messages::paused_app(unit, rollback),
        messages::upgrading_app(rollback),
        messages::prepared_app(
            "mysql-ha",
            Some(&CharmVersions::new("local:mysql-ha-12345", "")),
        ),
        messages::rolling_back_app(&CharmVersions::new("12345", "8.0.33")),
        messages::upgrade_failed_app(unit, rollback),
        messages::upgrade_failed_local_app("mysql-ha", unit),
        messages::incompatible_app(rollback),
        messages::rollback_failed_app("mysql-ha", unit),
        messages::ready_to_roll_back_app(rollback),
        messages::ready_to_roll_back_again_app("mysql-ha", &CharmVersions::new("12345", "")),
    ];
    for status in long {
        assert!(
            status.chars().count() <= 120,
            "{} chars: {status}",
            status.len()
        );
        assert!(
            status.contains("juju ") || status.starts_with("Rolling back"),
            "{status}"
        );
    }
}

#[test]
fn upgrade_in_progress_covers_the_stack_any_unit_past_idle_and_a_pending_refresh() {
    let idle = support::view(0, true, &[(0, "idle"), (1, "idle")]);
    assert_eq!(idle.upgrade_in_progress(), Ok(false));
    let prepared = view_with_stack(0, true, &[(0, "idle"), (1, "idle")], "[0, 1]");
    assert_eq!(prepared.upgrade_in_progress(), Ok(true));
    let finishing = support::view(0, true, &[(0, "idle"), (1, "completed")]);
    assert_eq!(finishing.upgrade_in_progress(), Ok(true));
    let mut pending = idle.clone();
    pending
        .unit_bags
        .entry(1)
        .or_default()
        .insert(REFRESH_PENDING_KEY.into(), versions("42", "8.0.33"));
    assert_eq!(pending.upgrade_in_progress(), Ok(true));
}

#[test]
fn corrupt_versions_block_without_writes() {
    let mut view = view_with_stack(0, true, &[(0, "ready"), (1, "ready")], "[0, 1]");
    view.app_bag
        .insert(ORIGINAL_VERSIONS_KEY.into(), "revision 42".into());
    let mut hooks = Versioned::new("43", "8.0.34", None);
    let effects = run_versioned(Event::RelationChanged, view, &mut hooks);
    assert!(writes(&effects).is_empty());
    assert!(logs(&effects, LogLevel::Error)[0]
        .contains("app original-versions \"revision 42\" is not valid"));
}

// ---------- random orders ----------
