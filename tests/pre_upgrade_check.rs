//! `pre-upgrade-check` through juju-sim with the real charm: refused on a non-leader and on
//! an unhealthy cluster, with Charmed MySQL's messages, and nothing prepared when refused.

use e2e::{binaries, Sim, APP, NEW_VERSION, OLD_VERSION};
use juju_sim::engine::Source;
use juju_sim::model::TaskStatus;
use mysql_charm::workload::Workload;
use mysql_test_workloads::{EmulatedWorkload, FaultKind, FaultRule};

const CHECK_FAILED: &str = "Pre-upgrade check failed. Cannot upgrade.";

#[test]
fn on_a_non_leader_it_fails_with_v0s_message_and_prepares_nothing() {
    let mut sim = Sim::new(1, binaries!());
    sim.deploy_old(3);
    let leader = sim.leader();
    let other = sim
        .unit_names()
        .into_iter()
        .find(|u| *u != leader)
        .expect("a non-leader");
    let task = sim.run_action(&other, "pre-upgrade-check");
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(
        task.message.as_deref(),
        Some("Action must be ran on the Juju leader.")
    );
    assert_eq!(sim.upgrade_stack(), None);
    for unit in sim.unit_names() {
        assert_eq!(sim.unit_status(&unit).0, "active", "{unit}");
    }
}

#[test]
fn with_a_member_offline_it_fails_and_the_log_says_not_all_units_are_online() {
    let mut sim = Sim::new(2, binaries!());
    sim.deploy_old(3);
    let leader = sim.leader();
    let crashed = sim
        .unit_names()
        .into_iter()
        .find(|u| *u != leader)
        .expect("a non-leader");
    // mysqld of one member stops behind the charm's back.
    let machine = sim.engine.machine_dir(&crashed).expect("machine");
    EmulatedWorkload::new(crashed.as_str(), machine, sim.model_dir())
        .stop()
        .expect("stop mysqld");
    let primary_before = sim.primary();

    let task = sim.run_action(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.message.as_deref(), Some(CHECK_FAILED));
    let causes = sim.log_lines(&leader, "Not all units are online");
    assert!(!causes.is_empty(), "{}", sim.debug_log());
    assert!(causes[0].contains("Ensure all units are online in the cluster"));
    // The log names the unit that is down, not the healthy ones.
    let counted = sim.log_lines(&leader, "planned units are ONLINE");
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert!(
        counted[0].ends_with(&format!(
            "2 of 3 planned units are ONLINE; not ONLINE: {crashed}"
        )),
        "{counted:?}"
    );
    assert_eq!(sim.upgrade_stack(), None, "no stack without a passed check");
    assert_eq!(sim.primary(), primary_before, "nothing was switched");

    // A refresh without a passed check changes nothing: v0 logs why on every unit.
    let new = sim.new_charm();
    sim.refresh(Source::Path(new));
    for unit in sim.unit_names() {
        assert!(
            !sim.log_lines(
                &unit,
                "Cluster upgrade failed, ensure pre-upgrade checks are ran first."
            )
            .is_empty(),
            "{unit}"
        );
        let installed = sim
            .server(&unit)
            .and_then(|s| s.installed)
            .map(|r| r.version);
        assert_eq!(installed.as_deref(), Some(OLD_VERSION), "{unit}");
    }
    assert!(sim.windows().is_empty());
    let _ = NEW_VERSION;
}

#[test]
fn when_the_leaders_server_does_not_answer_it_fails_to_retrieve_the_cluster_status() {
    let mut sim = Sim::new(3, binaries!());
    sim.deploy_old(3);
    let leader = sim.leader();
    sim.arm([FaultRule::new(FaultKind::StatusUnavailable).for_unit(leader.as_str())]);
    let task = sim.run_action(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.message.as_deref(), Some(CHECK_FAILED));
    assert!(!sim
        .log_lines(&leader, "Failed to retrieve cluster status")
        .is_empty());
    assert_eq!(sim.upgrade_stack(), None);

    // Once the server answers again, the check passes and the leader becomes primary.
    sim.arm([]);
    let task = sim.pre_upgrade_check();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(sim.primary().as_deref(), Some(leader.as_str()));
    for (unit, server) in sim.servers() {
        assert!(server.slow_shutdown, "{unit} gets a slow shutdown");
    }
}

#[test]
fn get_cluster_status_shows_every_member_online() {
    let mut sim = Sim::new(4, binaries!());
    sim.deploy_old(3);
    let task = sim.run_action(&format!("{APP}/0"), "get-cluster-status");
    assert_eq!(task.status, TaskStatus::Completed);
    // Charmed MySQL's shape: `success` and the lower-cased `cluster.status()`.
    assert_eq!(
        task.results.get("success").and_then(|s| s.as_str()),
        Some("True")
    );
    let set = &task.results["status"]["defaultreplicaset"];
    let members = set["topology"].as_object().cloned().unwrap_or_default();
    assert_eq!(members.len(), 3, "{:?}", task.results);
    for member in members.values() {
        assert_eq!(
            member.get("status").and_then(|s| s.as_str()),
            Some("online")
        );
        assert_eq!(
            member.get("version").and_then(|s| s.as_str()),
            Some(OLD_VERSION)
        );
    }
    let primary = sim.primary().expect("a primary").replace('/', "-");
    assert_eq!(
        members[&primary].get("memberrole").and_then(|r| r.as_str()),
        Some("primary"),
        "{:?}",
        task.results
    );
}
