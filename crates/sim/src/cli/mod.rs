//! The `juju-sim` command line: `juju`-like commands over the [`Engine`].
//! It takes the command lines `juju` 3.6 takes (the flags jubilant passes
//! included), refuses what the emulator cannot do with an `ERROR` line and a
//! non-zero exit as `juju` does, and prints Juju's JSON/YAML schemas.
//! Mutating commands take the model lock and settle the model before
//! returning (unless `--no-wait`/`--background`); `status` and `debug-log`
//! read without the lock. Started as `juju` (a link named so), it is the
//! same CLI.

mod agent;
mod exec;
mod format;
mod juju_status;
mod models;
mod params;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::{Engine, EngineOptions, SettleReport, Source};
use crate::model::{Level, ModelDir, TaskStatus};
use crate::models::{ModelRef, ModelsRoot};

/// A local Juju model emulator: deploy a charm, refresh it, run actions and
/// watch every unit run its hooks with Juju 3.6's semantics.
#[derive(Debug, Parser)]
#[command(name = "juju-sim", version)]
pub struct Cli {
    /// The model: a directory (a value with a `/`), or a model name in the models root
    /// ($JUJU_SIM_HOME, else $XDG_DATA_HOME/juju-sim, else ~/.local/share/juju-sim).
    /// Default: $JUJU_SIM_MODEL (a directory), else $JUJU_MODEL, else the current model.
    #[arg(short = 'm', long, global = true, value_name = "MODEL")]
    pub model: Option<String>,
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
    /// JSON, Juju 3.6's schema.
    Json,
    /// YAML, Juju 3.6's schema.
    Yaml,
}

/// Output formats of `show-unit`, `show-task`, `config`, `models`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// Output formats of `run` and `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskFormat {
    /// Log lines, results and stdout, as `juju run` prints them by default.
    Plain,
    /// `{unit: task}` in JSON.
    Json,
    /// `{unit: task}` in YAML.
    Yaml,
}

/// Flags `juju` takes that mean nothing without a cloud: accepted, ignored.
#[derive(Debug, Args)]
pub struct Ignored {
    /// Ignored (no cloud credentials to trust with).
    #[arg(long)]
    pub trust: bool,
    /// Ignored (no machines to constrain).
    #[arg(long, value_name = "CONSTRAINTS")]
    pub constraints: Vec<String>,
    /// Ignored (nothing to force past).
    #[arg(long)]
    pub force: bool,
}

/// Flags `juju` takes for what juju-sim does not emulate: refused with an error.
#[derive(Debug, Args)]
pub struct Unsupported {
    /// Not supported: placement (every unit gets a new machine).
    #[arg(long, value_name = "PLACEMENT")]
    pub to: Vec<String>,
    /// Not supported: resources.
    #[arg(long, value_name = "NAME=VALUE")]
    pub resource: Vec<String>,
    /// Not supported: storage.
    #[arg(long, value_name = "NAME=CONSTRAINTS")]
    pub storage: Vec<String>,
    /// Not supported: storage.
    #[arg(long, value_name = "STORAGE")]
    pub attach_storage: Vec<String>,
    /// Not supported: spaces.
    #[arg(long, value_name = "BINDINGS")]
    pub bind: Option<String>,
    /// Not supported: bundles.
    #[arg(long, value_name = "FILE")]
    pub overlay: Vec<String>,
}

impl Unsupported {
    /// The `ERROR` for the first flag given, if any.
    fn check(&self) -> Result<()> {
        let given = [
            (
                "--to",
                !self.to.is_empty(),
                "every unit gets a machine of its own",
            ),
            (
                "--resource",
                !self.resource.is_empty(),
                "resources are not emulated",
            ),
            (
                "--storage",
                !self.storage.is_empty(),
                "storage is not emulated",
            ),
            (
                "--attach-storage",
                !self.attach_storage.is_empty(),
                "storage is not emulated",
            ),
            ("--bind", self.bind.is_some(), "spaces are not emulated"),
            (
                "--overlay",
                !self.overlay.is_empty(),
                "bundles are not emulated",
            ),
        ];
        match given.iter().find(|(_, present, _)| *present) {
            Some((flag, _, why)) => bail!("juju-sim does not support {flag}: {why}"),
            None => Ok(()),
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy a local charm (directory or .charm file) as a new application.
    Deploy {
        /// The charm directory or .charm archive (juju-sim has no Charmhub).
        charm: String,
        /// Application name (default: the charm name).
        app: Option<String>,
        /// Number of units.
        #[arg(short = 'n', long = "num-units", default_value_t = 1)]
        num_units: usize,
        /// Store revision for this charm (default: the next free one, 1 for the first).
        #[arg(long)]
        revision: Option<u64>,
        /// Config: `key=value` (repeatable) or a YAML file `{app: {key: value}}`.
        #[arg(long, value_name = "KEY=VALUE|FILE")]
        config: Vec<String>,
        /// The base, e.g. `ubuntu@22.04` (shown by `status`).
        #[arg(long)]
        base: Option<String>,
        /// Not supported: channels are Charmhub's.
        #[arg(long)]
        channel: Option<String>,
        /// Flags accepted and ignored.
        #[command(flatten)]
        ignored: Ignored,
        /// Flags refused.
        #[command(flatten)]
        unsupported: Unsupported,
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
    /// Change an application's charm: every unit runs upgrade-charm, config-changed, and on
    /// non-leaders leader-settings-changed.
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
        /// Config to set with the refresh: `key=value` (repeatable) or a YAML file.
        #[arg(long, value_name = "KEY=VALUE|FILE")]
        config: Vec<String>,
        /// Not supported: channels are Charmhub's.
        #[arg(long)]
        channel: Option<String>,
        /// Not supported: a refresh keeps the base.
        #[arg(long)]
        base: Option<String>,
        /// Ignored (no base to force).
        #[arg(long)]
        force_base: bool,
        /// Accepted while no unit of the application is in error (what it would change is
        /// not emulated: a unit in error is not refreshed past its error).
        #[arg(long)]
        force_units: bool,
        /// Flags accepted and ignored.
        #[command(flatten)]
        ignored: Ignored,
        /// Not supported: resources.
        #[arg(long, value_name = "NAME=VALUE")]
        resource: Vec<String>,
        /// Not supported: storage.
        #[arg(long, value_name = "NAME=CONSTRAINTS")]
        storage: Vec<String>,
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
        /// A YAML file of parameters (`key=value` words override it).
        #[arg(long = "params", value_name = "FILE")]
        params_file: Option<PathBuf>,
        /// Keep every value a string.
        #[arg(long)]
        string_args: bool,
        /// Enqueue only; print the task id and return.
        #[arg(long)]
        background: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TaskFormat::Plain)]
        format: TaskFormat,
        /// Accepted (a duration such as `60s`); the command returns when the model has settled.
        #[arg(long, value_name = "DURATION")]
        wait: Option<String>,
        /// Accepted and ignored.
        #[arg(long)]
        color: bool,
        /// Accepted and ignored.
        #[arg(long)]
        no_color: bool,
        /// Accepted and ignored.
        #[arg(long)]
        quiet: bool,
    },
    /// Run a command on a unit's machine (cwd: its machine directory) and print its output.
    Exec {
        /// The unit (`app/N` or `app/leader`).
        #[arg(short = 'u', long = "unit", value_name = "UNIT")]
        units: Vec<String>,
        /// A machine id.
        #[arg(long = "machine", value_name = "MACHINE")]
        machines: Vec<String>,
        /// Not supported: one unit or machine at a time.
        #[arg(long)]
        all: bool,
        /// Not supported: one unit or machine at a time.
        #[arg(short = 'a', long = "application", value_name = "APP")]
        applications: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TaskFormat::Plain)]
        format: TaskFormat,
        /// How long the command may run (default 5m, as Juju's).
        #[arg(long, value_name = "DURATION")]
        wait: Option<String>,
        /// Accepted and ignored.
        #[arg(long)]
        background: bool,
        /// The command and its arguments (after `--`), run with `sh -c`.
        #[arg(last = true, required = true)]
        command: Vec<String>,
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
        /// Accepted; every application and unit is shown.
        patterns: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Tabular)]
        format: StatusFormat,
        /// Accepted and ignored.
        #[arg(long)]
        relations: bool,
        /// Accepted and ignored.
        #[arg(long)]
        storage: bool,
        /// Accepted and ignored.
        #[arg(long)]
        color: bool,
        /// Accepted and ignored.
        #[arg(long)]
        no_color: bool,
        /// Accepted and ignored.
        #[arg(long)]
        utc: bool,
    },
    /// Print the model's log (hook output, juju-log, agent messages); never follows.
    DebugLog {
        /// Only these units or applications (repeatable), e.g. `mysql/0`, `unit-mysql-0` or `mysql`.
        #[arg(short = 'i', long)]
        include: Vec<String>,
        /// Leave out these units or applications (repeatable).
        #[arg(short = 'x', long)]
        exclude: Vec<String>,
        /// Minimum level: TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL.
        #[arg(short = 'l', long, default_value = "DEBUG")]
        level: String,
        /// Print the whole log.
        #[arg(long, conflicts_with = "lines")]
        replay: bool,
        /// Print the last N lines.
        #[arg(short = 'n', long)]
        lines: Option<usize>,
        /// Print at most the last N lines (0: all), as `juju debug-log --limit`.
        #[arg(long, conflicts_with_all = ["lines", "replay"])]
        limit: Option<usize>,
        /// Accepted: juju-sim never follows the log.
        #[arg(long)]
        no_tail: bool,
        /// Accepted: juju-sim never follows the log.
        #[arg(long)]
        tail: bool,
        /// Accepted and ignored.
        #[arg(long)]
        color: bool,
        /// Accepted and ignored.
        #[arg(long)]
        no_color: bool,
        /// Accepted and ignored.
        #[arg(long)]
        utc: bool,
    },
    /// Add units to an application.
    AddUnit {
        /// The application.
        app: String,
        /// Number of units.
        #[arg(short = 'n', long = "num-units", default_value_t = 1)]
        num_units: usize,
        /// Not supported: placement.
        #[arg(long, value_name = "PLACEMENT")]
        to: Option<String>,
        /// Not supported: storage.
        #[arg(long, value_name = "STORAGE")]
        attach_storage: Vec<String>,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Remove units (departed hooks on the others, then stop and remove).
    RemoveUnit {
        /// The units.
        #[arg(required = true)]
        units: Vec<String>,
        /// Accepted: juju-sim never prompts.
        #[arg(long)]
        no_prompt: bool,
        /// Accepted (no storage to destroy).
        #[arg(long)]
        destroy_storage: bool,
        /// Accepted and ignored.
        #[arg(long)]
        force: bool,
        /// Not supported: Kubernetes models only.
        #[arg(long)]
        num_units: Option<usize>,
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
    /// Show or set application config: `config APP`, `config APP KEY`, `config APP k=v ...`.
    Config {
        /// The application.
        app: String,
        /// One key to show, or `key=value` words to set.
        values: Vec<String>,
        /// Keys to reset to their defaults (comma-separated, repeatable).
        #[arg(long, value_name = "KEYS")]
        reset: Vec<String>,
        /// A YAML file `{app: {key: value}}` of values to set.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Output format when showing.
        #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
        format: DataFormat,
        /// Whether to settle before returning.
        #[command(flatten)]
        wait: Wait,
    },
    /// Show or change model settings: `key=value` settings, extra hook environment, scheduler seed.
    ModelConfig {
        /// One key to show, or `key=value` words to set.
        values: Vec<String>,
        /// Keys to reset (comma-separated, repeatable).
        #[arg(long, value_name = "KEYS")]
        reset: Vec<String>,
        /// Output format when showing.
        #[arg(long, value_enum)]
        format: Option<DataFormat>,
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
    /// Add a model to the models root (and switch to it unless --no-switch).
    AddModel {
        /// The model name.
        name: String,
        /// Accepted: the only cloud is `localhost`.
        cloud: Option<String>,
        /// Do not make it the current model.
        #[arg(long)]
        no_switch: bool,
        /// Model settings `key=value` (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Accepted: the only controller is juju-sim.
        #[arg(short = 'c', long)]
        controller: Option<String>,
        /// Accepted and ignored.
        #[arg(long)]
        credential: Option<String>,
    },
    /// Destroy a model of the models root (or a model directory).
    DestroyModel {
        /// The model name (or directory).
        name: String,
        /// Accepted: juju-sim never prompts.
        #[arg(long)]
        no_prompt: bool,
        /// Accepted (no storage to destroy).
        #[arg(long)]
        destroy_storage: bool,
        /// Accepted (no storage to release).
        #[arg(long)]
        release_storage: bool,
        /// Accepted and ignored.
        #[arg(long)]
        force: bool,
        /// Accepted: destroying returns when the model is gone.
        #[arg(long)]
        no_wait: bool,
        /// Accepted and ignored.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
    },
    /// List the models of the models root.
    Models {
        /// Output format (default: a table).
        #[arg(long, value_enum)]
        format: Option<DataFormat>,
    },
    /// Show a model's details.
    ShowModel {
        /// The model (default: the current one).
        name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
        format: DataFormat,
    },
    /// Make a model of the models root the current one.
    Switch {
        /// The model name.
        name: String,
    },
    /// Print the Juju version juju-sim emulates.
    Version {
        /// Output format (default: the bare version).
        #[arg(long, value_enum)]
        format: Option<DataFormat>,
        /// Show the build details too.
        #[arg(long)]
        all: bool,
    },
    /// The model's background agent (started by commands when `juju-sim-agents` is `background`).
    #[command(hide = true)]
    Agent,
    /// Not supported: relations between applications are not emulated.
    Integrate {
        /// Arguments as `juju integrate` takes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Not supported: removing an application is not emulated (remove its units).
    RemoveApplication {
        /// Arguments as `juju remove-application` takes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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
            if !e.use_stderr() {
                let _ = e.print();
                return 0;
            }
            // `juju` prints one ERROR line and exits 2 for a command line it does not take.
            if e.kind() == clap::error::ErrorKind::UnknownArgument {
                if let Some(arg) = e.get(clap::error::ContextKind::InvalidArg) {
                    eprintln!("ERROR option provided but not defined: {arg}");
                    return 2;
                }
            }
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            eprintln!("ERROR {first}");
            for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
                eprintln!("{line}");
            }
            return 2;
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

fn root() -> Option<ModelsRoot> {
    ModelsRoot::from_env()
}

fn open(dir: &PathBuf) -> Result<Engine> {
    Engine::open(dir, EngineOptions::default())
        .with_context(|| format!("opening model {}", dir.display()))
}

/// Opens a model that must exist already (a model chosen by name is created by `add-model`;
/// a directory is created by the first command that needs it, as before).
fn open_model(model: &ModelRef) -> Result<Engine> {
    if let Some(name) = &model.name {
        if !ModelDir::new(&model.dir).exists() && name != crate::models::DEFAULT_MODEL {
            bail!("model {name:?} not found (add it with `add-model {name}`)");
        }
    }
    open(&model.dir)
}

/// Waits (polling `model.json`, no lock) until task `id` is final; the model then, or
/// `None` after `timeout`.
fn wait_for_task(
    dir: &std::path::Path,
    id: u64,
    timeout: std::time::Duration,
) -> Result<Option<crate::model::Model>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(model) = ModelDir::new(dir).load()? {
            if model.tasks.get(&id).is_some_and(|t| t.status.is_final()) {
                return Ok(Some(model));
            }
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// Reads a model without the lock.
fn load(model: &ModelRef) -> Result<crate::model::Model> {
    ModelDir::new(&model.dir)
        .load()?
        .ok_or_else(|| match &model.name {
            Some(name) => anyhow!("model {name:?} not found"),
            None => anyhow!("no model at {}", model.dir.display()),
        })
}

/// Settles unless told not to (or hands the work to the model's background agent), and
/// reports units left in error on stderr.
fn settle(engine: &mut Engine, wait: &Wait) -> Result<()> {
    if agent::is_background(engine.model()) {
        return agent::ensure_running(engine.dir());
    }
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

/// `key=value` words, or YAML files `{app: {key: value}}` (`juju deploy --config`).
fn config_words(app: &str, words: &[String]) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for word in words {
        match word.split_once('=') {
            Some((key, value)) => {
                values.insert(key.to_string(), value.to_string());
            }
            None => values.extend(config_file(app, std::path::Path::new(word))?),
        }
    }
    Ok(values)
}

fn config_file(app: &str, path: &std::path::Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("expected \"key=value\" or a YAML file, got {path:?}"))?;
    let doc: serde_json::Value =
        serde_yaml::from_str(&text).with_context(|| format!("{}: invalid YAML", path.display()))?;
    let settings = doc
        .get(app)
        .and_then(|v| v.as_object())
        .ok_or_else(|| anyhow!("{}: no settings for application {app:?}", path.display()))?;
    Ok(settings
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

/// `--reset a,b --reset c` as keys.
fn reset_keys(reset: &[String]) -> Vec<String> {
    reset
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

/// True when `charm` names a local charm (Juju: a path starting with `.` or `/`, or an existing path).
fn is_local_charm(charm: &str) -> bool {
    charm.starts_with('.') || charm.starts_with('/') || std::path::Path::new(charm).exists()
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        command @ (Command::AddModel { .. }
        | Command::DestroyModel { .. }
        | Command::Models { .. }
        | Command::ShowModel { .. }
        | Command::Switch { .. }
        | Command::Version { .. }) => models::run(cli.model.as_deref(), command),
        command => {
            let model = crate::models::resolve(cli.model.as_deref(), root().as_ref())
                .map_err(|e| anyhow!(e))?;
            run_in_model(&model, command)
        }
    }
}

fn run_in_model(model: &ModelRef, command: Command) -> Result<i32> {
    let model = model.clone();
    let dir = model.dir.clone();
    match command {
        Command::Status { format, .. } => {
            let mut loaded = load(&model)?;
            juju_status::overlay_running(&ModelDir::new(&dir), &mut loaded);
            let text = match format {
                StatusFormat::Tabular => format::status(&crate::engine::status::report(&loaded))?,
                StatusFormat::Json => {
                    serde_json::to_string_pretty(&juju_status::status(
                        &ModelDir::new(&dir),
                        &loaded,
                    ))? + "\n"
                }
                StatusFormat::Yaml => {
                    serde_yaml::to_string(&juju_status::status(&ModelDir::new(&dir), &loaded))?
                }
            };
            print!("{text}");
        }
        Command::DebugLog {
            include,
            exclude,
            level,
            replay,
            lines,
            limit,
            ..
        } => {
            let level: Level = level.parse().map_err(|e: String| anyhow!(e))?;
            let epoch = ModelDir::new(&dir).load()?.map_or(0, |m| m.epoch);
            let entries = ModelDir::new(&dir).read_log()?;
            let selected: Vec<_> = entries
                .iter()
                .filter(|e| e.level >= level)
                .filter(|e| include.is_empty() || include.iter().any(|i| format::log_matches(e, i)))
                .filter(|e| !exclude.iter().any(|x| format::log_matches(e, x)))
                .collect();
            let keep = match (replay, limit, lines) {
                (true, _, _) | (_, Some(0), _) => selected.len(),
                (_, Some(n), _) | (_, None, Some(n)) => n,
                (false, None, None) => 10,
            };
            for entry in &selected[selected.len().saturating_sub(keep)..] {
                println!("{}", entry.render_from(epoch));
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
            config,
            base,
            channel,
            ignored: _,
            unsupported,
            wait,
        } => {
            unsupported.check()?;
            if !is_local_charm(&charm) {
                bail!("juju-sim deploys local charms only (a directory or a .charm file, e.g. ./{charm}.charm); {charm:?} is not one");
            }
            if channel.is_some() {
                bail!("juju-sim does not support --channel: a local charm has no channel");
            }
            let charm = PathBuf::from(charm);
            let metadata = crate::charm_archive::read_charm(&charm)?;
            let app = app.unwrap_or_else(|| metadata.metadata.name.clone());
            // Checked before anything is stored, so a bad value deploys nothing.
            let values = config_words(&app, &config)?;
            for (key, raw) in &values {
                let option = metadata
                    .config
                    .get(key)
                    .ok_or_else(|| anyhow!("unknown option {key:?}"))?;
                crate::charm_meta::parse_config_value(option, raw)
                    .map_err(|e| anyhow!("option {key:?}: {e}"))?;
            }
            if let Some(base) = &base {
                crate::engine::check_base(base)?;
            }
            let mut engine = open_model(&model)?;
            let units = engine.deploy(&charm, &app, num_units, revision)?;
            // Set before any hook runs, so install and the first config-changed see it.
            engine.set_config(&app, &values)?;
            if let Some(base) = &base {
                engine.set_base(&app, base)?;
            }
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
            let mut engine = open_model(&model)?;
            let (name, revision) = engine.add_charm(&charm, revision)?;
            println!("Added charm {name:?} revision {revision}");
        }
        Command::Refresh {
            app,
            path,
            revision,
            config,
            channel,
            base,
            force_base: _,
            force_units,
            ignored: _,
            resource,
            storage,
            wait,
        } => {
            if channel.is_some() {
                bail!("juju-sim does not support --channel: a local charm has no channel");
            }
            if base.is_some() {
                bail!(
                    "juju-sim does not support --base on refresh: the application keeps its base"
                );
            }
            if !resource.is_empty() || !storage.is_empty() {
                bail!("juju-sim does not support --resource or --storage: resources and storage are not emulated");
            }
            let mut engine = open_model(&model)?;
            if force_units {
                if let Some(unit) = engine
                    .model()
                    .units_of(&app)
                    .into_iter()
                    .find(|u| u.error.is_some())
                {
                    bail!(
                        "juju-sim does not support --force-units with a unit in error ({}): resolve it first (`juju-sim resolved {}`)",
                        unit.name,
                        unit.name
                    );
                }
            }
            let values = config_words(&app, &config)?;
            let source = match (path, revision) {
                (Some(path), None) => Source::Path(path),
                (None, Some(revision)) => Source::Revision(revision),
                _ => bail!("exactly one of --path and --revision is required"),
            };
            let revision = engine.refresh(&app, source)?;
            engine.set_config(&app, &values)?;
            println!("Refreshing {app:?} to charm revision {revision}");
            settle(&mut engine, &wait)?;
        }
        Command::Run {
            target,
            action,
            params,
            params_file,
            string_args,
            background,
            format,
            wait,
            ..
        } => {
            let timeout = match &wait {
                Some(text) => exec::parse_duration(text)?,
                None => std::time::Duration::from_secs(300),
            };
            let mut engine = open_model(&model)?;
            let mut parsed = match &params_file {
                Some(path) => params::from_file(path)?,
                None => serde_json::Map::new(),
            };
            parsed.extend(params::parse(&params, string_args)?);
            let id = engine.run_action(&target, &action, parsed)?;
            let unit = engine.task(id).map(|t| t.unit.clone()).unwrap_or_default();
            let in_background = agent::is_background(engine.model());
            if background {
                if in_background {
                    agent::ensure_running(engine.dir())?;
                }
                println!(
                    "Scheduled operation {id} with task {id}\nCheck operation status with 'juju-sim show-operation {id}'\nCheck task status with 'juju-sim show-task {id}'"
                );
                return Ok(0);
            }
            if format == TaskFormat::Plain {
                println!(
                    "Running operation {id} with 1 task\n  - task {id} on unit-{}\n",
                    unit.replace('/', "-")
                );
                println!("Waiting for task {id}...");
            }
            let (report, settled) = if in_background {
                let dir = engine.dir().to_path_buf();
                drop(engine);
                agent::ensure_running(&dir)?;
                match wait_for_task(&dir, id, timeout)? {
                    Some(model) => (SettleReport::default(), model),
                    None => {
                        eprintln!(
                            "ERROR timed out waiting for results from: task {id} on {unit} (after {timeout:?}); it goes on in the background"
                        );
                        return Ok(1);
                    }
                }
            } else {
                let report = engine.settle()?;
                (report, engine.model().clone())
            };
            let task = settled
                .tasks
                .get(&id)
                .ok_or_else(|| anyhow!("task {id} vanished"))?;
            let epoch = settled.epoch;
            match format {
                TaskFormat::Plain => print!("{}", format::task_result(task)?),
                TaskFormat::Json | TaskFormat::Yaml => {
                    let mut doc = serde_json::Map::new();
                    doc.insert(task.unit.clone(), format::task_run_value(task, epoch));
                    let doc = serde_json::Value::Object(doc);
                    let data = if format == TaskFormat::Json {
                        DataFormat::Json
                    } else {
                        DataFormat::Yaml
                    };
                    print!("{}", format::data(&doc, data)?);
                }
            }
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
        Command::Exec {
            units,
            machines,
            all,
            applications,
            format,
            wait,
            command,
            ..
        } => {
            if all || !applications.is_empty() {
                bail!("juju-sim does not support --all or --application: exec on one --unit or --machine");
            }
            let loaded = load(&model)?;
            let request = exec::Request {
                units,
                machines,
                command,
                timeout: match &wait {
                    Some(text) => exec::parse_duration(text)?,
                    None => std::time::Duration::from_secs(300),
                },
            };
            return exec::run(&ModelDir::new(&dir), &loaded, &request, format);
        }
        Command::ShowTask { id, format } => {
            let loaded = load(&model)?;
            let task = loaded
                .tasks
                .get(&id)
                .ok_or_else(|| anyhow!("task {id} not found"))?;
            print!("{}", format::data(&format::task_value(task), format)?);
        }
        Command::AddUnit {
            app,
            num_units,
            to,
            attach_storage,
            wait,
        } => {
            if to.is_some() {
                bail!("juju-sim does not support --to: every unit gets a machine of its own");
            }
            if !attach_storage.is_empty() {
                bail!("juju-sim does not support --attach-storage: storage is not emulated");
            }
            let mut engine = open_model(&model)?;
            let units = engine.add_unit(&app, num_units)?;
            println!("Added {}", units.join(", "));
            settle(&mut engine, &wait)?;
        }
        Command::RemoveUnit {
            units,
            num_units,
            wait,
            ..
        } => {
            if num_units.is_some() {
                bail!("--num-units is for Kubernetes models; name the units to remove");
            }
            let mut engine = open_model(&model)?;
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
            let mut engine = open_model(&model)?;
            if no_retry {
                engine.resolved_no_retry(&unit)?;
            } else {
                engine.resolved(&unit)?;
            }
            settle(&mut engine, &wait)?;
        }
        Command::Settle => {
            let mut engine = open_model(&model)?;
            let report = engine.settle()?;
            println!("settled after {} operations", report.operations.len());
            warn_errors(&report);
        }
        Command::Fault { fault } => {
            let mut engine = open_model(&model)?;
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
            let mut engine = open_model(&model)?;
            engine.update_status(&target)?;
            settle(&mut engine, &wait)?;
        }
        Command::Leader { unit, wait } => {
            let mut engine = open_model(&model)?;
            let app = crate::model::app_of(&unit).to_string();
            engine.move_leader(&app, &unit)?;
            println!("{unit} is now the leader of {app}");
            settle(&mut engine, &wait)?;
        }
        Command::Config {
            app,
            values,
            reset,
            file,
            format,
            wait,
        } => {
            let mut engine = open_model(&model)?;
            let resets = reset_keys(&reset);
            let mut sets = match &file {
                Some(path) => config_file(&app, path)?,
                None => BTreeMap::new(),
            };
            if resets.is_empty()
                && sets.is_empty()
                && values.len() <= 1
                && !values.iter().any(|v| v.contains('='))
            {
                match values.first() {
                    None => print!("{}", format::config(&mut engine, &app, format)?),
                    Some(key) => println!("{}", format::config_key(&mut engine, &app, key)?),
                }
                return Ok(0);
            }
            for pair in &values {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("expected \"key=value\", got {pair:?}"))?;
                sets.insert(key.to_string(), value.to_string());
            }
            if let Some(key) = resets.iter().find(|k| sets.contains_key(*k)) {
                bail!("cannot set and reset key {key:?} simultaneously");
            }
            engine.set_config(&app, &sets)?;
            engine.reset_config(&app, &resets)?;
            settle(&mut engine, &wait)?;
        }
        Command::ModelConfig {
            values,
            reset,
            format,
            env,
            unset_env,
            seed,
        } => {
            let mut engine = open_model(&model)?;
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
            let resets = reset_keys(&reset);
            let sets: Vec<&String> = values.iter().filter(|v| v.contains('=')).collect();
            if !sets.is_empty() || !resets.is_empty() {
                if sets.len() != values.len() {
                    bail!("cannot mix getting and setting model config");
                }
                for pair in sets {
                    let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
                    let value = serde_yaml::from_str::<serde_json::Value>(raw)
                        .ok()
                        .filter(|v| !v.is_null() && !v.is_object() && !v.is_array())
                        .unwrap_or_else(|| serde_json::Value::String(raw.to_string()));
                    engine.set_model_config(key, Some(value))?;
                }
                for key in &resets {
                    engine.set_model_config(key, None)?;
                }
                return Ok(0);
            }
            let settings = format::model_config(engine.model());
            match (values.first(), format) {
                (Some(key), _) => {
                    let entry = settings.get(key).ok_or_else(|| {
                        anyhow!("key {key:?} not found in {:?} model", engine.model().name)
                    })?;
                    println!("{}", format::plain_value(&entry["Value"]));
                }
                (None, Some(format)) => print!(
                    "{}",
                    format::data(&serde_json::Value::Object(settings), format)?
                ),
                (None, None) => print!("{}", format::model_config_table(engine.model(), &settings)),
            }
        }
        Command::ShowUnit { unit, format } => {
            let loaded = load(&model)?;
            print!(
                "{}",
                format::data(&format::unit_value(&loaded, &unit)?, format)?
            );
        }
        Command::Destroy => {
            let model_dir = ModelDir::new(&dir);
            if !model_dir.exists() {
                bail!("no model at {}", dir.display());
            }
            agent::stop(&dir)?;
            let _lock = model_dir.lock()?;
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            println!("destroyed model {}", dir.display());
        }
        Command::Agent => return agent::run(&dir),
        Command::Integrate { .. } => {
            bail!("juju-sim does not support integrate: relations between applications are not emulated (only peer relations)")
        }
        Command::RemoveApplication { .. } => {
            bail!("juju-sim does not support remove-application: remove the application's units with remove-unit")
        }
        command => return models::run(None, command),
    }
    Ok(0)
}
