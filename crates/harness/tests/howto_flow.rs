//! The how-to's flow ("How to roll back a single cluster") end to end through the in-process
//! cluster harness: refresh, a unit fails, `pre-upgrade-check` enters recovery, refresh back,
//! units roll back one at a time with the failed unit first, and the cluster is healthy again.

use juju_upgrade::{messages, LogLevel, Status, StatusKind};
use juju_upgrade_harness::cluster::{Cluster, UpgradeRecord};
use juju_upgrade_harness::fixtures::{howto_revisions, model, REV_42_DEPS, REV_43_DEPS};

/// `count` units at revision 42 with unit 0 as leader, after the peer relation is set up.
fn deployed(count: u32) -> Cluster {
    let mut cluster = Cluster::deploy(count, 0, &howto_revisions(), 42);
    cluster.settle();
    for unit in 0..count {
        assert_eq!(cluster.state(unit), Some("idle"));
    }
    assert_eq!(
        cluster.dependencies(),
        Some(model(REV_42_DEPS).to_json().as_str())
    );
    cluster
}

fn order(records: &[UpgradeRecord]) -> Vec<u32> {
    records.iter().map(|record| record.unit).collect()
}

fn assert_healthy_at(cluster: &Cluster, workload: &str, deps: &str) {
    assert!(
        cluster.all_idle_and_active(),
        "not idle/active: {:?}",
        cluster.units
    );
    assert_eq!(cluster.dependencies(), Some(model(deps).to_json().as_str()));
    for sim in cluster.units.values() {
        assert_eq!(sim.workload, workload);
    }
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

fn logged(cluster: &Cluster, unit: u32, needle: &str) -> bool {
    cluster.units[&unit]
        .log
        .iter()
        .any(|(level, message)| *level == LogLevel::Error && message.contains(needle))
}

#[test]
fn seed_rollback_after_unit_2_fails_its_upgrade() {
    let mut cluster = deployed(3);
    let check = cluster.run_pre_upgrade_check(0);
    assert_eq!(check.failed, None);
    assert_eq!(cluster.stack(), vec![0, 1, 2]);

    // `juju refresh` to revision 43; unit 2 (top of the stack) fails to upgrade.
    cluster.script_failures(2, &[true]);
    cluster.refresh(43);
    cluster.settle();
    assert_eq!(cluster.failed_units(), vec![2]);
    assert_eq!(
        cluster.status(2),
        Some(&Status::blocked(messages::UPGRADE_FAILED))
    );
    assert!(logged(
        &cluster,
        2,
        "juju run mysql/leader pre-upgrade-check"
    ));
    for unit in [0, 1] {
        assert_eq!(cluster.state(unit), Some("ready"));
        assert_eq!(
            cluster.status(unit),
            Some(&Status::waiting(messages::WAITING_FOR_OTHERS))
        );
    }
    assert_eq!(order(&cluster.upgrades), vec![2], "the upgrade paused");
    assert_eq!(cluster.stack(), vec![0, 1, 2]);

    // Step 1: prepare. The leader enters recovery.
    let prepare = cluster.run_pre_upgrade_check(0);
    assert_eq!(prepare.failed, None);
    assert_eq!(cluster.state(0), Some("recovery"));
    assert_eq!(
        cluster.status(0),
        Some(&Status::blocked(messages::READY_TO_ROLLBACK))
    );
    cluster.settle();
    assert_eq!(
        order(&cluster.upgrades),
        vec![2],
        "nothing moves until the refresh"
    );

    // Step 2: roll back to revision 42. The failed unit goes first, one unit at a time.
    cluster.refresh(42);
    cluster.settle();
    let rollbacks = &cluster.upgrades[1..];
    assert_eq!(order(rollbacks), vec![2, 1, 0]);
    assert!(rollbacks.iter().all(|r| r.to == "8.0.33" && !r.failed));
    assert_eq!(rollbacks[0].from, "broken");

    // Step 3: check. Every unit is idle and active on 8.0.33; the baseline is revision 42's.
    assert_healthy_at(&cluster, "8.0.33", REV_42_DEPS);
    for sim in cluster.units.values() {
        assert_eq!(sim.published_version.as_deref(), Some("8.0.33"));
        assert_eq!(sim.revision, 42);
    }
}

#[test]
fn rollback_after_a_later_unit_fails_also_rolls_back_the_units_already_upgraded() {
    let mut cluster = deployed(3);
    cluster.run_pre_upgrade_check(0);
    cluster.script_failures(1, &[true]);
    cluster.refresh(43);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades), vec![2, 1]);
    assert_eq!(cluster.failed_units(), vec![1]);
    assert_eq!(
        cluster.stack(),
        vec![0, 1],
        "unit 2 was popped after completing"
    );

    let prepare = cluster.run_pre_upgrade_check(0);
    assert_eq!(prepare.failed, None);
    assert_eq!(
        cluster.stack(),
        vec![0, 2, 1],
        "unit 2 re-inserted under the failed top"
    );

    cluster.refresh(42);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades[2..]), vec![1, 2, 0]);
    assert_healthy_at(&cluster, "8.0.33", REV_42_DEPS);
}

#[test]
fn rollback_after_the_leader_fails_last_starts_with_the_leader() {
    let mut cluster = deployed(3);
    cluster.run_pre_upgrade_check(0);
    cluster.script_failures(0, &[true]);
    cluster.refresh(43);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades), vec![2, 1, 0]);
    assert_eq!(cluster.failed_units(), vec![0]);

    cluster.run_pre_upgrade_check(0);
    assert_eq!(cluster.stack(), vec![2, 1, 0]);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades[3..]), vec![0, 1, 2]);
    assert_healthy_at(&cluster, "8.0.33", REV_42_DEPS);
}

#[test]
fn a_failure_during_rollback_pauses_it_again_and_a_second_recovery_finishes_it() {
    let mut cluster = deployed(3);
    cluster.run_pre_upgrade_check(0);
    cluster.script_failures(2, &[true]);
    cluster.refresh(43);
    cluster.settle();
    cluster.run_pre_upgrade_check(0);
    cluster.script_failures(1, &[true]);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades), vec![2, 2, 1]);
    assert_eq!(cluster.failed_units(), vec![1]);

    cluster.run_pre_upgrade_check(0);
    assert_eq!(cluster.stack(), vec![0, 2, 1]);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades[3..]), vec![1, 2, 0]);
    assert_healthy_at(&cluster, "8.0.33", REV_42_DEPS);
}

#[test]
fn successful_upgrade_goes_highest_unit_first_and_updates_the_dependencies_baseline() {
    let mut cluster = deployed(3);
    cluster.run_pre_upgrade_check(0);
    cluster.refresh(43);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades), vec![2, 1, 0]);
    assert_healthy_at(&cluster, "8.0.34", REV_43_DEPS);
}

#[test]
fn refresh_to_an_incompatible_revision_fails_the_leader_and_can_be_rolled_back() {
    let mut cluster = deployed(3);
    cluster.run_pre_upgrade_check(0);
    cluster.refresh(90);
    cluster.settle();
    assert_eq!(cluster.failed_units(), vec![0]);
    assert!(logged(
        &cluster,
        0,
        "Versions incompatible, snap 8.0.33 can not be upgraded to 9.1.0"
    ));
    assert!(cluster.upgrades.is_empty(), "no workload was touched");

    cluster.run_pre_upgrade_check(0);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades), vec![2, 1, 0]);
    assert_healthy_at(&cluster, "8.0.33", REV_42_DEPS);
}

#[test]
fn refresh_without_pre_upgrade_check_changes_nothing_and_logs_why() {
    let mut cluster = deployed(3);
    cluster.refresh(43);
    cluster.settle();
    assert!(cluster.upgrades.is_empty());
    for unit in 0..3 {
        assert_eq!(cluster.state(unit), Some("idle"));
        assert!(logged(&cluster, unit, messages::NO_STACK));
    }
}

#[test]
fn single_unit_upgrades_at_once_and_rolls_back_after_a_failure() {
    let mut cluster = deployed(1);
    cluster.run_pre_upgrade_check(0);
    cluster.script_failures(0, &[true]);
    cluster.refresh(43);
    cluster.settle();
    assert_eq!(cluster.failed_units(), vec![0]);

    let prepare = cluster.run_pre_upgrade_check(0);
    assert_eq!(prepare.failed, None);
    cluster.refresh(42);
    cluster.settle();
    assert_eq!(order(&cluster.upgrades), vec![0, 0]);
    assert_healthy_at(&cluster, "8.0.33", REV_42_DEPS);

    cluster.run_pre_upgrade_check(0);
    cluster.refresh(43);
    cluster.settle();
    assert_healthy_at(&cluster, "8.0.34", REV_43_DEPS);
    assert_eq!(cluster.status(0).map(|s| s.kind), Some(StatusKind::Active));
}
