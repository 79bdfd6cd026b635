//! The charm's wiring of what the core does beyond v0, in one process: the charm revision read
//! from the charm directory, the `pause-after-unit-refresh` config, `config-changed`, the
//! `resume-upgrade` and `force-upgrade` actions, and statuses ordinary hooks must not hide.

use std::fs;

use juju_ops::StatusName;
use juju_upgrade::CharmVersions;
use mysql_charm::context::HookContext;
use mysql_charm::upgrade::this_charm;
use mysql_charm::workload::{
    ClusterMember, ClusterStatus, MemberRole, MemberState, MockWorkload, WorkloadError,
};
use serde_json::{json, Value};

mod support;
use support::{dispatch, dispatch_in, run, upgrades_once, versions, FakeJuju, World};

/// A charm directory into which Juju wrote the charm URL of revision 43.
fn charm_dir_at_43() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("charm dir");
    fs::write(dir.path().join(".juju-charm"), "ch:amd64/jammy/mysql-43\n").expect("url");
    dir
}

const AT_43: &str = r#"{"charm":"43","workload":"8.0.34"}"#;
const AT_42: &str = r#"{"charm":"42","workload":"8.0.33"}"#;

/// Three units refreshed from 42 to 43 in round 1: mysql/2 upgraded and left the stack,
/// mysql/1 is next and ready, mysql/0 (the leader) is last. Seen from `me`.
fn paused_world(me: &str, pause: &str) -> World {
    let others: Vec<&str> = ["mysql/0", "mysql/1", "mysql/2"]
        .into_iter()
        .filter(|u| *u != me)
        .collect();
    let mut world = World::new(me, &others, me == "mysql/0");
    for (unit, state) in [
        ("mysql/0", "ready"),
        ("mysql/1", "ready"),
        ("mysql/2", "completed"),
    ] {
        world.set_state(unit, state);
        let bag = world.unit_bags.entry(unit.to_owned()).or_default();
        bag.insert("upgrade-round".into(), "1".into());
        bag.insert("charm-versions".into(), AT_43.into());
    }
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1]".into());
    world.app_bag.insert("upgrade-round".into(), "1".into());
    world.app_bag.insert("upgrade-target".into(), AT_43.into());
    world
        .app_bag
        .insert("original-versions".into(), AT_42.into());
    world
        .config
        .insert("pause-after-unit-refresh".into(), json!(pause));
    world
}

#[test]
fn the_charm_reports_its_juju_revision_and_the_workload_version_it_pins() {
    let dir = charm_dir_at_43();
    let juju = FakeJuju::new(World::new("mysql/0", &["mysql/1"], true));
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(|| {
        Ok(ClusterStatus::from_members([ClusterMember {
            unit: "mysql/0".into(),
            state: MemberState::Online,
            role: Some(MemberRole::Primary),
            address: None,
            version: Some("8.0.34".into()),
        }]))
    });
    let created = dispatch_in("mysql/0", "hooks/upgrade-relation-created", dir.path());
    run(&juju, &workload, &created).expect("handled");
    let world = juju.world();
    assert_eq!(
        world.app_bag.get("original-versions").map(String::as_str),
        Some(AT_43),
        "what a rollback returns to"
    );
    assert_eq!(
        world.unit_bags["mysql/0"]
            .get("charm-versions")
            .map(String::as_str),
        Some(AT_43)
    );
    let app = world
        .app_statuses
        .last()
        .expect("the leader sets the app status");
    assert_eq!((app.name, app.message.as_str()), (StatusName::Active, ""));
}

#[test]
fn without_a_charm_revision_the_charm_reports_nothing_and_keeps_v0s_behaviour() {
    let mut world = World::new("mysql/1", &["mysql/0"], false);
    world.set_state("mysql/0", "idle");
    world.set_state("mysql/1", "idle");
    let juju = FakeJuju::new(world);
    let workload = MockWorkload::new();
    // The charm directory `/charm` does not exist: no `.juju-charm`, no `revision`.
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "hooks/upgrade-charm"),
    )
    .expect("handled");
    let tools = juju.tools();
    let versions = versions();
    let unrevisioned = dispatch("mysql/1", "hooks/upgrade-charm");
    let ctx = HookContext {
        dispatch: &unrevisioned,
        tools: &tools,
        workload: &workload,
        versions: &versions,
    };
    assert_eq!(
        this_charm(&ctx),
        CharmVersions::default(),
        "nothing reported"
    );
    let world = juju.world();
    assert!(world.logged("Cluster upgrade failed, ensure pre-upgrade checks are ran first."));
    assert!(
        world.statuses.is_empty(),
        "v0 only logs: {:?}",
        world.statuses
    );
    assert!(!world.unit_bags["mysql/1"].contains_key("refresh-pending"));
}

/// Two units of revision 42, no upgrade prepared, and a workload whose server is up (a
/// secondary) or, with `down`, does not answer.
fn unprepared(down: bool) -> (FakeJuju, MockWorkload) {
    let mut world = World::new("mysql/1", &["mysql/0"], false);
    for unit in ["mysql/0", "mysql/1"] {
        world.set_state(unit, "idle");
        world
            .unit_bags
            .entry(unit.to_owned())
            .or_default()
            .insert("charm-versions".into(), AT_42.into());
    }
    world
        .app_bag
        .insert("original-versions".into(), AT_42.into());
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().returning(move || {
        if down {
            return Err(WorkloadError::ServerUnavailable {
                unit: "mysql/1".into(),
                reason: "mysqld is not running".into(),
                failure: None,
            });
        }
        Ok(ClusterStatus::from_members([ClusterMember {
            unit: "mysql/1".into(),
            state: MemberState::Online,
            role: Some(MemberRole::Secondary),
            address: None,
            version: Some("8.0.33".into()),
        }]))
    });
    (FakeJuju::new(world), workload)
}

#[test]
fn a_refresh_without_pre_upgrade_check_blocks_and_update_status_leaves_it_alone() {
    let dir = charm_dir_at_43();
    let (juju, workload) = unprepared(false);
    run(
        &juju,
        &workload,
        &dispatch_in("mysql/1", "hooks/upgrade-charm", dir.path()),
    )
    .expect("handled");
    for hook in ["hooks/update-status", "hooks/config-changed"] {
        run(&juju, &workload, &dispatch_in("mysql/1", hook, dir.path())).expect(hook);
    }
    let world = juju.world();
    assert_eq!(
        world.unit_bags["mysql/1"]
            .get("refresh-pending")
            .map(String::as_str),
        Some(AT_42)
    );
    let last = world.last_status().expect("blocked");
    assert_eq!(
        (last.name, last.message.as_str()),
        (
            StatusName::Blocked,
            "Refreshed without pre-upgrade-check: run `juju run mysql/leader pre-upgrade-check`"
        )
    );
}

#[test]
fn a_unit_waiting_for_pre_upgrade_check_with_its_server_down_shows_the_server_problem() {
    let dir = charm_dir_at_43();
    let (juju, workload) = unprepared(true);
    for hook in ["hooks/upgrade-charm", "hooks/update-status"] {
        run(&juju, &workload, &dispatch_in("mysql/1", hook, dir.path())).expect(hook);
        let world = juju.world();
        let last = world.last_status().expect("a status");
        assert_eq!(
            (last.name, last.message.as_str()),
            (
                StatusName::Blocked,
                "MySQL is not available: mysqld is not running"
            ),
            "after {hook}"
        );
    }
    // The refresh is still remembered: once the server is back, the unit waits for the check.
    assert!(juju.world().unit_bags["mysql/1"].contains_key("refresh-pending"));
}

#[test]
fn update_status_shows_the_health_of_a_unit_an_upgrade_prepared_but_no_refresh_reached() {
    let mut world = World::new("mysql/1", &["mysql/0"], false);
    world.set_state("mysql/0", "idle");
    world.set_state("mysql/1", "idle");
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1]".into());
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    // pre-upgrade-check moved the primary to mysql/0: mysql/1 no longer is.
    workload.expect_cluster_status().returning(|| {
        Ok(ClusterStatus::from_members(
            [
                ("mysql/0", MemberRole::Primary),
                ("mysql/1", MemberRole::Secondary),
            ]
            .map(|(unit, role)| ClusterMember {
                unit: unit.into(),
                state: MemberState::Online,
                role: Some(role),
                address: None,
                version: Some("8.0.33".into()),
            }),
        ))
    });
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
fn update_status_leaves_a_unit_alone_once_the_refresh_reached_the_round() {
    let mut world = World::new("mysql/1", &["mysql/0"], false);
    world.set_state("mysql/0", "ready");
    world.set_state("mysql/1", "idle");
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1]".into());
    world.app_bag.insert(
        "upgrade-target".into(),
        r#"{"charm":"43","workload":"8.0.34"}"#.into(),
    );
    let juju = FakeJuju::new(world);
    let mut workload = MockWorkload::new();
    workload.expect_cluster_status().never();
    run(
        &juju,
        &workload,
        &dispatch("mysql/1", "hooks/update-status"),
    )
    .expect("handled");
    assert!(juju.world().statuses.is_empty());
}

#[test]
fn a_unit_paused_by_pause_after_unit_refresh_waits_until_resume_upgrade_runs_on_it() {
    let dir = charm_dir_at_43();
    let juju = FakeJuju::new(paused_world("mysql/1", "first"));
    let untouched = MockWorkload::new(); // any workload call would panic
    let changed = dispatch_in("mysql/1", "hooks/upgrade-relation-changed", dir.path());
    run(&juju, &untouched, &changed).expect("handled");
    {
        let world = juju.world();
        let last = world.last_status().expect("paused");
        assert_eq!(
            (last.name, last.message.as_str()),
            (
                StatusName::Blocked,
                "Paused: check upgraded units, then `juju run mysql/1 resume-upgrade`"
            )
        );
        assert_eq!(world.state_of("mysql/1"), Some("ready"));
    }

    let workload = upgrades_once();
    let resume = dispatch_in("mysql/1", "actions/resume-upgrade", dir.path());
    run(&juju, &workload, &resume).expect("handled");
    let world = juju.world();
    assert_eq!(world.action_failure, None);
    assert_eq!(
        world.action_results.get("result").map(String::as_str),
        Some("Upgrade resumed: mysql/1 upgraded.")
    );
    assert_eq!(world.state_of("mysql/1"), Some("completed"));
    assert_eq!(
        world.unit_bags["mysql/1"]
            .get("resumed-round")
            .map(String::as_str),
        Some("1")
    );
}

#[test]
fn config_changed_to_none_lets_the_paused_unit_go() {
    let dir = charm_dir_at_43();
    let juju = FakeJuju::new(paused_world("mysql/1", "none"));
    let workload = upgrades_once();
    let changed = dispatch_in("mysql/1", "hooks/config-changed", dir.path());
    run(&juju, &workload, &changed).expect("handled");
    assert_eq!(juju.world().state_of("mysql/1"), Some("completed"));
}

#[test]
fn resume_upgrade_on_another_unit_names_the_one_to_run_it_on() {
    let dir = charm_dir_at_43();
    let juju = FakeJuju::new(paused_world("mysql/0", "first"));
    let untouched = MockWorkload::new();
    let resume = dispatch_in("mysql/0", "actions/resume-upgrade", dir.path());
    run(&juju, &untouched, &resume).expect("handled");
    let world = juju.world();
    assert_eq!(
        world.action_failure.as_deref(),
        Some("Run this action on mysql/1, the next unit to upgrade: `juju run mysql/1 resume-upgrade`")
    );
    let app = world.app_statuses.last().expect("the leader's app status");
    assert_eq!(
        (app.name, app.message.as_str()),
        (
            StatusName::Blocked,
            "Paused: check units, then `juju run mysql/1 resume-upgrade`. Roll back: `juju refresh mysql --revision=42`"
        )
    );
}

#[test]
fn force_upgrade_reads_its_skips_and_refuses_when_none_is_set() {
    let dir = charm_dir_at_43();
    let untouched = MockWorkload::new();
    let force = dispatch_in("mysql/1", "actions/force-upgrade", dir.path());

    let mut world = paused_world("mysql/1", "first");
    for (name, value) in [
        ("skip-compatibility-check", false),
        ("skip-pre-upgrade-check", false),
        ("skip-health-check", false),
    ] {
        world.action_params.insert(name.into(), Value::Bool(value));
    }
    let juju = FakeJuju::new(world);
    run(&juju, &untouched, &force).expect("handled");
    assert_eq!(
        juju.world().action_failure.as_deref(),
        Some("Nothing to force: set at least one of skip-compatibility-check, skip-pre-upgrade-check or skip-health-check to true (each risks data loss or downtime).")
    );

    // A skip that does not match: mysql/1 is not blocked by a check.
    let mut world = paused_world("mysql/1", "first");
    world
        .action_params
        .insert("skip-health-check".into(), Value::Bool(true));
    let juju = FakeJuju::new(world);
    run(&juju, &untouched, &force).expect("handled");
    let failure = juju.world().action_failure.clone().unwrap_or_default();
    assert!(
        failure.starts_with("mysql/1 is not blocked by a check (state ready)"),
        "{failure}"
    );
    assert_eq!(juju.world().state_of("mysql/1"), Some("ready"));

    let mut world = paused_world("mysql/1", "first");
    world
        .action_params
        .insert("skip-health-check".into(), json!("yes"));
    let juju = FakeJuju::new(world);
    run(&juju, &untouched, &force).expect("handled");
    assert_eq!(
        juju.world().action_failure.as_deref(),
        Some("force-upgrade: skip-health-check must be true or false, not \"yes\"")
    );
}

#[test]
fn force_upgrade_skip_health_check_accepts_a_failed_unit() {
    let dir = charm_dir_at_43();
    let mut world = paused_world("mysql/1", "none");
    world.set_state("mysql/1", "failed");
    world
        .action_params
        .insert("skip-health-check".into(), Value::Bool(true));
    let juju = FakeJuju::new(world);
    // Nothing is upgraded again; the version the running server reports is published.
    let mut workload = MockWorkload::new();
    workload
        .expect_running_version()
        .returning(|| Ok(Some("8.0.34".to_owned())));
    let force = dispatch_in("mysql/1", "actions/force-upgrade", dir.path());
    run(&juju, &workload, &force).expect("handled");
    let world = juju.world();
    assert_eq!(world.action_failure, None);
    assert_eq!(world.workload_versions, ["8.0.34"]);
    assert_eq!(
        world.action_results.get("skipped").map(String::as_str),
        Some("health check")
    );
    assert_eq!(world.state_of("mysql/1"), Some("completed"));
    assert!(world.logged("force-upgrade on mysql/1: skipped the health check"));
}
