//! A unit in error as `juju refresh` lands: Juju swaps its charm at the retry of the failed
//! hook and runs no `upgrade-charm` for it (juju/juju#20173). The unit notices the swap from
//! its own bag at that hook and joins the round, so the rollout never waits on it for good.

use juju_upgrade_harness::cluster::Cluster;
use juju_upgrade_harness::explore::{
    exhaustive, exhaustive_from, format_trace, parse_trace, replay_to, Config, Faults, Report,
};
use juju_upgrade_harness::fixtures::UPGRADE_REVISION;
use juju_upgrade_harness::scenario::Script;

fn explain(report: &Report) -> String {
    let mut text = report.closing_line();
    for found in &report.examples {
        text.push_str(&format!(
            "\nVIOLATION: {}\n  trace: {}",
            found.message,
            format_trace(&found.trace)
        ));
    }
    text
}

/// Three units reporting their versions, upgrade prepared, mysql/1's `update-status` failed,
/// then `juju refresh`.
fn refreshed_with_unit_1_in_error() -> Cluster {
    let mut cluster = Cluster::builder(3).charm_versions(true).deploy();
    cluster.settle();
    let check = cluster.run_pre_upgrade_check(0);
    assert!(check.failed.is_none(), "{check:?}");
    cluster.settle();
    cluster.fail_update_status(1);
    cluster.refresh(UPGRADE_REVISION);
    cluster
}

#[test]
fn a_unit_swapped_without_upgrade_charm_joins_the_round_and_every_unit_upgrades() {
    let mut cluster = refreshed_with_unit_1_in_error();
    assert!(cluster.can_swap_charm(1));
    assert!(
        !cluster.can_swap_charm(0),
        "a unit not in error gets upgrade-charm"
    );
    cluster.swap_charm(1);
    assert_eq!(cluster.units[&1].revision, UPGRADE_REVISION);
    assert!(!cluster.units[&1].pending_upgrade_charm);
    cluster.settle();
    // The default pause setting is unset here: no pause, the rollout goes to the end.
    assert_eq!(cluster.healthy_at(UPGRADE_REVISION), Ok(()));
    assert_eq!(cluster.upgrades.len(), 3, "{:?}", cluster.upgrades);
}

#[test]
fn a_unit_in_error_that_retries_before_the_swap_gets_upgrade_charm_as_usual() {
    let mut cluster = refreshed_with_unit_1_in_error();
    cluster.settle();
    assert_eq!(cluster.healthy_at(UPGRADE_REVISION), Ok(()));
}

/// The trace the explorer found the wedge by: mysql/0 (the leader) in error as the refresh
/// lands, swapped at its retry; every continuation from the swap is searched.
#[test]
fn every_continuation_after_the_leader_is_swapped_without_upgrade_charm_is_safe() {
    let mut config = Config::new(3);
    config.beyond_v0 = true;
    config.faults = Faults::parse("swap,error").expect("fault kinds");
    let trace = parse_trace(
        "b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 O:prepare b1 b2 c1 c2 \
         E0 O:refresh b1 b2 c1 c2 b1 b2 c1 c2 s0",
    )
    .expect("trace");
    let (world, replay) = replay_to(&config, &trace).expect("the trace still replays");
    assert!(replay.violations.is_empty(), "{:?}", replay.violations);
    assert_eq!(world.cluster.units[&0].revision, UPGRADE_REVISION);
    let report = exhaustive_from(&config, world, 3_000_000);
    assert!(!report.truncated, "{}", report.closing_line());
    assert_eq!(report.violations, 0, "{}", explain(&report));
}

#[test]
fn two_units_with_a_unit_in_error_at_each_refresh_keep_every_invariant() {
    for script in [
        Script::default(),
        Script {
            fail_upgrade: None,
            ..Script::default()
        },
    ] {
        let mut config = Config::new(2);
        config.beyond_v0 = true;
        config.script = script;
        config.faults = Faults::parse("swap").expect("fault kinds");
        let report = exhaustive(&config, 3_000_000);
        println!("{}", report.closing_line());
        assert!(!report.truncated, "{}", report.closing_line());
        assert!(report.faults_injected > 0, "{}", report.closing_line());
        assert_eq!(report.violations, 0, "{}", explain(&report));
    }
}
