//! Whole rollouts in the in-process cluster: the hook counts Juju's fan-out forces, and the
//! reads the two patterns make over the same hooks (no timing is asserted).

use upgrade_bench::rollout::rollout;

#[test]
fn the_fan_out_makes_every_unit_hear_of_every_other_and_each_unit_runs_a_linear_share() {
    for units in [3_u32, 10, 20] {
        let result = rollout(units, true).expect("the upgrade and the rollback finish");
        let n = u64::from(units);
        for (phase, count) in [("upgrade", result.upgrade), ("rollback", result.rollback)] {
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
fn reads_grow_a_power_faster_than_hooks_unless_waiting_units_skip_their_peers() {
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
        // Reading every unit only when it may act keeps the reads in step with the hooks:
        // those hooks are a linear share of them.
        assert!(two_step < 1.3 * hooks, "reads x{two_step}, hooks x{hooks}");
        assert!(large.reads_two_step < large.reads_every_unit);
        assert!(large.two_step_full_reads <= 8 * 20, "{large:?}");
    }
}
