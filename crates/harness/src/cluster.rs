//! A small, deterministic, in-process model of one Juju application running the upgrade core.
//!
//! It keeps the committed peer databags and delivers hooks the way Juju does:
//! - a hook reads the app bag fresh, its own bag, and a per-unit cache of the other units' bags
//!   that is refreshed only when a `relation-changed` for that unit starts;
//! - bag writes are committed when the hook ends; statuses apply at once;
//! - a commit that changes a unit bag queues `relation-changed` on every *other* unit, a change
//!   to the app bag queues one on every unit except the writing leader; queued changes from the
//!   same source coalesce;
//! - a unit runs one hook or action at a time, but those of different units may overlap: a
//!   hook is begun (decisions made, workload touched) and committed later, so other units can
//!   run in between on stale data, as with real concurrent agents; an action may be left
//!   running the same way ([`Cluster::begin_action`]);
//! - the operator's side: `juju refresh` ([`Cluster::refresh`]), the actions
//!   (`pre-upgrade-check`, `resume-upgrade`, `force-upgrade`: [`Cluster::run_action`]) and
//!   `juju config pause-after-unit-refresh=...` ([`Cluster::set_pause_setting`], which queues
//!   `config-changed` on every unit);
//! - faults: a hook that exits non-zero ([`Cluster::fail_hook`], [`Cluster::fail_next_hook`])
//!   or whose agent is killed ([`Cluster::kill_agent`]) loses its bag writes, keeps its
//!   statuses and whatever it did to the workload, and runs again before anything else on that
//!   unit; leadership moves ([`Cluster::move_leader`]: the new leader gets `leader-elected`,
//!   and a hook begun as leader that wrote the app bag fails to commit); a unit is removed
//!   ([`Cluster::remove_unit`]: its bag goes, the others run `relation-departed`); the
//!   application is refreshed again ([`Cluster::refresh`] while units are upgrading); the
//!   charm's pre-upgrade health check fails ([`Cluster::set_health_check_failure`]).
//!
//! What the charm tells the core (its versions, its pause setting, its health check) is set
//! with [`Cluster::builder`]. The safety rules are checked on every transition and any breach
//! is recorded in [`Cluster::violations`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use juju_upgrade::wire::{DEPENDENCIES_KEY, STACK_KEY, STATE_KEY};
use juju_upgrade::{
    messages, Bag, DependencyModel, Effect, Event, LogLevel, PeerSnapshot, Status, StatusKind,
    UpgradeStack,
};

use crate::charm::{run_hook, Charm};
use crate::fixtures::{howto_revisions, ORIGINAL_REVISION};
use crate::violation::Violation;

/// A charm revision: its dependency model and the workload version it pins.
#[derive(Clone, Debug)]
pub struct Revision {
    /// The dependency model shipped in this revision.
    pub model: DependencyModel,
    /// The workload version this revision installs.
    pub workload: String,
}

/// Who changed data a unit has not yet heard about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The application bag (written by the leader).
    App,
    /// A unit's bag.
    Unit(u32),
}

/// A hook the unit agent runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    /// `upgrade-relation-created`.
    RelationCreated,
    /// `leader-elected`, after leadership moved to this unit.
    LeaderElected,
    /// `upgrade-charm`, after `juju refresh`.
    UpgradeCharm,
    /// `config-changed`, after `juju config`.
    ConfigChanged,
    /// `upgrade-relation-departed` for a removed unit.
    RelationDeparted(u32),
    /// `upgrade-relation-changed` for a remote unit's or the app's data.
    RelationChanged(Source),
}

impl Hook {
    /// The core event the charm hands this hook to.
    pub fn core_event(self) -> Event {
        match self {
            Hook::RelationCreated => Event::RelationCreated,
            Hook::UpgradeCharm => Event::UpgradeCharm,
            Hook::ConfigChanged => Event::ConfigChanged,
            Hook::RelationChanged(_) => Event::RelationChanged,
            Hook::LeaderElected => Event::LeaderElected,
            Hook::RelationDeparted(_) => Event::RelationDeparted,
        }
    }

    /// The hook's name, as `juju debug-log` shows it.
    pub fn name(self) -> String {
        match self {
            Hook::RelationCreated => "upgrade-relation-created".into(),
            Hook::LeaderElected => "leader-elected".into(),
            Hook::UpgradeCharm => "upgrade-charm".into(),
            Hook::ConfigChanged => "config-changed".into(),
            Hook::RelationDeparted(unit) => format!("upgrade-relation-departed (mysql/{unit})"),
            Hook::RelationChanged(Source::App) => "upgrade-relation-changed (app)".into(),
            Hook::RelationChanged(Source::Unit(unit)) => {
                format!("upgrade-relation-changed (mysql/{unit})")
            }
        }
    }
}

/// What a unit is running: a hook from its queue, or an action the operator started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    /// A hook.
    Hook(Hook),
    /// An action (`pre-upgrade-check`, `resume-upgrade`, `force-upgrade`), or any other event
    /// run once outside the hook queue.
    Action(Event),
}

impl Task {
    /// The hook's or action's name, as `juju debug-log` shows it.
    pub fn name(self) -> String {
        match self {
            Task::Hook(hook) => hook.name(),
            Task::Action(event) => event.name().to_owned(),
        }
    }
}

/// What one unit's agent knows and has queued.
#[derive(Clone, Debug, Default)]
pub struct SimUnit {
    /// The charm revision the agent runs.
    pub revision: u32,
    /// The installed workload version (`broken` after a failed upgrade, `stopped` after an
    /// agent was killed in the middle of one).
    pub workload: String,
    /// The workload status last set.
    pub status: Option<Status>,
    /// The last `application-version-set`.
    pub published_version: Option<String>,
    /// `upgrade-relation-created` is queued.
    pub pending_created: bool,
    /// `leader-elected` is queued.
    pub pending_leader_elected: bool,
    /// `upgrade-charm` is queued.
    pub pending_upgrade_charm: bool,
    /// `config-changed` is queued.
    pub pending_config_changed: bool,
    /// `upgrade-relation-departed` is queued for these units.
    pub pending_departed: BTreeSet<u32>,
    /// `upgrade-relation-changed` is queued for these sources (coalesced).
    pub pending_changed: BTreeSet<Source>,
    /// A hook that exited non-zero or was interrupted: it runs again before anything else.
    pub retry: Option<Hook>,
    /// The unit shows `error` (its last hook failed) until a hook succeeds.
    pub in_error: bool,
    /// The next hook this agent begins exits non-zero when it ends.
    pub fail_next_hook: bool,
    /// The peers this agent knows (its `relation-list`, plus itself).
    pub members: BTreeSet<u32>,
    /// This agent's cached copies of the other units' bags.
    pub cache: BTreeMap<u32, Bag>,
    /// Scripted outcomes of the next `upgrade_unit` calls: `true` fails; empty means succeed.
    pub failures: VecDeque<bool>,
    /// Log lines, when the cluster keeps them.
    pub log: Vec<(LogLevel, String)>,
    /// The workload is being changed: by a running hook or action, or left half done by a
    /// killed agent until the re-run hook finishes it.
    pub workload_in_flux: bool,
    in_flight: Option<InFlight>,
}

/// A bag write of a running hook, committed when the hook ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Write {
    Unit { key: String, value: String },
    App { key: String, value: String },
}

/// A hook or action that has run its decisions but not yet committed its bag writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InFlight {
    task: Task,
    writes: Vec<Write>,
    /// It started while this unit was the leader.
    as_leader: bool,
    /// It upgraded (or rolled back) the workload ...
    upgraded: bool,
    /// ... and that succeeded.
    succeeded: bool,
    /// A `force-upgrade` that accepted this unit as upgraded.
    forced_completion: bool,
    /// An action that called `action-fail`.
    action_failed: bool,
    /// It exits non-zero when it ends ([`Cluster::fail_next_hook`]).
    fails: bool,
}

impl InFlight {
    fn wrote_app(&self) -> bool {
        self.writes.iter().any(|w| matches!(w, Write::App { .. }))
    }
}

/// What one run of the core decided.
#[derive(Debug, Default)]
struct CoreRun {
    writes: Vec<Write>,
    as_leader: bool,
    upgraded: bool,
    succeeded: bool,
    forced_completion: bool,
    effects: Vec<Effect>,
}

impl CoreRun {
    fn into_flight(self, task: Task, fails: bool) -> InFlight {
        let action_failed = self
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::ActionFail(_)));
        InFlight {
            task,
            writes: self.writes,
            as_leader: self.as_leader,
            upgraded: self.upgraded,
            succeeded: self.succeeded,
            forced_completion: self.forced_completion,
            action_failed,
            fails,
        }
    }
}

/// One workload upgrade (or rollback) the core asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRecord {
    /// The unit.
    pub unit: u32,
    /// Workload version before.
    pub from: String,
    /// Workload version asked for.
    pub to: String,
    /// Whether it failed.
    pub failed: bool,
}

/// The result of running an action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionOutcome {
    /// The `action-fail` message, if the action failed.
    pub failed: Option<String>,
    /// The `action-set` results.
    pub results: BTreeMap<String, String>,
    /// The lines the action logged.
    pub logs: Vec<(LogLevel, String)>,
}

impl ActionOutcome {
    /// The `result` the action set (empty if none).
    pub fn result(&self) -> &str {
        self.results.get("result").map_or("", String::as_str)
    }

    fn of(effects: &[Effect]) -> Self {
        let mut outcome = ActionOutcome::default();
        for effect in effects {
            match effect {
                Effect::ActionFail(message) => outcome.failed = Some(message.clone()),
                Effect::ActionResult { key, value } => {
                    outcome.results.insert(key.clone(), value.clone());
                }
                Effect::Log { level, message } => outcome.logs.push((*level, message.clone())),
                _ => {}
            }
        }
        outcome
    }
}

/// An application of several units and its committed peer data.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The application name.
    pub app: String,
    /// The unit Juju considers leader.
    pub leader: u32,
    /// The live units.
    pub units: BTreeMap<u32, SimUnit>,
    /// Units removed from the application.
    pub removed: BTreeSet<u32>,
    /// The committed application bag.
    pub app_bag: Bag,
    /// The committed unit bags.
    pub unit_bags: BTreeMap<u32, Bag>,
    /// The application status the leader last set.
    pub app_status: Option<Status>,
    /// The charm revisions that exist.
    pub revisions: Arc<BTreeMap<u32, Revision>>,
    /// The application's charm revision (the last `juju refresh`).
    pub app_revision: u32,
    /// Every workload upgrade or rollback, in the order they started.
    pub upgrades: Vec<UpgradeRecord>,
    /// Breaches of the safety rules seen while running.
    pub violations: Vec<Violation>,
    /// Whether log lines are kept (tests read them; the explorer does not need them).
    pub keep_logs: bool,
    /// Whether the charm reports its versions (charm revision and pinned workload), which turns
    /// on what the core does beyond v0; otherwise the core keeps v0's behaviour.
    pub report_versions: bool,
    /// The `pause-after-unit-refresh` setting (`None`: the charm has no such option).
    pause: Option<String>,
    /// Why the charm's pre-upgrade health check fails, if it does.
    check_failure: Option<String>,
    /// Units whose upgrade succeeded (or was accepted by `force-upgrade`) since they last
    /// entered the stack and since the last successful `pre-upgrade-check`.
    completed_this_round: BTreeSet<u32>,
    /// `upgrade_unit` calls so far, across all units.
    upgrade_calls: u32,
    /// Indices of `upgrade_unit` calls (counted across all units) that fail.
    failing_calls: BTreeSet<u32>,
    /// Peer data was written outside the protocol ([`Cluster::tamper`]).
    tampered: bool,
    /// How the hooks and actions run so far read the peer relation.
    pub peer_reads: PeerReads,
    /// The charm author's hooks, when the explorer runs an author's charm
    /// ([`crate::author`]); `None`: the harness's own charm.
    pub(crate) author: Option<crate::author::AuthorCharm>,
}

/// How a [`Cluster`] is deployed: how many units, which leads, which revisions exist and which
/// runs, and what the charm tells the core.
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    units: u32,
    leader: u32,
    revisions: Vec<(u32, Revision)>,
    revision: u32,
    report_versions: bool,
    pause: Option<String>,
    check_failure: Option<String>,
    keep_logs: bool,
}

impl ClusterBuilder {
    /// The first leader (default 0). A leader that is not among the units leaves the
    /// application without one until [`Cluster::move_leader`].
    pub fn leader(mut self, leader: u32) -> Self {
        self.leader = leader;
        self
    }

    /// The charm revisions that exist (default: the how-to's, [`howto_revisions`]).
    pub fn revisions(mut self, revisions: &[(u32, Revision)]) -> Self {
        self.revisions = revisions.to_vec();
        self
    }

    /// The revision deployed (default [`ORIGINAL_REVISION`]).
    pub fn revision(mut self, revision: u32) -> Self {
        self.revision = revision;
        self
    }

    /// Whether the charm reports its versions (default no: v0's behaviour).
    pub fn charm_versions(mut self, report: bool) -> Self {
        self.report_versions = report;
        self
    }

    /// The `pause-after-unit-refresh` setting (default `None`: the charm has no such option).
    pub fn pause_setting(mut self, setting: Option<&str>) -> Self {
        self.pause = setting.map(str::to_owned);
        self
    }

    /// The charm's pre-upgrade health check fails with this cause (default: it passes).
    pub fn failing_health_check(mut self, cause: &str) -> Self {
        self.check_failure = Some(cause.to_owned());
        self
    }

    /// Whether units keep their log lines (default yes).
    pub fn keep_logs(mut self, keep: bool) -> Self {
        self.keep_logs = keep;
        self
    }

    /// The deployed application, with `upgrade-relation-created` queued on every unit. A
    /// deployed revision that is not defined leaves the units without a workload, and every
    /// hook they run records [`Violation::UnknownRevision`].
    pub fn deploy(self) -> Cluster {
        let revisions: BTreeMap<u32, Revision> = self.revisions.into_iter().collect();
        let workload = revisions
            .get(&self.revision)
            .map(|revision| revision.workload.clone())
            .unwrap_or_default();
        let members: BTreeSet<u32> = (0..self.units).collect();
        let units = (0..self.units)
            .map(|unit| {
                let sim = SimUnit {
                    revision: self.revision,
                    workload: workload.clone(),
                    pending_created: true,
                    members: members.clone(),
                    ..SimUnit::default()
                };
                (unit, sim)
            })
            .collect();
        Cluster {
            app: "mysql".into(),
            leader: self.leader,
            units,
            removed: BTreeSet::new(),
            app_bag: Bag::new(),
            unit_bags: BTreeMap::new(),
            app_status: None,
            revisions: Arc::new(revisions),
            app_revision: self.revision,
            upgrades: Vec::new(),
            violations: Vec::new(),
            keep_logs: self.keep_logs,
            report_versions: self.report_versions,
            pause: self.pause,
            check_failure: self.check_failure,
            completed_this_round: BTreeSet::new(),
            upgrade_calls: 0,
            failing_calls: BTreeSet::new(),
            tampered: false,
            peer_reads: PeerReads::default(),
            author: None,
        }
    }
}

/// How hooks read the peer relation, counted as the charm reads it: every hook reads its own
/// bag and the application bag; one whose decision needs the others (see
/// [`juju_upgrade::handle_own_and_app`]) then reads every other unit's bag too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerReads {
    /// Hooks and actions run through the core.
    pub hooks: u64,
    /// Of which read every unit's bag.
    pub every_unit_hooks: u64,
    /// Bags read, the application bag included.
    pub bags: u64,
}

impl PeerReads {
    /// Counts one hook on a unit that sees `units` units (itself included).
    pub fn count(&mut self, units: u64, read_every_unit: bool) {
        self.hooks += 1;
        self.every_unit_hooks += u64::from(read_every_unit);
        self.bags += if read_every_unit { units + 1 } else { 2 };
    }
}

/// The stack as unit numbers, or why it cannot be read.
fn parse_stack(text: Option<&String>) -> Result<Vec<u32>, String> {
    match text {
        None => Ok(Vec::new()),
        Some(text) if text.is_empty() => Ok(Vec::new()),
        Some(text) => UpgradeStack::from_json(text)
            .map(|stack| stack.as_slice().to_vec())
            .map_err(|err| err.to_string()),
    }
}

/// How many hooks (or steps) settling runs before it gives up.
const SETTLE_LIMIT: u32 = 10_000;

impl Cluster {
    /// How to deploy `units` units numbered from 0; see [`ClusterBuilder`] for the defaults.
    pub fn builder(units: u32) -> ClusterBuilder {
        ClusterBuilder {
            units,
            leader: 0,
            revisions: howto_revisions(),
            revision: ORIGINAL_REVISION,
            report_versions: false,
            pause: None,
            check_failure: None,
            keep_logs: true,
        }
    }

    /// `count` units numbered from 0 of a v0 charm, deployed at `revision` with `leader`
    /// leading, the relation about to be created on each.
    pub fn deploy(count: u32, leader: u32, revisions: &[(u32, Revision)], revision: u32) -> Self {
        Cluster::builder(count)
            .leader(leader)
            .revisions(revisions)
            .revision(revision)
            .deploy()
    }

    // ----- what an operator or a test reads -----

    /// A unit's committed `state`.
    pub fn state(&self, unit: u32) -> Option<&str> {
        self.value(unit, STATE_KEY)
    }

    /// A committed value in a unit's bag.
    pub fn value(&self, unit: u32, key: &str) -> Option<&str> {
        self.unit_bags
            .get(&unit)
            .and_then(|bag| bag.get(key))
            .map(String::as_str)
    }

    /// A committed value in the application bag.
    pub fn app_value(&self, key: &str) -> Option<&str> {
        self.app_bag.get(key).map(String::as_str)
    }

    /// The committed upgrade stack, bottom first (empty if absent or unreadable).
    pub fn stack(&self) -> Vec<u32> {
        parse_stack(self.app_bag.get(STACK_KEY)).unwrap_or_default()
    }

    /// The committed `dependencies` baseline.
    pub fn dependencies(&self) -> Option<&str> {
        self.app_bag.get(DEPENDENCIES_KEY).map(String::as_str)
    }

    /// A unit's workload status (`None` for a removed unit or one that never set one).
    pub fn status(&self, unit: u32) -> Option<&Status> {
        self.units.get(&unit).and_then(|sim| sim.status.as_ref())
    }

    /// The `pause-after-unit-refresh` setting.
    pub fn pause_setting(&self) -> Option<&str> {
        self.pause.as_deref()
    }

    /// Live units whose committed state is `failed`.
    pub fn failed_units(&self) -> Vec<u32> {
        self.units
            .keys()
            .copied()
            .filter(|&unit| self.state(unit) == Some("failed"))
            .collect()
    }

    /// The units whose workload was upgraded or rolled back, in order.
    pub fn upgrade_order(&self) -> Vec<u32> {
        self.upgrades.iter().map(|record| record.unit).collect()
    }

    /// Whether `unit` is running a hook or an action right now.
    pub fn is_busy(&self, unit: u32) -> bool {
        self.units
            .get(&unit)
            .is_some_and(|sim| sim.in_flight.is_some())
    }

    /// What `unit` is running right now.
    pub fn running(&self, unit: u32) -> Option<Task> {
        self.units
            .get(&unit)
            .and_then(|sim| sim.in_flight.as_ref())
            .map(|flight| flight.task)
    }

    /// The units running a hook or an action right now.
    pub fn busy_units(&self) -> Vec<u32> {
        self.units
            .iter()
            .filter(|(_, sim)| sim.in_flight.is_some())
            .map(|(&unit, _)| unit)
            .collect()
    }

    /// The units that have a hook to start (queued or to retry) and are not running one.
    pub fn ready_units(&self) -> Vec<u32> {
        self.units
            .keys()
            .copied()
            .filter(|&unit| self.next_hook(unit).is_some())
            .collect()
    }

    /// Whether `unit` has a hook to start now.
    pub fn has_hook(&self, unit: u32) -> bool {
        self.next_hook(unit).is_some()
    }

    /// No hook or action is running and no hook is queued.
    pub fn is_quiet(&self) -> bool {
        self.units
            .values()
            .all(|sim| sim.in_flight.is_none() && next_hook_of(sim).is_none())
    }

    /// Every unit is idle and active, and the stack is empty.
    pub fn all_idle_and_active(&self) -> bool {
        self.stack().is_empty()
            && self.units.keys().all(|&unit| {
                self.state(unit) == Some("idle")
                    && self.status(unit).map(|s| s.kind) == Some(StatusKind::Active)
            })
    }

    /// Every unit idle and active on `revision`'s charm and workload, the stack empty, and no
    /// violation; otherwise what is not so.
    pub fn healthy_at(&self, revision: u32) -> Result<(), String> {
        let Some(workload) = self.revisions.get(&revision).map(|r| &r.workload) else {
            return Err(format!("revision {revision} is not defined"));
        };
        if !self.stack().is_empty() {
            return Err(format!("stack {:?}", self.stack()));
        }
        for (&unit, sim) in &self.units {
            if self.state(unit) != Some("idle")
                || sim.status.as_ref().map(|s| s.kind) != Some(StatusKind::Active)
                || &sim.workload != workload
                || sim.revision != revision
            {
                return Err(format!(
                    "unit {unit}: state {:?}, status {:?}, workload {}, revision {}",
                    self.state(unit),
                    sim.status,
                    sim.workload,
                    sim.revision
                ));
            }
        }
        if !self.violations.is_empty() {
            let breaches: Vec<String> = self.violations.iter().map(ToString::to_string).collect();
            return Err(format!("{breaches:?}"));
        }
        Ok(())
    }

    /// Whether `unit` logged a line containing `needle` at `level`.
    pub fn logged(&self, unit: u32, level: LogLevel, needle: &str) -> bool {
        self.units.get(&unit).is_some_and(|sim| {
            sim.log
                .iter()
                .any(|(l, message)| *l == level && message.contains(needle))
        })
    }

    /// How many `upgrade_unit` calls have happened, across all units.
    pub fn upgrade_calls(&self) -> u32 {
        self.upgrade_calls
    }

    // ----- what an operator does -----

    /// `juju refresh`: every unit will get `upgrade-charm` with the new revision (coalesced with
    /// one still queued, as Juju runs one `upgrade-charm` with the latest charm).
    pub fn refresh(&mut self, revision: u32) {
        self.app_revision = revision;
        for sim in self.units.values_mut() {
            sim.pending_upgrade_charm = true;
        }
    }

    /// `juju config mysql pause-after-unit-refresh=...` (`None` removes the option): every
    /// unit will get `config-changed`; hooks and actions begun from now on read the new value.
    pub fn set_pause_setting(&mut self, setting: Option<&str>) {
        self.pause = setting.map(str::to_owned);
        for sim in self.units.values_mut() {
            sim.pending_config_changed = true;
        }
    }

    /// Makes the charm's pre-upgrade health check fail with `cause` (or pass, with `None`).
    pub fn set_health_check_failure(&mut self, cause: Option<&str>) {
        self.check_failure = cause.map(str::to_owned);
    }

    /// `juju run <unit> pre-upgrade-check`, run to completion at once.
    pub fn run_pre_upgrade_check(&mut self, unit: u32) -> ActionOutcome {
        self.run_action(unit, Event::PreUpgradeCheck)
    }

    /// `juju run <unit> <action>`, run to completion at once; see [`Self::begin_action`].
    pub fn run_action(&mut self, unit: u32, action: Event) -> ActionOutcome {
        let outcome = self.begin_action(unit, action);
        self.commit(unit);
        outcome
    }

    /// Starts `action` on `unit` and leaves it running, as a hook is left running by
    /// [`Self::begin`]: its outcome is known at once, its bag writes are committed by
    /// [`Self::commit`] (an action that calls `action-fail` still commits them). An action
    /// never overlaps a hook on the same unit: one running there is committed first. It may
    /// run while that unit has a failed hook to retry.
    pub fn begin_action(&mut self, unit: u32, action: Event) -> ActionOutcome {
        if !self.units.contains_key(&unit) {
            return ActionOutcome {
                failed: Some(format!("mysql/{unit} is not a unit of the application")),
                ..ActionOutcome::default()
            };
        }
        self.commit(unit);
        let task = Task::Action(action);
        let run = self.run_core(unit, action, &task.name());
        let outcome = ActionOutcome::of(&run.effects);
        let flight = run.into_flight(task, false);
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.in_flight = Some(flight);
        }
        outcome
    }

    /// Scripts the outcomes of `unit`'s next upgrades (`true` fails); nothing for a unit that
    /// does not exist.
    pub fn script_failures(&mut self, unit: u32, outcomes: &[bool]) {
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.failures.extend(outcomes);
        }
    }

    /// Makes the `upgrade_unit` calls at these offsets from now fail, whichever unit makes them
    /// (0 is the next call).
    pub fn fail_upgrade_calls(&mut self, offsets: impl IntoIterator<Item = u32>) {
        let now = self.upgrade_calls;
        self.failing_calls
            .extend(offsets.into_iter().map(|offset| now.saturating_add(offset)));
    }

    // ----- faults -----

    /// Leadership moves to `unit`: it gets `leader-elected`; a hook the old leader began as
    /// leader and that wrote the app bag will fail to commit. Nothing for a unit that is gone.
    pub fn move_leader(&mut self, unit: u32) {
        if self.leader == unit || !self.units.contains_key(&unit) {
            return;
        }
        self.leader = unit;
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.pending_leader_elected = true;
        }
    }

    /// `juju remove-unit --force`: the unit goes at once (a running hook is lost), its bag goes
    /// with it and every other unit runs `upgrade-relation-departed`. If it was the leader, the
    /// lowest remaining unit becomes leader.
    pub fn remove_unit(&mut self, unit: u32) {
        if self.units.remove(&unit).is_none() {
            return;
        }
        self.removed.insert(unit);
        self.unit_bags.remove(&unit);
        self.completed_this_round.remove(&unit);
        for sim in self.units.values_mut() {
            sim.pending_changed.remove(&Source::Unit(unit));
            if sim.members.contains(&unit) {
                sim.pending_departed.insert(unit);
            }
        }
        if self.leader == unit {
            if let Some(&next) = self.units.keys().next() {
                self.move_leader(next);
            }
        }
    }

    /// A hostile or buggy peer: `source` commits `value` under `key` in its bag (a unit writes
    /// only its own bag; the app bag stands for the leader's) outside the upgrade protocol,
    /// and the others hear of it as of any commit. From then on, units blocking on invalid
    /// peer data are expected and not recorded as violations.
    pub fn tamper(&mut self, source: Source, key: &str, value: &str) {
        self.tampered = true;
        let bag = match source {
            Source::App => &mut self.app_bag,
            Source::Unit(unit) => self.unit_bags.entry(unit).or_default(),
        };
        put(bag, key.to_owned(), value.to_owned());
        for (&other, sim) in self.units.iter_mut() {
            match source {
                Source::App => {
                    if other != self.leader {
                        sim.pending_changed.insert(Source::App);
                    }
                }
                Source::Unit(unit) => {
                    if other != unit && sim.members.contains(&unit) {
                        sim.pending_changed.insert(Source::Unit(unit));
                    }
                }
            }
        }
    }

    /// The next hook `unit` begins exits non-zero when it ends (see [`Self::fail_hook`]).
    pub fn fail_next_hook(&mut self, unit: u32) {
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.fail_next_hook = true;
        }
    }

    // ----- hook delivery -----

    /// The hook `unit` would start next, if it is not running a hook or an action.
    pub fn next_hook(&self, unit: u32) -> Option<Hook> {
        self.units.get(&unit).and_then(|sim| {
            if sim.in_flight.is_some() {
                None
            } else {
                next_hook_of(sim)
            }
        })
    }

    /// Starts `unit`'s next hook: takes it off the queue and runs the core on the unit's view.
    /// Returns whether a hook started.
    pub fn begin(&mut self, unit: u32) -> bool {
        let Some(hook) = self.next_hook(unit) else {
            return false;
        };
        let app_revision = self.app_revision;
        let Some(sim) = self.units.get_mut(&unit) else {
            return false;
        };
        let retrying = sim.retry == Some(hook);
        sim.retry = None;
        match hook {
            Hook::RelationCreated => sim.pending_created = false,
            Hook::LeaderElected => sim.pending_leader_elected = false,
            Hook::ConfigChanged => sim.pending_config_changed = false,
            Hook::UpgradeCharm => {
                // A retried upgrade-charm keeps the charm it started with: Juju re-runs the
                // failed hook before it delivers the newer charm.
                if !retrying {
                    sim.pending_upgrade_charm = false;
                    sim.revision = app_revision;
                }
            }
            Hook::RelationDeparted(gone) => {
                sim.pending_departed.remove(&gone);
                sim.members.remove(&gone);
                sim.cache.remove(&gone);
            }
            Hook::RelationChanged(source) => {
                sim.pending_changed.remove(&source);
                if let Source::Unit(remote) = source {
                    let committed = self.unit_bags.get(&remote).cloned().unwrap_or_default();
                    sim.cache.insert(remote, committed);
                }
            }
        }
        let fails = std::mem::take(&mut sim.fail_next_hook);
        let flight = self
            .run_core(unit, hook.core_event(), &hook.name())
            .into_flight(Task::Hook(hook), fails);
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.in_flight = Some(flight);
        }
        true
    }

    /// Ends `unit`'s running hook or action with exit code 0: commits its bag writes and queues
    /// `relation-changed` on the others. It fails instead if it was begun as leader, wrote the
    /// app bag and leadership moved meanwhile (Juju refuses a former leader's app bag writes),
    /// or if it was set to fail ([`Self::fail_next_hook`]).
    pub fn commit(&mut self, unit: u32) {
        let Some(flight) = self.units.get_mut(&unit).and_then(|s| s.in_flight.take()) else {
            return;
        };
        let lost_leadership = flight.as_leader && self.leader != unit && flight.wrote_app();
        if flight.fails || lost_leadership {
            self.interrupt(unit, flight, false);
            return;
        }
        if let (Task::Hook(_), Some(sim)) = (flight.task, self.units.get_mut(&unit)) {
            sim.in_error = false;
        }
        let stack_before = self.stack();
        let prepared = flight.task == Task::Action(Event::PreUpgradeCheck);
        let check_failed = flight.action_failed;
        self.apply_writes(unit, flight);
        if prepared {
            if !check_failed {
                self.completed_this_round.clear();
            } else if self.stack() != stack_before {
                self.violations
                    .push(Violation::FailedCheckChangedStack { unit });
            }
        }
    }

    /// Ends `unit`'s running hook with a non-zero exit: its bag writes are dropped, its
    /// statuses and workload changes stay, and the unit shows `error` and retries the hook
    /// before anything else. A running action so ended fails with its writes dropped; it is
    /// not retried.
    pub fn fail_hook(&mut self, unit: u32) {
        if let Some(flight) = self.units.get_mut(&unit).and_then(|s| s.in_flight.take()) {
            self.interrupt(unit, flight, false);
        }
    }

    /// Kills `unit`'s agent in the middle of its running hook: as [`Self::fail_hook`], except
    /// that a workload upgrade in progress is left half done (`stopped`), and the restarted
    /// agent runs the hook again without showing an error. A running action is ended as by
    /// [`Self::fail_hook`].
    pub fn kill_agent(&mut self, unit: u32) {
        if let Some(flight) = self.units.get_mut(&unit).and_then(|s| s.in_flight.take()) {
            let killed = matches!(flight.task, Task::Hook(_));
            self.interrupt(unit, flight, killed);
        }
    }

    fn interrupt(&mut self, unit: u32, flight: InFlight, killed: bool) {
        let Some(sim) = self.units.get_mut(&unit) else {
            return;
        };
        if let Task::Hook(hook) = flight.task {
            sim.retry = Some(hook);
            sim.in_error = !killed;
        }
        if flight.upgraded {
            if killed {
                // Half done: the workload stays down until the re-run hook finishes it.
                sim.workload = "stopped".into();
            } else {
                // The hook failed after the workload change had run to its end: nothing is
                // being changed any more, only its record was lost.
                sim.workload_in_flux = false;
            }
        }
    }

    /// Runs every queued hook to completion, one at a time, lowest unit number first (running
    /// actions stay running, and their units wait).
    pub fn settle(&mut self) {
        if !self.drain_until(|_| false) {
            self.violations.push(Violation::DidNotSettle {
                limit: SETTLE_LIMIT,
                counting: "hooks",
            });
        }
    }

    /// As [`Self::run_until`], returning whether it stopped within the limit.
    fn drain_until(&mut self, done: impl Fn(&Cluster) -> bool) -> bool {
        for _ in 0..SETTLE_LIMIT {
            if done(self) {
                return true;
            }
            let Some(unit) = self.ready_units().first().copied() else {
                return true;
            };
            self.begin(unit);
            self.commit(unit);
        }
        false
    }

    /// Runs queued hooks one at a time, lowest unit first, until `done` holds (checked before
    /// each hook) or nothing is left to run. Returns whether `done` holds.
    pub fn run_until(&mut self, done: impl Fn(&Cluster) -> bool) -> bool {
        self.drain_until(&done);
        done(self)
    }

    /// Runs `unit`'s next queued hook to its end; returns the event it handled.
    pub fn run_next(&mut self, unit: u32) -> Option<Event> {
        let event = self.next_hook(unit).map(Hook::core_event);
        if self.begin(unit) {
            self.commit(unit);
        }
        event
    }

    /// Runs queued hooks until quiet, choosing at each step (by `choices`, then the first
    /// option) whether to begin a hook on some idle unit or commit some running hook or
    /// action.
    pub fn settle_randomly(&mut self, choices: &mut impl Iterator<Item = u32>) {
        for _ in 0..SETTLE_LIMIT {
            let mut options: Vec<(bool, u32)> = Vec::new();
            for &unit in self.units.keys() {
                if self.is_busy(unit) {
                    options.push((false, unit));
                } else if self.next_hook(unit).is_some() {
                    options.push((true, unit));
                }
            }
            if options.is_empty() {
                return;
            }
            let pick = choices.next().unwrap_or(0) as usize % options.len();
            let (begin, unit) = options[pick];
            if begin {
                self.begin(unit);
            } else {
                self.commit(unit);
            }
        }
        self.violations.push(Violation::DidNotSettle {
            limit: SETTLE_LIMIT,
            counting: "steps",
        });
    }

    /// What `unit` reads first, as the charm does: its own bag and the application bag
    /// (committed), and the units its agent has seen join.
    fn own_and_app(&self, unit: u32) -> PeerSnapshot {
        let members = self
            .units
            .get(&unit)
            .map(|sim| sim.members.clone())
            .unwrap_or_default();
        PeerSnapshot::own_and_app(
            self.app.clone(),
            unit,
            unit == self.leader,
            members,
            self.unit_bags.get(&unit).cloned().unwrap_or_default(),
            self.app_bag.clone(),
        )
    }

    /// Runs the core for `event` on `unit` (`during` names the hook or action in violations),
    /// applying immediate effects (statuses, logs, the workload) and checking the upgrade
    /// rules; returns the writes to commit and every effect.
    fn run_core(&mut self, unit: u32, event: Event, during: &str) -> CoreRun {
        let Some(sim) = self.units.get(&unit) else {
            return CoreRun::default();
        };
        let revisions = Arc::clone(&self.revisions);
        let Some(revision) = revisions.get(&sim.revision) else {
            self.violations.push(Violation::UnknownRevision {
                unit,
                revision: sim.revision,
            });
            return CoreRun::default();
        };
        let own_and_app = self.own_and_app(unit);
        // As the charm reads: its own bag and the application bag first, the others' (the
        // agent's copies of the units it has seen join) only when the core asks for them.
        let units_seen = own_and_app.app_units().len() as u64;
        let charm = Charm {
            unit,
            revision: sim.revision,
            model: &revision.model,
            pin: &revision.workload,
            workload: sim.workload.clone(),
            reports_versions: self.report_versions,
            pause: self.pause.as_deref(),
            check_failure: self.check_failure.as_deref(),
            upgrade_fails: self.failing_calls.contains(&self.upgrade_calls)
                || sim.failures.front().copied().unwrap_or(false),
            author: self.author.as_ref(),
        };
        let agent_revision = sim.revision;
        let run = run_hook(&event, own_and_app, &sim.cache, charm);
        self.peer_reads.count(units_seen, run.read_every_unit);

        let committed_top = self.stack().last().copied();
        let as_leader = unit == self.leader;
        let tampered = self.tampered;
        let keep_logs = self.keep_logs;
        let mut violations = Vec::new();
        let mut writes = Vec::new();
        let mut app_status = None;
        let mut forced_completion = false;
        let Some(sim) = self.units.get_mut(&unit) else {
            return CoreRun::default();
        };
        for effect in &run.effects {
            match effect {
                Effect::UnitStatus(status) => {
                    if !tampered
                        && status.kind == StatusKind::Blocked
                        && status.message.starts_with(messages::DATA_INVALID_PREFIX)
                    {
                        violations.push(Violation::BlockedOnValidData {
                            unit,
                            during: during.to_owned(),
                            message: status.message.clone(),
                        });
                    }
                    sim.status = Some(status.clone());
                }
                Effect::AppStatus(status) => {
                    if !as_leader {
                        violations.push(Violation::NonLeaderSetAppStatus { unit });
                    }
                    app_status = Some(status.clone());
                }
                Effect::WorkloadVersion(version) => sim.published_version = Some(version.clone()),
                Effect::Log { level, message } => {
                    if message.contains("did not settle within their step budget") {
                        violations.push(Violation::StepBudget {
                            unit,
                            during: during.to_owned(),
                        });
                    }
                    if keep_logs {
                        sim.log.push((*level, message.clone()));
                    }
                }
                Effect::SetUnit { key, value } => {
                    // `force-upgrade` accepting a failed unit completes it.
                    forced_completion |= matches!(event, Event::ForceUpgrade { .. })
                        && key == STATE_KEY
                        && value == "completed";
                    writes.push(Write::Unit {
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
                Effect::SetApp { key, value } => {
                    if !as_leader {
                        violations.push(Violation::NonLeaderWroteAppBag {
                            unit,
                            during: during.to_owned(),
                        });
                    }
                    writes.push(Write::App {
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
                _ => {}
            }
        }
        sim.workload = run.workload.clone();
        let upgraded = run.upgraded.is_some();
        let succeeded = run.upgraded.as_ref().is_some_and(|record| !record.failed);
        if let Some(record) = run.upgraded {
            sim.failures.pop_front();
            sim.workload_in_flux = true;
            self.upgrade_calls = self.upgrade_calls.saturating_add(1);
            // The view is the committed app bag read at the start of the hook plus this hook's
            // own writes (a leader may pop a completed top and then upgrade itself).
            if run.top_at_upgrade != Some(unit) {
                violations.push(Violation::UpgradedOutOfTurn {
                    unit,
                    top_in_view: run.top_at_upgrade,
                    committed_top,
                });
            }
            if agent_revision > self.app_revision {
                violations.push(Violation::InstalledAfterRefreshBack {
                    unit,
                    revision: agent_revision,
                    workload: record.to.clone(),
                    app_revision: self.app_revision,
                });
            }
            let others: Vec<u32> = self
                .units
                .iter()
                .filter(|(&other, s)| {
                    other != unit
                        && (s.workload_in_flux || s.in_flight.as_ref().is_some_and(|f| f.upgraded))
                })
                .map(|(&other, _)| other)
                .collect();
            if !others.is_empty() {
                violations.push(Violation::UpgradedWhileOthersChanging { unit, others });
            }
            self.upgrades.push(record);
        }
        if app_status.is_some() {
            self.app_status = app_status;
        }
        self.violations.extend(violations);
        CoreRun {
            writes,
            as_leader,
            upgraded,
            succeeded,
            forced_completion,
            effects: run.effects,
        }
    }

    /// Commits a finished hook's or action's writes and fans out `relation-changed`.
    fn apply_writes(&mut self, unit: u32, flight: InFlight) {
        let own_before = self.unit_bags.get(&unit).cloned().unwrap_or_default();
        let app_before = self.app_bag.clone();
        let stack_before = self.stack();
        let wrote_stack = flight
            .writes
            .iter()
            .any(|w| matches!(w, Write::App { key, .. } if key == STACK_KEY));
        // A workload change ends with its hook; one `force-upgrade` accepted is over too (no
        // re-run hook will finish it).
        if flight.upgraded || flight.forced_completion {
            if let Some(sim) = self.units.get_mut(&unit) {
                sim.workload_in_flux = false;
            }
        }
        if flight.succeeded || flight.forced_completion {
            self.completed_this_round.insert(unit);
        }
        for write in flight.writes {
            match write {
                Write::Unit { key, value } => {
                    let bag = self.unit_bags.entry(unit).or_default();
                    put(bag, key, value);
                }
                Write::App { key, value } => put(&mut self.app_bag, key, value),
            }
        }
        let stack_after = match parse_stack(self.app_bag.get(STACK_KEY)) {
            Ok(stack) => stack,
            Err(error) if wrote_stack => {
                self.violations
                    .push(Violation::UnreadableStack { unit, error });
                Vec::new()
            }
            // Unreadable since a peer tampered with it; this hook did not write it.
            Err(_) => stack_before.clone(),
        };
        for &gone in stack_before.iter().filter(|u| !stack_after.contains(u)) {
            if self.units.contains_key(&gone) && !self.completed_this_round.contains(&gone) {
                self.violations.push(Violation::LeftStackIncomplete {
                    unit: gone,
                    state: self.state(gone).map(str::to_owned),
                });
            }
        }
        for entered in stack_after.iter().filter(|u| !stack_before.contains(u)) {
            self.completed_this_round.remove(entered);
        }
        let upgrading: Vec<u32> = self
            .units
            .keys()
            .copied()
            .filter(|&u| self.state(u) == Some("upgrading"))
            .collect();
        if upgrading.len() > 1 {
            self.violations
                .push(Violation::UpgradingTogether { units: upgrading });
        }
        let own_changed = self.unit_bags.get(&unit).cloned().unwrap_or_default() != own_before;
        let app_changed = self.app_bag != app_before;
        for (&other, sim) in self.units.iter_mut() {
            if other == unit {
                continue;
            }
            if own_changed && sim.members.contains(&unit) {
                sim.pending_changed.insert(Source::Unit(unit));
            }
            if app_changed {
                sim.pending_changed.insert(Source::App);
            }
        }
    }

    /// Feeds everything that decides the cluster's future into `state`: two clusters with the
    /// same fingerprint behave the same from here on. History (logs, upgrade records,
    /// violations, published versions) is left out.
    pub fn fingerprint<H: Hasher>(&self, state: &mut H) {
        self.leader.hash(state);
        self.removed.hash(state);
        self.app_bag.hash(state);
        self.unit_bags.hash(state);
        self.app_status.hash(state);
        self.app_revision.hash(state);
        self.report_versions.hash(state);
        self.pause.hash(state);
        self.check_failure.hash(state);
        self.tampered.hash(state);
        self.completed_this_round.hash(state);
        // Only the failures still to come, relative to now.
        for call in self.failing_calls.range(self.upgrade_calls..) {
            (call - self.upgrade_calls).hash(state);
        }
        u32::MAX.hash(state);
        for (unit, sim) in &self.units {
            unit.hash(state);
            sim.revision.hash(state);
            sim.workload.hash(state);
            sim.status.hash(state);
            sim.pending_created.hash(state);
            sim.pending_leader_elected.hash(state);
            sim.pending_upgrade_charm.hash(state);
            sim.pending_config_changed.hash(state);
            sim.pending_departed.hash(state);
            sim.pending_changed.hash(state);
            sim.retry.hash(state);
            sim.in_error.hash(state);
            sim.fail_next_hook.hash(state);
            sim.members.hash(state);
            sim.cache.hash(state);
            sim.failures.hash(state);
            sim.workload_in_flux.hash(state);
            sim.in_flight.hash(state);
        }
    }
}

/// The next hook of an agent that is not running one, in the Juju scheduler's order: a hook to
/// retry, relation-created, leader-elected, upgrade-charm, config-changed, departed, changed
/// (app first).
fn next_hook_of(sim: &SimUnit) -> Option<Hook> {
    if let Some(hook) = sim.retry {
        Some(hook)
    } else if sim.pending_created {
        Some(Hook::RelationCreated)
    } else if sim.pending_leader_elected {
        Some(Hook::LeaderElected)
    } else if sim.pending_upgrade_charm {
        Some(Hook::UpgradeCharm)
    } else if sim.pending_config_changed {
        Some(Hook::ConfigChanged)
    } else if let Some(&gone) = sim.pending_departed.iter().next() {
        Some(Hook::RelationDeparted(gone))
    } else {
        sim.pending_changed
            .iter()
            .next()
            .map(|&source| Hook::RelationChanged(source))
    }
}

fn put(bag: &mut Bag, key: String, value: String) {
    if value.is_empty() {
        bag.remove(&key);
    } else {
        bag.insert(key, value);
    }
}
