//! The peer cache through the charm's routing: the leader's hooks and `pre-upgrade-check`
//! read the same bags whatever the number of units once a first hook has read them all, and
//! every change the cache could have missed costs one full read.

use juju_ops::Dispatch;
use mysql_charm::cache::{self, CACHE_DIR, CACHE_FILE};
use mysql_charm::context::HookContext;
use mysql_charm::dispatch::route;
use mysql_charm::workload::{
    ClusterMember, ClusterStatus, MemberRole, MemberState, MockWorkload, WorkloadRevision,
};

mod support;
use support::{versions, FakeJuju, World};

/// A charm directory as Juju deploys this charm: with the shipped `peer-cache` directory.
fn charm_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("charm dir");
    std::fs::create_dir(dir.path().join(CACHE_DIR)).expect("peer-cache");
    dir
}

fn hook(unit: &str, hook: &str, remote: Option<&str>, charm_dir: &std::path::Path) -> Dispatch {
    let mut vars: Vec<(String, String)> = vec![
        ("JUJU_DISPATCH_PATH".into(), format!("hooks/{hook}")),
        ("JUJU_HOOK_NAME".into(), hook.into()),
        ("JUJU_UNIT_NAME".into(), unit.into()),
        ("JUJU_MODEL_NAME".into(), "test".into()),
        ("JUJU_CHARM_DIR".into(), charm_dir.display().to_string()),
        ("JUJU_VERSION".into(), "3.6.4".into()),
    ];
    if hook.starts_with("upgrade-relation-") {
        vars.push(("JUJU_RELATION".into(), "upgrade".into()));
        vars.push(("JUJU_RELATION_ID".into(), "upgrade:3".into()));
        vars.push(("JUJU_REMOTE_APP".into(), "mysql".into()));
        vars.push(("JUJU_REMOTE_UNIT".into(), remote.unwrap_or("").into()));
        if hook.ends_with("-departed") {
            vars.push(("JUJU_DEPARTING_UNIT".into(), remote.unwrap_or("").into()));
        }
    }
    Dispatch::from_vars(vars).expect("dispatch")
}

fn action(unit: &str, name: &str, charm_dir: &std::path::Path) -> Dispatch {
    Dispatch::from_vars([
        ("JUJU_DISPATCH_PATH".to_owned(), format!("actions/{name}")),
        ("JUJU_HOOK_NAME".to_owned(), String::new()),
        ("JUJU_ACTION_NAME".to_owned(), name.to_owned()),
        ("JUJU_ACTION_UUID".to_owned(), "1".to_owned()),
        ("JUJU_UNIT_NAME".to_owned(), unit.to_owned()),
        ("JUJU_MODEL_NAME".to_owned(), "test".to_owned()),
        ("JUJU_CHARM_DIR".to_owned(), charm_dir.display().to_string()),
        ("JUJU_VERSION".to_owned(), "3.6.4".to_owned()),
    ])
    .expect("dispatch")
}

/// `units` idle units, mysql/0 leading.
fn cluster(units: usize) -> FakeJuju {
    let names: Vec<String> = (0..units).map(|n| format!("mysql/{n}")).collect();
    let others: Vec<&str> = names[1..].iter().map(String::as_str).collect();
    let mut world = World::new("mysql/0", &others, true);
    for name in &names {
        world.set_state(name, "idle");
    }
    FakeJuju::new(world)
}

fn healthy(units: usize) -> MockWorkload {
    let mut workload = MockWorkload::new();
    workload
        .expect_installed_revision()
        .returning(|| Ok(Some(WorkloadRevision::new("8.0.34", "69"))));
    workload.expect_cluster_status().returning(move || {
        Ok(ClusterStatus::from_members((0..units).map(|n| {
            ClusterMember {
                unit: format!("mysql/{n}"),
                state: MemberState::Online,
                role: Some(if n == 0 {
                    MemberRole::Primary
                } else {
                    MemberRole::Secondary
                }),
                address: None,
                version: Some("8.0.34".into()),
            }
        })))
    });
    workload.expect_set_slow_shutdown().returning(|_| Ok(()));
    // The cluster and its users exist (the leader creates no passwords at leader-elected).
    workload.expect_needs_setup().returning(|| false);
    workload
}

/// Runs `dispatch` as the charm's entry point does (the cache set aside first) and returns
/// the unit bags it read.
fn run(juju: &FakeJuju, workload: &MockWorkload, dispatch: &Dispatch) -> Vec<String> {
    juju.world().unit_bags_read.clear();
    cache::on_hook_start(&dispatch.charm_dir, cache::cache_hook(&dispatch.event))
        .expect("cache set aside");
    let tools = juju.tools();
    let versions = versions();
    let ctx = HookContext {
        dispatch,
        tools: &tools,
        workload,
        versions: &versions,
    };
    route(&ctx).expect("handled");
    std::mem::take(&mut juju.world().unit_bags_read)
}

#[test]
fn once_warm_the_leader_reads_the_same_bags_on_3_and_50_units() {
    let mut reads = Vec::new();
    for units in [3, 50] {
        let dir = charm_dir();
        let juju = cluster(units);
        let workload = healthy(units);
        let first = run(
            &juju,
            &workload,
            &hook(
                "mysql/0",
                "upgrade-relation-changed",
                Some("mysql/1"),
                dir.path(),
            ),
        );
        assert_eq!(first.len(), units, "the first hook reads every unit");
        let changed = run(
            &juju,
            &workload,
            &hook(
                "mysql/0",
                "upgrade-relation-changed",
                Some("mysql/2"),
                dir.path(),
            ),
        );
        let charm = run(
            &juju,
            &workload,
            &hook("mysql/0", "upgrade-charm", None, dir.path()),
        );
        let check = run(
            &juju,
            &workload,
            &action("mysql/0", "pre-upgrade-check", dir.path()),
        );
        assert_eq!(juju.world().action_failure, None);
        reads.push((changed, charm, check));
    }
    assert_eq!(reads[0], reads[1], "3 units and 50 units");
    let (changed, charm, check) = &reads[1];
    assert_eq!(
        changed,
        &["mysql/0", "mysql/2"],
        "its own bag and the changed unit's"
    );
    assert_eq!(charm, &["mysql/0"]);
    assert_eq!(check, &["mysql/0"]);
}

#[test]
fn the_cache_shows_what_juju_shows_until_the_hook_for_the_unit() {
    let dir = charm_dir();
    let juju = cluster(3);
    let workload = healthy(3);
    let changed = |remote: &str| {
        hook(
            "mysql/0",
            "upgrade-relation-changed",
            Some(remote),
            dir.path(),
        )
    };
    run(&juju, &workload, &changed("mysql/1"));
    // mysql/2 commits a change: Juju keeps showing the old copy until its hook runs.
    juju.world().set_state("mysql/2", "ready");
    run(
        &juju,
        &workload,
        &hook("mysql/0", "upgrade-charm", None, dir.path()),
    );
    let stored =
        std::fs::read_to_string(dir.path().join(CACHE_DIR).join(CACHE_FILE)).expect("a cache");
    assert!(
        !stored.contains("ready"),
        "not refreshed before its hook: {stored}"
    );
    assert_eq!(
        run(&juju, &workload, &changed("mysql/2")),
        ["mysql/0", "mysql/2"]
    );
    let stored =
        std::fs::read_to_string(dir.path().join(CACHE_DIR).join(CACHE_FILE)).expect("a cache");
    assert!(stored.contains("ready"), "refreshed in its hook: {stored}");
}

#[test]
fn every_change_the_cache_could_miss_costs_one_full_read() {
    let dir = charm_dir();
    let juju = cluster(4);
    let workload = healthy(4);
    let changed = |remote: &str| {
        hook(
            "mysql/0",
            "upgrade-relation-changed",
            Some(remote),
            dir.path(),
        )
    };
    let every = ["mysql/0", "mysql/1", "mysql/2", "mysql/3"];
    assert_eq!(run(&juju, &workload, &changed("mysql/1")), every);

    // A unit leaves: relation-departed drops the cache, and the leader reads the others.
    juju.world().peers.retain(|unit| unit != "mysql/3");
    juju.world().unit_bags.remove("mysql/3");
    let departed = hook(
        "mysql/0",
        "upgrade-relation-departed",
        Some("mysql/3"),
        dir.path(),
    );
    assert_eq!(
        run(&juju, &workload, &departed),
        ["mysql/0", "mysql/1", "mysql/2"]
    );
    assert_eq!(
        run(&juju, &workload, &changed("mysql/1")),
        ["mysql/0", "mysql/1"]
    );

    // Leadership came back: leader-elected reads everyone.
    let elected = hook("mysql/0", "leader-elected", None, dir.path());
    assert_eq!(run(&juju, &workload, &elected).len(), 3);

    // A unit joins with a number seen before: relation-joined drops the cache.
    juju.world().peers.push("mysql/3".into());
    juju.world().set_state("mysql/3", "idle");
    let joined = hook(
        "mysql/0",
        "upgrade-relation-joined",
        Some("mysql/3"),
        dir.path(),
    );
    assert!(
        run(&juju, &workload, &joined).is_empty(),
        "joined reads nothing itself"
    );
    assert_eq!(run(&juju, &workload, &changed("mysql/3")), every);

    // A damaged file.
    let path = dir.path().join(CACHE_DIR).join(CACHE_FILE);
    let text = std::fs::read_to_string(&path).expect("a cache");
    std::fs::write(&path, text.replace("idle", "idel")).expect("damaged");
    assert_eq!(run(&juju, &workload, &changed("mysql/2")), every);

    // A lost file.
    std::fs::remove_file(&path).expect("lost");
    assert_eq!(
        run(
            &juju,
            &workload,
            &hook("mysql/0", "upgrade-charm", None, dir.path())
        ),
        every
    );
    assert_eq!(
        run(&juju, &workload, &changed("mysql/2")),
        ["mysql/0", "mysql/2"]
    );
}

#[test]
fn a_non_leader_waiting_its_turn_keeps_no_cache_and_reads_two_bags() {
    let dir = charm_dir();
    let mut world = World::new("mysql/1", &["mysql/0", "mysql/2"], false);
    for unit in ["mysql/0", "mysql/1", "mysql/2"] {
        world.set_state(unit, "ready");
    }
    world
        .app_bag
        .insert("upgrade-stack".into(), "[0, 1, 2]".into());
    let juju = FakeJuju::new(world);
    let workload = healthy(3);
    let changed = hook(
        "mysql/1",
        "upgrade-relation-changed",
        Some("mysql/2"),
        dir.path(),
    );
    assert_eq!(run(&juju, &workload, &changed), ["mysql/1"]);
    assert!(!dir.path().join(CACHE_DIR).join(CACHE_FILE).exists());
}
