//! The engine: the in-process API that deploys, refreshes, runs actions,
//! injects faults and runs every unit's hooks until the model settles. The
//! CLI is a thin layer over it, and tests drive it directly.
//!
//! One [`Engine`] holds the model directory's lock for its lifetime; every
//! change is saved to `model.json` before the call returns.

mod commit;
mod execute;
mod hook_context;
mod rng;
pub mod runner;
pub mod scheduler;
pub mod status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::action_schema::validate_params;
use crate::charm_archive::{pack, read_charm, Charm, CharmError};
use crate::context::Bag;
use crate::model::{
    AgentStatus, Application, FailFault, Faults, KillFault, Life, LogEntry, Model, ModelDir,
    ModelError, ModelLock, OpRecord, Outcome, Relation, RelationEndpoint, StatusValue, StoredCharm,
    Task, TaskStatus, Unit, VersionedBag,
};

pub use execute::STATUS_SET_DELAY_KEY;
pub use runner::{Exit, ProcessRunner, RunOutput, RunRequest, SystemRunner};
pub use scheduler::{next_operation, HookSource, Next, Operation};
pub use status::{AppReport, StatusInfo, StatusReport, UnitReport};

/// A task id (`JUJU_ACTION_UUID`).
pub type TaskId = u64;

/// The Juju version the emulator reports (`JUJU_VERSION`).
pub const JUJU_VERSION: &str = "3.6.4";

/// Where a refresh takes the new charm from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local charm directory or `.charm` file; becomes revision max+1 in the store.
    Path(PathBuf),
    /// A revision already in the store.
    Revision(u64),
}

/// Knobs of an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// The binary the hook-tool symlinks point at (default: the current executable).
    pub tool_binary: Option<PathBuf>,
    /// Extra environment for every hook, on top of the model's (`model-config --env`).
    pub env: BTreeMap<String, String>,
    /// Scheduler seed, used when the model is created.
    pub seed: u64,
    /// The model name, used when the model is created (default: the directory name when valid, else `default`).
    pub model_name: Option<String>,
    /// At most this many operations per [`Engine::settle`].
    pub max_steps: usize,
    /// At most this many automatic retries of a failed hook per unit per settle.
    pub max_auto_retries: u32,
    /// The `PATH` after the tools directory (default: this process's `PATH`).
    pub system_path: Option<String>,
    /// Run `start` after the `config-changed` that follows `upgrade-charm`,
    /// as Juju's docs table says; Juju's code does not on machines
    /// (docs/hook-contract.md §5.1), hence off by default.
    pub start_after_refresh: bool,
    /// The Unix time of the new model's virtual second 0 (default: now). Fix it
    /// for output that does not depend on the day a test runs.
    pub epoch: Option<u64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            tool_binary: None,
            env: BTreeMap::new(),
            seed: 0,
            model_name: None,
            max_steps: 10_000,
            max_auto_retries: 3,
            system_path: None,
            start_after_refresh: false,
            epoch: None,
        }
    }
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model directory could not be read or written.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A charm could not be read or stored.
    #[error(transparent)]
    Charm(#[from] CharmError),
    /// Another file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No such application.
    #[error("application {0:?} not found")]
    UnknownApplication(String),
    /// No such unit.
    #[error("unit {0:?} not found")]
    UnknownUnit(String),
    /// No such task.
    #[error("task {0} not found")]
    UnknownTask(TaskId),
    /// A request that Juju would refuse.
    #[error("{0}")]
    Invalid(String),
    /// The action is not in the charm's actions.yaml.
    #[error("action {action:?} not defined on unit {unit:?}")]
    ActionNotDefined {
        /// The action.
        action: String,
        /// The unit.
        unit: String,
    },
    /// The parameters do not match the action's schema.
    #[error("validation failed: {0}")]
    Validation(String),
    /// The model still had work after the step bound.
    #[error("the model did not settle after {steps} operations; still pending:\n  {}", pending.join("\n  "))]
    NotSettled {
        /// Operations run.
        steps: usize,
        /// What each unit would still run.
        pending: Vec<String>,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One operation run by [`Engine::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The unit.
    pub unit: String,
    /// What ran, e.g. `install`, `action pre-upgrade-check (task 3)`, `charm swap to revision 2`.
    pub operation: String,
    /// How it ended.
    pub outcome: Outcome,
    /// True when it was an automatic retry of a failed hook (not one asked for with `resolved`).
    pub retry: bool,
}

/// One config option's value as `juju config APP` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    /// The value hooks see (`None`: unset, no default).
    pub value: Option<Value>,
    /// `user`, `default` or `unset`.
    pub source: &'static str,
}

/// A unit left in error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitErrorReport {
    /// The unit.
    pub unit: String,
    /// The failed hook.
    pub hook: String,
    /// Why it failed last.
    pub reason: String,
    /// Failed attempts.
    pub attempts: u32,
}

/// What [`Engine::settle`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettleReport {
    /// Every operation, in order.
    pub operations: Vec<StepReport>,
    /// Units still in error (automatic retries for this settle used up, or none left).
    pub errors: Vec<UnitErrorReport>,
}

impl SettleReport {
    /// True when no unit is left in error.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The emulator engine over one model directory.
pub struct Engine {
    dir: ModelDir,
    model: Model,
    options: EngineOptions,
    tool_binary: PathBuf,
    runner: Box<dyn ProcessRunner>,
    charms: HashMap<(String, u64), Charm>,
    tools_ready: HashSet<String>,
    _lock: ModelLock,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (creating if needed) the model in `dir`, taking its lock: this
    /// waits while a mutating `juju-sim` command or another `Engine` holds it,
    /// so do not run mutating CLI commands on a model a test has open.
    pub fn open(dir: impl AsRef<Path>, options: EngineOptions) -> Result<Engine, EngineError> {
        let given = dir.as_ref();
        fs::create_dir_all(given).map_err(io_err(given))?;
        Self::open_with(given, options, true)?
            .ok_or_else(|| EngineError::Invalid(format!("no model at {}", given.display())))
    }

    /// Opens the model in `dir` only if one exists (checked under the lock, so a model
    /// destroyed meanwhile is not created again); `None` otherwise.
    pub fn open_existing(
        dir: impl AsRef<Path>,
        options: EngineOptions,
    ) -> Result<Option<Engine>, EngineError> {
        let given = dir.as_ref();
        if !given.is_dir() {
            return Ok(None);
        }
        Self::open_with(given, options, false)
    }

    fn open_with(
        given: &Path,
        options: EngineOptions,
        create: bool,
    ) -> Result<Option<Engine>, EngineError> {
        // Hooks run with the charm directory as cwd, so every path the engine
        // hands them must be absolute.
        let root = fs::canonicalize(given).map_err(io_err(given))?;
        let dir = ModelDir::new(root);
        let lock = dir.lock()?;
        let model = match dir.load()? {
            Some(model) => model,
            None if !create => return Ok(None),
            None => {
                let name = options
                    .model_name
                    .clone()
                    .unwrap_or_else(|| model_name_for(dir.root()));
                let mut model = Model::new(&name, &new_uuid(dir.root()), options.seed);
                model.epoch = options.epoch.unwrap_or_else(unix_now);
                dir.save(&model)?;
                model
            }
        };
        let tool_binary = match &options.tool_binary {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(io_err(Path::new("current executable")))?,
        };
        let tool_binary = fs::canonicalize(&tool_binary).map_err(io_err(&tool_binary))?;
        Ok(Some(Engine {
            dir,
            model,
            options,
            tool_binary,
            runner: Box::new(SystemRunner),
            charms: HashMap::new(),
            tools_ready: HashSet::new(),
            _lock: lock,
        }))
    }

    /// Replaces the process runner (tests of the scheduler script hooks this way).
    pub fn with_runner(mut self, runner: Box<dyn ProcessRunner>) -> Engine {
        self.runner = runner;
        self
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        self.dir.root()
    }

    /// The model as it is now (read-only).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The hook-tool binary the unit tool links point at.
    pub fn tool_binary(&self) -> &Path {
        &self.tool_binary
    }

    /// Writes `model.json`, first recording when each shown status changed.
    fn save(&mut self) -> Result<(), EngineError> {
        status::stamp(&mut self.model);
        Ok(self.dir.save(&self.model)?)
    }

    fn log(
        &self,
        unit: Option<&str>,
        level: crate::model::Level,
        module: &str,
        message: String,
    ) -> Result<(), EngineError> {
        let entry = LogEntry {
            time: self.model.clock,
            unit: unit.map(str::to_string),
            context: None,
            level,
            module: module.to_string(),
            message,
        };
        Ok(self.dir.append_log(&[entry])?)
    }

    fn record(&mut self, mut record: OpRecord) -> Result<(), EngineError> {
        record.seq = self.model.next_record;
        self.model.next_record += 1;
        Ok(self.dir.append_history(&record)?)
    }

    /// The charm for a store revision (cached).
    fn charm(&mut self, name: &str, revision: u64) -> Result<&Charm, EngineError> {
        let key = (name.to_string(), revision);
        if !self.charms.contains_key(&key) {
            let archive = self.archive_path(name, revision)?;
            let charm = read_charm(&archive)?;
            self.charms.insert(key.clone(), charm);
        }
        self.charms.get(&key).ok_or_else(|| {
            EngineError::Invalid(format!("charm {name} revision {revision} not loaded"))
        })
    }

    fn archive_path(&self, name: &str, revision: u64) -> Result<PathBuf, EngineError> {
        let stored = self
            .model
            .store
            .get(name)
            .and_then(|r| r.get(&revision))
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "charm {name:?} has no revision {revision} in the store"
                ))
            })?;
        Ok(self.dir.root().join(&stored.archive))
    }

    /// Uploads a charm (directory or `.charm`) to the store and returns its
    /// name and revision: `revision`, or one more than the highest stored
    /// revision of that charm (1 for the first).
    pub fn add_charm(
        &mut self,
        path: &Path,
        revision: Option<u64>,
    ) -> Result<(String, u64), EngineError> {
        let charm = read_charm(path)?;
        let name = charm.metadata.name.clone();
        let revisions = self.model.store.get(&name);
        let revision = match revision {
            Some(r) if revisions.is_some_and(|revs| revs.contains_key(&r)) => {
                return Err(EngineError::Invalid(format!(
                    "charm {name:?} revision {r} is already in the store"
                )))
            }
            Some(r) => r,
            None => revisions
                .and_then(|revs| revs.keys().max())
                .map_or(1, |max| max + 1),
        };
        let relative = format!("store/{name}/{revision}.charm");
        let archive = self.dir.root().join(&relative);
        if let Some(parent) = archive.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        if path.is_dir() {
            pack(path, &[], &archive)?;
        } else {
            fs::copy(path, &archive).map_err(io_err(&archive))?;
        }
        let source = fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        self.model.store.entry(name.clone()).or_default().insert(
            revision,
            StoredCharm {
                archive: relative,
                source,
            },
        );
        self.charms.insert((name.clone(), revision), charm);
        self.log(
            None,
            crate::model::Level::Info,
            "juju.sim.store",
            format!("added charm {name} revision {revision}"),
        )?;
        self.save()?;
        Ok((name, revision))
    }

    /// Deploys `n` units of the charm at `charm_path` as application `app`
    /// (stored as `revision`, default the next free one). Returns the new units.
    /// Nothing runs until [`Engine::settle`] or [`Engine::step`].
    pub fn deploy(
        &mut self,
        charm_path: &Path,
        app: &str,
        n: usize,
        revision: Option<u64>,
    ) -> Result<Vec<String>, EngineError> {
        if !is_valid_app_name(app) {
            return Err(EngineError::Invalid(format!(
                "invalid application name {app:?}"
            )));
        }
        if self.model.applications.contains_key(app) {
            return Err(EngineError::Invalid(format!(
                "application {app:?} already exists"
            )));
        }
        let (charm_name, revision) = self.add_charm(charm_path, revision)?;
        let charm = self.charm(&charm_name, revision)?.clone();
        if charm.metadata.subordinate {
            return Err(EngineError::Invalid(
                "subordinate charms are not supported by juju-sim".into(),
            ));
        }
        self.model.applications.insert(
            app.to_string(),
            Application {
                charm: charm_name,
                revision,
                config: BTreeMap::new(),
                config_version: 1,
                leader: None,
                status: None,
                workload_version: String::new(),
                peer_relations: BTreeMap::new(),
                leader_settings: Bag::new(),
                leader_settings_version: 0,
                next_unit: 0,
                base: crate::model::default_base(),
                status_since: Default::default(),
            },
        );
        for endpoint in charm.metadata.peers.keys() {
            self.add_peer_relation(app, endpoint);
        }
        self.log(
            None,
            crate::model::Level::Info,
            "juju.sim",
            format!("deployed {app} (revision {revision})"),
        )?;
        self.add_unit(app, n)
    }

    fn add_peer_relation(&mut self, app: &str, endpoint: &str) {
        let id = self.model.next_relation;
        self.model.next_relation += 1;
        let mut apps = BTreeMap::new();
        apps.insert(app.to_string(), VersionedBag::default());
        self.model.relations.insert(
            id,
            Relation {
                id,
                endpoints: vec![RelationEndpoint {
                    app: app.to_string(),
                    endpoint: endpoint.to_string(),
                }],
                units: BTreeMap::new(),
                apps,
            },
        );
        if let Some(application) = self.model.applications.get_mut(app) {
            application.peer_relations.insert(endpoint.to_string(), id);
        }
    }

    /// Adds `n` units (each on a new machine) and returns their names.
    pub fn add_unit(&mut self, app: &str, n: usize) -> Result<Vec<String>, EngineError> {
        let mut added = Vec::new();
        for _ in 0..n {
            let application = self
                .model
                .applications
                .get_mut(app)
                .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
            let name = format!("{app}/{}", application.next_unit);
            application.next_unit += 1;
            if application.leader.is_none() {
                application.leader = Some(name.clone());
            }
            let machine = self.model.next_machine;
            self.model.next_machine += 1;
            let machine_dir = self.dir.machine_dir(&machine.to_string());
            fs::create_dir_all(&machine_dir).map_err(io_err(&machine_dir))?;
            self.model.units.insert(
                name.clone(),
                Unit {
                    name: name.clone(),
                    app: app.to_string(),
                    machine: machine.to_string(),
                    address: address_of(machine),
                    life: Life::Alive,
                    charm_revision: None,
                    installed: false,
                    started: false,
                    stopped: false,
                    workload: StatusValue {
                        status: "waiting".into(),
                        message: "agent initialising".into(),
                    },
                    status_set_by_charm: false,
                    agent: AgentStatus::new("allocating", ""),
                    workload_version: String::new(),
                    leader_local: false,
                    leader_settings_seen: None,
                    config_seen: None,
                    queue: Default::default(),
                    error: None,
                    relations: BTreeMap::new(),
                    state: None,
                    faults: Faults::default(),
                    update_status_due: false,
                    created: self.model.clock,
                    workload_since: Default::default(),
                    agent_since: Default::default(),
                },
            );
            self.log(
                Some(&name),
                crate::model::Level::Info,
                "juju.sim",
                format!("added unit {name} on machine {machine}"),
            )?;
            added.push(name);
        }
        self.save()?;
        Ok(added)
    }

    /// Starts removing a unit: it leaves its relations at once (the others
    /// run `-relation-departed`), its pending tasks are cancelled, leadership
    /// moves if it led; the unit itself runs departed hooks, `stop` and
    /// `remove` and then disappears.
    pub fn remove_unit(&mut self, unit: &str) -> Result<(), EngineError> {
        let u = self
            .model
            .units
            .get_mut(unit)
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        if u.life == Life::Dying {
            return Ok(());
        }
        u.life = Life::Dying;
        let app = u.app.clone();
        let ids: Vec<u64> = self.model.relations.keys().copied().collect();
        for id in ids {
            self.model.keep_cached_copies(id, unit);
        }
        for relation in self.model.relations.values_mut() {
            relation.units.remove(unit);
        }
        for task in self.model.tasks.values_mut() {
            if task.unit == unit && task.status == TaskStatus::Pending {
                task.status = TaskStatus::Cancelled;
                task.completed = Some(self.model.clock);
            }
        }
        let successor = self
            .model
            .units_of(&app)
            .into_iter()
            .find(|u| u.life == Life::Alive)
            .map(|u| u.name.clone());
        if let Some(application) = self.model.applications.get_mut(&app) {
            if application.leader.as_deref() == Some(unit) {
                application.leader = successor;
                application.leader_settings_version += 1;
            }
        }
        self.log(
            Some(unit),
            crate::model::Level::Info,
            "juju.sim",
            format!("removing unit {unit}"),
        )?;
        self.save()
    }

    /// Points `app` at another charm revision; every unit then swaps its
    /// charm directory and runs `upgrade-charm` and `config-changed` (docs/hook-contract.md §5.1).
    /// Returns the new revision.
    pub fn refresh(&mut self, app: &str, source: Source) -> Result<u64, EngineError> {
        let current = self
            .model
            .applications
            .get(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let charm_name = current.charm.clone();
        let current_revision = current.revision;
        let revision = match source {
            Source::Path(path) => {
                let charm = read_charm(&path)?;
                if charm.metadata.name != charm_name {
                    return Err(EngineError::Invalid(format!(
                        "cannot refresh {app:?}: charm name changed from {charm_name:?} to {:?}",
                        charm.metadata.name
                    )));
                }
                self.check_peers_kept(app, &charm)?;
                self.add_charm(&path, None)?.1
            }
            Source::Revision(revision) => {
                if revision == current_revision {
                    return Err(EngineError::Invalid(format!(
                        "application {app:?} already running charm revision {revision}"
                    )));
                }
                let charm = self.charm(&charm_name, revision)?.clone();
                self.check_peers_kept(app, &charm)?;
                revision
            }
        };
        let peers: Vec<String> = self
            .charm(&charm_name, revision)?
            .metadata
            .peers
            .keys()
            .cloned()
            .collect();
        for endpoint in peers {
            if self.model.relation_of(app, &endpoint).is_none() {
                self.add_peer_relation(app, &endpoint);
            }
        }
        if let Some(application) = self.model.applications.get_mut(app) {
            application.revision = revision;
        }
        self.log(
            None,
            crate::model::Level::Info,
            "juju.sim",
            format!("refreshing {app} from revision {current_revision} to {revision}"),
        )?;
        self.save()?;
        Ok(revision)
    }

    fn check_peers_kept(&self, app: &str, charm: &Charm) -> Result<(), EngineError> {
        let application = self
            .model
            .applications
            .get(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        for endpoint in application.peer_relations.keys() {
            if !charm.metadata.peers.contains_key(endpoint) {
                return Err(EngineError::Invalid(format!(
                    "cannot refresh {app:?}: the new charm would remove peer relation {endpoint:?}"
                )));
            }
        }
        Ok(())
    }

    /// Sets config options (`juju config app key=value`); values are parsed
    /// by the option's type. Units run `config-changed` when anything changed.
    pub fn set_config(
        &mut self,
        app: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let application = self
            .model
            .applications
            .get(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let (charm_name, revision) = (application.charm.clone(), application.revision);
        let charm = self.charm(&charm_name, revision)?.clone();
        let mut typed = BTreeMap::new();
        for (key, raw) in values {
            let option = charm
                .config
                .get(key)
                .ok_or_else(|| EngineError::Invalid(format!("unknown option {key:?}")))?;
            let value = crate::charm_meta::parse_config_value(option, raw)
                .map_err(|e| EngineError::Invalid(format!("option {key:?}: {e}")))?;
            typed.insert(key.clone(), value);
        }
        let application = self
            .model
            .applications
            .get_mut(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let mut changed = false;
        for (key, value) in typed {
            if application.config.get(&key) != Some(&value) {
                application.config.insert(key, value);
                changed = true;
            }
        }
        if changed {
            application.config_version += 1;
        }
        self.save()
    }

    /// Resets config options to the charm's defaults (`juju config app --reset k`).
    /// Units run `config-changed` when anything changed.
    pub fn reset_config(&mut self, app: &str, keys: &[String]) -> Result<(), EngineError> {
        let application = self
            .model
            .applications
            .get(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let (charm_name, revision) = (application.charm.clone(), application.revision);
        let charm = self.charm(&charm_name, revision)?.clone();
        if let Some(key) = keys.iter().find(|k| !charm.config.contains_key(*k)) {
            return Err(EngineError::Invalid(format!("unknown option {key:?}")));
        }
        let application = self
            .model
            .applications
            .get_mut(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let mut changed = false;
        for key in keys {
            changed |= application.config.remove(key).is_some();
        }
        if changed {
            application.config_version += 1;
        }
        self.save()
    }

    /// Records the base an application was deployed on (`ubuntu@22.04`), as `juju status` shows it.
    pub fn set_base(&mut self, app: &str, base: &str) -> Result<(), EngineError> {
        check_base(base)?;
        let application = self
            .model
            .applications
            .get_mut(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        application.base = base.to_string();
        self.save()
    }

    /// Sets (`Some`) or resets (`None`) a model setting `juju model-config` shows.
    pub fn set_model_config(&mut self, key: &str, value: Option<Value>) -> Result<(), EngineError> {
        match value {
            Some(value) => self.model.config.insert(key.to_string(), value),
            None => self.model.config.remove(key),
        };
        self.save()
    }

    /// The config options the charm of `app` declares.
    pub fn charm_config(
        &mut self,
        app: &str,
    ) -> Result<crate::charm_meta::ConfigSpec, EngineError> {
        let application = self
            .model
            .applications
            .get(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let (charm_name, revision) = (application.charm.clone(), application.revision);
        Ok(self.charm(&charm_name, revision)?.config.clone())
    }

    /// Every config option of `app` with its value and where it comes from.
    pub fn config(&mut self, app: &str) -> Result<BTreeMap<String, ConfigValue>, EngineError> {
        let application = self
            .model
            .applications
            .get(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        let (charm_name, revision, set) = (
            application.charm.clone(),
            application.revision,
            application.config.clone(),
        );
        let charm = self.charm(&charm_name, revision)?;
        Ok(charm
            .config
            .iter()
            .map(|(name, option)| {
                let entry = match (set.get(name), &option.default) {
                    (Some(value), _) => ConfigValue {
                        value: Some(value.clone()),
                        source: "user",
                    },
                    (None, Some(default)) => ConfigValue {
                        value: Some(default.clone()),
                        source: "default",
                    },
                    (None, None) => ConfigValue {
                        value: None,
                        source: "unset",
                    },
                };
                (name.clone(), entry)
            })
            .collect())
    }

    /// Enqueues an action on a unit (`app/N`, or `app/leader` for the current
    /// leader). Parameters are validated and defaults inserted now, as Juju does.
    pub fn run_action(
        &mut self,
        target: &str,
        action: &str,
        params: Map<String, Value>,
    ) -> Result<TaskId, EngineError> {
        let unit_name = self.resolve_unit(target)?;
        let app = self
            .model
            .units
            .get(&unit_name)
            .map(|u| u.app.clone())
            .unwrap_or_default();
        let application = self
            .model
            .applications
            .get(&app)
            .ok_or_else(|| EngineError::UnknownApplication(app.clone()))?;
        let (charm_name, revision) = (application.charm.clone(), application.revision);
        let charm = self.charm(&charm_name, revision)?;
        let spec = charm
            .actions
            .get(action)
            .ok_or_else(|| EngineError::ActionNotDefined {
                action: action.into(),
                unit: unit_name.clone(),
            })?;
        let params = validate_params(spec, params).map_err(EngineError::Validation)?;
        let id = self.model.next_task;
        self.model.next_task += 1;
        self.model.tasks.insert(
            id,
            Task {
                id,
                unit: unit_name.clone(),
                action: action.to_string(),
                params,
                status: TaskStatus::Pending,
                message: None,
                results: Map::new(),
                log: Vec::new(),
                enqueued: self.model.clock,
                started: None,
                completed: None,
            },
        );
        self.log(
            Some(&unit_name),
            crate::model::Level::Info,
            "juju.sim",
            format!("enqueued action {action} as task {id}"),
        )?;
        self.save()?;
        Ok(id)
    }

    /// Resolves `app/leader` to the leader's name and checks the unit exists and is alive.
    pub fn resolve_unit(&self, target: &str) -> Result<String, EngineError> {
        let name = match target.strip_suffix("/leader") {
            Some(app) => {
                let application = self
                    .model
                    .applications
                    .get(app)
                    .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
                application.leader.clone().ok_or_else(|| {
                    EngineError::Invalid(format!("application {app:?} has no leader"))
                })?
            }
            None => target.to_string(),
        };
        match self.model.units.get(&name) {
            Some(unit) if unit.life == Life::Alive => Ok(name),
            Some(_) => Err(EngineError::Invalid(format!("unit {name:?} is dying"))),
            None => Err(EngineError::UnknownUnit(name)),
        }
    }

    /// A task.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.model.tasks.get(&id)
    }

    /// Retries a unit's failed hook now (`juju resolved`), outside the automatic-retry budget.
    pub fn resolved(&mut self, unit: &str) -> Result<(), EngineError> {
        let u = self
            .model
            .units
            .get_mut(unit)
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        let error = u.error.as_mut().ok_or_else(|| {
            EngineError::Invalid(format!("unit {unit:?} is not in an error state"))
        })?;
        error.resolved = true;
        self.save()
    }

    /// Marks a unit's failed hook as done without running it (`juju resolved --no-retry`).
    pub fn resolved_no_retry(&mut self, unit: &str) -> Result<(), EngineError> {
        let u = self
            .model
            .units
            .get(unit)
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        if u.error.is_none() {
            return Err(EngineError::Invalid(format!(
                "unit {unit:?} is not in an error state"
            )));
        }
        self.skip_failed_hook(unit)?;
        self.save()
    }

    /// Fault: the unit's next hook fails whatever its exit status, and its
    /// batched writes are discarded. It does run, and its immediate effects
    /// (logs, status) stay, as with a crash at its very end.
    pub fn fail_next_hook(&mut self, unit: &str) -> Result<(), EngineError> {
        self.arm_fail(unit, None)
    }

    /// Fault: like [`Engine::fail_next_hook`], for the next run of the hook
    /// named `hook` (full name, e.g. `upgrade-charm`); other hooks run normally.
    pub fn fail_next_hook_named(&mut self, unit: &str, hook: &str) -> Result<(), EngineError> {
        self.arm_fail(unit, Some(hook))
    }

    fn arm_fail(&mut self, unit: &str, hook: Option<&str>) -> Result<(), EngineError> {
        let u = self
            .model
            .units
            .get_mut(unit)
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        u.faults.fail_hook = Some(FailFault {
            hook: hook.map(str::to_string),
        });
        self.save()
    }

    /// Fault: the unit's next hook or action process is killed right after
    /// its `after_tool_calls`-th hook-tool call, as if the agent died. A
    /// hook's batched writes are discarded and it runs again (not an error);
    /// an action is marked failed. If the run makes fewer tool calls,
    /// nothing happens and the fault is used up.
    pub fn kill_agent_mid_hook(
        &mut self,
        unit: &str,
        after_tool_calls: u32,
    ) -> Result<(), EngineError> {
        self.arm_kill(unit, after_tool_calls, None)
    }

    /// Fault: like [`Engine::kill_agent_mid_hook`], for the next run of the
    /// hook or action named `hook`; other runs are left alone.
    pub fn kill_agent_mid_hook_named(
        &mut self,
        unit: &str,
        hook: &str,
        after_tool_calls: u32,
    ) -> Result<(), EngineError> {
        self.arm_kill(unit, after_tool_calls, Some(hook))
    }

    fn arm_kill(
        &mut self,
        unit: &str,
        after_tool_calls: u32,
        hook: Option<&str>,
    ) -> Result<(), EngineError> {
        if after_tool_calls == 0 {
            return Err(EngineError::Invalid(
                "--after-tool-calls must be at least 1".into(),
            ));
        }
        let u = self
            .model
            .units
            .get_mut(unit)
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        u.faults.kill_agent = Some(KillFault {
            after_tool_calls,
            hook: hook.map(str::to_string),
        });
        self.save()
    }

    /// Requests `update-status` on a unit, or on every unit of an
    /// application; it runs when the unit has nothing else to do (Juju runs
    /// it on a 5-minute timer, which the emulator leaves to the caller).
    pub fn update_status(&mut self, target: &str) -> Result<(), EngineError> {
        let names: Vec<String> = if target.contains('/') {
            vec![self.resolve_unit(target)?]
        } else {
            if !self.model.applications.contains_key(target) {
                return Err(EngineError::UnknownApplication(target.into()));
            }
            self.model
                .units_of(target)
                .iter()
                .filter(|u| u.life == Life::Alive)
                .map(|u| u.name.clone())
                .collect()
        };
        for name in names {
            if let Some(u) = self.model.units.get_mut(&name) {
                u.update_status_due = true;
            }
        }
        self.save()
    }

    /// Moves leadership: `unit` gets `leader-elected`, the others `leader-settings-changed`.
    pub fn move_leader(&mut self, app: &str, unit: &str) -> Result<(), EngineError> {
        match self.model.units.get(unit) {
            Some(u) if u.app == app && u.life == Life::Alive => {}
            Some(_) => {
                return Err(EngineError::Invalid(format!(
                    "unit {unit:?} is not an alive unit of {app:?}"
                )))
            }
            None => return Err(EngineError::UnknownUnit(unit.into())),
        }
        let application = self
            .model
            .applications
            .get_mut(app)
            .ok_or_else(|| EngineError::UnknownApplication(app.into()))?;
        if application.leader.as_deref() == Some(unit) {
            return Ok(());
        }
        application.leader = Some(unit.to_string());
        application.leader_settings_version += 1;
        self.log(
            Some(unit),
            crate::model::Level::Info,
            "juju.sim",
            format!("leadership of {app} moved to {unit}"),
        )?;
        self.save()
    }

    /// Sets (`Some`) or removes (`None`) an environment variable every hook gets.
    pub fn set_model_env(&mut self, key: &str, value: Option<&str>) -> Result<(), EngineError> {
        if key.is_empty() || key.contains('=') {
            return Err(EngineError::Invalid(format!(
                "invalid environment variable name {key:?}"
            )));
        }
        match value {
            Some(v) => self.model.env.insert(key.to_string(), v.to_string()),
            None => self.model.env.remove(key),
        };
        self.save()
    }

    /// Reseeds the scheduler's choices.
    pub fn reseed(&mut self, seed: u64) -> Result<(), EngineError> {
        self.model.rng = seed;
        self.save()
    }

    /// Runs the units' schedulers until nothing is runnable: one operation at
    /// a time, the unit chosen by the seeded generator among units with work.
    /// Failed hooks are retried after their (virtual) backoff, at most
    /// [`EngineOptions::max_auto_retries`] times per unit in one settle.
    pub fn settle(&mut self) -> Result<SettleReport, EngineError> {
        let mut report = SettleReport::default();
        let mut retries: HashMap<String, u32> = HashMap::new();
        let max_retries = self.options.max_auto_retries;
        loop {
            if report.operations.len() >= self.options.max_steps {
                return Err(EngineError::NotSettled {
                    steps: report.operations.len(),
                    pending: self.pending(),
                });
            }
            let step = self
                .step_with(&|unit: &str| retries.get(unit).copied().unwrap_or(0) < max_retries)?;
            let Some(step) = step else { break };
            if step.retry {
                *retries.entry(step.unit.clone()).or_default() += 1;
            }
            report.operations.push(step);
        }
        report.errors = self.errors();
        Ok(report)
    }

    /// Runs one operation as [`Engine::settle`] does, with `retries` counting the
    /// automatic retries made so far per unit (at most
    /// [`EngineOptions::max_auto_retries`] each): for a caller that runs the model
    /// one operation at a time across several opens, as the background agent does.
    pub fn step_within(
        &mut self,
        retries: &mut HashMap<String, u32>,
    ) -> Result<Option<StepReport>, EngineError> {
        let max_retries = self.options.max_auto_retries;
        let step =
            self.step_with(&|unit: &str| retries.get(unit).copied().unwrap_or(0) < max_retries)?;
        if let Some(step) = &step {
            if step.retry {
                *retries.entry(step.unit.clone()).or_default() += 1;
            }
        }
        Ok(step)
    }

    /// Runs one operation (advancing the virtual clock to the next retry when
    /// only retries are left). `None` when nothing is left to run.
    pub fn step(&mut self) -> Result<Option<StepReport>, EngineError> {
        self.step_with(&|_: &str| true)
    }

    /// Runs the next operation of one unit only (for tests that need an exact
    /// interleaving); a due-later retry advances the virtual clock to it.
    /// `None` when that unit has nothing to run.
    pub fn step_unit(&mut self, unit: &str) -> Result<Option<StepReport>, EngineError> {
        let u = self
            .model
            .units
            .get(unit)
            .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
        match next_operation(&self.model, u, self.model.clock, true) {
            Next::Run(op) => self.execute(unit, op).map(Some),
            Next::RetryAt(at) => {
                self.model.clock = at;
                let u = self
                    .model
                    .units
                    .get(unit)
                    .ok_or_else(|| EngineError::UnknownUnit(unit.into()))?;
                match next_operation(&self.model, u, at, true) {
                    Next::Run(op) => self.execute(unit, op).map(Some),
                    _ => Ok(None),
                }
            }
            Next::Idle => Ok(None),
        }
    }

    fn step_with(
        &mut self,
        retry_allowed: &dyn Fn(&str) -> bool,
    ) -> Result<Option<StepReport>, EngineError> {
        loop {
            let now = self.model.clock;
            let mut runnable = Vec::new();
            let mut earliest_retry: Option<u64> = None;
            for unit in self.model.units.values() {
                match next_operation(&self.model, unit, now, retry_allowed(&unit.name)) {
                    Next::Run(op) => runnable.push((unit.name.clone(), op)),
                    Next::RetryAt(at) => {
                        earliest_retry = Some(earliest_retry.map_or(at, |e| e.min(at)))
                    }
                    Next::Idle => {}
                }
            }
            if runnable.is_empty() {
                match earliest_retry {
                    Some(at) if at > now => {
                        self.model.clock = at;
                        continue;
                    }
                    _ => return Ok(None),
                }
            }
            let index = rng::below(&mut self.model.rng, runnable.len());
            let (unit, op) = runnable.swap_remove(index);
            return self.execute(&unit, op).map(Some);
        }
    }

    /// What each unit would still run (for [`EngineError::NotSettled`]).
    pub fn pending(&self) -> Vec<String> {
        let mut pending = Vec::new();
        for unit in self.model.units.values() {
            match next_operation(&self.model, unit, self.model.clock, true) {
                Next::Run(op) => {
                    pending.push(format!("{}: {}", unit.name, describe(&self.model, &op)))
                }
                Next::RetryAt(at) => pending.push(format!("{}: retry at {at}s", unit.name)),
                Next::Idle => {}
            }
        }
        pending
    }

    /// Units in error now.
    pub fn errors(&self) -> Vec<UnitErrorReport> {
        self.model
            .units
            .values()
            .filter_map(|u| {
                u.error.as_ref().map(|e| UnitErrorReport {
                    unit: u.name.clone(),
                    hook: e.hook.name(),
                    reason: e.reason.clone(),
                    attempts: e.attempts,
                })
            })
            .collect()
    }

    /// `juju status` as data.
    pub fn status(&self) -> StatusReport {
        status::report(&self.model)
    }

    /// The committed bag of `unit` in its application's relation on `endpoint`.
    pub fn unit_bag(&self, unit: &str, endpoint: &str) -> Option<Bag> {
        let app = crate::model::app_of(unit);
        self.model
            .relation_of(app, endpoint)?
            .units
            .get(unit)
            .map(|b| b.data.clone())
    }

    /// The committed application bag of `app` in its relation on `endpoint`.
    pub fn app_bag(&self, app: &str, endpoint: &str) -> Option<Bag> {
        self.model
            .relation_of(app, endpoint)?
            .apps
            .get(app)
            .map(|b| b.data.clone())
    }

    /// The current leader of `app`.
    pub fn leader(&self, app: &str) -> Option<&str> {
        self.model.applications.get(app)?.leader.as_deref()
    }

    /// The whole debug log.
    pub fn log_entries(&self) -> Result<Vec<LogEntry>, EngineError> {
        Ok(self.dir.read_log()?)
    }

    /// Every operation run so far, in order.
    pub fn history(&self) -> Result<Vec<OpRecord>, EngineError> {
        Ok(self.dir.read_history()?)
    }

    /// Names of the hooks `unit` ran successfully (or skipped for lack of a handler), in order.
    pub fn hooks_run(&self, unit: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .history()?
            .into_iter()
            .filter(|r| {
                r.unit == unit
                    && r.kind == crate::model::OpKind::Hook
                    && matches!(r.outcome, Outcome::Succeeded | Outcome::Skipped)
            })
            .map(|r| r.name)
            .collect())
    }

    /// A unit's charm directory.
    pub fn charm_dir(&self, unit: &str) -> PathBuf {
        self.dir.charm_dir(unit)
    }

    /// A unit's machine directory (`JUJU_SIM_MACHINE_DIR`).
    pub fn machine_dir(&self, unit: &str) -> Option<PathBuf> {
        self.model
            .units
            .get(unit)
            .map(|u| self.dir.machine_dir(&u.machine))
    }
}

/// Text for an operation, for reports.
fn describe(model: &Model, op: &Operation) -> String {
    match op {
        Operation::Hook { hook, source } => {
            let mut text = hook.name();
            if let Some(remote) = hook.remote_unit.as_deref() {
                text.push_str(&format!(" for {remote}"));
            }
            if *source == HookSource::Retry {
                text.push_str(" (retry)");
            }
            text
        }
        Operation::Action(id) => {
            let name = model.tasks.get(id).map_or("?", |t| t.action.as_str());
            format!("action {name} (task {id})")
        }
        Operation::CharmSwap(revision) => format!("charm swap to revision {revision}"),
        Operation::Forget => "removal".to_string(),
    }
}

/// Checks a base is `NAME@CHANNEL` (`ubuntu@22.04`), as `juju deploy --base` takes it.
pub fn check_base(base: &str) -> Result<(), EngineError> {
    let valid = base
        .split_once('@')
        .is_some_and(|(name, channel)| !name.is_empty() && !channel.is_empty());
    if valid {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "invalid base {base:?}: expected NAME@CHANNEL, e.g. ubuntu@22.04"
        )))
    }
}

/// Juju application names: lowercase letters, digits and single hyphens, starting with a letter.
pub fn is_valid_app_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn address_of(machine: u64) -> String {
    format!("10.1.{}.{}", machine / 250, machine % 250 + 2)
}

fn model_name_for(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .filter(|n| is_valid_app_name(n))
        .unwrap_or_else(|| "default".to_string())
}

/// Seconds since the Unix epoch, by the system clock.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn new_uuid(root: &Path) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut seed =
        now ^ u64::from(std::process::id()) ^ rng::mix(root.to_string_lossy().len() as u64);
    for byte in root.to_string_lossy().bytes() {
        seed = rng::mix(seed ^ u64::from(byte));
    }
    let (a, b) = (rng::next(&mut seed), rng::next(&mut seed));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests;
