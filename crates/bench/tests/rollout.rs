//! Whole rollouts in the in-process cluster: the hook counts Juju's fan-out forces, and the
//! peer-relation reads the hooks make in two steps, as the core decided them, with the peer
//! cache, against reading every unit in every hook (counts only; no timing is asserted).

use juju_upgrade_harness::cluster::Cluster;
use juju_upgrade_harness::fixtures::{howto_revisions, ORIGINAL_REVISION, UPGRADE_REVISION};
use upgrade_bench::rollout::{rollout, run_next_hook, PhaseCount, Ran};

fn phases(units: u32) -> [(&'static str, PhaseCount); 2] {
    let result = rollout(units, true).expect("the upgrade and the rollback finish");
    assert_eq!(result.units, units);
    [("upgrade", result.upgrade), ("rollback", result.rollback)]
}

#[test]
fn the_fan_out_makes_every_unit_hear_of_every_other_and_each_unit_runs_a_linear_share() {
    for units in [3_u32, 10, 20] {
        let n = u64::from(units);
        for (phase, count) in phases(units) {
            // Every unit's state changes at least once, and each change reaches every other
            // unit: at least n(n-1) relation-changed hooks.
            assert!(count.hooks >= n * (n - 1), "{phase} on {n}: {count:?}");
            // A unit hears of each peer a bounded number of times: linear per unit.
            assert!(
                count.max_hooks_per_unit <= 5 * n,
                "{phase} on {n}: {count:?}"
            );
            assert!(count.leader_hooks >= 1 && count.leader_hooks <= count.max_hooks_per_unit);
        }
    }
}

#[test]
fn in_two_steps_a_rollout_makes_fewer_reads_than_reading_every_unit_in_every_hook() {
    for units in [3_u32, 10] {
        let n = u64::from(units);
        for (phase, count) in phases(units) {
            // No unit leaves: every hook sees n units. Reading every unit costs n + 4 calls a
            // hook; in two steps 5, and one more `relation-get` for each other unit's bag the
            // hooks that needed the others read (their peer cache stood for the rest).
            assert_eq!(
                count.reads_every_unit,
                (n + 4) * count.hooks,
                "{phase} on {n}"
            );
            assert_eq!(
                count.reads_two_step,
                5 * count.hooks + (count.bags_read - 2 * count.hooks),
                "{phase} on {n}: {count:?}"
            );
            // The peer cache: at most three bags a hook over the whole phase, and about one
            // hook per unit that reads every bag.
            assert!(
                count.bags_read <= 3 * count.hooks,
                "{phase} on {n}: {count:?}"
            );
            assert!(
                count.cache_misses >= 1 && count.cache_misses <= n + 2,
                "{phase} on {n}: {count:?}"
            );
            // Some hooks decided from their own bag and the application bag alone ...
            assert!(
                count.two_step_full_reads < count.hooks,
                "{phase} on {n}: {count:?}"
            );
            assert_eq!(count.max_partial_hook_reads, 5, "{phase} on {n}");
            // ... so the rollout reads less.
            assert!(
                count.reads_two_step < count.reads_every_unit,
                "{phase} on {n}: {count:?}"
            );
        }
    }
}

#[test]
fn the_hooks_that_read_every_unit_grow_linearly_with_the_units_while_all_hooks_grow_quadratically()
{
    let sizes = [3_u32, 10, 20];
    let runs: Vec<[(&str, PhaseCount); 2]> = sizes.iter().map(|&units| phases(units)).collect();
    for (run, &units) in runs.iter().zip(&sizes) {
        let n = u64::from(units);
        for (phase, count) in run {
            // The leader's hooks (about 3 per unit) and, on each non-leader, the few at its
            // turn and when finishing: a bounded number per unit.
            assert!(
                count.two_step_full_reads <= 8 * n,
                "{phase} on {n}: {count:?}"
            );
            assert!(count.two_step_full_reads >= n, "{phase} on {n}: {count:?}");
        }
    }
    // Doubling the units (10 to 20) about quadruples the hooks but only about doubles the
    // hooks that read every unit.
    for ((phase, small), (_, large)) in runs[1].iter().zip(&runs[2]) {
        assert!(
            large.hooks > 3 * small.hooks,
            "{phase}: {small:?} {large:?}"
        );
        assert!(
            2 * large.two_step_full_reads < 5 * small.two_step_full_reads,
            "{phase}: {small:?} {large:?}"
        );
    }
}

#[test]
fn reading_every_unit_grows_a_power_faster_than_the_hooks_and_two_steps_keep_in_step_with_them() {
    let small = rollout(10, true).expect("10 units");
    let large = rollout(20, true).expect("20 units");
    for (small, large) in [
        (small.upgrade, large.upgrade),
        (small.rollback, large.rollback),
    ] {
        let hooks = large.hooks as f64 / small.hooks as f64;
        let every_unit = large.reads_every_unit as f64 / small.reads_every_unit as f64;
        let two_step = large.reads_two_step as f64 / small.reads_two_step as f64;
        // Doubling the units about quadruples the hooks (n^2) ...
        assert!((3.0..5.5).contains(&hooks), "hooks x{hooks}");
        // ... and, with every hook reading every unit, about doubles the reads per hook (n^3).
        assert!(
            every_unit > 1.7 * hooks,
            "reads x{every_unit}, hooks x{hooks}"
        );
        // In two steps the reads stay in step with the hooks: the hooks that read every unit
        // are a linear share of them.
        assert!(two_step < 1.3 * hooks, "reads x{two_step}, hooks x{hooks}");
    }
}

#[test]
fn a_non_leader_waiting_its_turn_makes_five_reads_whatever_the_size() {
    for units in [3_u32, 10, 50] {
        let n = u64::from(units);
        let mut cluster = Cluster::deploy(units, 0, &howto_revisions(), ORIGINAL_REVISION);
        cluster.keep_logs = false;
        cluster.report_versions = true;
        cluster.settle();
        let prepared = cluster.run_pre_upgrade_check(cluster.leader);
        assert_eq!(prepared.failed, None);
        cluster.refresh(UPGRADE_REVISION);
        let mut waiting_hooks = 0_u64;
        let mut waiting_units = std::collections::BTreeSet::new();
        while let Some(&unit) = cluster.ready_units().first() {
            let stack = cluster.stack();
            // In the stack, below the top: upgrading is not this unit's turn yet.
            let waiting =
                unit != cluster.leader && stack.contains(&unit) && stack.last() != Some(&unit);
            let reads = run_next_hook(&mut cluster, unit)
                .expect("the cluster counts the hook")
                .expect("a ready unit runs a hook");
            assert!(matches!(reads.ran, Ran::Hook(_)));
            assert_eq!(reads.units_seen, n);
            assert_eq!(reads.reads_every_unit, n + 4);
            if waiting {
                assert!(!reads.read_every_unit, "{n} units: {reads:?}");
                assert_eq!(reads.reads_two_step, 5, "{n} units: {reads:?}");
                waiting_hooks += 1;
                waiting_units.insert(unit);
            }
        }
        assert!(cluster.all_idle_and_active(), "{n} units");
        assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
        // Every non-leader but the first to go waited (the leader goes last).
        assert!(
            waiting_units.len() as u64 >= n - 2,
            "{n} units: {waiting_units:?}"
        );
        assert!(waiting_hooks >= n - 2, "{n} units: {waiting_hooks}");
    }
}
