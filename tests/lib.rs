//! The harness of the end-to-end tests: a `juju-sim` model in a temporary directory running
//! the real charm binary, packed exactly as `cargo xtask pack` packs it.
//!
//! [`Sim::settle`] runs the model one operation at a time and checks after each one what
//! must hold at every moment of an upgrade or rollback: at most one unit's MySQL server is
//! down, at most one unit is `upgrading`, no hook is left in error. [`Sim::windows`] reads
//! the order in which units touched their servers from the debug log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use juju_sim::engine::{Engine, EngineOptions, Source, StatusReport, TaskId, UnitReport};
use juju_sim::model::{Task, TaskStatus};
use juju_upgrade::PAUSE_OPTION;
use mysql_charm::versions::VersionOverrides;
use mysql_test_workloads::{EmulatedUnitState, EmulatedWorkload, FaultPlan, FaultRule};
use xtask::pack::{pack, CharmSource, CHARM_FILE_NAME};

/// The application name.
pub const APP: &str = "mysql";
/// The revision the how-to rolls back to.
pub const OLD_REVISION: u64 = 182;
/// MySQL in revision 182.
pub const OLD_VERSION: &str = "8.0.33";
/// The snap revision carrying [`OLD_VERSION`] (illustrative).
pub const OLD_SNAP_REVISION: &str = "57";
/// MySQL in the repository's `versions.json`, the revision refreshed to.
pub const NEW_VERSION: &str = "8.0.34";
/// Charmed MySQL's blocked status of a failed unit.
pub const UPGRADE_FAILED: &str = "upgrade failed. Check logs for rollback instruction";
/// The leader's status after `pre-upgrade-check` entered recovery.
pub const READY_TO_ROLLBACK: &str = "ready to rollback application";
/// The status of a unit waiting for its turn.
pub const WAITING_FOR_OTHERS: &str = "other units upgrading first...";
/// Most operations one settle may run before the test gives up.
const MAX_STEPS: usize = 5_000;

/// The log line the charm writes when a unit starts refreshing its server.
const WINDOW_START: &str = ": refreshing charmed-mysql from ";
/// The log line the charm writes when the refreshed server is back ONLINE.
const WINDOW_END: &str = ": back ONLINE on charmed-mysql ";

/// A unit touching its MySQL server for an upgrade or rollback, from the debug log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The unit.
    pub unit: String,
    /// The version it went to.
    pub to_version: String,
    /// Whether the server came back ONLINE.
    pub completed: bool,
}

/// The binaries a model needs; Cargo tells only the test targets where they are, so
/// build this with [`binaries!`] in the test.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The charm binary (`e2e-mysql-charm`).
    pub charm: PathBuf,
    /// The hook-tool binary (`e2e-hook-tools`).
    pub hook_tools: PathBuf,
    /// Cargo's scratch directory for tests (`CARGO_TARGET_TMPDIR`), where packed charms are
    /// kept for the other tests of the same process.
    pub scratch: PathBuf,
}

/// The [`Binaries`] of this package, as seen from an integration test.
#[macro_export]
macro_rules! binaries {
    () => {
        $crate::Binaries {
            charm: ::std::path::PathBuf::from(env!("CARGO_BIN_EXE_e2e-mysql-charm")),
            hook_tools: ::std::path::PathBuf::from(env!("CARGO_BIN_EXE_e2e-hook-tools")),
            scratch: ::std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        }
    };
}

/// A model with the MySQL charm, in a temporary directory.
pub struct Sim {
    /// Owns the model directory, removed when the test ends.
    _root: tempfile::TempDir,
    binaries: Binaries,
    /// The emulator.
    pub engine: Engine,
    /// Every (unit, workload status, message) seen after an operation, in order, without
    /// repeats per unit.
    pub status_trace: Vec<(String, String, String)>,
}

impl Sim {
    /// An empty model; `seed` picks the order in which units with work run.
    pub fn new(seed: u64, binaries: Binaries) -> Sim {
        let root = tempfile::tempdir().expect("temporary directory");
        let options = EngineOptions {
            tool_binary: Some(binaries.hook_tools.clone()),
            seed,
            model_name: Some("e2e".into()),
            ..EngineOptions::default()
        };
        let engine = Engine::open(root.path().join("model"), options).expect("model");
        Sim {
            _root: root,
            binaries,
            engine,
            status_trace: Vec::new(),
        }
    }

    /// The charm packed with `overrides`, as `.../<label>/mysql_ubuntu-22.04-amd64.charm`.
    ///
    /// Packing a debug binary is slow, so each label is packed once per test process (into
    /// Cargo's test scratch directory, one directory per test binary, overwritten by the next
    /// run) and shared by the tests of that process.
    pub fn charm(&self, label: &str, overrides: VersionOverrides) -> PathBuf {
        static PACKED: Mutex<BTreeMap<String, (VersionOverrides, PathBuf)>> =
            Mutex::new(BTreeMap::new());
        let mut packed = PACKED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((done, path)) = packed.get(label) {
            assert_eq!(
                *done, overrides,
                "charm label {label} reused with other versions"
            );
            return path.clone();
        }
        let source =
            CharmSource::from_this_repo(&self.binaries.charm).with_overrides(overrides.clone());
        let out = self
            .binaries
            .scratch
            .join("e2e-charms")
            .join(test_binary_name())
            .join(label)
            .join(CHARM_FILE_NAME);
        if let Err(err) = pack(&source, &out) {
            panic!("packing the {label} charm: {err}");
        }
        packed.insert(label.to_owned(), (overrides, out.clone()));
        out
    }

    /// Revision 182's charm: MySQL [`OLD_VERSION`].
    pub fn old_charm(&self) -> PathBuf {
        self.charm(
            "182",
            VersionOverrides {
                workload_version: Some(OLD_VERSION.into()),
                snap_revision: Some(OLD_SNAP_REVISION.into()),
                ..VersionOverrides::default()
            },
        )
    }

    /// The next revision's charm: the repository's versions ([`NEW_VERSION`]).
    pub fn new_charm(&self) -> PathBuf {
        self.charm("new", VersionOverrides::default())
    }

    /// A revision that only upgrades from 8.0.34 or later, so not from the running 8.0.33:
    /// the leader's compatibility check refuses it.
    pub fn incompatible_charm(&self) -> PathBuf {
        self.charm(
            "incompatible",
            VersionOverrides {
                upgrade_supported: Some(">=8.0.34".into()),
                ..VersionOverrides::default()
            },
        )
    }

    /// Deploys `units` units of revision 182 and settles; every unit ends active.
    pub fn deploy_old(&mut self, units: usize) {
        let charm = self.old_charm();
        self.engine
            .deploy(&charm, APP, units, Some(OLD_REVISION))
            .expect("deploy");
        self.settle();
        for (unit, report) in self.units() {
            assert_eq!(
                report.workload_status.current, "active",
                "{unit} after deploy: {report:?}"
            );
        }
    }

    /// Arms emulator faults (replacing any armed before).
    pub fn arm(&self, rules: impl IntoIterator<Item = FaultRule>) {
        let plan = FaultPlan {
            faults: rules.into_iter().collect(),
        };
        plan.save(self.engine.dir()).expect("faults file");
    }

    /// Runs an action as `juju run` does and returns the finished task.
    pub fn run_action(&mut self, target: &str, action: &str) -> Task {
        self.run_action_with(target, action, &[])
    }

    /// `juju run <target> <action> key=value...` with boolean parameters; returns the finished
    /// task.
    pub fn run_action_with(&mut self, target: &str, action: &str, params: &[(&str, bool)]) -> Task {
        let id = self.begin_action(target, action, params);
        self.settle();
        self.finished_task(id)
    }

    /// Enqueues an action without running anything (`juju run --background`): it runs when
    /// its unit gets to it, before that unit's next charm upgrade, as Juju does.
    pub fn begin_action(&mut self, target: &str, action: &str, params: &[(&str, bool)]) -> TaskId {
        let params: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(key, value)| ((*key).to_owned(), serde_json::Value::Bool(*value)))
            .collect();
        self.engine
            .run_action(target, action, params)
            .expect("enqueue action")
    }

    /// A task that must have finished.
    pub fn finished_task(&self, id: TaskId) -> Task {
        let task = self.engine.task(id).expect("task").clone();
        assert!(task.status.is_final(), "task {id} did not finish: {task:?}");
        task
    }

    /// `juju config mysql pause-after-unit-refresh=<value>` (units run `config-changed` at
    /// the next settle).
    pub fn set_pause(&mut self, value: &str) {
        let values = BTreeMap::from([(PAUSE_OPTION.to_owned(), value.to_owned())]);
        self.engine.set_config(APP, &values).expect("juju config");
    }

    /// The application's status and message (the leader's `status-set --application`).
    pub fn app_status(&self) -> (String, String) {
        let status = self.status();
        let app = status.applications.get(APP).expect("the application");
        (
            app.application_status.current.clone(),
            app.application_status.message.clone(),
        )
    }

    /// The order in which a prepared upgrade takes the units: the non-leaders, highest number
    /// first, then the leader (the primary).
    pub fn planned_order(&self) -> Vec<String> {
        let leader = self.leader();
        let mut order: Vec<String> = self
            .unit_names()
            .into_iter()
            .rev()
            .filter(|u| *u != leader)
            .collect();
        order.push(leader);
        order
    }

    /// Every unit active and `idle` with its server running `version`, and no hook in error.
    pub fn assert_all_active_on(&self, version: &str) {
        for (unit, report) in self.units() {
            assert_eq!(
                (
                    report.workload_status.current.as_str(),
                    report.workload_version.as_str()
                ),
                ("active", version),
                "{unit}: {report:?}\n{}",
                self.debug_log()
            );
            assert_eq!(self.upgrade_state(&unit).as_deref(), Some("idle"), "{unit}");
            let server = self.server(&unit).expect("installed");
            assert!(server.running, "{unit} runs mysqld");
            assert_eq!(
                server.installed.map(|r| r.version).as_deref(),
                Some(version),
                "{unit}"
            );
        }
        assert!(
            self.engine.errors().is_empty(),
            "{:?}",
            self.engine.errors()
        );
    }

    /// `juju run <app>/leader pre-upgrade-check`, which must succeed.
    pub fn pre_upgrade_check(&mut self) -> Task {
        let task = self.run_action(&format!("{APP}/leader"), "pre-upgrade-check");
        assert_eq!(
            task.status,
            TaskStatus::Completed,
            "pre-upgrade-check failed: {task:?}\n{}",
            self.debug_log()
        );
        task
    }

    /// `juju refresh` and settle; returns the application's new revision.
    pub fn refresh(&mut self, source: Source) -> u64 {
        let revision = self.engine.refresh(APP, source).expect("refresh");
        self.settle();
        revision
    }

    /// Runs every unit's work one operation at a time, checking after each operation that at
    /// most one server is down and at most one unit is `upgrading`. Panics if a hook is left
    /// in error or the model does not settle.
    pub fn settle(&mut self) {
        for _ in 0..MAX_STEPS {
            if !self.step() {
                let errors = self.engine.errors();
                assert!(
                    errors.is_empty(),
                    "units in error: {errors:?}\n{}",
                    self.debug_log()
                );
                return;
            }
        }
        panic!(
            "the model did not settle in {MAX_STEPS} operations: {:?}",
            self.engine.pending()
        );
    }

    /// Runs one operation and checks the invariants of [`Sim::settle`] after it; `false`
    /// when nothing was left to run. Failed hooks are retried (after their virtual backoff)
    /// by later steps, as Juju retries them.
    pub fn step(&mut self) -> bool {
        let step = self.engine.step().expect("engine step");
        let Some(step) = step else {
            return false;
        };
        self.check_invariants(&step.operation);
        self.trace_statuses();
        true
    }

    /// Runs up to 150 rounds of one operation each, until nothing is left, while agents die and
    /// hooks fail: every other round each unit's agent is armed to be killed after
    /// `kill_after(round, unit index)` hook-tool calls (writes dropped, the hook runs again),
    /// and in every round `round % 10 == fail_round` the next hook of one unit fails (writes
    /// dropped, retried after a backoff).
    pub fn step_under_faults(
        &mut self,
        kill_after: impl Fn(usize, usize) -> u32,
        fail_round: usize,
    ) {
        let units = self.unit_names();
        for round in 0..150_usize {
            if round % 2 == 0 {
                for (i, unit) in units.iter().enumerate() {
                    self.engine
                        .kill_agent_mid_hook(unit, kill_after(round, i))
                        .expect("arm kill");
                }
            }
            if round % 10 == fail_round {
                self.engine
                    .fail_next_hook(&units[round % units.len()])
                    .expect("arm failure");
            }
            if !self.step() {
                break;
            }
        }
    }

    /// Runs the next operation of `unit` only (an exact interleaving), with the checks of
    /// [`Sim::step`]; `false` when that unit had nothing to run.
    pub fn step_unit(&mut self, unit: &str) -> bool {
        let step = self.engine.step_unit(unit).expect("engine step");
        let Some(step) = step else {
            return false;
        };
        self.check_invariants(&step.operation);
        self.trace_statuses();
        true
    }

    fn check_invariants(&self, after: &str) {
        let down: Vec<String> = self
            .servers()
            .into_iter()
            .filter(|(_, server)| server.installed.is_some() && !server.running)
            .map(|(unit, _)| unit)
            .collect();
        assert!(
            down.len() <= 1,
            "after {after}: more than one MySQL server is down: {down:?}"
        );
        let upgrading: Vec<String> = self
            .unit_names()
            .into_iter()
            .filter(|unit| self.upgrade_state(unit).as_deref() == Some("upgrading"))
            .collect();
        assert!(
            upgrading.len() <= 1,
            "after {after}: more than one unit is upgrading: {upgrading:?}"
        );
    }

    fn trace_statuses(&mut self) {
        for (unit, report) in self.units() {
            let entry = (
                unit.clone(),
                report.workload_status.current.clone(),
                report.workload_status.message.clone(),
            );
            let last = self.status_trace.iter().rev().find(|(u, _, _)| *u == unit);
            if last != Some(&entry) {
                self.status_trace.push(entry);
            }
        }
    }

    /// The (status, message) pairs `unit` showed between operations, in order.
    pub fn statuses_of(&self, unit: &str) -> Vec<(String, String)> {
        self.status_trace
            .iter()
            .filter(|(u, _, _)| u == unit)
            .map(|(_, status, message)| (status.clone(), message.clone()))
            .collect()
    }

    /// Forgets the statuses seen so far.
    pub fn clear_status_trace(&mut self) {
        self.status_trace.clear();
    }

    /// `juju status` as data.
    pub fn status(&self) -> StatusReport {
        self.engine.status()
    }

    /// The application's units and their rows.
    pub fn units(&self) -> BTreeMap<String, UnitReport> {
        self.status()
            .applications
            .get(APP)
            .map(|app| app.units.clone())
            .unwrap_or_default()
    }

    /// The application's unit names, in Juju's order.
    pub fn unit_names(&self) -> Vec<String> {
        self.units().into_keys().collect()
    }

    /// A unit's workload status and message.
    pub fn unit_status(&self, unit: &str) -> (String, String) {
        let units = self.units();
        let report = units.get(unit).unwrap_or_else(|| panic!("no unit {unit}"));
        (
            report.workload_status.current.clone(),
            report.workload_status.message.clone(),
        )
    }

    /// The application's charm revision and workload version.
    pub fn app_revision_and_version(&self) -> (u64, String) {
        let status = self.status();
        let app = status.applications.get(APP).expect("the application");
        (app.charm_rev, app.version.clone())
    }

    /// A unit's committed upgrade state (`state` in its `upgrade` bag).
    pub fn upgrade_state(&self, unit: &str) -> Option<String> {
        self.engine
            .unit_bag(unit, "upgrade")
            .and_then(|bag| bag.get("state").cloned())
    }

    /// The committed `upgrade-stack`.
    pub fn upgrade_stack(&self) -> Option<String> {
        self.engine
            .app_bag(APP, "upgrade")
            .and_then(|bag| bag.get("upgrade-stack").cloned())
    }

    /// The leader.
    pub fn leader(&self) -> String {
        self.engine.leader(APP).expect("a leader").to_owned()
    }

    /// Every unit's emulated MySQL server.
    pub fn servers(&self) -> Vec<(String, EmulatedUnitState)> {
        self.unit_names()
            .into_iter()
            .filter_map(|unit| {
                let server = self.server(&unit)?;
                Some((unit, server))
            })
            .collect()
    }

    /// One unit's emulated MySQL server, once something was installed.
    pub fn server(&self, unit: &str) -> Option<EmulatedUnitState> {
        let machine = self.engine.machine_dir(unit)?;
        EmulatedWorkload::new(unit, machine, self.engine.dir())
            .unit_state()
            .expect("readable emulated state")
    }

    /// The emulated cluster's primary.
    pub fn primary(&self) -> Option<String> {
        self.servers()
            .into_iter()
            .find(|(_, s)| s.running && s.role == Some(mysql_charm::workload::MemberRole::Primary))
            .map(|(unit, _)| unit)
    }

    /// The units' windows of work on their servers, in log order.
    pub fn windows(&self) -> Vec<Window> {
        let mut windows: Vec<Window> = Vec::new();
        for entry in self.engine.log_entries().expect("debug log") {
            let Some(unit) = entry.unit.clone() else {
                continue;
            };
            if let Some((_, rest)) = entry.message.split_once(WINDOW_START) {
                let to_version = rest
                    .split(" to ")
                    .nth(1)
                    .and_then(|v| v.split_whitespace().next())
                    .unwrap_or_default()
                    .to_owned();
                windows.push(Window {
                    unit,
                    to_version,
                    completed: false,
                });
            } else if entry.message.contains(WINDOW_END) {
                if let Some(open) = windows
                    .iter_mut()
                    .rev()
                    .find(|w| w.unit == unit && !w.completed)
                {
                    open.completed = true;
                }
            }
        }
        windows
    }

    /// Checks that no two windows overlapped: every window but the last completed, except a
    /// failed one that its own unit reopened (a retry or a rollback of that unit). Returns
    /// the units in the order their windows opened.
    pub fn assert_one_at_a_time(&self, windows: &[Window]) -> Vec<String> {
        for pair in windows.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            assert!(
                before.completed || before.unit == after.unit,
                "{} started on its server while {}'s window was still open: {windows:?}",
                after.unit,
                before.unit
            );
        }
        windows.iter().map(|w| w.unit.clone()).collect()
    }

    /// Debug-log lines of `unit` containing `text`.
    pub fn log_lines(&self, unit: &str, text: &str) -> Vec<String> {
        self.engine
            .log_entries()
            .expect("debug log")
            .into_iter()
            .filter(|e| e.unit.as_deref() == Some(unit) && e.message.contains(text))
            .map(|e| e.message)
            .collect()
    }

    /// The status messages `unit` set during the upgrade, in order (from its DEBUG log).
    pub fn status_messages_logged(&self, unit: &str) -> Vec<String> {
        self.log_lines(unit, mysql_charm::peer::STATUS_LOG_PREFIX)
            .into_iter()
            .filter_map(|line| {
                line.split_once(mysql_charm::peer::STATUS_LOG_PREFIX)
                    .map(|(_, status)| status.to_owned())
            })
            .collect()
    }

    /// The whole debug log, for failure messages.
    pub fn debug_log(&self) -> String {
        self.engine
            .log_entries()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| e.render())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// The model directory.
    pub fn model_dir(&self) -> &Path {
        self.engine.dir()
    }
}

/// The command an application status names first (its next step; a `Roll back:` after it
/// is the alternative), or `None` when it names none.
pub fn next_command(message: &str) -> Option<String> {
    // Every other backtick opens a command; reading ones (`juju debug-log`, `juju status`)
    // change nothing and are skipped.
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|command| !["juju debug-log", "juju status"].contains(command))
        .map(str::to_owned)
}

/// What an operator who follows the application status did, step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// The commands run, in order.
    pub commands: Vec<String>,
}

impl Sim {
    /// Settles, then acts as an operator who reads only `juju status`: while the application
    /// status is not active with no message, runs the command it names first, which must
    /// succeed and change the model (a unit's state or the stack, the application status, or
    /// a unit's workload), and settles again. `charm_files` maps a placeholder the operator
    /// fills in (`<new revision>`, `<charm file of X>`) to the charm file it stands for. Panics, with the status, when the status names
    /// no command in a settled model (nothing would move), when the command fails or changes
    /// nothing, or after `max` commands.
    pub fn follow_the_status(&mut self, charm_files: &[(&str, PathBuf)], max: usize) -> Followed {
        let mut commands = Vec::new();
        self.settle();
        for _ in 0..=max {
            let (status, message) = self.app_status();
            if status == "active" && message.is_empty() {
                return Followed { commands };
            }
            let Some(command) = next_command(&message) else {
                panic!(
                    "settled with the application {status} {message:?}, which names no command: nothing would move\n{}",
                    self.debug_log()
                );
            };
            assert!(
                commands.len() < max,
                "still not done after {commands:?}: {message:?}"
            );
            let before = self.progress_marker();
            self.run_operator_command(&command, charm_files);
            assert_ne!(
                self.progress_marker(),
                before,
                "`{command}` (named by {message:?}) changed nothing\n{}",
                self.debug_log()
            );
            commands.push(command);
        }
        unreachable!("the loop returns or panics")
    }

    /// Runs one command as an operator types it: `juju run UNIT ACTION [key=true ...]` or
    /// `juju refresh APP --revision=N | --path=FILE`; panics if it fails.
    pub fn run_operator_command(&mut self, command: &str, charm_files: &[(&str, PathBuf)]) {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["juju", "run", target, action, params @ ..] => {
                let params: Vec<(&str, bool)> = params
                    .iter()
                    .map(|param| match param.split_once('=') {
                        Some((key, "true")) => (key, true),
                        Some((key, "false")) => (key, false),
                        _ => panic!("cannot pass {param:?} of `{command}`"),
                    })
                    .collect();
                let task = self.run_action_with(target, action, &params);
                assert_eq!(
                    task.status,
                    TaskStatus::Completed,
                    "`{command}` failed: {task:?}\n{}",
                    self.debug_log()
                );
            }
            ["juju", "refresh", app, source @ ..] if *app == APP && !source.is_empty() => {
                let source = source.join(" ");
                let placeholder = |value: &str| {
                    charm_files
                        .iter()
                        .find(|(name, _)| *name == value)
                        .map(|(_, file)| file.clone())
                };
                let source = if let Some(revision) = source.strip_prefix("--revision=") {
                    // A placeholder the operator fills in (`<new revision>`): the revision
                    // the store gets from that file.
                    match placeholder(revision) {
                        Some(file) => Source::Path(file),
                        None => Source::Revision(revision.parse().unwrap_or_else(|_| {
                            panic!("`{command}` names no revision the operator could type")
                        })),
                    }
                } else if let Some(path) = source.strip_prefix("--path=") {
                    Source::Path(placeholder(path).unwrap_or_else(|| PathBuf::from(path)))
                } else {
                    panic!("cannot run `{command}`")
                };
                if let Err(err) = self.engine.refresh(APP, source) {
                    panic!("`{command}` failed: {err}");
                }
                self.settle();
            }
            _ => panic!("the status names `{command}`, which is no command an operator runs"),
        }
    }

    /// What an operator's command must change: every unit's upgrade state and workload
    /// status, the stack, the application status and revision.
    fn progress_marker(&self) -> String {
        let mut marker = format!(
            "{:?} {:?} {:?}",
            self.upgrade_stack(),
            self.app_status(),
            self.app_revision_and_version()
        );
        for (unit, report) in self.units() {
            marker.push_str(&format!(
                " {unit}:{:?}:{}:{}",
                self.upgrade_state(&unit),
                report.workload_status.current,
                report.workload_status.message
            ));
        }
        marker
    }
}

/// The running test binary's name without Cargo's hash (`rollback-0123abcd` is `rollback`),
/// so that each test binary packs into its own directory, reused from one run to the next.
fn test_binary_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "e2e".to_owned());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.bytes().all(|b| b.is_ascii_hexdigit()) => name.to_owned(),
        _ => stem,
    }
}
