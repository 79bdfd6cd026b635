//! Running one scheduled operation on one unit: swapping the charm, running
//! a hook or an action process (docs/hook-contract.md §1), then applying its effects and
//! the agent's bookkeeping (what the unit has seen, follow-up hooks, errors
//! and retries).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::charm_archive::expand;
use crate::context::HookContext;
use crate::model::{
    fault_matches, AgentStatus, HookError, HookInfo, HookKind, Level, Life, LogEntry, OpKind,
    OpRecord, Outcome, StatusValue, TaskStatus, VersionedBag,
};
use crate::tools::TOOL_NAMES;

use super::commit::{apply_immediate, commit_batched};
use super::hook_context::{build, network_bag};
use super::runner::{install_tool_links, prepare_kill_trap, Exit, RunRequest};
use super::scheduler::{HookSource, Operation};
use super::{describe, io_err, rng, Engine, EngineError, StepReport, JUJU_VERSION};

/// Backoff of automatic hook retries: 5 s doubling, capped at 5 min (virtual time).
pub fn retry_delay(attempts: u32) -> u64 {
    let exponent = attempts.saturating_sub(1).min(10);
    (5u64 << exponent).min(300)
}

/// Controller versions a hook was dispatched against, recorded on success.
#[derive(Debug, Default, Clone, Copy)]
struct Snapshot {
    config_version: u64,
    leader_settings_version: u64,
    remote_unit_version: Option<u64>,
    remote_app_version: Option<u64>,
}

/// The result of running a handler process.
struct ProcessResult {
    exit: Exit,
    /// Set when the process could not be started at all.
    spawn_error: Option<String>,
    context: Result<HookContext, String>,
    killed_by_fault: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl ProcessResult {
    /// Why the process failed, if it did (not started, non-zero exit, signal).
    fn failure(&self) -> Option<String> {
        match &self.spawn_error {
            Some(error) => Some(error.clone()),
            None if !self.exit.success() => Some(self.exit.describe()),
            None => None,
        }
    }
}

/// Which executable handles an event (docs/hook-contract.md §1.2).
enum Handler {
    Run(PathBuf, &'static str),
    Missing,
    Broken(String),
}

fn find_handler(charm_dir: &Path, kind_dir: &str, name: &str) -> Handler {
    if !charm_dir.join("metadata.yaml").is_file() {
        return Handler::Broken("charm missing from disk".to_string());
    }
    let dispatch = charm_dir.join("dispatch");
    if is_executable(&dispatch) {
        return Handler::Run(dispatch, "hook dispatching script: dispatch");
    }
    let explicit = charm_dir.join(kind_dir).join(name);
    match fs::metadata(&explicit) {
        Ok(meta) if meta.is_file() && is_executable(&explicit) => {
            Handler::Run(explicit, "explicit")
        }
        Ok(_) => Handler::Broken(format!(
            "fork/exec {}: permission denied",
            explicit.display()
        )),
        Err(_) => Handler::Missing,
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The model setting that makes every `status-set` pause afterwards (a duration such as
/// `200ms`), so statuses set in a hook stay visible to `juju status` that long.
pub const STATUS_SET_DELAY_KEY: &str = "juju-sim-status-set-delay";

impl Engine {
    /// Runs one operation of `unit`.
    pub(super) fn execute(&mut self, unit: &str, op: Operation) -> Result<StepReport, EngineError> {
        let operation = describe(&self.model, &op);
        let (outcome, retry) = match op {
            Operation::Hook { hook, source } => {
                // A retry asked for with `resolved` is not an automatic one.
                let resolved = self
                    .model
                    .units
                    .get(unit)
                    .and_then(|u| u.error.as_ref())
                    .is_some_and(|e| e.resolved);
                let automatic = source == HookSource::Retry && !resolved;
                (self.run_hook(unit, &hook, source)?, automatic)
            }
            Operation::Action(task) => (self.run_task(unit, task)?, false),
            Operation::CharmSwap(revision) => {
                self.swap_charm(unit, revision)?;
                if let Some(u) = self.model.units.get_mut(unit) {
                    u.queue.push_back(HookInfo::simple(HookKind::UpgradeCharm));
                    // Juju's agent restarts its resolver after a charm swap and forgets the
                    // leader-settings version it had seen (it keeps whether it leads), so a
                    // non-leader runs leader-settings-changed after upgrade-charm and
                    // config-changed (docs/hook-contract.md §5.1).
                    if !u.leader_local {
                        u.leader_settings_seen = None;
                    }
                }
                (Outcome::Succeeded, false)
            }
            Operation::Forget => {
                self.forget_unit(unit)?;
                (Outcome::Succeeded, false)
            }
        };
        self.model.clock += 1;
        self.save()?;
        Ok(StepReport {
            unit: unit.to_string(),
            operation,
            outcome,
            retry,
        })
    }

    /// Replaces the unit's charm directory with `revision` (Juju's deployer semantics).
    fn swap_charm(&mut self, unit: &str, revision: u64) -> Result<(), EngineError> {
        let app = self
            .model
            .units
            .get(unit)
            .map(|u| u.app.clone())
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        let charm_name = self
            .model
            .applications
            .get(&app)
            .map(|a| a.charm.clone())
            .unwrap_or_default();
        let archive = self.archive_path(&charm_name, revision)?;
        let charm_dir = self.dir.charm_dir(unit);
        expand(&archive, &charm_dir)?;
        let url = charm_dir.join(".juju-charm");
        fs::write(&url, format!("ch:{charm_name}-{revision}\n")).map_err(io_err(&url))?;
        let revision_file = charm_dir.join("revision");
        fs::write(&revision_file, format!("{revision}\n")).map_err(io_err(&revision_file))?;
        let previous = self.model.units.get(unit).and_then(|u| u.charm_revision);
        if let Some(u) = self.model.units.get_mut(unit) {
            u.charm_revision = Some(revision);
        }
        let message = match previous {
            Some(old) => format!("upgraded charm from revision {old} to {revision}"),
            None => format!("downloaded and deployed charm revision {revision}"),
        };
        self.log(Some(unit), Level::Info, "juju.worker.uniter.charm", message)?;
        self.record(OpRecord {
            seq: 0,
            time: self.model.clock,
            unit: unit.to_string(),
            kind: OpKind::CharmSwap,
            name: "charm-swap".to_string(),
            relation_id: None,
            remote_unit: None,
            task: None,
            revision: Some(revision),
            outcome: Outcome::Succeeded,
        })
    }

    fn forget_unit(&mut self, unit: &str) -> Result<(), EngineError> {
        self.model.units.remove(unit);
        let ids: Vec<u64> = self.model.relations.keys().copied().collect();
        for id in ids {
            self.model.keep_cached_copies(id, unit);
        }
        for relation in self.model.relations.values_mut() {
            relation.units.remove(unit);
        }
        let unit_dir = self.dir.unit_dir(unit);
        if unit_dir.exists() {
            fs::remove_dir_all(&unit_dir).map_err(io_err(&unit_dir))?;
        }
        self.tools_ready.remove(unit);
        self.log(
            Some(unit),
            Level::Info,
            "juju.sim",
            format!("unit {unit} removed"),
        )
    }

    fn snapshot(&self, unit: &str, hook: &HookInfo) -> Snapshot {
        let mut snapshot = Snapshot::default();
        if let Some(app) = self
            .model
            .units
            .get(unit)
            .and_then(|u| self.model.applications.get(&u.app))
        {
            snapshot.config_version = app.config_version;
            snapshot.leader_settings_version = app.leader_settings_version;
        }
        if let Some(relation) = hook
            .relation_id
            .and_then(|id| self.model.relations.get(&id))
        {
            if let Some(remote) = &hook.remote_unit {
                snapshot.remote_unit_version = relation.units.get(remote).map(|b| b.version);
            }
            if let Some(app) = &hook.remote_app {
                snapshot.remote_app_version = relation.apps.get(app).map(|b| b.version);
            }
        }
        snapshot
    }

    fn run_hook(
        &mut self,
        unit: &str,
        hook: &HookInfo,
        source: HookSource,
    ) -> Result<Outcome, EngineError> {
        let name = hook.name();
        let (app, installed_revision) = {
            let u = self
                .model
                .units
                .get(unit)
                .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
            (u.app.clone(), u.charm_revision)
        };
        let app_revision = self
            .model
            .applications
            .get(&app)
            .map(|a| a.revision)
            .unwrap_or_default();
        // docs/hook-contract.md §3.3: a retried hook runs with the application's current charm, without
        // upgrade-charm — unless the failed hook is upgrade-charm itself.
        if source == HookSource::Retry
            && installed_revision.is_some()
            && installed_revision != Some(app_revision)
            && hook.kind != HookKind::UpgradeCharm
        {
            self.swap_charm(unit, app_revision)?;
        }
        if hook.kind == HookKind::Install && installed_revision != Some(app_revision) {
            self.swap_charm(unit, app_revision)?;
        }
        self.prepare_dispatch(unit, hook);
        let snapshot = self.snapshot(unit, hook);
        let (fail_forced, kill_after) = self.take_faults(unit, &name, true);
        let charm_dir = self.dir.charm_dir(unit);
        let outcome = match find_handler(&charm_dir, "hooks", &name) {
            Handler::Missing => {
                self.log(
                    Some(unit),
                    Level::Info,
                    "juju.worker.uniter.operation",
                    format!("skipped {name:?} hook (missing)"),
                )?;
                if fail_forced {
                    Outcome::Failed {
                        reason: "injected failure (fault fail-next-hook)".into(),
                    }
                } else {
                    Outcome::Skipped
                }
            }
            Handler::Broken(reason) => {
                self.log(
                    Some(unit),
                    Level::Error,
                    "juju.worker.uniter.operation",
                    format!("hook {name:?} failed: {reason}"),
                )?;
                Outcome::Failed { reason }
            }
            Handler::Run(program, via) => {
                let running = match &hook.remote_unit {
                    Some(remote) if !remote.is_empty() => {
                        format!("running {name} hook for {remote}")
                    }
                    _ => format!("running {name} hook"),
                };
                let result =
                    self.run_process(unit, &program, Some(hook), None, &running, kill_after)?;
                if let Ok(ctx) = &result.context {
                    let entries = apply_immediate(&mut self.model, unit, ctx, None, &name);
                    self.dir.append_log(&entries)?;
                }
                self.log_output(unit, &name, &result)?;
                let outcome = if result.killed_by_fault {
                    Outcome::Killed
                } else if let Some(reason) = result.failure() {
                    Outcome::Failed { reason }
                } else if fail_forced {
                    Outcome::Failed {
                        reason: "injected failure (fault fail-next-hook)".into(),
                    }
                } else {
                    match &result.context {
                        Ok(ctx) => match commit_batched(&mut self.model, unit, ctx) {
                            Ok(()) => Outcome::Succeeded,
                            Err(reason) => Outcome::Failed { reason },
                        },
                        Err(reason) => Outcome::Failed {
                            reason: reason.clone(),
                        },
                    }
                };
                match &outcome {
                    Outcome::Succeeded => {
                        self.log(Some(unit), Level::Info, "juju.worker.uniter.operation", format!("ran {name:?} hook (via {via})"))?
                    }
                    Outcome::Failed { reason } => self.log(
                        Some(unit),
                        Level::Error,
                        "juju.worker.uniter.operation",
                        format!("hook {name:?} (via {via}) failed: {reason}"),
                    )?,
                    Outcome::Killed => self.log(
                        Some(unit),
                        Level::Warning,
                        "juju.worker.uniter",
                        format!("agent killed during {name:?} hook (fault kill-agent); the hook will run again"),
                    )?,
                    _ => {}
                }
                outcome
            }
        };
        match &outcome {
            Outcome::Succeeded | Outcome::Skipped => {
                if let Some(u) = self.model.units.get_mut(unit) {
                    match source {
                        HookSource::Queue => {
                            u.queue.pop_front();
                        }
                        HookSource::Retry => u.error = None,
                        HookSource::Fresh => {}
                    }
                }
                self.hook_done(unit, hook, snapshot)?;
            }
            Outcome::Failed { reason } => {
                let now = self.model.clock;
                if let Some(u) = self.model.units.get_mut(unit) {
                    if source == HookSource::Queue {
                        u.queue.pop_front();
                    }
                    let attempts = u.error.as_ref().map_or(0, |e| e.attempts) + 1;
                    u.error = Some(HookError {
                        hook: hook.clone(),
                        attempts,
                        retry_at: Some(now + retry_delay(attempts)),
                        reason: reason.clone(),
                        resolved: false,
                    });
                }
            }
            Outcome::Killed | Outcome::Resolved => {}
        }
        self.set_idle_agent(unit);
        let revision = self
            .model
            .units
            .get(unit)
            .and_then(|u| u.charm_revision)
            .or(installed_revision);
        self.record(OpRecord {
            seq: 0,
            time: self.model.clock,
            unit: unit.to_string(),
            kind: OpKind::Hook,
            name,
            relation_id: hook.relation_id,
            remote_unit: hook
                .relation_id
                .map(|_| hook.remote_unit.clone().unwrap_or_default()),
            task: None,
            revision,
            outcome: outcome.clone(),
        })?;
        Ok(outcome)
    }

    /// Takes the faults armed for a run named `name` (a hook when `is_hook`):
    /// (fail it, kill it after N tool calls). Faults aimed elsewhere stay armed.
    fn take_faults(&mut self, unit: &str, name: &str, is_hook: bool) -> (bool, Option<u32>) {
        let Some(u) = self.model.units.get_mut(unit) else {
            return (false, None);
        };
        let fail = is_hook
            && u.faults
                .fail_hook
                .as_ref()
                .is_some_and(|f| fault_matches(f.hook.as_deref(), name));
        if fail {
            u.faults.fail_hook = None;
        }
        let kill = u
            .faults
            .kill_agent
            .as_ref()
            .filter(|k| fault_matches(k.hook.as_deref(), name))
            .map(|k| k.after_tool_calls);
        if kill.is_some() {
            u.faults.kill_agent = None;
        }
        (fail, kill)
    }

    /// Work the agent does as it dispatches a hook: the install status, and
    /// refreshing the cached bag of the remote unit a joined/changed hook is about.
    fn prepare_dispatch(&mut self, unit: &str, hook: &HookInfo) {
        let Some(u) = self.model.units.get_mut(unit) else {
            return;
        };
        if hook.kind == HookKind::Install && !u.status_set_by_charm {
            u.workload = StatusValue {
                status: "maintenance".into(),
                message: "installing charm software".into(),
            };
        }
        if let (HookKind::RelationJoined | HookKind::RelationChanged, Some(id), Some(remote)) =
            (hook.kind, hook.relation_id, hook.remote_unit.as_ref())
        {
            if let Some(bag) = self
                .model
                .relations
                .get(&id)
                .and_then(|r| r.units.get(remote))
            {
                let seen = u.relations.entry(id).or_default();
                // A member's agent sees the committed bag without a copy of its own
                // (`UnitRelation::cache`); a unit joining keeps one until it is a member.
                if seen.members.contains_key(remote) {
                    seen.cache.remove(remote);
                } else {
                    seen.cache.insert(remote.clone(), bag.data.clone());
                }
            }
        }
    }

    /// What the agent records after a hook succeeded (or was skipped or resolved).
    fn hook_done(
        &mut self,
        unit: &str,
        hook: &HookInfo,
        snapshot: Snapshot,
    ) -> Result<(), EngineError> {
        if hook.kind == HookKind::Remove {
            return self.forget_unit(unit);
        }
        let is_leader = self
            .model
            .units
            .get(unit)
            .and_then(|u| self.model.applications.get(&u.app))
            .is_some_and(|a| a.leader.as_deref() == Some(unit));
        let (alive, address) = match self.model.units.get(unit) {
            Some(u) => (u.life == Life::Alive, u.address.clone()),
            None => return Ok(()),
        };
        if hook.kind == HookKind::RelationCreated && alive {
            if let Some(relation) = hook
                .relation_id
                .and_then(|id| self.model.relations.get_mut(&id))
            {
                relation
                    .units
                    .entry(unit.to_string())
                    .or_insert_with(|| VersionedBag {
                        version: 1,
                        data: network_bag(&address),
                    });
            }
        }
        let start_after_refresh = self.options.start_after_refresh;
        let Some(u) = self.model.units.get_mut(unit) else {
            return Ok(());
        };
        match hook.kind {
            HookKind::Install => u.installed = true,
            HookKind::Start => {
                u.started = true;
                if !u.status_set_by_charm {
                    u.workload = StatusValue {
                        status: "unknown".into(),
                        message: String::new(),
                    };
                }
            }
            HookKind::Stop => u.stopped = true,
            HookKind::ConfigChanged => {
                u.config_seen = Some(snapshot.config_version);
                if !u.started && !u.queue.iter().any(|h| h.kind == HookKind::Start) {
                    u.queue.push_back(HookInfo::simple(HookKind::Start));
                }
            }
            HookKind::UpgradeCharm => {
                u.queue.push_back(HookInfo::simple(HookKind::ConfigChanged));
                if start_after_refresh {
                    // The documented order: leader-settings-changed (non-leaders) before start.
                    if !u.leader_local {
                        u.queue
                            .push_back(HookInfo::simple(HookKind::LeaderSettingsChanged));
                    }
                    u.queue.push_back(HookInfo::simple(HookKind::Start));
                }
            }
            HookKind::UpdateStatus => u.update_status_due = false,
            HookKind::LeaderElected => {
                u.leader_local = true;
                u.leader_settings_seen = Some(snapshot.leader_settings_version);
            }
            HookKind::LeaderSettingsChanged => {
                u.leader_settings_seen = Some(snapshot.leader_settings_version);
                if !is_leader {
                    u.leader_local = false;
                }
            }
            HookKind::RelationCreated => {
                if let Some(id) = hook.relation_id {
                    u.relations.entry(id).or_default().created = true;
                }
            }
            HookKind::RelationJoined => {
                if let (Some(id), Some(remote)) = (hook.relation_id, &hook.remote_unit) {
                    u.relations
                        .entry(id)
                        .or_default()
                        .members
                        .insert(remote.clone(), None);
                }
            }
            HookKind::RelationChanged => {
                let Some(id) = hook.relation_id else {
                    return Ok(());
                };
                let seen = u.relations.entry(id).or_default();
                match &hook.remote_unit {
                    Some(remote) => {
                        if let Some(version) = seen.members.get_mut(remote) {
                            *version = Some(snapshot.remote_unit_version.unwrap_or(0));
                        }
                    }
                    None => {
                        if let Some(app) = &hook.remote_app {
                            seen.apps
                                .insert(app.clone(), snapshot.remote_app_version.unwrap_or(0));
                        }
                    }
                }
            }
            HookKind::RelationDeparted => {
                if let (Some(id), Some(remote)) = (hook.relation_id, &hook.remote_unit) {
                    let seen = u.relations.entry(id).or_default();
                    seen.members.remove(remote);
                    seen.cache.remove(remote);
                }
            }
            HookKind::Remove | HookKind::RelationBroken => {}
        }
        Ok(())
    }

    /// `resolved --no-retry`: the failed hook counts as done.
    pub(super) fn skip_failed_hook(&mut self, unit: &str) -> Result<(), EngineError> {
        let Some(error) = self.model.units.get_mut(unit).and_then(|u| u.error.take()) else {
            return Ok(());
        };
        let snapshot = self.snapshot(unit, &error.hook);
        self.hook_done(unit, &error.hook, snapshot)?;
        self.set_idle_agent(unit);
        self.log(
            Some(unit),
            Level::Info,
            "juju.worker.uniter",
            format!("hook {:?} marked resolved without retry", error.hook.name()),
        )?;
        let revision = self.model.units.get(unit).and_then(|u| u.charm_revision);
        self.record(OpRecord {
            seq: 0,
            time: self.model.clock,
            unit: unit.to_string(),
            kind: OpKind::Hook,
            name: error.hook.name(),
            relation_id: error.hook.relation_id,
            remote_unit: error
                .hook
                .relation_id
                .map(|_| error.hook.remote_unit.clone().unwrap_or_default()),
            task: None,
            revision,
            outcome: Outcome::Resolved,
        })
    }

    /// The agent status after an operation: idle, or error while a hook is failed.
    fn set_idle_agent(&mut self, unit: &str) {
        if let Some(u) = self.model.units.get_mut(unit) {
            u.agent = match &u.error {
                Some(error) => {
                    AgentStatus::new("error", &format!("hook failed: {:?}", error.hook.name()))
                }
                None => AgentStatus::new("idle", ""),
            };
        }
    }

    fn run_task(&mut self, unit: &str, task_id: u64) -> Result<Outcome, EngineError> {
        let task = self
            .model
            .tasks
            .get(&task_id)
            .cloned()
            .ok_or(EngineError::UnknownTask(task_id))?;
        let label = format!("action {}", task.action);
        let now = self.model.clock;
        if let Some(t) = self.model.tasks.get_mut(&task_id) {
            t.status = TaskStatus::Running;
            t.started = Some(now);
        }
        let (_, kill_after) = self.take_faults(unit, &task.action, false);
        let charm_dir = self.dir.charm_dir(unit);
        let mut results = serde_json::Map::new();
        let (status, message, outcome) = match find_handler(&charm_dir, "actions", &task.action) {
            Handler::Missing => {
                let message = format!("action not implemented on unit {unit:?}");
                (
                    TaskStatus::Failed,
                    Some(message.clone()),
                    Outcome::Failed { reason: message },
                )
            }
            Handler::Broken(reason) => (
                TaskStatus::Failed,
                Some(reason.clone()),
                Outcome::Failed { reason },
            ),
            Handler::Run(program, _) => {
                let running = format!("running action {}", task.action);
                let result =
                    self.run_process(unit, &program, None, Some(task_id), &running, kill_after)?;
                if let Ok(ctx) = &result.context {
                    let entries =
                        apply_immediate(&mut self.model, unit, ctx, Some(task_id), &label);
                    self.dir.append_log(&entries)?;
                }
                self.log_output(unit, &task.action, &result)?;
                let action_ctx = result.context.as_ref().ok().and_then(|c| c.action.clone());
                if let Some(action) = &action_ctx {
                    results = action.results.clone();
                }
                results.insert("return-code".into(), Value::from(result.exit.code()));
                add_output(&mut results, "stdout", &result.stdout);
                add_output(&mut results, "stderr", &result.stderr);
                let failed_message = action_ctx.as_ref().and_then(|a| a.failed.clone());
                if result.killed_by_fault {
                    let message = "the unit agent was killed while the action ran".to_string();
                    (TaskStatus::Failed, Some(message), Outcome::Killed)
                } else if let Some(reason) = result.failure() {
                    let message = failed_message.unwrap_or(reason);
                    (
                        TaskStatus::Failed,
                        Some(message.clone()),
                        Outcome::Failed { reason: message },
                    )
                } else {
                    let committed = match &result.context {
                        Ok(ctx) => commit_batched(&mut self.model, unit, ctx),
                        Err(reason) => Err(reason.clone()),
                    };
                    match (committed, failed_message) {
                        (Err(reason), _) => (
                            TaskStatus::Failed,
                            Some(reason.clone()),
                            Outcome::Failed { reason },
                        ),
                        (Ok(()), Some(message)) => (
                            TaskStatus::Failed,
                            Some(message.clone()),
                            Outcome::Failed { reason: message },
                        ),
                        (Ok(()), None) => (TaskStatus::Completed, None, Outcome::Succeeded),
                    }
                }
            }
        };
        let now = self.model.clock;
        if let Some(t) = self.model.tasks.get_mut(&task_id) {
            t.status = status;
            t.message = message.clone();
            t.results = results;
            t.completed = Some(now);
        }
        let summary = match &message {
            Some(m) => format!(
                "action {:?} (task {task_id}) {}: {m}",
                task.action,
                status_word(status)
            ),
            None => format!(
                "action {:?} (task {task_id}) {}",
                task.action,
                status_word(status)
            ),
        };
        self.log(
            Some(unit),
            Level::Info,
            "juju.worker.uniter.operation",
            summary,
        )?;
        self.set_idle_agent(unit);
        let revision = self.model.units.get(unit).and_then(|u| u.charm_revision);
        self.record(OpRecord {
            seq: 0,
            time: self.model.clock,
            unit: unit.to_string(),
            kind: OpKind::Action,
            name: task.action.clone(),
            relation_id: None,
            remote_unit: None,
            task: Some(task_id),
            revision,
            outcome: outcome.clone(),
        })?;
        Ok(outcome)
    }

    /// Writes the context, runs the handler with the hook environment, reads the context back.
    fn run_process(
        &mut self,
        unit: &str,
        program: &Path,
        hook: Option<&HookInfo>,
        task: Option<u64>,
        running: &str,
        kill_after: Option<u32>,
    ) -> Result<ProcessResult, EngineError> {
        let u = self
            .model
            .units
            .get(unit)
            .cloned()
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        let app = self
            .model
            .applications
            .get(&u.app)
            .cloned()
            .ok_or_else(|| EngineError::UnknownApplication(u.app.clone()))?;
        let charm = match u.charm_revision {
            Some(revision) => Some(self.charm(&app.charm, revision)?.clone()),
            None => None,
        };
        let run_number = self.model.next_run;
        self.model.next_run += 1;
        let mut hash =
            rng::mix(run_number ^ rng::mix(self.model.uuid.len() as u64 ^ self.model.clock));
        let event = match (hook, task.and_then(|id| self.model.tasks.get(&id))) {
            (Some(h), _) => h.name(),
            (None, Some(t)) => t.action.clone(),
            (None, None) => "run".to_string(),
        };
        let context_id = format!(
            "{unit}-{event}-{:016x}{:016x}",
            rng::next(&mut hash),
            rng::next(&mut hash)
        );
        let task_ref = task.and_then(|id| self.model.tasks.get(&id)).cloned();
        let ctx = build(
            &self.model,
            &u,
            charm.as_ref(),
            &context_id,
            hook,
            task_ref.as_ref(),
        );

        let unit_dir = self.dir.unit_dir(unit);
        let charm_dir = self.dir.charm_dir(unit);
        let tools_dir = self.dir.tools_dir(unit);
        if !self.tools_ready.contains(unit) {
            install_tool_links(&tools_dir, &self.tool_binary, TOOL_NAMES)
                .map_err(io_err(&tools_dir))?;
            self.tools_ready.insert(unit.to_string());
        }
        let context_file = unit_dir.join("context.json");
        crate::model::write_json_atomically(&context_file, &ctx)?;
        let trap = match kill_after {
            Some(after) => {
                let trap_dir = unit_dir.join("kill-trap");
                Some(
                    prepare_kill_trap(&trap_dir, &self.tool_binary, TOOL_NAMES, after)
                        .map_err(io_err(&trap_dir))?,
                )
            }
            None => None,
        };
        let machine_dir = self.dir.machine_dir(&u.machine);
        fs::create_dir_all(&machine_dir).map_err(io_err(&machine_dir))?;

        let mut env: BTreeMap<String, String> = self.model.env.clone();
        env.extend(self.options.env.clone());
        let system_path = self
            .options
            .system_path
            .clone()
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_else(|| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()
            });
        let first_dir = trap
            .as_ref()
            .map_or(tools_dir.clone(), |t| t.path_dir.clone());
        let charm_dir_text = charm_dir.display().to_string();
        let vars: Vec<(&str, String)> = vec![
            ("PATH", format!("{}:{system_path}", first_dir.display())),
            ("LANG", "C.UTF-8".into()),
            ("TERM", "tmux-256color".into()),
            ("DEBIAN_FRONTEND", "noninteractive".into()),
            ("APT_LISTCHANGES_FRONTEND", "none".into()),
            ("JUJU_UNIT_NAME", unit.to_string()),
            ("JUJU_MODEL_NAME", self.model.name.clone()),
            ("JUJU_MODEL_UUID", self.model.uuid.clone()),
            ("JUJU_CHARM_DIR", charm_dir_text.clone()),
            ("CHARM_DIR", charm_dir_text),
            ("JUJU_VERSION", JUJU_VERSION.into()),
            ("JUJU_CONTEXT_ID", context_id.clone()),
            ("JUJU_MACHINE_ID", u.machine.clone()),
            ("JUJU_AVAILABILITY_ZONE", String::new()),
            ("JUJU_PRINCIPAL_UNIT", String::new()),
            ("CLOUD_API_VERSION", String::new()),
            ("JUJU_CHARM_HTTP_PROXY", String::new()),
            ("JUJU_CHARM_HTTPS_PROXY", String::new()),
            ("JUJU_CHARM_FTP_PROXY", String::new()),
            ("JUJU_CHARM_NO_PROXY", String::new()),
            ("JUJU_SIM_CONTEXT", context_file.display().to_string()),
            ("JUJU_SIM_MACHINE_DIR", machine_dir.display().to_string()),
            ("JUJU_SIM_MODEL_DIR", self.dir.root().display().to_string()),
        ];
        env.extend(vars.into_iter().map(|(k, v)| (k.to_string(), v)));
        if let Some(delay) = self
            .model
            .config
            .get(STATUS_SET_DELAY_KEY)
            .and_then(|v| v.as_str())
        {
            env.insert(
                crate::tools::STATUS_SET_DELAY_VAR.to_string(),
                delay.to_string(),
            );
        }
        match (hook, task_ref.as_ref()) {
            (Some(h), _) => {
                env.insert("JUJU_DISPATCH_PATH".into(), format!("hooks/{}", h.name()));
                env.insert("JUJU_HOOK_NAME".into(), h.name());
                if let (Some(id), Some(endpoint)) = (h.relation_id, &h.endpoint) {
                    env.insert("JUJU_RELATION".into(), endpoint.clone());
                    env.insert("JUJU_RELATION_ID".into(), format!("{endpoint}:{id}"));
                    env.insert(
                        "JUJU_REMOTE_APP".into(),
                        h.remote_app.clone().unwrap_or_default(),
                    );
                    env.insert(
                        "JUJU_REMOTE_UNIT".into(),
                        h.remote_unit.clone().unwrap_or_default(),
                    );
                    if let Some(departing) = &h.departing_unit {
                        env.insert("JUJU_DEPARTING_UNIT".into(), departing.clone());
                    }
                }
            }
            (None, Some(t)) => {
                env.insert("JUJU_DISPATCH_PATH".into(), format!("actions/{}", t.action));
                env.insert("JUJU_HOOK_NAME".into(), String::new());
                env.insert("JUJU_ACTION_NAME".into(), t.action.clone());
                env.insert("JUJU_ACTION_UUID".into(), t.id.to_string());
                env.insert("JUJU_ACTION_TAG".into(), format!("action-{}", t.id));
            }
            (None, None) => {}
        }

        // Juju does not show update-status as executing.
        let quiet = hook.is_some_and(|h| h.kind == HookKind::UpdateStatus);
        if let Some(unit_state) = self.model.units.get_mut(unit).filter(|_| !quiet) {
            unit_state.agent = AgentStatus::new("executing", running);
        }
        // Visible to `juju-sim status` from another terminal while the hook runs.
        self.save()?;
        let request = RunRequest {
            program: program.to_path_buf(),
            cwd: charm_dir,
            env,
            context_file: context_file.clone(),
        };
        // A handler that cannot be started (bad interpreter, ...) fails the hook, as in Juju.
        let (output, spawn_error) = match self.runner.run(&request) {
            Ok(output) => (output, None),
            Err(e) => {
                let output = super::runner::RunOutput {
                    exit: Exit::Code(-1),
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    warning: None,
                };
                (
                    output,
                    Some(format!("fork/exec {}: {e}", program.display())),
                )
            }
        };
        if let Some(warning) = &output.warning {
            self.log(
                Some(unit),
                Level::Warning,
                "juju.worker.uniter.runner",
                warning.clone(),
            )?;
        }
        let context = fs::read_to_string(&context_file)
            .map_err(|e| format!("cannot read hook context back: {e}"))
            .and_then(|text| {
                serde_json::from_str::<HookContext>(&text)
                    .map_err(|e| format!("hook context corrupted: {e}"))
            });
        let killed_by_fault = trap.as_ref().is_some_and(|t| t.fired());
        if let Some(trap) = &trap {
            if let Some(dir) = trap.path_dir.parent() {
                let _ = fs::remove_dir_all(dir);
            }
        }
        Ok(ProcessResult {
            exit: output.exit,
            spawn_error,
            context,
            killed_by_fault,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    /// Hook stdout at DEBUG, stderr at WARNING, module `unit.<unit>.<hook>`.
    fn log_output(
        &self,
        unit: &str,
        event: &str,
        result: &ProcessResult,
    ) -> Result<(), EngineError> {
        let module = format!("unit.{unit}.{event}");
        let mut entries = Vec::new();
        for (bytes, level) in [
            (&result.stdout, Level::Debug),
            (&result.stderr, Level::Warning),
        ] {
            for line in String::from_utf8_lossy(bytes).lines() {
                entries.push(LogEntry {
                    time: self.model.clock,
                    unit: Some(unit.to_string()),
                    context: Some(event.to_string()),
                    level,
                    module: module.clone(),
                    message: line.to_string(),
                });
            }
        }
        Ok(self.dir.append_log(&entries)?)
    }
}

fn status_word(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "pending",
        TaskStatus::Running => "running",
        TaskStatus::Completed => "completed",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
        TaskStatus::Aborted => "aborted",
    }
}

/// Adds `stdout`/`stderr` to action results when non-empty; base64 when not UTF-8
/// (docs/hook-contract.md §2.14).
fn add_output(results: &mut serde_json::Map<String, Value>, key: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            results.insert(key.into(), Value::from(text));
        }
        Err(_) => {
            results.insert(key.into(), Value::from(base64(bytes)));
            results.insert(format!("{key}-encoding"), Value::from("base64"));
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_five_minutes() {
        let delays: Vec<u64> = (1..=8).map(retry_delay).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }
}
