//! The happy upgrade through juju-sim with the real charm: three units of revision 182
//! (MySQL 8.0.33) refreshed to the next revision (8.0.34), with
//! `pause-after-unit-refresh=none`, or with the default `first` and the operator running
//! `resume-upgrade` on the unit the status names.

use e2e::{binaries, Sim, APP, NEW_VERSION, OLD_VERSION, WAITING_FOR_OTHERS};
use juju_sim::engine::Source;
use juju_sim::model::TaskStatus;

/// Deploys, checks, refreshes and returns the model (for a given scheduler seed). With
/// `pause` the operator sets `pause-after-unit-refresh` first; with the default (`first`) the
/// upgrade stops after the first unit and the operator resumes it on the next one.
fn upgraded(seed: u64, pause: Option<&str>) -> Sim {
    let mut sim = Sim::new(seed, binaries!());
    sim.deploy_old(3);
    if let Some(pause) = pause {
        sim.set_pause(pause);
        sim.settle();
    }
    assert_eq!(
        sim.app_revision_and_version(),
        (182, OLD_VERSION.to_owned())
    );
    let task = sim.pre_upgrade_check();
    let result = task
        .results
        .get("result")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let leader = sim.leader();
    assert!(
        result.contains(&format!("{leader}. Run `juju refresh` to start.")),
        "the leader upgrades last: {result}"
    );
    assert_eq!(
        sim.primary().as_deref(),
        Some(leader.as_str()),
        "the leader is made primary"
    );
    let new = sim.new_charm();
    sim.clear_status_trace();
    let revision = sim.refresh(Source::Path(new));
    assert_eq!(revision, 183);
    if pause.is_none() {
        let next = sim.planned_order()[1].clone();
        let task = sim.run_action(&next, "resume-upgrade");
        assert_eq!(task.status, TaskStatus::Completed, "{task:?}");
    }
    sim
}

#[test]
fn three_units_upgrade_one_at_a_time_with_the_leader_and_primary_last() {
    for seed in [1, 7, 42] {
        let sim = upgraded(seed, Some("none"));
        let leader = sim.leader();
        let order = sim.assert_one_at_a_time(&sim.windows());
        let others: Vec<String> = sim
            .unit_names()
            .into_iter()
            .rev()
            .filter(|u| *u != leader)
            .collect();
        let mut expected = others;
        expected.push(leader.clone());
        assert_eq!(
            order, expected,
            "seed {seed}: highest number first, leader last"
        );
        assert!(sim
            .windows()
            .iter()
            .all(|w| w.completed && w.to_version == NEW_VERSION));

        assert_eq!(
            sim.app_revision_and_version(),
            (183, NEW_VERSION.to_owned())
        );
        for (unit, report) in sim.units() {
            assert_eq!(
                report.workload_status.current, "active",
                "seed {seed} {unit}"
            );
            assert_eq!(report.workload_version, NEW_VERSION, "seed {seed} {unit}");
            assert_eq!(sim.upgrade_state(&unit).as_deref(), Some("idle"));
            let server = sim.server(&unit).expect("installed");
            assert!(server.running, "{unit}");
            assert_eq!(
                server.installed.map(|r| r.version).as_deref(),
                Some(NEW_VERSION)
            );
        }
        let primaries: Vec<String> = sim
            .units()
            .into_iter()
            .filter(|(_, r)| r.workload_status.message == "Primary")
            .map(|(u, _)| u)
            .collect();
        assert_eq!(
            primaries,
            [sim.primary().expect("a primary")],
            "seed {seed}"
        );
        assert_eq!(sim.upgrade_stack().as_deref(), Some("[]"));
        // The leader decided from its peer cache: every other unit's bag, kept in its charm
        // directory (the archive ships `peer-cache/`).
        let cache = sim
            .model_dir()
            .join("units")
            .join(leader.replace('/', "-"))
            .join("charm/peer-cache/upgrade.json");
        let text = std::fs::read_to_string(&cache).expect("the leader's peer cache");
        let cache = juju_upgrade::PeerCache::from_json(&text).expect("a valid cache");
        let mut cached: Vec<String> = cache.bags().keys().map(|n| format!("mysql/{n}")).collect();
        cached.push(leader.clone());
        cached.sort();
        assert_eq!(cached, sim.unit_names(), "seed {seed}");
    }
}

#[test]
fn each_unit_shows_charmed_mysqls_statuses_while_it_upgrades() {
    let sim = upgraded(3, None);
    let leader = sim.leader();
    // With the default pause-after-unit-refresh=first, the second unit waited for the
    // operator's resume-upgrade after the first one upgraded.
    let second = sim.planned_order()[1].clone();
    let paused = (
        "blocked".to_owned(),
        format!("Paused: check upgraded units, then `juju run {second} resume-upgrade`"),
    );
    assert!(
        sim.statuses_of(&second).contains(&paused),
        "{:?}",
        sim.statuses_of(&second)
    );
    let first = sim
        .unit_names()
        .into_iter()
        .rev()
        .find(|u| *u != leader)
        .expect("a non-leader");
    let logged = sim.status_messages_logged(&first);
    let expected = [
        format!("waiting: {WAITING_FOR_OTHERS}"),
        "maintenance: upgrading...".to_owned(),
        "maintenance: stopping services..".to_owned(),
        "maintenance: upgrading snap...".to_owned(),
        "maintenance: starting services...".to_owned(),
        "maintenance: recovering unit after upgrade".to_owned(),
        "maintenance: upgrade completed".to_owned(),
        "active".to_owned(),
    ];
    let mut rest = logged.iter();
    for step in &expected {
        assert!(
            rest.any(|m| m == step),
            "{first}: {step:?} missing or out of order in {logged:?}"
        );
    }
    // No unit runs the upgrade checker (Charmed MySQL dropped that step).
    for unit in sim.unit_names() {
        let logged = sim.status_messages_logged(&unit);
        assert!(
            !logged
                .iter()
                .any(|m| m.contains("check if upgrade is possible")),
            "{unit}: {logged:?}"
        );
        assert!(logged
            .iter()
            .any(|m| m == "maintenance: recovering unit after upgrade"));
    }
    // Between operations, units waiting for their turn show v0's message.
    let waited = sim.status_trace.iter().any(|(u, status, message)| {
        *u == leader && status == "waiting" && message == WAITING_FOR_OTHERS
    });
    assert!(
        waited,
        "the leader waited for the others: {:?}",
        sim.statuses_of(&leader)
    );
    let _ = APP;
}

#[test]
fn the_upgrade_survives_hooks_that_fail_or_are_killed_midway() {
    let mut sim = Sim::new(21, binaries!());
    sim.deploy_old(3);
    sim.set_pause("none");
    sim.settle();
    sim.pre_upgrade_check();
    let new = sim.new_charm();
    sim.engine.refresh(APP, Source::Path(new)).expect("refresh");
    // For a while, every few operations: kill each unit's agent after a varying number of
    // hook-tool calls (writes dropped, the hook runs again), or fail a unit's next hook
    // (writes dropped, Juju retries it after a backoff). The counts are chosen so that a
    // kill lands inside a server's upgrade window (asserted below); they depend on how
    // many hook-tool calls each step makes.
    sim.step_under_faults(
        |round, i| u32::try_from(9 + (7 * round + 5 * i) % 30).unwrap_or(9),
        5,
    );
    sim.settle();
    let history = sim.engine.history().expect("history");
    let killed = history
        .iter()
        .filter(|r| r.outcome == juju_sim::model::Outcome::Killed)
        .count();
    assert!(killed > 0, "some hooks were killed midway");
    let windows = sim.windows();
    assert!(
        windows.iter().any(|w| !w.completed),
        "a unit was interrupted while upgrading its server: {windows:?}"
    );

    assert_eq!(
        sim.app_revision_and_version(),
        (183, NEW_VERSION.to_owned())
    );
    for (unit, report) in sim.units() {
        assert_eq!(
            report.workload_status.current, "active",
            "{unit}: {report:?}"
        );
        assert_eq!(report.workload_version, NEW_VERSION, "{unit}");
        assert_eq!(sim.upgrade_state(&unit).as_deref(), Some("idle"), "{unit}");
    }
    // Re-run hooks may reopen a unit's window, never another's before it is done.
    let mut order = sim.assert_one_at_a_time(&windows);
    order.dedup();
    let leader = sim.leader();
    assert_eq!(
        order.len(),
        3,
        "each unit upgraded in one stretch: {order:?}"
    );
    assert_eq!(order.last(), Some(&leader), "{order:?}");
}

#[test]
fn the_upgrade_goes_on_when_leadership_moves_midway() {
    let mut sim = Sim::new(8, binaries!());
    sim.deploy_old(3);
    sim.set_pause("none");
    sim.settle();
    sim.pre_upgrade_check();
    let old_leader = sim.leader();
    let order: Vec<String> = sim
        .unit_names()
        .into_iter()
        .rev()
        .filter(|u| *u != old_leader)
        .collect();
    let (first, second) = (order[0].clone(), order[1].clone());
    let new = sim.new_charm();
    sim.engine.refresh(APP, Source::Path(new)).expect("refresh");
    // Run until the first unit has completed, then hand leadership to the second.
    let mut steps = 0;
    while sim.upgrade_state(&first).as_deref() != Some("completed") {
        assert!(sim.step(), "the first unit never completed");
        steps += 1;
        assert!(steps < 1_000, "the first unit never completed");
    }
    sim.engine
        .move_leader(APP, &second)
        .expect("move leadership");
    sim.settle();

    assert_eq!(sim.leader(), second);
    assert_eq!(
        sim.app_revision_and_version(),
        (183, NEW_VERSION.to_owned())
    );
    for (unit, report) in sim.units() {
        assert_eq!(
            report.workload_status.current, "active",
            "{unit}: {report:?}"
        );
        assert_eq!(report.workload_version, NEW_VERSION, "{unit}");
        assert_eq!(sim.upgrade_state(&unit).as_deref(), Some("idle"), "{unit}");
    }
    let order = sim.assert_one_at_a_time(&sim.windows());
    assert_eq!(
        order,
        [first, second, old_leader],
        "the stack's order is kept"
    );
}
