//! Random event orders through the cluster harness: random hook interleavings across units
//! (hooks of different units overlap), random upgrade and rollback failures, random leader.
//!
//! Properties, checked by the harness on every step and by the assertions below:
//! - at most one unit upgrades its workload at a time;
//! - a unit is granted only when it is on top of the stack;
//! - a unit leaves the stack only after completing in the current round, so no unit is dropped
//!   during recovery, and entering recovery puts every unit back into the stack;
//! - every run ends quiet with all units idle and active, or paused on exactly one failed unit.

use juju_upgrade::StatusKind;
use juju_upgrade_harness::cluster::Cluster;
use juju_upgrade_harness::fixtures::{howto_revisions, model, REV_42_DEPS, REV_43_DEPS};
use proptest::prelude::*;

const RECOVERY_ROUNDS: usize = 3;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_event_orders_keep_the_upgrade_safe(
        count in 1u32..=4,
        leader_pick in any::<u32>(),
        choices in prop::collection::vec(any::<u32>(), 0..800),
        upgrade_failures in prop::collection::vec(any::<bool>(), 4),
        rollback_failures in prop::collection::vec(
            prop::collection::vec(prop::bool::weighted(0.2), 4),
            RECOVERY_ROUNDS,
        ),
    ) {
        let leader = leader_pick % count;
        let units: Vec<u32> = (0..count).collect();
        let mut cluster = Cluster::deploy(count, leader, &howto_revisions(), 42);
        let mut choices = choices.into_iter();
        cluster.settle_randomly(&mut choices);
        prop_assert!(units.iter().all(|&u| cluster.state(u) == Some("idle")));

        let check = cluster.run_pre_upgrade_check(leader);
        prop_assert_eq!(check.failed, None);
        for &unit in &units {
            if upgrade_failures[unit as usize] {
                cluster.script_failures(unit, &[true]);
            }
        }
        cluster.refresh(43);
        cluster.settle_randomly(&mut choices);
        let mut target = (43, "8.0.34", REV_43_DEPS);

        for failures in rollback_failures.iter().take(RECOVERY_ROUNDS) {
            let failed = cluster.failed_units();
            if failed.is_empty() {
                break;
            }
            prop_assert_eq!(failed.len(), 1, "one failure pauses everything");
            let prepare = cluster.run_pre_upgrade_check(leader);
            prop_assert_eq!(prepare.failed, None);
            prop_assert_eq!(cluster.state(leader), Some("recovery"));
            let mut in_stack = cluster.stack();
            in_stack.sort_unstable();
            prop_assert_eq!(&in_stack, &units, "recovery puts every unit back");
            prop_assert_eq!(cluster.stack().last().copied(), failed.first().copied(), "failed unit first");
            for &unit in &units {
                let sim = cluster.units.get_mut(&unit).expect("unit");
                sim.failures.clear();
                if failures[unit as usize] {
                    cluster.script_failures(unit, &[true]);
                }
            }
            cluster.refresh(42);
            cluster.settle_randomly(&mut choices);
            target = (42, "8.0.33", REV_42_DEPS);
        }

        prop_assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
        prop_assert!(cluster.is_quiet());
        let failed = cluster.failed_units();
        if failed.is_empty() {
            prop_assert!(cluster.all_idle_and_active(), "stuck: {:?}", cluster.units);
            let baseline = model(target.2).to_json();
            prop_assert_eq!(cluster.dependencies(), Some(baseline.as_str()));
            for sim in cluster.units.values() {
                prop_assert_eq!(sim.revision, target.0);
                prop_assert_eq!(sim.workload.as_str(), target.1);
            }
        } else {
            prop_assert_eq!(failed.len(), 1);
            let status = cluster.status(failed[0]).map(|s| s.kind);
            prop_assert_eq!(status, Some(StatusKind::Blocked));
            prop_assert!(units.iter().all(|&u| cluster.state(u) != Some("upgrading")));
        }
    }
}
