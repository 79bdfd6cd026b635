//! Models in the emulator (`juju_sim::engine`) with real charm processes: the charms
//! packed for them, the operator's steps of an upgrade and of the how-to's rollback, and what
//! each phase ran.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use juju_sim::engine::{Engine, EngineOptions, Source};
use juju_sim::model::TaskStatus;
use mysql_charm::versions::VersionOverrides;
use mysql_test_workloads::{FaultKind, FaultPlan, FaultRule};
use xtask::pack::{pack, CharmSource, CHARM_FILE_NAME};

use crate::capture::{lock, Capture, CaptureFilter, Recorder, Recording, Run, UPGRADE_ENDPOINT};
use crate::error::BenchError;

/// The application name in every model.
pub const APP: &str = "mysql";
/// The revision the MySQL charm is deployed at, and rolled back to (as in the how-to).
pub const OLD_REVISION: u64 = 182;
/// MySQL in revision 182.
pub const OLD_VERSION: &str = "8.0.33";
/// The snap revision carrying [`OLD_VERSION`].
const OLD_SNAP_REVISION: &str = "57";
/// The MySQL charm's option that pauses an upgrade for the operator.
const PAUSE_OPTION: &str = "pause-after-unit-refresh";

/// The Python floor charm's directory (`crates/bench/python-charm`).
pub fn python_charm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python-charm")
}

/// Which charm a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CharmKind {
    /// The Rust MySQL charm (this repository).
    Rust,
    /// The Python `ops` floor charm (`crates/bench/python-charm`).
    Python,
}

impl CharmKind {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            CharmKind::Rust => "Rust charm",
            CharmKind::Python => "Python ops floor",
        }
    }
}

/// The charms the models deploy.
#[derive(Debug, Clone)]
pub struct Charms {
    /// The MySQL charm at revision 182 (MySQL [`OLD_VERSION`]).
    pub rust_old: PathBuf,
    /// The MySQL charm with this repository's `versions.json`.
    pub rust_new: PathBuf,
    /// MySQL in [`Charms::rust_new`].
    pub new_version: String,
    /// The Python floor charm's directory (deployed and refreshed from the directory).
    pub python: PathBuf,
    /// The venv with `ops` the Python charm runs in (`OPS_VENV`), when there is one.
    pub venv: Option<PathBuf>,
}

impl Charms {
    /// Packs the MySQL charm with `charm_binary` into `dir`, twice (old and new versions).
    pub fn pack(
        charm_binary: &Path,
        dir: &Path,
        venv: Option<PathBuf>,
    ) -> Result<Charms, BenchError> {
        let source = CharmSource::from_this_repo(charm_binary);
        let old_out = dir.join("old").join(CHARM_FILE_NAME);
        pack(
            &source.clone().with_overrides(VersionOverrides {
                workload_version: Some(OLD_VERSION.to_owned()),
                snap_revision: Some(OLD_SNAP_REVISION.to_owned()),
                ..VersionOverrides::default()
            }),
            &old_out,
        )?;
        let new_out = dir.join("new").join(CHARM_FILE_NAME);
        let versions = pack(&source, &new_out)?;
        Ok(Charms {
            rust_old: old_out,
            rust_new: new_out,
            new_version: versions.workload().version.clone(),
            python: python_charm_dir(),
            venv,
        })
    }
}

/// What one phase of a flow ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// What the operator did, e.g. `deploy 50 units`.
    pub name: String,
    /// Operations the engine ran (hooks, actions, charm swaps).
    pub operations: u64,
    /// Hook and action processes.
    pub runs: Vec<Run>,
    /// Wall time of the phase (the engine's work included).
    pub wall: Duration,
}

impl Phase {
    /// Hook-tool calls of every process of the phase.
    pub fn tool_calls(&self) -> u64 {
        self.runs.iter().map(|run| run.tool_calls).sum()
    }

    /// Wall time spent inside the processes.
    pub fn process_wall(&self) -> Duration {
        self.runs.iter().map(|run| run.wall).sum()
    }
}

/// A model in a temporary directory, with every process recorded.
pub struct SimModel {
    root: tempfile::TempDir,
    /// The emulator.
    pub engine: Engine,
    /// What the processes did.
    pub recording: Arc<Mutex<Recording>>,
    /// The charm it runs.
    pub kind: CharmKind,
    charms: Charms,
    /// Operations run so far.
    operations: u64,
}

impl SimModel {
    /// An empty model whose hooks use `hook_tools`; `seed` picks the order units run in.
    pub fn new(
        kind: CharmKind,
        charms: &Charms,
        hook_tools: &Path,
        seed: u64,
    ) -> Result<SimModel, BenchError> {
        let root = tempfile::Builder::new()
            .prefix("upgrade-bench-model-")
            .tempdir()
            .map_err(BenchError::io(std::env::temp_dir()))?;
        let options = EngineOptions {
            tool_binary: Some(hook_tools.to_path_buf()),
            seed,
            model_name: Some("bench".into()),
            ..EngineOptions::default()
        };
        let (recorder, recording) = Recorder::new();
        let mut engine =
            Engine::open(root.path().join("model"), options)?.with_runner(Box::new(recorder));
        if kind == CharmKind::Python {
            let venv = charms.venv.as_ref().ok_or_else(|| {
                BenchError::Flow(
                    "the Python charm needs a venv with ops (scripts/python-venv)".to_owned(),
                )
            })?;
            engine.set_model_env("OPS_VENV", Some(&venv.display().to_string()))?;
        }
        Ok(SimModel {
            root,
            engine,
            recording,
            kind,
            charms: charms.clone(),
            operations: 0,
        })
    }

    /// Runs every operation that is due, without the engine's cap on operations per settle
    /// (a 50-unit deployment needs about 10 000). Fails if a unit is left in error.
    pub fn settle(&mut self) -> Result<u64, BenchError> {
        let mut operations = 0;
        while self.engine.step()?.is_some() {
            operations += 1;
        }
        self.operations += operations;
        let errors = self.engine.errors();
        if !errors.is_empty() {
            return Err(BenchError::Flow(format!("units in error: {errors:?}")));
        }
        if let Some(problem) = lock(&self.recording).problem.clone() {
            return Err(BenchError::Flow(problem));
        }
        Ok(operations)
    }

    /// Runs `step` (an operator's command) then settles, as one phase.
    pub fn phase(
        &mut self,
        name: impl Into<String>,
        step: impl FnOnce(&mut SimModel) -> Result<(), BenchError>,
    ) -> Result<Phase, BenchError> {
        let first = lock(&self.recording).runs.len();
        let operations_before = self.operations;
        let start = Instant::now();
        step(self)?;
        self.settle()?;
        let wall = start.elapsed();
        let operations = self.operations - operations_before;
        let runs = lock(&self.recording).runs[first..].to_vec();
        Ok(Phase {
            name: name.into(),
            operations,
            runs,
            wall,
        })
    }

    /// Leaves the model directory on disk when dropped; returns where it is.
    pub fn keep(self) -> PathBuf {
        self.root.keep()
    }

    /// Keeps the runs `filter` accepts for replay from now on (`None`: none).
    pub fn capture(&self, filter: Option<CaptureFilter>) {
        lock(&self.recording).capture(filter);
    }

    /// The runs kept so far.
    pub fn captures(&self) -> Vec<Capture> {
        lock(&self.recording).captures.clone()
    }

    /// Deploys `units` units of the charm (the MySQL charm at revision 182, with
    /// `pause-after-unit-refresh=none`).
    pub fn deploy(&mut self, units: usize) -> Result<(), BenchError> {
        match self.kind {
            CharmKind::Rust => {
                let charm = self.charms.rust_old.clone();
                self.engine.deploy(&charm, APP, units, Some(OLD_REVISION))?;
                // The upgrade runs through without stopping for the operator after the
                // first unit (the charm's default is `first`).
                let config = BTreeMap::from([(PAUSE_OPTION.to_owned(), "none".to_owned())]);
                self.engine.set_config(APP, &config)?;
            }
            CharmKind::Python => {
                let charm = self.charms.python.clone();
                self.engine.deploy(&charm, APP, units, None)?;
            }
        }
        Ok(())
    }

    /// `juju run mysql/leader pre-upgrade-check`, which must succeed once settled.
    pub fn pre_upgrade_check(&mut self) -> Result<(), BenchError> {
        let task = self.engine.run_action(
            &format!("{APP}/leader"),
            "pre-upgrade-check",
            serde_json::Map::new(),
        )?;
        self.settle()?;
        match self.engine.task(task) {
            Some(task) if task.status == TaskStatus::Completed => Ok(()),
            other => Err(BenchError::Flow(format!(
                "pre-upgrade-check did not complete: {other:?}"
            ))),
        }
    }

    /// `juju refresh` to the new charm (the MySQL charm with this repository's versions, or
    /// the Python charm's directory again).
    pub fn refresh_to_new(&mut self) -> Result<(), BenchError> {
        let charm = match self.kind {
            CharmKind::Rust => self.charms.rust_new.clone(),
            CharmKind::Python => self.charms.python.clone(),
        };
        self.engine.refresh(APP, Source::Path(charm))?;
        Ok(())
    }

    /// Every unit's committed upgrade `state`.
    pub fn states(&self) -> BTreeMap<String, Option<String>> {
        self.unit_names()
            .into_iter()
            .map(|unit| {
                let state = self
                    .engine
                    .unit_bag(&unit, UPGRADE_ENDPOINT)
                    .and_then(|bag| bag.get("state").cloned());
                (unit, state)
            })
            .collect()
    }

    /// Every unit's workload version.
    pub fn workload_versions(&self) -> BTreeMap<String, String> {
        self.engine
            .status()
            .applications
            .get(APP)
            .map(|app| {
                app.units
                    .iter()
                    .map(|(unit, report)| (unit.clone(), report.workload_version.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unit_names(&self) -> Vec<String> {
        self.engine
            .status()
            .applications
            .get(APP)
            .map(|app| app.units.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Fails unless every unit is `idle`.
    pub fn expect_all_idle(&self, after: &str) -> Result<(), BenchError> {
        let states = self.states();
        if states
            .values()
            .all(|state| state.as_deref() == Some("idle"))
        {
            return Ok(());
        }
        Err(BenchError::Flow(format!(
            "after {after}, not every unit is idle: {states:?}"
        )))
    }
}

/// A model of `units` units that went through a whole upgrade: deploy, `pre-upgrade-check`,
/// `juju refresh`. Every process from `pre-upgrade-check` on is captured for replay.
pub fn upgraded_model(
    kind: CharmKind,
    units: usize,
    charms: &Charms,
    hook_tools: &Path,
) -> Result<(SimModel, Vec<Phase>), BenchError> {
    let mut model = SimModel::new(kind, charms, hook_tools, 7)?;
    let deploy = model.phase(format!("deploy {units} units"), |m| m.deploy(units))?;
    model.capture(Some(Box::new(|_, _, _| true)));
    let prepare = model.phase("pre-upgrade-check", SimModel::pre_upgrade_check)?;
    let upgrade = model.phase("refresh (the upgrade)", SimModel::refresh_to_new)?;
    model.capture(None);
    model.expect_all_idle("the upgrade")?;
    Ok((model, vec![deploy, prepare, upgrade]))
}

/// The how-to's rollback with the MySQL charm on `units` units: deploy revision 182, prepare,
/// refresh to a revision whose MySQL fails to start (the first unit fails and the upgrade
/// pauses), `pre-upgrade-check` again (recovery), `juju refresh --revision 182` (the
/// rollback). Captures the prepare's `pre-upgrade-check` and every `upgrade-charm` of the
/// failed refresh, to compare them with grown hooks.
/// `progress` hears of each phase as it starts.
pub fn rollback_model(
    units: usize,
    charms: &Charms,
    hook_tools: &Path,
    progress: &dyn Fn(&str),
) -> Result<(SimModel, Vec<Phase>), BenchError> {
    let mut model = SimModel::new(CharmKind::Rust, charms, hook_tools, 11)?;
    progress(&format!("deploy {units} units"));
    let deploy = model.phase(format!("deploy {units} units"), |m| m.deploy(units))?;
    model.capture(Some(Box::new(|_, event, _| event == "pre-upgrade-check")));
    progress("pre-upgrade-check");
    let prepare = model.phase("pre-upgrade-check", SimModel::pre_upgrade_check)?;
    let plan = FaultPlan {
        faults: vec![FaultRule::new(FaultKind::StartFails).for_version(charms.new_version.clone())],
    };
    plan.save(model.engine.dir())?;
    model.capture(Some(Box::new(|_, event, _| event == "upgrade-charm")));
    progress("refresh to the failing revision");
    let failed = model.phase("refresh to the failing revision", SimModel::refresh_to_new)?;
    model.capture(None);
    let failed_units: Vec<String> = model
        .states()
        .into_iter()
        .filter(|(_, state)| state.as_deref() == Some("failed"))
        .map(|(unit, _)| unit)
        .collect();
    if failed_units.len() != 1 {
        return Err(BenchError::Flow(format!(
            "expected one failed unit after the failing refresh, found {failed_units:?}"
        )));
    }
    progress("pre-upgrade-check (recovery)");
    let recover = model.phase("pre-upgrade-check (recovery)", SimModel::pre_upgrade_check)?;
    progress("refresh --revision 182 (the rollback)");
    let rollback = model.phase("refresh --revision 182 (the rollback)", |m| {
        m.engine.refresh(APP, Source::Revision(OLD_REVISION))?;
        Ok(())
    })?;
    model.expect_all_idle("the rollback")?;
    let versions = model.workload_versions();
    if versions.values().any(|version| version != OLD_VERSION) {
        return Err(BenchError::Flow(format!(
            "after the rollback not every unit runs MySQL {OLD_VERSION}: {versions:?}"
        )));
    }
    Ok((model, vec![deploy, prepare, failed, recover, rollback]))
}
