//! What the charm does beyond the v0 upgrade library, through juju-sim with the real charm
//! binary, one test per behaviour: automatic rollback, `pause-after-unit-refresh` (`first`,
//! `all`, `none`) with `resume-upgrade`, `force-upgrade` with named skips, a refresh nobody
//! prepared, a refresh racing `pre-upgrade-check`, a second refresh mid-upgrade, leadership
//! moving and hooks failing or being killed mid-rollback.
//!
//! Every settle checks after each operation that at most one unit is `upgrading` and at most
//! one MySQL server is down (see `Sim::settle`).

use e2e::{binaries, Sim, APP, NEW_VERSION, OLD_REVISION, OLD_VERSION, WAITING_FOR_OTHERS};
use juju_sim::engine::Source;
use juju_sim::model::{Level, OpKind, Outcome, Task, TaskStatus};
use juju_upgrade::messages;
use mysql_charm::versions::VersionOverrides;
use mysql_charm::workload::{RetryPolicy, Workload};
use mysql_test_workloads::{EmulatedWorkload, FaultKind, FaultRule};

/// The rollback command every status names: back to the deployed revision.
const ROLLBACK: &str = "juju refresh mysql --revision=182";
/// MySQL in the third revision of the second-refresh test.
const THIRD_VERSION: &str = "8.0.35";

fn result(task: &Task) -> String {
    task.results
        .get("result")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn blocked(message: impl Into<String>) -> (String, String) {
    ("blocked".to_owned(), message.into())
}

/// Three units of revision 182, `pause-after-unit-refresh` set to `pause` when given.
fn deployed(seed: u64, pause: Option<&str>) -> Sim {
    let mut sim = Sim::new(seed, binaries!());
    sim.deploy_old(3);
    if let Some(pause) = pause {
        sim.set_pause(pause);
        sim.settle();
    }
    assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
    sim
}

/// Prepares, and refreshes to the new revision with MySQL 8.0.34 failing to start on the first
/// unit to upgrade; returns that unit, now failed.
fn fail_first_unit(sim: &mut Sim) -> String {
    sim.pre_upgrade_check();
    let first = sim.planned_order()[0].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(first.as_str())]);
    let new = sim.new_charm();
    assert_eq!(sim.refresh(Source::Path(new)), 183);
    assert_eq!(sim.upgrade_state(&first).as_deref(), Some("failed"));
    assert_eq!(
        sim.app_status(),
        blocked(format!(
            "Upgrade failed on {first}, see `juju debug-log`. Roll back: `{ROLLBACK}`"
        ))
    );
    sim.arm([]);
    first
}

/// Steps one operation at a time (checking the invariants) until `done` holds.
fn step_until(sim: &mut Sim, what: &str, done: impl Fn(&Sim) -> bool) {
    for _ in 0..2_000 {
        if done(sim) {
            return;
        }
        assert!(sim.step(), "the model settled before {what}");
    }
    panic!("{what} did not happen");
}

/// Every unit's window on its server opened one at a time; returns their order.
fn one_at_a_time(sim: &Sim) -> Vec<String> {
    sim.assert_one_at_a_time(&sim.windows())
}

// ---------- automatic rollback ----------

#[test]
fn automatic_rollback_refreshing_back_without_pre_upgrade_check_rolls_back_failed_unit_first() {
    for seed in [1, 9] {
        let mut sim = deployed(seed, None);
        let failed = fail_first_unit(&mut sim);
        let leader = sim.leader();
        assert!(
            !sim.log_lines(&failed, &format!("Or roll back directly (detected automatically, no pre-upgrade-check needed): {ROLLBACK}")).is_empty(),
            "the failed unit logs the direct rollback"
        );

        // No pre-upgrade-check: straight back to revision 182.
        sim.clear_status_trace();
        assert_eq!(sim.refresh(Source::Revision(OLD_REVISION)), OLD_REVISION);
        assert!(
            !sim.log_lines(&leader, "Rollback detected").is_empty(),
            "{}",
            sim.debug_log()
        );
        assert!(!sim
            .log_lines(&leader, "Skipping the compatibility check")
            .is_empty());
        sim.assert_all_active_on(OLD_VERSION);
        let mut expected = vec![failed.clone()];
        expected.extend(sim.planned_order());
        assert_eq!(
            one_at_a_time(&sim),
            expected,
            "seed {seed}: failed unit first"
        );
        assert!(sim.windows()[1..].iter().all(|w| w.completed));
        assert_eq!(
            sim.app_revision_and_version(),
            (OLD_REVISION, OLD_VERSION.to_owned())
        );
        assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
        // Rolling back never paused, though pause-after-unit-refresh is `first`.
        assert!(
            !sim.status_trace
                .iter()
                .any(|(_, _, m)| m.starts_with("Paused")),
            "{:?}",
            sim.status_trace
        );
    }
}

#[test]
fn the_seeds_rollback_with_pre_upgrade_check_needs_no_resume_with_the_default_pause() {
    let mut sim = deployed(4, None);
    let failed = fail_first_unit(&mut sim);
    let task = sim.pre_upgrade_check();
    assert!(result(&task).starts_with("Ready to roll back."), "{task:?}");
    assert_eq!(
        sim.app_status(),
        blocked(format!("Ready to roll back: `{ROLLBACK}`"))
    );
    sim.refresh(Source::Revision(OLD_REVISION));
    sim.assert_all_active_on(OLD_VERSION);
    assert_eq!(one_at_a_time(&sim)[..2], [failed.clone(), failed]);
    assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
}

// ---------- pause-after-unit-refresh and resume-upgrade ----------

#[test]
fn pause_first_stops_after_the_first_unit_until_resume_upgrade_then_the_rest_go_on() {
    let mut sim = deployed(2, None);
    sim.pre_upgrade_check();
    let order = sim.planned_order();
    let (next, leader) = (&order[1], &order[2]);
    sim.refresh(Source::Path(sim.new_charm()));

    assert_eq!(one_at_a_time(&sim), order[..1], "only the first unit");
    assert_eq!(
        sim.unit_status(next),
        blocked(format!(
            "Paused: check upgraded units, then `juju run {next} resume-upgrade`"
        ))
    );
    assert_eq!(
        sim.app_status(),
        blocked(format!(
            "Paused: check units, then `juju run {next} resume-upgrade`. Roll back: `juju refresh mysql --revision=182`"
        ))
    );
    assert_eq!(
        sim.unit_status(leader),
        ("waiting".to_owned(), WAITING_FOR_OTHERS.to_owned())
    );

    // On the wrong unit the action says where to run it, and changes nothing.
    let wrong = sim.run_action(leader, "resume-upgrade");
    assert_eq!(wrong.status, TaskStatus::Failed);
    assert_eq!(
        wrong.message,
        Some(messages::resume_wrong_unit(next)),
        "{wrong:?}"
    );
    assert_eq!(one_at_a_time(&sim), order[..1]);

    let resumed = sim.run_action(next, "resume-upgrade");
    assert_eq!(resumed.status, TaskStatus::Completed, "{resumed:?}");
    assert_eq!(
        result(&resumed),
        format!("Upgrade resumed: {next} upgraded.")
    );
    // `first`: the rest go on without another resume.
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), order);
    assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
}

#[test]
fn pause_all_needs_resume_upgrade_before_every_unit_after_the_first() {
    let mut sim = deployed(3, Some("all"));
    sim.pre_upgrade_check();
    let order = sim.planned_order();
    sim.refresh(Source::Path(sim.new_charm()));
    for (done, next) in order.iter().enumerate().skip(1) {
        assert_eq!(one_at_a_time(&sim), order[..done], "paused before {next}");
        assert_eq!(
            sim.app_status(),
            blocked(messages::paused_app(next, ROLLBACK))
        );
        let resumed = sim.run_action(next, "resume-upgrade");
        assert_eq!(resumed.status, TaskStatus::Completed, "{resumed:?}");
    }
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), order);
}

#[test]
fn pause_none_upgrades_every_unit_without_stopping() {
    let mut sim = deployed(5, Some("none"));
    sim.pre_upgrade_check();
    sim.clear_status_trace();
    sim.refresh(Source::Path(sim.new_charm()));
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), sim.planned_order());
    assert!(!sim
        .status_trace
        .iter()
        .any(|(_, _, m)| m.starts_with("Paused")));
    // resume-upgrade has nothing to do then.
    let task = sim.run_action(&format!("{APP}/0"), "resume-upgrade");
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(
        task.message.as_deref(),
        Some(messages::RESUME_NOTHING_IN_PROGRESS)
    );
}

#[test]
fn pause_setting_changed_to_none_while_paused_lets_the_upgrade_go_on() {
    let mut sim = deployed(6, None);
    sim.pre_upgrade_check();
    sim.refresh(Source::Path(sim.new_charm()));
    assert_eq!(sim.app_status().0, "blocked", "paused after the first unit");
    sim.set_pause("none");
    sim.settle();
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), sim.planned_order());
}

// ---------- force-upgrade ----------

#[test]
fn force_upgrade_refuses_when_nothing_is_skipped_or_the_skip_does_not_match() {
    let mut sim = deployed(7, None);
    let failed = fail_first_unit(&mut sim);
    let bags = |sim: &Sim| {
        sim.unit_names()
            .iter()
            .map(|u| sim.engine.unit_bag(u, "upgrade"))
            .collect::<Vec<_>>()
    };
    let before = (bags(&sim), sim.engine.app_bag(APP, "upgrade"));

    let nothing = sim.run_action_with(
        &failed,
        "force-upgrade",
        &[
            ("skip-compatibility-check", false),
            ("skip-pre-upgrade-check", false),
            ("skip-health-check", false),
        ],
    );
    assert_eq!(nothing.status, TaskStatus::Failed);
    assert_eq!(
        nothing.message.as_deref(),
        Some(messages::FORCE_NOTHING_SKIPPED)
    );
    let defaults = sim.run_action(&failed, "force-upgrade");
    assert_eq!(
        defaults.message.as_deref(),
        Some(messages::FORCE_NOTHING_SKIPPED),
        "every skip defaults to false"
    );
    let mismatched = sim.run_action_with(
        &failed,
        "force-upgrade",
        &[("skip-compatibility-check", true)],
    );
    assert_eq!(mismatched.status, TaskStatus::Failed);
    assert_eq!(
        mismatched.message,
        Some(messages::force_needs_health_skip(&failed))
    );
    let leader = sim.leader();
    let not_blocked = sim.run_action_with(&leader, "force-upgrade", &[("skip-health-check", true)]);
    let hint = format!(" The blocked unit is {failed}: `juju run {failed} force-upgrade ...`");
    assert_eq!(
        not_blocked.message,
        Some(messages::force_not_blocked(&leader, "ready", &hint))
    );
    assert_eq!(
        (bags(&sim), sim.engine.app_bag(APP, "upgrade")),
        before,
        "a refused force changes nothing"
    );
    assert!(sim.log_lines(&failed, "force-upgrade on").is_empty());
}

#[test]
fn force_upgrade_skip_health_check_accepts_a_failed_unit_and_the_upgrade_goes_on() {
    let mut sim = deployed(8, Some("none"));
    sim.pre_upgrade_check();
    let first = sim.planned_order()[0].clone();
    // The first unit's MySQL 8.0.34 starts but does not rejoin: it fails its health check.
    sim.arm([FaultRule::new(FaultKind::NoRejoin)
        .for_version(NEW_VERSION)
        .for_unit(first.as_str())]);
    sim.refresh(Source::Path(sim.new_charm()));
    assert_eq!(sim.upgrade_state(&first).as_deref(), Some("failed"));
    assert!(!sim
        .log_lines(&first, "Upgraded unit is not healthy")
        .is_empty());

    // The operator repairs the member by hand (here: the fault goes, mysqld restarts)...
    sim.arm([]);
    let machine = sim.engine.machine_dir(&first).expect("machine");
    let server = EmulatedWorkload::new(first.as_str(), machine, sim.model_dir());
    server.stop().expect("stop");
    server.start().expect("start");
    server
        .wait_until_online(RetryPolicy::REJOIN_AFTER_UPGRADE)
        .expect("back online");
    // ...and accepts the unit as upgraded.
    let forced = sim.run_action_with(&first, "force-upgrade", &[("skip-health-check", true)]);
    assert_eq!(forced.status, TaskStatus::Completed, "{forced:?}");
    assert_eq!(
        forced.results.get("skipped").and_then(|v| v.as_str()),
        Some("health check")
    );
    assert_eq!(
        result(&forced),
        messages::forced_result(&first, "health check")
    );
    let logged = sim.log_lines(
        &first,
        &format!("force-upgrade on {first}: skipped the health check"),
    );
    assert_eq!(logged.len(), 1, "the skip is logged once");
    let warning = sim
        .engine
        .log_entries()
        .expect("log")
        .into_iter()
        .any(|e| e.message == logged[0] && e.level == Level::Warning);
    assert!(warning, "logged as a warning");

    sim.assert_all_active_on(NEW_VERSION);
    let windows = sim.windows();
    let rest: Vec<String> = windows[1..].iter().map(|w| w.unit.clone()).collect();
    assert_eq!(
        rest,
        sim.planned_order()[1..],
        "the others went on, in order"
    );
    assert!(windows[1..].iter().all(|w| w.completed));
}

#[test]
fn force_upgrade_skip_compatibility_check_lets_an_incompatible_refresh_go_on() {
    let mut sim = deployed(10, Some("none"));
    sim.pre_upgrade_check();
    let incompatible = sim.incompatible_charm();
    sim.refresh(Source::Path(incompatible));
    let leader = sim.leader();
    assert_eq!(sim.upgrade_state(&leader).as_deref(), Some("failed"));
    assert_eq!(
        sim.app_status(),
        blocked(messages::incompatible_app(ROLLBACK))
    );
    assert!(sim.windows().is_empty(), "no server touched");

    let wrong = sim.run_action_with(&leader, "force-upgrade", &[("skip-health-check", true)]);
    assert_eq!(
        wrong.message,
        Some(messages::force_needs_compatibility_skip(&leader))
    );
    let forced = sim.run_action_with(
        &leader,
        "force-upgrade",
        &[("skip-compatibility-check", true)],
    );
    assert_eq!(forced.status, TaskStatus::Completed, "{forced:?}");
    assert_eq!(
        forced.results.get("skipped").and_then(|v| v.as_str()),
        Some("compatibility check")
    );
    assert!(!sim
        .log_lines(
            &leader,
            &format!("force-upgrade on {leader}: skipped the compatibility check")
        )
        .is_empty());
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), sim.planned_order());
}

#[test]
fn force_upgrade_skip_pre_upgrade_check_prepares_although_the_check_fails() {
    let mut sim = deployed(11, Some("none"));
    let leader = sim.leader();
    let first = sim.planned_order()[0].clone();
    // The first unit to upgrade has its mysqld stopped: the check refuses.
    let machine = sim.engine.machine_dir(&first).expect("machine");
    EmulatedWorkload::new(first.as_str(), machine, sim.model_dir())
        .stop()
        .expect("stop");
    let check = sim.run_action(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(check.status, TaskStatus::Failed);
    assert_eq!(
        check.message.as_deref(),
        Some(messages::PRE_UPGRADE_CHECK_FAILED)
    );
    let wrong = sim.run_action_with(&leader, "force-upgrade", &[("skip-health-check", true)]);
    assert_eq!(
        wrong.message,
        Some(messages::force_needs_pre_upgrade_skip(APP))
    );
    let forced = sim.run_action_with(
        &leader,
        "force-upgrade",
        &[("skip-pre-upgrade-check", true)],
    );
    assert_eq!(forced.status, TaskStatus::Completed, "{forced:?}");
    assert_eq!(
        forced.results.get("skipped").and_then(|v| v.as_str()),
        Some("pre-upgrade check")
    );
    assert!(
        result(&forced).starts_with("Pre-upgrade check successful."),
        "{forced:?}"
    );
    assert!(!sim
        .log_lines(
            &leader,
            &format!("force-upgrade on {leader}: skipped the pre-upgrade check")
        )
        .is_empty());
    assert!(sim.upgrade_stack().is_some_and(|s| s != "[]"));

    // The refresh upgrades the stopped unit first, which starts it again.
    sim.refresh(Source::Path(sim.new_charm()));
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), sim.planned_order());
}

// ---------- refreshes nobody prepared, or racing the preparation ----------

#[test]
fn refresh_without_pre_upgrade_check_blocks_with_the_next_command_and_goes_on_once_it_runs() {
    let mut sim = deployed(12, Some("none"));
    sim.refresh(Source::Path(sim.new_charm()));
    let waiting = messages::refresh_not_prepared(APP);
    assert_eq!(
        waiting,
        "Refreshed without pre-upgrade-check: run `juju run mysql/leader pre-upgrade-check`"
    );
    for unit in sim.unit_names() {
        assert_eq!(sim.unit_status(&unit), blocked(waiting.as_str()), "{unit}");
        assert!(
            !sim.log_lines(&unit, messages::NO_STACK).is_empty(),
            "{unit} logs v0's line too"
        );
    }
    assert_eq!(
        sim.app_status(),
        blocked(format!(
            "Refresh waits for `juju run mysql/leader pre-upgrade-check`; or roll back: `{ROLLBACK}`"
        ))
    );
    assert!(sim.windows().is_empty(), "nothing upgraded");
    // Juju's periodic update-status does not paint over it.
    sim.engine.update_status(APP).expect("update-status");
    sim.settle();
    for unit in sim.unit_names() {
        assert_eq!(sim.unit_status(&unit), blocked(waiting.as_str()), "{unit}");
    }

    let task = sim.pre_upgrade_check();
    assert!(
        result(&task).contains("The charm is already refreshed: the upgrade starts now."),
        "{task:?}"
    );
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), sim.planned_order());
}

#[test]
fn refresh_back_before_preparing_forgets_the_refresh() {
    let mut sim = deployed(13, None);
    sim.refresh(Source::Path(sim.new_charm()));
    assert_eq!(sim.app_status().0, "blocked");
    sim.refresh(Source::Revision(OLD_REVISION));
    sim.assert_all_active_on(OLD_VERSION);
    assert!(sim.windows().is_empty());
    assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
}

/// The end of a race: every unit upgraded once, one at a time, the check having prepared it.
fn upgraded_once_after_the_race(sim: &Sim, check: &Task) {
    assert_eq!(check.status, TaskStatus::Completed, "{check:?}");
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(sim), sim.planned_order());
    assert!(sim.windows().iter().all(|w| w.to_version == NEW_VERSION));
}

#[test]
fn a_refresh_racing_a_pre_upgrade_check_still_running_waits_for_it() {
    for seed in [14, 15, 16] {
        let mut sim = deployed(seed, Some("none"));
        let leader = sim.leader();
        // `juju run mysql/leader pre-upgrade-check --background`, then at once `juju refresh`.
        let check = sim.begin_action(&format!("{APP}/leader"), "pre-upgrade-check", &[]);
        sim.engine
            .refresh(APP, Source::Path(sim.new_charm()))
            .expect("refresh");
        sim.settle();
        let check = sim.finished_task(check);
        upgraded_once_after_the_race(&sim, &check);
        // Juju runs the queued action before the leader's charm upgrade, with the old charm.
        let history = sim.engine.history().expect("history");
        let action = history
            .iter()
            .position(|r| r.unit == leader && r.kind == OpKind::Action);
        let swap = history.iter().position(|r| {
            r.unit == leader && r.kind == OpKind::CharmSwap && r.revision == Some(183)
        });
        assert!(
            action.is_some() && action < swap,
            "seed {seed}: {action:?} {swap:?}"
        );
        let ran_with = action.and_then(|i| history[i].revision);
        assert_eq!(
            ran_with,
            Some(OLD_REVISION),
            "the check ran with the old charm"
        );
    }
}

#[test]
fn a_unit_refreshed_before_the_racing_pre_upgrade_check_finished_joins_once_it_did() {
    let mut sim = deployed(17, Some("none"));
    let check = sim.begin_action(&format!("{APP}/leader"), "pre-upgrade-check", &[]);
    sim.engine
        .refresh(APP, Source::Path(sim.new_charm()))
        .expect("refresh");
    // A non-leader runs its upgrade-charm before the leader got to the check.
    let other = sim.planned_order()[0].clone();
    let waiting = blocked(messages::refresh_not_prepared(APP));
    while sim.unit_status(&other) != waiting {
        assert!(sim.step_unit(&other), "{other} never ran upgrade-charm");
    }
    let pending = sim.engine.task(check).map(|task| task.status);
    assert_eq!(
        pending,
        Some(TaskStatus::Pending),
        "the check has not run yet"
    );
    sim.settle();
    let check = sim.finished_task(check);
    upgraded_once_after_the_race(&sim, &check);
    assert!(!sim
        .log_lines(
            &other,
            &format!("The upgrade is prepared: {other} joins it")
        )
        .is_empty());
}

#[test]
fn a_pre_upgrade_check_queued_just_after_the_refresh_runs_first_and_the_upgrade_goes_on() {
    for seed in [18, 19] {
        let mut sim = deployed(seed, Some("none"));
        // The reverse order: `juju refresh`, then at once the check; nothing ran in between.
        sim.engine
            .refresh(APP, Source::Path(sim.new_charm()))
            .expect("refresh");
        let check = sim.begin_action(&format!("{APP}/leader"), "pre-upgrade-check", &[]);
        sim.settle();
        let check = sim.finished_task(check);
        upgraded_once_after_the_race(&sim, &check);
    }
}

// ---------- a second refresh mid-upgrade ----------

#[test]
fn a_second_refresh_mid_upgrade_takes_every_unit_to_the_third_revision_one_at_a_time() {
    let mut sim = deployed(20, Some("none"));
    sim.pre_upgrade_check();
    let order = sim.planned_order();
    sim.engine
        .refresh(APP, Source::Path(sim.new_charm()))
        .expect("refresh");
    step_until(&mut sim, "the first unit upgraded", |sim| {
        sim.upgrade_state(&order[0]).as_deref() == Some("completed")
    });
    let third = sim.charm(
        "third",
        VersionOverrides {
            workload_version: Some(THIRD_VERSION.into()),
            snap_revision: Some("71".into()),
            ..VersionOverrides::default()
        },
    );
    assert_eq!(sim.refresh(Source::Path(third)), 184);
    sim.assert_all_active_on(THIRD_VERSION);
    let leader = sim.leader();
    assert!(
        !sim.log_lines(&leader, "while the upgrade to revision 183")
            .is_empty(),
        "{}",
        sim.debug_log()
    );
    let windows = sim.windows();
    sim.assert_one_at_a_time(&windows);
    for unit in &order {
        let last = windows.iter().rfind(|w| w.unit == *unit).expect("a window");
        assert_eq!(last.to_version, THIRD_VERSION, "{unit}");
    }
    assert_eq!(
        sim.app_revision_and_version(),
        (184, THIRD_VERSION.to_owned())
    );
}

// ---------- leadership moves ----------

#[test]
fn leadership_moving_while_paused_keeps_the_pause_and_the_new_leader_says_what_to_do() {
    let mut sim = deployed(21, None);
    sim.pre_upgrade_check();
    let order = sim.planned_order();
    let next = order[1].clone();
    sim.refresh(Source::Path(sim.new_charm()));
    let paused = blocked(messages::paused_app(&next, ROLLBACK));
    assert_eq!(sim.app_status(), paused);

    // The first unit (already upgraded) leads now.
    sim.engine.move_leader(APP, &order[0]).expect("move");
    sim.settle();
    assert_eq!(sim.leader(), order[0]);
    assert_eq!(sim.app_status(), paused, "the new leader shows the same");
    assert_eq!(one_at_a_time(&sim), order[..1]);

    let resumed = sim.run_action(&next, "resume-upgrade");
    assert_eq!(resumed.status, TaskStatus::Completed, "{resumed:?}");
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(one_at_a_time(&sim), order, "the stack's order is kept");
}

#[test]
fn leadership_moving_mid_rollback_lets_the_new_leader_finish_it() {
    for seed in [22, 23] {
        let mut sim = deployed(seed, None);
        let failed = fail_first_unit(&mut sim);
        let order = sim.planned_order();
        sim.engine
            .refresh(APP, Source::Revision(OLD_REVISION))
            .expect("refresh back");
        // Once the failed unit rolled back, the next unit leads.
        step_until(&mut sim, "the failed unit rolled back", |sim| {
            sim.windows().len() == 2 && sim.windows()[1].completed
        });
        sim.engine.move_leader(APP, &order[1]).expect("move");
        sim.settle();
        assert_eq!(sim.leader(), order[1]);
        sim.assert_all_active_on(OLD_VERSION);
        let mut expected = vec![failed.clone()];
        expected.extend(order.clone());
        assert_eq!(one_at_a_time(&sim), expected, "seed {seed}");
        assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
    }
}

// ---------- hook errors and killed agents mid-rollback ----------

#[test]
fn a_hook_error_and_a_killed_agent_mid_rollback_are_retried_with_the_same_outcome() {
    let mut sim = deployed(24, None);
    let failed = fail_first_unit(&mut sim);
    let order = sim.planned_order();
    sim.engine
        .refresh(APP, Source::Revision(OLD_REVISION))
        .expect("refresh back");
    sim.step_under_faults(
        |round, i| u32::try_from(6 + (5 * round + 7 * i) % 30).unwrap_or(6),
        3,
    );
    sim.settle();
    let history = sim.engine.history().expect("history");
    assert!(
        history.iter().any(|r| r.outcome == Outcome::Killed),
        "agents were killed"
    );
    assert!(
        history
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Failed { .. })),
        "hooks failed"
    );
    sim.assert_all_active_on(OLD_VERSION);
    // Interrupted windows reopen on the same unit only; each unit rolls back in one stretch.
    let mut opened = one_at_a_time(&sim);
    opened.dedup();
    assert_eq!(opened[0], failed, "the failed unit rolled back first");
    assert_eq!(opened, order);
    assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
}
