//! The charm's side of the upgrade: [`KvHooks`], the core's `UpgradeHooks` over any
//! [`Workload`]. With `src/main.rs` (the dispatch), this is the glue the README counts.

use juju_upgrade::{ClusterNotReady, DependencyModel, PeerSnapshot, UpgradeFailed, UpgradeHooks};

use crate::kv::Workload;

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
