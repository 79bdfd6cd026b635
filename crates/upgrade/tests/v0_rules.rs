//! One test per rule of v0's `DataUpgrade` (VM substrate) as Charmed MySQL uses it, plus the
//! robustness rules this core adds. Each test names the rule it pins down.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use juju_upgrade::wire::ROLLBACK_REFRESH_PENDING_KEY;
use juju_upgrade::wire::{DEPENDENCIES_KEY, ROUND_KEY, STACK_KEY, STATE_KEY};
use juju_upgrade::{
    handle, messages, no_relation, ClusterNotReady, DependencyModel, Effect, EffectSink, Event,
    Input, LogLevel, PeerSnapshot, Status, UpgradeFailed, UpgradeHooks,
};
use support::*;

fn set_unit(key: &str, value: &str) -> Effect {
    Effect::SetUnit {
        key: key.into(),
        value: value.into(),
    }
}

fn set_app(key: &str, value: &str) -> Effect {
    Effect::SetApp {
        key: key.into(),
        value: value.into(),
    }
}

fn with_deps(mut view: PeerSnapshot, json: &str) -> PeerSnapshot {
    view.app_bag.insert(DEPENDENCIES_KEY.into(), json.into());
    view
}

fn with_round(mut view: PeerSnapshot, round: &str, completed: &[u32]) -> PeerSnapshot {
    view.app_bag.insert(ROUND_KEY.into(), round.into());
    for unit in completed {
        view.unit_bags
            .entry(*unit)
            .or_default()
            .insert(ROUND_KEY.into(), round.into());
    }
    view
}

// ---------- relation-created ----------

#[test]
fn relation_created_sets_idle_and_leader_persists_dependencies() {
    let mut hooks = FakeHooks::new();
    let effects = run(Event::RelationCreated, view(0, true, &[]), &mut hooks);
    assert_eq!(
        writes(&effects),
        vec![
            set_unit(STATE_KEY, "idle"),
            set_app(DEPENDENCIES_KEY, &hooks.model.to_json())
        ]
    );
    let stored = DependencyModel::from_json(&app_writes(&effects, DEPENDENCIES_KEY)[0]);
    assert_eq!(stored, Ok(hooks.model.clone()));
}

#[test]
fn relation_created_on_non_leader_only_sets_idle() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationCreated,
        view(1, false, &[(0, "idle")]),
        &mut hooks,
    );
    assert_eq!(writes(&effects), vec![set_unit(STATE_KEY, "idle")]);
}

// ---------- pre-upgrade-check ----------

#[test]
fn pre_upgrade_check_on_non_leader_fails_with_v0_message() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        view(1, false, &[(0, "idle"), (1, "idle")]),
        &mut hooks,
    );
    assert_eq!(
        effects,
        vec![Effect::ActionFail(messages::LEADER_ONLY.into())]
    );
    assert_eq!(
        messages::LEADER_ONLY,
        "Action must be ran on the Juju leader."
    );
    assert_eq!(hooks.checks_run, 0);
}

#[test]
fn missing_relation_fails_the_action_with_v0_message_and_only_logs_for_hooks() {
    let mut effects = Vec::new();
    let Ok(()) = no_relation(&Event::PreUpgradeCheck, &mut effects);
    assert_eq!(
        effects,
        vec![Effect::ActionFail(
            "Could not find upgrade relation.".into()
        )]
    );
    for event in [
        Event::RelationCreated,
        Event::UpgradeCharm,
        Event::RelationChanged,
    ] {
        let mut effects = Vec::new();
        let Ok(()) = no_relation(&event, &mut effects);
        assert_eq!(effects.len(), 1);
        assert!(matches!(
            effects[0],
            Effect::Log {
                level: LogLevel::Warning,
                ..
            }
        ));
    }
}

#[test]
fn pre_upgrade_check_refused_unless_cluster_idle() {
    // The cluster state is the worst unit state, so every unit must have left idle.
    for other in ["ready", "upgrading", "completed", "recovery", ""] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            Event::PreUpgradeCheck,
            view(0, true, &[(0, other), (1, other)]),
            &mut hooks,
        );
        assert_eq!(
            action_failure(&effects).as_deref(),
            Some("Cannot run pre-upgrade checks, cluster already upgrading."),
            "other unit {other:?}"
        );
        assert!(writes(&effects).is_empty());
        assert_eq!(hooks.checks_run, 0);
    }
}

#[test]
fn pre_upgrade_check_refused_when_the_leader_itself_left_idle_even_if_the_others_look_idle() {
    // Beyond v0: the leader's copies of the other bags may be old; its own state is not.
    for own in ["ready", "upgrading", "completed"] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            Event::PreUpgradeCheck,
            view_with_stack(0, true, &[(0, own), (1, "idle")], "[0, 1]"),
            &mut hooks,
        );
        assert_eq!(
            action_failure(&effects).as_deref(),
            Some(messages::ALREADY_UPGRADING),
            "leader {own:?}"
        );
        assert!(writes(&effects).is_empty());
        assert_eq!(hooks.checks_run, 0);
    }
}

#[test]
fn pre_upgrade_check_runs_charm_check_and_writes_leader_last_stack() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        view(1, true, &[(0, "idle"), (1, "idle"), (2, "idle")]),
        &mut hooks,
    );
    assert_eq!(hooks.checks_run, 1);
    assert_eq!(action_failure(&effects), None);
    assert_eq!(app_writes(&effects, STACK_KEY), vec!["[1, 0, 2]"]);
    assert_eq!(app_writes(&effects, ROUND_KEY), vec!["1"]);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::ActionResult { value, .. } if value.contains("mysql/2, mysql/0, mysql/1")
    )));
}

#[test]
fn pre_upgrade_check_failure_fails_action_with_charm_message_and_writes_nothing() {
    let mut hooks = FakeHooks::new();
    hooks.check = Err(ClusterNotReady {
        message: messages::PRE_UPGRADE_CHECK_FAILED.into(),
        cause: "Not all units are online".into(),
        resolution: "Ensure all units are online in the cluster".into(),
    });
    let effects = run(
        Event::PreUpgradeCheck,
        view(0, true, &[(0, "idle"), (1, "idle")]),
        &mut hooks,
    );
    assert_eq!(
        action_failure(&effects).as_deref(),
        Some("Pre-upgrade check failed. Cannot upgrade.")
    );
    assert!(writes(&effects).is_empty());
    assert!(logs(&effects, LogLevel::Error)
        .iter()
        .any(|m| m.contains("Not all units are online")));
}

struct BadStack(FakeHooks, Vec<u32>);

impl UpgradeHooks for BadStack {
    fn dependency_model(&self) -> &DependencyModel {
        self.0.dependency_model()
    }
    fn pre_upgrade_check(&mut self, view: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.0.pre_upgrade_check(view)
    }
    fn build_upgrade_stack(&mut self, _: &PeerSnapshot) -> Result<Vec<u32>, ClusterNotReady> {
        Ok(self.1.clone())
    }
    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.0.upgrade_unit(view, progress)
    }
}

#[test]
fn pre_upgrade_check_rejects_a_built_stack_that_is_not_every_unit_once() {
    for built in [vec![0, 1], vec![0, 1, 2, 2], vec![0, 1, 2, 7]] {
        let mut hooks = BadStack(FakeHooks::new(), built.clone());
        let mut effects = Vec::new();
        let Ok(_) = handle(
            Input::new(
                Event::PreUpgradeCheck,
                view(0, true, &[(0, "idle"), (1, "idle"), (2, "idle")]),
            ),
            &mut hooks,
            &mut effects,
        );
        let failure = action_failure(&effects).unwrap_or_default();
        assert!(
            failure.starts_with("Could not build the upgrade stack"),
            "{built:?}: {failure}"
        );
        assert!(writes(&effects).is_empty(), "{built:?}");
    }
}

#[test]
fn pre_upgrade_check_on_failed_cluster_enters_recovery() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        view_with_stack(
            0,
            true,
            &[(0, "ready"), (1, "ready"), (2, "failed")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(hooks.checks_run, 0, "no health check in recovery");
    assert_eq!(action_failure(&effects), None);
    assert_eq!(state_writes(&effects), vec!["recovery"]);
    assert_eq!(
        statuses(&effects),
        vec![Status::blocked("ready to rollback application")]
    );
    assert!(
        app_writes(&effects, STACK_KEY).is_empty(),
        "full stack kept as is"
    );
}

#[test]
fn repair_inserts_upgraded_units_under_top() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        view_with_stack(
            0,
            true,
            &[
                (0, "ready"),
                (1, "failed"),
                (2, "completed"),
                (3, "completed"),
            ],
            "[0, 1]",
        ),
        &mut hooks,
    );
    assert_eq!(app_writes(&effects, STACK_KEY), vec!["[0, 3, 2, 1]"]);
    assert_eq!(state_writes(&effects), vec!["recovery"]);
}

#[test]
fn recovery_starts_a_new_round() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_round(
        view_with_stack(0, true, &[(0, "ready"), (1, "failed")], "[0, 1]"),
        "4",
        &[],
    );
    let effects = run(Event::PreUpgradeCheck, snapshot, &mut hooks);
    assert_eq!(app_writes(&effects, ROUND_KEY), vec!["5"]);
}

// ---------- upgrade-charm ----------

#[test]
fn upgrade_charm_without_stack_logs_v0_error_and_does_nothing() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        view(0, true, &[(0, "idle"), (1, "idle")]),
        &mut hooks,
    );
    assert_eq!(
        effects,
        vec![Effect::Log {
            level: LogLevel::Error,
            message: "Cluster upgrade failed, ensure pre-upgrade checks are ran first.".into()
        }]
    );
}

#[test]
fn upgrade_charm_sets_ready_and_waits_for_other_units() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        view_with_stack(
            1,
            false,
            &[(0, "idle"), (1, "idle"), (2, "idle")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(writes(&effects), vec![set_unit(STATE_KEY, "ready")]);
    assert_eq!(
        statuses(&effects),
        vec![Status::waiting("other units upgrading first...")]
    );
    assert!(hooks.upgrades.is_empty());
}

#[test]
fn upgrade_charm_on_leader_with_incompatible_versions_fails_the_unit() {
    let mut hooks = FakeHooks::new();
    hooks.model = model(REV_90_DEPS);
    let snapshot = with_deps(
        view_with_stack(0, true, &[(0, "idle"), (1, "ready")], "[0, 1]"),
        REV_42_DEPS,
    );
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(writes(&effects), vec![set_unit(STATE_KEY, "failed")]);
    assert_eq!(
        statuses(&effects),
        vec![Status::blocked(
            "upgrade failed. Check logs for rollback instruction"
        )]
    );
    let errors = logs(&effects, LogLevel::Error);
    assert!(errors[0].starts_with(
        "Versions incompatible, snap 8.0.33 can not be upgraded to 9.1.0 (Upgrades only supported for specific versions, snap versions satisfying requirement ^9.1)"
    ), "{errors:?}");
    assert!(errors.iter().any(|m| m.contains("pre-upgrade-check")));
    assert!(hooks.upgrades.is_empty());
}

#[test]
fn upgrade_charm_on_leader_with_compatible_versions_proceeds() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_deps(
        view_with_stack(0, true, &[(0, "idle"), (1, "idle")], "[0, 1]"),
        REV_42_DEPS,
    );
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(writes(&effects), vec![set_unit(STATE_KEY, "ready")]);
}

#[test]
fn upgrade_charm_version_check_runs_on_leader_only() {
    let mut hooks = FakeHooks::new();
    hooks.model = model(REV_90_DEPS);
    let snapshot = with_deps(
        view_with_stack(1, false, &[(0, "idle"), (1, "idle")], "[0, 1]"),
        REV_42_DEPS,
    );
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(state_writes(&effects), vec!["ready"]);
}

#[test]
fn upgrade_charm_leader_without_stored_dependencies_warns_and_proceeds() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        view_with_stack(0, true, &[(0, "idle"), (1, "idle")], "[0, 1]"),
        &mut hooks,
    );
    assert_eq!(state_writes(&effects), vec!["ready"]);
    assert_eq!(logs(&effects, LogLevel::Warning).len(), 1);
}

#[test]
fn upgrade_charm_recovery_leader_on_top_starts_rollback_at_once() {
    let mut hooks = FakeHooks::new();
    // Round 2 is the recovery; unit 1's `completed` is from round 1 and must not be popped.
    let snapshot = with_round(
        with_deps(
            view_with_stack(
                0,
                true,
                &[(0, "recovery"), (1, "completed"), (2, "ready")],
                "[2, 1, 0]",
            ),
            REV_43_DEPS,
        ),
        "2",
        &[],
    );
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(hooks.upgrades.len(), 1, "rolled back in the same hook");
    assert_eq!(
        state_writes(&effects),
        vec!["ready", "upgrading", "completed"]
    );
    assert!(!statuses(&effects).contains(&Status::waiting(messages::WAITING_FOR_OTHERS)));
    assert_eq!(
        app_writes(&effects, STACK_KEY),
        vec!["[2, 1]"],
        "leader popped itself"
    );
}

#[test]
fn upgrade_charm_recovery_leader_not_on_top_waits_like_any_unit() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_deps(
        view_with_stack(
            0,
            true,
            &[(0, "recovery"), (1, "ready"), (2, "failed")],
            "[0, 1, 2]",
        ),
        REV_43_DEPS,
    );
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(state_writes(&effects), vec!["ready"]);
    assert_eq!(
        statuses(&effects),
        vec![Status::waiting(messages::WAITING_FOR_OTHERS)]
    );
    assert!(hooks.upgrades.is_empty(), "unit 2 is still failed");
}

#[test]
fn upgrade_charm_single_unit_is_granted_at_once() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_deps(view_with_stack(0, true, &[(0, "idle")], "[0]"), REV_42_DEPS);
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(hooks.upgrades.len(), 1);
    assert_eq!(
        state_writes(&effects),
        vec!["ready", "upgrading", "completed", "idle"]
    );
    assert_eq!(app_writes(&effects, STACK_KEY), vec!["[]"]);
    assert_eq!(
        app_writes(&effects, DEPENDENCIES_KEY),
        vec![hooks.model.to_json()]
    );
    assert_eq!(statuses(&effects).last(), Some(&Status::active("")));
}

#[test]
fn top_unit_that_becomes_ready_last_starts_without_another_event() {
    // v0 would wait for a relation-changed that never comes: Juju does not tell a unit about
    // its own write.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        view_with_stack(
            2,
            false,
            &[(0, "ready"), (1, "ready"), (2, "idle")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(hooks.upgrades.len(), 1);
    assert_eq!(
        state_writes(&effects),
        vec!["ready", "upgrading", "completed"]
    );
}

// ---------- upgrade-relation-changed ----------

#[test]
fn relation_changed_does_nothing_while_cluster_failed() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            2,
            false,
            &[(0, "ready"), (1, "failed"), (2, "ready")],
            "[0, 2]",
        ),
        &mut hooks,
    );
    assert!(writes(&effects).is_empty());
    assert!(statuses(&effects).is_empty());
    assert!(hooks.upgrades.is_empty());
}

#[test]
fn relation_changed_does_nothing_while_cluster_in_recovery() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            2,
            false,
            &[(0, "recovery"), (1, "ready"), (2, "ready")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert!(writes(&effects).is_empty());
    assert!(hooks.upgrades.is_empty());
}

#[test]
fn stack_empty_completed_unit_returns_to_idle_and_active() {
    for others in ["completed", "idle"] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            Event::RelationChanged,
            view_with_stack(1, false, &[(0, others), (1, "completed")], "[]"),
            &mut hooks,
        );
        assert_eq!(
            writes(&effects),
            vec![set_unit(STATE_KEY, "idle")],
            "{others}"
        );
        assert_eq!(statuses(&effects), vec![Status::active("")]);
    }
}

#[test]
fn completed_unit_stays_completed_until_cluster_idle_or_completed() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(1, false, &[(0, "ready"), (1, "completed")], "[]"),
        &mut hooks,
    );
    assert!(writes(&effects).is_empty());
}

#[test]
fn leader_persists_new_dependencies_when_upgrade_completes() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_deps(
        view_with_stack(0, true, &[(0, "completed"), (1, "idle")], "[]"),
        REV_42_DEPS,
    );
    let effects = run(Event::RelationChanged, snapshot, &mut hooks);
    assert_eq!(
        writes(&effects),
        vec![
            set_unit(STATE_KEY, "idle"),
            set_app(DEPENDENCIES_KEY, &model(REV_43_DEPS).to_json())
        ]
    );
}

#[test]
fn leader_pops_stack_when_top_completed() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_round(
        view_with_stack(
            0,
            true,
            &[(0, "ready"), (1, "ready"), (2, "completed")],
            "[0, 1, 2]",
        ),
        "1",
        &[2],
    );
    let effects = run(Event::RelationChanged, snapshot, &mut hooks);
    assert_eq!(writes(&effects), vec![set_app(STACK_KEY, "[0, 1]")]);
    assert!(
        hooks.upgrades.is_empty(),
        "unit 1 is on top now, not the leader"
    );
}

#[test]
fn leader_pops_completed_top_by_v0_rule_when_no_round_is_stored() {
    // A stack written by v0 has no round: any `completed` top is popped, as v0 does.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            0,
            true,
            &[(0, "ready"), (1, "ready"), (2, "completed")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(writes(&effects), vec![set_app(STACK_KEY, "[0, 1]")]);
}

#[test]
fn leader_elected_takes_over_popping_a_completed_top() {
    // Beyond v0: the old leader may have lost leadership before handling the completion.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::LeaderElected,
        with_round(
            view_with_stack(
                1,
                true,
                &[(0, "ready"), (1, "ready"), (2, "completed")],
                "[0, 1, 2]",
            ),
            "1",
            &[2],
        ),
        &mut hooks,
    );
    assert_eq!(
        app_writes(&effects, STACK_KEY).first().map(String::as_str),
        Some("[0, 1]")
    );
}

#[test]
fn leader_elected_stores_missing_dependencies_only_when_no_upgrade_is_under_way() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::LeaderElected,
        view(1, true, &[(0, "idle"), (1, "idle")]),
        &mut hooks,
    );
    assert_eq!(
        app_writes(&effects, DEPENDENCIES_KEY),
        vec![hooks.model.to_json()]
    );
    // Mid-upgrade this unit may already run the new revision: its model is not the baseline.
    let effects = run(
        Event::LeaderElected,
        view_with_stack(1, true, &[(0, "ready"), (1, "ready")], "[0, 1]"),
        &mut hooks,
    );
    assert!(app_writes(&effects, DEPENDENCIES_KEY).is_empty());
    let effects = run(
        Event::LeaderElected,
        with_deps(view(1, true, &[(0, "idle"), (1, "idle")]), REV_42_DEPS),
        &mut hooks,
    );
    assert!(
        app_writes(&effects, DEPENDENCIES_KEY).is_empty(),
        "already stored"
    );
}

#[test]
fn leader_does_not_put_a_ready_unit_back_into_an_empty_stack() {
    // The upgrade is over once the stack is empty; a `ready` then may be an old copy of a unit
    // that has finished since.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::LeaderElected,
        with_round(
            view_with_stack(1, true, &[(0, "ready"), (1, "completed")], "[]"),
            "2",
            &[0, 1],
        ),
        &mut hooks,
    );
    assert!(app_writes(&effects, STACK_KEY).is_empty(), "{effects:?}");
}

#[test]
fn non_leader_never_pops_stack() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            1,
            false,
            &[(0, "ready"), (1, "ready"), (2, "completed")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert!(writes(&effects).is_empty());
}

#[test]
fn leader_does_not_pop_a_completion_left_over_from_an_earlier_round() {
    // Unit 2 completed in round 1; recovery started round 2 and re-inserted it.
    let mut hooks = FakeHooks::new();
    let mut snapshot = with_round(
        view_with_stack(
            0,
            true,
            &[(0, "ready"), (1, "completed"), (2, "completed")],
            "[0, 2]",
        ),
        "2",
        &[1],
    );
    snapshot
        .unit_bags
        .get_mut(&2)
        .expect("bag")
        .insert(ROUND_KEY.into(), "1".into());
    let effects = run(Event::RelationChanged, snapshot, &mut hooks);
    assert!(writes(&effects).is_empty(), "{effects:?}");
}

#[test]
fn leader_pops_then_upgrades_itself_and_finishes_in_one_hook() {
    // v0's recursion: top completed -> pop -> leader on top -> granted -> completed -> pop ->
    // stack empty -> idle and new dependencies. Beyond v0, the dependencies are stored with
    // the last pop (a leader may receive another charm before it goes idle).
    let mut hooks = FakeHooks::new();
    let snapshot = with_round(
        view_with_stack(0, true, &[(0, "ready"), (1, "completed")], "[0, 1]"),
        "1",
        &[0, 1],
    );
    let effects = run(Event::RelationChanged, snapshot, &mut hooks);
    assert_eq!(hooks.upgrades.len(), 1);
    assert_eq!(
        writes(&effects),
        vec![
            set_app(STACK_KEY, "[0]"),
            set_unit(STATE_KEY, "upgrading"),
            set_unit(ROUND_KEY, "1"),
            set_unit(STATE_KEY, "completed"),
            set_app(STACK_KEY, "[]"),
            set_app(DEPENDENCIES_KEY, &hooks.model.to_json()),
            set_unit(STATE_KEY, "idle"),
        ]
    );
}

#[test]
fn a_leader_that_received_another_charm_after_completing_keeps_the_baseline() {
    // Beyond v0: the refresh found no stack (the upgrade had ended), so this leader runs a
    // charm it did not upgrade to; its upgrade-charm clears its round mark, and finishing
    // then leaves the baseline alone.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        with_round(view(0, true, &[(0, "completed"), (1, "idle")]), "2", &[0]),
        &mut hooks,
    );
    assert_eq!(writes(&effects), vec![set_unit(ROUND_KEY, "")]);
    let effects = run(
        Event::RelationChanged,
        with_round(view(0, true, &[(0, "completed"), (1, "idle")]), "2", &[]),
        &mut hooks,
    );
    assert_eq!(state_writes(&effects), vec!["idle"]);
    assert!(app_writes(&effects, DEPENDENCIES_KEY).is_empty());
}

#[test]
fn top_unit_granted_only_when_cluster_ready() {
    for (others, granted) in [
        ("idle", false),
        ("", false),
        ("failed", false),
        ("ready", true),
        ("completed", true),
    ] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            Event::RelationChanged,
            view_with_stack(
                2,
                false,
                &[(0, "ready"), (1, others), (2, "ready")],
                "[0, 1, 2]",
            ),
            &mut hooks,
        );
        assert_eq!(
            hooks.upgrades.len(),
            usize::from(granted),
            "unit 1 {others:?}"
        );
        assert_eq!(!writes(&effects).is_empty(), granted);
    }
}

#[test]
fn unit_not_on_top_is_never_granted() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            1,
            false,
            &[(0, "ready"), (1, "ready"), (2, "ready")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert!(hooks.upgrades.is_empty());
    assert!(writes(&effects).is_empty());
}

#[test]
fn top_unit_not_granted_while_another_unit_upgrading() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            2,
            false,
            &[(0, "ready"), (1, "upgrading"), (2, "ready")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert!(hooks.upgrades.is_empty());
    assert_eq!(
        statuses(&effects),
        vec![Status::waiting("other units upgrading first...")]
    );
}

#[test]
fn upgrade_charm_marks_ready_with_the_current_round() {
    // Beyond v0: the round mark says this `ready` comes from this round's charm.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::UpgradeCharm,
        with_round(
            view_with_stack(1, false, &[(0, "idle"), (1, "idle")], "[0, 1]"),
            "4",
            &[],
        ),
        &mut hooks,
    );
    assert_eq!(
        writes(&effects),
        vec![set_unit(STATE_KEY, "ready"), set_unit(ROUND_KEY, "4")]
    );
}

#[test]
fn top_unit_ready_from_an_earlier_round_waits_for_this_rounds_upgrade_charm() {
    // A recovery started round 2; unit 2 is still `ready` from round 1 (it has not yet run the
    // rollback's upgrade-charm, so it still runs the failed revision's code): not granted.
    let mut hooks = FakeHooks::new();
    let mut snapshot = with_round(
        view_with_stack(
            2,
            false,
            &[(0, "ready"), (1, "ready"), (2, "ready")],
            "[0, 1, 2]",
        ),
        "2",
        &[0, 1],
    );
    snapshot
        .unit_bags
        .get_mut(&2)
        .expect("bag")
        .insert(ROUND_KEY.into(), "1".into());
    let effects = run(Event::RelationChanged, snapshot.clone(), &mut hooks);
    assert!(hooks.upgrades.is_empty());
    assert!(writes(&effects).is_empty());
    // Its upgrade-charm (the rollback's code) marks it for round 2 and it goes.
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_eq!(hooks.upgrades.len(), 1);
    assert_eq!(
        state_writes(&effects),
        vec!["ready", "upgrading", "completed"]
    );
}

#[test]
fn a_second_upgrade_charm_in_the_same_round_pauses_the_upgrade() {
    // Beyond v0 (safety, charms that do not report versions): a unit that already ran this
    // round's upgrade-charm gets another one: a second `juju refresh` mid-upgrade.
    for own in ["ready", "completed", "failed"] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            Event::UpgradeCharm,
            with_round(
                view_with_stack(1, false, &[(0, "ready"), (1, own)], "[0, 1]"),
                "3",
                &[0, 1],
            ),
            &mut hooks,
        );
        assert!(hooks.upgrades.is_empty(), "{own}: upgraded");
        assert_eq!(state_writes(&effects), vec!["failed"], "{own}");
        assert_eq!(
            statuses(&effects).first(),
            Some(&Status::blocked(messages::REFRESHED_DURING_UPGRADE)),
            "{own}"
        );
    }
}

#[test]
fn upgrade_charm_after_recovery_still_readies_a_unit_for_the_rollback() {
    // The recovery started round 4; the unit's mark is from round 3: this upgrade-charm is the
    // rollback's, not a second refresh.
    for own in ["completed", "failed"] {
        let mut hooks = FakeHooks::new();
        let mut snapshot = with_round(
            view_with_stack(1, false, &[(0, "recovery"), (1, own)], "[0, 1]"),
            "4",
            &[],
        );
        snapshot
            .unit_bags
            .get_mut(&1)
            .expect("bag")
            .insert(ROUND_KEY.into(), "3".into());
        let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
        assert_eq!(state_writes(&effects), vec!["ready"], "{own}");
    }
}

#[test]
fn recovery_with_an_empty_stack_stacks_every_unit_with_the_failed_ones_on_top() {
    // Beyond v0: a unit failed after the stack emptied; v0 kept the empty stack and the
    // rollback refresh then found none.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        with_round(
            view_with_stack(0, true, &[(0, "idle"), (1, "failed"), (2, "idle")], "[]"),
            "2",
            &[],
        ),
        &mut hooks,
    );
    assert_eq!(app_writes(&effects, STACK_KEY), vec!["[0, 2, 1]"]);
    assert_eq!(state_writes(&effects), vec!["recovery"]);
}

#[test]
fn no_unit_is_granted_between_recovery_and_the_leaders_rollback_upgrade_charm() {
    // Recovery marks the app bag (read fresh by everyone); the leader's upgrade-charm clears it.
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        with_round(
            view_with_stack(0, true, &[(0, "ready"), (1, "failed")], "[0, 1]"),
            "2",
            &[],
        ),
        &mut hooks,
    );
    assert_eq!(
        app_writes(&effects, ROLLBACK_REFRESH_PENDING_KEY),
        vec!["3"]
    );
    // mysql/1 on top, ready for round 3 on an old copy of the leader: it waits.
    let gated = |pending: Option<&str>| {
        let mut view = with_round(
            view_with_stack(1, false, &[(0, "ready"), (1, "ready")], "[0, 1]"),
            "3",
            &[0, 1],
        );
        if let Some(round) = pending {
            view.app_bag
                .insert(ROLLBACK_REFRESH_PENDING_KEY.into(), round.into());
        }
        view
    };
    let mut hooks = FakeHooks::new();
    run(Event::RelationChanged, gated(Some("3")), &mut hooks);
    assert!(hooks.upgrades.is_empty());
    run(Event::RelationChanged, gated(None), &mut hooks);
    assert_eq!(hooks.upgrades.len(), 1);
    // The leader's rollback upgrade-charm releases it.
    let mut leader = with_round(
        view_with_stack(0, true, &[(0, "recovery"), (1, "ready")], "[0, 1]"),
        "3",
        &[1],
    );
    leader
        .app_bag
        .insert(ROLLBACK_REFRESH_PENDING_KEY.into(), "3".into());
    let effects = run(Event::UpgradeCharm, leader, &mut FakeHooks::new());
    assert_eq!(
        app_writes(&effects, ROLLBACK_REFRESH_PENDING_KEY),
        vec![String::new()]
    );
}

#[test]
fn top_unit_left_upgrading_by_an_interrupted_hook_is_granted_again() {
    let mut hooks = FakeHooks::new();
    run(
        Event::RelationChanged,
        view_with_stack(
            2,
            false,
            &[(0, "ready"), (1, "ready"), (2, "upgrading")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(hooks.upgrades.len(), 1);
}

#[test]
fn granted_unit_reports_progress_then_completes() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        with_round(
            view_with_stack(
                2,
                false,
                &[(0, "ready"), (1, "ready"), (2, "ready")],
                "[0, 1, 2]",
            ),
            "3",
            &[2],
        ),
        &mut hooks,
    );
    assert_eq!(
        statuses(&effects),
        vec![
            Status::maintenance("upgrading..."),
            Status::maintenance("stopping services.."),
            Status::maintenance("upgrading snap..."),
            Status::maintenance("upgrade completed"),
        ]
    );
    assert_eq!(
        writes(&effects),
        vec![
            set_unit(STATE_KEY, "upgrading"),
            set_unit(ROUND_KEY, "3"),
            set_unit(STATE_KEY, "completed"),
        ]
    );
    assert!(effects.contains(&Effect::WorkloadVersion("8.0.34".into())));
}

#[test]
fn failed_upgrade_sets_failed_blocked_and_logs_rollback_instructions() {
    let mut hooks = FakeHooks::new();
    hooks.upgrade_result = Err(UpgradeFailed {
        cause: "Failed to start MySQL server after snap refresh".into(),
    });
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            2,
            false,
            &[(0, "ready"), (1, "ready"), (2, "ready")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(state_writes(&effects), vec!["upgrading", "failed"]);
    assert_eq!(
        statuses(&effects).last(),
        Some(&Status::blocked(
            "upgrade failed. Check logs for rollback instruction"
        ))
    );
    let errors = logs(&effects, LogLevel::Error);
    assert!(errors
        .iter()
        .any(|m| m.contains("Failed to start MySQL server")));
    assert!(errors
        .iter()
        .any(|m| m.contains("Re-run `pre-upgrade-check` action on the leader unit")));
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::WorkloadVersion(_))));
}

#[test]
fn waiting_unit_shows_other_units_upgrading_status() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::RelationChanged,
        view_with_stack(
            0,
            false,
            &[(0, "ready"), (1, "ready"), (2, "upgrading")],
            "[0, 1, 2]",
        ),
        &mut hooks,
    );
    assert_eq!(
        statuses(&effects),
        vec![Status::waiting("other units upgrading first...")]
    );
    assert!(writes(&effects).is_empty());
}

// ---------- streaming and views ----------

/// A sink and hooks sharing one log, so the hooks can see what reached the sink so far.
struct SharedSink(Rc<RefCell<Vec<Effect>>>);

impl EffectSink for SharedSink {
    type Error = std::convert::Infallible;

    fn apply(&mut self, effect: Effect) -> Result<(), Self::Error> {
        self.0.borrow_mut().push(effect);
        Ok(())
    }
}

struct Watching {
    inner: FakeHooks,
    seen: Rc<RefCell<Vec<Effect>>>,
    seen_at_upgrade: Vec<Effect>,
}

impl UpgradeHooks for Watching {
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
        self.seen_at_upgrade = self.seen.borrow().clone();
        progress("halfway");
        self.seen_at_upgrade.extend(
            self.seen
                .borrow()
                .iter()
                .skip(self.seen_at_upgrade.len())
                .cloned(),
        );
        self.inner.upgrade_unit(view, &mut |_| {})
    }
}

#[test]
fn effects_reach_the_sink_before_the_workload_upgrade_starts() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut hooks = Watching {
        inner: FakeHooks::new(),
        seen: seen.clone(),
        seen_at_upgrade: Vec::new(),
    };
    let mut sink = SharedSink(seen);
    let Ok(_) = handle(
        Input::new(
            Event::RelationChanged,
            view_with_stack(1, false, &[(0, "ready"), (1, "ready")], "[0, 1]"),
        ),
        &mut hooks,
        &mut sink,
    );
    assert!(hooks
        .seen_at_upgrade
        .contains(&Effect::UnitStatus(Status::maintenance("upgrading..."))));
    assert!(hooks
        .seen_at_upgrade
        .contains(&set_unit(STATE_KEY, "upgrading")));
    assert_eq!(
        hooks.seen_at_upgrade.last(),
        Some(&Effect::UnitStatus(Status::maintenance("halfway"))),
        "progress is emitted immediately"
    );
}

#[test]
fn view_given_to_upgrade_shows_own_writes() {
    let mut hooks = FakeHooks::new();
    run(
        Event::UpgradeCharm,
        view_with_stack(1, false, &[(0, "ready"), (1, "idle")], "[0, 1]"),
        &mut hooks,
    );
    let seen = &hooks.upgrades[0];
    assert_eq!(
        seen.own_state(),
        Ok(Some(juju_upgrade::UnitState::Upgrading))
    );
}

// ---------- corrupt data ----------

fn assert_blocked_without_writes(effects: &[Effect], needle: &str) {
    assert!(writes(effects).is_empty(), "{effects:?}");
    let status = statuses(effects);
    assert_eq!(status.len(), 1, "{effects:?}");
    assert_eq!(status[0].kind, juju_upgrade::StatusKind::Blocked);
    assert!(status[0].message.starts_with("upgrade data invalid: "));
    assert!(status[0].message.contains(needle), "{}", status[0].message);
    assert_eq!(logs(effects, LogLevel::Error).len(), 1);
}

#[test]
fn unknown_state_blocks_without_writes() {
    for event in [
        Event::RelationCreated,
        Event::UpgradeCharm,
        Event::RelationChanged,
    ] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            event,
            view_with_stack(
                2,
                true,
                &[(0, "ready"), (1, "upgrayding"), (2, "ready")],
                "[0, 1, 2]",
            ),
            &mut hooks,
        );
        assert_blocked_without_writes(&effects, "unit 1 state \"upgrayding\" is not a known state");
        assert!(hooks.upgrades.is_empty());
    }
}

#[test]
fn malformed_or_duplicated_stack_blocks_without_writes() {
    for (stack, needle) in [
        ("[0, 1", "is not a JSON list of unit numbers"),
        ("[\"0\"]", "is not a JSON list of unit numbers"),
        ("[0, 1, 1]", "lists unit 1 more than once"),
    ] {
        let mut hooks = FakeHooks::new();
        let effects = run(
            Event::RelationChanged,
            view_with_stack(1, true, &[(0, "ready"), (1, "ready")], stack),
            &mut hooks,
        );
        assert_blocked_without_writes(&effects, needle);
    }
}

#[test]
fn stack_units_that_left_the_application_are_dropped_by_the_leader_and_skipped_by_the_others() {
    // Beyond v0: unit 9 departed (Juju never reuses a unit number), it is not corrupt data.
    let mut hooks = FakeHooks::new();
    let leader_view = || {
        with_round(
            view_with_stack(0, true, &[(0, "ready"), (1, "ready")], "[0, 1, 9]"),
            "1",
            &[0, 1],
        )
    };
    let effects = run(Event::RelationDeparted, leader_view(), &mut hooks);
    assert_eq!(app_writes(&effects, STACK_KEY), vec!["[0, 1]"]);
    assert!(logs(&effects, LogLevel::Warning)
        .iter()
        .any(|line| line.contains("mysql/9 left the application")));
    assert!(statuses(&effects)
        .iter()
        .all(|s| !s.message.starts_with(messages::DATA_INVALID_PREFIX)));
    // A non-leader does not write the stack but is granted once the departed top is skipped.
    let mut view = leader_view();
    view.unit = 1;
    view.is_leader = false;
    let effects = run(Event::RelationDeparted, view, &mut hooks);
    assert!(app_writes(&effects, STACK_KEY).is_empty());
    assert_eq!(
        hooks.upgrades.len(),
        1,
        "unit 1 is the top among the live units"
    );
}

#[test]
fn bad_dependencies_or_round_block_without_writes() {
    let mut hooks = FakeHooks::new();
    let snapshot = with_deps(
        view_with_stack(0, true, &[(0, "idle")], "[0]"),
        "{\"snap\": {\"version\": \"8.0\"}}",
    );
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_blocked_without_writes(&effects, "dependencies");

    let snapshot = with_round(view_with_stack(0, true, &[(0, "idle")], "[0]"), "two", &[]);
    let effects = run(Event::UpgradeCharm, snapshot, &mut hooks);
    assert_blocked_without_writes(&effects, "upgrade-round \"two\" is not a number");
}

#[test]
fn action_on_corrupt_data_fails_with_the_problem() {
    let mut hooks = FakeHooks::new();
    let effects = run(
        Event::PreUpgradeCheck,
        view(0, true, &[(0, "idle"), (1, "bogus")]),
        &mut hooks,
    );
    assert_eq!(
        action_failure(&effects).as_deref(),
        Some("upgrade data invalid: unit 1 state \"bogus\" is not a known state")
    );
    assert!(writes(&effects).is_empty());
    assert_eq!(hooks.checks_run, 0);
}
