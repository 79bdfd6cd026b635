//! What the charm hands the core for one event.

use crate::machine::Event;
use crate::snapshot::PeerSnapshot;
use crate::versions::CharmVersions;

/// The inputs of one turn: the event, this unit's view of the peer relation, the charm it runs
/// and its configuration. Nothing else reaches the decision: the same input gives the same
/// effects.
///
/// # Calling protocol
///
/// One event on one unit is one turn:
///
/// 1. Read this unit's bag and the application bag ([`PeerSnapshot::own_and_app`]) and build
///    an `Input` with the charm's versions ([`Input::with_charm`]) and its
///    `pause-after-unit-refresh` value ([`Input::with_pause_setting`]).
/// 2. Call [`crate::handle_own_and_app`] with the charm's [`crate::UpgradeHooks`] and an
///    [`crate::EffectSink`] that performs each effect with a hook tool as it arrives.
/// 3. On [`crate::Handled::NeedsEveryUnit`], nothing was done yet: read the bags of
///    [`crate::Pending::units_to_read`] and call [`crate::Pending::complete`].
/// 4. The [`crate::Outcome`] says what the turn left: the bags after it, whether this unit
///    went back to `idle`, the action's result. A sink error instead stops the turn before the
///    workload is touched: fail the hook, so Juju discards its bag writes and retries it.
///
/// A charm that reads every bag anyway calls [`crate::handle`] with a view of every unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The event being handled.
    pub event: Event,
    /// This unit's view of the peer relation at the start of the event.
    pub view: PeerSnapshot,
    /// What the running charm is: its revision and the workload version it pins. Empty (the
    /// default, [`CharmVersions::is_reported`] false) keeps v0's behaviour exactly; reporting
    /// it turns on automatic rollback detection, the exact rollback command in statuses, the
    /// application status, a refresh without `pre-upgrade-check` that blocks and waits for it,
    /// and a second refresh mid-upgrade that takes every unit to the newest revision.
    pub charm: CharmVersions,
    /// The operator's `pause-after-unit-refresh` config value (`all`, `first` or `none`), as
    /// set; `None` when the charm has no such option: the upgrade never pauses.
    pub pause_after_unit_refresh: Option<String>,
}

impl Input {
    /// `event` on `view`, from a charm that reports no versions and has no pause option.
    pub fn new(event: Event, view: PeerSnapshot) -> Self {
        Input {
            event,
            view,
            charm: CharmVersions::default(),
            pause_after_unit_refresh: None,
        }
    }

    /// Reports the charm this unit runs (see [`Input::charm`]).
    pub fn with_charm(mut self, charm: CharmVersions) -> Self {
        self.charm = charm;
        self
    }

    /// Sets the `pause-after-unit-refresh` value (see [`Input::pause_after_unit_refresh`]).
    pub fn with_pause_setting(mut self, setting: Option<String>) -> Self {
        self.pause_after_unit_refresh = setting;
        self
    }
}
