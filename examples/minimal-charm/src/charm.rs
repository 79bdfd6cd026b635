//! The glue between Juju (`juju-ops`), the upgrade core (`juju-upgrade`) and the workload:
//! the hooks trait, the dispatch and the wiring. This file is what the README counts.

use std::process::ExitCode;

use juju_ops::upgrade::{run_turn, upgrade_event};
use juju_ops::{ContextError, Dispatch, HookTools, ProcessHookTools, Status, ToolError};
use juju_upgrade::{CharmVersions, ClusterNotReady, DependencyModel, PeerSnapshot};
use juju_upgrade::{UpgradeFailed, UpgradeHooks};

use crate::kv::{KvError, KvStore, Workload};

/// The charm's side of the upgrade: the dependency model it ships and its workload.
pub struct KvHooks<W> {
    /// The kv store of this unit.
    pub workload: W,
    /// This revision's `dependencies.json`; its `kv` component is the version it installs.
    pub model: DependencyModel,
}

impl<W: Workload> KvHooks<W> {
    /// The kv version this revision installs.
    pub fn pin(&self) -> String {
        self.model
            .get("kv")
            .map_or_else(String::new, |kv| kv.version.clone())
    }
}

impl<W: Workload> UpgradeHooks for KvHooks<W> {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.workload.check_health().map_err(|err| ClusterNotReady {
            message: "Pre-upgrade check failed. Cannot upgrade.".into(),
            cause: err.to_string(),
            resolution: "Check the leader's kv store".into(),
        })
    }

    fn upgrade_unit(
        &mut self,
        _: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        let pin = self.pin();
        progress(&format!("installing kv {pin}..."));
        let done = self.workload.install(&pin);
        let healthy = done.and_then(|()| self.workload.check_health());
        healthy.map_err(|err| UpgradeFailed {
            cause: err.to_string(),
        })
    }

    fn workload_version(&mut self, _: &PeerSnapshot) -> Option<String> {
        self.workload.installed().ok()
    }
}

/// Why a hook failed (Juju then retries it; its peer-data writes are dropped).
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// The environment is not a hook's or an action's.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file of the charm directory cannot be read.
    #[error("charm file {0}")]
    CharmFile(String),
    /// `dependencies.json` is not a dependency model.
    #[error("dependencies.json: {0}")]
    Dependencies(#[from] juju_upgrade::DependencyError),
    /// The workload refused.
    #[error(transparent)]
    Kv(#[from] KvError),
}

/// Handles the hook or action Juju started this process for.
pub fn run(tools: &dyn HookTools) -> Result<(), CharmError> {
    let dispatch = Dispatch::from_env()?;
    let read = |name: &str| {
        let text = std::fs::read_to_string(dispatch.charm_dir.join(name));
        text.map_err(|err| CharmError::CharmFile(format!("{name}: {err}")))
    };
    let model = DependencyModel::from_json(&read("dependencies.json")?)?;
    let mut hooks = KvHooks {
        workload: KvStore::on_this_machine(),
        model,
    };
    if dispatch.is_hook("install") {
        hooks.workload.install(&hooks.pin())?;
        tools.application_version_set(&hooks.pin())?;
        return Ok(tools.status_set(&Status::active(""))?);
    }
    if let Some(event) = upgrade_event(&dispatch, tools)? {
        let charm = CharmVersions::new(read("revision")?.trim(), hooks.pin());
        run_turn(&dispatch, tools, event, charm, &mut hooks)?;
    }
    Ok(())
}

/// The charm's `main`: a failed hook exits non-zero, so that Juju retries it.
pub fn main() -> ExitCode {
    match run(&ProcessHookTools::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ERROR {err}");
            ExitCode::FAILURE
        }
    }
}
