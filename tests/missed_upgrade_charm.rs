//! A unit whose hook is in error as `juju refresh` lands gets the new charm at the retry of
//! that hook, and Juju runs no `upgrade-charm` for it (juju/juju#20173). The charm notices
//! the swap from its own bag on that hook and joins the upgrade; the rollout goes on to the
//! end, one unit at a time, with no operator step beyond the how-to's.
//!
//! Every settle checks after each operation that at most one unit is `upgrading` and at most
//! one MySQL server is down (see `Sim::settle`).

use e2e::{binaries, Sim, APP, NEW_VERSION};
use juju_sim::engine::Source;
use juju_sim::model::OpKind;

/// Three units of revision 182, upgrade prepared.
fn prepared(seed: u64) -> Sim {
    let mut sim = Sim::new(seed, binaries!());
    sim.deploy_old(3);
    sim.pre_upgrade_check();
    sim
}

/// The hooks `unit` ran after its charm swap to `revision`, by name.
fn hooks_after_swap(sim: &Sim, unit: &str, revision: u64) -> Vec<String> {
    let history = sim.engine.history().expect("history");
    let swap = history
        .iter()
        .position(|op| {
            op.unit == unit && op.kind == OpKind::CharmSwap && op.revision == Some(revision)
        })
        .unwrap_or_else(|| panic!("{unit} never swapped to {revision}"));
    history[swap + 1..]
        .iter()
        .filter(|op| op.unit == unit)
        .map(|op| op.name.clone())
        .collect()
}

/// The upgrade goes through on every unit for an operator following the application status
/// (with the default `pause-after-unit-refresh=first` it names `resume-upgrade` once): MySQL
/// 8.0.34 everywhere, back to `idle`, the stack gone, the application active, each unit
/// upgraded once, one at a time.
fn assert_upgraded(sim: &mut Sim) {
    let followed = sim.follow_the_status(&[], 3);
    assert_eq!(followed.commands.len(), 1, "{followed:?}");
    assert!(
        followed.commands[0].ends_with("resume-upgrade"),
        "{followed:?}"
    );
    sim.assert_all_active_on(NEW_VERSION);
    assert_eq!(sim.upgrade_stack().as_deref().unwrap_or("[]"), "[]");
    assert_eq!(sim.app_status(), ("active".to_owned(), String::new()));
    let order = sim.assert_one_at_a_time(&sim.windows());
    assert_eq!(order.len(), 3, "each unit upgraded once: {order:?}");
}

#[test]
fn a_unit_in_error_as_the_refresh_lands_joins_the_upgrade_without_upgrade_charm() {
    for seed in [1, 5] {
        let mut sim = prepared(seed);
        // mysql/1's leader-settings-changed fails: it is in error when the refresh lands.
        sim.engine
            .fail_next_hook_named("mysql/1", "leader-settings-changed")
            .expect("arm");
        sim.engine.move_leader(APP, "mysql/2").expect("leader");
        let revision = sim
            .engine
            .refresh(APP, Source::Path(sim.new_charm()))
            .expect("refresh");
        sim.settle();
        let after = hooks_after_swap(&sim, "mysql/1", revision);
        assert!(
            !after.iter().any(|name| name == "upgrade-charm"),
            "seed {seed}: Juju ran no upgrade-charm on mysql/1: {after:?}"
        );
        assert!(
            !sim.log_lines("mysql/1", "swapped without upgrade-charm")
                .is_empty(),
            "seed {seed}: {}",
            sim.debug_log()
        );
        assert_upgraded(&mut sim);
    }
}

#[test]
fn a_unit_shown_in_error_by_update_status_before_the_refresh_joins_the_upgrade() {
    for seed in [2, 7] {
        let mut sim = prepared(seed);
        sim.engine
            .fail_next_hook_named("mysql/1", "update-status")
            .expect("arm");
        sim.engine.update_status("mysql/1").expect("update-status");
        // Run until mysql/1's update-status failed, then refresh while it is in error.
        for _ in 0..50 {
            if !sim.engine.errors().is_empty() {
                break;
            }
            assert!(sim.step(), "update-status never ran");
        }
        assert_eq!(sim.unit_status("mysql/1").0, "error");
        let revision = sim
            .engine
            .refresh(APP, Source::Path(sim.new_charm()))
            .expect("refresh");
        sim.settle();
        let after = hooks_after_swap(&sim, "mysql/1", revision);
        assert_eq!(
            after.first().map(String::as_str),
            Some("update-status"),
            "seed {seed}: the failed update-status is retried with the new charm: {after:?}"
        );
        assert!(
            !after.iter().any(|name| name == "upgrade-charm"),
            "{after:?}"
        );
        assert_upgraded(&mut sim);
    }
}
