//! Refreshes between Charmed MySQL's Python charm (the Python v0 test charm, on the real
//! data-platform-libs upgrade library v0) and this charm, both ways, through juju-sim on the
//! same emulated servers.

use std::path::PathBuf;

use e2e::{
    binaries, Sim, APP, NEW_VERSION, OLD_REVISION, OLD_SNAP_REVISION, OLD_VERSION,
    READY_TO_ROLLBACK, UPGRADE_FAILED,
};
use juju_sim::engine::Source;
use juju_sim::model::TaskStatus;
use mysql_charm::versions::VersionOverrides;
use mysql_test_workloads::{FaultKind, FaultRule};

/// MySQL in a later revision than [`NEW_VERSION`].
const NEWER_VERSION: &str = "8.0.35";
/// MySQL in a revision later still.
const NEWEST_VERSION: &str = "8.0.36";

/// A charm revision's versions: MySQL `version` in snap revision `snap`.
fn pinned(version: &str, snap: &str) -> VersionOverrides {
    VersionOverrides {
        workload_version: Some(version.into()),
        snap_revision: Some(snap.into()),
        ..VersionOverrides::default()
    }
}

/// The Python revision with the repository's versions ([`NEW_VERSION`]).
fn python_new(sim: &mut Sim) -> PathBuf {
    sim.python_charm("new", VersionOverrides::default())
}

/// This charm with MySQL [`NEWER_VERSION`].
fn rust_newer(sim: &Sim) -> PathBuf {
    sim.charm("newer", pinned(NEWER_VERSION, "70"))
}

/// This charm with MySQL [`NEWEST_VERSION`].
fn rust_newest(sim: &Sim) -> PathBuf {
    sim.charm("newest", pinned(NEWEST_VERSION, "71"))
}

/// This charm with MySQL [`OLD_VERSION`], as a new revision (a way back that is this charm).
fn rust_old_again(sim: &Sim) -> PathBuf {
    sim.charm("182", pinned(OLD_VERSION, OLD_SNAP_REVISION))
}

/// The Python revision 182: MySQL [`OLD_VERSION`].
fn python_old(sim: &mut Sim) -> PathBuf {
    sim.python_charm("182", pinned(OLD_VERSION, OLD_SNAP_REVISION))
}

/// Deploys three units of the Python revision 182 and settles; every unit ends active.
fn deploy_python_old(seed: u64) -> Sim {
    let mut sim = Sim::new(seed, binaries!());
    let charm = python_old(&mut sim);
    sim.engine
        .deploy(&charm, APP, 3, Some(OLD_REVISION))
        .expect("deploy");
    sim.settle();
    sim.assert_all_active_on(OLD_VERSION);
    sim
}

/// No unit's or application's status names a command: what the statuses show once a flow
/// is over.
fn assert_no_command_in_statuses(sim: &Sim) {
    let (_, app_message) = sim.app_status();
    assert!(!app_message.contains("juju "), "application: {app_message}");
    for (unit, report) in sim.units() {
        let message = &report.workload_status.message;
        assert!(!message.contains("juju "), "{unit}: {message}");
    }
}

/// The unit a `Paused: ... `juju run <unit> resume-upgrade`` status names, if any unit shows
/// one now.
fn paused_before(sim: &Sim) -> Option<String> {
    sim.units().into_values().find_map(|report| {
        let message = &report.workload_status.message;
        let (_, rest) = message.split_once("`juju run ")?;
        let (unit, _) = rest.split_once(" resume-upgrade`")?;
        Some(unit.to_owned())
    })
}

/// Does what the statuses ask while the upgrade pauses: `resume-upgrade` on the unit they
/// name, which must succeed. Returns the units resumed.
fn follow_resumes(sim: &mut Sim) -> Vec<String> {
    let mut resumed = Vec::new();
    while let Some(unit) = paused_before(sim) {
        assert!(resumed.len() < 5, "resumed {resumed:?} and still paused");
        let task = sim.run_action(&unit, "resume-upgrade");
        assert_eq!(
            task.status,
            TaskStatus::Completed,
            "{task:?}\n{}",
            sim.debug_log()
        );
        resumed.push(unit);
    }
    resumed
}

/// Every rollback command any status showed refreshes to `revision`.
fn assert_rollback_commands_name(sim: &Sim, revision: u64) {
    let expected = format!("juju refresh {APP} --revision={revision}`");
    let messages = sim
        .status_trace
        .iter()
        .map(|(_, _, m)| m)
        .chain(sim.app_status_trace.iter().map(|(_, m)| m));
    for message in messages {
        if let Some((_, command)) = message.split_once("`juju refresh ") {
            assert!(
                format!("juju refresh {command}").starts_with(&expected),
                "a status names another rollback than {expected}: {message}\n{:#?}",
                sim.app_status_trace
            );
        }
    }
}

#[test]
fn v0_prepares_and_this_charm_continues() {
    let mut sim = deploy_python_old(1);
    let order = sim.planned_order();
    sim.pre_upgrade_check();
    assert!(sim.upgrade_stack().is_some(), "v0 wrote the stack");

    let new = sim.new_charm();
    sim.clear_status_trace();
    assert_eq!(sim.refresh(Source::Path(new)), OLD_REVISION + 1);
    // The default pause after the first unit: the status names the next unit.
    assert_eq!(follow_resumes(&mut sim), [order[1].clone()]);

    sim.assert_all_active_on(NEW_VERSION);
    assert_rollback_commands_name(&sim, OLD_REVISION);
    let windows = sim.windows();
    assert_eq!(sim.assert_one_at_a_time(&windows), order, "{windows:?}");
    assert!(windows
        .iter()
        .all(|w| w.completed && w.to_version == NEW_VERSION));
    assert_no_command_in_statuses(&sim);
}

/// No status, of a unit or of the application, names a rollback by a revision placeholder:
/// one the operator cannot run as it stands, and which, followed to a Python revision while
/// nothing failed, would leave v0 with units `ready` for ever.
fn assert_no_placeholder_rollback(sim: &Sim) {
    let messages = sim
        .status_trace
        .iter()
        .map(|(_, _, m)| m)
        .chain(sim.app_status_trace.iter().map(|(_, m)| m));
    for message in messages {
        assert!(
            !message.contains("<previous revision>"),
            "a status names a placeholder: {message}"
        );
    }
}

/// The debug log never tells to roll back directly when this charm cannot say to what.
fn assert_no_direct_hint_without_revision(sim: &Sim) {
    for unit in sim.unit_names() {
        for line in sim.log_lines(&unit, "Or roll back directly") {
            assert!(!line.contains("<previous revision>"), "{unit}: {line}");
        }
    }
}

/// The units that touched their servers, in order, each window done and to `version`.
fn rolled_to(sim: &Sim, version: &str) -> Vec<String> {
    let windows = sim.windows();
    let order = sim.assert_one_at_a_time(&windows);
    assert!(
        windows
            .iter()
            .all(|w| w.completed && w.to_version == version),
        "{windows:?}"
    );
    order
}

#[test]
fn this_charm_fails_and_the_howto_rolls_back_to_the_python_revision() {
    let mut sim = deploy_python_old(2);
    let order = sim.planned_order();
    sim.pre_upgrade_check();
    sim.arm([FaultRule::new(FaultKind::StartFails).for_version(NEW_VERSION)]);
    let new = sim.new_charm();
    sim.clear_status_trace();
    sim.refresh(Source::Path(new));
    let first = order[0].clone();
    assert_eq!(
        sim.unit_status(&first),
        ("blocked".into(), UPGRADE_FAILED.into())
    );
    assert_no_direct_hint_without_revision(&sim);

    // The how-to: pre-upgrade-check enters recovery, then refresh to the Python revision.
    sim.pre_upgrade_check();
    let leader = sim.leader();
    assert_eq!(
        sim.unit_status(&leader),
        ("blocked".into(), READY_TO_ROLLBACK.into())
    );
    sim.arm([]);
    let before = sim.windows().len();
    sim.refresh(Source::Revision(OLD_REVISION));

    assert!(paused_before(&sim).is_none(), "a rollback does not pause");
    sim.assert_all_active_on(OLD_VERSION);
    let windows = sim.windows();
    let rollback: Vec<String> = sim.assert_one_at_a_time(&windows)[before..].to_vec();
    assert_eq!(
        rollback[0], first,
        "the failed unit rolls back first: {windows:?}"
    );
    assert!(windows[before..]
        .iter()
        .all(|w| w.completed && w.to_version == OLD_VERSION));
    assert_eq!(sim.app_status(), ("active".into(), String::new()));
    assert_no_placeholder_rollback(&sim);
    assert_no_command_in_statuses(&sim);
}

#[test]
fn this_charm_prepares_and_v0_continues() {
    let mut sim = Sim::new(3, binaries!());
    sim.deploy_old(3);
    let order = sim.planned_order();
    sim.pre_upgrade_check();
    let python = python_new(&mut sim);
    sim.clear_status_trace();
    sim.refresh(Source::Path(python));

    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(rolled_to(&sim, NEW_VERSION), order);
    assert_eq!(sim.app_status(), ("active".into(), String::new()));
    assert_no_command_in_statuses(&sim);
}

/// v0 upgrades from the Python revision 182 to the Python revision 183, whose MySQL fails to
/// start on the second unit; `pre-upgrade-check` (v0) enters recovery. Returns the model and
/// the failed unit.
fn v0_failed_on_its_second_unit(seed: u64) -> (Sim, String) {
    let mut sim = deploy_python_old(seed);
    let order = sim.planned_order();
    sim.pre_upgrade_check();
    let second = order[1].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails)
        .for_version(NEW_VERSION)
        .for_unit(second.clone())]);
    let python = python_new(&mut sim);
    sim.refresh(Source::Path(python));
    assert_eq!(sim.upgrade_state(&second).as_deref(), Some("failed"));
    assert_eq!(sim.upgrade_state(&order[0]).as_deref(), Some("completed"));
    // v0's recovery: the stack repaired, the leader in `recovery`.
    sim.pre_upgrade_check();
    assert_eq!(
        sim.upgrade_state(&sim.leader()).as_deref(),
        Some("recovery")
    );
    sim.arm([]);
    (sim, second)
}

#[test]
fn v0_fails_on_its_second_unit_recovers_and_refreshes_to_this_charm() {
    let (mut sim, failed) = v0_failed_on_its_second_unit(4);
    let before = sim.windows().len();
    let back = rust_old_again(&sim);
    sim.clear_status_trace();
    sim.refresh(Source::Path(back));

    assert!(paused_before(&sim).is_none(), "a rollback does not pause");
    sim.assert_all_active_on(OLD_VERSION);
    let windows = sim.windows();
    let rollback = sim.assert_one_at_a_time(&windows)[before..].to_vec();
    assert_eq!(
        rollback[0], failed,
        "the failed unit rolls back first: {windows:?}"
    );
    assert!(windows[before..]
        .iter()
        .all(|w| w.completed && w.to_version == OLD_VERSION));
    // Nothing offers the revision that runs now as a way back.
    let deployed = sim.app_revision_and_version().0;
    for (_, message) in &sim.app_status_trace {
        assert!(
            !message.contains(&format!("--revision={deployed}`")),
            "{message}"
        );
    }
    assert_no_placeholder_rollback(&sim);
    assert_no_command_in_statuses(&sim);
}

#[test]
fn a_second_upgrade_with_this_charm_after_a_v0_round_pauses_and_rolls_back_to_what_ran() {
    // This charm prepares, v0 continues to the Python revision 183 and completes.
    let mut sim = Sim::new(5, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let python = python_new(&mut sim);
    sim.refresh(Source::Path(python));
    sim.assert_all_active_on(NEW_VERSION);

    // v0 prepares, this charm continues: an upgrade (it pauses), not a rollback.
    sim.pre_upgrade_check();
    let newer = rust_newer(&sim);
    sim.clear_status_trace();
    let upgraded_to = sim.refresh(Source::Path(newer));
    assert_eq!(
        follow_resumes(&mut sim).len(),
        1,
        "the upgrade pauses after its first unit"
    );
    sim.assert_all_active_on(NEWER_VERSION);
    assert_no_placeholder_rollback(&sim);
    // Revision 182 is what this charm recorded before v0's round: MySQL 8.0.33, below what
    // every unit ran since. No status offers it.
    for (_, message) in &sim.app_status_trace {
        assert!(
            !message.contains(&format!("--revision={OLD_REVISION}`")),
            "stale rollback revision: {message}"
        );
    }

    // The next upgrade with this charm fails; the way back is the revision that ran.
    sim.pre_upgrade_check();
    let first = sim.planned_order()[0].clone();
    sim.arm([FaultRule::new(FaultKind::StartFails).for_version(NEWEST_VERSION)]);
    let newest = rust_newest(&sim);
    sim.clear_status_trace();
    sim.refresh(Source::Path(newest));
    assert_eq!(
        sim.unit_status(&first),
        ("blocked".into(), UPGRADE_FAILED.into())
    );
    assert_rollback_commands_name(&sim, upgraded_to);
    let (_, app_message) = sim.app_status();
    assert!(
        app_message.contains(&format!("juju refresh {APP} --revision={upgraded_to}`")),
        "{app_message}"
    );
    sim.arm([]);
    sim.clear_status_trace();
    sim.refresh(Source::Revision(upgraded_to));
    assert!(paused_before(&sim).is_none(), "a rollback does not pause");
    sim.assert_all_active_on(NEWER_VERSION);
    assert_no_command_in_statuses(&sim);
}

#[test]
fn an_unprepared_refresh_from_v0_to_this_charm_asks_for_the_check_then_upgrades() {
    let mut sim = deploy_python_old(6);
    let new = sim.new_charm();
    sim.clear_status_trace();
    sim.refresh(Source::Path(new));
    let (status, message) = sim.app_status();
    assert_eq!(status, "blocked", "{message}");
    assert!(
        message.contains(&format!("juju run {APP}/leader pre-upgrade-check")),
        "{message}"
    );
    for (_, server) in sim.servers() {
        assert_eq!(
            server.installed.map(|r| r.version).as_deref(),
            Some(OLD_VERSION)
        );
    }
    sim.pre_upgrade_check();
    follow_resumes(&mut sim);
    sim.assert_all_active_on(NEW_VERSION);
    assert_no_placeholder_rollback(&sim);
    assert_no_command_in_statuses(&sim);
}

#[test]
fn an_unprepared_refresh_from_this_charm_to_v0_and_back_leaves_every_unit_as_it_runs() {
    let mut sim = Sim::new(7, binaries!());
    sim.deploy_old(3);
    // v0 does nothing without a stack: the servers stay on 8.0.33.
    let python = python_new(&mut sim);
    sim.refresh(Source::Path(python));
    for (_, server) in sim.servers() {
        assert_eq!(
            server.installed.map(|r| r.version).as_deref(),
            Some(OLD_VERSION)
        );
    }
    // Back to this charm's revision 182, unprepared: nothing to do, and it says so truly.
    sim.clear_status_trace();
    sim.refresh(Source::Revision(OLD_REVISION));
    sim.assert_all_active_on(OLD_VERSION);
    assert_no_command_in_statuses(&sim);

    // And then a prepared upgrade with v0 works.
    sim.pre_upgrade_check();
    let python = python_new(&mut sim);
    sim.refresh(Source::Path(python));
    sim.assert_all_active_on(NEW_VERSION);
    assert_no_command_in_statuses(&sim);
}

#[test]
fn an_unprepared_refresh_back_to_this_charm_after_a_v0_round_upgrades_the_servers() {
    // This charm prepares and upgrades to 8.0.34; v0 drives a rollback round to the Python
    // revision with 8.0.33; then an unprepared refresh to this charm's 8.0.34 revision.
    let mut sim = Sim::new(8, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    let new = sim.new_charm();
    let rust_new = sim.refresh(Source::Path(new));
    follow_resumes(&mut sim);
    sim.assert_all_active_on(NEW_VERSION);
    sim.pre_upgrade_check();
    let python_182 = python_old(&mut sim);
    sim.refresh(Source::Path(python_182));
    sim.assert_all_active_on(OLD_VERSION);

    sim.clear_status_trace();
    sim.refresh(Source::Revision(rust_new));
    // Not "already upgraded": the servers run 8.0.33, so the charm asks for the check.
    let (status, message) = sim.app_status();
    assert_eq!(status, "blocked", "{message}");
    assert!(
        message.contains(&format!("juju run {APP}/leader pre-upgrade-check")),
        "{message}"
    );
    sim.pre_upgrade_check();
    follow_resumes(&mut sim);
    sim.assert_all_active_on(NEW_VERSION);
    assert_no_command_in_statuses(&sim);
}
