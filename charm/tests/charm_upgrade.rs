//! `MySqlUpgrade`, the charm's `UpgradeHooks`, over a mock workload: Charmed MySQL's
//! pre-upgrade check and the steps of the unit granted its upgrade, with their statuses.

use std::sync::{Arc, Mutex};

use juju_upgrade::{PeerSnapshot, UpgradeHooks};
use mockall::Sequence;
use mysql_charm::upgrade::MySqlUpgrade;
use mysql_charm::workload::{
    ClusterMember, ClusterStatus, MemberRole, MemberState, MockWorkload, WorkloadError,
    WorkloadRevision,
};

mod support;
use support::versions;

fn member(unit: &str, state: MemberState, role: Option<MemberRole>) -> ClusterMember {
    ClusterMember {
        unit: unit.into(),
        state,
        role,
        address: None,
        version: Some("8.0.33".into()),
    }
}

/// mysql/0..3, all ONLINE, `primary` the primary.
fn healthy(primary: &str) -> ClusterStatus {
    ClusterStatus::from_members((0..3).map(|n| {
        let unit = format!("mysql/{n}");
        let role = if unit == primary {
            MemberRole::Primary
        } else {
            MemberRole::Secondary
        };
        member(&unit, MemberState::Online, Some(role))
    }))
}

/// The view of `unit` in a 3-unit app with the stack `stack` (bottom first).
fn view(unit: u32, leader: bool, stack: &str) -> PeerSnapshot {
    let mut view = PeerSnapshot::new("mysql", unit, leader);
    view.units.extend([0, 1, 2]);
    view.app_bag.insert("upgrade-stack".into(), stack.into());
    view
}

fn start_failed() -> WorkloadError {
    WorkloadError::StartFailed {
        unit: "mysql/2".into(),
        reason: "mysqld aborted".into(),
        failure: None,
    }
}

/// Runs `upgrade_unit`, returning its result and the progress messages in order.
fn upgrade(
    workload: &MockWorkload,
    planned: usize,
    view: &PeerSnapshot,
) -> (Result<(), juju_upgrade::UpgradeFailed>, Vec<String>) {
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(workload, &versions, view.unit_name(view.unit), planned);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let result = hooks.upgrade_unit(view, &mut |message: &str| {
        recorder.lock().unwrap().push(message.to_owned());
    });
    let messages = seen.lock().unwrap().clone();
    (result, messages)
}

#[test]
fn pre_upgrade_check_makes_the_leader_primary_and_sets_slow_shutdown_everywhere() {
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(healthy("mysql/2")));
    workload
        .expect_switch_primary()
        .withf(|unit| unit == "mysql/0")
        .times(1)
        .returning(|_| Ok(()));
    let slow = Arc::new(Mutex::new(Vec::new()));
    let record = slow.clone();
    workload
        .expect_set_slow_shutdown()
        .times(3)
        .returning(move |unit| {
            record.lock().unwrap().push(unit.to_owned());
            Ok(())
        });
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    assert_eq!(hooks.pre_upgrade_check(&view(0, true, "")), Ok(()));
    assert_eq!(*slow.lock().unwrap(), ["mysql/0", "mysql/1", "mysql/2"]);
}

#[test]
fn pre_upgrade_check_does_not_switch_when_the_leader_already_is_primary() {
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(healthy("mysql/0")));
    workload.expect_switch_primary().never();
    workload
        .expect_set_slow_shutdown()
        .times(3)
        .returning(|_| Ok(()));
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    assert_eq!(hooks.pre_upgrade_check(&view(0, true, "")), Ok(()));
}

#[test]
fn pre_upgrade_check_fails_when_a_planned_unit_is_not_online() {
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(|| {
        let mut status = healthy("mysql/0");
        if let Some(m) = status.members.get_mut("mysql/1") {
            m.state = MemberState::Recovering;
        }
        Ok(status)
    });
    workload.expect_switch_primary().never();
    workload.expect_set_slow_shutdown().never();
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    let err = hooks
        .pre_upgrade_check(&view(0, true, ""))
        .expect_err("one member is recovering");
    assert_eq!(err.message, "Pre-upgrade check failed. Cannot upgrade.");
    assert_eq!(err.cause, "Not all units are online");
    assert_eq!(err.resolution, "Ensure all units are online in the cluster");
}

#[test]
fn pre_upgrade_check_counts_planned_units_not_members() {
    // A fourth unit is planned but not in the cluster yet: 3 online members are not enough.
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(healthy("mysql/0")));
    workload.expect_switch_primary().never();
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 4);
    let err = hooks.pre_upgrade_check(&view(0, true, "")).unwrap_err();
    assert_eq!(err.cause, "Not all units are online");
}

#[test]
fn pre_upgrade_check_waits_for_every_planned_unit_to_join_the_upgrade_relation() {
    // Every member is ONLINE, but Juju has not told the leader of mysql/2 yet: a stack built
    // now would leave it out, and it would refresh unprepared.
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(healthy("mysql/0")));
    workload.expect_switch_primary().never();
    workload.expect_set_slow_shutdown().never();
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    let mut partial = PeerSnapshot::new("mysql", 0, true);
    partial.units.extend([0, 1]);
    let err = hooks.pre_upgrade_check(&partial).unwrap_err();
    assert_eq!(err.message, "Pre-upgrade check failed. Cannot upgrade.");
    assert_eq!(err.cause, "Not all units have joined the upgrade relation");
    // Once it has joined, the same check passes.
    workload.checkpoint();
    workload
        .expect_cluster_status()
        .returning(|| Ok(healthy("mysql/0")));
    workload
        .expect_set_slow_shutdown()
        .times(3)
        .returning(|_| Ok(()));
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    assert_eq!(hooks.pre_upgrade_check(&view(0, true, "")), Ok(()));
}

#[test]
fn pre_upgrade_check_fails_when_the_server_does_not_answer() {
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(|| {
        Err(WorkloadError::ServerUnavailable {
            unit: "mysql/0".into(),
            reason: "mysqld is not running".into(),
            failure: None,
        })
    });
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    let err = hooks.pre_upgrade_check(&view(0, true, "")).unwrap_err();
    assert_eq!(err.message, "Pre-upgrade check failed. Cannot upgrade.");
    assert_eq!(err.cause, "Failed to retrieve cluster status");
    assert_eq!(
        err.resolution,
        "Ensure that mysqld is running for this unit"
    );
}

#[test]
fn pre_upgrade_check_reports_a_failed_switchover() {
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(healthy("mysql/1")));
    workload.expect_switch_primary().returning(|unit| {
        Err(WorkloadError::SwitchoverFailed {
            unit: unit.into(),
            reason: "timeout".into(),
            failure: None,
        })
    });
    workload.expect_set_slow_shutdown().never();
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    let err = hooks.pre_upgrade_check(&view(0, true, "")).unwrap_err();
    assert_eq!(err.cause, "Failed to set primary");
}

/// A workload whose every step succeeds, in any order; tests override one step.
fn routine() -> MockWorkload {
    let mut workload = MockWorkload::new();
    workload.expect_installed_revision().returning(|| Ok(None));
    workload.expect_stop().returning(|| Ok(()));
    workload.expect_claim_installation().returning(|| Ok(()));
    workload.expect_install().returning(|_| Ok(()));
    workload.expect_check_upgradable().never();
    workload.expect_pause_log_rotation().returning(|| Ok(()));
    workload.expect_resume_log_rotation().returning(|| Ok(()));
    workload
}

#[test]
fn a_unit_upgrades_with_charmed_mysqls_steps_and_statuses() {
    let mut workload = MockWorkload::new();
    let mut seq = Sequence::new();
    workload.expect_installed_revision().returning(|| Ok(None));
    macro_rules! step {
        ($expect:ident, $ret:expr) => {
            workload
                .$expect()
                .times(1)
                .in_sequence(&mut seq)
                .returning($ret);
        };
    }
    step!(expect_stop, || Ok(()));
    step!(expect_claim_installation, || Ok(()));
    workload
        .expect_install()
        .withf(|target| *target == WorkloadRevision::new("8.0.34", "69"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    step!(expect_pause_log_rotation, || Ok(()));
    step!(expect_start, || Ok(()));
    step!(expect_install_plugins, || Ok(()));
    step!(expect_resume_log_rotation, || Ok(()));
    workload
        .expect_recover_after_restart()
        .withf(|planned, retry| {
            *planned == 3 && retry.attempts == 30 && retry.interval.as_secs() == 15
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    // Charmed MySQL runs no upgrade checker ("check if upgrade is possible").
    workload.expect_check_upgradable().never();
    let (result, messages) = upgrade(&workload, 3, &view(2, false, "[0, 1, 2]"));
    assert_eq!(result, Ok(()));
    assert_eq!(
        messages,
        [
            "stopping services..",
            "upgrading snap...",
            "starting services...",
            "recovering unit after upgrade",
        ]
    );
}

#[test]
fn a_single_unit_recovers_with_its_planned_count() {
    let mut workload = routine();
    workload.expect_start().returning(|| Ok(()));
    workload.expect_install_plugins().returning(|| Ok(()));
    workload
        .expect_reboot_from_complete_outage()
        .times(1)
        .returning(|| Ok(()));
    workload
        .expect_recover_after_restart()
        .withf(|planned, _| *planned == 1)
        .times(1)
        .returning(|_, _| Ok(()));
    let mut single = PeerSnapshot::new("mysql", 0, true);
    single.app_bag.insert("upgrade-stack".into(), "[0]".into());
    let (result, _) = upgrade(&workload, 1, &single);
    assert_eq!(result, Ok(()));
}

#[test]
fn log_rotation_is_started_again_when_mysqld_does_not_start() {
    let mut workload = MockWorkload::new();
    workload.expect_installed_revision().returning(|| Ok(None));
    workload.expect_stop().returning(|| Ok(()));
    workload.expect_claim_installation().returning(|| Ok(()));
    workload.expect_install().returning(|_| Ok(()));
    workload
        .expect_pause_log_rotation()
        .times(1)
        .returning(|| Ok(()));
    workload.expect_start().returning(|| Err(start_failed()));
    workload.expect_downgrade_refused().returning(|| Ok(false));
    workload.expect_install_plugins().never();
    workload
        .expect_resume_log_rotation()
        .times(1)
        .returning(|| Ok(()));
    workload.expect_recover_after_restart().never();
    let (result, messages) = upgrade(&workload, 3, &view(2, false, "[0, 1, 2]"));
    let cause = result.expect_err("mysqld did not start").cause;
    assert!(
        cause.starts_with("Failed to start MySQL server after snap refresh"),
        "{cause}"
    );
    assert_eq!(
        messages.last().map(String::as_str),
        Some("starting services...")
    );
}

#[test]
fn a_plugin_that_does_not_install_fails_the_unit() {
    let mut workload = routine();
    workload.expect_start().returning(|| Ok(()));
    workload.expect_install_plugins().returning(|| {
        Err(WorkloadError::Precondition {
            operation: "INSTALL PLUGIN audit_log".into(),
            reason: "denied".into(),
        })
    });
    workload.expect_recover_after_restart().never();
    let (result, _) = upgrade(&workload, 3, &view(2, false, "[0, 1, 2]"));
    let cause = result.expect_err("plugin").cause;
    assert!(
        cause.starts_with("Failed to install MySQL plugins"),
        "{cause}"
    );
}

#[test]
fn a_refused_downgrade_with_other_members_resets_and_rejoins() {
    let mut workload = routine();
    let mut seq = Sequence::new();
    workload
        .expect_start()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Err(start_failed()));
    workload
        .expect_downgrade_refused()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(true));
    workload
        .expect_reset_and_rejoin()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    workload
        .expect_recover_after_restart()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let (result, messages) = upgrade(&workload, 3, &view(2, false, "[0, 1, 2]"));
    assert_eq!(result, Ok(()));
    assert_eq!(
        messages.last().map(String::as_str),
        Some("recovering unit after upgrade")
    );
}

#[test]
fn a_refused_downgrade_of_a_single_unit_needs_a_restore_from_backup() {
    let mut workload = routine();
    workload.expect_start().returning(|| Err(start_failed()));
    workload.expect_downgrade_refused().returning(|| Ok(true));
    workload.expect_reset_and_rejoin().never();
    let mut single = PeerSnapshot::new("mysql", 0, true);
    single.app_bag.insert("upgrade-stack".into(), "[0]".into());
    let (result, _) = upgrade(&workload, 1, &single);
    assert_eq!(
        result.expect_err("no donor").cause,
        "Downgrade is incompatible. Restore from backup is required."
    );
}

#[test]
fn a_single_unit_reboots_its_cluster_from_the_complete_outage_before_waiting() {
    let mut workload = routine();
    let mut order = Sequence::new();
    workload
        .expect_start()
        .times(1)
        .in_sequence(&mut order)
        .returning(|| Ok(()));
    workload
        .expect_install_plugins()
        .times(1)
        .in_sequence(&mut order)
        .returning(|| Ok(()));
    workload
        .expect_reboot_from_complete_outage()
        .times(1)
        .in_sequence(&mut order)
        .returning(|| Ok(()));
    workload
        .expect_recover_after_restart()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    let mut single = PeerSnapshot::new("mysql", 0, true);
    single.app_bag.insert("upgrade-stack".into(), "[0]".into());
    let (result, messages) = upgrade(&workload, 1, &single);
    result.expect("upgraded");
    assert_eq!(
        messages.last().map(String::as_str),
        Some("recovering unit after upgrade")
    );
}

#[test]
fn a_failed_reboot_from_complete_outage_fails_the_single_unit() {
    let mut workload = routine();
    workload.expect_start().returning(|| Ok(()));
    workload.expect_install_plugins().returning(|| Ok(()));
    workload.expect_reboot_from_complete_outage().returning(|| {
        Err(WorkloadError::ServerUnavailable {
            unit: "mysql/0".into(),
            reason: "mysqld is not running".into(),
            failure: None,
        })
    });
    workload.expect_recover_after_restart().never();
    let mut single = PeerSnapshot::new("mysql", 0, true);
    single.app_bag.insert("upgrade-stack".into(), "[0]".into());
    let (result, _) = upgrade(&workload, 1, &single);
    let cause = result.expect_err("not rebooted").cause;
    assert!(
        cause.starts_with("Failed to reboot the cluster from complete outage"),
        "{cause}"
    );
}

#[test]
fn a_unit_that_does_not_rejoin_fails() {
    let mut workload = routine();
    workload.expect_start().returning(|| Ok(()));
    workload.expect_install_plugins().returning(|| Ok(()));
    workload.expect_recover_after_restart().returning(|_, _| {
        Err(WorkloadError::NotBackOnline {
            unit: "mysql/1".into(),
            attempts: 30,
            last_seen: "OFFLINE".into(),
        })
    });
    let (result, _) = upgrade(&workload, 3, &view(1, false, "[0, 1]"));
    let cause = result.expect_err("not back online").cause;
    assert!(cause.starts_with("Upgraded unit is not healthy"), "{cause}");
}

#[test]
fn the_published_version_is_the_running_servers() {
    let mut workload = MockWorkload::new();
    workload
        .expect_running_version()
        .returning(|| Ok(Some("8.0.34-0ubuntu0.22.04.1".to_owned())));
    let versions = versions();
    let mut hooks = MySqlUpgrade::new(&workload, &versions, "mysql/0", 3);
    assert_eq!(
        hooks.workload_version(&view(0, true, "")),
        Some("8.0.34-0ubuntu0.22.04.1".to_owned())
    );
    assert_eq!(hooks.dependency_model(), versions.dependencies());
}
