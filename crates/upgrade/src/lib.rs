//! Sans-IO core for safe in-place upgrades and rollbacks of stateful Juju applications.
//!
//! A charm embeds this crate to coordinate `juju refresh` across its units: one unit at a time,
//! in an order the charm chooses, pausing on the first failure until the operator rolls back.
//! It is behaviourally compatible with the `upgrade` library v0 of canonical/data-platform-libs
//! (VM substrate) as Charmed MySQL uses it: the same peer data, states, order and messages.
//!
//! The core does no I/O. For each event the charm builds an [`Input`] (the event, a
//! [`PeerSnapshot`] of the upgrade peer relation, the charm it runs and its pause setting) and
//! calls [`handle_own_and_app`] (or [`handle`]); the core decides and emits [`Effect`]s (bag
//! writes, statuses, logs, action results) to an [`EffectSink`] as it goes, and returns an
//! [`Outcome`]. The charm performs the effects with hook tools; a sink error stops the turn
//! before the workload is touched. Work on the workload (health checks, package upgrades) is
//! the charm's, through the [`UpgradeHooks`] trait. [`Input`] documents the calling protocol.
//!
//! # Reading the peer relation in two steps
//!
//! Every bag read is a hook-tool call, and Juju runs `upgrade-relation-changed` on every unit
//! for every change of a unit's bag, so reading every bag in every hook costs n^3 calls over a
//! rollout (v0 does). Most of those hooks run on a unit that only waits its turn, which its
//! own bag and the application bag (stack, round, target) already show. So a charm reads
//! those two first ([`PeerSnapshot::own_and_app`]) and calls [`handle_own_and_app`]; it gets
//! [`Handled::NeedsEveryUnit`] back (nothing done, nothing emitted) only on the leader, for
//! actions, and when a rule the unit reaches needs another unit's bag (it is on top of the
//! stack, or finishing a round); then it reads the others and calls [`Pending::complete`]. A
//! typed accessor never guesses an unread bag ([`SnapshotError::NotRead`]), and nothing
//! touches the workload on a partial view ([`PeerSnapshot::require_every_unit`]). A waiting
//! unit then makes the same calls whatever the number of units; a rollout's reads grow as
//! n^2, as its hooks do.
//!
//! # The protocol
//!
//! "v0" below is data-platform-libs' `upgrade` library, LIBAPI 0, the Python library Charmed
//! MySQL runs its upgrades with; this core reads and writes the same peer data. Every key is
//! listed in [`wire`], with its bag, its writer and when it is cleared.
//!
//! - Unit bag `state` ([`UnitState`]): `idle`, `ready`, `upgrading`, `completed`, `failed`,
//!   `recovery`. The cluster state ([`cluster_state`]) is the worst of them.
//! - App bag `upgrade-stack` ([`UpgradeStack`]): unit numbers; the last one upgrades next.
//!   `dependencies` ([`DependencyModel`]): the deployed revision's versions.
//! - `pre-upgrade-check` (leader): checks health, writes the stack; after a failure it enters
//!   recovery instead, putting the already upgraded units back under the failed one.
//! - `upgrade-charm`: the leader checks version compatibility ([`check_upgrade`]); each unit
//!   becomes `ready`. The top unit upgrades when every unit is ready; the leader pops it when
//!   it completes; when the stack is empty everyone returns to `idle`.
//!
//! # Beyond v0
//!
//! - After each of its own writes a unit re-evaluates at once (Juju never tells a unit about
//!   its own writes), so the last unit to become ready does not wait forever.
//! - An upgrade round ([`wire::ROUND_KEY`]) keeps a `completed` left over from an aborted round from
//!   being taken for a finished rollback.
//! - Invalid peer data blocks the unit with a message naming it, and is never guessed at.
//! - `leader-elected` ([`Event::LeaderElected`]) lets a new leader take over at once.
//!
//! # When the charm reports its versions
//!
//! A charm whose [`Input::charm`] reports its build ([`CharmVersions`]: its revision and the
//! workload version it pins) gets what the newer charm-refresh library offers, on v0's data
//! and flow. A charm that reports nothing keeps v0's behaviour exactly. The exact texts are in
//! [`messages`].
//!
//! - **Versions recorded.** Each unit records the charm it runs ([`wire::CHARM_VERSIONS_KEY`]); the
//!   leader records what a rollback returns to ([`wire::ORIGINAL_VERSIONS_KEY`]: at deployment, at
//!   `pre-upgrade-check`, at the first refresh it sees, and after each completed upgrade) and
//!   what the current round moves to ([`wire::UPGRADE_TARGET_KEY`]). A unit upgrades only with the
//!   charm its round targets, so none changes its workload with a charm about to be replaced.
//! - **Automatic rollback.** `juju refresh` back to the original versions while an upgrade is
//!   under way or failed is a rollback: the leader enters recovery by itself (new round, the
//!   stack repaired so the failed unit rolls back first and the units already upgraded follow),
//!   skips the compatibility check, and units roll back one at a time. No `pre-upgrade-check`
//!   is needed; run anyway, it reports the rollback and changes nothing. A failure during the
//!   rollback stops it; `pre-upgrade-check` then recovers it as in v0.
//! - **A second refresh mid-upgrade** (to neither the original nor the round's target): the
//!   leader starts a new round with every unit back in the stack and checks compatibility
//!   again; every unit goes to the newest revision, one at a time. Nobody returns to `idle`
//!   while a unit still runs an older charm.
//! - **A refresh nobody prepared** (no stack, every unit idle; v0 logs and does nothing): the
//!   unit records it ([`wire::REFRESH_PENDING_KEY`]), blocks with the exact next command, and joins
//!   on its own once `pre-upgrade-check` writes the stack, also when the refresh raced a
//!   `pre-upgrade-check` still running. Refreshing back forgets it.
//! - **Pause and resume.** With `pause-after-unit-refresh` ([`PauseAfterUnitRefresh`]: `all`,
//!   `first`, `none`; an invalid value blocks the application and pauses like `all`), the next
//!   unit waits until the operator runs `resume-upgrade` ([`Event::ResumeUpgrade`]) on it; it
//!   records the approval ([`wire::RESUMED_ROUND_KEY`]) and upgrades inside the action. A rollback
//!   (recovery entered by `pre-upgrade-check`, or an automatic one; [`wire::ROLLBACK_ROUND_KEY`])
//!   pauses only with `all`: it returns to the revision known to work, and the operator's
//!   how-to promises it completes after `juju refresh` with no further command.
//! - **Forced start.** `force-upgrade` ([`Event::ForceUpgrade`]) moves the unit a check blocks,
//!   naming each check to skip: the compatibility check (the leader, failed at
//!   `upgrade-charm`; [`wire::COMPATIBILITY_SKIPPED_KEY`]), the pre-upgrade check (the leader, upgrade
//!   not prepared), the health check (a failed unit accepted as upgraded). It refuses when
//!   nothing is skipped, when the skip does not match what blocks the unit, and on a unit
//!   nothing blocks; every skip is logged.
//! - **The application status** (leader): what to do next, with the exact rollback command
//!   ([`rollback_command`]) while an upgrade is under way; active when nothing is.
//! - **Leader changes and retried hooks.** Every decision reads the bags only, so the same
//!   inputs give the same effects, and a leader elected mid-round takes it over: if it received
//!   its charm during this upgrade ([`wire::REFRESH_ROUND_KEY`]: this round, or an earlier one unless
//!   the round is a rollback or its charm is the original) and the round does not target it
//!   yet, it does what the old leader would have done at `upgrade-charm`, also once the stack
//!   has emptied. A leader restarting a round lets the next unit go first when the top had
//!   completed ([`wire::REFRESHED_AFTER_COMPLETING_KEY`]): the old leader may have popped it and
//!   started the next unit in a hook that has not committed.
//!
//! # Example: a charm embedding the core
//!
//! ```
//! use juju_upgrade::{
//!     handle, ClusterNotReady, DependencyModel, Effect, Event, Input, PeerSnapshot,
//!     UpgradeFailed, UpgradeHooks,
//! };
//!
//! /// The charm's side: its shipped versions and its workload.
//! struct MyCharm {
//!     dependencies: DependencyModel,
//!     installed: String,
//! }
//!
//! impl UpgradeHooks for MyCharm {
//!     fn dependency_model(&self) -> &DependencyModel {
//!         &self.dependencies
//!     }
//!
//!     fn pre_upgrade_check(&mut self, _view: &PeerSnapshot) -> Result<(), ClusterNotReady> {
//!         Ok(()) // e.g. every member online
//!     }
//!
//!     fn upgrade_unit(
//!         &mut self,
//!         _view: &PeerSnapshot,
//!         progress: &mut dyn FnMut(&str),
//!     ) -> Result<(), UpgradeFailed> {
//!         progress("upgrading snap...");
//!         self.installed = "8.0.34".into(); // e.g. snap refresh, restart, rejoin
//!         Ok(())
//!     }
//! }
//!
//! let mut charm = MyCharm {
//!     dependencies: DependencyModel::from_json(
//!         r#"{"snap": {"name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.34"}}"#,
//!     )?,
//!     installed: "8.0.33".into(),
//! };
//!
//! // `upgrade-charm` on mysql/1: the charm reads the peer relation into a snapshot.
//! // Unit 0 is already ready and unit 1 is on top of the stack.
//! let mut view = PeerSnapshot::new("mysql", 1, false);
//! view.units.insert(0);
//! view.unit_bags.entry(0).or_default().insert("state".into(), "ready".into());
//! view.unit_bags.entry(1).or_default().insert("state".into(), "idle".into());
//! view.app_bag.insert("upgrade-stack".into(), "[0, 1]".into());
//!
//! // A real charm performs each effect as it arrives (its own `EffectSink`, whose error
//! // stops the turn): relation-set, status-set, juju-log, action-set/-fail,
//! // application-version-set. A `Vec` records them and never fails.
//! let mut effects: Vec<Effect> = Vec::new();
//! let Ok(outcome) = handle(Input::new(Event::UpgradeCharm, view), &mut charm, &mut effects);
//!
//! let states: Vec<&str> = effects
//!     .iter()
//!     .filter_map(|effect| match effect {
//!         Effect::SetUnit { key, value } if key == "state" => Some(value.as_str()),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(states, ["ready", "upgrading", "completed"]);
//! assert_eq!(outcome.own_bag["state"], "completed");
//! assert_eq!(charm.installed, "8.0.34");
//! # Ok::<(), juju_upgrade::DependencyError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod dependency;
mod effect;
mod error;
mod hooks;
mod input;
mod machine;
pub mod messages;
mod outcome;
mod pause;
mod snapshot;
mod stack;
mod state;
mod versions;
pub mod wire;

pub use dependency::{
    check_upgrade, parse_version, verify_requirements, Dependency, DependencyModel,
    RangeCheckError, Requirement,
};
pub use effect::{Effect, EffectSink, LogLevel, Status, StatusKind};
pub use error::{
    ClusterNotReady, DependencyError, RequirementError, SnapshotError, StackError, UnknownState,
    UpgradeFailed, VersionIncompatible, VersionParseError,
};
pub use hooks::UpgradeHooks;
pub use input::Input;
pub use machine::{
    handle, handle_own_and_app, needs_every_unit, no_relation, Event, Handled, Pending,
};
pub use outcome::{ActionOutcome, Outcome};
pub use pause::{InvalidPauseSetting, PauseAfterUnitRefresh, PAUSE_OPTION};
pub use snapshot::{unit_number, Bag, PeerScope, PeerSnapshot};
pub use stack::UpgradeStack;
pub use state::{cluster_state, UnitState};
pub use versions::{rollback_command, CharmVersions};
