//! The `juju-sim` command line: `juju`-like commands over the [`Engine`].
//! Mutating commands take the model lock and settle the model before
//! returning (unless `--no-wait`/`--background`); `status` and `debug-log`
//! read without the lock.

mod format;
mod params;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::{Engine, EngineOptions, SettleReport, Source};
use crate::model::{default_model_dir, Level, ModelDir, TaskStatus};

/// A local Juju model emulator: deploy a charm, refresh it, run actions and
/// watch every unit run its hooks with Juju 3.6's semantics.
#[derive(Debug, Parser)]
#[command(name = "juju-sim", version)]
pub struct Cli {
    /// The model directory (default: $JUJU_SIM_MODEL, else $XDG_DATA_HOME/juju-sim/default,
    /// else ~/.local/share/juju-sim/default).
    #[arg(long, global = true, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Settling behaviour shared by mutating commands.
#[derive(Debug, Args)]
pub struct Wait {
    /// Return without running the units' hooks (run `juju-sim settle` later).
    #[arg(long)]
    pub no_wait: bool,
}

/// Output formats of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Tables like `juju status`.
    Tabular,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Output formats of `show-unit` and `show-task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy a charm (directory or .charm file) as a new application.
    Deploy {
        /// The charm directory or .charm archive.
        charm: PathBuf,
        /// Application name (default: the charm name).
        app: Option<String>,
        /// Number of units.
        #[arg(short = 'n', long = "num-units", default_value_t = 1)]
        num_units: usize,
        /// Store revision for this charm (default: the next free one, 1 for the first).
        #[arg(long)]
        revision: Option<u64>,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Upload a charm to the model's store without deploying it (for `refresh --revision`).
    AddCharm {
        /// The charm directory or .charm archive.
        charm: PathBuf,
        /// Store revision (default: the next free one).
        #[arg(long)]
        revision: Option<u64>,
    },
    /// Change an application's charm: every unit runs upgrade-charm, then config-changed.
    Refresh {
        /// The application.
        app: String,
        /// A local charm (directory or .charm); stored as a new revision.
        #[arg(
            long,
            conflicts_with = "revision",
            required_unless_present = "revision"
        )]
        path: Option<PathBuf>,
        /// A revision already in the store.
        #[arg(long)]
        revision: Option<u64>,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Run an action on a unit (`app/N` or `app/leader`) and print its results.
    Run {
        /// The unit, or `<app>/leader`.
        target: String,
        /// The action name.
        action: String,
        /// Parameters as key=value (values parsed as YAML; dotted keys make nested maps).
        params: Vec<String>,
        /// Keep every value a string.
        #[arg(long)]
        string_args: bool,
        /// Enqueue only; print the task id and return.
        #[arg(long)]
        background: bool,
    },
    /// Show a task's status, results and log.
    ShowTask {
        /// The task id.
        id: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
        format: DataFormat,
    },
    /// Show applications and units like `juju status`.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Tabular)]
        format: StatusFormat,
    },
    /// Print the model's log (hook output, juju-log, agent messages).
    DebugLog {
        /// Only these units or applications (repeatable), e.g. `mysql/0`, `unit-mysql-0` or `mysql`.
        #[arg(long)]
        include: Vec<String>,
        /// Minimum level: TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL.
        #[arg(long, default_value = "DEBUG")]
        level: String,
        /// Print the whole log.
        #[arg(long, conflicts_with = "lines")]
        replay: bool,
        /// Print the last N lines.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
    },
    /// Add units to an application.
    AddUnit {
        /// The application.
        app: String,
        /// Number of units.
        #[arg(short = 'n', long = "num-units", default_value_t = 1)]
        num_units: usize,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Remove units (departed hooks on the others, then stop and remove).
    RemoveUnit {
        /// The units.
        #[arg(required = true)]
        units: Vec<String>,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Retry a unit's failed hook now (or mark it done with --no-retry).
    Resolved {
        /// The unit.
        unit: String,
        /// Do not run the hook again; treat it as done.
        #[arg(long)]
        no_retry: bool,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Run every unit's pending hooks and actions until the model settles.
    Settle,
    /// Inject faults.
    Fault {
        /// The fault.
        #[command(subcommand)]
        fault: FaultCommand,
    },
    /// Run update-status on a unit or on every unit of an application (Juju's 5-minute timer, on demand).
    UpdateStatus {
        /// A unit (`app/N`, `app/leader`) or an application.
        target: String,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Move an application's leadership to a unit (`app/N`).
    Leader {
        /// The new leader.
        unit: String,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Show or set application config (`key=value ...`).
    Config {
        /// The application.
        app: String,
        /// Values to set.
        values: Vec<String>,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Show or change model settings: extra hook environment, scheduler seed.
    ModelConfig {
        /// Add K=V to every hook's environment (repeatable).
        #[arg(long, value_name = "K=V")]
        env: Vec<String>,
        /// Remove K from the hook environment (repeatable).
        #[arg(long, value_name = "K")]
        unset_env: Vec<String>,
        /// Reseed the scheduler's choice among units with work.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Show a unit's relation data, charm state and status.
    ShowUnit {
        /// The unit.
        unit: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
        format: DataFormat,
    },
    /// Show the operations each unit ran (hooks, actions, charm swaps).
    History {
        /// Only this unit.
        #[arg(long)]
        unit: Option<String>,
    },
    /// Delete the model directory.
    Destroy,
}

/// Fault injections.
#[derive(Debug, Subcommand)]
pub enum FaultCommand {
    /// The unit's next hook (or next run of --hook) fails; its batched writes are discarded.
    FailNextHook {
        /// The unit.
        unit: String,
        /// Only this hook, e.g. `upgrade-charm` (default: whatever hook runs next).
        #[arg(long)]
        hook: Option<String>,
    },
    /// The unit agent is killed after N hook-tool calls of its next hook or action (or of --hook).
    KillAgent {
        /// The unit.
        unit: String,
        /// Tool calls before the kill.
        #[arg(long)]
        after_tool_calls: u32,
        /// Only this hook or action name (default: whatever runs next).
        #[arg(long)]
        hook: Option<String>,
    },
}

/// Runs the CLI with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR {e:#}");
            1
        }
    }
}

fn model_dir(cli: &Cli) -> Result<PathBuf> {
    match &cli.model {
        Some(dir) => Ok(dir.clone()),
        None => default_model_dir()
            .ok_or_else(|| anyhow!("no model directory: pass --model or set JUJU_SIM_MODEL")),
    }
}

fn open(dir: &PathBuf) -> Result<Engine> {
    Engine::open(dir, EngineOptions::default())
        .with_context(|| format!("opening model {}", dir.display()))
}

/// Settles unless told not to, and reports units left in error on stderr.
fn settle(engine: &mut Engine, wait: &Wait) -> Result<()> {
    if wait.no_wait {
        return Ok(());
    }
    let report = engine.settle()?;
    warn_errors(&report);
    Ok(())
}

fn warn_errors(report: &SettleReport) {
    for error in &report.errors {
        eprintln!(
            "WARNING unit {} is in error: hook failed: {:?} ({}, {} attempts); fix it and run `juju-sim resolved {}`",
            error.unit, error.hook, error.reason, error.attempts, error.unit
        );
    }
}

fn run(cli: Cli) -> Result<i32> {
    let dir = model_dir(&cli)?;
    match cli.command {
        Command::Status { format } => {
            let model = ModelDir::new(&dir)
                .load()?
                .ok_or_else(|| anyhow!("no model at {}", dir.display()))?;
            print!(
                "{}",
                format::status(&crate::engine::status::report(&model), format)?
            );
        }
        Command::DebugLog {
            include,
            level,
            replay,
            lines,
        } => {
            let level: Level = level.parse().map_err(|e: String| anyhow!(e))?;
            let entries = ModelDir::new(&dir).read_log()?;
            let selected: Vec<_> = entries
                .iter()
                .filter(|e| e.level >= level)
                .filter(|e| include.is_empty() || include.iter().any(|i| format::log_matches(e, i)))
                .collect();
            let start = if replay {
                0
            } else {
                selected.len().saturating_sub(lines)
            };
            for entry in &selected[start..] {
                println!("{}", entry.render());
            }
        }
        Command::History { unit } => {
            for record in ModelDir::new(&dir).read_history()? {
                if unit.as_ref().is_none_or(|u| *u == record.unit) {
                    println!("{}", format::history_line(&record));
                }
            }
        }
        Command::Deploy {
            charm,
            app,
            num_units,
            revision,
            wait,
        } => {
            let mut engine = open(&dir)?;
            let app = match app {
                Some(app) => app,
                None => crate::charm_archive::read_charm(&charm)?.metadata.name,
            };
            let units = engine.deploy(&charm, &app, num_units, revision)?;
            let revision = engine
                .model()
                .applications
                .get(&app)
                .map(|a| a.revision)
                .unwrap_or_default();
            println!(
                "Deployed {app:?} (revision {revision}) with units {}",
                units.join(", ")
            );
            settle(&mut engine, &wait)?;
        }
        Command::AddCharm { charm, revision } => {
            let mut engine = open(&dir)?;
            let (name, revision) = engine.add_charm(&charm, revision)?;
            println!("Added charm {name:?} revision {revision}");
        }
        Command::Refresh {
            app,
            path,
            revision,
            wait,
        } => {
            let mut engine = open(&dir)?;
            let source = match (path, revision) {
                (Some(path), None) => Source::Path(path),
                (None, Some(revision)) => Source::Revision(revision),
                _ => bail!("exactly one of --path and --revision is required"),
            };
            let revision = engine.refresh(&app, source)?;
            println!("Refreshing {app:?} to charm revision {revision}");
            settle(&mut engine, &wait)?;
        }
        Command::Run {
            target,
            action,
            params,
            string_args,
            background,
        } => {
            let mut engine = open(&dir)?;
            let params = params::parse(&params, string_args)?;
            let id = engine.run_action(&target, &action, params)?;
            let unit = engine.task(id).map(|t| t.unit.clone()).unwrap_or_default();
            println!(
                "Running operation {id} with 1 task\n  - task {id} on unit-{}\n",
                unit.replace('/', "-")
            );
            if background {
                println!("Check the task status with: juju-sim show-task {id}");
                return Ok(0);
            }
            println!("Waiting for task {id}...");
            let report = engine.settle()?;
            let task = engine
                .task(id)
                .ok_or_else(|| anyhow!("task {id} vanished"))?;
            print!("{}", format::task_result(task)?);
            warn_errors(&report);
            return Ok(match task.status {
                TaskStatus::Completed => 0,
                TaskStatus::Pending | TaskStatus::Running => {
                    eprintln!("ERROR task {id} did not run: the model settled without running it");
                    1
                }
                _ => {
                    let code = task
                        .results
                        .get("return-code")
                        .and_then(|c| c.as_i64())
                        .unwrap_or(1);
                    eprintln!(
                        "ERROR the following task failed:\n id {:?} with return code {code}\n\nuse 'juju-sim show-task {id}' to inspect the failure",
                        id.to_string()
                    );
                    1
                }
            });
        }
        Command::ShowTask { id, format } => {
            let model = ModelDir::new(&dir)
                .load()?
                .ok_or_else(|| anyhow!("no model at {}", dir.display()))?;
            let task = model
                .tasks
                .get(&id)
                .ok_or_else(|| anyhow!("task {id} not found"))?;
            print!("{}", format::data(&format::task_value(task), format)?);
        }
        Command::AddUnit {
            app,
            num_units,
            wait,
        } => {
            let mut engine = open(&dir)?;
            let units = engine.add_unit(&app, num_units)?;
            println!("Added {}", units.join(", "));
            settle(&mut engine, &wait)?;
        }
        Command::RemoveUnit { units, wait } => {
            let mut engine = open(&dir)?;
            for unit in &units {
                engine.remove_unit(unit)?;
                println!("removing unit {unit}");
            }
            settle(&mut engine, &wait)?;
        }
        Command::Resolved {
            unit,
            no_retry,
            wait,
        } => {
            let mut engine = open(&dir)?;
            if no_retry {
                engine.resolved_no_retry(&unit)?;
            } else {
                engine.resolved(&unit)?;
            }
            settle(&mut engine, &wait)?;
        }
        Command::Settle => {
            let mut engine = open(&dir)?;
            let report = engine.settle()?;
            println!("settled after {} operations", report.operations.len());
            warn_errors(&report);
        }
        Command::Fault { fault } => {
            let mut engine = open(&dir)?;
            match fault {
                FaultCommand::FailNextHook { unit, hook } => {
                    match &hook {
                        Some(hook) => engine.fail_next_hook_named(&unit, hook)?,
                        None => engine.fail_next_hook(&unit)?,
                    }
                    let what = hook.map_or("next hook".to_string(), |h| format!("next {h:?} hook"));
                    println!("the {what} of {unit} will fail");
                }
                FaultCommand::KillAgent {
                    unit,
                    after_tool_calls,
                    hook,
                } => {
                    match &hook {
                        Some(hook) => {
                            engine.kill_agent_mid_hook_named(&unit, hook, after_tool_calls)?
                        }
                        None => engine.kill_agent_mid_hook(&unit, after_tool_calls)?,
                    }
                    let what = hook.map_or("next hook or action".to_string(), |h| {
                        format!("next {h:?} run")
                    });
                    println!("the agent of {unit} will be killed after {after_tool_calls} tool calls of its {what}");
                }
            }
        }
        Command::UpdateStatus { target, wait } => {
            let mut engine = open(&dir)?;
            engine.update_status(&target)?;
            settle(&mut engine, &wait)?;
        }
        Command::Leader { unit, wait } => {
            let mut engine = open(&dir)?;
            let app = crate::model::app_of(&unit).to_string();
            engine.move_leader(&app, &unit)?;
            println!("{unit} is now the leader of {app}");
            settle(&mut engine, &wait)?;
        }
        Command::Config { app, values, wait } => {
            let mut engine = open(&dir)?;
            if values.is_empty() {
                print!("{}", format::config(&mut engine, &app)?);
                return Ok(0);
            }
            let mut parsed = BTreeMap::new();
            for pair in &values {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("expected \"key=value\", got {pair:?}"))?;
                parsed.insert(key.to_string(), value.to_string());
            }
            engine.set_config(&app, &parsed)?;
            settle(&mut engine, &wait)?;
        }
        Command::ModelConfig {
            env,
            unset_env,
            seed,
        } => {
            let mut engine = open(&dir)?;
            for pair in &env {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("expected K=V, got {pair:?}"))?;
                engine.set_model_env(key, Some(value))?;
            }
            for key in &unset_env {
                engine.set_model_env(key, None)?;
            }
            if let Some(seed) = seed {
                engine.reseed(seed)?;
            }
            let model = engine.model();
            println!("name: {}\nuuid: {}", model.name, model.uuid);
            println!("env:");
            for (key, value) in &model.env {
                println!("  {key}: {value}");
            }
        }
        Command::ShowUnit { unit, format } => {
            let model = ModelDir::new(&dir)
                .load()?
                .ok_or_else(|| anyhow!("no model at {}", dir.display()))?;
            print!(
                "{}",
                format::data(&format::unit_value(&model, &unit)?, format)?
            );
        }
        Command::Destroy => {
            let model_dir = ModelDir::new(&dir);
            if !model_dir.exists() {
                bail!("no model at {}", dir.display());
            }
            let _lock = model_dir.lock()?;
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            println!("destroyed model {}", dir.display());
        }
    }
    Ok(0)
}
