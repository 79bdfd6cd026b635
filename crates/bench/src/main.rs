//! `upgrade-bench`: the benchmarks of the upgrade machinery, printed as Markdown (see BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p upgrade-bench -- all
//! cargo run --release -p upgrade-bench -- hooks|calls|rollout|emulator [options]
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use upgrade_bench::capture::Capture;
use upgrade_bench::cases::HookCase;
use upgrade_bench::cost::{breakdown, hook_cost, Breakdown, HookCost};
use upgrade_bench::machine::Machine;
use upgrade_bench::model::{rollback_model, upgraded_model, CharmKind, Charms, Phase, SimModel};
use upgrade_bench::replay::Replay;
use upgrade_bench::rollout::{rollout, Rollout};
use upgrade_bench::stats::{growth_exponent, median};
use upgrade_bench::table::{mib, ms, times, Table};

/// Benchmarks of the upgrade machinery: per-hook cost against a Python ops floor, hook-tool
/// calls per hook, whole rollouts, and the emulator itself.
#[derive(Debug, Parser)]
#[command(name = "upgrade-bench")]
struct Cli {
    #[command(subcommand)]
    command: Option<Section>,
    /// Timed runs per hook of the Rust charm.
    #[arg(long, default_value_t = 41, global = true)]
    runs: usize,
    /// Timed runs per hook of the Python charm.
    #[arg(long, default_value_t = 15, global = true)]
    python_runs: usize,
    /// Application sizes for the per-hook cost.
    #[arg(long, value_delimiter = ',', default_value = "3,50", global = true)]
    hook_sizes: Vec<usize>,
    /// Application sizes for the calls per hook and the rollouts.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "3,10,50,200",
        global = true
    )]
    sizes: Vec<usize>,
    /// Units of the emulator's rollback.
    #[arg(long, default_value_t = 50, global = true)]
    emulator_units: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
enum Section {
    /// Everything below, in order (the default).
    All,
    /// Per-hook wall time, memory and tool calls, Rust charm against the Python ops floor
    /// (and where the time goes).
    Hooks,
    /// Only where the time of one hook goes (part of `hooks`).
    Profile,
    /// Hook-tool calls per hook on leader and non-leader units as the application grows.
    Calls,
    /// Whole upgrades and rollbacks in the in-process cluster: hooks and reads.
    Rollout,
    /// The emulator settling the how-to's rollback with the real charm binary.
    Emulator,
    /// Writes one captured hook as a script that re-runs it, to profile it by hand
    /// (`DIR/run.sh perf stat -r 20`, `DIR/run.sh valgrind --tool=callgrind`).
    Script {
        /// `rust` or `python`.
        #[arg(long, default_value = "rust")]
        charm: String,
        /// `upgrade-charm`, `upgrade-relation-changed` or `pre-upgrade-check`.
        #[arg(long, default_value = "upgrade-relation-changed")]
        hook: String,
        /// The leader's hook (the action always runs on the leader).
        #[arg(long)]
        leader: bool,
        /// Units the hook sees.
        #[arg(long, default_value_t = 50)]
        units: usize,
        /// Where to write `run.sh` and its files.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(&cli) {
        eprintln!("ERROR {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    let section = cli.command.clone().unwrap_or(Section::All);
    if let Section::Script {
        charm,
        hook,
        leader,
        units,
        out,
    } = &section
    {
        return write_script(charm, hook, *leader, *units, out);
    }
    let all = section == Section::All;
    say(&format!(
        "# upgrade-bench\n\n```text\n{}command: upgrade-bench {}\n```\n",
        Machine::describe(),
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    ));
    if !cfg!(debug_assertions) {
        // Release build: timings are meaningful.
    } else {
        say("**Warning: a debug build; run with `--release` for figures worth keeping.**\n");
    }
    let mut setup = None;
    if all || matches!(section, Section::Hooks | Section::Calls | Section::Profile) {
        let s = setup.insert(Setup::new(true)?);
        s.capture(CharmKind::Rust)?;
        s.capture(CharmKind::Python)?;
        if all || section == Section::Hooks {
            hooks_section(cli, s)?;
        }
        if section == Section::Profile {
            let units = cli.hook_sizes.iter().copied().max().unwrap_or(50);
            let case = HookCase::RelationChanged { leader: false };
            let rust = hook_cost(&s.replay(CharmKind::Rust, case, units)?, cli.runs, 5)?;
            let python = hook_cost(
                &s.replay(CharmKind::Python, case, units)?,
                cli.python_runs,
                3,
            )?;
            profile_section(cli, s, &[(units, rust, python)])?;
        }
        if all || section == Section::Calls {
            calls_section(cli, s)?;
        }
    }
    if all || section == Section::Rollout {
        rollout_section(cli)?;
    }
    if all || section == Section::Emulator {
        let s = match setup.as_mut() {
            Some(s) => s,
            None => setup.insert(Setup::new(false)?),
        };
        if !s.models.contains_key(&CharmKind::Rust) {
            s.capture(CharmKind::Rust)?;
        }
        emulator_section(cli, s)?;
    }
    Ok(())
}

/// The `script` command: captures a 3-unit upgrade of `charm` and writes one of its hooks,
/// grown to `units` units, as a re-runnable script. The model stays on disk (the script runs
/// in its unit's charm directory with its tools).
fn write_script(charm: &str, hook: &str, leader: bool, units: usize, out: &Path) -> Result<()> {
    let kind = match charm {
        "rust" => CharmKind::Rust,
        "python" => CharmKind::Python,
        other => bail!("--charm is rust or python, not {other:?}"),
    };
    let case = match hook {
        "upgrade-charm" => HookCase::UpgradeCharm { leader },
        "upgrade-relation-changed" => HookCase::RelationChanged { leader },
        "pre-upgrade-check" => HookCase::PreUpgradeCheck,
        other => bail!("--hook {other:?} is not one the benchmark measures"),
    };
    let mut setup = Setup::new(kind == CharmKind::Python)?;
    setup.capture(kind)?;
    let script = setup.replay(kind, case, units)?.write_script(out)?;
    let Some((model, _)) = setup.models.remove(&kind) else {
        bail!("the model was not kept");
    };
    let kept = model.keep();
    say(&format!(
        "{} {} on {units} units: {}\n(model kept in {}; delete it when done)",
        kind.name(),
        case.label(),
        script.display(),
        kept.display()
    ));
    Ok(())
}

/// Prints a block of the report at once.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Progress on stderr.
fn note(text: &str) {
    eprintln!("upgrade-bench: {text}");
}

/// The binaries, the packed charms, and the 3-unit models whose hooks are replayed.
struct Setup {
    _work: tempfile::TempDir,
    hook_tools: PathBuf,
    launcher: PathBuf,
    charms: Charms,
    models: BTreeMap<CharmKind, (SimModel, Vec<Capture>)>,
}

impl Setup {
    fn new(with_python: bool) -> Result<Setup> {
        let binaries = locate_binaries()?;
        let venv = if with_python {
            Some(python_venv()?)
        } else {
            None
        };
        let work = tempfile::Builder::new()
            .prefix("upgrade-bench-")
            .tempdir()
            .context("temporary directory")?;
        note("packing the MySQL charm (revision 182 and the new one)");
        let charms = Charms::pack(&binaries.charm, work.path(), venv)?;
        Ok(Setup {
            _work: work,
            hook_tools: binaries.hook_tools,
            launcher: binaries.launcher,
            charms,
            models: BTreeMap::new(),
        })
    }

    /// Runs a 3-unit upgrade of `kind` and keeps its captured hooks.
    fn capture(&mut self, kind: CharmKind) -> Result<()> {
        note(&format!(
            "{}: a 3-unit upgrade in the emulator, captured",
            kind.name()
        ));
        let (model, _) = upgraded_model(kind, 3, &self.charms, &self.hook_tools)?;
        let captures = model.captures();
        for case in HookCase::ALL {
            if case.pick(&captures).is_none() {
                bail!(
                    "{}: no {} among the captured runs",
                    kind.name(),
                    case.label()
                );
            }
        }
        self.models.insert(kind, (model, captures));
        Ok(())
    }

    fn capture_of(&self, kind: CharmKind, case: HookCase) -> Result<&Capture> {
        let (_, captures) = self
            .models
            .get(&kind)
            .with_context(|| format!("{} was not captured", kind.name()))?;
        case.pick(captures)
            .with_context(|| format!("{}: no {}", kind.name(), case.label()))
    }

    fn replay(&self, kind: CharmKind, case: HookCase, units: usize) -> Result<Replay> {
        Replay::new(self.capture_of(kind, case)?, units, &self.launcher)
            .with_context(|| format!("{} {} on {units} units", kind.name(), case.label()))
    }
}

struct Binaries {
    charm: PathBuf,
    hook_tools: PathBuf,
    launcher: PathBuf,
}

/// The charm and hook-tool binaries next to this one, built first when run through cargo
/// (`cargo run` builds only the binary it runs).
fn locate_binaries() -> Result<Binaries> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe.parent().context("this executable has no directory")?;
    if let Ok(cargo) = std::env::var("CARGO") {
        note("building the charm and hook-tool binaries");
        let mut command = Command::new(cargo);
        command.args(["build", "-p", "upgrade-bench", "--bins", "--quiet"]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let status = command.status().context("running cargo build")?;
        if !status.success() {
            bail!("cargo build of the benchmark binaries failed ({status})");
        }
    }
    let binaries = Binaries {
        charm: dir.join("bench-mysql-charm"),
        hook_tools: dir.join("bench-hook-tools"),
        launcher: dir.join("bench-launch"),
    };
    for path in [&binaries.charm, &binaries.hook_tools, &binaries.launcher] {
        if !path.exists() {
            bail!(
                "{} is missing: build with `cargo build --release -p upgrade-bench --bins`",
                path.display()
            );
        }
    }
    Ok(binaries)
}

/// The venv with PyPI `ops`, made (once) by `scripts/python-venv`.
fn python_venv() -> Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/python-venv");
    note("the Python venv with ops (scripts/python-venv)");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let python = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let venv = python
        .parent()
        .and_then(Path::parent)
        .context("the venv's python is not in <venv>/bin")?;
    Ok(venv.to_path_buf())
}

// ----- per-hook cost -----

fn hooks_section(cli: &Cli, setup: &Setup) -> Result<()> {
    let mut time = Table::new([
        "hook",
        "units",
        "Rust wall",
        "Python wall",
        "Python/Rust",
        "Rust CPU",
        "Python CPU",
        "tool calls Rust/Python",
    ]);
    let mut memory = Table::new([
        "hook",
        "units",
        "Rust own RSS",
        "Python own RSS",
        "Python/Rust",
        "Rust RSS with tools",
        "Python RSS with tools",
        "Python/Rust",
    ]);
    let mut wall_ratios = Vec::new();
    let mut own_ratios = Vec::new();
    let mut tree_ratios = Vec::new();
    let mut profiles = Vec::new();
    for &units in &cli.hook_sizes {
        for case in HookCase::ALL {
            note(&format!("timing {} on {units} units", case.label()));
            let rust = hook_cost(&setup.replay(CharmKind::Rust, case, units)?, cli.runs, 5)?;
            let python = hook_cost(
                &setup.replay(CharmKind::Python, case, units)?,
                cli.python_runs,
                3,
            )?;
            let wall_ratio = python.wall_ms / rust.wall_ms;
            let own_ratio = python.own_rss_kib as f64 / rust.own_rss_kib as f64;
            let tree_ratio = python.tree_rss_kib as f64 / rust.tree_rss_kib as f64;
            wall_ratios.push(wall_ratio);
            own_ratios.push(own_ratio);
            tree_ratios.push(tree_ratio);
            time.row([
                case.label(),
                units.to_string(),
                ms(rust.wall_ms),
                ms(python.wall_ms),
                times(wall_ratio),
                ms(rust.cpu_ms),
                ms(python.cpu_ms),
                format!("{} / {}", rust.tool_calls, python.tool_calls),
            ]);
            memory.row([
                case.label(),
                units.to_string(),
                mib(rust.own_rss_kib),
                mib(python.own_rss_kib),
                times(own_ratio),
                mib(rust.tree_rss_kib),
                mib(python.tree_rss_kib),
                times(tree_ratio),
            ]);
            if case == (HookCase::RelationChanged { leader: false }) {
                profiles.push((units, rust, python));
            }
        }
    }
    let verdict = |ratios: &[f64], target: f64| {
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(0.0, f64::max);
        let met = ratios.iter().filter(|&&r| r >= target).count();
        format!(
            "{} to {} (target {}x: met by {met} of {})",
            times(low),
            times(high),
            target,
            ratios.len()
        )
    };
    say(&format!(
        "## Per-hook cost: the Rust charm against the Python ops floor\n\n\
         Each hook was captured in a 3-unit model (deploy, `pre-upgrade-check`, `juju refresh`) \
         and is re-run as a process with its captured environment and a fresh copy of its \
         captured hook context, grown to the number of units shown. Wall and CPU: median of \
         {} runs (Rust) and {} runs (Python) after 2 warm-up runs; CPU includes the tool calls. \
         Own RSS: peak resident set of the hook's process alone (`VmHWM` at exit, `ptrace`), \
         median of 5 (Rust) and 3 (Python) runs. RSS with tools: `wait4`'s `ru_maxrss`, the \
         largest of the hook and its tool processes.\n\n{time}\n{memory}\n\
         - wall time, Python/Rust: {}\n\
         - own memory, Python/Rust: {}\n\
         - memory with tools, Python/Rust: {}\n",
        cli.runs,
        cli.python_runs,
        verdict(&wall_ratios, 20.0),
        verdict(&own_ratios, 10.0),
        verdict(&tree_ratios, 10.0),
    ));
    profile_section(cli, setup, &profiles)
}

fn profile_section(cli: &Cli, setup: &Setup, costs: &[(usize, HookCost, HookCost)]) -> Result<()> {
    let Some(&(units, rust, python)) = costs.iter().max_by_key(|(units, _, _)| *units) else {
        return Ok(());
    };
    note(&format!(
        "profiling upgrade-relation-changed on {units} units"
    ));
    let case = HookCase::RelationChanged { leader: false };
    let rust_parts = breakdown(&setup.replay(CharmKind::Rust, case, units)?, cli.runs)?;
    let python_parts = breakdown(
        &setup.replay(CharmKind::Python, case, units)?,
        cli.python_runs,
    )?;
    let mut table = Table::new(["", "Rust charm", "Python ops floor"]);
    let both = |table: &mut Table, what: &str, f: &dyn Fn(&HookCost, &Breakdown) -> String| {
        table.row([
            what.to_owned(),
            f(&rust, &rust_parts),
            f(&python, &python_parts),
        ]);
    };
    both(&mut table, "the hook (median wall)", &|c, _| ms(c.wall_ms));
    both(&mut table, "its tool calls", &|c, _| {
        c.tool_calls.to_string()
    });
    both(&mut table, "a hook the charm ignores: wall", &|_, b| {
        ms(b.start_ms)
    });
    both(&mut table, "... its tool calls", &|_, b| {
        b.start_calls.to_string()
    });
    both(&mut table, "... its CPU", &|_, b| ms(b.start_cpu_ms));
    both(&mut table, "... its own RSS", &|_, b| mib(b.start_rss_kib));
    both(&mut table, "one `relation-get` alone", &|_, b| {
        ms(b.read_call_ms)
    });
    both(
        &mut table,
        "one `juju-log` alone (writes the context)",
        &|_, b| ms(b.write_call_ms),
    );
    both(&mut table, "`/bin/true` (any process)", &|_, b| {
        ms(b.process_ms)
    });
    both(&mut table, "start + calls x `relation-get`", &|c, b| {
        ms(b.explained_ms(c))
    });
    both(
        &mut table,
        "share of the hook spent in tool calls",
        &|c, b| {
            let calls = c.tool_calls.saturating_sub(b.start_calls) as f64 * b.read_call_ms;
            format!("{:.0}%", 100.0 * calls / c.wall_ms)
        },
    );
    let memory = |parts: &Breakdown| {
        let mut largest: Vec<(&String, &u64)> = parts.rss_by_mapping.iter().collect();
        largest.sort_by(|a, b| b.1.cmp(a.1));
        let total: u64 = parts.rss_by_mapping.values().sum();
        let top: Vec<String> = largest
            .iter()
            .take(6)
            .map(|(name, kib)| format!("{name} {}", mib(**kib)))
            .collect();
        format!("{} in all: {}", mib(total), top.join(", "))
    };
    let start_ratio = python_parts.start_ms / rust_parts.start_ms;
    let start_memory = python_parts.start_rss_kib as f64 / rust_parts.start_rss_kib.max(1) as f64;
    say(&format!(
        "## Where the time goes: `upgrade-relation-changed` (non-leader) on {units} units\n\n\
         Every hook-tool call is a process (`fork`+`exec` of the tool binary, which locks, \
         reads and rewrites the JSON hook context). A hook that reads every peer pays one \
         call per unit.\n\n{table}\n\
         Resident memory of the hook's own process when it exits, by mapping (`/proc/<pid>/smaps`):\n\n\
         - Rust charm: {}\n- Python ops floor: {}\n\n\
         Starting the charm and deciding (the hook it ignores), Python/Rust: {} wall time \
         (target 50x: {}), {} own memory (target 10x: {}).\n",
        memory(&rust_parts),
        memory(&python_parts),
        times(start_ratio),
        if start_ratio >= 50.0 { "met" } else { "not met" },
        times(start_memory),
        if start_memory >= 10.0 { "met" } else { "not met" },
    ));
    Ok(())
}

// ----- calls per hook -----

fn calls_section(cli: &Cli, setup: &Setup) -> Result<()> {
    let mut header = vec!["charm".to_owned(), "hook".to_owned()];
    header.extend(cli.sizes.iter().map(|n| format!("n={n}")));
    header.push("added per unit".to_owned());
    let mut table = Table::new(header);
    let mut verdicts = Vec::new();
    let mut detail = String::new();
    // Each case as captured (with the peer cache the unit had), and the leader's also as a
    // first hook (no cache: a new leader, a restarted agent, a lost file).
    let rows = HookCase::ALL.into_iter().map(|case| (case, true)).chain(
        HookCase::ALL
            .into_iter()
            .filter(|case| case.on_leader())
            .map(|case| (case, false)),
    );
    let rows: Vec<(HookCase, bool)> = rows.collect();
    for kind in [CharmKind::Rust, CharmKind::Python] {
        for &(case, cached) in &rows {
            let label = if cached {
                case.label()
            } else {
                format!("{}, first hook (no peer cache)", case.label())
            };
            let mut row = vec![kind.name().to_owned(), label.clone()];
            let mut totals = Vec::new();
            for &units in &cli.sizes {
                note(&format!(
                    "{} {label} on {units} units: counting calls",
                    kind.name(),
                ));
                let replay = setup.replay(kind, case, units)?;
                let replay = if cached {
                    replay
                } else {
                    replay.without_peer_cache()
                };
                let (tools, measured) = replay.run_logged()?;
                let gets = tools.get("relation-get").copied().unwrap_or(0);
                row.push(format!("{} ({gets} get)", measured.tool_calls));
                totals.push((units, measured.tool_calls, gets));
                if units == cli.sizes.iter().copied().max().unwrap_or(0) {
                    let list: Vec<String> = tools
                        .iter()
                        .map(|(tool, n)| format!("{tool} {n}"))
                        .collect();
                    detail.push_str(&format!(
                        "- {}, {label} on {units} units: {}\n",
                        kind.name(),
                        list.join(", ")
                    ));
                }
            }
            let slope = match (totals.first(), totals.last()) {
                (Some(&(n1, c1, _)), Some(&(n2, c2, _))) if n2 > n1 => {
                    (c2 as f64 - c1 as f64) / (n2 - n1) as f64
                }
                _ => 0.0,
            };
            row.push(format!("{slope:.2}"));
            table.row(row);
            if kind == CharmKind::Rust {
                let leader_ok = totals.iter().all(|&(n, _, gets)| gets <= n as u64 + 1);
                let verdict = if cached {
                    format!(
                        "{label}: O(1) in the number of units: {} ({slope:.2} more calls per added unit)",
                        if slope == 0.0 { "met" } else { "NOT met" }
                    )
                } else {
                    format!(
                        "{label}: at most one read per unit (relation-get <= units + 1 for the app bag): {}",
                        if leader_ok { "met" } else { "NOT met" }
                    )
                };
                verdicts.push(verdict);
            }
        }
    }
    // The growing is checked against a real 10-unit model.
    let check_units = 10;
    let mut check = Table::new(["charm", "hook", "real 10-unit model", "grown from 3 units"]);
    for kind in [CharmKind::Rust, CharmKind::Python] {
        note(&format!(
            "{}: a real {check_units}-unit upgrade to check the growing",
            kind.name()
        ));
        let (model, _) = upgraded_model(kind, check_units, &setup.charms, &setup.hook_tools)?;
        let captures = model.captures();
        for case in HookCase::ALL {
            let real = case
                .pick(&captures)
                .map_or("not seen".to_owned(), |c| c.run.tool_calls.to_string());
            let grown = setup.replay(kind, case, check_units)?.run()?.tool_calls;
            check.row([
                kind.name().to_owned(),
                case.label(),
                real,
                grown.to_string(),
            ]);
        }
    }
    say(&format!(
        "## Hook-tool calls per hook as the application grows\n\n\
         Counted by the emulator's tools (`tool_calls` in the hook context) on the same \
         captured hooks, grown to n units, each with the peer cache its unit had when it was \
         captured (grown with the units); the leader's also as a first hook, with no cache. \
         In brackets the `relation-get` calls.\n\n{table}\n{}\n\n\
         Calls by tool:\n\n{detail}\n\
         The growing, checked against hooks captured in a real {check_units}-unit model (the \
         first hook of each kind there; its peers' states may differ a little):\n\n{check}",
        verdicts
            .iter()
            .map(|v| format!("- {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
    ));
    Ok(())
}

// ----- whole rollouts -----

fn rollout_section(cli: &Cli) -> Result<()> {
    let mut table = Table::new([
        "phase",
        "units",
        "hooks",
        "on leader",
        "max per unit",
        "reads: every unit (v0)",
        "reads: two steps (measured)",
        "hooks needing all (measured)",
        "of which read all",
        "bags read",
        "bags read per hook",
        "wall (in-process)",
    ]);
    let mut results: Vec<Rollout> = Vec::new();
    for &units in &cli.sizes {
        note(&format!("in-process rollout of {units} units"));
        let units = u32::try_from(units).context("too many units")?;
        results.push(rollout(units, true)?);
    }
    for (name, phase) in [
        ("upgrade", (|r: &Rollout| r.upgrade) as fn(&Rollout) -> _),
        ("rollback", |r: &Rollout| r.rollback),
    ] {
        for result in &results {
            let p = phase(result);
            table.row([
                name.to_owned(),
                result.units.to_string(),
                p.hooks.to_string(),
                p.leader_hooks.to_string(),
                p.max_hooks_per_unit.to_string(),
                p.reads_every_unit.to_string(),
                p.reads_two_step.to_string(),
                p.two_step_full_reads.to_string(),
                p.cache_misses.to_string(),
                p.bags_read.to_string(),
                format!("{:.2}", p.bags_read as f64 / p.hooks.max(1) as f64),
                ms(p.wall.as_secs_f64() * 1e3),
            ]);
        }
    }
    let mut growth = Table::new([
        "phase",
        "between",
        "hooks",
        "reads (every unit, v0)",
        "reads (two steps, measured)",
        "hooks reading all",
        "wall",
    ]);
    for (name, phase) in [
        ("upgrade", (|r: &Rollout| r.upgrade) as fn(&Rollout) -> _),
        ("rollback", |r: &Rollout| r.rollback),
    ] {
        for pair in results.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (pa, pb) = (phase(a), phase(b));
            let exp = |ya: f64, yb: f64| {
                growth_exponent((f64::from(a.units), ya), (f64::from(b.units), yb))
                    .map_or("-".to_owned(), |k| format!("n^{k:.2}"))
            };
            growth.row([
                name.to_owned(),
                format!("{} and {}", a.units, b.units),
                exp(pa.hooks as f64, pb.hooks as f64),
                exp(pa.reads_every_unit as f64, pb.reads_every_unit as f64),
                exp(pa.reads_two_step as f64, pb.reads_two_step as f64),
                exp(pa.two_step_full_reads as f64, pb.two_step_full_reads as f64),
                exp(pa.wall.as_secs_f64(), pb.wall.as_secs_f64()),
            ]);
        }
    }
    say(&format!(
        "## Whole rollouts in the in-process cluster\n\n\
         `juju-upgrade-harness` runs the upgrade core for every hook with Juju's delivery \
         (each committed change of a unit's bag queues `upgrade-relation-changed` on every \
         other unit; queued changes from one unit coalesce), one hook at a time, lowest unit \
         first; no processes. Upgrade: `juju refresh` after `pre-upgrade-check` until every unit \
         is idle on the new revision. Rollback (the how-to's): the first unit to upgrade fails; \
         `pre-upgrade-check` (recovery) and `juju refresh` back until every unit is idle on the \
         old revision. Reads: peer-relation tool calls. The core decides in two steps \
         (`juju_upgrade::handle_own_and_app`): every hook reads its own bag and the \
         application bag (`relation-ids`, `is-leader`, `relation-list`, two `relation-get`: 5 \
         calls), and needs the other units' bags too only on the leader, in an action, or when \
         a rule the unit reaches needs another unit's bag (in these rollouts: the unit on top \
         of the stack, and a unit finishing the round). Those come from the unit's peer cache \
         (`mysql_charm::cache`) where it may stand for them: then only the unit the hook is \
         about is read; otherwise each other unit's bag, one `relation-get` each (k + 4 calls \
         on k units). The harness runs every hook so and counts the bags each reads; the \
         two-step and bag columns are that measurement. The every-unit column is v0's \
         pattern (every hook reads every unit's state, k + 4 calls) over the same hooks. Juju \
         also runs `config-changed` after each `upgrade-charm` (n more hooks, which the charm \
         hands to the core too); the harness does not deliver them and they are not counted \
         here.\n\n{table}\nGrowth order (exponent k of n^k between two sizes):\n\n{growth}"
    ));
    Ok(())
}

// ----- the emulator -----

fn emulator_section(cli: &Cli, setup: &Setup) -> Result<()> {
    let units = cli.emulator_units;
    note(&format!(
        "the emulator: the how-to's rollback on {units} units with the real binary (minutes)"
    ));
    let (model, phases) = rollback_model(units, &setup.charms, &setup.hook_tools, &|phase| {
        note(&format!("emulator, {units} units: {phase}"))
    })?;
    let mut table = Table::new([
        "phase",
        "operations",
        "processes",
        "tool calls",
        "calls per hook, median (most): non-leader / leader",
        "wall",
        "in processes",
        "per process",
    ]);
    for phase in &phases {
        table.row([
            phase.name.clone(),
            phase.operations.to_string(),
            phase.runs.len().to_string(),
            phase.tool_calls().to_string(),
            calls_per_hook(phase),
            ms(phase.wall.as_secs_f64() * 1e3),
            ms(phase.process_wall().as_secs_f64() * 1e3),
            ms(phase.process_wall().as_secs_f64() * 1e3 / phase.runs.len().max(1) as f64),
        ]);
    }
    let rollback = phases.last().context("no rollback phase")?;
    let mut text = format!(
        "## The emulator: the how-to's rollback on {units} units with the real binary\n\n\
         `juju_sim::engine` in this process, the release charm binary for every hook, the \
         emulator's hook tools; every operation run until nothing is due. The rollback \
         (last row) settled in {} ({} operations).\n\n{table}",
        ms(rollback.wall.as_secs_f64() * 1e3),
        rollback.operations
    );
    // Hooks captured in this real model against the same hooks grown from 3 units.
    {
        let captures = model.captures();
        let mut check = Table::new([
            "hook",
            &format!("real {units}-unit model: calls, wall"),
            "grown from 3 units: calls, wall",
        ]);
        for case in [
            HookCase::UpgradeCharm { leader: false },
            HookCase::UpgradeCharm { leader: true },
            HookCase::PreUpgradeCheck,
        ] {
            let Some(capture) = case.pick(&captures) else {
                continue;
            };
            let real = hook_cost(
                &Replay::new(capture, units, &setup.launcher)?,
                cli.runs.min(15),
                1,
            )?;
            let grown = hook_cost(
                &setup.replay(CharmKind::Rust, case, units)?,
                cli.runs.min(15),
                1,
            )?;
            check.row([
                case.label(),
                format!("{}, {}", real.tool_calls, ms(real.wall_ms)),
                format!("{}, {}", grown.tool_calls, ms(grown.wall_ms)),
            ]);
        }
        text.push_str(&format!(
            "\nHooks captured in this {units}-unit model, replayed, against the same hooks grown \
             from the 3-unit model (median of up to 15 runs):\n\n{check}"
        ));
    }
    say(&text);
    Ok(())
}

/// Median (and most) tool calls per hook, on non-leaders and on the leader.
fn calls_per_hook(phase: &Phase) -> String {
    let per = |leader: bool| {
        let calls: Vec<f64> = phase
            .runs
            .iter()
            .filter(|run| run.is_leader == leader && !run.is_action)
            .map(|run| run.tool_calls as f64)
            .collect();
        let most = calls.iter().copied().fold(0.0, f64::max);
        median(&calls).map_or("-".to_owned(), |m| format!("{m:.0} ({most:.0})"))
    };
    format!("{} / {}", per(false), per(true))
}
