//! The charm a unit runs: its answers to the core (a fake workload, what it reports of itself,
//! its health check) and the one place the harness calls the core.

use std::collections::BTreeMap;

use juju_upgrade::{
    handle_own_and_app, Bag, CharmVersions, ClusterNotReady, DependencyModel, Effect, Event,
    Handled, Input, PeerSnapshot, UpgradeFailed, UpgradeHooks,
};

use crate::cluster::UpgradeRecord;

/// What one unit's charm is for one hook: its revision, its configuration, its workload.
pub(crate) struct Charm<'a> {
    /// The unit.
    pub unit: u32,
    /// The charm revision the agent runs.
    pub revision: u32,
    /// That revision's dependency model.
    pub model: &'a DependencyModel,
    /// The workload version that revision installs.
    pub pin: &'a str,
    /// The installed workload version.
    pub workload: String,
    /// Whether the charm reports its versions (which turns on the rules beyond v0).
    pub reports_versions: bool,
    /// The `pause-after-unit-refresh` setting (`None`: the charm has no such option).
    pub pause: Option<&'a str>,
    /// Why the pre-upgrade health check fails, if it does.
    pub check_failure: Option<&'a str>,
    /// The next workload upgrade fails.
    pub upgrade_fails: bool,
    /// The charm author's hooks run instead of this module's ([`crate::author`]).
    pub author: Option<&'a crate::author::AuthorCharm>,
}

/// What one run of the core on a unit did.
pub(crate) struct Run {
    /// Every effect, in order.
    pub effects: Vec<Effect>,
    /// The workload version after the run.
    pub workload: String,
    /// The workload upgrade (or rollback) the core asked for, if any.
    pub upgraded: Option<UpgradeRecord>,
    /// The stack top in the view the core handed to `upgrade_unit`.
    pub top_at_upgrade: Option<u32>,
    /// The core asked for every unit's bag (the second step of the read).
    pub read_every_unit: bool,
}

/// The charm's hooks while the core runs.
struct Hooks<'a> {
    charm: Charm<'a>,
    upgraded: Option<UpgradeRecord>,
    top_at_upgrade: Option<u32>,
}

impl UpgradeHooks for Hooks<'_> {
    fn dependency_model(&self) -> &DependencyModel {
        self.charm.model
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        match self.charm.check_failure {
            None => Ok(()),
            Some(cause) => Err(ClusterNotReady {
                message: "Pre-upgrade check failed. Cannot upgrade.".into(),
                cause: cause.into(),
                resolution: String::new(),
            }),
        }
    }

    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.top_at_upgrade = view.upgrade_stack().ok().and_then(|stack| stack.top());
        let from = self.charm.workload.clone();
        progress("stopping services..");
        progress("upgrading snap...");
        let fails = self.charm.upgrade_fails;
        self.upgraded = Some(UpgradeRecord {
            unit: self.charm.unit,
            from,
            to: self.charm.pin.to_owned(),
            failed: fails,
        });
        if fails {
            self.charm.workload = "broken".into();
            return Err(UpgradeFailed {
                cause: "Failed to start MySQL server after snap refresh".into(),
            });
        }
        progress("starting services...");
        self.charm.workload = self.charm.pin.to_owned();
        Ok(())
    }

    fn workload_version(&mut self, _: &PeerSnapshot) -> Option<String> {
        Some(self.charm.workload.clone())
    }
}

/// Runs the core for `event` as the charm does: first on its own bag and the application bag
/// (`own_and_app`), then, only if the core asks, with the agent's copies of the other units'
/// bags (`others`). Every call into the core goes through here.
pub(crate) fn run_hook(
    event: &Event,
    own_and_app: PeerSnapshot,
    others: &BTreeMap<u32, Bag>,
    charm: Charm<'_>,
) -> Run {
    if let Some(author) = charm.author {
        return crate::author::run_hook(author, event, own_and_app, others, charm);
    }
    let versions = if charm.reports_versions {
        CharmVersions::new(charm.revision.to_string(), charm.pin)
    } else {
        CharmVersions::default()
    };
    let input = Input::new(*event, own_and_app)
        .with_charm(versions)
        .with_pause_setting(charm.pause.map(str::to_owned));
    let mut hooks = Hooks {
        charm,
        upgraded: None,
        top_at_upgrade: None,
    };
    let mut effects = Vec::new();
    let Ok(handled) = handle_own_and_app(input, &mut hooks, &mut effects);
    let read_every_unit = match handled {
        Handled::Done(_) => false,
        Handled::NeedsEveryUnit(pending) => {
            let others = others.iter().map(|(&other, bag)| (other, bag.clone()));
            let Ok(_) = pending.complete(others, &mut hooks, &mut effects);
            true
        }
    };
    Run {
        effects,
        workload: hooks.charm.workload,
        upgraded: hooks.upgraded,
        top_at_upgrade: hooks.top_at_upgrade,
        read_every_unit,
    }
}
