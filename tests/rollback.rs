//! The how-to's rollback through juju-sim with the real charm: a refresh whose new MySQL fails
//! to start on the first unit pauses the upgrade; `pre-upgrade-check` on the leader enters
//! recovery; `juju refresh` back (by revision or by the old charm file) rolls the units back
//! one at a time.

use e2e::{
    binaries, Sim, APP, NEW_VERSION, OLD_REVISION, OLD_VERSION, READY_TO_ROLLBACK, UPGRADE_FAILED,
    WAITING_FOR_OTHERS,
};
use juju_sim::engine::Source;
use juju_sim::model::TaskStatus;
use mysql_test_workloads::{FaultKind, FaultRule};

fn active_on(sim: &Sim, version: &str) {
    for (unit, report) in sim.units() {
        assert_eq!(
            (
                report.workload_status.current.as_str(),
                report.workload_version.as_str()
            ),
            ("active", version),
            "{unit}: {report:?}"
        );
        assert_eq!(sim.upgrade_state(&unit).as_deref(), Some("idle"), "{unit}");
        let server = sim.server(&unit).expect("installed");
        assert!(server.running, "{unit} runs mysqld");
        assert_eq!(
            server.installed.map(|r| r.version).as_deref(),
            Some(version),
            "{unit}"
        );
    }
}

/// Deploys revision 182, prepares, and refreshes to a revision whose MySQL fails to start
/// on the first unit to upgrade. Returns the model and that unit.
fn failed_upgrade(seed: u64) -> (Sim, String) {
    let mut sim = Sim::new(seed, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let first = sim.planned_order()[0].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails).for_version(NEW_VERSION)]);
    let new = sim.new_charm();
    assert_eq!(sim.refresh(Source::Path(new)), 183);

    // The first unit failed and asks for a rollback; everyone else waits, untouched.
    assert_eq!(
        sim.unit_status(&first),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );
    assert_eq!(sim.upgrade_state(&first).as_deref(), Some("failed"));
    let instructions = sim.log_lines(&first, "juju run mysql/leader pre-upgrade-check");
    assert!(!instructions.is_empty(), "{first} logs how to roll back");
    for unit in sim.unit_names().into_iter().filter(|u| *u != first) {
        assert_eq!(
            sim.unit_status(&unit),
            ("waiting".to_owned(), WAITING_FOR_OTHERS.to_owned()),
            "{unit}"
        );
        let server = sim.server(&unit).expect("installed");
        assert!(server.running);
        assert_eq!(
            server.installed.map(|r| r.version).as_deref(),
            Some(OLD_VERSION)
        );
    }
    let windows = sim.windows();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        (windows[0].unit.as_str(), windows[0].completed),
        (first.as_str(), false)
    );
    (sim, first)
}

/// The how-to's step 1: `juju run mysql/leader pre-upgrade-check` enters recovery.
fn enter_recovery(sim: &mut Sim) {
    let task = sim.pre_upgrade_check();
    let result = task
        .results
        .get("result")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    assert!(result.starts_with("Ready to roll back."), "{result}");
    let leader = sim.leader();
    assert_eq!(
        sim.unit_status(&leader),
        ("blocked".to_owned(), READY_TO_ROLLBACK.to_owned())
    );
    assert_eq!(sim.upgrade_state(&leader).as_deref(), Some("recovery"));
}

/// The rollback after [`failed_upgrade`]: units go back one at a time, the failed one
/// first and the leader last, and every unit ends active on 8.0.33.
fn check_rolled_back(sim: &Sim, failed: &str) {
    active_on(sim, OLD_VERSION);
    // No unit had upgraded (the failed one never started 8.0.34): none needed a reset.
    assert_eq!(reset_units(sim), Vec::<String>::new());
    let windows = sim.windows();
    let order = sim.assert_one_at_a_time(&windows);
    let mut expected = vec![failed.to_owned()];
    expected.extend(sim.planned_order());
    assert_eq!(order, expected, "{windows:?}");
    assert!(windows[1..]
        .iter()
        .all(|w| w.completed && w.to_version == OLD_VERSION));
    let rollback_statuses = sim.status_messages_logged(failed);
    let mut rest = rollback_statuses
        .iter()
        .skip_while(|s| !s.contains(UPGRADE_FAILED));
    for step in [
        "maintenance: upgrading...",
        "maintenance: stopping services..",
        "maintenance: upgrading snap...",
        "maintenance: check if upgrade is possible",
        "maintenance: starting services...",
        "maintenance: recovering unit after upgrade",
        "maintenance: upgrade completed",
        "active",
    ] {
        assert!(
            rest.any(|s| s == step),
            "{failed} rolling back: {step:?} missing or out of order in {rollback_statuses:?}"
        );
    }
}

#[test]
fn the_seeds_rollback_by_revision_returns_every_unit_to_8_0_33_one_at_a_time() {
    for seed in [1, 5] {
        let (mut sim, failed) = failed_upgrade(seed);
        enter_recovery(&mut sim);
        sim.clear_status_trace();
        let revision = sim.refresh(Source::Revision(OLD_REVISION));
        assert_eq!(revision, OLD_REVISION);
        check_rolled_back(&sim, &failed);
        assert_eq!(
            sim.app_revision_and_version(),
            (OLD_REVISION, OLD_VERSION.to_owned()),
            "seed {seed}: the controller's revision is back in sync"
        );
        // While the failed unit rolled back, the others waited their turn.
        let leader = sim.leader();
        assert!(
            sim.statuses_of(&leader)
                .contains(&("waiting".to_owned(), WAITING_FOR_OTHERS.to_owned())),
            "{:?}",
            sim.statuses_of(&leader)
        );
    }
}

#[test]
fn the_seeds_rollback_by_path_to_the_previous_charm_file_works_the_same() {
    let (mut sim, failed) = failed_upgrade(11);
    enter_recovery(&mut sim);
    let previous = sim.old_charm();
    let revision = sim.refresh(Source::Path(previous));
    assert_eq!(
        revision, 184,
        "a local charm file is uploaded as a new revision"
    );
    check_rolled_back(&sim, &failed);
    assert_eq!(
        sim.app_revision_and_version(),
        (184, OLD_VERSION.to_owned())
    );
}

#[test]
fn a_unit_failing_again_during_the_rollback_pauses_it_with_a_clear_status() {
    let mut sim = Sim::new(3, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let order = sim.planned_order();
    let (first, second, leader) = (order[0].clone(), order[1].clone(), order[2].clone());
    // The first unit upgrades; the upgrade pauses (pause-after-unit-refresh=first); the
    // operator resumes it and the second unit fails to start 8.0.34.
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(second.as_str())]);
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));
    let resume = sim.run_action(&second, "resume-upgrade");
    assert_eq!(resume.status, TaskStatus::Failed);
    let failed = format!("Upgrade resumed, but {second} failed to upgrade: see `juju debug-log`. Roll back: `juju refresh mysql --revision=182`");
    assert_eq!(resume.message.as_deref(), Some(failed.as_str()));
    assert_eq!(
        sim.unit_status(&second),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );
    assert_eq!(
        sim.server(&first)
            .and_then(|s| s.installed)
            .map(|r| r.version)
            .as_deref(),
        Some(NEW_VERSION)
    );

    // Roll back; the already upgraded first unit does not rejoin on 8.0.33.
    enter_recovery(&mut sim);
    sim.arm([FaultRule::new(FaultKind::NoRejoin)
        .for_version(OLD_VERSION)
        .for_unit(first.as_str())]);
    sim.refresh(Source::Revision(OLD_REVISION));

    // Paused: the failed unit rolled back, the first one failed again, the leader waits.
    assert_eq!(
        sim.unit_status(&first),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );
    assert_eq!(sim.upgrade_state(&first).as_deref(), Some("failed"));
    assert_eq!(
        sim.unit_status(&leader),
        ("waiting".to_owned(), WAITING_FOR_OTHERS.to_owned())
    );
    let leader_server = sim.server(&leader).expect("installed");
    assert!(leader_server.running);
    let windows = sim.windows();
    let opened = sim.assert_one_at_a_time(&windows);
    assert_eq!(
        opened,
        [first.clone(), second.clone(), second.clone(), first.clone()]
    );
    assert!(!windows.last().is_some_and(|w| w.completed));
    assert!(
        !sim.log_lines(&first, "Upgraded unit is not healthy")
            .is_empty(),
        "the log says why"
    );
    // The first unit had upgraded: mysqld 8.0.33 refused its data, it was reset, and then
    // did not rejoin.
    assert_eq!(reset_units(&sim), vec![first.clone()]);

    assert_eq!(
        sim.app_status(),
        (
            "blocked".to_owned(),
            format!("Rollback failed on {first}, see `juju debug-log`; to retry: `juju run mysql/leader pre-upgrade-check`")
        )
    );

    // The operator fixes the cause and rolls back again, as the status asks: the application
    // already runs revision 182, which Juju will not refresh to again, so from its file.
    sim.arm([]);
    enter_recovery(&mut sim);
    assert_eq!(
        sim.app_status(),
        (
            "blocked".to_owned(),
            "Ready to roll back again: `juju refresh mysql --path=<charm file of revision 182>`"
                .to_owned()
        )
    );
    assert!(
        sim.engine
            .refresh(APP, Source::Revision(OLD_REVISION))
            .is_err(),
        "Juju refuses the revision the application runs"
    );
    let previous = sim.old_charm();
    sim.refresh(Source::Path(previous));
    active_on(&sim, OLD_VERSION);
    let opened = sim.assert_one_at_a_time(&sim.windows());
    assert_eq!(
        opened.last(),
        Some(&leader),
        "the leader is last: {opened:?}"
    );
    let _ = APP;
}

#[test]
fn an_incompatible_revision_fails_before_any_server_is_touched_and_rolls_back() {
    let mut sim = Sim::new(2, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let incompatible = sim.incompatible_charm();
    sim.refresh(Source::Path(incompatible));
    let leader = sim.leader();
    assert_eq!(
        sim.unit_status(&leader),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );
    assert_eq!(sim.upgrade_state(&leader).as_deref(), Some("failed"));
    assert!(
        !sim.log_lines(&leader, "Versions incompatible").is_empty(),
        "the log names the incompatibility"
    );
    assert!(!sim
        .log_lines(&leader, "juju run mysql/leader pre-upgrade-check")
        .is_empty());
    for unit in sim.unit_names().into_iter().filter(|u| *u != leader) {
        assert_eq!(
            sim.unit_status(&unit),
            ("waiting".to_owned(), WAITING_FOR_OTHERS.to_owned())
        );
    }
    assert!(sim.windows().is_empty(), "no server was touched");
    for (unit, server) in sim.servers() {
        assert!(server.running, "{unit}");
        assert_eq!(
            server.installed.map(|r| r.version).as_deref(),
            Some(OLD_VERSION)
        );
    }

    enter_recovery(&mut sim);
    sim.refresh(Source::Revision(OLD_REVISION));
    active_on(&sim, OLD_VERSION);
    let opened = sim.assert_one_at_a_time(&sim.windows());
    assert_eq!(opened, sim.planned_order());
}

/// The units whose charm logged that their server refused the downgrade and was reset.
fn reset_units(sim: &Sim) -> Vec<String> {
    sim.unit_names()
        .into_iter()
        .filter(|unit| !sim.log_lines(unit, "Downgrade is incompatible").is_empty())
        .collect()
}

#[test]
fn the_rollback_resets_and_rejoins_every_unit_that_had_upgraded() {
    let mut sim = Sim::new(4, binaries!());
    sim.deploy_old(4);
    sim.set_pause("none");
    sim.settle();
    sim.pre_upgrade_check();
    let order = sim.planned_order();
    // Two units upgrade to 8.0.34; the third fails to start it; the leader still runs 8.0.33.
    let (upgraded, failed) = (order[..2].to_vec(), order[2].clone());
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(failed.as_str())]);
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));
    assert_eq!(
        sim.unit_status(&failed),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );
    for unit in &upgraded {
        let server = sim.server(unit).expect("installed");
        assert_eq!(server.data_format_version.as_deref(), Some(NEW_VERSION));
    }
    assert_eq!(
        sim.primary().as_deref(),
        Some(sim.leader().as_str()),
        "the 8.0.33 leader stays primary"
    );

    // The how-to: pre-upgrade-check, then refresh back. The fault stays armed: it is for
    // 8.0.34, which nothing starts any more.
    enter_recovery(&mut sim);
    sim.refresh(Source::Revision(OLD_REVISION));
    active_on(&sim, OLD_VERSION);

    // mysqld 8.0.33 refused each upgraded unit's 8.0.34 data dictionary (MY-013171): those
    // units, and only those, were reset and rejoined from a member running 8.0.33.
    let mut expected = upgraded.clone();
    expected.sort();
    assert_eq!(reset_units(&sim), expected);
    for unit in &upgraded {
        let server = sim.server(unit).expect("installed");
        let refused = server
            .error_log
            .iter()
            .rposition(|l| l.contains("MY-013171"))
            .unwrap_or_else(|| panic!("{unit}: {:?}", server.error_log));
        assert!(
            server.error_log[refused..]
                .iter()
                .any(|l| l.contains("cloning from")),
            "{unit}: {:?}",
            server.error_log
        );
        assert_eq!(server.data_format_version.as_deref(), Some(OLD_VERSION));
    }
    let windows = sim.windows();
    let opened = sim.assert_one_at_a_time(&windows);
    // Rolled back one at a time, once each: the failed unit first, the leader last.
    let rollback = &opened[3..];
    assert_eq!(rollback.len(), 4, "{windows:?}");
    assert_eq!(rollback.first(), Some(&failed));
    assert_eq!(rollback.last(), Some(&sim.leader()));
    let mut once = rollback.to_vec();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), 4, "{windows:?}");
}

#[test]
fn a_rollback_after_a_completed_upgrade_stops_at_the_first_unit_mysql_refuses() {
    let mut sim = Sim::new(4, binaries!());
    sim.deploy_old(3);
    // Both refreshes are upgrade rounds (the first one completed): no pauses wanted here.
    sim.set_pause("none");
    sim.settle();
    sim.pre_upgrade_check();
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));
    active_on(&sim, NEW_VERSION);

    // Going back to 8.0.33 once every unit runs 8.0.34: mysqld 8.0.33 refuses the 8.0.34
    // data directory (MY-013171), and no member runs 8.0.33 to clone from, nor could an
    // 8.0.33 member join a group whose lowest version is 8.0.34. The first unit fails;
    // the others keep serving on 8.0.34.
    sim.pre_upgrade_check();
    sim.refresh(Source::Revision(OLD_REVISION));
    let first = sim.planned_order()[0].clone();
    assert_eq!(
        sim.unit_status(&first),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );
    assert!(
        !sim.log_lines(
            &first,
            "Failed to reset the workload after an incompatible downgrade"
        )
        .is_empty(),
        "{}",
        sim.debug_log()
    );
    assert!(!sim
        .log_lines(&first, "no ONLINE member can donate")
        .is_empty());
    let server = sim.server(&first).expect("installed");
    assert!(!server.running);
    assert_eq!(
        server.data_format_version.as_deref(),
        Some(NEW_VERSION),
        "the data directory is kept"
    );
    for unit in sim.unit_names().into_iter().filter(|u| *u != first) {
        let server = sim.server(&unit).expect("installed");
        assert!(server.running, "{unit}");
        assert_eq!(
            server.installed.map(|r| r.version).as_deref(),
            Some(NEW_VERSION),
            "{unit} untouched"
        );
        assert_eq!(
            sim.unit_status(&unit),
            ("waiting".to_owned(), WAITING_FOR_OTHERS.to_owned())
        );
    }
    assert_eq!(sim.windows().len(), 4, "{:?}", sim.windows());
}

#[test]
fn a_single_unit_upgrade_and_rollback_reboot_the_cluster_from_complete_outage() {
    let mut sim = Sim::new(6, binaries!());
    sim.deploy_old(1);
    let unit = sim.leader();
    sim.pre_upgrade_check();
    sim.arm([FaultRule::new(FaultKind::StartFails).for_version(NEW_VERSION)]);
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));
    assert_eq!(
        sim.unit_status(&unit),
        ("blocked".to_owned(), UPGRADE_FAILED.to_owned())
    );

    // 8.0.34 never started, so the data is still 8.0.33's: the rollback starts mysqld
    // 8.0.33, whose lone member re-forms the group only through a reboot.
    sim.arm([]);
    enter_recovery(&mut sim);
    sim.refresh(Source::Revision(OLD_REVISION));
    active_on(&sim, OLD_VERSION);
    let rebooted = |sim: &Sim| {
        sim.server(&unit)
            .expect("installed")
            .error_log
            .iter()
            .filter(|l| l.contains("The group was rebooted from a complete outage"))
            .count()
    };
    assert_eq!(
        rebooted(&sim),
        1,
        "{:?}",
        sim.server(&unit).map(|s| s.error_log)
    );
    assert_eq!(sim.primary().as_deref(), Some(unit.as_str()));

    // Upgrading for real passes through the same reboot.
    sim.pre_upgrade_check();
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));
    active_on(&sim, NEW_VERSION);
    assert_eq!(rebooted(&sim), 2);
    assert_eq!(reset_units(&sim), Vec::<String>::new());
}
