//! The charm's routing end to end in one process: a hook or action environment, hook
//! tools faked over one unit's world, and a mock MySQL workload.

use juju_ops::{MockHookTools, StatusName, ToolError};
use mysql_charm::context::HookContext;
use mysql_charm::dispatch::route;
use mysql_charm::workload::{
    ClusterMember, ClusterStatus, MemberRole, MemberState, MockWorkload, WorkloadError,
    WorkloadRevision,
};
use mysql_charm::CharmError;

mod support;
use support::{dispatch, run, upgrades_once, upgrades_once_alone, versions, FakeJuju, World};

/// The baseline a previous revision (8.0.33) stored in the app bag.
const DEPENDENCIES_8_0_33: &str = r#"{"charm":{"dependencies":{},"name":"mysql","upgrade_supported":">0","version":"1"},"snap":{"dependencies":{},"name":"charmed-mysql","upgrade_supported":"~8.0.31","version":"8.0.33"}}"#;

fn online(units: &[(&str, MemberRole)]) -> ClusterStatus {
    ClusterStatus::from_members(units.iter().map(|(unit, role)| ClusterMember {
        unit: (*unit).into(),
        state: MemberState::Online,
        role: Some(*role),
        address: None,
        version: Some("8.0.34".into()),
    }))
}

fn three_online() -> ClusterStatus {
    online(&[
        ("mysql/0", MemberRole::Primary),
        ("mysql/1", MemberRole::Secondary),
        ("mysql/2", MemberRole::Secondary),
    ])
}

#[test]
fn pre_upgrade_check_on_a_non_leader_fails_with_v0s_message() {
    let juju = FakeJuju::new(World::new("mysql/1", &["mysql/0", "mysql/2"], false));
    let workload = MockWorkload::new(); // must not be touched
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "actions/pre-upgrade-check"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(
        world.action_failure.as_deref(),
        Some("Action must be ran on the Juju leader.")
    );
    assert!(world.app_bag.is_empty());
}

#[test]
fn pre_upgrade_check_without_the_upgrade_relation_fails_with_v0s_message() {
    let mut world = World::new("mysql/0", &[], true);
    world.has_relation = false;
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(online(&[("mysql/0", MemberRole::Primary)])));
    run(
        &juju,
        &workload,
        &dispatch("mysql/0", "actions/pre-upgrade-check"),
    )
    .expect("handled");
    assert_eq!(
        juju.world().action_failure.as_deref(),
        Some("Could not find upgrade relation.")
    );
}

#[test]
fn pre_upgrade_check_on_a_healthy_leader_stacks_the_leader_last() {
    let mut world = World::new("mysql/0", &["mysql/1", "mysql/2"], true);
    for unit in ["mysql/0", "mysql/1", "mysql/2"] {
        world.set_state(unit, "idle");
    }
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(three_online()));
    workload
        .expect_set_slow_shutdown()
        .times(3)
        .returning(|_| Ok(()));
    run(
        &juju,
        &workload,
        &dispatch("mysql/0", "actions/pre-upgrade-check"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(world.action_failure, None);
    assert_eq!(
        world.app_bag.get("upgrade-stack").map(String::as_str),
        Some("[0, 1, 2]")
    );
    let result = world
        .action_results
        .get("result")
        .cloned()
        .unwrap_or_default();
    assert!(
        result.contains("mysql/2, mysql/1, mysql/0"),
        "the order is reported: {result}"
    );
    let last = world.last_status().expect("the leader shows its health");
    assert_eq!(
        (last.name, last.message.as_str()),
        (StatusName::Active, "Primary")
    );
}

#[test]
fn pre_upgrade_check_on_an_unhealthy_cluster_fails_and_writes_no_stack() {
    let mut world = World::new("mysql/0", &["mysql/1", "mysql/2"], true);
    for unit in ["mysql/0", "mysql/1", "mysql/2"] {
        world.set_state(unit, "idle");
    }
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(|| {
        Ok(online(&[
            ("mysql/0", MemberRole::Primary),
            ("mysql/1", MemberRole::Secondary),
        ]))
    });
    run(
        &juju,
        &workload,
        &dispatch("mysql/0", "actions/pre-upgrade-check"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(
        world.action_failure.as_deref(),
        Some("Pre-upgrade check failed. Cannot upgrade.")
    );
    assert!(world.logged("Not all units are online"));
    assert!(!world.app_bag.contains_key("upgrade-stack"));
}

/// A single idle leader with its stack prepared and 8.0.33 deployed, about to be refreshed.
fn single_unit_prepared() -> World {
    let mut world = World::new("mysql/0", &[], true);
    world.set_state("mysql/0", "idle");
    world.app_bag.insert("upgrade-stack".into(), "[0]".into());
    world
        .app_bag
        .insert("dependencies".into(), DEPENDENCIES_8_0_33.into());
    world
}

#[test]
fn a_single_unit_refresh_upgrades_at_once_and_returns_to_active_primary() {
    let world = single_unit_prepared();
    let juju = FakeJuju::new(world);
    let mut workload = upgrades_once_alone();
    workload
        .expect_cluster_status()
        .returning(|| Ok(online(&[("mysql/0", MemberRole::Primary)])));
    run(
        &juju,
        &workload,
        &dispatch("mysql/0", "hooks/upgrade-charm"),
    )
    .expect("upgraded");
    let world = juju.world();
    let messages = world.status_messages();
    let steps: Vec<&str> = [
        "upgrading...",
        "stopping services..",
        "upgrading snap...",
        "starting services...",
        "recovering unit after upgrade",
        "upgrade completed",
    ]
    .to_vec();
    let mut remaining = messages.iter();
    for step in steps {
        assert!(
            remaining.any(|m| m == step),
            "status {step:?} missing or out of order in {messages:?}"
        );
    }
    let last = world.last_status().expect("a status");
    assert_eq!(
        (last.name, last.message.as_str()),
        (StatusName::Active, "Primary")
    );
    assert_eq!(world.state_of("mysql/0"), Some("idle"));
    assert_eq!(
        world.app_bag.get("upgrade-stack").map(String::as_str),
        Some("[]")
    );
    assert!(
        world
            .app_bag
            .get("dependencies")
            .is_some_and(|d| d.contains("8.0.34")),
        "the new baseline is stored"
    );
    assert_eq!(world.workload_versions, ["8.0.34"]);
}

#[test]
fn a_failing_status_set_stops_the_hook_before_the_workload_is_touched() {
    let mut world = single_unit_prepared();
    world.status_set_fails_on = Some("upgrading...".into());
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload
        .expect_installed_revision()
        .returning(|| Ok(Some(WorkloadRevision::new("8.0.33", "68"))));
    workload.expect_stop().never();
    workload.expect_install().never();
    workload.expect_start().never();
    let err = run(
        &juju,
        &workload,
        &dispatch("mysql/0", "hooks/upgrade-charm"),
    )
    .unwrap_err();
    assert!(matches!(err, CharmError::Tool(_)), "{err}");
    let world = juju.world();
    assert_eq!(
        world.state_of("mysql/0"),
        Some("idle"),
        "no relation write is sent from a failed hook"
    );
}

#[test]
fn an_incompatible_revision_fails_the_leader_and_asks_for_a_rollback() {
    let mut world = World::new("mysql/0", &["mysql/1", "mysql/2"], true);
    for unit in ["mysql/0", "mysql/1", "mysql/2"] {
        world.set_state(unit, "idle");
    }
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1, 2]".into());
    world.app_bag.insert(
        "dependencies".into(),
        DEPENDENCIES_8_0_33.replace(
            r#""upgrade_supported":"~8.0.31","version":"8.0.33""#,
            r#""upgrade_supported":"~8.0.30","version":"8.0.30""#,
        ),
    );
    let juju = FakeJuju::new(world);
    let workload = MockWorkload::new(); // the workload is never touched
    run(
        &juju,
        &workload,
        &dispatch("mysql/0", "hooks/upgrade-charm"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(world.state_of("mysql/0"), Some("failed"));
    let last = world.last_status().expect("a status");
    assert_eq!(
        (last.name, last.message.as_str()),
        (
            StatusName::Blocked,
            "upgrade failed. Check logs for rollback instruction"
        )
    );
    assert!(world.logged("Versions incompatible"));
    assert!(world.logged("juju run mysql/leader pre-upgrade-check"));
}

#[test]
fn update_status_leaves_an_upgrade_status_alone() {
    let mut world = World::new("mysql/2", &["mysql/0", "mysql/1"], false);
    world.set_state("mysql/2", "failed");
    let juju = FakeJuju::new(world);
    let workload = MockWorkload::new();
    run(
        &juju,
        &workload,
        &dispatch("mysql/2", "hooks/update-status"),
    )
    .expect("handled");
    assert!(juju.world().statuses.is_empty());
}

#[test]
fn update_status_shows_the_health_of_an_idle_unit() {
    let mut world = World::new("mysql/1", &["mysql/0", "mysql/2"], false);
    world.set_state("mysql/1", "idle");
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(three_online()));
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "hooks/update-status"),
    )
    .expect("handled");
    let world = juju.world();
    let last = world.last_status().expect("a status");
    assert_eq!((last.name, last.message.as_str()), (StatusName::Active, ""));
}

#[test]
fn update_status_blocks_when_mysqld_is_down() {
    let juju = FakeJuju::new(World::new("mysql/1", &["mysql/0"], false));
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(|| {
        Err(WorkloadError::ServerUnavailable {
            unit: "mysql/1".into(),
            reason: "mysqld is not running".into(),
            failure: None,
        })
    });
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "hooks/update-status"),
    )
    .expect("handled");
    let world = juju.world();
    let last = world.last_status().expect("a status");
    assert_eq!(last.name, StatusName::Blocked);
    assert!(
        last.message.contains("mysqld is not running"),
        "{}",
        last.message
    );
}

#[test]
fn install_installs_the_pinned_workload_starts_it_and_publishes_its_version() {
    let juju = FakeJuju::new(World::new("mysql/0", &[], true));
    let mut workload = MockWorkload::new();
    let mut seq = mockall::Sequence::new();
    workload
        .expect_installed_revision()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(None));
    workload
        .expect_stop()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    workload
        .expect_install()
        .withf(|target| *target == WorkloadRevision::new("8.0.34", "69"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    workload
        .expect_start()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    run(&juju, &workload, &dispatch("mysql/0", "hooks/install")).expect("installed");
    let world = juju.world();
    assert_eq!(world.workload_versions, ["8.0.34"]);
    assert_eq!(world.status_messages(), ["installing charmed-mysql 8.0.34"]);
}

#[test]
fn a_workload_that_cannot_be_installed_fails_the_install_hook() {
    let juju = FakeJuju::new(World::new("mysql/0", &[], true));
    let mut workload = MockWorkload::new();
    workload.expect_installed_revision().returning(|| Ok(None));
    workload.expect_stop().returning(|| Ok(()));
    workload.expect_install().returning(|_| {
        Err(WorkloadError::Precondition {
            operation: "install".into(),
            reason: "snapd is not running".into(),
        })
    });
    let err = run(&juju, &workload, &dispatch("mysql/0", "hooks/install")).unwrap_err();
    assert!(matches!(err, CharmError::Workload(_)), "{err}");
}

#[test]
fn get_cluster_status_reports_the_primary_and_every_member() {
    let juju = FakeJuju::new(World::new("mysql/1", &["mysql/0", "mysql/2"], false));
    let mut workload = MockWorkload::new();
    workload
        .expect_cluster_status()
        .returning(|| Ok(three_online()));
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "actions/get-cluster-status"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(world.action_failure, None);
    let results = &world.action_results;
    assert_eq!(results.get("primary").map(String::as_str), Some("mysql/0"));
    assert_eq!(
        results.get("members.mysql-2.state").map(String::as_str),
        Some("ONLINE")
    );
    assert_eq!(
        results.get("members.mysql-0.role").map(String::as_str),
        Some("PRIMARY")
    );
}

#[test]
fn get_cluster_status_fails_the_action_when_mysqld_does_not_answer() {
    let juju = FakeJuju::new(World::new("mysql/1", &[], false));
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(|| {
        Err(WorkloadError::ServerUnavailable {
            unit: "mysql/1".into(),
            reason: "mysqld is not running".into(),
            failure: None,
        })
    });
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "actions/get-cluster-status"),
    )
    .expect("handled");
    let failure = juju.world().action_failure.clone().unwrap_or_default();
    assert!(
        failure.starts_with("Failed to read the cluster status"),
        "{failure}"
    );
}

#[test]
fn a_failing_hook_tool_fails_the_hook_so_juju_retries_it() {
    let mut tools = MockHookTools::new();
    tools.expect_relation_ids().returning(|_| {
        Err(ToolError::Failed {
            tool: "relation-ids".into(),
            args: vec!["upgrade".into()],
            code: Some(1),
            stderr: "ERROR connection refused".into(),
        })
    });
    let workload = MockWorkload::new();
    let versions = versions();
    let dispatch = dispatch("mysql/0", "hooks/upgrade-charm");
    let ctx = HookContext {
        dispatch: &dispatch,
        tools: &tools,
        workload: &workload,
        versions: &versions,
    };
    let err = route(&ctx).unwrap_err();
    assert!(matches!(err, CharmError::Tool(_)), "{err}");
}

#[test]
fn hooks_the_charm_does_not_use_succeed_without_touching_anything() {
    let tools = MockHookTools::new(); // any call would panic
    let workload = MockWorkload::new();
    let versions = versions();
    for path in [
        "hooks/stop",
        "hooks/remove",
        "hooks/upgrade-relation-joined",
    ] {
        let dispatch = dispatch("mysql/0", path);
        let ctx = HookContext {
            dispatch: &dispatch,
            tools: &tools,
            workload: &workload,
            versions: &versions,
        };
        assert!(route(&ctx).is_ok(), "{path}");
    }
}

#[test]
fn an_unknown_action_fails_with_its_name() {
    let juju = FakeJuju::new(World::new("mysql/0", &[], true));
    let workload = MockWorkload::new();
    run(&juju, &workload, &dispatch("mysql/0", "actions/frobnicate")).expect("handled");
    assert_eq!(
        juju.world().action_failure.as_deref(),
        Some("This charm has no action \"frobnicate\".")
    );
}

#[test]
fn when_a_unit_departs_mid_upgrade_the_leader_drops_it_from_the_stack() {
    let mut world = World::new("mysql/0", &["mysql/1"], true);
    world.set_state("mysql/0", "ready");
    world.set_state("mysql/1", "ready");
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1, 2]".into());
    let juju = FakeJuju::new(world);
    let workload = MockWorkload::new(); // mysql/1 is next, not the leader: nothing to touch
    let departed = dispatch("mysql/0", "hooks/upgrade-relation-departed");
    run(&juju, &workload, &departed).expect("handled");
    let world = juju.world();
    let stack = world
        .app_bag
        .get("upgrade-stack")
        .cloned()
        .unwrap_or_default();
    assert_eq!(stack, "[0, 1]", "mysql/2 left the stack");
}

/// Twelve units mid-upgrade (round 1: unit 11 completed and left the stack, unit 10
/// upgrading, every other unit `ready` in round 1), seen from `me`.
fn twelve_units_mid_upgrade(me: u32) -> World {
    let others: Vec<String> = (0..12)
        .filter(|&unit| unit != me)
        .map(|unit| format!("mysql/{unit}"))
        .collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let mut world = World::new(&format!("mysql/{me}"), &others, me == 0);
    let stack: Vec<u32> = (0..11).collect();
    world
        .app_bag
        .insert("upgrade-stack".into(), format!("{stack:?}"));
    world.app_bag.insert("upgrade-round".into(), "1".into());
    world
        .app_bag
        .insert("dependencies".into(), DEPENDENCIES_8_0_33.into());
    for unit in 0..12 {
        let name = format!("mysql/{unit}");
        let state = match unit {
            11 => "completed",
            10 => "upgrading",
            _ => "ready",
        };
        world.set_state(&name, state);
        world
            .unit_bags
            .entry(name)
            .or_default()
            .insert("upgrade-round".into(), "1".into());
    }
    world
}

#[test]
fn a_unit_waiting_its_turn_reads_its_own_bag_only_however_many_units() {
    let juju = FakeJuju::new(twelve_units_mid_upgrade(3));
    let workload = MockWorkload::new();
    run(
        &juju,
        &workload,
        &dispatch("mysql/3", "hooks/upgrade-relation-changed"),
    )
    .expect("waited");
    let world = juju.world();
    assert_eq!(world.unit_bags_read, ["mysql/3"]);
    assert_eq!(
        world.goal_state_reads, 0,
        "goal-state is for the unit that acts"
    );
    assert_eq!(world.state_of("mysql/3"), Some("ready"));
}

#[test]
fn the_leader_and_the_unit_on_top_read_every_unit_once() {
    for me in [0, 10] {
        let mut world = twelve_units_mid_upgrade(me);
        world.set_state("mysql/10", "ready");
        let juju = FakeJuju::new(world);
        let mut workload = MockWorkload::new();
        if me == 10 {
            workload = upgrades_once();
            workload.expect_cluster_status().returning(|| {
                Ok(online(&[
                    ("mysql/0", MemberRole::Primary),
                    ("mysql/10", MemberRole::Secondary),
                ]))
            });
        }
        run(
            &juju,
            &workload,
            &dispatch(&format!("mysql/{me}"), "hooks/upgrade-relation-changed"),
        )
        .expect("handled");
        let world = juju.world();
        let mut read = world.unit_bags_read.clone();
        read.sort();
        read.dedup();
        assert_eq!(read.len(), 12, "unit {me} read {:?}", world.unit_bags_read);
        assert_eq!(
            world.unit_bags_read.len(),
            12,
            "each bag once: {:?}",
            world.unit_bags_read
        );
        if me == 10 {
            assert_eq!(world.goal_state_reads, 1);
            assert_eq!(world.state_of("mysql/10"), Some("completed"));
        }
    }
}
