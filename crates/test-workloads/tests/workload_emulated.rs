//! The emulated MySQL cluster: three units in a temporary model directory, driven through
//! the `Workload` trait exactly as the charm drives it during an upgrade or rollback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mysql_charm::workload::{
    MemberRole, MemberState, RetryPolicy, Workload, WorkloadError, WorkloadRevision,
};
use mysql_test_workloads::{EmulatedWorkload, FaultKind, FaultPlan, FaultRule};

const OLD: &str = "8.0.34";
const NEW: &str = "8.0.35";

fn old() -> WorkloadRevision {
    WorkloadRevision::new(OLD, "182")
}

fn new() -> WorkloadRevision {
    WorkloadRevision::new(NEW, "183")
}

const PATIENT: RetryPolicy = RetryPolicy {
    attempts: 5,
    interval: Duration::from_secs(10),
};

struct Model {
    dir: tempfile::TempDir,
    units: u32,
}

impl Model {
    /// A model whose units `mysql/0..count` run `OLD`, all ONLINE, `mysql/0` primary.
    fn deployed(count: u32) -> Self {
        let model = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            units: count,
        };
        for n in 0..count {
            let unit = model.unit(n);
            unit.install(&old()).expect("install");
            unit.start().expect("start");
            unit.wait_until_online(PATIENT).expect("online");
        }
        model
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn machine_dir(&self, n: u32) -> PathBuf {
        self.path().join("machines").join(n.to_string())
    }

    fn unit(&self, n: u32) -> EmulatedWorkload {
        EmulatedWorkload::new(format!("mysql/{n}"), self.machine_dir(n), self.path())
    }

    fn arm(&self, rules: impl IntoIterator<Item = FaultRule>) {
        FaultPlan {
            faults: rules.into_iter().collect(),
        }
        .save(self.path())
        .expect("save faults");
    }

    fn state_of(&self, n: u32, seen_from: u32) -> MemberState {
        self.unit(seen_from)
            .cluster_status()
            .expect("status")
            .member(&format!("mysql/{n}"))
            .expect("member")
            .state
            .clone()
    }

    /// Charmed MySQL's granted-unit steps, up to the first failure (a single unit reboots
    /// its cluster from the complete outage before waiting).
    fn upgrade(&self, n: u32, to: &WorkloadRevision) -> Result<(), WorkloadError> {
        let unit = self.unit(n);
        unit.stop()?;
        unit.install(to)?;
        unit.start()?;
        if self.units == 1 {
            unit.reboot_from_complete_outage()?;
        }
        unit.wait_until_online(PATIENT)
    }
}

fn installed_version(unit: &EmulatedWorkload) -> String {
    unit.installed_revision()
        .expect("read")
        .expect("installed")
        .version
}

#[test]
fn every_unit_sees_the_same_cluster() {
    let model = Model::deployed(3);
    for n in 0..3 {
        let status = model.unit(n).cluster_status().expect("status");
        assert_eq!(status.online_units(), vec!["mysql/0", "mysql/1", "mysql/2"]);
        assert_eq!(status.primary(), Some("mysql/0"));
        for other in ["mysql/1", "mysql/2"] {
            assert_eq!(
                status.member(other).and_then(|m| m.role),
                Some(MemberRole::Secondary)
            );
        }
        assert_eq!(
            status.member("mysql/2").and_then(|m| m.version.as_deref()),
            Some(OLD)
        );
    }
}

#[test]
fn a_switchover_is_seen_by_every_unit() {
    let model = Model::deployed(3);
    model.unit(1).switch_primary("mysql/2").expect("switchover");
    for n in 0..3 {
        let unit = model.unit(n);
        assert_eq!(unit.primary().expect("primary").as_deref(), Some("mysql/2"));
        let status = unit.cluster_status().expect("status");
        assert_eq!(
            status.member("mysql/0").and_then(|m| m.role),
            Some(MemberRole::Secondary)
        );
    }

    model.unit(1).stop().expect("stop");
    match model.unit(0).switch_primary("mysql/1") {
        Err(WorkloadError::SwitchoverFailed { unit, reason, .. }) => {
            assert_eq!(unit, "mysql/1");
            assert!(reason.contains("OFFLINE"), "{reason}");
        }
        other => panic!("switching to a stopped member: {other:?}"),
    }
    assert!(matches!(
        model.unit(0).switch_primary("mysql/9"),
        Err(WorkloadError::UnknownUnit { .. })
    ));
    assert_eq!(
        model.unit(2).primary().expect("primary").as_deref(),
        Some("mysql/2")
    );
}

#[test]
fn upgrade_happy_path_in_charmed_mysql_order() {
    let model = Model::deployed(3);
    // Pre-upgrade check: the leader (mysql/0) is primary; slow shutdown everywhere.
    assert_eq!(
        model.unit(0).primary().expect("primary").as_deref(),
        Some("mysql/0")
    );
    for n in 0..3 {
        model
            .unit(0)
            .set_slow_shutdown(&format!("mysql/{n}"))
            .expect("slow shutdown");
    }
    for n in 0..3 {
        let state = model.unit(n).unit_state().expect("read").expect("state");
        assert!(state.slow_shutdown);
    }

    // The stack pops the highest unit first; the leader goes last.
    for n in [2, 1, 0] {
        let unit = model.unit(n);
        unit.stop().expect("stop");
        if n == 2 {
            assert_eq!(model.state_of(2, 0), MemberState::Offline);
        }
        unit.install(&new()).expect("install");
        if n == 2 {
            unit.check_upgradable("mysql/0")
                .expect("checker against the leader");
        }
        unit.start().expect("start");
        unit.wait_until_online(PATIENT).expect("back online");
        assert_eq!(installed_version(&unit), NEW);
        assert!(!unit.downgrade_refused().expect("log"));
        let state = unit.unit_state().expect("read").expect("state");
        assert!(
            !state.slow_shutdown,
            "the setting does not survive a restart"
        );
        assert_eq!(state.data_format_version.as_deref(), Some(NEW));
        assert!(
            state.error_log.iter().any(|l| l.contains("slow shutdown")),
            "{:?}",
            state.error_log
        );
    }

    let status = model.unit(0).cluster_status().expect("status");
    assert_eq!(status.online_units().len(), 3);
    assert!(status
        .members
        .values()
        .all(|m| m.version.as_deref() == Some(NEW)));
    // When the leader stopped, the remaining members elected the lowest-numbered one.
    assert_eq!(status.primary(), Some("mysql/1"));
}

#[test]
fn a_stopping_primary_hands_over_to_the_lowest_version() {
    let model = Model::deployed(3);
    // mysql/0 (the primary) upgrades: mysql/1 is elected, mysql/0 comes back a secondary.
    model.upgrade(0, &new()).expect("mysql/0 upgraded");
    assert_eq!(
        model.unit(0).primary().expect("primary").as_deref(),
        Some("mysql/1")
    );
    model.unit(1).stop().expect("stop primary");
    // mysql/2 still runs OLD: Group Replication prefers it over the lower-numbered mysql/0.
    assert_eq!(
        model.unit(0).primary().expect("primary").as_deref(),
        Some("mysql/2")
    );
}

#[test]
fn only_a_member_of_the_lowest_version_can_be_made_primary() {
    let model = Model::deployed(3);
    model.upgrade(2, &new()).expect("mysql/2 upgraded");
    match model.unit(0).switch_primary("mysql/2") {
        Err(WorkloadError::SwitchoverFailed { unit, reason, .. }) => {
            assert_eq!(unit, "mysql/2");
            assert!(reason.contains(NEW) && reason.contains(OLD), "{reason}");
        }
        other => panic!("a newer member cannot become primary: {other:?}"),
    }
    assert_eq!(
        model.unit(1).primary().expect("primary").as_deref(),
        Some("mysql/0")
    );
    model
        .unit(0)
        .switch_primary("mysql/1")
        .expect("a member of the lowest version can");
    assert_eq!(
        model.unit(2).primary().expect("primary").as_deref(),
        Some("mysql/1")
    );
}

#[test]
fn a_server_older_than_the_group_cannot_join_it() {
    let model = Model::deployed(3);
    for n in [2, 1, 0] {
        model.upgrade(n, &new()).expect("upgraded");
    }
    // A fourth unit installs the old version: its server starts, its member stays OFFLINE.
    let late = model.unit(3);
    late.install(&old()).expect("install");
    late.start().expect("mysqld starts");
    assert!(matches!(
        late.wait_until_online(PATIENT),
        Err(WorkloadError::NotBackOnline { last_seen, .. }) if last_seen == "OFFLINE"
    ));
    let state = late.unit_state().expect("read").expect("state");
    assert!(
        state
            .error_log
            .iter()
            .any(|l| l.contains("cannot join") && l.contains(OLD) && l.contains(NEW)),
        "{:?}",
        state.error_log
    );
    assert_eq!(model.state_of(3, 0), MemberState::Offline);

    // The same version joins.
    late.stop().expect("stop");
    late.install(&new()).expect("install new");
    late.start().expect("start");
    late.wait_until_online(PATIENT).expect("joins");
}

#[test]
fn a_lone_member_stays_offline_until_the_cluster_is_rebooted_from_complete_outage() {
    let model = Model::deployed(1);
    let unit = model.unit(0);
    unit.stop().expect("stop");
    unit.start().expect("mysqld starts");
    let state = unit.unit_state().expect("read").expect("state");
    assert_eq!(state.member_state, MemberState::Offline);
    assert_eq!(state.role, None);
    assert!(matches!(
        unit.cluster_status(),
        Err(WorkloadError::ServerUnavailable { .. })
    ));
    assert!(matches!(
        unit.wait_until_online(PATIENT),
        Err(WorkloadError::NotBackOnline { .. })
    ));

    unit.reboot_from_complete_outage().expect("reboot");
    unit.wait_until_online(PATIENT).expect("online again");
    assert_eq!(unit.primary().expect("primary").as_deref(), Some("mysql/0"));
    unit.reboot_from_complete_outage()
        .expect("a no-op on an ONLINE member");

    // Stopped, it cannot reboot anything.
    unit.stop().expect("stop");
    assert!(matches!(
        unit.reboot_from_complete_outage(),
        Err(WorkloadError::ServerUnavailable { .. })
    ));
}

#[test]
fn a_reboot_from_complete_outage_is_refused_while_the_group_is_up() {
    let model = Model::deployed(3);
    // NoRejoin keeps mysql/2 out of the group, with the others ONLINE.
    model.arm([FaultRule::new(FaultKind::NoRejoin).for_unit("mysql/2")]);
    let unit = model.unit(2);
    unit.stop().expect("stop");
    unit.start().expect("start");
    match unit.reboot_from_complete_outage() {
        Err(WorkloadError::Precondition { reason, .. }) => {
            assert!(
                reason.contains("mysql/0") && reason.contains("mysql/1"),
                "{reason}"
            )
        }
        other => panic!("the group is up: {other:?}"),
    }
    assert_eq!(
        model.unit(0).primary().expect("primary").as_deref(),
        Some("mysql/0")
    );
}

#[test]
fn a_joining_member_recovers_at_the_first_check() {
    let model = Model::deployed(3);
    model.unit(1).stop().expect("stop");
    model.unit(1).start().expect("start");
    assert_eq!(model.state_of(1, 0), MemberState::Recovering);
    let once = RetryPolicy {
        attempts: 1,
        interval: Duration::from_secs(10),
    };
    match model.unit(1).wait_until_online(once) {
        Err(WorkloadError::NotBackOnline { last_seen, .. }) => assert_eq!(last_seen, "RECOVERING"),
        other => panic!("one check cannot see the end of recovery: {other:?}"),
    }
    model.unit(1).wait_until_online(once).expect("recovered");
    assert_eq!(model.state_of(1, 2), MemberState::Online);
}

#[test]
fn armed_start_failure_written_by_hand_then_rollback_recovers() {
    let model = Model::deployed(3);
    // The documented path and schema, written as a test or juju-sim would.
    std::fs::write(
        model.path().join("mysql-faults.json"),
        r#"{"faults": [{"kind": "start-fails", "version": "8.0.35"}]}"#,
    )
    .expect("write faults");

    match model.upgrade(2, &new()) {
        Err(WorkloadError::StartFailed { unit, .. }) => assert_eq!(unit, "mysql/2"),
        other => panic!("start must fail: {other:?}"),
    }
    let unit = model.unit(2);
    assert!(!unit.downgrade_refused().expect("log"), "not a downgrade");
    assert!(matches!(
        unit.cluster_status(),
        Err(WorkloadError::ServerUnavailable { .. })
    ));
    assert_eq!(model.state_of(2, 0), MemberState::Offline);
    assert_eq!(
        model
            .unit(0)
            .cluster_status()
            .expect("status")
            .online_units()
            .len(),
        2
    );

    // Rollback: the fault is for NEW only.
    model.upgrade(2, &old()).expect("rolled back");
    assert_eq!(installed_version(&model.unit(2)), OLD);
    assert_eq!(model.state_of(2, 1), MemberState::Online);
}

#[test]
fn armed_no_rejoin_exhausts_the_wait() {
    let model = Model::deployed(3);
    model.arm([FaultRule::new(FaultKind::NoRejoin).for_unit("mysql/2")]);
    let unit = model.unit(2);
    unit.stop().expect("stop");
    unit.install(&new()).expect("install");
    unit.start().expect("mysqld itself starts");
    match unit.wait_until_online(PATIENT) {
        Err(WorkloadError::NotBackOnline {
            unit,
            attempts,
            last_seen,
        }) => {
            assert_eq!(unit, "mysql/2");
            assert_eq!(attempts, PATIENT.attempts);
            assert_eq!(last_seen, "OFFLINE");
        }
        other => panic!("member must not rejoin: {other:?}"),
    }
    assert_eq!(model.state_of(2, 0), MemberState::Offline);

    // Other units are not affected by a unit-scoped fault.
    model.upgrade(1, &new()).expect("mysql/1 upgrades");
    // Disarmed, a restart rejoins.
    model.arm([]);
    unit.stop().expect("stop");
    unit.start().expect("start");
    unit.wait_until_online(PATIENT).expect("rejoined");
}

#[test]
fn armed_upgrade_check_failure() {
    let model = Model::deployed(3);
    model.arm([FaultRule::new(FaultKind::UpgradeCheckFails).for_version(NEW)]);
    let unit = model.unit(2);
    unit.stop().expect("stop");
    unit.install(&new()).expect("install");
    match unit.check_upgradable("mysql/0") {
        Err(WorkloadError::NotUpgradable {
            from_unit, summary, ..
        }) => {
            assert_eq!(from_unit, "mysql/0");
            assert!(summary.contains(NEW), "{summary}");
        }
        other => panic!("checker must fail: {other:?}"),
    }
    // The same check from an OLD shell is not armed.
    unit.install(&old()).expect("install old");
    unit.check_upgradable("mysql/0")
        .expect("old checker passes");
    // The checker needs the other server up.
    model.unit(1).stop().expect("stop mysql/1");
    assert!(matches!(
        unit.check_upgradable("mysql/1"),
        Err(WorkloadError::ServerUnavailable { unit, .. }) if unit == "mysql/1"
    ));
}

#[test]
fn armed_status_unavailable_only_silences_its_unit() {
    let model = Model::deployed(3);
    model.arm([FaultRule::new(FaultKind::StatusUnavailable).for_unit("mysql/0")]);
    match model.unit(0).cluster_status() {
        Err(WorkloadError::ServerUnavailable { unit, reason, .. }) => {
            assert_eq!(unit, "mysql/0");
            assert!(reason.contains("armed fault"), "{reason}");
        }
        other => panic!("status must not answer: {other:?}"),
    }
    assert!(model.unit(0).primary().is_err());
    assert!(model.unit(0).switch_primary("mysql/1").is_err());
    assert_eq!(
        model.unit(1).primary().expect("primary").as_deref(),
        Some("mysql/0")
    );

    // A stopped server does not answer either, fault or not.
    model.unit(1).stop().expect("stop");
    assert!(matches!(
        model.unit(1).cluster_status(),
        Err(WorkloadError::ServerUnavailable { .. })
    ));
}

#[test]
fn refused_downgrade_then_reset_and_rejoin() {
    let model = Model::deployed(3);
    model.upgrade(2, &new()).expect("upgrade mysql/2");

    // No fault armed: MySQL 8.0.34 does not start on 8.0.35's data dictionary.
    let unit = model.unit(2);
    unit.stop().expect("stop");
    unit.install(&old()).expect("install old");
    assert!(matches!(
        unit.start(),
        Err(WorkloadError::StartFailed { .. })
    ));
    assert!(unit.downgrade_refused().expect("log"));
    let state = unit.unit_state().expect("read").expect("state");
    assert!(state
        .error_log
        .iter()
        .any(|l| l.contains("[MY-013171]") && l.contains("80034") && l.contains("80035")));

    unit.reset_and_rejoin().expect("reset");
    unit.wait_until_online(PATIENT).expect("rejoined");
    let state = unit.unit_state().expect("read").expect("state");
    assert_eq!(state.data_format_version.as_deref(), Some(OLD));
    assert!(
        !unit.downgrade_refused().expect("log"),
        "only the last start counts"
    );
    assert_eq!(
        model
            .unit(0)
            .cluster_status()
            .expect("status")
            .online_units()
            .len(),
        3
    );
}

#[test]
fn a_single_unit_cannot_reset_after_a_refused_downgrade() {
    let model = Model::deployed(1);
    model.upgrade(0, &new()).expect("upgrade");
    assert!(matches!(
        model.upgrade(0, &old()),
        Err(WorkloadError::StartFailed { .. })
    ));
    let unit = model.unit(0);
    assert!(unit.downgrade_refused().expect("log"));
    assert!(matches!(
        unit.reset_and_rejoin(),
        Err(WorkloadError::NoDonor { unit }) if unit == "mysql/0"
    ));
}

#[test]
fn a_reset_clones_only_from_a_member_of_the_same_version() {
    let model = Model::deployed(3);
    for n in [2, 1, 0] {
        model.upgrade(n, &new()).expect("upgraded");
    }
    // Every member runs NEW: going back to OLD is refused, and no member can donate.
    assert!(matches!(
        model.upgrade(2, &old()),
        Err(WorkloadError::StartFailed { .. })
    ));
    let unit = model.unit(2);
    assert!(unit.downgrade_refused().expect("log"));
    match unit.reset_and_rejoin() {
        Err(WorkloadError::Precondition { reason, .. }) => {
            assert!(reason.contains("mysql/0 8.0.35"), "{reason}")
        }
        other => panic!("no donor of {OLD}: {other:?}"),
    }
    let state = unit.unit_state().expect("read").expect("state");
    assert_eq!(
        state.data_format_version.as_deref(),
        Some(NEW),
        "the data directory is kept"
    );
}

#[test]
fn a_downgrade_to_8_0_35_or_later_starts_in_place_unless_armed() {
    let model = Model::deployed(3);
    let newer = WorkloadRevision::new("8.0.36", "184");
    model.upgrade(2, &new()).expect("to 8.0.35");
    model.upgrade(2, &newer).expect("to 8.0.36");
    model.upgrade(2, &new()).expect("back to 8.0.35, in place");
    let state = model.unit(2).unit_state().expect("read").expect("state");
    assert_eq!(state.data_format_version.as_deref(), Some(NEW));
    assert!(
        state
            .error_log
            .iter()
            .any(|l| l.contains("MY-014064") && l.contains("'80036' to '80035' completed")),
        "{:?}",
        state.error_log
    );
    assert!(!model.unit(2).downgrade_refused().expect("log"));

    // The fault refuses even what MySQL accepts.
    model.upgrade(2, &newer).expect("to 8.0.36 again");
    model.arm([FaultRule::new(FaultKind::DowngradeRefused).for_version(NEW)]);
    assert!(matches!(
        model.upgrade(2, &new()),
        Err(WorkloadError::StartFailed { .. })
    ));
    assert!(model.unit(2).downgrade_refused().expect("log"));
}

#[test]
fn a_running_server_is_not_refreshed_underneath() {
    let model = Model::deployed(3);
    assert!(matches!(
        model.unit(1).install(&new()),
        Err(WorkloadError::Precondition { .. })
    ));
    assert_eq!(installed_version(&model.unit(1)), OLD);
}

#[test]
fn a_malformed_faults_file_is_reported_not_ignored() {
    let model = Model::deployed(3);
    std::fs::write(
        model.path().join("mysql-faults.json"),
        "{\"faults\": [{\"kind\": \"explode\"}]}",
    )
    .expect("write");
    model.unit(2).stop().expect("stop");
    assert!(matches!(
        model.unit(2).start(),
        Err(WorkloadError::BadStateFile { path, .. }) if path.ends_with("mysql-faults.json")
    ));
}

#[test]
fn state_files_live_in_the_machine_dirs_named_after_their_units() {
    let model = Model::deployed(3);
    let machine = model.machine_dir(1);
    let unit = EmulatedWorkload::from_hook_env(|name| match name {
        "JUJU_UNIT_NAME" => Some("mysql/1".to_owned()),
        "JUJU_SIM_MACHINE_DIR" => Some(machine.display().to_string()),
        "JUJU_SIM_MODEL_DIR" => Some(model.path().display().to_string()),
        _ => None,
    })
    .expect("under juju-sim");
    assert_eq!(
        unit.state_path(),
        machine.join("mysql-workload-mysql-1.json")
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unit.state_path()).expect("read")).expect("json");
    assert_eq!(json["unit"], "mysql/1");
    assert_eq!(json["member_state"], "ONLINE");
    assert_eq!(json["role"], "SECONDARY");
    assert_eq!(json["installed"]["revision"], "182");
    let leftovers: Vec<_> = std::fs::read_dir(&machine)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "atomic writes leave no temp files");

    assert!(EmulatedWorkload::from_hook_env(|_| None).is_none());
}
