//! The decision logic: given an event and this unit's view of the peer relation, decide what
//! this unit does.
//!
//! The rules are v0's (`DataUpgrade` in data-platform-libs, VM substrate), with robustness
//! rules added:
//!
//! - after every write of this unit's own state (and every stack pop by the leader) the
//!   relation-changed rules run again on the updated view, because Juju never tells a unit about
//!   its own writes: the top unit that is the last to become `ready` still starts, the leader
//!   continues after popping the stack or finishing its own upgrade (v0's recursion), bounded;
//! - a `completed` counts for the leader's pop only if it belongs to the current upgrade round
//!   ([`ROUND_KEY`]), so units that a recovery puts back into the stack, still marked
//!   `completed` from the aborted round, roll back before they are popped (v0 can pop them
//!   unrolled-back when the leader evaluates before they run `upgrade-charm`);
//! - peer data that does not parse (unknown state, bad stack, bad dependencies) is never
//!   guessed at: nothing is written, the unit is blocked with a status naming the problem.
//!
//! Who upgrades next is one rule, in `grant`. What the core does when the charm reports its
//! versions lives in the other submodules, one concept each: `refresh` (what a `juju refresh`
//! means: a rollback, a second refresh mid-upgrade, or a refresh no `pre-upgrade-check`
//! prepared), `resume` (`pause-after-unit-refresh` and `resume-upgrade`), `force`
//! (`force-upgrade` and its named skips) and `app_status` (what the leader tells the operator
//! to do next).

use std::fmt;

use crate::dependency::check_upgrade;
use crate::effect::{Effect, EffectSink, LogLevel, Status};
use crate::error::{SnapshotError, StackError};
use crate::hooks::UpgradeHooks;
use crate::input::Input;
use crate::messages;
use crate::outcome::{ActionOutcome, Outcome};
use crate::snapshot::{Bag, PeerScope, PeerSnapshot};
use crate::stack::UpgradeStack;
use crate::state::UnitState;
use crate::versions::{rollback_command, CharmVersions};
use crate::wire::{
    CHARM_VERSIONS_KEY, COMPATIBILITY_SKIPPED_KEY, DEPENDENCIES_KEY, ORIGINAL_VERSIONS_KEY,
    RESULT_KEY, RESUMED_ROUND_KEY, ROLLBACK_REFRESH_PENDING_KEY, ROUND_KEY, STACK_KEY, STATE_KEY,
    UPGRADE_TARGET_KEY,
};

mod app_status;
mod code_swap;
mod force;
mod grant;
mod refresh;
mod resume;

pub use code_swap::missed_upgrade_charm;
use grant::{grant, Grant};

/// The Juju event the charm is handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// `<upgrade relation>-relation-created`: the unit joins the upgrade protocol.
    RelationCreated,
    /// The `pre-upgrade-check` action (prepare an upgrade, or enter recovery after a failure).
    PreUpgradeCheck,
    /// `upgrade-charm`, fired on every unit by `juju refresh`.
    UpgradeCharm,
    /// `<upgrade relation>-relation-changed`: another unit or the leader wrote peer data.
    RelationChanged,
    /// `leader-elected`: this unit just became leader and takes over the leader's duties
    /// (popping a completed top) that the old leader may have left undone.
    LeaderElected,
    /// `<upgrade relation>-relation-departed`: a unit left the application; the leader drops it
    /// from the stack so that the upgrade goes on without it.
    RelationDeparted,
    /// `config-changed`: the operator may have changed `pause-after-unit-refresh`, so the next
    /// unit re-evaluates whether it waits (e.g. `all` to `none` lets the upgrade go on).
    ConfigChanged,
    /// The `resume-upgrade` action, run on the next unit to upgrade while the upgrade is paused
    /// by `pause-after-unit-refresh`: that unit upgrades now.
    ResumeUpgrade,
    /// The `force-upgrade` action, run on the unit a check blocks: goes on without the checks
    /// named here. At least one must be `true`; each risks data loss or downtime.
    ForceUpgrade {
        /// Go on although the new charm's dependency model does not support upgrading from the
        /// deployed versions (the leader's check at `upgrade-charm`).
        skip_compatibility_check: bool,
        /// Prepare the upgrade without the charm's pre-upgrade health check (on the leader,
        /// before or after a `juju refresh` that no `pre-upgrade-check` prepared).
        skip_pre_upgrade_check: bool,
        /// Accept this failed unit as upgraded although its upgrade or its health check
        /// failed: the operator checked the unit by hand. The next unit goes.
        skip_health_check: bool,
    },
}

impl Event {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Event::RelationCreated => "upgrade-relation-created",
            Event::PreUpgradeCheck => "pre-upgrade-check action",
            Event::UpgradeCharm => "upgrade-charm",
            Event::RelationChanged => "upgrade-relation-changed",
            Event::LeaderElected => "leader-elected",
            Event::RelationDeparted => "upgrade-relation-departed",
            Event::ConfigChanged => "config-changed",
            Event::ResumeUpgrade => "resume-upgrade action",
            Event::ForceUpgrade { .. } => "force-upgrade action",
        }
    }

    /// Whether the event is an action (it ends in an action result or failure).
    pub fn is_action(self) -> bool {
        matches!(
            self,
            Event::PreUpgradeCheck | Event::ResumeUpgrade | Event::ForceUpgrade { .. }
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Handles one event on one unit from a view of every unit's bag, emitting effects to `sink`
/// in the order they are decided, and says what the event left ([`Outcome`]).
///
/// Never panics on bad peer data: corrupt data yields a blocked status, an error log and (for
/// an action) an action failure, and no writes. A [`PeerScope::OwnAndApp`] view is refused as
/// unreadable data here; see [`handle_own_and_app`] for the two-step read.
///
/// A sink error stops the turn: nothing more goes to the sink, the workload is not touched
/// after it ([`UpgradeHooks::upgrade_unit`] and [`UpgradeHooks::pre_upgrade_check`] are not
/// called), and the error is returned. The charm then fails the hook, so Juju discards its
/// bag writes and runs it again.
pub fn handle<H, S>(input: Input, hooks: &mut H, sink: &mut S) -> Result<Outcome, S::Error>
where
    H: UpgradeHooks,
    S: EffectSink + ?Sized,
{
    let event = input.event;
    let mut turn = Turn::new(input, sink);
    match turn.run(&event, hooks) {
        Ok(()) => {}
        Err(Stop::Data(err)) => turn.refuse_invalid_data(&event, &err),
        Err(Stop::Sink) => {}
    }
    turn.finish_turn()
}

/// What [`handle_own_and_app`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a unit that needs every unit's bag has not handled the event yet"]
pub enum Handled {
    /// The event is handled; its effects went to the sink.
    Done(Outcome),
    /// Nothing was done and nothing went to the sink: the decision needs the other units'
    /// bags. Read them and [`Pending::complete`] the event.
    NeedsEveryUnit(Pending),
}

/// An event that [`handle_own_and_app`] could not decide from this unit's bag and the
/// application bag: it waits for the other units' bags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "the event is not handled until it is completed"]
pub struct Pending {
    input: Input,
}

impl Pending {
    /// The partial view the event was tried on: which units to read
    /// ([`PeerSnapshot::app_units`] but this one).
    pub fn view(&self) -> &PeerSnapshot {
        &self.input.view
    }

    /// The units whose bags [`Self::complete`] needs: every unit of the application but this
    /// one.
    pub fn units_to_read(&self) -> Vec<u32> {
        let view = &self.input.view;
        view.app_units()
            .into_iter()
            .filter(|&unit| unit != view.unit)
            .collect()
    }

    /// Handles the event on the view completed with the other units' bags (`bags`, as
    /// [`PeerSnapshot::with_other_bags`] takes them), as [`handle`] does.
    pub fn complete<H, S>(
        self,
        bags: impl IntoIterator<Item = (u32, Bag)>,
        hooks: &mut H,
        sink: &mut S,
    ) -> Result<Outcome, S::Error>
    where
        H: UpgradeHooks,
        S: EffectSink + ?Sized,
    {
        let mut input = self.input;
        input.view = input.view.with_other_bags(bags);
        handle(input, hooks, sink)
    }

    /// The input, to read the other bags into its view another way and [`handle`] it.
    pub fn into_input(self) -> Input {
        self.input
    }
}

/// Whether `event` on a unit whose own bag and application bag `view` holds is decided from
/// every unit's bag without trying the partial view first: on the leader (it pops the stack,
/// sets the application status and ends rounds from every unit's state) and for actions.
pub fn needs_every_unit(event: &Event, view: &PeerSnapshot) -> bool {
    view.is_leader || event.is_action()
}

/// Handles one event from a view that may hold only this unit's bag and the application bag
/// ([`PeerScope::OwnAndApp`]), so that a unit waiting its turn reads two bags, not one per unit.
///
/// The event is decided on the partial view; the effects are held back until the decision is
/// complete. If any rule needed another unit's bag ([`SnapshotError::NotRead`]), or the data is
/// unreadable, the held effects are dropped, no workload hook ran (the core requires every
/// unit's bag before [`UpgradeHooks::upgrade_unit`]), and the event comes back as
/// [`Handled::NeedsEveryUnit`]. Otherwise the effects are exactly those [`handle`] would emit on
/// the full view, but for what a unit that is only waiting says about the others: it does not
/// set "other units upgrading first..." when it sees another unit upgrading (its
/// `upgrade-charm` set it already), nor log at debug level that the cluster failed or is in
/// recovery. A view of every unit is handled at once.
pub fn handle_own_and_app<H, S>(
    input: Input,
    hooks: &mut H,
    sink: &mut S,
) -> Result<Handled, S::Error>
where
    H: UpgradeHooks,
    S: EffectSink + ?Sized,
{
    if input.view.scope == PeerScope::EveryUnit {
        return handle(input, hooks, sink).map(Handled::Done);
    }
    if needs_every_unit(&input.event, &input.view) {
        return Ok(Handled::NeedsEveryUnit(Pending { input }));
    }
    let event = input.event;
    let mut held: Vec<Effect> = Vec::new();
    let mut turn = Turn::new(input.clone(), &mut held);
    if turn.run(&event, hooks).is_err() {
        return Ok(Handled::NeedsEveryUnit(Pending { input }));
    }
    let Ok(outcome) = turn.finish_turn();
    for effect in held {
        sink.apply(effect)?;
    }
    Ok(Handled::Done(outcome))
}

/// What to do when the charm has no upgrade peer relation (yet): v0 fails the action with
/// "Could not find upgrade relation." and otherwise does nothing.
pub fn no_relation<S: EffectSink + ?Sized>(event: &Event, sink: &mut S) -> Result<(), S::Error> {
    match event {
        event if event.is_action() => {
            sink.apply(Effect::ActionFail(messages::NO_RELATION.to_owned()))
        }
        _ => sink.apply(Effect::Log {
            level: LogLevel::Warning,
            message: format!("upgrade relation not found; nothing to do for {event}"),
        }),
    }
}

/// Why a turn ended early.
#[derive(Debug)]
enum Stop {
    /// Peer data that does not parse, or a bag that was not read.
    Data(SnapshotError),
    /// The sink refused an effect; the error is kept in the turn.
    Sink,
}

impl From<SnapshotError> for Stop {
    fn from(err: SnapshotError) -> Self {
        Stop::Data(err)
    }
}

impl From<StackError> for Stop {
    fn from(err: StackError) -> Self {
        Stop::Data(err.into())
    }
}

/// One unit handling one event: the view it updates with its own writes, and the sink.
struct Turn<'s, S: EffectSink + ?Sized> {
    view: PeerSnapshot,
    sink: &'s mut S,
    /// The first error of the sink: nothing more is emitted, and the workload is not touched.
    stopped: Option<S::Error>,
    /// This unit's bag and the application bag as read, for the outcome.
    own_bag_read: Bag,
    app_bag_read: Bag,
    /// The bag writes emitted, in order (a key set to "" is deleted).
    unit_writes: Bag,
    app_writes: Bag,
    /// The last `state` this unit wrote.
    last_state_written: Option<String>,
    /// The last unit status emitted in this turn, to avoid repeating it on re-evaluation.
    last_status: Option<Status>,
    /// The last application status emitted in this turn.
    last_app_status: Option<Status>,
    /// Action results emitted, and the action failure if any.
    action_results: Bag,
    action_failure: Option<String>,
    is_action: bool,
    /// What the running charm reports about itself; empty keeps v0's behaviour.
    this_charm: CharmVersions,
    /// The `pause-after-unit-refresh` config value, if the charm has the option.
    pause_setting: Option<String>,
    /// The versions this unit's bag recorded before this event (at `upgrade-charm`: the
    /// charm it ran before the refresh).
    previous_versions: Option<CharmVersions>,
}

fn apply_to_bag(bag: &mut Bag, key: &str, value: &str) {
    if value.is_empty() {
        bag.remove(key);
    } else {
        bag.insert(key.to_owned(), value.to_owned());
    }
}

impl<'s, S: EffectSink + ?Sized> Turn<'s, S> {
    fn new(input: Input, sink: &'s mut S) -> Self {
        let Input {
            event,
            mut view,
            charm,
            pause_after_unit_refresh,
        } = input;
        view.units.insert(view.unit);
        let own_bag_read = view.unit_bags.get(&view.unit).cloned().unwrap_or_default();
        let app_bag_read = view.app_bag.clone();
        Turn {
            view,
            sink,
            stopped: None,
            own_bag_read,
            app_bag_read,
            unit_writes: Bag::new(),
            app_writes: Bag::new(),
            last_state_written: None,
            last_status: None,
            last_app_status: None,
            action_results: Bag::new(),
            action_failure: None,
            is_action: event.is_action(),
            this_charm: charm,
            pause_setting: pause_after_unit_refresh,
            previous_versions: None,
        }
    }

    /// Decides `event`; an error is unreadable (or unread) data, and what was emitted before it
    /// must not count, or a sink that failed.
    fn run<H: UpgradeHooks>(&mut self, event: &Event, hooks: &mut H) -> Result<(), Stop> {
        if *event == Event::PreUpgradeCheck && !self.view.is_leader {
            self.emit(Effect::ActionFail(messages::LEADER_ONLY.to_owned()));
            return self.go_on();
        }
        let departed = self.skip_departed_units();
        self.view.validate()?;
        self.drop_departed_units(&departed);
        self.record_own_versions()?;
        if self.catch_up_on_missed_upgrade_charm(event, hooks)? && !event.is_action() {
            // `upgrade-charm`'s rules settled already; a new leader still takes over.
            if *event == Event::LeaderElected {
                self.leader_elected(hooks)?;
            }
            self.publish_app_status(hooks)?;
            return self.go_on();
        }
        match *event {
            Event::RelationCreated => self.relation_created(hooks),
            Event::PreUpgradeCheck => self.pre_upgrade_check(hooks),
            Event::UpgradeCharm => self.upgrade_charm(hooks),
            Event::RelationChanged | Event::RelationDeparted | Event::ConfigChanged => {
                self.settle(hooks)
            }
            Event::LeaderElected => self.leader_elected(hooks),
            Event::ResumeUpgrade => self.resume_upgrade(hooks),
            Event::ForceUpgrade {
                skip_compatibility_check,
                skip_pre_upgrade_check,
                skip_health_check,
            } => self.force_upgrade(
                hooks,
                force::Skips {
                    compatibility_check: skip_compatibility_check,
                    pre_upgrade_check: skip_pre_upgrade_check,
                    health_check: skip_health_check,
                },
            ),
        }?;
        self.publish_app_status(hooks)?;
        self.go_on()
    }

    /// An error once the sink has failed: the turn goes no further.
    fn go_on(&self) -> Result<(), Stop> {
        match self.stopped {
            Some(_) => Err(Stop::Sink),
            None => Ok(()),
        }
    }

    /// The outcome of the turn, or the sink's first error.
    fn finish_turn(self) -> Result<Outcome, S::Error> {
        if let Some(err) = self.stopped {
            return Err(err);
        }
        let mut own_bag = self.own_bag_read;
        for (key, value) in &self.unit_writes {
            apply_to_bag(&mut own_bag, key, value);
        }
        let mut app_bag = self.app_bag_read;
        for (key, value) in &self.app_writes {
            apply_to_bag(&mut app_bag, key, value);
        }
        let ended = match self.action_failure {
            Some(message) => ActionOutcome::Failed(message),
            None => ActionOutcome::Succeeded(self.action_results),
        };
        let action = self.is_action.then_some(ended);
        Ok(Outcome {
            app: self.view.app,
            unit: self.view.unit,
            is_leader: self.view.is_leader,
            own_bag,
            app_bag,
            became_idle: self.last_state_written.as_deref() == Some(UnitState::Idle.as_str()),
            action,
            unit_status: self.last_status,
        })
    }

    /// Whether the charm reported its versions, which turns on the rules beyond v0.
    fn reports_versions(&self) -> bool {
        self.this_charm.is_reported()
    }

    /// The charm this unit runs, as the grant rule takes it: `None` when not reported.
    fn runs(&self) -> Option<&CharmVersions> {
        self.reports_versions().then_some(&self.this_charm)
    }

    /// [`grant`] for `unit` with this turn's pause setting: for this unit, the charm handling
    /// the event; for another, the charm its bag records.
    fn grant_for(&self, unit: u32) -> Result<Grant, Stop> {
        let recorded;
        let runs = if unit == self.view.unit {
            self.runs()
        } else {
            recorded = self.view.unit_charm_versions(unit)?;
            recorded.as_ref()
        };
        Ok(grant(
            &self.view,
            unit,
            runs,
            self.pause_setting.as_deref(),
        )?)
    }

    /// The exact command rolling the application back to its original versions.
    fn rollback_command(&self) -> Result<String, Stop> {
        Ok(rollback_command(
            &self.view.app,
            self.view.original_versions()?.as_ref(),
        ))
    }

    /// Beyond v0: this unit's bag records the charm it runs (remembering the previous one).
    fn record_own_versions(&mut self) -> Result<(), Stop> {
        if !self.reports_versions() {
            return Ok(());
        }
        self.previous_versions = self.view.unit_charm_versions(self.view.unit)?;
        if self.previous_versions.as_ref() != Some(&self.this_charm) {
            let recorded = self.this_charm.to_json();
            self.emit(Effect::SetUnit {
                key: CHARM_VERSIONS_KEY.to_owned(),
                value: recorded,
            });
        }
        Ok(())
    }

    /// Emits an effect, applying bag writes to the view so later rules see them. After the
    /// sink failed once, nothing more is emitted.
    fn emit(&mut self, effect: Effect) {
        if self.stopped.is_some() {
            return;
        }
        match &effect {
            Effect::SetUnit { key, value } => {
                let own_bag = self.view.unit_bags.entry(self.view.unit).or_default();
                apply_to_bag(own_bag, key, value);
                self.unit_writes.insert(key.clone(), value.clone());
                if key == STATE_KEY {
                    self.last_state_written = Some(value.clone());
                }
            }
            Effect::SetApp { key, value } => {
                apply_to_bag(&mut self.view.app_bag, key, value);
                self.app_writes.insert(key.clone(), value.clone());
            }
            Effect::UnitStatus(status) => {
                if self.last_status.as_ref() == Some(status) {
                    return;
                }
                self.last_status = Some(status.clone());
            }
            Effect::AppStatus(status) => {
                if self.last_app_status.as_ref() == Some(status) {
                    return;
                }
                self.last_app_status = Some(status.clone());
            }
            Effect::ActionResult { key, value } => {
                self.action_results.insert(key.clone(), value.clone());
            }
            Effect::ActionFail(message) => {
                self.action_failure.get_or_insert_with(|| message.clone());
            }
            Effect::Log { .. } | Effect::WorkloadVersion(_) => {}
        }
        if let Err(err) = self.sink.apply(effect) {
            self.stopped = Some(err);
        }
    }

    fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.emit(Effect::Log {
            level,
            message: message.into(),
        });
    }

    fn status(&mut self, status: Status) {
        self.emit(Effect::UnitStatus(status));
    }

    fn set_own_state(&mut self, state: UnitState) {
        self.emit(Effect::SetUnit {
            key: STATE_KEY.to_owned(),
            value: state.as_str().to_owned(),
        });
    }

    fn set_app(&mut self, key: &str, value: String) {
        self.emit(Effect::SetApp {
            key: key.to_owned(),
            value,
        });
    }

    /// `ready`, for the current round: the unit runs this round's charm (it is handling
    /// `upgrade-charm`). The round mark tells a `ready` left over from an aborted round (a unit
    /// that has not yet run the rollback's `upgrade-charm`, still on the failed revision's
    /// code) from one that may upgrade now.
    fn set_ready(&mut self) {
        self.set_own_state(UnitState::Ready);
        if let Ok(Some(round)) = self.view.app_round() {
            self.emit(Effect::SetUnit {
                key: ROUND_KEY.to_owned(),
                value: round.to_string(),
            });
        }
    }

    /// Takes the units that are no longer in the application (they departed; Juju never reuses
    /// a unit number) out of this view's stack, so that they neither block the others nor count
    /// as corrupt data. Returns them. An unreadable stack is left for validation to report.
    fn skip_departed_units(&mut self) -> Vec<u32> {
        let Ok(stack) = self.view.upgrade_stack() else {
            return Vec::new();
        };
        let members = self.view.app_units();
        let (kept, departed): (Vec<u32>, Vec<u32>) = stack
            .as_slice()
            .iter()
            .partition(|unit| members.contains(unit));
        if let (false, Ok(kept)) = (departed.is_empty(), UpgradeStack::from_units(kept)) {
            self.view
                .app_bag
                .insert(STACK_KEY.to_owned(), kept.to_json());
        }
        departed
    }

    /// The leader writes the stack without the departed units (see `skip_departed_units`).
    fn drop_departed_units(&mut self, departed: &[u32]) {
        if departed.is_empty() || !self.view.is_leader {
            return;
        }
        let names: Vec<String> = departed.iter().map(|&u| self.view.unit_name(u)).collect();
        self.log(
            LogLevel::Warning,
            format!(
                "{} left the application; removing them from the upgrade stack",
                names.join(", ")
            ),
        );
        if let Some(stack) = self.view.app_value(STACK_KEY).map(str::to_owned) {
            self.set_app(STACK_KEY, stack);
        }
    }

    /// Starts a new upgrade round (a new stack, or a recovery).
    fn start_round(&mut self) -> Result<(), Stop> {
        let next = self.view.app_round()?.unwrap_or(0).saturating_add(1);
        self.set_app(ROUND_KEY, next.to_string());
        Ok(())
    }

    fn own_name(&self) -> String {
        self.view.unit_name(self.view.unit)
    }

    fn refuse_invalid_data(&mut self, event: &Event, err: &SnapshotError) {
        let message = format!("{}{err}", messages::DATA_INVALID_PREFIX);
        self.log(LogLevel::Error, format!("{message} (during {event})"));
        self.status(Status::blocked(message.clone()));
        if event.is_action() {
            self.emit(Effect::ActionFail(message));
        }
    }

    /// v0 `_on_upgrade_created`: join as `idle`; the leader stores the deployed dependencies.
    fn relation_created<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        self.set_own_state(UnitState::Idle);
        if self.view.is_leader {
            self.log(
                LogLevel::Debug,
                "Persisting dependencies to upgrade relation data...",
            );
            self.set_app(DEPENDENCIES_KEY, hooks.dependency_model().to_json());
            if self.reports_versions() && self.view.original_versions()?.is_none() {
                self.set_app(ORIGINAL_VERSIONS_KEY, self.this_charm.to_json());
            }
        }
        self.settle(hooks)
    }

    /// Beyond v0: a new leader stores the deployed dependencies if the old leader's write was
    /// lost (its hook failed to commit once it lost leadership), provided no upgrade is under
    /// way (it is idle and there is no stack), so this unit's revision is the deployed one;
    /// then it carries on with the leader's duties.
    fn leader_elected<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        if self.view.is_leader
            && self.view.app_value(DEPENDENCIES_KEY).is_none()
            && self.view.own_state()? == Some(UnitState::Idle)
            && self.view.upgrade_stack()?.is_empty()
        {
            self.log(
                LogLevel::Debug,
                "No dependencies stored; persisting this revision's as the deployed ones...",
            );
            self.set_app(DEPENDENCIES_KEY, hooks.dependency_model().to_json());
        }
        self.settle(hooks)
    }

    /// v0 `_on_pre_upgrade_check_action` (leadership already checked).
    fn pre_upgrade_check<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        let cluster = self.view.cluster_state()?;
        if cluster == Some(UnitState::Failed) {
            if self.rollback_already_started()? {
                let value = messages::rollback_already_started(&self.view.original_versions()?);
                self.emit(Effect::ActionResult {
                    key: RESULT_KEY.to_owned(),
                    value,
                });
                return Ok(());
            }
            return self.enter_recovery(hooks);
        }
        // The leader's own state is fresh; its copies of the others may be old (an action runs
        // before queued relation-changed hooks), so a leader that already left `idle` must not
        // take a stale all-idle view for an idle cluster and prepare a second upgrade.
        if cluster != Some(UnitState::Idle) || self.view.own_state()? != Some(UnitState::Idle) {
            self.emit(Effect::ActionFail(messages::ALREADY_UPGRADING.to_owned()));
            return Ok(());
        }
        self.log(LogLevel::Info, "Running pre-upgrade-check...");
        self.go_on()?;
        if let Err(err) = hooks.pre_upgrade_check(&self.view) {
            self.log(LogLevel::Error, err.to_string());
            self.emit(Effect::ActionFail(err.message));
            return Ok(());
        }
        self.prepare_upgrade(hooks)
    }

    /// Builds and writes the stack of a new round (the cluster is idle and the checks passed
    /// or were skipped), and reports the order.
    fn prepare_upgrade<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        self.log(LogLevel::Info, "Building upgrade-stack for VMs...");
        let built = match hooks.build_upgrade_stack(&self.view) {
            Ok(units) => units,
            Err(err) => {
                self.log(LogLevel::Error, err.to_string());
                self.emit(Effect::ActionFail(err.message));
                return Ok(());
            }
        };
        let app_units = self.view.app_units();
        let stack = match UpgradeStack::from_units(built)
            .and_then(|stack| stack.validate_complete(&app_units).map(|()| stack))
        {
            Ok(stack) => stack,
            Err(err) => {
                let message = format!("Could not build the upgrade stack: {err}");
                self.log(LogLevel::Error, message.clone());
                self.emit(Effect::ActionFail(message));
                return Ok(());
            }
        };
        self.log(LogLevel::Debug, format!("Built upgrade stack of {stack}"));
        self.log(LogLevel::Info, "Setting upgrade-stack to relation data...");
        self.start_round()?;
        self.set_app(STACK_KEY, stack.to_json());
        let order: Vec<String> = stack
            .as_slice()
            .iter()
            .rev()
            .map(|&unit| self.view.unit_name(unit))
            .collect();
        if self.reports_versions() {
            return self.prepared_beyond_v0(hooks, &order.join(", "));
        }
        self.emit(Effect::ActionResult {
            key: RESULT_KEY.to_owned(),
            value: format!(
                "Pre-upgrade check successful. Units will upgrade in this order: {}. Run `juju refresh` to start.",
                order.join(", ")
            ),
        });
        Ok(())
    }

    /// Beyond v0, after the stack of a new round is written: record what a rollback returns
    /// to, report it, and let the units already running a refreshed charm join at once.
    fn prepared_beyond_v0<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
        order: &str,
    ) -> Result<(), Stop> {
        let original = self.view.original_versions()?;
        match self.view.refresh_pending(self.view.unit)? {
            // Nothing refreshed here yet: what runs now is what a rollback returns to.
            None if original.as_ref() != Some(&self.this_charm) => {
                self.set_app(ORIGINAL_VERSIONS_KEY, self.this_charm.to_json());
            }
            // Already refreshed: what it ran before.
            Some(before) if original.is_none() && before.is_reported() => {
                self.set_app(ORIGINAL_VERSIONS_KEY, before.to_json());
            }
            _ => {}
        }
        if self.view.upgrade_target()?.is_some() {
            self.set_app(UPGRADE_TARGET_KEY, String::new());
        }
        let value = messages::prepared_result(
            order,
            &self.rollback_command()?,
            self.any_refresh_pending()?,
        );
        self.emit(Effect::ActionResult {
            key: RESULT_KEY.to_owned(),
            value,
        });
        self.settle(hooks)
    }

    /// v0's recovery branch of `_on_pre_upgrade_check_action` with `_repair_upgrade_stack`.
    fn enter_recovery<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        self.log(
            LogLevel::Info,
            "Entering recovery state for rolling-back to previous version...",
        );
        self.start_round()?;
        self.mark_rollback_round()?;
        let mut stack = self.view.upgrade_stack()?;
        if stack.is_empty() {
            // Beyond v0: a unit failed after the stack emptied (refreshed again as the upgrade
            // ended). v0 would keep the empty stack and the rollback could never start.
            stack = self.stack_for_failed_units(hooks)?;
        }
        let rebuilt = self.view.upgrade_stack()?.is_empty() && !stack.is_empty();
        let inserted = stack.repair(&self.view.app_units());
        if !inserted.is_empty() || rebuilt {
            self.log(
                LogLevel::Debug,
                format!("Inserted {inserted:?} in to upgrade-stack - {stack}"),
            );
            self.set_app(STACK_KEY, stack.to_json());
        }
        if self.view.app_value(UPGRADE_TARGET_KEY).is_some() {
            // The rollback's target is known once the leader runs the refreshed charm.
            self.set_app(UPGRADE_TARGET_KEY, String::new());
        }
        if let Some(round) = self.view.app_round()? {
            self.set_app(ROLLBACK_REFRESH_PENDING_KEY, round.to_string());
        }
        self.status(Status::blocked(messages::READY_TO_ROLLBACK));
        self.set_own_state(UnitState::Recovery);
        self.emit(Effect::ActionResult {
            key: RESULT_KEY.to_owned(),
            value: format!(
                "Ready to roll back. Run `juju refresh {}` to the previous revision or charm file.",
                self.view.app
            ),
        });
        self.settle(hooks)
    }

    /// A stack for a recovery that found none: the charm's order, the failed units on top.
    fn stack_for_failed_units<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<UpgradeStack, Stop> {
        let app_units = self.view.app_units();
        let order = hooks
            .build_upgrade_stack(&self.view)
            .ok()
            .filter(|units| {
                UpgradeStack::from_units(units.clone())
                    .and_then(|stack| stack.validate_complete(&app_units))
                    .is_ok()
            })
            .unwrap_or_else(|| app_units.iter().copied().collect());
        let states = self.view.unit_states()?;
        let failed = |unit: &u32| states.get(unit) == Some(&Some(UnitState::Failed));
        let (failed_units, others): (Vec<u32>, Vec<u32>) = order.into_iter().partition(failed);
        let units: Vec<u32> = others.into_iter().chain(failed_units).collect();
        self.log(
            LogLevel::Debug,
            format!("No upgrade-stack left; rolling back in the order {units:?}"),
        );
        Ok(UpgradeStack::from_units(units)?)
    }

    /// v0 `_on_upgrade_charm`, VM substrate.
    fn upgrade_charm<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        if self.view.is_leader {
            // The rollback's refresh reached the leader: units may go again.
            self.release_rollback_gate();
        }
        if self.reports_versions() {
            if self.upgraded_to_this_charm_already()? {
                // Nothing changed for this unit: going back to `ready` could upgrade it again
                // at once while the leader, on an older copy that says `completed`, pops it and
                // lets the next unit go (two workloads changing together).
                self.log(
                    LogLevel::Info,
                    format!(
                        "{} already upgraded to {}; nothing to do",
                        self.own_name(),
                        self.this_charm.describe()
                    ),
                );
                return self.settle(hooks);
            }
            return self.upgrade_charm_beyond_v0(hooks);
        }
        if self.view.is_leader && self.view.app_value(COMPATIBILITY_SKIPPED_KEY).is_some() {
            // A new refresh is checked again, whatever was forced for the last one.
            self.set_app(COMPATIBILITY_SKIPPED_KEY, String::new());
        }
        let Some(top) = self.view.upgrade_stack()?.top() else {
            self.log(LogLevel::Error, messages::NO_STACK);
            if matches!(
                self.view.own_state()?,
                Some(UnitState::Completed | UnitState::Idle)
            ) && self.view.unit_value(self.view.unit, ROUND_KEY).is_some()
            {
                // This unit now runs a charm it did not upgrade to: its completion no longer
                // says which revision the application runs (see `finish`).
                self.emit(Effect::SetUnit {
                    key: ROUND_KEY.to_owned(),
                    value: String::new(),
                });
            }
            return Ok(());
        };
        if self.refreshed_again_this_round()? {
            return self.pause_on_second_refresh(hooks);
        }
        if self.view.is_leader {
            match self.view.stored_dependencies()? {
                Some(deployed) => {
                    if let Err(err) = check_upgrade(&deployed, hooks.dependency_model()) {
                        self.log(LogLevel::Error, err.to_string());
                        self.fail_unit(hooks);
                        return self.settle(hooks);
                    }
                }
                None => self.log(
                    LogLevel::Warning,
                    "No dependencies stored for the deployed revision; skipping the version compatibility check.",
                ),
            }
            if top == self.view.unit && self.view.own_state()? == Some(UnitState::Recovery) {
                // Rolling back and this unit is first: nothing else will wake it up.
                self.log(
                    LogLevel::Info,
                    format!(
                        "{} is on top of the upgrade stack in recovery, rolling back first",
                        self.own_name()
                    ),
                );
                self.set_ready();
                return self.settle(hooks);
            }
        }
        self.status(Status::waiting(messages::WAITING_FOR_OTHERS));
        self.set_ready();
        self.settle(hooks)
    }

    /// Without reported versions: this unit already ran `upgrade-charm` in the current round
    /// (a stack written by this core; its round mark is this round's) and gets another one: a
    /// second `juju refresh` in the middle of the upgrade, or onto an upgrade paused by a
    /// failure before `pre-upgrade-check` entered recovery (which starts a new round).
    fn refreshed_again_this_round(&self) -> Result<bool, Stop> {
        Ok(self.view.app_round()?.is_some()
            && matches!(
                self.view.own_state()?,
                Some(
                    UnitState::Ready
                        | UnitState::Upgrading
                        | UnitState::Completed
                        | UnitState::Failed
                )
            )
            && self.view.marked_this_round(self.view.unit)?)
    }

    /// Pauses the upgrade on this unit. Units that upgraded with the first charm would
    /// otherwise keep it: going back to `ready` could even upgrade this unit again at once (it
    /// may still be on top) while the leader, on an older copy of its bag that says
    /// `completed`, pops it and lets the next unit go, two workloads changing together; and a
    /// unit that already left the stack would wait forever or stay on the first charm's
    /// workload. `failed` pauses everyone instead, and the documented recovery
    /// (`pre-upgrade-check`, then `juju refresh` to the revision wanted) takes every unit there,
    /// one at a time.
    fn pause_on_second_refresh<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        self.log(
            LogLevel::Error,
            format!(
                "{} received another charm during the upgrade; pausing the upgrade",
                self.own_name()
            ),
        );
        self.status(Status::blocked(messages::REFRESHED_DURING_UPGRADE));
        self.set_own_state(UnitState::Failed);
        let instructions = hooks.rollback_instructions(&self.view.app);
        self.log(LogLevel::Error, instructions);
        self.settle(hooks)
    }

    /// Beyond v0: the refresh did not change this unit's charm (`juju refresh` to the revision
    /// it already runs) and this unit has nothing left to do: it completed its upgrade in the
    /// current round, or it is idle with no upgrade prepared (an older copy of another unit's
    /// bag must not make it start a rollback round nobody joins). A unit a recovery put back,
    /// whose completion is from an earlier round, goes again.
    fn upgraded_to_this_charm_already(&self) -> Result<bool, Stop> {
        if self.previous_versions.as_ref() != Some(&self.this_charm) {
            return Ok(false);
        }
        Ok(match self.view.own_state()? {
            Some(UnitState::Completed) => {
                self.view.app_round()?.is_some() && self.view.marked_this_round(self.view.unit)?
            }
            Some(UnitState::Idle) => self.view.upgrade_stack()?.is_empty(),
            _ => false,
        })
    }

    /// With no stack left, a leader whose round mark says it upgraded in the last round with
    /// the charm it runs (a refresh that found no stack clears the mark) stores that charm's
    /// dependencies as the baseline if they are not: the round may have ended without a pop
    /// (removed units dropped) or finished under another leader.
    fn store_baseline_of_the_last_round<H: UpgradeHooks>(
        &mut self,
        hooks: &mut H,
    ) -> Result<(), Stop> {
        let Some(round) = self.view.app_round()? else {
            return Ok(());
        };
        let baseline = hooks.dependency_model().to_json();
        let ended_here = self.view.upgrade_stack()?.is_empty()
            && matches!(
                self.view.own_state()?,
                Some(UnitState::Completed | UnitState::Idle)
            )
            && self.view.unit_value(self.view.unit, ROUND_KEY) == Some(round.to_string().as_str());
        if !ended_here {
            return Ok(());
        }
        if self.reports_versions() {
            // Beyond v0 only a leader that already left the round (it finished as a
            // non-leader, and the leader that would have recorded the round's outcome left)
            // records it here; a `completed` leader does at its own `finish`, once every unit
            // runs the round's target. The round must have moved to the charm it runs.
            // A refresh after it finished (pending, as no stack covered it) is not what the
            // round reached.
            if self.view.own_state()? != Some(UnitState::Idle)
                || self.view.refresh_pending(self.view.unit)?.is_some()
                || self
                    .view
                    .upgrade_target()?
                    .is_some_and(|target| target != self.this_charm)
            {
                return Ok(());
            }
            self.record_reached_versions();
        }
        if self.view.app_value(DEPENDENCIES_KEY) != Some(baseline.as_str()) {
            self.log(
                LogLevel::Debug,
                "Persisting new dependencies to upgrade relation data...",
            );
            self.set_app(DEPENDENCIES_KEY, baseline);
        }
        Ok(())
    }

    /// Clears [`ROLLBACK_REFRESH_PENDING_KEY`] (leader only; see there).
    fn release_rollback_gate(&mut self) {
        if self.view.app_value(ROLLBACK_REFRESH_PENDING_KEY).is_some() {
            self.set_app(ROLLBACK_REFRESH_PENDING_KEY, String::new());
        }
    }

    /// Runs the relation-changed rules until nothing changes any more (bounded).
    fn settle<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        // Each productive step pops the stack or moves this unit's state forward, so a legitimate
        // run needs at most about one step per unit plus a few.
        let budget = 2 * self.view.app_units().len() + 4;
        if self.reports_versions() && self.view.is_leader {
            if self.adopt_pending_refresh_into_round(hooks)? {
                return Ok(());
            }
            self.leader_catch_up(hooks)?;
        }
        if self.view.is_leader {
            self.store_baseline_of_the_last_round(hooks)?;
        }
        // A leader that ran this round's `upgrade-charm`, or (beyond v0) runs the charm the round
        // targets, lets the rollback go (the old leader's release may have been lost with its
        // leadership, and a leader taking a rollback over starts a new round).
        if self.view.is_leader
            && ((matches!(
                self.view.own_state()?,
                Some(UnitState::Ready | UnitState::Upgrading | UnitState::Completed)
            ) && self.view.marked_this_round(self.view.unit)?)
                || (self.reports_versions()
                    && self.view.upgrade_target()?.as_ref() == Some(&self.this_charm)))
        {
            self.release_rollback_gate();
        }
        for _ in 0..budget {
            if !self.step(hooks)? {
                return Ok(());
            }
        }
        self.log(
            LogLevel::Error,
            "upgrade rules did not settle within their step budget; stopping for this hook",
        );
        Ok(())
    }

    /// v0 `on_upgrade_changed`, once. Returns whether it wrote anything.
    fn step<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<bool, Stop> {
        self.go_on()?;
        if self.view.scope == PeerScope::OwnAndApp && self.only_waits()? {
            return Ok(false);
        }
        let cluster = self.view.cluster_state()?;
        match cluster {
            Some(UnitState::Failed) => {
                self.log(LogLevel::Debug, "Cluster failed to upgrade, exiting...");
                return Ok(false);
            }
            Some(UnitState::Recovery) => {
                self.log(LogLevel::Debug, "Cluster in recovery, skip...");
                return Ok(false);
            }
            _ => {}
        }
        let mut stack = self.view.upgrade_stack()?;
        let own = self.view.own_state()?;
        if self.reports_versions() {
            if self.join_prepared_upgrade(hooks, &stack)? {
                return Ok(true);
            }
            if self.mark_ready_for_this_round()? {
                return Ok(true);
            }
            if self.mark_completed_for_this_round()? {
                return Ok(true);
            }
        }
        let Some(top) = stack.top() else {
            if own == Some(UnitState::Completed)
                && matches!(cluster, Some(UnitState::Idle | UnitState::Completed))
                && self.every_unit_runs_round_target()?
            {
                self.finish(hooks);
                return Ok(true);
            }
            return Ok(false);
        };
        let states = self.view.unit_states()?;
        let anyone_upgrading = states.values().any(|&s| s == Some(UnitState::Upgrading));
        if anyone_upgrading && matches!(own, Some(UnitState::Idle | UnitState::Ready)) {
            self.status(Status::waiting(messages::WAITING_FOR_OTHERS));
        }
        let top_state = self.view.unit_state(top)?;
        if self.view.is_leader
            && top_state == Some(UnitState::Completed)
            && self.view.marked_this_round(top)?
        {
            self.log(
                LogLevel::Debug,
                format!(
                    "{} has finished upgrading, updating stack...",
                    self.view.unit_name(top)
                ),
            );
            stack.pop();
            self.set_app(STACK_KEY, stack.to_json());
            if stack.is_empty() && !self.reports_versions() {
                // The round is over: this leader completed in it, and with the charm it runs
                // (another charm received while units were left would have paused the upgrade).
                self.set_app(DEPENDENCIES_KEY, hooks.dependency_model().to_json());
            }
            return Ok(true);
        }
        match self.grant_for(self.view.unit)? {
            Grant::Go => {
                self.upgrade(hooks)?;
                Ok(true)
            }
            Grant::AwaitsResume => {
                let status = messages::paused_unit(&self.own_name());
                self.status(Status::blocked(status));
                Ok(false)
            }
            Grant::Wait(_) => Ok(false),
        }
    }

    /// A non-leader that is not next to upgrade, is not finishing a round and has nothing to
    /// write for itself: whatever the other units' states, `step` does nothing for it (but
    /// show "other units upgrading first..." while one is upgrading). Decided from this unit's
    /// bag and the application bag alone, so a waiting unit need not read the others'.
    fn only_waits(&self) -> Result<bool, Stop> {
        if self.view.is_leader {
            return Ok(false);
        }
        let stack = self.view.upgrade_stack()?;
        if self.reports_versions()
            && (self.joins_prepared_upgrade(&stack)?
                || self.marks_ready_for_this_round()?
                || self.marks_completed_for_this_round()?)
        {
            return Ok(false);
        }
        Ok(match stack.top() {
            Some(top) => top != self.view.unit,
            None => self.view.own_state()? != Some(UnitState::Completed),
        })
    }

    /// Beyond v0, the round is over only once every unit runs the charm it targets: a unit
    /// still on an older charm (a second refresh or a rollback reached it late) will go again
    /// at its `upgrade-charm`, so nobody returns to `idle` before that. A unit that never
    /// recorded its charm does not hold the others back.
    fn every_unit_runs_round_target(&self) -> Result<bool, Stop> {
        if !self.reports_versions() {
            return Ok(true);
        }
        let Some(target) = self.view.upgrade_target()? else {
            return Ok(true);
        };
        if self.this_charm != target {
            return Ok(false);
        }
        for unit in self.view.app_units() {
            if self
                .view
                .unit_charm_versions(unit)?
                .is_some_and(|runs| runs != target)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A `ready` unit whose mark is from an earlier round and that runs the charm this round
    /// targets becomes `ready` for this round.
    fn mark_ready_for_this_round(&mut self) -> Result<bool, Stop> {
        if !self.marks_ready_for_this_round()? {
            return Ok(false);
        }
        self.set_ready();
        Ok(true)
    }

    /// A unit `completed` in an earlier round with the charm this round targets (a new round
    /// started after it upgraded: a second refresh it had already reached, or a leader taking
    /// the round over) has nothing left to do in this one: it marks its completion for this
    /// round, so the leader pops it instead of the upgrade waiting on it forever. A unit that
    /// completed with another charm got `upgrade-charm` since, which made it `ready` again. Not
    /// in a rollback round: there every unit a recovery put back goes again, as in v0.
    fn mark_completed_for_this_round(&mut self) -> Result<bool, Stop> {
        if !self.marks_completed_for_this_round()? {
            return Ok(false);
        }
        let Some(round) = self.view.app_round()? else {
            return Ok(false);
        };
        self.log(
            LogLevel::Info,
            format!(
                "{} already upgraded to {}; counting it as done in this round",
                self.own_name(),
                self.this_charm.describe()
            ),
        );
        self.emit(Effect::SetUnit {
            key: ROUND_KEY.to_owned(),
            value: round.to_string(),
        });
        Ok(true)
    }

    /// Whether [`Self::mark_completed_for_this_round`] applies (this unit's bag and the app
    /// bag).
    fn marks_completed_for_this_round(&self) -> Result<bool, Stop> {
        Ok(self.view.own_state()? == Some(UnitState::Completed)
            && self.view.app_round()?.is_some()
            && !self.view.is_rollback_round()?
            && !self.view.marked_this_round(self.view.unit)?
            && self.view.upgrade_target()?.as_ref() == Some(&self.this_charm)
            && self.view.unit_charm_versions(self.view.unit)?.as_ref() == Some(&self.this_charm))
    }

    /// Whether [`Self::mark_ready_for_this_round`] applies (this unit's bag and the app bag).
    fn marks_ready_for_this_round(&self) -> Result<bool, Stop> {
        Ok(self.view.own_state()? == Some(UnitState::Ready)
            && !self.view.marked_this_round(self.view.unit)?
            && self.view.upgrade_target()?.as_ref() == Some(&self.this_charm))
    }

    /// Every unit completed and the stack is empty: back to idle; the leader stores this
    /// revision's dependencies as the baseline for the next upgrade.
    fn finish<H: UpgradeHooks>(&mut self, hooks: &mut H) {
        self.log(
            LogLevel::Info,
            "All units completed upgrade, setting idle upgrade state...",
        );
        self.status(Status::active(""));
        let upgraded_with_this_charm = self.view.marked_this_round(self.view.unit);
        self.set_own_state(UnitState::Idle);
        // A leader that received another charm after it completed (a refresh that found no
        // stack) does not run what the units upgraded to: it leaves the baseline alone.
        let baseline = hooks.dependency_model().to_json();
        if self.view.is_leader
            && upgraded_with_this_charm.unwrap_or(false)
            && self.view.app_value(DEPENDENCIES_KEY) != Some(baseline.as_str())
        {
            self.log(
                LogLevel::Debug,
                "Persisting new dependencies to upgrade relation data...",
            );
            self.set_app(DEPENDENCIES_KEY, baseline);
            if self.view.app_value(COMPATIBILITY_SKIPPED_KEY).is_some() {
                self.set_app(COMPATIBILITY_SKIPPED_KEY, String::new());
            }
        }
        if self.reports_versions() {
            self.finish_beyond_v0();
        }
    }

    /// Beyond v0: the versions reached become those a later rollback returns to, and this
    /// round's target and approvals are cleared.
    fn finish_beyond_v0(&mut self) {
        if self
            .view
            .unit_value(self.view.unit, RESUMED_ROUND_KEY)
            .is_some()
        {
            self.emit(Effect::SetUnit {
                key: RESUMED_ROUND_KEY.to_owned(),
                value: String::new(),
            });
        }
        if self.view.is_leader {
            self.record_reached_versions();
        }
    }

    /// The leader records the versions the round reached as those a later rollback returns
    /// to, and clears the round's target.
    fn record_reached_versions(&mut self) {
        let reached = self
            .view
            .upgrade_target()
            .ok()
            .flatten()
            .unwrap_or_else(|| self.this_charm.clone());
        if self.view.original_versions().ok().flatten().as_ref() != Some(&reached) {
            self.log(
                LogLevel::Info,
                format!(
                    "Recording {} as the versions a rollback returns to",
                    reached.describe()
                ),
            );
            self.set_app(ORIGINAL_VERSIONS_KEY, reached.to_json());
        }
        if self.view.app_value(UPGRADE_TARGET_KEY).is_some() {
            self.set_app(UPGRADE_TARGET_KEY, String::new());
        }
    }

    /// This unit's turn (v0's `upgrade_granted` with `set_unit_completed`/`set_unit_failed`).
    fn upgrade<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), Stop> {
        // Nothing touches the workload on a partial view (see `handle_own_and_app`).
        self.view.require_every_unit()?;
        let name = self.own_name();
        self.log(
            LogLevel::Debug,
            format!("{name} is next to upgrade, upgrading..."),
        );
        self.status(Status::maintenance(messages::UPGRADING));
        self.set_own_state(UnitState::Upgrading);
        // Nothing touches the workload once an effect failed.
        self.go_on()?;
        let outcome = {
            let Turn {
                view,
                sink,
                stopped,
                last_status,
                ..
            } = self;
            hooks.upgrade_unit(view, &mut |message: &str| {
                if stopped.is_some() {
                    return;
                }
                let status = Status::maintenance(message);
                *last_status = Some(status.clone());
                if let Err(err) = sink.apply(Effect::UnitStatus(status)) {
                    *stopped = Some(err);
                }
            })
        };
        match outcome {
            Ok(()) => {
                if let Some(version) = hooks.workload_version(&self.view) {
                    self.emit(Effect::WorkloadVersion(version));
                }
                self.log(
                    LogLevel::Info,
                    format!("{name} upgraded and healthy, setting state completed"),
                );
                self.status(Status::maintenance(messages::UPGRADE_COMPLETED));
                if let Ok(Some(round)) = self.view.app_round() {
                    self.emit(Effect::SetUnit {
                        key: ROUND_KEY.to_owned(),
                        value: round.to_string(),
                    });
                }
                self.set_own_state(UnitState::Completed);
            }
            Err(err) => {
                self.log(LogLevel::Error, format!("{name}: {err}"));
                self.fail_unit(hooks);
            }
        }
        Ok(())
    }

    /// v0 `set_unit_failed` with the charm's rollback instructions.
    fn fail_unit<H: UpgradeHooks>(&mut self, hooks: &mut H) {
        self.status(Status::blocked(hooks.failed_status()));
        self.set_own_state(UnitState::Failed);
        let instructions = hooks.rollback_instructions(&self.view.app);
        self.log(LogLevel::Error, instructions);
        // A refresh back by revision is recognised as a rollback; one by file is a new local
        // revision, for which the recovery above comes first.
        let by_revision = matches!(
            self.view.original_versions(),
            Ok(Some(original)) if original.charm.bytes().all(|b| b.is_ascii_digit())
        );
        if self.reports_versions() && by_revision {
            if let Ok(command) = self.rollback_command() {
                self.log(LogLevel::Error, messages::direct_rollback_hint(&command));
            }
        }
    }
}
