//! The charm a unit runs: its answers to the core (a fake workload, what it reports of itself,
//! its health check) and the one place the harness calls the core.

use juju_upgrade::{
    handle_own_and_app, CacheHook, CharmVersions, ClusterNotReady, DependencyModel, Effect, Event,
    Handled, Input, OtherBags, PeerCache, PeerSnapshot, UpgradeFailed, UpgradeHooks,
};

use crate::cluster::UpgradeRecord;
use crate::violation::Violation;

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
    /// Other units' bags read then (those the peer cache stood for not counted).
    pub others_read: u64,
    /// The peer cache was used and differed from the agent's copies.
    pub cache_lied: Option<Violation>,
    /// The peer cache the hook leaves for the next one, if it writes one.
    pub store_cache: Option<PeerCache>,
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
/// (`own_and_app`), then, only if the core asks, with the other units' bags (`others`: from
/// the charm's peer cache or the agent's copies, see [`crate::peer_cache::other_bags`]) for a
/// hook that does `hook` to the agent's copies. Every call into the core goes through
/// [`run_core`].
pub(crate) fn run_hook(
    event: &Event,
    own_and_app: PeerSnapshot,
    hook: CacheHook,
    others: impl FnOnce(CacheHook) -> (OtherBags, Option<Violation>),
    charm: Charm<'_>,
) -> Run {
    if let Some(author) = charm.author {
        return crate::author::run_hook(author, event, own_and_app, hook, others, charm);
    }
    let input = charm_input(event, own_and_app, &charm);
    let mut hooks = Hooks {
        charm,
        upgraded: None,
        top_at_upgrade: None,
    };
    let mut run = run_core(input, &mut hooks, hook, others);
    run.workload = hooks.charm.workload;
    run.upgraded = hooks.upgraded;
    run.top_at_upgrade = hooks.top_at_upgrade;
    run
}

/// The core's input for `event` on the charm `charm` runs, as the charm builds it.
pub(crate) fn charm_input(event: &Event, own_and_app: PeerSnapshot, charm: &Charm<'_>) -> Input {
    let versions = if charm.reports_versions {
        CharmVersions::new(charm.revision.to_string(), charm.pin)
    } else {
        CharmVersions::default()
    };
    Input::new(*event, own_and_app)
        .with_charm(versions)
        .with_pause_setting(charm.pause.map(str::to_owned))
}

/// One turn of the core with `hooks`: decided from the two bags when they suffice, else
/// completed with the other units' bags from `others` (the peer cache's reads and any lie
/// it told recorded). The workload fields of the returned [`Run`] are left for the caller.
pub(crate) fn run_core<H: UpgradeHooks>(
    input: Input,
    hooks: &mut H,
    hook: CacheHook,
    others: impl FnOnce(CacheHook) -> (OtherBags, Option<Violation>),
) -> Run {
    let mut effects = Vec::new();
    let Ok(handled) = handle_own_and_app(input, hooks, &mut effects);
    let mut run = Run {
        effects: Vec::new(),
        workload: String::new(),
        upgraded: None,
        top_at_upgrade: None,
        read_every_unit: false,
        others_read: 0,
        cache_lied: None,
        store_cache: None,
    };
    if let Handled::NeedsEveryUnit(pending) = handled {
        let (got, lied) = others(hook);
        let Ok(_) = pending.complete(got.bags.clone(), hooks, &mut effects);
        run.read_every_unit = true;
        run.others_read = got.read.len() as u64;
        run.cache_lied = lied;
        if hook != CacheHook::Keeps || got.changed() {
            run.store_cache = Some(got.cache);
        }
    }
    run.effects = effects;
    run
}

/// Whether a unit running `revision` (pinning `pin`) whose own bag `own_and_app` holds got its
/// charm without `upgrade-charm`, as the charm checks at a hook outside the upgrade relation.
/// Unreadable data is left for the core to report at the next upgrade event.
pub(crate) fn missed_upgrade_charm(own_and_app: &PeerSnapshot, revision: u32, pin: &str) -> bool {
    let runs = CharmVersions::new(revision.to_string(), pin);
    juju_upgrade::missed_upgrade_charm(own_and_app, &runs).unwrap_or(false)
}
