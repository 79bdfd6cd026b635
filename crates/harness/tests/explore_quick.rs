//! The quick configuration of the explorer, run by `cargo test`: every interleaving of 2 units
//! with one fault of any kind injected at any step, for each operator script; every
//! interleaving of 3 units without faults; seeded random walks of 3 to 5 units with up to four
//! faults each; and the same 2-unit searches for a charm that reports its versions (the core's
//! behaviour beyond v0). It prints one closing line with the figures and fails on any violation, with
//! the trace (and seed) to replay it.
//!
//! The long run is a command (see RELIABILITY.md at the repository root).

use juju_upgrade_harness::explore::{
    exhaustive, format_trace, random_walks, Config, Faults, Report,
};
use juju_upgrade_harness::scenario::Script;

/// The operator scripts explored: the how-to's flow (the first unit fails, recovery, rollback),
/// a clean upgrade, a later unit failing, and the rollback failing too.
fn scripts() -> Vec<Script> {
    let base = Script::default();
    vec![
        base,
        Script {
            fail_upgrade: None,
            ..base
        },
        Script {
            fail_upgrade: Some(1),
            ..base
        },
        Script {
            fail_rollback: Some(0),
            ..base
        },
    ]
}

fn explain(report: &Report) -> String {
    let mut text = report.closing_line();
    for found in &report.examples {
        text.push_str(&format!("\nVIOLATION: {}", found.message));
        if let Some(seed) = found.seed {
            text.push_str(&format!("\n  seed {seed}"));
        }
        text.push_str(&format!("\n  trace: {}", format_trace(&found.trace)));
    }
    text
}

#[test]
fn quick_exploration_finds_no_violation() {
    let mut total = Report {
        mode: "quick",
        config: "v0: 2 units exhaustive x 4 scripts, one fault of any kind; 3 units exhaustive, no fault; 3-5 units random, up to 4 faults. beyond-v0: the same 2-unit searches".into(),
        ..Report::default()
    };
    for script in scripts() {
        let mut config = Config::new(2);
        config.script = script;
        let report = exhaustive(&config, 2_000_000);
        assert!(!report.truncated, "{}", report.closing_line());
        assert_eq!(report.violations, 0, "{}", explain(&report));
        total.absorb(report);
    }

    // Beyond v0 (the charm reports its versions).
    for script in scripts() {
        let mut config = Config::new(2);
        config.script = script;
        config.beyond_v0 = true;
        let report = exhaustive(&config, 2_000_000);
        assert_eq!(report.violations, 0, "{}", explain(&report));
        total.absorb(report);
    }

    let mut config = Config::new(3);
    config.faults = Faults::NONE;
    let report = exhaustive(&config, 2_000_000);
    assert_eq!(report.violations, 0, "{}", explain(&report));
    total.absorb(report);

    for units in 3..=5 {
        let mut config = Config::new(units);
        config.vary = true;
        config.max_faults = 4;
        let report = random_walks(&config, 0..60);
        assert_eq!(report.violations, 0, "{}", explain(&report));
        total.absorb(report);
    }

    println!("{}", total.closing_line());
    assert_eq!(total.violations, 0);
    assert!(total.states > 10_000, "{}", total.closing_line());
    assert!(total.faults_injected > 1_000, "{}", total.closing_line());
}
