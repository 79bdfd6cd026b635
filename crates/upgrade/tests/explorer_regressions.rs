//! Bugs the explorer (`juju-upgrade-harness`) found in the core, each replayed from the trace
//! (or seed) that found it: the replay reaches the state, the fixed rule holds there, and every
//! continuation from that state is searched again with no invariant violated.

use juju_upgrade::messages;
use juju_upgrade_harness::explore::{
    exhaustive_from, format_trace, parse_trace, replay_to, Config, Faults, World,
};

/// Replays `trace` and checks nothing went wrong on the way.
fn reach(config: &Config, trace: &str) -> World {
    let steps = parse_trace(trace).expect("a valid trace");
    let (world, replayed) = replay_to(config, &steps).expect("the trace replays");
    assert!(
        replayed.violations.is_empty(),
        "{:?}\n{}",
        replayed.violations,
        replayed.narration.join("\n")
    );
    world
}

/// Every continuation from `world` keeps every invariant.
fn all_continuations_are_safe(config: &Config, world: World) {
    let report = exhaustive_from(config, world, 2_000_000);
    assert!(!report.truncated, "{}", report.closing_line());
    let found: Vec<String> = report
        .examples
        .iter()
        .map(|found| {
            format!(
                "{}\n  continued by: {}",
                found.message,
                format_trace(&found.trace)
            )
        })
        .collect();
    assert_eq!(report.violations, 0, "{}", found.join("\n"));
}

/// Found by the exhaustive search of 2 units without faults. The operator runs
/// `pre-upgrade-check` as soon as mysql/1 shows it failed; actions run before queued hooks, so
/// the leader (already `ready`) still holds an old copy of mysql/1's bag saying `idle`. The
/// worst state of that view is `idle`, and the action prepared a new upgrade in the middle of
/// this one (new round, new stack) instead of refusing.
#[test]
fn pre_upgrade_check_on_a_leader_that_is_not_idle_refuses_to_prepare() {
    let config = Config {
        faults: Faults::NONE,
        ..Config::new(2)
    };
    let mut world = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b1 c1",
    );
    let cluster = &mut world.cluster;
    assert_eq!(cluster.state(1), Some("failed"));
    assert_eq!(cluster.state(0), Some("ready"));
    let app_bag = cluster.app_bag.clone();
    let outcome = cluster.run_pre_upgrade_check(0);
    assert_eq!(outcome.failed.as_deref(), Some(messages::ALREADY_UPGRADING));
    assert_eq!(cluster.app_bag, app_bag, "nothing was prepared again");
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
    all_continuations_are_safe(&config, world);
}

/// Found by the exhaustive search of 2 units with leadership moves. mysql/1 completed its
/// rollback; before the leader, mysql/0, handled that, leadership moved to mysql/1, which had
/// already heard everything and got only `leader-elected`, which the core did not handle.
/// Nobody popped the stack again: the rollback stalled with every hook run.
#[test]
fn a_new_leader_pops_the_completed_top_the_old_leader_left() {
    let config = Config {
        faults: Faults::parse("leader").expect("valid"),
        ..Config::new(2)
    };
    let world = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 l1",
    );
    assert_eq!(world.cluster.state(1), Some("completed"));
    assert_eq!(world.cluster.stack(), vec![0, 1]);
    let mut next = world.clone();
    next.cluster.begin(1); // leader-elected on mysql/1
    next.cluster.commit(1);
    assert_eq!(
        next.cluster.stack(),
        vec![0],
        "the new leader popped the completed top"
    );
    all_continuations_are_safe(&config, world);
}

/// Found by the exhaustive search of 2 units with leadership moves. Leadership moved while
/// mysql/0 ran `upgrade-relation-created` as leader: its commit failed (it no longer led) and
/// its retry, as a non-leader, did not store the dependencies; mysql/1 had already joined as a
/// non-leader and got only `leader-elected`. The baseline for the compatibility check was
/// never stored.
#[test]
fn a_new_leader_stores_the_dependencies_the_old_leader_could_not() {
    let config = Config {
        faults: Faults::parse("leader").expect("valid"),
        ..Config::new(2)
    };
    let world = reach(&config, "b1 c1 b0 l1 c0");
    assert_eq!(world.cluster.dependencies(), None);
    all_continuations_are_safe(&config, world);
}

/// Found by the exhaustive search of 3 units with leadership moves. During the rollback,
/// mysql/1 was still `ready` from the failed upgrade and had not yet run the rollback's
/// `upgrade-charm` when leadership moved to it; `leader-elected` runs before `upgrade-charm`,
/// with the old (failed) revision's code. On top of the stack with every unit ready, it was
/// granted and installed the failed revision's workload (8.0.34) in the middle of the
/// rollback, completed, and was popped; its rollback `upgrade-charm` then left it `ready` out
/// of the stack for good.
#[test]
fn a_unit_still_ready_from_the_failed_round_does_not_upgrade_during_the_rollback() {
    let config = Config {
        faults: Faults::parse("leader").expect("valid"),
        ..Config::new(3)
    };
    let world = reach(
        &config,
        "b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 O:prepare b1 \
         b2 c1 c2 O:refresh b0 b1 b2 c0 c1 b0 b1 c0 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b0 c0 \
         O:recover b1 b2 c1 c2 b2 c2 O:rollback b0 b2 c0 c2 b0 b2 c0 c2 b0 c0 b2 c2 l1",
    );
    let cluster = &world.cluster;
    assert_eq!(cluster.stack(), vec![0, 1], "mysql/1 is on top");
    assert_eq!(cluster.state(1), Some("ready"));
    assert_eq!(
        cluster.units[&1].revision, 43,
        "still the failed revision's code"
    );
    let mut next = world.clone();
    next.cluster.begin(1); // leader-elected, before its upgrade-charm
    next.cluster.commit(1);
    assert_eq!(
        next.cluster.units[&1].workload, "8.0.33",
        "not upgraded to 8.0.34"
    );
    assert!(
        next.cluster.violations.is_empty(),
        "{:?}",
        next.cluster.violations
    );
    all_continuations_are_safe(&config, world);
}

/// Found by the exhaustive search of 2 units with unit removal. In recovery, the leader mysql/0
/// was removed; mysql/1 became leader with mysql/0 still in the stack. Every hook of mysql/1
/// then blocked on "upgrade data invalid: upgrade-stack lists units that are not in the
/// application: 0", and the rollback could never run.
#[test]
fn a_removed_unit_is_dropped_from_the_stack_not_taken_for_corrupt_data() {
    let config = Config {
        faults: Faults::parse("remove").expect("valid"),
        ..Config::new(2)
    };
    let world = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 x0",
    );
    assert_eq!(world.cluster.stack(), vec![0, 1]);
    assert_eq!(world.cluster.leader, 1);
    all_continuations_are_safe(&config, world);
}

/// Found by the exhaustive search of 3 units with unit removal. During the rollback mysql/1,
/// next in the stack, was removed; the leader kept it in the stack and, once every hook had
/// run, the rollback was stuck with `[0, 1]` and mysql/0 waiting forever.
#[test]
fn the_leader_drops_a_removed_unit_and_the_rollback_goes_on() {
    let config = Config {
        faults: Faults::parse("remove").expect("valid"),
        ..Config::new(3)
    };
    let world = reach(
        &config,
        "b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 O:prepare b1 b2 c1 \
         c2 O:refresh b0 b1 b2 c0 c1 b0 b1 c0 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b0 b1 c0 c1 \
         O:recover b1 b2 c1 b1 c1 c2 b2 c2 O:rollback b0 b1 b2 c0 c1 b0 b1 c0 c1 c2 b0 b1 b2 \
         c0 c1 c2 b0 b1 b2 c0 c1 b1 c1 c2 b2 c2 b2 c2 x1",
    );
    assert!(world.cluster.stack().contains(&1));
    let mut next = world.clone();
    next.cluster.settle();
    assert_eq!(next.cluster.stack(), Vec::<u32>::new());
    assert!(
        next.cluster.violations.is_empty(),
        "{:?}",
        next.cluster.violations
    );
    all_continuations_are_safe(&config, world);
}

/// Found by the exhaustive search of 2 units with leadership moves, once the leader put back
/// into the stack every `ready` unit missing from it (for a second refresh mid-upgrade). The
/// rollback had just ended: the stack was empty and mysql/0 had gone `idle`. Leadership moved
/// to mysql/1, whose copy of mysql/0's bag still said `ready`: its `leader-elected` wrote the
/// stack `[0]` back, with mysql/0 `idle` in it and nothing left to move it or let mysql/1 finish.
#[test]
fn a_new_leader_with_an_old_copy_does_not_put_a_finished_unit_back_into_an_empty_stack() {
    let config = Config {
        faults: Faults::parse("leader").expect("valid"),
        ..Config::new(2)
    };
    let world = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 b0 c0 b1 c1 l1",
    );
    assert_eq!(world.cluster.stack(), Vec::<u32>::new());
    assert_eq!(world.cluster.state(0), Some("idle"));
    let mut next = world.clone();
    next.cluster.begin(1); // leader-elected
    next.cluster.commit(1);
    assert_eq!(next.cluster.stack(), Vec::<u32>::new());
    all_continuations_are_safe(&config, world);
}
