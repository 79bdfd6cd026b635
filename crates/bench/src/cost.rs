//! What one hook costs, measured over repeated runs of a [`Replay`], and where its time goes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::BenchError;
use crate::measure::{self, Spawn};
use crate::replay::Replay;
use crate::stats::{median, median_ms};

/// Runs discarded before measuring (page cache, first-run effects).
const WARM_UP_RUNS: usize = 2;

/// The cost of one hook.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HookCost {
    /// Timed runs.
    pub runs: usize,
    /// Median wall time, spawn to reaped.
    pub wall_ms: f64,
    /// Fastest run.
    pub min_wall_ms: f64,
    /// Median CPU time (user + system) of the hook and its tool calls.
    pub cpu_ms: f64,
    /// Median peak resident set of the hook's own process (its tools left out), in KiB.
    pub own_rss_kib: u64,
    /// Median `ru_maxrss` of the run: the largest of the hook and its tool calls, in KiB.
    pub tree_rss_kib: u64,
    /// Hook-tool calls per run.
    pub tool_calls: u64,
}

/// Runs `replay` `runs` times timed and `traced` times for its own memory (after a warm-up).
pub fn hook_cost(replay: &Replay, runs: usize, traced: usize) -> Result<HookCost, BenchError> {
    for _ in 0..WARM_UP_RUNS {
        replay.run()?;
    }
    let mut walls = Vec::with_capacity(runs);
    let mut cpus = Vec::with_capacity(runs);
    let mut trees = Vec::with_capacity(runs);
    let mut tool_calls = 0;
    for _ in 0..runs.max(1) {
        let measured = replay.run()?;
        walls.push(measured.usage.wall);
        cpus.push(measured.usage.cpu);
        trees.push(measured.usage.tree_max_rss_kib as f64);
        tool_calls = measured.tool_calls;
    }
    let mut own = Vec::with_capacity(traced);
    for _ in 0..traced.max(1) {
        let (traced, _) = replay.run_traced()?;
        own.push(traced.peak_kib as f64);
    }
    Ok(HookCost {
        runs: walls.len(),
        wall_ms: median_ms(&walls).unwrap_or(0.0),
        min_wall_ms: walls.iter().min().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        cpu_ms: median_ms(&cpus).unwrap_or(0.0),
        own_rss_kib: median(&own).unwrap_or(0.0) as u64,
        tree_rss_kib: median(&trees).unwrap_or(0.0) as u64,
        tool_calls,
    })
}

/// Where a hook's time goes: starting the charm, and each tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// Median wall time of a hook the charm ignores (`upgrade-relation-joined`): starting
    /// `dispatch` and the charm, and whatever the charm does on every hook.
    pub start_ms: f64,
    /// Tool calls that ignored hook makes.
    pub start_calls: u64,
    /// Median CPU time of that ignored hook.
    pub start_cpu_ms: f64,
    /// Median peak resident set of that ignored hook's own process, in KiB.
    pub start_rss_kib: u64,
    /// Median wall time of one `relation-get` of a peer's bag, run alone.
    pub read_call_ms: f64,
    /// Median wall time of one `juju-log` (a call that changes the context), run alone.
    pub write_call_ms: f64,
    /// Median wall time of starting and reaping `/bin/true`: the operating system's floor
    /// for any process.
    pub process_ms: f64,
    /// The hook's own resident memory when it exits, by mapping, in KiB.
    pub rss_by_mapping: BTreeMap<String, u64>,
}

impl Breakdown {
    /// The part of `cost` the breakdown explains: the start, plus each call beyond the
    /// start's at the cost of a read (the cheaper kind).
    pub fn explained_ms(&self, cost: &HookCost) -> f64 {
        self.start_ms + cost.tool_calls.saturating_sub(self.start_calls) as f64 * self.read_call_ms
    }
}

/// Measures the [`Breakdown`] of `replay` (a relation hook), `runs` runs per figure.
pub fn breakdown(replay: &Replay, runs: usize) -> Result<Breakdown, BenchError> {
    let context = replay.context()?;
    let (relation, peer) = context
        .relations
        .iter()
        .find(|(_, view)| view.endpoint == crate::capture::UPGRADE_ENDPOINT)
        .and_then(|(id, view)| Some((format!("upgrade:{id}"), view.members.first()?.clone())))
        .ok_or_else(|| BenchError::Flow("the hook has no upgrade peer to read".to_owned()))?;
    let ignored = replay.as_hook("upgrade-relation-joined", Some(&peer))?;
    let start = hook_cost(&ignored, runs, 3)?;
    let (memory, _) = replay.run_traced()?;
    let read = replay.tool(
        "relation-get",
        &["--format=json", "-r", &relation, "-", &peer],
    )?;
    let write = replay.tool("juju-log", &["--log-level", "DEBUG", "--", "benchmark"])?;
    let time_runs = |run: &dyn Fn() -> Result<Duration, BenchError>| -> Result<f64, BenchError> {
        for _ in 0..WARM_UP_RUNS {
            run()?;
        }
        let walls = (0..runs.max(1))
            .map(|_| run())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(median_ms(&walls).unwrap_or(0.0))
    };
    let read_call_ms = time_runs(&|| Ok(read.run()?.wall))?;
    let write_call_ms = time_runs(&|| Ok(write.run()?.wall))?;
    let scratch = tempfile::tempdir().map_err(BenchError::io(std::env::temp_dir()))?;
    let true_process = Spawn {
        program: "/bin/true".into(),
        args: Vec::new(),
        cwd: scratch.path().to_path_buf(),
        env: Default::default(),
        stderr: scratch.path().join("stderr"),
    };
    let process_ms = time_runs(&|| Ok(measure::run(&true_process, replay.launcher())?.wall))?;
    Ok(Breakdown {
        start_ms: start.wall_ms,
        start_calls: start.tool_calls,
        start_cpu_ms: start.cpu_ms,
        start_rss_kib: start.own_rss_kib,
        read_call_ms,
        write_call_ms,
        process_ms,
        rss_by_mapping: memory.rss_by_mapping,
    })
}
