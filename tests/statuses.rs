//! Statuses computed from the truth, through juju-sim with the real charm: one unit labelled
//! Primary and it is the primary; no upgrade wording before a refresh; a recovered server's
//! message cleared while an upgrade is prepared; the old leader's "ready to rollback
//! application" gone once leadership moved. Each scenario ends with an operator following the
//! application status to the end (`Sim::follow_the_status`).

use e2e::{binaries, Sim, APP, NEW_VERSION, OLD_REVISION, OLD_VERSION, READY_TO_ROLLBACK};
use juju_sim::engine::Source;
use juju_upgrade::messages;
use mysql_charm::workload::{RetryPolicy, Workload};
use mysql_test_workloads::{EmulatedWorkload, FaultKind, FaultRule};

/// The units whose status says "Primary".
fn labelled_primary(sim: &Sim) -> Vec<String> {
    sim.units()
        .into_iter()
        .filter(|(_, report)| report.workload_status.message == "Primary")
        .map(|(unit, _)| unit)
        .collect()
}

fn server(sim: &Sim, unit: &str) -> EmulatedWorkload {
    let machine = sim.engine.machine_dir(unit).expect("machine");
    EmulatedWorkload::new(unit, machine, sim.model_dir())
}

#[test]
fn after_pre_upgrade_check_moves_the_primary_only_the_new_primary_says_primary() {
    let mut sim = Sim::new(3, binaries!());
    sim.deploy_old(3);
    let primary_before = sim.primary().expect("a primary");
    assert_eq!(labelled_primary(&sim), vec![primary_before.clone()]);
    let new_leader = sim
        .unit_names()
        .into_iter()
        .find(|unit| *unit != primary_before)
        .expect("another unit");
    sim.engine.move_leader(APP, &new_leader).expect("leader");
    sim.settle();
    sim.pre_upgrade_check();
    assert_eq!(sim.primary().as_deref(), Some(new_leader.as_str()));
    assert_eq!(labelled_primary(&sim), vec![new_leader.clone()]);

    // Nothing is refreshed yet: the status names the refresh that starts the upgrade, not a
    // rollback to the revision the application runs (Juju refuses that one).
    let (status, message) = sim.app_status();
    assert_eq!(
        (status.as_str(), message.as_str()),
        (
            "active",
            "Upgrade prepared: start it with `juju refresh mysql --revision=<new revision>`"
        )
    );
    let refused = sim.engine.refresh(APP, Source::Revision(OLD_REVISION));
    assert!(refused.is_err(), "{refused:?}");

    let new = sim.new_charm();
    let followed = sim.follow_the_status(&[("<new revision>", new)], 4);
    assert_eq!(
        followed.commands.first().map(String::as_str),
        Some("juju refresh mysql --revision=<new revision>")
    );
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(labelled_primary(&sim), [sim.primary().expect("a primary")]);
}

#[test]
fn update_status_clears_a_recovered_servers_message_while_an_upgrade_is_prepared() {
    let mut sim = Sim::new(4, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let unit = sim
        .unit_names()
        .into_iter()
        .find(|unit| *unit != sim.leader())
        .expect("a non-leader");
    server(&sim, &unit).stop().expect("stop");
    sim.engine.update_status(&unit).expect("update-status");
    sim.settle();
    let (status, message) = sim.unit_status(&unit);
    assert_eq!(status, "blocked");
    assert!(message.starts_with("MySQL is not available"), "{message}");

    // mysqld comes back and the instance catches up with the cluster.
    let back = server(&sim, &unit);
    back.start().expect("start");
    back.wait_until_online(RetryPolicy::REJOIN_AFTER_UPGRADE)
        .expect("online");
    sim.engine.update_status(&unit).expect("update-status");
    sim.settle();
    assert_eq!(sim.unit_status(&unit), ("active".to_owned(), String::new()));
}

#[test]
fn leadership_moving_after_recovery_leaves_no_ready_to_rollback_on_the_old_leader() {
    let mut sim = Sim::new(5, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let first = sim.planned_order()[0].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(first.as_str())]);
    sim.refresh(Source::Path(sim.new_charm()));
    assert_eq!(sim.upgrade_state(&first).as_deref(), Some("failed"));
    sim.arm([]);
    sim.pre_upgrade_check();
    let old_leader = sim.leader();
    assert_eq!(
        sim.unit_status(&old_leader),
        ("blocked".to_owned(), READY_TO_ROLLBACK.to_owned())
    );
    let new_leader = sim
        .unit_names()
        .into_iter()
        .find(|unit| *unit != old_leader && *unit != first)
        .expect("a third unit");
    sim.engine.move_leader(APP, &new_leader).expect("leader");
    sim.settle();
    assert_eq!(
        sim.unit_status(&old_leader),
        (
            "waiting".to_owned(),
            messages::RECOVERY_LEADER_MOVED.to_owned()
        )
    );
    assert_eq!(
        sim.app_status(),
        (
            "blocked".to_owned(),
            "Ready to roll back: `juju refresh mysql --revision=182`".to_owned()
        )
    );
    let followed = sim.follow_the_status(&[], 4);
    assert_eq!(
        followed.commands,
        ["juju refresh mysql --revision=182"],
        "{followed:?}"
    );
    sim.assert_all_active_on(OLD_VERSION);
}

/// Three units deployed from the old charm file (a local charm, `local:mysql-1`), upgrade
/// prepared; the status names a `--path` refresh.
fn deployed_from_a_file(seed: u64) -> Sim {
    let mut sim = Sim::new(seed, binaries!());
    let old = sim.old_charm();
    sim.engine.deploy(&old, APP, 3, None).expect("deploy");
    sim.settle();
    sim.pre_upgrade_check();
    assert_eq!(
        sim.app_status(),
        (
            "active".to_owned(),
            "Upgrade prepared: start it with `juju refresh mysql --path=<new charm file>`"
                .to_owned()
        )
    );
    sim
}

#[test]
fn a_charm_deployed_from_a_file_is_told_to_refresh_by_path_and_to_recover_first() {
    let mut sim = deployed_from_a_file(6);
    let first = sim.planned_order()[0].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(first.as_str())]);
    let (new, old) = (sim.new_charm(), sim.old_charm());
    sim.run_operator_command(
        "juju refresh mysql --path=<new charm file>",
        &[("<new charm file>", new)],
    );
    sim.arm([]);
    assert_eq!(
        sim.app_status(),
        (
            "blocked".to_owned(),
            format!(
                "Upgrade failed on {first}. Roll back: `juju run mysql/leader pre-upgrade-check`, then refresh to the old file"
            )
        )
    );
    let followed = sim.follow_the_status(&[("<charm file of local:mysql-1>", old)], 4);
    assert_eq!(
        followed.commands,
        [
            "juju run mysql/leader pre-upgrade-check",
            "juju refresh mysql --path=<charm file of local:mysql-1>"
        ],
        "{followed:?}"
    );
    sim.assert_all_active_on(OLD_VERSION);
}

#[test]
fn after_a_path_refresh_back_without_the_check_following_the_status_ends_on_the_old_file() {
    let mut sim = deployed_from_a_file(7);
    let first = sim.planned_order()[0].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(first.as_str())]);
    let (new, old) = (sim.new_charm(), sim.old_charm());
    sim.refresh(Source::Path(new));
    sim.arm([]);
    // Straight back by file, without the check: a new local revision, not recognised as the
    // original, so the core takes every unit to it one at a time (as any refresh mid-upgrade),
    // the failed unit first; the status names the next step of that.
    let revision = sim
        .engine
        .refresh(APP, Source::Path(old.clone()))
        .expect("refresh");
    let followed = sim.follow_the_status(&[("<charm file of local:mysql-1>", old)], 4);
    println!("followed: {followed:?}");
    sim.assert_all_active_on(OLD_VERSION);
    assert_eq!(sim.app_revision_and_version().0, revision);
    let windows = sim.windows();
    let order = sim.assert_one_at_a_time(&windows);
    assert_eq!(
        order.first(),
        Some(&first),
        "the failed unit goes first: {order:?}"
    );
}
