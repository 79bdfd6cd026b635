//! The operator who follows the application status literally ([`juju_upgrade_harness::literal`]):
//! after preparing, it runs only what the status names, in a quiet cluster. In every end state
//! the explorer reaches, the status names one command or none when all is done, and running it
//! succeeds and changes the cluster; every other invariant holds too.

use juju_upgrade_harness::explore::{
    exhaustive, format_trace, parse_trace, replay_to, Config, Faults, Report,
};
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

fn literal(units: u32, script: Script, pause: Option<&'static str>) -> Config {
    let mut config = Config::new(units);
    config.beyond_v0 = true;
    config.literal_operator = true;
    config.script = script;
    config.pause = pause;
    config.faults = Faults::ALL;
    config
}

#[test]
fn two_units_following_the_status_keep_every_invariant_under_any_one_fault() {
    let base = Script::default();
    let scripts = [
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
    ];
    for script in scripts {
        for pause in [None, Some("first"), Some("all")] {
            let report = exhaustive(&literal(2, script, pause), 2_000_000);
            println!("{}", report.closing_line());
            assert!(!report.truncated, "{}", report.closing_line());
            assert_eq!(report.violations, 0, "{}", explain(&report));
        }
    }
}

/// The state the literal operator found: a second refresh landing as the round ended, taken by
/// one unit into the ending round (`ready`) and recorded by the leader as a refresh nobody
/// prepared. The status said units upgrade while nothing moved; the leader now starts a round.
#[test]
fn a_refresh_the_leader_recorded_as_unprepared_while_a_unit_took_it_into_the_round_goes_on() {
    let config = literal(
        3,
        Script {
            fail_upgrade: None,
            ..Script::default()
        },
        Some("all"),
    );
    let trace = parse_trace(
        "b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 O:prepare b1 b2 c1 c2 \
         O:refresh b0 b1 b2 c0 c1 b0 b1 c0 c1 b1 c1 c2 b0 b1 b2 c0 c1 c2 b2 c2 b2 c2 b0 b1 c0 b2 \
         c1 b1 c1 c2 O:resume/1 b0 b2 c0 b1 c1 c2 b2 c2 O:resume/0 b1 b2 c1 b1 c1 b0 c0 c2 b2 c2 \
         b0 b1 c0 c1 r44",
    )
    .expect("trace");
    let (mut world, replay) = replay_to(&config, &trace).expect("the trace still replays");
    assert!(replay.violations.is_empty(), "{:?}", replay.violations);
    // Run to the end, lowest unit first, following the status.
    for _ in 0..2_000 {
        let steps = world.enabled(&config);
        let Some(&step) = steps
            .iter()
            .find(|step| !step.is_fault() && !step.is_operator_move())
        else {
            break;
        };
        let problems = world.apply(step, &config);
        assert!(problems.is_empty(), "after {step}: {problems:?}");
    }
    assert_eq!(world.cluster.healthy_at(44), Ok(()));
}
