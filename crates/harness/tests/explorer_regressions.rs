//! Bugs the explorer found in the core, each replayed from the trace
//! that found it (`cargo run -p juju-upgrade-harness --bin explore -- --trace "..."` narrates
//! one).
//!
//! A later change to the core may queue other hooks, so an old trace is replayed as far as it
//! still goes. Where the replay reaches the situation of the bug, the fixed rule is checked
//! there; in every case every continuation from the point reached is searched again, with every
//! invariant checked after every step.

use juju_upgrade::messages;
use juju_upgrade_harness::explore::{
    exhaustive_from, format_trace, parse_trace, replay_prefix, seeded_config, walk, Config, Faults,
    World,
};
use juju_upgrade_harness::rng::SplitMix64;
use juju_upgrade_harness::scenario::Script;

/// `units` units, one fault of the kinds listed, the how-to's flow with the failing upgrade given.
fn config(units: u32, faults: &str, fail_upgrade: Option<u32>) -> Config {
    let mut config = Config::new(units);
    config.faults = Faults::parse(faults).expect("valid fault kinds");
    config.script = Script {
        fail_upgrade,
        ..Script::default()
    };
    config
}

/// Replays `trace` as far as the core still takes it, with no violation on the way; returns
/// the world reached and whether the whole trace replayed.
fn reach(config: &Config, trace: &str) -> (World, bool) {
    let steps = parse_trace(trace).expect("a valid trace");
    let (world, replayed, taken) = replay_prefix(config, &steps);
    assert!(
        replayed.violations.is_empty(),
        "{:?}\n{}",
        replayed.violations,
        replayed.narration.join("\n")
    );
    (world, taken == steps.len())
}

/// Every continuation from `world` keeps every invariant.
fn all_continuations_are_safe(config: &Config, world: World) {
    let report = exhaustive_from(config, world, 3_000_000);
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

/// 2 units, no faults. The operator runs `pre-upgrade-check` as soon as mysql/1 shows it
/// failed; actions run before queued hooks, so the leader (already `ready`) still holds an old
/// copy of mysql/1's bag saying `idle`. The worst state of that view is `idle`, and the action
/// prepared a new upgrade in the middle of this one (new round, new stack) instead of refusing.
#[test]
fn pre_upgrade_check_on_a_leader_that_is_not_idle_refuses_to_prepare() {
    let config = config(2, "none", Some(0));
    let (mut world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b1 c1",
    );
    let cluster = &mut world.cluster;
    assert_eq!(cluster.state(0), Some("ready"), "the situation is reached");
    let app_bag = cluster.app_bag.clone();
    let outcome = cluster.run_pre_upgrade_check(0);
    if cluster.state(1) == Some("failed") && outcome.failed.is_some() {
        assert_eq!(outcome.failed.as_deref(), Some(messages::ALREADY_UPGRADING));
    }
    assert_ne!(
        outcome
            .results
            .get("result")
            .map(|r| r.starts_with("Pre-upgrade check successful")),
        Some(true),
        "prepared again mid-upgrade"
    );
    if outcome.failed.is_some() {
        assert_eq!(cluster.app_bag, app_bag, "nothing was prepared again");
    }
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

/// 2 units, leadership moves. mysql/1 completed its rollback; before the leader, mysql/0,
/// handled that, leadership moved to mysql/1, which had already heard everything and got only
/// `leader-elected`, which the core did not handle. Nobody popped the stack again.
#[test]
fn a_new_leader_pops_the_completed_top_the_old_leader_left() {
    let config = config(2, "leader", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 l1",
    );
    all_continuations_are_safe(&config, world);
}

/// 2 units, leadership moves. Leadership moved while mysql/0 ran `upgrade-relation-created`
/// as leader: its commit failed (it no longer led) and its retry, as a non-leader, did not
/// store the dependencies; mysql/1 had already joined and got only `leader-elected`. The
/// baseline for the compatibility check was never stored (checked when the operator prepares).
#[test]
fn a_new_leader_stores_the_dependencies_the_old_leader_could_not() {
    let config = config(2, "leader", Some(0));
    let (world, full) = reach(&config, "b1 c1 b0 l1 c0");
    if full {
        assert_eq!(
            world.cluster.dependencies(),
            None,
            "the situation is reached"
        );
    }
    all_continuations_are_safe(&config, world);
}

/// 3 units, leadership moves. During the rollback, mysql/1 was still `ready` from the failed
/// upgrade and had not yet run the rollback's `upgrade-charm` when leadership moved to it;
/// `leader-elected` runs before `upgrade-charm`, with the failed revision's code. On top of the
/// stack with every unit ready, it was granted and installed the failed revision's workload
/// (8.0.34) in the middle of the rollback.
#[test]
fn a_unit_still_ready_from_the_failed_round_does_not_upgrade_during_the_rollback() {
    let config = config(3, "leader", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 O:prepare b1 \
         b2 c1 c2 O:refresh b0 b1 b2 c0 c1 b0 b1 c0 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b0 c0 \
         O:recover b1 b2 c1 c2 b2 c2 O:rollback b0 b2 c0 c2 b0 b2 c0 c2 b0 c0 b2 c2 l1",
    );
    let cluster = &world.cluster;
    if cluster.state(1) == Some("ready") && cluster.units[&1].revision == 43 {
        let mut next = world.clone();
        while next.cluster.next_hook(1).is_some() && next.cluster.units[&1].revision == 43 {
            next.cluster.begin(1);
            next.cluster.commit(1);
            if next.cluster.units[&1].revision == 43 {
                assert_eq!(
                    next.cluster.units[&1].workload, "8.0.33",
                    "upgraded on old code"
                );
            }
        }
    }
    all_continuations_are_safe(&config, world);
}

/// 2 units, unit removal. In recovery, the leader mysql/0 was removed; mysql/1 became leader
/// with mysql/0 still in the stack, and every hook of mysql/1 then blocked on "upgrade data
/// invalid: upgrade-stack lists units that are not in the application: 0".
#[test]
fn a_removed_unit_is_dropped_from_the_stack_not_taken_for_corrupt_data() {
    let config = config(2, "remove", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 x0",
    );
    all_continuations_are_safe(&config, world);
}

/// 3 units, unit removal. During the rollback mysql/1, next in the stack, was removed; the
/// leader kept it in the stack and the rollback stalled with `[0, 1]`.
#[test]
fn the_leader_drops_a_removed_unit_and_the_rollback_goes_on() {
    let config = config(3, "remove", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 O:prepare b1 b2 c1 \
         c2 O:refresh b0 b1 b2 c0 c1 b0 b1 c0 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b0 b1 c0 c1 \
         O:recover b1 b2 c1 b1 c1 c2 b2 c2 O:rollback b0 b1 b2 c0 c1 b0 b1 c0 c1 c2 b0 b1 b2 \
         c0 c1 c2 b0 b1 b2 c0 c1 b1 c1 c2 b2 c2 b2 c2 x1",
    );
    let mut next = world.clone();
    next.cluster.settle();
    assert!(
        !next.cluster.stack().contains(&1),
        "the removed unit left the stack"
    );
    assert!(
        next.cluster.violations.is_empty(),
        "{:?}",
        next.cluster.violations
    );
    all_continuations_are_safe(&config, world);
}

/// 2 units, leadership moves, once the leader put back into the stack every `ready` unit
/// missing from it. The rollback had just ended (empty stack, mysql/0 `idle`); the new leader
/// mysql/1's copy of mysql/0 still said `ready`, and its `leader-elected` wrote `[0]` back.
#[test]
fn a_new_leader_with_an_old_copy_does_not_put_a_finished_unit_back_into_an_empty_stack() {
    let config = config(2, "leader", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 b0 c0 b1 c1 l1",
    );
    if world.cluster.stack().is_empty() && world.cluster.state(0) == Some("idle") {
        let mut next = world.clone();
        next.cluster.begin(1);
        next.cluster.commit(1);
        assert!(
            next.cluster.stack().is_empty(),
            "{:?}",
            next.cluster.stack()
        );
    }
    all_continuations_are_safe(&config, world);
}

/// 2 units, a second refresh (v0 mode). While the leader was in the middle of its own upgrade
/// hook, a second `juju refresh` reached mysql/1, already `completed` and still on top in the
/// committed stack: its `upgrade-charm` set it `ready` and, on an old copy of the leader, it
/// upgraded again: two workloads changing together.
#[test]
fn a_second_refresh_mid_upgrade_pauses_instead_of_upgrading_a_unit_twice() {
    let config = config(2, "refresh", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 b0 r42",
    );
    if world.cluster.state(1) == Some("completed") && world.cluster.is_busy(0) {
        let mut next = world.clone();
        let upgrades = next.cluster.upgrades.len();
        next.cluster.begin(1);
        next.cluster.commit(1);
        assert_eq!(
            next.cluster.upgrades.len(),
            upgrades,
            "mysql/1 upgraded again"
        );
        assert_eq!(next.cluster.state(1), Some("failed"), "the upgrade pauses");
    }
    all_continuations_are_safe(&config, world);
}

/// 2 units, a second refresh (v0 mode), no failure. The leader, `ready` but not yet upgraded,
/// took the second refresh, upgraded to 8.0.35 and ended the upgrade; mysql/1 had completed on
/// 8.0.34 and got its `upgrade-charm` after the stack emptied: a mixed-version application,
/// every unit active.
#[test]
fn a_second_refresh_on_a_ready_unit_pauses_so_no_unit_stays_on_the_first_charm() {
    let config = config(2, "refresh", None);
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 r44",
    );
    all_continuations_are_safe(&config, world);
}

/// 2 units, a second refresh (v0 mode): the first unit failed, and a second `juju refresh`
/// came before the operator entered recovery. v0 turns a failed unit's `upgrade-charm` into
/// `ready`: the leader resumed the upgrade on the new charm, left mysql/1 (completed on the
/// first) behind, and ended with mixed versions.
#[test]
fn a_refresh_onto_a_paused_upgrade_without_recovery_keeps_it_paused() {
    let config = config(2, "refresh", Some(1));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 b1 c1 b1 c1 r44",
    );
    if world.cluster.state(0) == Some("failed") {
        let mut next = world.clone();
        next.cluster.begin(0);
        next.cluster.commit(0);
        assert_eq!(next.cluster.state(0), Some("failed"), "still paused");
    }
    all_continuations_are_safe(&config, world);
}

/// 2 units, a second refresh (v0 mode). mysql/1 paused on the second refresh, deciding on a
/// view where the stack still held units, while the leader's hook emptied it. Recovery left
/// the empty stack empty (v0's repair), so the rollback refresh found no stack and nothing
/// could move mysql/1 out of `failed`.
#[test]
fn recovery_with_an_empty_stack_stacks_every_unit_with_the_failed_ones_first() {
    let config = config(2, "refresh", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 b0 r42 b1 c0 b0 c0 c1",
    );
    let cluster = &world.cluster;
    if cluster.stack().is_empty() && cluster.state(1) == Some("failed") && cluster.is_quiet() {
        let mut next = world.clone();
        assert_eq!(next.cluster.run_pre_upgrade_check(0).failed, None);
        if next.cluster.state(0) == Some("recovery") {
            assert_eq!(
                next.cluster.stack(),
                vec![0, 1],
                "every unit, the failed one on top"
            );
        }
    }
    all_continuations_are_safe(&config, world);
}

/// 2 units, a second refresh (v0 mode), no failure. After the pause and the recovery, mysql/1
/// ran the `upgrade-charm` left over from the second refresh (charm 44): `ready` for the new
/// round and, on an old copy of the leader, upgraded to 8.0.35 before the rollback refresh,
/// then counted as rolled back. Grants now wait until the leader ran the rollback's
/// `upgrade-charm` (the app bag says so, and the app bag is always read fresh).
#[test]
fn no_unit_upgrades_between_recovery_and_the_rollback_refresh() {
    let config = config(2, "refresh", None);
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         r44 b0 c0 b0 c0 O:recover",
    );
    if world.cluster.state(0) == Some("recovery") {
        let mut next = world.clone();
        let upgrades = next.cluster.upgrades.len();
        next.cluster.settle();
        assert_eq!(
            next.cluster.upgrades.len(),
            upgrades,
            "upgraded before the refresh"
        );
    }
    all_continuations_are_safe(&config, world);
}

/// 2 units, leadership moves. The rollback gate above was released only by the leader's
/// `upgrade-charm`; leadership moved while that hook ran, its write was lost, and the new
/// leader had already run its own `upgrade-charm`: nobody released it.
#[test]
fn a_new_leader_that_already_has_the_rollback_charm_lets_the_rollback_go() {
    let config = config(2, "leader", Some(0));
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c1 l1",
    );
    all_continuations_are_safe(&config, world);
}

/// 2 units, beyond v0 (the charm reports its versions), the rollback failing once, one hook
/// error. The operator's refresh to the revision mysql/1 already ran and had completed on gave
/// it another `upgrade-charm`: it went back to `ready` while still on top and upgraded again
/// while the leader, on an older copy saying `completed`, popped it and upgraded itself (two
/// workloads changing together); once the stack was empty it waited `ready` forever.
#[test]
fn a_refresh_that_does_not_change_a_completed_units_charm_changes_nothing_for_it() {
    let mut config = config(2, "error,kill", Some(0));
    config.beyond_v0 = true;
    config.script.fail_rollback = Some(0);
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b1 c1 b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 b0 c0 \
         O:recover b1 c1 b1 c1 O:rollback b0 c0 O:recover b1 c1 b0 b1 c0 c1 b1 O:rollback \
         b0 c0 e1",
    );
    all_continuations_are_safe(&config, world);
}

/// 2 units, beyond v0, unit removal. The leader was removed while its rollback `upgrade-charm`
/// ran (the release of the rollback gate went with it); the new leader took the rollback over
/// and started a new round, so its own round mark was no longer current and the gate stayed
/// shut with mysql/1 `ready` on top.
#[test]
fn a_leader_running_the_round_target_opens_the_rollback_gate() {
    let mut config = config(2, "remove", Some(0));
    config.beyond_v0 = true;
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b1 c1 b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c1 x0",
    );
    all_continuations_are_safe(&config, world);
}

/// 2 units, beyond v0, a second refresh. The rollback had ended (every unit idle, no stack)
/// when a refresh to the revision already running reached the leader, whose copy of mysql/1
/// still said `completed`: it took that for an upgrade under way and started an automatic
/// rollback round that mysql/1 (idle, charm unchanged) never joined.
#[test]
fn a_refresh_that_changes_no_charm_starts_nothing_when_no_upgrade_is_prepared() {
    let mut config = config(2, "refresh", Some(0));
    config.beyond_v0 = true;
    let (world, _) = reach(
        &config,
        "b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 O:prepare b1 c1 O:refresh b0 b1 c0 c1 b0 b1 c0 c1 \
         b1 c1 b0 c0 O:recover b1 c1 b1 c1 O:rollback b0 b1 c0 c1 b0 b1 c0 c1 b1 c1 b0 c0 \
         b1 c1 b1 c1 r42",
    );
    all_continuations_are_safe(&config, world);
}

/// A bug found by a random walk: the seed's walk (a fresh one, since the fix changes which
/// steps are possible) and the recorded failing trace both run with no violation.
fn seed_and_trace_are_safe(config: &Config, seed: u64, trace: &str) {
    let walked = walk(config, seed);
    let found: Vec<&String> = walked
        .violations
        .iter()
        .map(|(message, _)| message)
        .collect();
    assert!(
        found.is_empty(),
        "seed {seed}: {found:?}\n{}",
        format_trace(&walked.trace)
    );
    let chosen = seeded_config(config, &mut SplitMix64::new(seed));
    let (world, _) = reach(&chosen, trace);
    assert!(world.cluster.violations.is_empty());
}

/// Random walks of 5 units with up to 4 faults, seed 399 (v0). Leadership moved to mysql/2
/// after the upgrade to 43 ended; a second refresh (44) reached it with no stack left (v0 logs
/// and ignores it), and when it went idle it stored its own charm's dependencies (44's) as the
/// baseline of an application whose workloads all run 43's. The baseline now comes from the
/// last pop, and a unit that got a charm it did not upgrade to (the refresh found no stack)
/// loses its round mark, so finishing does not store its charm's.
#[test]
fn a_leader_on_a_charm_it_did_not_upgrade_to_does_not_store_that_charms_baseline() {
    let mut config = Config::new(5);
    config.vary = true;
    config.max_faults = 4;
    seed_and_trace_are_safe(
        &config,
        399,
        "b1 c1 b2 b3 b4 c4 c3 b4 c2 b2 c4 b3 b1 c2 b4 b2 c2 b2 c4 c2 b4 b0 c3 b3 c4 c0 c1 \
         b4 b1 c1 b0 b2 c0 b0 c3 c4 x1 b3 c0 c3 b0 c0 b3 b0 c0 c2 b4 c4 c3 b3 b0 c3 c0 b4 \
         b2 c2 b0 c0 c4 b2 c2 O:prepare O:refresh b4 b3 x3 b2 b0 c0 b0 c0 b0 c0 b0 c0 c4 \
         b0 c0 c2 b0 b2 b4 c2 c0 b2 c2 c4 b2 c2 b2 b4 c2 c4 b4 c4 b4 c4 b0 c0 b4 b2 c2 b2 \
         c4 b4 c2 b0 c0 c4 b4 b2 c4 r44 l2 b0 c0 b4 c2 b2 c2 b2 c4 b4 c4 b0 c2 c0 b2 c2 \
         b2 b4 b0 c0 b0 c4 c0 c2 b4 c4 O:finish",
    );
}

/// Random walks of 3 units with up to 6 faults at 10%, seed 4510 (v0). Removals emptied the
/// stack (no last pop) and the unit that finished did so before it became leader: nobody
/// stored the baseline. A leader with no stack whose round mark says it upgraded in the last
/// round with the charm it runs now stores that charm's dependencies.
#[test]
fn the_baseline_is_stored_when_removals_end_the_round() {
    let mut config = Config::new(3);
    config.vary = true;
    config.max_faults = 6;
    config.fault_percent = 10;
    seed_and_trace_are_safe(
        &config,
        4510,
        "b1 b2 c1 c2 b0 c0 b1 b2 c2 b2 c1 b1 c1 b0 c2 c0 b0 c0 b1 b2 c2 c1 O:prepare \
         O:refresh b0 b1 c1 b2 c0 c2 b0 c0 b1 b2 c2 b0 c0 b2 c2 b2 k1 c2 b1 b0 c1 c0 b1 \
         c1 b2 b1 c2 c1 b1 c1 b0 b2 c0 l2 x0 b1 c1 c2 b2 c2 b1 x2 c1 b1 c1 b1 c1 O:finish",
    );
}

/// Random walks of 3 units with up to 6 faults at 10%, beyond v0.
fn beyond_v0_walks() -> Config {
    let mut config = Config::new(3);
    config.vary = true;
    config.max_faults = 6;
    config.fault_percent = 10;
    config.beyond_v0 = true;
    config
}

/// Seed 248 (beyond v0). The upgrade to 43 ended on the leader while mysql/0 was still
/// `completed`; a second refresh (44) reached mysql/0, which went `ready` with no stack, and
/// the leader was removed before its own `upgrade-charm`. mysql/0, now leader, waited forever:
/// taking a round over was only for a round with a stack. Now a leader refreshed during the
/// round takes it over with an empty stack too, unless the round ended on the charm it runs.
#[test]
fn a_leader_refreshed_as_the_round_ended_takes_the_next_round_over() {
    seed_and_trace_are_safe(
        &beyond_v0_walks(),
        248,
        "b2 b0 b1 x1 c0 c2 b0 b2 c0 c2 b0 b2 c2 c0 b0 c0 O:prepare O:refresh b2 c2 b0 c0 b2 b0 \
         c0 c2 b0 c0 b2 c2 r44 b0 c0 x2 b0 c0 b0 c0 b0 c0 O:finish",
    );
}

/// Seed 4604 (beyond v0). mysql/0 upgraded to 44 before any leader adopted it; the leader then
/// started a new round for 44 with mysql/0 back in the stack, `completed` from the round
/// before, and nothing moved it: the leader pops only this round's completions. Now a unit
/// `completed` with the charm the round targets counts itself done in the new round (not in
/// a rollback round, where every unit put back goes again).
#[test]
fn a_unit_already_on_the_target_counts_as_done_in_a_new_round() {
    seed_and_trace_are_safe(
        &beyond_v0_walks(),
        4604,
        "b1 b2 c2 b0 c1 b2 b1 c0 b0 c0 c2 c1 b2 c2 b0 c0 b0 b2 b1 l2 c1 c0 c2 b2 c2 O:prepare \
         b0 O:refresh b2 l0 b1 c1 b1 c2 c1 b2 x1 c0 b0 c0 c2 b2 l2 c2 r44 b0 c0 b0 c0 b0 c0 b2 \
         c2 b0 b2 c2 b2 c2 c0 b0 e0 b0 c0 b0 c0 O:finish",
    );
}

/// Seed 4510 (beyond v0). The failed unit was removed; the units left finished on 43 as
/// non-leaders, and the leaders that could have recorded the round's outcome left: the
/// baseline stayed 42's and a rollback would have returned to 42. Now an idle leader whose
/// round mark says it upgraded in the last round, with no refresh pending, records the
/// versions reached and their dependencies.
#[test]
fn an_idle_leader_records_the_outcome_of_a_round_ended_by_removals() {
    seed_and_trace_are_safe(
        &beyond_v0_walks(),
        4510,
        "b1 b2 c1 c2 b0 c0 b1 b2 c2 b2 c1 b1 c1 b0 c2 c0 b0 c0 b1 b2 c2 c1 O:prepare O:refresh \
         b0 b1 c1 b2 c0 c2 b0 c0 b1 b2 c2 b0 c0 b2 c2 b2 k1 c2 b1 b0 c1 c0 b1 c1 b2 b1 c2 c1 b1 \
         c1 b0 b2 c0 l2 x0 b1 c1 c2 b2 c2 b1 x2 c1 b1 c1 b1 c1 O:finish",
    );
}

/// Seed 8864 (beyond v0). A leader on 43 took a round targeting 44 over (it had not run its
/// `upgrade-charm` for 44 yet) and left; the next leader, on 44, had received its charm in the
/// round before that takeover, so it did not take the round back, and the round stayed on a
/// charm nobody ran. A charm received earlier in the same upgrade now counts too, except in a
/// rollback round and for the original charm.
#[test]
fn a_leader_takes_back_a_round_an_old_leader_moved_to_an_older_charm() {
    seed_and_trace_are_safe(
        &beyond_v0_walks(),
        8864,
        "b0 b2 b1 e0 c2 c1 b0 b1 b2 c0 c1 b1 c1 b0 c0 c2 b0 c0 x0 b1 b2 c2 c1 l2 b2 c2 b2 c2 \
         O:prepare O:refresh b1 r44 b2 c2 c1 b2 c2 l1 b1 c1 x1 b2 c2 b2 c2 b2 c2 O:finish",
    );
}

/// Seed 31436 (beyond v0), a safety bug: the leader popped the completed top (mysql/0) and
/// went on to upgrade itself in the same hook; before that hook committed, a second refresh
/// made mysql/0 `ready` again on top of the committed stack, and leadership moved to it. It
/// took the round over for the newer charm, kept itself first and upgraded while the old
/// leader's workload was still changing. Now a unit refreshed after completing records it
/// (`refreshed-after-completing`), and a leader restarting the round lets the next unit go
/// first and puts the completed one right under it.
#[test]
fn a_round_restarted_by_a_new_leader_never_lets_a_completed_top_go_before_the_next_unit() {
    seed_and_trace_are_safe(
        &beyond_v0_walks(),
        31436,
        "b2 c2 x2 b0 b1 c1 b1 c0 c1 b0 b1 c1 c0 b0 e0 b0 c0 b0 c0 O:prepare O:refresh b1 b0 c1 \
         c0 b1 b0 c1 c0 b0 c0 b1 r44 b0 c0 l0 b0",
    );
}
