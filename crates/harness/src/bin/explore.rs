//! `explore`: runs the event-order explorer from the command line.
//!
//! ```text
//! cargo run -p juju-upgrade-harness --release --bin explore -- --units 3 --exhaustive
//! cargo run -p juju-upgrade-harness --release --bin explore -- --units 5 --seeds 10000 --vary
//! cargo run -p juju-upgrade-harness --release --bin explore -- --units 5 --vary --replay 1234
//! cargo run -p juju-upgrade-harness --release --bin explore -- --units 2 --trace "b0 c0 ..."
//! cargo run -p juju-upgrade-harness --release --bin explore -- --units 4 --vary --beyond-v0 --operator-moves
//! ```
//!
//! Prints one closing line with the figures; on a violation prints the seed (random walks) and
//! the trace to replay it, and exits with status 1.

use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Parser;
use juju_upgrade_harness::explore::{
    exhaustive, format_trace, parse_trace, random_walks, replay, walk, Config, Faults, Report,
};

/// Explores the orders in which Juju may deliver the upgrade's hooks, with faults.
#[derive(Debug, Parser)]
#[command(name = "explore")]
struct Args {
    /// Units deployed.
    #[arg(long, default_value_t = 3)]
    units: u32,
    /// The first leader.
    #[arg(long, default_value_t = 0)]
    leader: u32,
    /// Search every interleaving (bounded by --max-states) instead of random walks.
    #[arg(long)]
    exhaustive: bool,
    /// Random walks: how many seeds.
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// Random walks: the first seed.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Fault kinds: all, none, or a list of error,kill,leader,remove,refresh.
    #[arg(long, default_value = "all")]
    faults: String,
    /// At most this many faults per run (default: 1 for --exhaustive, 4 for random walks).
    #[arg(long)]
    max_faults: Option<u32>,
    /// Which workload upgrade fails (0 = the first unit), or "none".
    #[arg(long, default_value = "0")]
    fail_upgrade: String,
    /// Which workload rollback of the first rollback fails, or "none".
    #[arg(long, default_value = "none")]
    fail_rollback: String,
    /// How many recoveries the operator attempts.
    #[arg(long, default_value_t = 3)]
    recoveries: u32,
    /// Run each hook to its end before another starts.
    #[arg(long)]
    no_overlap: bool,
    /// Random walks: percent chance of a fault where one is possible.
    #[arg(long, default_value_t = 5)]
    fault_percent: u32,
    /// Random walks: draw the leader and the failing upgrade and rollback from each seed.
    #[arg(long)]
    vary: bool,
    /// The charm reports its versions: explore the core's behaviour beyond v0.
    #[arg(long)]
    beyond_v0: bool,
    /// The deployed `pause-after-unit-refresh` setting: none, first or all (default: the
    /// charm has no such option; with --vary and --operator-moves, drawn from each seed).
    #[arg(long)]
    pause: Option<String>,
    /// Beyond v0: the operator may also change the pause setting, run resume-upgrade and
    /// force-upgrade on any unit at any step, and force a failed unit on.
    #[arg(long)]
    operator_moves: bool,
    /// At most this many operator moves per run.
    #[arg(long, default_value_t = 3)]
    max_operator_moves: u32,
    /// Beyond v0: after preparing, the operator runs only what the application status names.
    #[arg(long)]
    literal_operator: bool,
    /// Exhaustive search: stop expanding after this many states.
    #[arg(long, default_value_t = 5_000_000)]
    max_states: u64,
    /// A run longer than this many steps is a livelock.
    #[arg(long)]
    max_steps: Option<u32>,
    /// Replay one random walk by its seed, narrating every step.
    #[arg(long)]
    replay: Option<u64>,
    /// Replay a trace printed by a violation, narrating every step.
    #[arg(long)]
    trace: Option<String>,
}

fn offset(text: &str) -> Result<Option<u32>> {
    if text == "none" {
        Ok(None)
    } else {
        text.parse()
            .map(Some)
            .map_err(|_| anyhow!("expected a number or \"none\", got {text:?}"))
    }
}

fn config(args: &Args) -> Result<Config> {
    let mut config = Config::new(args.units);
    config.leader = args.leader;
    config.faults = Faults::parse(&args.faults).map_err(|err| anyhow!(err))?;
    config.max_faults = args
        .max_faults
        .unwrap_or(if args.exhaustive { 1 } else { 4 });
    config.script.fail_upgrade = offset(&args.fail_upgrade)?;
    config.script.fail_rollback = offset(&args.fail_rollback)?;
    config.script.max_recoveries = args.recoveries;
    config.overlap = !args.no_overlap;
    config.fault_percent = args.fault_percent;
    config.vary = args.vary;
    config.beyond_v0 = args.beyond_v0;
    config.operator_moves = args.operator_moves;
    config.max_operator_moves = args.max_operator_moves;
    config.literal_operator = args.literal_operator;
    config.pause = match args.pause.as_deref() {
        None => None,
        Some("none") => Some("none"),
        Some("first") => Some("first"),
        Some("all") => Some("all"),
        Some(other) => return Err(anyhow!("--pause is none, first or all, not {other:?}")),
    };
    if let Some(max_steps) = args.max_steps {
        config.max_steps = max_steps;
    }
    if args.units == 0 || args.leader >= args.units {
        return Err(anyhow!("need at least one unit and a leader below --units"));
    }
    Ok(config)
}

fn narrate(config: &Config, trace: &[juju_upgrade_harness::explore::Step]) -> Result<bool> {
    let replayed = replay(config, trace).map_err(|err| anyhow!(err))?;
    for line in &replayed.narration {
        println!("{line}");
    }
    for (message, index) in &replayed.violations {
        println!("VIOLATION at step {index}: {message}");
    }
    Ok(replayed.violations.is_empty())
}

fn print_report(report: &Report, config: &Config) {
    for found in &report.examples {
        println!("VIOLATION: {}", found.message);
        if let Some(seed) = found.seed {
            let mut flags = match (config.vary, config.beyond_v0) {
                (false, false) => "",
                (true, false) => " --vary",
                (false, true) => " --beyond-v0",
                (true, true) => " --vary --beyond-v0",
            }
            .to_owned();
            if config.operator_moves {
                flags.push_str(" --operator-moves");
            }
            println!(
                "  seed {seed}: replay with --units {}{flags} --replay {seed} (and the same fault options)",
                config.units
            );
        }
        println!("  trace: {}", format_trace(&found.trace));
    }
    println!("{}", report.closing_line());
}

fn run(args: &Args) -> Result<bool> {
    let config = config(args)?;
    if let Some(text) = &args.trace {
        let trace = parse_trace(text).map_err(|err| anyhow!(err))?;
        return narrate(&config, &trace);
    }
    if let Some(seed) = args.replay {
        let walked = walk(&config, seed);
        let chosen = walked.config.unwrap_or(config);
        println!("seed {seed} runs with {chosen}");
        println!("trace: {}", format_trace(&walked.trace));
        return narrate(&chosen, &walked.trace);
    }
    let report = if args.exhaustive {
        exhaustive(&config, args.max_states)
    } else {
        let end = args.first_seed.saturating_add(args.seeds);
        random_walks(&config, args.first_seed..end)
    };
    print_report(&report, &config);
    Ok(report.violations == 0)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("explore: {err:#}");
            ExitCode::from(2)
        }
    }
}
