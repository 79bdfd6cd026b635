//! The decision logic: given an event and this unit's view of the peer relation, decide what
//! this unit does.
//!
//! The rules are v0's (`DataUpgrade` in data-platform-libs, VM substrate), with two robustness
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

use std::fmt;

use crate::dependency::check_upgrade;
use crate::effect::{Effect, EffectSink, LogLevel, Status};
use crate::error::SnapshotError;
use crate::hooks::UpgradeHooks;
use crate::messages;
use crate::snapshot::{Bag, PeerSnapshot, DEPENDENCIES_KEY, ROUND_KEY, STACK_KEY, STATE_KEY};
use crate::stack::UpgradeStack;
use crate::state::UnitState;

/// Action result key under which `pre-upgrade-check` reports what it did.
pub const RESULT_KEY: &str = "result";

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
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Handles one event on one unit, emitting effects to `sink` in the order they are decided.
///
/// Never panics on bad peer data: corrupt data yields a blocked status, an error log and (for
/// the action) an action failure, and no writes.
pub fn handle<H: UpgradeHooks>(
    event: &Event,
    snapshot: PeerSnapshot,
    hooks: &mut H,
    sink: &mut dyn EffectSink,
) {
    let mut turn = Turn::new(snapshot, sink);
    if *event == Event::PreUpgradeCheck && !turn.view.is_leader {
        turn.emit(Effect::ActionFail(messages::LEADER_ONLY.to_owned()));
        return;
    }
    let departed = turn.skip_departed_units();
    let outcome = turn.view.validate().and_then(|()| {
        turn.drop_departed_units(&departed);
        match event {
            Event::RelationCreated => turn.relation_created(hooks),
            Event::PreUpgradeCheck => turn.pre_upgrade_check(hooks),
            Event::UpgradeCharm => turn.upgrade_charm(hooks),
            Event::RelationChanged | Event::RelationDeparted => turn.settle(hooks),
            Event::LeaderElected => turn.leader_elected(hooks),
        }
    });
    if let Err(err) = outcome {
        turn.refuse_invalid_data(event, &err);
    }
}

/// What to do when the charm has no upgrade peer relation (yet): v0 fails the action with
/// "Could not find upgrade relation." and otherwise does nothing.
pub fn no_relation(event: &Event, sink: &mut dyn EffectSink) {
    match event {
        Event::PreUpgradeCheck => {
            sink.apply(Effect::ActionFail(messages::NO_RELATION.to_owned()));
        }
        _ => sink.apply(Effect::Log {
            level: LogLevel::Warning,
            message: format!("upgrade relation not found; nothing to do for {event}"),
        }),
    }
}

/// One unit handling one event: the view it updates with its own writes, and the sink.
struct Turn<'s> {
    view: PeerSnapshot,
    sink: &'s mut dyn EffectSink,
    /// The last unit status emitted in this turn, to avoid repeating it on re-evaluation.
    last_status: Option<Status>,
}

fn apply_to_bag(bag: &mut Bag, key: &str, value: &str) {
    if value.is_empty() {
        bag.remove(key);
    } else {
        bag.insert(key.to_owned(), value.to_owned());
    }
}

impl<'s> Turn<'s> {
    fn new(mut view: PeerSnapshot, sink: &'s mut dyn EffectSink) -> Self {
        view.units.insert(view.unit);
        Turn {
            view,
            sink,
            last_status: None,
        }
    }

    /// Emits an effect, applying bag writes to the view so later rules see them.
    fn emit(&mut self, effect: Effect) {
        match &effect {
            Effect::SetUnit { key, value } => {
                let own_bag = self.view.unit_bags.entry(self.view.unit).or_default();
                apply_to_bag(own_bag, key, value);
            }
            Effect::SetApp { key, value } => apply_to_bag(&mut self.view.app_bag, key, value),
            Effect::UnitStatus(status) => {
                if self.last_status.as_ref() == Some(status) {
                    return;
                }
                self.last_status = Some(status.clone());
            }
            _ => {}
        }
        self.sink.apply(effect);
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
    fn start_round(&mut self) -> Result<(), SnapshotError> {
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
        if *event == Event::PreUpgradeCheck {
            self.emit(Effect::ActionFail(message));
        }
    }

    /// v0 `_on_upgrade_created`: join as `idle`; the leader stores the deployed dependencies.
    fn relation_created<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), SnapshotError> {
        self.set_own_state(UnitState::Idle);
        if self.view.is_leader {
            self.log(
                LogLevel::Debug,
                "Persisting dependencies to upgrade relation data...",
            );
            self.set_app(DEPENDENCIES_KEY, hooks.dependency_model().to_json());
        }
        self.settle(hooks)
    }

    /// Beyond v0: a new leader stores the deployed dependencies if the old leader's write was
    /// lost (its hook failed to commit once it lost leadership), provided no upgrade is under
    /// way (it is idle and there is no stack), so this unit's revision is the deployed one;
    /// then it carries on with the leader's duties.
    fn leader_elected<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), SnapshotError> {
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
    fn pre_upgrade_check<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), SnapshotError> {
        let cluster = self.view.cluster_state()?;
        if cluster == Some(UnitState::Failed) {
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
        if let Err(err) = hooks.pre_upgrade_check(&self.view) {
            self.log(LogLevel::Error, err.to_string());
            self.emit(Effect::ActionFail(err.message));
            return Ok(());
        }
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
        self.emit(Effect::ActionResult {
            key: RESULT_KEY.to_owned(),
            value: format!(
                "Pre-upgrade check successful. Units will upgrade in this order: {}. Run `juju refresh` to start.",
                order.join(", ")
            ),
        });
        Ok(())
    }

    /// v0's recovery branch of `_on_pre_upgrade_check_action` with `_repair_upgrade_stack`.
    fn enter_recovery<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), SnapshotError> {
        self.log(
            LogLevel::Info,
            "Entering recovery state for rolling-back to previous version...",
        );
        self.start_round()?;
        let mut stack = self.view.upgrade_stack()?;
        let inserted = stack.repair(&self.view.app_units());
        if !inserted.is_empty() {
            self.log(
                LogLevel::Debug,
                format!("Inserted {inserted:?} in to upgrade-stack - {stack}"),
            );
            self.set_app(STACK_KEY, stack.to_json());
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

    /// v0 `_on_upgrade_charm`, VM substrate.
    fn upgrade_charm<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), SnapshotError> {
        let Some(top) = self.view.upgrade_stack()?.top() else {
            self.log(LogLevel::Error, messages::NO_STACK);
            return Ok(());
        };
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

    /// Runs the relation-changed rules until nothing changes any more (bounded).
    fn settle<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<(), SnapshotError> {
        // Each productive step pops the stack or moves this unit's state forward, so a legitimate
        // run needs at most about one step per unit plus a few.
        let budget = 2 * self.view.app_units().len() + 4;
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
    fn step<H: UpgradeHooks>(&mut self, hooks: &mut H) -> Result<bool, SnapshotError> {
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
        let Some(top) = stack.top() else {
            if own == Some(UnitState::Completed)
                && matches!(cluster, Some(UnitState::Idle | UnitState::Completed))
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
            && self.view.completed_this_round(top)?
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
            return Ok(true);
        }
        let other_upgrading = states
            .iter()
            .any(|(&unit, &s)| unit != self.view.unit && s == Some(UnitState::Upgrading));
        // The unit's round mark (written with `ready`, see `set_ready`) must be this round's.
        let ready_this_round = self.view.completed_this_round(self.view.unit)?;
        if top == self.view.unit
            && matches!(top_state, Some(UnitState::Ready | UnitState::Upgrading))
            && cluster == Some(UnitState::Ready)
            && !other_upgrading
            && ready_this_round
        {
            self.upgrade(hooks);
            return Ok(true);
        }
        Ok(false)
    }

    /// Every unit completed and the stack is empty: back to idle; the leader stores this
    /// revision's dependencies as the baseline for the next upgrade.
    fn finish<H: UpgradeHooks>(&mut self, hooks: &mut H) {
        self.log(
            LogLevel::Info,
            "All units completed upgrade, setting idle upgrade state...",
        );
        self.status(Status::active(""));
        self.set_own_state(UnitState::Idle);
        if self.view.is_leader {
            self.log(
                LogLevel::Debug,
                "Persisting new dependencies to upgrade relation data...",
            );
            self.set_app(DEPENDENCIES_KEY, hooks.dependency_model().to_json());
        }
    }

    /// This unit's turn (v0's `upgrade_granted` with `set_unit_completed`/`set_unit_failed`).
    fn upgrade<H: UpgradeHooks>(&mut self, hooks: &mut H) {
        let name = self.own_name();
        self.log(
            LogLevel::Debug,
            format!("{name} is next to upgrade, upgrading..."),
        );
        self.status(Status::maintenance(messages::UPGRADING));
        self.set_own_state(UnitState::Upgrading);
        let outcome = {
            let Turn {
                view,
                sink,
                last_status,
            } = self;
            hooks.upgrade_unit(view, &mut |message: &str| {
                let status = Status::maintenance(message);
                *last_status = Some(status.clone());
                sink.apply(Effect::UnitStatus(status));
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
    }

    /// v0 `set_unit_failed` with the charm's rollback instructions.
    fn fail_unit<H: UpgradeHooks>(&mut self, hooks: &mut H) {
        self.status(Status::blocked(hooks.failed_status()));
        self.set_own_state(UnitState::Failed);
        let instructions = hooks.rollback_instructions(&self.view.app);
        self.log(LogLevel::Error, instructions);
    }
}
