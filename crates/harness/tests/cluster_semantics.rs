//! The cluster model delivers hooks as Juju does, faults included: if these
//! drift, the explorer explores a world that is not Juju's.

use juju_upgrade::StatusKind;
use juju_upgrade_harness::cluster::{Cluster, Hook, Source};
use juju_upgrade_harness::fixtures::{howto_revisions, ORIGINAL_REVISION, UPGRADE_REVISION};

fn deployed(count: u32) -> Cluster {
    let mut cluster = Cluster::deploy(count, 0, &howto_revisions(), ORIGINAL_REVISION);
    cluster.settle();
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
    cluster
}

/// Prepared and refreshed, with every unit's `upgrade-charm` queued.
fn refreshed(count: u32) -> Cluster {
    let mut cluster = deployed(count);
    assert_eq!(cluster.run_pre_upgrade_check(0).failed, None);
    cluster.settle();
    cluster.refresh(UPGRADE_REVISION);
    cluster
}

#[test]
fn writes_commit_at_hook_end_and_fan_out_to_the_other_units_only() {
    let mut cluster = Cluster::deploy(3, 0, &howto_revisions(), ORIGINAL_REVISION);
    assert!(cluster.begin(1));
    assert_eq!(
        cluster.state(1),
        None,
        "nothing committed while the hook runs"
    );
    cluster.commit(1);
    assert_eq!(cluster.state(1), Some("idle"));
    assert!(cluster.units[&0].pending_changed.contains(&Source::Unit(1)));
    assert!(cluster.units[&2].pending_changed.contains(&Source::Unit(1)));
    assert!(
        !cluster.units[&1].pending_changed.contains(&Source::Unit(1)),
        "the writer does not hear its own change"
    );
}

#[test]
fn the_leader_does_not_hear_its_own_app_bag_change_and_changes_coalesce() {
    let mut cluster = deployed(2);
    cluster.run_pre_upgrade_check(0);
    assert!(!cluster.units[&0].pending_changed.contains(&Source::App));
    assert!(cluster.units[&1].pending_changed.contains(&Source::App));
    cluster.run_pre_upgrade_check(0); // fails (already prepared or not), adds nothing new
    assert_eq!(
        cluster.units[&1]
            .pending_changed
            .iter()
            .filter(|s| **s == Source::App)
            .count(),
        1
    );
}

#[test]
fn a_failed_hook_drops_its_writes_keeps_its_statuses_and_is_retried_first() {
    let mut cluster = refreshed(2);
    assert_eq!(cluster.next_hook(1), Some(Hook::UpgradeCharm));
    cluster.begin(1);
    let status = cluster.status(1).cloned();
    assert_eq!(status.as_ref().map(|s| s.kind), Some(StatusKind::Waiting));
    cluster.fail_hook(1);
    assert_eq!(
        cluster.state(1),
        Some("idle"),
        "the ready write was dropped"
    );
    assert_eq!(
        cluster.status(1).cloned(),
        status,
        "status-set applied at once"
    );
    assert!(cluster.units[&1].in_error);
    assert_eq!(cluster.next_hook(1), Some(Hook::UpgradeCharm));
    cluster.begin(1);
    cluster.commit(1);
    assert_eq!(cluster.state(1), Some("ready"));
    assert!(!cluster.units[&1].in_error);
}

#[test]
fn a_killed_agent_leaves_a_half_done_upgrade_and_reruns_the_hook() {
    let mut cluster = refreshed(2);
    // Unit 1 is on top: once both are ready it upgrades in the first hook that sees the other
    // ready (its cached copy of unit 0 is refreshed by its relation-changed for unit 0).
    cluster.begin(0);
    cluster.commit(0);
    while cluster.upgrades.is_empty() {
        assert!(cluster.begin(1), "unit 1 ran out of hooks before upgrading");
        if cluster.upgrades.is_empty() {
            cluster.commit(1);
        }
    }
    assert_eq!(cluster.upgrades[0].unit, 1);
    cluster.kill_agent(1);
    assert_eq!(cluster.units[&1].workload, "stopped");
    assert!(cluster.units[&1].workload_in_flux);
    assert_eq!(
        cluster.state(1),
        Some("ready"),
        "upgrading/completed were dropped"
    );
    assert!(!cluster.units[&1].in_error);
    cluster.settle();
    assert_eq!(cluster.units[&1].workload, "8.0.34");
    assert!(!cluster.units[&1].workload_in_flux);
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

#[test]
fn a_hook_begun_as_leader_that_wrote_the_app_bag_fails_when_leadership_moved() {
    let mut cluster = Cluster::deploy(2, 0, &howto_revisions(), ORIGINAL_REVISION);
    cluster.begin(0); // relation-created: the leader writes the dependencies
    cluster.move_leader(1);
    cluster.commit(0);
    assert_eq!(cluster.dependencies(), None, "the commit failed");
    assert_eq!(cluster.next_hook(0), Some(Hook::RelationCreated));
    assert!(cluster.units[&1].pending_leader_elected);
}

#[test]
fn a_removed_unit_loses_its_bag_and_the_others_run_departed() {
    let mut cluster = deployed(3);
    cluster.remove_unit(0);
    assert!(!cluster.units.contains_key(&0));
    assert_eq!(cluster.state(0), None);
    assert_eq!(cluster.leader, 1, "the lowest remaining unit leads");
    assert_eq!(cluster.next_hook(1), Some(Hook::LeaderElected));
    assert_eq!(cluster.next_hook(2), Some(Hook::RelationDeparted(0)));
    cluster.begin(2);
    assert!(!cluster.units[&2].members.contains(&0));
}

#[test]
fn a_second_refresh_coalesces_with_a_queued_upgrade_charm() {
    let mut cluster = refreshed(2);
    cluster.refresh(44);
    cluster.begin(1);
    assert_eq!(
        cluster.units[&1].revision, 44,
        "one upgrade-charm with the latest charm"
    );
    cluster.commit(1);
    assert_ne!(
        cluster.next_hook(1),
        Some(Hook::UpgradeCharm),
        "no second upgrade-charm"
    );
}
