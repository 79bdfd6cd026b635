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
    // The running server's version, as Charmed MySQL publishes it.
    assert_eq!(world.workload_versions, ["8.0.34-0ubuntu0.22.04.1"]);
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
    // A set-up snap unit, an ONLINE member: nothing to set up or rejoin.
    workload.expect_needs_setup().returning(|| true);
    workload
        .expect_rejoin_if_offline()
        .times(1)
        .returning(|| Ok(false));
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
    workload.expect_needs_setup().returning(|| true);
    workload.expect_rejoin_if_offline().returning(|| Ok(false));
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
fn install_installs_the_pinned_revision_and_leaves_mysqld_to_start() {
    let juju = FakeJuju::new(World::new("mysql/0", &[], true));
    let mut workload = MockWorkload::new();
    workload.expect_needs_setup().returning(|| true);
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
    workload.expect_start().never();
    run(&juju, &workload, &dispatch("mysql/0", "hooks/install")).expect("installed");
    let world = juju.world();
    assert_eq!(
        world.status_messages(),
        ["installing charmed-mysql 8.0.34", "Waiting to start MySQL"]
    );
}

#[test]
fn install_compares_revisions_not_the_package_version_string() {
    let juju = FakeJuju::new(World::new("mysql/0", &[], true));
    let mut workload = MockWorkload::new();
    workload.expect_needs_setup().returning(|| true);
    // `snap list` shows the package's version; the pinned revision is what counts.
    workload
        .expect_installed_revision()
        .returning(|| Ok(Some(WorkloadRevision::new("8.0.34-0ubuntu0.22.04.1", "69"))));
    workload.expect_stop().never();
    workload.expect_install().never();
    run(&juju, &workload, &dispatch("mysql/0", "hooks/install")).expect("installed");
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
fn get_cluster_status_reports_mysql_shells_status_lower_cased() {
    let mut world = World::new("mysql/1", &["mysql/0", "mysql/2"], false);
    world
        .action_params
        .insert("cluster-set".into(), serde_json::Value::Bool(true));
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload
        .expect_status_report()
        .withf(|cluster_set| *cluster_set)
        .returning(|_| {
            Ok(serde_json::json!({
                "clusters": {"cluster-abc": {"clusterRole": "PRIMARY", "globalStatus": "OK"}},
                "domainName": "cluster-set-abc",
                "globalPrimaryInstance": "10.0.0.1:3306",
                "status": "HEALTHY"
            }))
        });
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "actions/get-cluster-status"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(world.action_failure, None);
    let results = &world.action_results;
    assert_eq!(results.get("success").map(String::as_str), Some("True"));
    assert_eq!(
        results
            .get("status.clusters.cluster-abc.globalstatus")
            .map(String::as_str),
        Some("ok")
    );
    assert_eq!(
        results.get("status.status").map(String::as_str),
        Some("healthy")
    );
}

#[test]
fn get_cluster_status_fails_the_action_when_mysqld_does_not_answer() {
    let juju = FakeJuju::new(World::new("mysql/1", &[], false));
    let mut workload = MockWorkload::new();
    workload.expect_status_report().returning(|_| {
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
    assert_eq!(
        failure,
        "Failed to read cluster status. See logs for more information."
    );
}

#[test]
fn get_password_reads_the_secret_and_refuses_other_users() {
    let juju = FakeJuju::new(World::new("mysql/1", &[], false));
    let workload = MockWorkload::new();
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "actions/get-password"),
    )
    .expect("handled");
    {
        let world = juju.world();
        assert_eq!(world.action_failure, None);
        assert_eq!(
            world.action_results.get("username").map(String::as_str),
            Some("root")
        );
        assert_eq!(
            world.action_results.get("password").map(String::as_str),
            Some("pw-root-password")
        );
    }
    juju.world()
        .action_params
        .insert("username".into(), "alice".into());
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "actions/get-password"),
    )
    .expect("handled");
    let failure = juju.world().action_failure.clone().unwrap_or_default();
    assert!(failure.contains("root, serverconfig, clusteradmin, monitoring, backups not alice"));
}

#[test]
fn set_password_changes_it_on_the_server_then_in_the_secret() {
    let mut world = World::new("mysql/0", &["mysql/1"], true);
    world
        .action_params
        .insert("username".into(), "serverconfig".into());
    world.action_params.insert("password".into(), "n3w".into());
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload
        .expect_update_password()
        .withf(|user, password| user == "serverconfig" && password == "n3w")
        .times(1)
        .returning(|_, _| Ok(()));
    run(
        &juju,
        &workload,
        &dispatch("mysql/0", "actions/set-password"),
    )
    .expect("handled");
    let world = juju.world();
    assert_eq!(world.action_failure, None);
    let (_, content) = &world.secrets[&mysql_charm::secrets::label("mysql")];
    assert_eq!(
        content.get("server-config-password").map(String::as_str),
        Some("n3w")
    );
    assert_eq!(
        content.get("root-password").map(String::as_str),
        Some("pw-root-password")
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

#[test]
fn install_starts_a_workload_that_needs_no_set_up_and_publishes_its_version() {
    let juju = FakeJuju::new(World::new("mysql/0", &[], true));
    let mut workload = MockWorkload::new();
    workload.expect_needs_setup().returning(|| false);
    workload.expect_installed_revision().returning(|| Ok(None));
    workload.expect_stop().returning(|| Ok(()));
    workload.expect_install().returning(|_| Ok(()));
    workload.expect_start().times(1).returning(|| Ok(()));
    workload
        .expect_running_version()
        .returning(|| Ok(Some("8.0.34".into())));
    run(&juju, &workload, &dispatch("mysql/0", "hooks/install")).expect("installed");
    assert_eq!(juju.world().workload_versions, ["8.0.34"]);
}

#[test]
fn start_leaves_mysqld_alone_while_an_upgrade_runs() {
    let mut world = World::new("mysql/1", &["mysql/0", "mysql/2"], false);
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1, 2]".into());
    let juju = FakeJuju::new(world);
    let workload = MockWorkload::new(); // any call would panic
    run(&juju, &workload, &dispatch("mysql/1", "hooks/start")).expect("handled");
    assert!(juju.world().statuses.is_empty());
}

#[test]
fn start_on_a_new_leader_sets_up_the_server_creates_the_cluster_and_opens_the_ports() {
    let mut world = World::new("mysql/0", &[], true);
    world.unit_state.clear();
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    let mut seq = mockall::Sequence::new();
    workload.expect_needs_setup().returning(|| true);
    workload
        .expect_initialise()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    workload
        .expect_running_version()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some("8.0.34-0ubuntu0.22.04.1".into())));
    workload
        .expect_create_cluster()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(()));
    workload.expect_join_cluster().never();
    workload.expect_wait_until_online().returning(|_| Ok(()));
    workload
        .expect_cluster_status()
        .returning(|| Ok(three_online()));
    run(&juju, &workload, &dispatch("mysql/0", "hooks/start")).expect("started");
    let world = juju.world();
    assert_eq!(world.opened_ports, [3306, 33060]);
    assert_eq!(world.workload_versions, ["8.0.34-0ubuntu0.22.04.1"]);
    assert_eq!(
        world
            .unit_state
            .get(mysql_charm::lifecycle::MEMBER_KEY)
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        world.last_status(),
        Some(&juju_ops::Status::active("Primary"))
    );
}

#[test]
fn a_new_unit_waits_for_the_passwords_then_for_a_peer_to_join_through() {
    let mut world = World::new("mysql/2", &["mysql/0"], false);
    world.unit_state.clear();
    let passwords = std::mem::take(&mut world.secrets);
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload.expect_needs_setup().returning(|| true);
    workload.expect_initialise().times(1).returning(|| Ok(()));
    workload.expect_running_version().returning(|| Ok(None));
    workload.expect_create_cluster().never();
    workload.expect_join_cluster().times(1).returning(|| {
        Err(WorkloadError::NoDonor {
            unit: "mysql/2".into(),
        })
    });
    run(&juju, &workload, &dispatch("mysql/2", "hooks/start")).expect("waits");
    assert_eq!(
        juju.world().last_status(),
        Some(&juju_ops::Status::waiting(
            "waiting for the leader to create the system users' passwords"
        ))
    );
    juju.world().secrets = passwords;
    run(
        &juju,
        &workload,
        &dispatch("mysql/2", "hooks/update-status"),
    )
    .expect("waits");
    let world = juju.world();
    assert_eq!(
        world.last_status(),
        Some(&juju_ops::Status::waiting("waiting to join the cluster"))
    );
    assert_eq!(
        world
            .unit_state
            .get(mysql_charm::lifecycle::INITIALISED_KEY)
            .map(String::as_str),
        Some("true")
    );
    assert!(!world
        .unit_state
        .contains_key(mysql_charm::lifecycle::MEMBER_KEY));
    assert!(world.opened_ports.is_empty());
}
