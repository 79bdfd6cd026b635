//! What the core does beyond v0 when the charm reports its versions and its
//! `pause-after-unit-refresh` setting, driven through a whole application: automatic rollback
//! detection, pause and resume, forced starts with named skips, the guards around refreshes
//! that no `pre-upgrade-check` prepared or that arrive mid-upgrade, and leader changes and
//! retried hooks. Each test is named after the behaviour it pins down. (The rules checked on
//! one unit's hand-built view are in `crates/upgrade/tests/beyond_v0.rs`.)

use juju_upgrade::wire::{
    CHARM_VERSIONS_KEY, COMPATIBILITY_SKIPPED_KEY, ORIGINAL_VERSIONS_KEY, REFRESH_PENDING_KEY,
    RESUMED_ROUND_KEY, ROLLBACK_ROUND_KEY, ROUND_KEY, UPGRADE_TARGET_KEY,
};
use juju_upgrade::{messages, CharmVersions, Event, LogLevel, Status, StatusKind};
use juju_upgrade_harness::cluster::Cluster;
use proptest::prelude::*;

const ROLLBACK_TO_42: &str = "juju refresh mysql --revision=42";

/// The application status while the upgrade waits for `resume-upgrade` on `unit`.
fn paused_before(unit: &str) -> Option<Status> {
    Some(Status::blocked(messages::paused_app(unit, ROLLBACK_TO_42)))
}

/// Three units at revision 42 with mysql/0 leading.
fn deployed(pause: Option<&str>) -> Cluster {
    versioned(3, 0, pause)
}

/// `count` units of a charm that reports its versions, at revision 42 with `leader` leading,
/// after the peer relation is set up.
fn versioned(count: u32, leader: u32, pause: Option<&str>) -> Cluster {
    let mut cluster = Cluster::builder(count)
        .leader(leader)
        .charm_versions(true)
        .pause_setting(pause)
        .deploy();
    cluster.settle();
    cluster
}

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

fn assert_healthy(cluster: &Cluster, revision: u32) {
    if let Err(problem) = cluster.healthy_at(revision) {
        panic!("not healthy at {revision}: {problem}");
    }
    assert_eq!(cluster.app_status, Some(Status::active("")));
}

/// Prepares and refreshes to 43 with `failing` units failing their upgrade.
fn upgrade_to_43(cluster: &mut Cluster, failing: &[u32]) {
    let check = cluster.run_action(0, Event::PreUpgradeCheck);
    assert_eq!(check.failed, None);
    for &unit in failing {
        cluster.script_failures(unit, &[true]);
    }
    cluster.refresh(43);
    cluster.settle();
}

// ---------- what the charm reports, and what is recorded ----------

#[test]
fn deploy_records_the_original_versions_and_the_charm_each_unit_runs() {
    let cluster = deployed(Some("none"));
    let expected = versions("42", "8.0.33");
    assert_eq!(
        cluster.app_value(ORIGINAL_VERSIONS_KEY),
        Some(expected.as_str())
    );
    for unit in 0..3 {
        assert_eq!(
            cluster.value(unit, CHARM_VERSIONS_KEY),
            Some(expected.as_str())
        );
    }
    assert_eq!(cluster.app_status, Some(Status::active("")));
}

#[test]
fn a_completed_upgrade_records_its_versions_as_the_next_original_and_clears_its_target() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(cluster.upgrade_order(), [2, 1, 0]);
    assert_healthy(&cluster, 43);
    let reached = versions("43", "8.0.34");
    assert_eq!(
        cluster.app_value(ORIGINAL_VERSIONS_KEY),
        Some(reached.as_str())
    );
    assert_eq!(cluster.app_value(UPGRADE_TARGET_KEY), None);
    for unit in 0..3 {
        assert_eq!(
            cluster.value(unit, CHARM_VERSIONS_KEY),
            Some(reached.as_str())
        );
    }
}

// ---------- automatic rollback ----------

#[test]
fn refresh_back_to_the_original_revision_after_a_failure_rolls_back_without_pre_upgrade_check() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    assert_eq!(cluster.failed_units(), [2]);
    assert_eq!(
        cluster.app_status,
        Some(Status::blocked(messages::upgrade_failed_app(
            "mysql/2",
            ROLLBACK_TO_42
        )))
    );
    assert!(cluster.logged(2, LogLevel::Error, ROLLBACK_TO_42));

    cluster.refresh(42);
    cluster.settle();
    assert!(cluster.logged(0, LogLevel::Info, "Rollback detected"));
    assert!(cluster.logged(0, LogLevel::Info, "Skipping the compatibility check"));
    let rollbacks = &cluster.upgrades[1..];
    assert_eq!(
        rollbacks.iter().map(|r| r.unit).collect::<Vec<_>>(),
        [2, 1, 0],
        "the failed unit first, one at a time"
    );
    assert_eq!(rollbacks[0].from, "broken");
    assert!(rollbacks.iter().all(|r| r.to == "8.0.33" && !r.failed));
    assert_healthy(&cluster, 42);
}

#[test]
fn automatic_rollback_rolls_back_the_failed_unit_first_then_the_units_already_upgraded() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[1]);
    assert_eq!(cluster.upgrade_order(), [2, 1]);
    assert_eq!(
        cluster.stack(),
        [0, 1],
        "mysql/2 upgraded and left the stack"
    );
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(cluster.upgrade_order()[2..], [1, 2, 0]);
    assert_healthy(&cluster, 42);
}

#[test]
fn automatic_rollback_after_an_incompatible_refresh_skips_the_compatibility_check() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(90);
    cluster.settle();
    assert_eq!(cluster.failed_units(), [0]);
    assert!(cluster.upgrades.is_empty(), "no workload touched");
    for unit in [1, 2] {
        assert_eq!(
            cluster.status(unit),
            Some(&Status::waiting(messages::WAITING_FOR_OTHERS)),
            "mysql/{unit}, the top one too, waits as in v0"
        );
    }
    assert_eq!(
        cluster.app_status,
        Some(Status::blocked(messages::incompatible_app(ROLLBACK_TO_42)))
    );
    cluster.refresh(42);
    cluster.settle();
    assert_healthy(&cluster, 42);
    assert!(cluster
        .upgrades
        .iter()
        .all(|r| r.to == "8.0.33" && !r.failed));
}

#[test]
fn refresh_to_a_third_revision_after_a_failure_is_not_a_rollback_and_takes_every_unit_there() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[1]);
    cluster.refresh(44);
    cluster.settle();
    assert!(!cluster.logged(0, LogLevel::Info, "Rollback detected"));
    assert!(cluster.logged(0, LogLevel::Warning, "while the upgrade to revision 43"));
    assert_healthy(&cluster, 44);
    assert_eq!(
        cluster.app_value(ORIGINAL_VERSIONS_KEY),
        Some(versions("44", "8.0.35").as_str())
    );
}

#[test]
fn pre_upgrade_check_after_the_rollback_refresh_reports_the_rollback_and_changes_nothing() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    cluster.refresh(42);
    assert_eq!(cluster.run_next(0), Some(Event::UpgradeCharm));
    let bags = (cluster.app_bag.clone(), cluster.unit_bags.clone());
    let check = cluster.run_action(0, Event::PreUpgradeCheck);
    assert_eq!(check.failed, None);
    assert_eq!(
        check.result(),
        messages::rollback_already_started(&Some(CharmVersions::new("42", "8.0.33")))
    );
    assert_eq!((cluster.app_bag.clone(), cluster.unit_bags.clone()), bags);
    cluster.settle();
    assert_healthy(&cluster, 42);
}

#[test]
fn the_seed_recovery_with_pre_upgrade_check_still_works_when_the_charm_reports_versions() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    let prepare = cluster.run_action(0, Event::PreUpgradeCheck);
    assert_eq!(prepare.failed, None);
    assert_eq!(cluster.state(0), Some("recovery"));
    assert_eq!(
        cluster.app_status,
        Some(Status::blocked(messages::ready_to_roll_back_app(
            ROLLBACK_TO_42
        )))
    );
    cluster.refresh(42);
    cluster.settle();
    assert!(cluster.logged(0, LogLevel::Info, "as prepared by pre-upgrade-check"));
    assert!(!cluster.logged(0, LogLevel::Info, "Rollback detected"));
    assert_eq!(cluster.upgrade_order(), [2, 2, 1, 0]);
    assert_healthy(&cluster, 42);
}

#[test]
fn a_failure_during_an_automatic_rollback_stops_it_and_pre_upgrade_check_recovers_it() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    cluster.script_failures(1, &[true]);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(cluster.failed_units(), [1]);
    assert_eq!(
        cluster.app_status,
        Some(Status::blocked(messages::rollback_failed_app(
            "mysql", "mysql/1"
        )))
    );
    let prepare = cluster.run_action(0, Event::PreUpgradeCheck);
    assert_eq!(prepare.failed, None);
    assert_eq!(cluster.state(0), Some("recovery"));
    // Already on revision 42, which Juju will not refresh to again: the charm file it is.
    let again =
        messages::ready_to_roll_back_again_app("mysql", &CharmVersions::new("42", "8.0.33"));
    assert_eq!(
        again,
        "Ready to roll back again: `juju refresh mysql --path=<charm file of revision 42>`"
    );
    assert_eq!(cluster.app_status, Some(Status::blocked(again)));
    cluster.refresh(42);
    cluster.settle();
    assert_healthy(&cluster, 42);
}

// ---------- pause-after-unit-refresh and resume-upgrade ----------

#[test]
fn pause_first_stops_before_the_second_unit_until_resume_upgrade_runs_on_it() {
    let mut cluster = deployed(Some("first"));
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(cluster.upgrade_order(), [2]);
    assert_eq!(
        cluster.status(1),
        Some(&Status::blocked(messages::paused_unit("mysql/1")))
    );
    let paused = messages::paused_app("mysql/1", ROLLBACK_TO_42);
    assert_eq!(cluster.app_status, Some(Status::blocked(paused.clone())));
    assert_eq!(
        paused,
        "Paused: check units, then `juju run mysql/1 resume-upgrade`. Roll back: `juju refresh mysql --revision=42`"
    );

    let resume = cluster.run_action(1, Event::ResumeUpgrade);
    assert_eq!(resume.failed, None);
    assert_eq!(resume.result(), "Upgrade resumed: mysql/1 upgraded.");
    assert_eq!(cluster.upgrade_order(), [2, 1]);
    cluster.settle();
    assert_eq!(
        cluster.upgrade_order(),
        [2, 1, 0],
        "no pause after the second"
    );
    assert_healthy(&cluster, 43);
    assert_eq!(
        cluster.value(1, RESUMED_ROUND_KEY),
        None,
        "approvals cleared"
    );
}

#[test]
fn pause_all_needs_resume_upgrade_before_every_unit_but_the_first() {
    let mut cluster = deployed(Some("all"));
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(cluster.upgrade_order(), [2]);
    assert_eq!(cluster.run_action(1, Event::ResumeUpgrade).failed, None);
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 1]);
    assert_eq!(cluster.app_status, paused_before("mysql/0"));
    assert_eq!(cluster.run_action(0, Event::ResumeUpgrade).failed, None);
    cluster.settle();
    assert_healthy(&cluster, 43);
}

#[test]
fn pause_none_never_stops() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(cluster.upgrade_order(), [2, 1, 0]);
    assert_healthy(&cluster, 43);
}

#[test]
fn an_automatic_rollback_does_not_pause_with_first() {
    let mut cluster = deployed(Some("first"));
    upgrade_to_43(&mut cluster, &[2]);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(
        cluster.upgrade_order(),
        [2, 2, 1, 0],
        "the failed unit first, then the others, with no resume-upgrade"
    );
    assert_eq!(
        cluster.app_value(ROLLBACK_ROUND_KEY),
        cluster.app_value(ROUND_KEY)
    );
    assert_healthy(&cluster, 42);
}

#[test]
fn the_seed_recovery_does_not_pause_with_first() {
    let mut cluster = deployed(Some("first"));
    upgrade_to_43(&mut cluster, &[2]);
    assert_eq!(cluster.run_action(0, Event::PreUpgradeCheck).failed, None);
    assert_eq!(
        cluster.app_value(ROLLBACK_ROUND_KEY),
        cluster.app_value(ROUND_KEY)
    );
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 2, 1, 0]);
    assert_healthy(&cluster, 42);
}

#[test]
fn refreshing_back_while_paused_rolls_back_without_pausing_with_first() {
    let mut cluster = deployed(Some("first"));
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(cluster.upgrade_order(), [2], "paused before mysql/1");
    cluster.refresh(42);
    cluster.settle();
    assert!(cluster.logged(0, LogLevel::Info, "Rollback detected"));
    assert_eq!(
        cluster.upgrade_order()[1..],
        [1, 2, 0],
        "the paused unit first, then the others, with no resume-upgrade"
    );
    assert!(cluster.upgrades[1..].iter().all(|r| r.to == "8.0.33"));
    assert_healthy(&cluster, 42);
}

#[test]
fn a_rollback_pauses_after_each_unit_with_all() {
    let mut cluster = deployed(Some("all"));
    upgrade_to_43(&mut cluster, &[2]);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(
        cluster.upgrade_order(),
        [2, 2],
        "the failed unit rolled back"
    );
    assert_eq!(cluster.app_status, paused_before("mysql/1"));
    assert_eq!(cluster.run_action(1, Event::ResumeUpgrade).failed, None);
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 2, 1]);
    assert_eq!(cluster.app_status, paused_before("mysql/0"));
    assert_eq!(cluster.run_action(0, Event::ResumeUpgrade).failed, None);
    cluster.settle();
    assert_healthy(&cluster, 42);
}

#[test]
fn a_new_upgrade_after_a_rollback_pauses_again_with_first() {
    let mut cluster = deployed(Some("first"));
    upgrade_to_43(&mut cluster, &[2]);
    cluster.refresh(42);
    cluster.settle();
    assert_healthy(&cluster, 42);
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(
        cluster.app_status,
        paused_before("mysql/1"),
        "the rollback's mark does not carry over to the next round"
    );
    assert_eq!(cluster.run_action(1, Event::ResumeUpgrade).failed, None);
    cluster.settle();
    assert_healthy(&cluster, 43);
}

#[test]
fn resume_upgrade_refuses_with_what_to_do_instead() {
    let mut cluster = deployed(Some("first"));
    let nothing = cluster.run_action(1, Event::ResumeUpgrade);
    assert_eq!(
        nothing.failed.as_deref(),
        Some(messages::RESUME_NOTHING_IN_PROGRESS)
    );
    upgrade_to_43(&mut cluster, &[]);
    let bags = cluster.unit_bags.clone();
    let wrong = cluster.run_action(0, Event::ResumeUpgrade);
    assert_eq!(
        wrong.failed.as_deref(),
        Some("Run this action on mysql/1, the next unit to upgrade: `juju run mysql/1 resume-upgrade`")
    );
    assert_eq!(cluster.unit_bags, bags, "a refused resume writes nothing");
    cluster.set_pause_setting(Some("none"));
    let never = cluster.run_action(1, Event::ResumeUpgrade);
    assert_eq!(
        never.failed.as_deref(),
        Some(messages::RESUME_PAUSE_IS_NONE)
    );
    cluster.set_pause_setting(None);
    let no_option = cluster.run_action(1, Event::ResumeUpgrade);
    assert_eq!(
        no_option.failed.as_deref(),
        Some(messages::RESUME_NO_PAUSE_OPTION)
    );

    let mut failed = deployed(Some("first"));
    upgrade_to_43(&mut failed, &[2]);
    let stopped = failed.run_action(2, Event::ResumeUpgrade);
    assert_eq!(
        stopped.failed,
        Some(messages::resume_while_failed(ROLLBACK_TO_42))
    );
}

#[test]
fn an_invalid_pause_setting_blocks_the_app_and_pauses_like_all() {
    let mut cluster = deployed(Some("sometimes"));
    assert_eq!(
        cluster.app_status,
        Some(Status::blocked(
            "pause-after-unit-refresh must be \"all\", \"first\" or \"none\", not \"sometimes\""
        ))
    );
    upgrade_to_43(&mut cluster, &[]);
    assert_eq!(cluster.upgrade_order(), [2]);
    assert_eq!(cluster.run_action(1, Event::ResumeUpgrade).failed, None);
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 1], "paused again, as with all");
    // The operator sets `none`; `config-changed` on the paused unit lets it go.
    cluster.set_pause_setting(Some("none"));
    assert_eq!(cluster.run_next(0), Some(Event::ConfigChanged));
    cluster.settle();
    assert_healthy(&cluster, 43);
}

// ---------- force-upgrade ----------

#[test]
fn force_upgrade_refuses_when_nothing_is_skipped() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    let bags = (cluster.app_bag.clone(), cluster.unit_bags.clone());
    let outcome = cluster.run_action(2, force(false, false, false));
    assert_eq!(
        outcome.failed.as_deref(),
        Some(messages::FORCE_NOTHING_SKIPPED)
    );
    assert_eq!((cluster.app_bag.clone(), cluster.unit_bags.clone()), bags);
}

#[test]
fn force_upgrade_skip_compatibility_check_lets_an_incompatible_refresh_go_on_and_logs_the_skip() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(90);
    cluster.settle();
    assert_eq!(cluster.failed_units(), [0]);

    let wrong_skip = cluster.run_action(0, force(false, false, true));
    assert_eq!(
        wrong_skip.failed,
        Some(messages::force_needs_compatibility_skip("mysql/0"))
    );
    let wrong_unit = cluster.run_action(1, force(true, false, false));
    assert_eq!(
        wrong_unit.failed,
        Some(messages::force_not_blocked(
            "mysql/1",
            "ready",
            " The blocked unit is mysql/0: `juju run mysql/0 force-upgrade ...`"
        ))
    );

    let forced = cluster.run_action(0, force(true, false, false));
    assert_eq!(forced.failed, None);
    assert_eq!(
        forced.results.get("skipped").map(String::as_str),
        Some("compatibility check")
    );
    assert!(forced
        .logs
        .iter()
        .any(|(level, message)| *level == LogLevel::Warning
            && message.starts_with(
                "force-upgrade on mysql/0: skipped the compatibility check (Versions incompatible"
            )));
    cluster.settle();
    assert_healthy(&cluster, 90);
    assert_eq!(cluster.app_value(COMPATIBILITY_SKIPPED_KEY), None);
}

#[test]
fn force_upgrade_skip_health_check_accepts_the_failed_unit_and_the_next_unit_goes() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    let wrong_skip = cluster.run_action(2, force(true, false, false));
    assert_eq!(
        wrong_skip.failed,
        Some(messages::force_needs_health_skip("mysql/2"))
    );
    let forced = cluster.run_action(2, force(false, false, true));
    assert_eq!(forced.failed, None);
    assert_eq!(
        forced.result(),
        "Forced on mysql/2: skipped the health check; the upgrade goes on."
    );
    assert!(cluster.logged(2, LogLevel::Warning, "skipped the health check"));
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 1, 0]);
    assert!(cluster.stack().is_empty());
    for unit in 0..3 {
        assert_eq!(cluster.state(unit), Some("idle"));
    }
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

#[test]
fn force_upgrade_skip_pre_upgrade_check_prepares_although_the_check_fails() {
    let mut cluster = deployed(Some("none"));
    cluster.set_health_check_failure(Some("Not all units are online"));
    cluster.refresh(43);
    cluster.settle();
    let check = cluster.run_action(0, Event::PreUpgradeCheck);
    assert_eq!(
        check.failed.as_deref(),
        Some(messages::PRE_UPGRADE_CHECK_FAILED)
    );
    let not_skipped = cluster.run_action(0, force(true, false, false));
    assert_eq!(
        not_skipped.failed,
        Some(messages::force_needs_pre_upgrade_skip("mysql"))
    );
    let on_follower = cluster.run_action(1, force(false, true, false));
    assert_eq!(
        on_follower.failed,
        Some(messages::force_prepare_on_leader("mysql"))
    );
    let forced = cluster.run_action(0, force(false, true, false));
    assert_eq!(forced.failed, None);
    assert_eq!(
        forced.results.get("skipped").map(String::as_str),
        Some("pre-upgrade check")
    );
    cluster.settle();
    assert_healthy(&cluster, 43);
}

// ---------- refreshes nobody prepared, and refreshes mid-upgrade ----------

#[test]
fn refresh_without_pre_upgrade_check_blocks_with_the_exact_command_and_goes_on_once_it_runs() {
    let mut cluster = deployed(Some("none"));
    cluster.refresh(43);
    cluster.settle();
    assert!(cluster.upgrades.is_empty());
    for unit in 0..3 {
        assert_eq!(cluster.state(unit), Some("idle"));
        assert_eq!(
            cluster.value(unit, REFRESH_PENDING_KEY),
            Some(versions("42", "8.0.33").as_str())
        );
        assert_eq!(
            cluster.status(unit),
            Some(&Status::blocked(
                "Refreshed without pre-upgrade-check: run `juju run mysql/leader pre-upgrade-check`"
            ))
        );
        assert!(cluster.logged(unit, LogLevel::Error, messages::NO_STACK));
    }
    assert_eq!(
        cluster.app_status,
        Some(Status::blocked(
            "Refresh waits for `juju run mysql/leader pre-upgrade-check`; or roll back: `juju refresh mysql --revision=42`"
        ))
    );

    let check = cluster.run_action(0, Event::PreUpgradeCheck);
    assert_eq!(check.failed, None);
    assert!(
        check
            .result()
            .contains("The charm is already refreshed: the upgrade starts now."),
        "{}",
        check.result()
    );
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 1, 0]);
    assert_healthy(&cluster, 43);
    for unit in 0..3 {
        assert_eq!(cluster.value(unit, REFRESH_PENDING_KEY), None);
    }
}

#[test]
fn refresh_back_before_preparing_forgets_the_refresh() {
    let mut cluster = deployed(Some("none"));
    cluster.refresh(43);
    cluster.settle();
    cluster.refresh(42);
    cluster.settle();
    assert!(cluster.upgrades.is_empty());
    assert_healthy(&cluster, 42);
    for unit in 0..3 {
        assert_eq!(cluster.value(unit, REFRESH_PENDING_KEY), None);
        assert!(cluster.logged(unit, LogLevel::Info, "before the upgrade was prepared"));
    }
}

#[test]
fn refresh_while_pre_upgrade_check_is_still_running_goes_on_once_the_stack_is_written() {
    let mut cluster = deployed(Some("none"));
    let check = cluster.begin_action(0, Event::PreUpgradeCheck);
    assert_eq!(check.failed, None);
    cluster.refresh(43);
    cluster.settle(); // mysql/0 is busy with the action; the others refresh without a stack
    for unit in [1, 2] {
        assert!(cluster.value(unit, REFRESH_PENDING_KEY).is_some());
    }
    assert!(cluster.upgrades.is_empty());
    cluster.commit(0); // the action ends and writes the stack
    cluster.settle();
    assert_eq!(cluster.upgrade_order(), [2, 1, 0]);
    assert_healthy(&cluster, 43);
}

#[test]
fn a_second_refresh_mid_upgrade_takes_every_unit_to_the_newest_revision() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(43);
    assert!(
        cluster.run_until(|c| c.stack() == [0, 1]),
        "mysql/2 upgraded"
    );
    cluster.refresh(44);
    cluster.settle();
    assert!(cluster.logged(0, LogLevel::Warning, "every unit not yet on 44"));
    let last: Vec<(u32, &str)> = cluster
        .upgrades
        .iter()
        .map(|r| (r.unit, r.to.as_str()))
        .filter(|&(_, to)| to == "8.0.35")
        .collect();
    assert_eq!(
        last.len(),
        3,
        "every unit went to 44: {:?}",
        cluster.upgrades
    );
    assert_healthy(&cluster, 44);
}

#[test]
fn a_second_refresh_while_a_unit_is_upgrading_upgrades_that_unit_again() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(43);
    // Run hooks until one begins upgrading mysql/2, and leave it running.
    loop {
        let unit = (0..3)
            .find(|&u| !cluster.is_busy(u) && cluster.has_hook(u))
            .expect("a hook to run before mysql/2 upgrades");
        cluster.begin(unit);
        if !cluster.upgrades.is_empty() {
            assert_eq!(cluster.upgrades[0].unit, 2);
            cluster.refresh(44);
            cluster.commit(unit);
            break;
        }
        cluster.commit(unit);
    }
    cluster.settle();
    let of_2: Vec<&str> = cluster
        .upgrades
        .iter()
        .filter(|r| r.unit == 2)
        .map(|r| r.to.as_str())
        .collect();
    assert_eq!(of_2, ["8.0.34", "8.0.35"]);
    assert_healthy(&cluster, 44);
}

// ---------- leader changes and retried hooks ----------

#[test]
fn leadership_moving_mid_upgrade_lets_the_new_leader_finish_it() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(43);
    assert!(cluster.run_until(|c| c.state(2) == Some("completed")));
    cluster.move_leader(1);
    cluster.settle();
    assert_healthy(&cluster, 43);
    assert_eq!(
        cluster.app_value(ORIGINAL_VERSIONS_KEY),
        Some(versions("43", "8.0.34").as_str())
    );
}

#[test]
fn leadership_moving_mid_rollback_before_the_old_leader_saw_it_lets_the_new_leader_repair_the_stack(
) {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[1]);
    assert_eq!(cluster.stack(), [0, 1]);
    cluster.refresh(42);
    assert_eq!(cluster.run_next(1), Some(Event::UpgradeCharm));
    assert_eq!(cluster.run_next(2), Some(Event::UpgradeCharm));
    cluster.move_leader(2);
    assert_eq!(cluster.run_next(2), Some(Event::LeaderElected));
    assert!(cluster.logged(2, LogLevel::Info, "takes the upgrade round over"));
    assert!(cluster.logged(2, LogLevel::Info, "Rollback detected"));
    assert_eq!(
        cluster.stack(),
        [0, 2, 1],
        "mysql/2 back in, after the failed mysql/1"
    );
    cluster.settle();
    assert_eq!(cluster.upgrade_order()[2..], [1, 2, 0]);
    assert_healthy(&cluster, 42);
}

#[test]
fn a_failed_hook_retried_decides_the_same_and_the_rollback_completes() {
    let mut cluster = deployed(Some("none"));
    upgrade_to_43(&mut cluster, &[2]);
    cluster.refresh(42);
    cluster.fail_next_hook(0);
    assert_eq!(cluster.run_next(0), Some(Event::UpgradeCharm));
    assert_eq!(
        cluster.value(0, CHARM_VERSIONS_KEY),
        Some(versions("43", "8.0.34").as_str()),
        "writes lost"
    );
    assert_eq!(
        cluster.run_next(0),
        Some(Event::UpgradeCharm),
        "retried first"
    );
    assert_eq!(
        cluster.value(0, CHARM_VERSIONS_KEY),
        Some(versions("42", "8.0.33").as_str())
    );
    let detected = cluster.units[&0]
        .log
        .iter()
        .filter(|(_, m)| m.starts_with("Rollback detected"))
        .count();
    assert_eq!(detected, 2, "the retry decided the same");
    cluster.settle();
    assert_healthy(&cluster, 42);
}

// ---------- statuses ----------

#[test]
fn the_app_status_during_an_upgrade_carries_the_rollback_command() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(43);
    assert!(cluster.run_until(|c| c.state(2) == Some("completed")));
    assert!(cluster.run_until(|c| c
        .app_status
        .as_ref()
        .is_some_and(|s| s.kind == StatusKind::Maintenance)));
    assert_eq!(
        cluster.app_status,
        Some(Status::maintenance(messages::upgrading_app(ROLLBACK_TO_42)))
    );
    cluster.settle();
    assert_healthy(&cluster, 43);
}

// ---------- random orders ----------

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// Random hook interleavings, a random leader and random leadership moves, a random
    /// failure, then the operator refreshes straight back (no pre-upgrade-check): every run
    /// ends healthy on the original revision, or paused on exactly one failed unit (a
    /// failure during the rollback), with no safety rule broken on the way.
    #[test]
    fn random_orders_with_automatic_rollback_and_leader_moves_stay_safe(
        count in 1u32..=4,
        leader in 0u32..4,
        choices in prop::collection::vec(any::<u32>(), 0..600),
        failing in 0u32..4,
        rollback_failure in prop::option::of(0u32..4),
        moves in prop::collection::vec(0u32..4, 0..3),
    ) {
        let leader = leader % count;
        let mut cluster = versioned(count, leader, Some("none"));
        let mut choices = choices.into_iter();
        let check = cluster.run_action(leader, Event::PreUpgradeCheck);
        prop_assert_eq!(check.failed, None);
        cluster.script_failures(failing % count, &[true]);
        cluster.refresh(43);
        cluster.settle_randomly(&mut choices);
        prop_assert_eq!(cluster.failed_units(), vec![failing % count]);
        for unit in 0..count {
            cluster.units.get_mut(&unit).expect("unit").failures.clear();
        }
        if let Some(unit) = rollback_failure {
            cluster.script_failures(unit % count, &[true]);
        }
        cluster.refresh(42);
        for &to in &moves {
            cluster.settle_randomly(&mut choices.by_ref().take(7));
            cluster.move_leader(to % count);
        }
        cluster.settle_randomly(&mut choices);
        prop_assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
        prop_assert!(cluster.is_quiet());
        let failed = cluster.failed_units();
        if failed.is_empty() {
            prop_assert_eq!(cluster.healthy_at(42), Ok(()));
        } else {
            prop_assert_eq!(failed.len(), 1);
            prop_assert!(rollback_failure.is_some());
        }
    }
}

#[test]
fn a_second_refresh_after_the_last_unit_upgraded_but_before_the_round_ended_reaches_every_unit() {
    let mut cluster = deployed(Some("none"));
    cluster.run_action(0, Event::PreUpgradeCheck);
    cluster.refresh(43);
    // Every unit upgraded and left the stack; nobody is back to idle yet.
    assert!(cluster.run_until(|c| c.stack().is_empty() && c.upgrades.len() == 3));
    assert_eq!(cluster.state(1), Some("completed"));
    cluster.refresh(44);
    cluster.settle();
    let to_44 = cluster.upgrades.iter().filter(|r| r.to == "8.0.35").count();
    assert_eq!(to_44, 3, "{:?}", cluster.upgrades);
    assert_healthy(&cluster, 44);
}

/// What the operator does next, reading only what `juju status` shows.
fn operate(cluster: &mut Cluster, refreshed_back: &mut bool) -> bool {
    if cluster.is_quiet() && cluster.failed_units().is_empty() {
        let blocked_on = |prefix: &str| {
            cluster
                .app_status
                .as_ref()
                .is_some_and(|s| s.kind == StatusKind::Blocked && s.message.starts_with(prefix))
        };
        if blocked_on("Refresh waits for") {
            // A refresh that came after the last round ended: prepare it.
            let check = cluster.run_action(cluster.leader, Event::PreUpgradeCheck);
            assert_eq!(check.failed, None);
            return true;
        }
        if !blocked_on("Paused:") {
            return false;
        }
        let next = *cluster.stack().last().expect("paused before a unit");
        let resumed = cluster.run_action(next, Event::ResumeUpgrade);
        if let Some(failure) = resumed.failed {
            // Only the unit's own upgrade may fail once resumed (a scripted failure).
            assert!(failure.starts_with("Upgrade resumed, but"), "{failure}");
        }
        return true;
    }
    if !cluster.is_quiet() {
        return true;
    }
    if *refreshed_back {
        // A rollback failed: recover as the how-to says, then refresh back again.
        let check = cluster.run_action(cluster.leader, Event::PreUpgradeCheck);
        assert_eq!(check.failed, None);
    }
    cluster.refresh(42);
    *refreshed_back = true;
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Random interleavings with every operator action and fault of this module mixed in: a
    /// pause setting, failures going forward and back, a second refresh, leadership moves and
    /// hooks that fail and are retried. The operator follows the statuses alone (resume when
    /// paused, refresh back when failed, recover when the rollback failed). No safety rule
    /// breaks, and the application ends healthy on the last revision it was refreshed to.
    #[test]
    fn random_operations_and_faults_end_healthy_with_no_rule_broken(
        count in 1u32..=4,
        leader in 0u32..4,
        pause in prop::sample::select(vec!["none", "first", "all"]),
        choices in prop::collection::vec(any::<u32>(), 0..800),
        failures in prop::collection::vec(prop::option::of(0u32..4), 3),
        second_refresh_after in prop::option::of(0usize..12),
        faults in prop::collection::vec((0u32..4, any::<bool>()), 0..4),
    ) {
        let leader = leader % count;
        let mut cluster = versioned(count, leader, Some(pause));
        let mut choices = choices.into_iter();
        prop_assert_eq!(cluster.run_action(leader, Event::PreUpgradeCheck).failed, None);
        if let Some(unit) = failures[0] {
            cluster.script_failures(unit % count, &[true]);
        }
        cluster.refresh(43);
        let mut target = 43;
        let mut refreshed_back = false;
        let mut recoveries = 0;
        let mut faults = faults.into_iter();
        for round in 0..40 {
            cluster.settle_randomly(&mut choices.by_ref().take(9));
            if let Some((unit, leadership)) = faults.next() {
                if leadership {
                    cluster.move_leader(unit % count);
                } else {
                    cluster.fail_next_hook(unit % count);
                }
            }
            if second_refresh_after == Some(round) && !refreshed_back && target == 43 {
                cluster.refresh(44);
                target = 44;
            }
            cluster.settle_randomly(&mut choices);
            let failed_before = cluster.failed_units().len();
            if !operate(&mut cluster, &mut refreshed_back) {
                break;
            }
            if failed_before > 0 {
                target = 42;
                recoveries += 1;
                for unit in 0..count {
                    cluster.units.get_mut(&unit).expect("unit").failures.clear();
                }
                if let Some(Some(unit)) = failures.get(recoveries) {
                    cluster.script_failures(unit % count, &[true]);
                }
            }
        }
        prop_assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
        prop_assert!(cluster.is_quiet());
        prop_assert_eq!(cluster.healthy_at(target), Ok(()));
    }
}
