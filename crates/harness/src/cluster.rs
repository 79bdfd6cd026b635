//! A small, deterministic, in-process model of one Juju application running the upgrade core.
//!
//! It keeps the committed peer databags and delivers hooks the Juju way (juju-contract §3-§4):
//! - a hook reads the app bag fresh, its own bag, and a per-unit cache of the other units' bags
//!   that is refreshed only when a `relation-changed` for that unit starts;
//! - bag writes are committed when the hook ends; statuses apply at once;
//! - a commit that changes a unit bag queues `relation-changed` on every *other* unit, a change
//!   to the app bag queues one on every unit except the writing leader; queued changes from the
//!   same source coalesce;
//! - a unit runs one hook at a time, but hooks of different units may overlap: a hook is begun
//!   (decisions made, workload touched) and committed later, so other units can run in between
//!   on stale data, as with real concurrent agents;
//! - faults: a hook that exits non-zero ([`Cluster::fail_hook`]) or whose agent is killed
//!   ([`Cluster::kill_agent`]) loses its bag writes, keeps its statuses and whatever it did to
//!   the workload, and runs again before anything else on that unit; leadership moves
//!   ([`Cluster::move_leader`]: the new leader gets `leader-elected`, and a hook begun as leader
//!   that wrote the app bag fails to commit); a unit is removed ([`Cluster::remove_unit`]: its
//!   bag goes, the others run `relation-departed`); the application is refreshed again
//!   ([`Cluster::refresh`] while units are upgrading).
//!
//! It checks the safety rules on every transition and records any breach in `violations`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use juju_upgrade::{
    handle, handle_own_and_app, messages, Bag, CharmVersions, ClusterNotReady, DependencyModel,
    Effect, Event, Handled, LogLevel, PeerSnapshot, Status, StatusKind, UpgradeFailed,
    UpgradeHooks, UpgradeStack, DEPENDENCIES_KEY, STACK_KEY, STATE_KEY,
};

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
            Hook::RelationDeparted(unit) => format!("upgrade-relation-departed (mysql/{unit})"),
            Hook::RelationChanged(Source::App) => "upgrade-relation-changed (app)".into(),
            Hook::RelationChanged(Source::Unit(unit)) => {
                format!("upgrade-relation-changed (mysql/{unit})")
            }
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
    /// `upgrade-relation-departed` is queued for these units.
    pub pending_departed: BTreeSet<u32>,
    /// `upgrade-relation-changed` is queued for these sources (coalesced).
    pub pending_changed: BTreeSet<Source>,
    /// A hook that exited non-zero or was interrupted: it runs again before anything else.
    pub retry: Option<Hook>,
    /// The unit shows `error` (its last hook failed) until a hook succeeds.
    pub in_error: bool,
    /// The peers this agent knows (its `relation-list`, plus itself).
    pub members: BTreeSet<u32>,
    /// This agent's cached copies of the other units' bags.
    pub cache: BTreeMap<u32, Bag>,
    /// Scripted outcomes of the next `upgrade_unit` calls: `true` fails; empty means succeed.
    pub failures: VecDeque<bool>,
    /// Log lines, when the cluster keeps them.
    pub log: Vec<(LogLevel, String)>,
    /// The workload is being changed: by a running hook, or left half done by a killed agent
    /// until the re-run hook finishes it.
    pub workload_in_flux: bool,
    in_flight: Option<InFlight>,
}

/// A bag write of a running hook, committed when the hook ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Write {
    Unit { key: String, value: String },
    App { key: String, value: String },
}

/// A hook that has run its decisions but not yet committed its bag writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InFlight {
    hook: Hook,
    writes: Vec<Write>,
    /// The hook started while this unit was the leader.
    as_leader: bool,
    /// The hook upgraded (or rolled back) the workload ...
    upgraded: bool,
    /// ... and that succeeded.
    succeeded: bool,
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
    effects: Vec<Effect>,
}

impl CoreRun {
    fn into_flight(self, hook: Hook) -> InFlight {
        InFlight {
            hook,
            writes: self.writes,
            as_leader: self.as_leader,
            upgraded: self.upgraded,
            succeeded: self.succeeded,
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
}

/// The hooks a unit runs with: its current revision's model and pin, and a fake workload.
struct SimHooks {
    /// What the charm reports of itself (empty: v0 behaviour).
    versions: CharmVersions,
    model: DependencyModel,
    pin: String,
    workload: String,
    fail: bool,
    upgraded: Option<UpgradeRecord>,
    /// The stack top in the view the core handed to `upgrade_unit`.
    top_at_upgrade: Option<u32>,
    unit: u32,
}

impl UpgradeHooks for SimHooks {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }

    fn this_charm(&self) -> CharmVersions {
        self.versions.clone()
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        Ok(())
    }

    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.top_at_upgrade = view.upgrade_stack().ok().and_then(|stack| stack.top());
        let from = self.workload.clone();
        progress("stopping services..");
        progress("upgrading snap...");
        self.upgraded = Some(UpgradeRecord {
            unit: self.unit,
            from,
            to: self.pin.clone(),
            failed: self.fail,
        });
        if self.fail {
            self.workload = "broken".into();
            return Err(UpgradeFailed {
                cause: "Failed to start MySQL server after snap refresh".into(),
            });
        }
        progress("starting services...");
        self.workload = self.pin.clone();
        Ok(())
    }

    fn workload_version(&mut self, _: &PeerSnapshot) -> Option<String> {
        Some(self.workload.clone())
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
    /// The charm revisions that exist.
    pub revisions: Arc<BTreeMap<u32, Revision>>,
    /// The application's charm revision (the last `juju refresh`).
    pub app_revision: u32,
    /// Every workload upgrade or rollback, in the order they started.
    pub upgrades: Vec<UpgradeRecord>,
    /// Breaches of the safety rules seen while running.
    pub violations: Vec<String>,
    /// Whether log lines are kept (tests read them; the explorer does not need them).
    pub keep_logs: bool,
    /// Whether the charm reports its versions (charm revision and pinned workload), which turns
    /// on what the core does beyond v0; otherwise the core keeps v0's behaviour.
    pub report_versions: bool,
    /// Units whose upgrade succeeded since the last successful `pre-upgrade-check` (a new stack
    /// or a recovery).
    completed_this_round: BTreeSet<u32>,
    /// `upgrade_unit` calls so far, across all units.
    upgrade_calls: u32,
    /// Indices of `upgrade_unit` calls (counted across all units) that fail.
    failing_calls: BTreeSet<u32>,
    /// Peer data was written outside the protocol ([`Cluster::tamper`]).
    tampered: bool,
    /// How the hooks and actions run so far read the peer relation.
    pub peer_reads: PeerReads,
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

impl Cluster {
    /// `count` units numbered from 0, deployed at `revision`, with the relation about to be
    /// created on each.
    ///
    /// # Panics
    ///
    /// If `revision` is not among `revisions` or `leader` is not below `count`.
    pub fn deploy(count: u32, leader: u32, revisions: &[(u32, Revision)], revision: u32) -> Self {
        let revisions: BTreeMap<u32, Revision> = revisions.iter().cloned().collect();
        assert!(
            leader < count,
            "leader {leader} is not one of {count} units"
        );
        let workload = revisions
            .get(&revision)
            .unwrap_or_else(|| panic!("revision {revision} is not defined"))
            .workload
            .clone();
        let members: BTreeSet<u32> = (0..count).collect();
        let units = (0..count)
            .map(|unit| {
                let sim = SimUnit {
                    revision,
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
            leader,
            units,
            removed: BTreeSet::new(),
            app_bag: Bag::new(),
            unit_bags: BTreeMap::new(),
            revisions: Arc::new(revisions),
            app_revision: revision,
            upgrades: Vec::new(),
            violations: Vec::new(),
            keep_logs: true,
            report_versions: false,
            completed_this_round: BTreeSet::new(),
            upgrade_calls: 0,
            failing_calls: BTreeSet::new(),
            tampered: false,
            peer_reads: PeerReads::default(),
        }
    }

    // ----- what an operator or a test reads -----

    /// A unit's committed `state`.
    pub fn state(&self, unit: u32) -> Option<&str> {
        self.unit_bags
            .get(&unit)
            .and_then(|bag| bag.get(STATE_KEY))
            .map(String::as_str)
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

    /// Live units whose committed state is `failed`.
    pub fn failed_units(&self) -> Vec<u32> {
        self.units
            .keys()
            .copied()
            .filter(|&unit| self.state(unit) == Some("failed"))
            .collect()
    }

    /// Whether `unit` is running a hook right now.
    pub fn is_busy(&self, unit: u32) -> bool {
        self.units
            .get(&unit)
            .is_some_and(|sim| sim.in_flight.is_some())
    }

    /// The units running a hook right now.
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

    /// No hook is running and none is queued.
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

    /// `juju run <unit> pre-upgrade-check`, run to completion at once (an action never overlaps
    /// a hook on the same unit; it may run while that unit has a failed hook to retry).
    ///
    /// # Panics
    ///
    /// If the unit is running a hook or does not exist.
    pub fn run_pre_upgrade_check(&mut self, unit: u32) -> ActionOutcome {
        assert!(
            self.units.get(&unit).is_some_and(|s| s.in_flight.is_none()),
            "unit {unit} is busy or gone"
        );
        let stack_before = self.stack();
        let run = self.run_core(unit, Event::PreUpgradeCheck, "pre-upgrade-check");
        let mut outcome = ActionOutcome::default();
        for effect in &run.effects {
            match effect {
                Effect::ActionFail(message) => outcome.failed = Some(message.clone()),
                Effect::ActionResult { key, value } => {
                    outcome.results.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        // An action that calls action-fail still commits its writes (juju-contract §3.1).
        self.apply_writes(unit, run.writes, run.upgraded, run.succeeded);
        if outcome.failed.is_none() {
            self.completed_this_round.clear();
        } else if self.stack() != stack_before {
            self.violations.push(format!(
                "a failed pre-upgrade-check on unit {unit} changed the stack"
            ));
        }
        outcome
    }

    /// Scripts the outcomes of `unit`'s next upgrades (`true` fails).
    ///
    /// # Panics
    ///
    /// If the unit does not exist.
    pub fn script_failures(&mut self, unit: u32, outcomes: &[bool]) {
        self.units
            .get_mut(&unit)
            .expect("known unit")
            .failures
            .extend(outcomes);
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
    /// leader and that wrote the app bag will fail to commit.
    ///
    /// # Panics
    ///
    /// If the unit does not exist.
    pub fn move_leader(&mut self, unit: u32) {
        assert!(self.units.contains_key(&unit), "unit {unit} is gone");
        if self.leader == unit {
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

    // ----- hook delivery -----

    /// The hook `unit` would start next, if it is not running one.
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
            Hook::UpgradeCharm => {
                // A retried upgrade-charm keeps the charm it started with (juju-contract §3.3).
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
        let flight = self
            .run_core(unit, hook.core_event(), &hook.name())
            .into_flight(hook);
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.in_flight = Some(flight);
        }
        true
    }

    /// Ends `unit`'s running hook with exit code 0: commits its bag writes and queues
    /// `relation-changed` on the others. A hook begun as leader that wrote the app bag fails
    /// instead if leadership moved meanwhile (juju-contract §3.1).
    pub fn commit(&mut self, unit: u32) {
        let Some(flight) = self.units.get_mut(&unit).and_then(|s| s.in_flight.take()) else {
            return;
        };
        if flight.as_leader && self.leader != unit && flight.wrote_app() {
            self.interrupt(unit, flight, false);
            return;
        }
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.in_error = false;
        }
        self.apply_writes(unit, flight.writes, flight.upgraded, flight.succeeded);
    }

    /// Ends `unit`'s running hook with a non-zero exit: its bag writes are dropped, its
    /// statuses and workload changes stay, and the unit shows `error` and retries the hook
    /// before anything else.
    pub fn fail_hook(&mut self, unit: u32) {
        if let Some(flight) = self.units.get_mut(&unit).and_then(|s| s.in_flight.take()) {
            self.interrupt(unit, flight, false);
        }
    }

    /// Kills `unit`'s agent in the middle of its running hook: as [`Self::fail_hook`], except
    /// that a workload upgrade in progress is left half done (`stopped`), and the restarted
    /// agent runs the hook again without showing an error.
    pub fn kill_agent(&mut self, unit: u32) {
        if let Some(flight) = self.units.get_mut(&unit).and_then(|s| s.in_flight.take()) {
            self.interrupt(unit, flight, true);
        }
    }

    fn interrupt(&mut self, unit: u32, flight: InFlight, killed: bool) {
        let Some(sim) = self.units.get_mut(&unit) else {
            return;
        };
        sim.retry = Some(flight.hook);
        sim.in_error = !killed;
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

    /// Runs every queued hook to completion, one at a time, lowest unit number first.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let Some(unit) = self.ready_units().first().copied() else {
                return;
            };
            self.begin(unit);
            self.commit(unit);
        }
        self.violations
            .push("did not settle within 10000 hooks".into());
    }

    /// Runs queued hooks until quiet, choosing at each step (by `choices`, then the first
    /// option) whether to begin a hook on some idle unit or commit some running one.
    pub fn settle_randomly(&mut self, choices: &mut impl Iterator<Item = u32>) {
        for _ in 0..10_000 {
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
        self.violations
            .push("did not settle within 10000 steps".into());
    }

    /// What `unit` reads first, as the charm does: its own bag and the application bag
    /// (committed), and the units its agent has seen join.
    fn own_and_app(&self, unit: u32) -> PeerSnapshot {
        let sim = &self.units[&unit];
        PeerSnapshot::own_and_app(
            self.app.clone(),
            unit,
            unit == self.leader,
            sim.members.clone(),
            self.unit_bags.get(&unit).cloned().unwrap_or_default(),
            self.app_bag.clone(),
        )
    }

    /// Runs the core for `event` on `unit` (`what` names the hook or action in violations),
    /// applying immediate effects (statuses, logs, the workload) and checking the upgrade
    /// rules; returns the writes to commit and every effect.
    fn run_core(&mut self, unit: u32, event: Event, what: &str) -> CoreRun {
        let partial = self.own_and_app(unit);
        let committed_top = self.stack().last().copied();
        let as_leader = unit == self.leader;
        let fail_by_schedule = self.failing_calls.contains(&self.upgrade_calls);
        let revisions = Arc::clone(&self.revisions);
        let keep_logs = self.keep_logs;
        let report_versions = self.report_versions;
        let tampered = self.tampered;
        let mut violations = Vec::new();
        let mut writes = Vec::new();
        let Some(sim) = self.units.get_mut(&unit) else {
            return CoreRun::default();
        };
        let Some(revision) = revisions.get(&sim.revision) else {
            self.violations.push(format!(
                "unit {unit} runs unknown revision {}",
                sim.revision
            ));
            return CoreRun::default();
        };
        let versions = if report_versions {
            CharmVersions::new(sim.revision.to_string(), revision.workload.clone())
        } else {
            CharmVersions::default()
        };
        let mut hooks = SimHooks {
            versions,
            model: revision.model.clone(),
            pin: revision.workload.clone(),
            workload: sim.workload.clone(),
            fail: fail_by_schedule || sim.failures.front().copied().unwrap_or(false),
            upgraded: None,
            top_at_upgrade: None,
            unit,
        };
        let mut effects = Vec::new();
        // As the charm reads: its own bag and the application bag first, the others' (the
        // agent's copies of the units it has seen join) only when the core asks for them.
        let units_seen = partial.app_units().len() as u64;
        let read_every_unit = match handle_own_and_app(&event, partial, &mut hooks, &mut effects) {
            Handled::Done => false,
            Handled::NeedsEveryUnit(partial) => {
                let others = sim.cache.iter().map(|(&other, bag)| (other, bag.clone()));
                handle(
                    &event,
                    partial.with_other_bags(others),
                    &mut hooks,
                    &mut effects,
                );
                true
            }
        };
        self.peer_reads.count(units_seen, read_every_unit);
        for effect in &effects {
            match effect {
                Effect::UnitStatus(status) => {
                    if !tampered
                        && status.kind == StatusKind::Blocked
                        && status.message.starts_with(messages::DATA_INVALID_PREFIX)
                    {
                        violations.push(format!(
                            "unit {unit} blocked on peer data nobody corrupted during {what}: {}",
                            status.message
                        ));
                    }
                    sim.status = Some(status.clone());
                }
                Effect::WorkloadVersion(version) => sim.published_version = Some(version.clone()),
                Effect::Log { level, message } => {
                    if message.contains("did not settle within their step budget") {
                        violations.push(format!(
                            "unit {unit} hit the core's step budget during {what}"
                        ));
                    }
                    if keep_logs {
                        sim.log.push((*level, message.clone()));
                    }
                }
                Effect::SetUnit { key, value } => writes.push(Write::Unit {
                    key: key.clone(),
                    value: value.clone(),
                }),
                Effect::SetApp { key, value } => {
                    if !as_leader {
                        violations
                            .push(format!("non-leader {unit} wrote the app bag during {what}"));
                    }
                    writes.push(Write::App {
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
                _ => {}
            }
        }
        sim.workload = hooks.workload.clone();
        let upgraded = hooks.upgraded.is_some();
        let succeeded = hooks.upgraded.as_ref().is_some_and(|record| !record.failed);
        if let Some(record) = hooks.upgraded {
            sim.failures.pop_front();
            sim.workload_in_flux = true;
            self.upgrade_calls = self.upgrade_calls.saturating_add(1);
            // The view is the committed app bag read at the start of the hook plus this hook's
            // own writes (a leader may pop a completed top and then upgrade itself).
            if hooks.top_at_upgrade != Some(unit) {
                violations.push(format!(
                    "unit {unit} upgraded while the stack top was {:?} in its view ({:?} committed)",
                    hooks.top_at_upgrade, committed_top
                ));
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
                violations.push(format!(
                    "unit {unit} upgraded while the workload of {others:?} was still being changed"
                ));
            }
            self.upgrades.push(record);
        }
        self.violations.extend(violations);
        CoreRun {
            writes,
            as_leader,
            upgraded,
            succeeded,
            effects,
        }
    }

    /// Commits a finished hook's writes and fans out `relation-changed`.
    fn apply_writes(&mut self, unit: u32, writes: Vec<Write>, upgraded: bool, succeeded: bool) {
        let own_before = self.unit_bags.get(&unit).cloned().unwrap_or_default();
        let app_before = self.app_bag.clone();
        let stack_before = self.stack();
        let wrote_stack = writes
            .iter()
            .any(|w| matches!(w, Write::App { key, .. } if key == STACK_KEY));
        if upgraded {
            if let Some(sim) = self.units.get_mut(&unit) {
                sim.workload_in_flux = false;
            }
        }
        if succeeded {
            self.completed_this_round.insert(unit);
        }
        for write in writes {
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
            Err(err) if wrote_stack => {
                self.violations
                    .push(format!("unit {unit} committed an unreadable stack: {err}"));
                Vec::new()
            }
            // Unreadable since a peer tampered with it; this hook did not write it.
            Err(_) => stack_before.clone(),
        };
        for gone in stack_before.iter().filter(|u| !stack_after.contains(u)) {
            if self.units.contains_key(gone) && !self.completed_this_round.contains(gone) {
                self.violations.push(format!(
                    "unit {gone} left the stack without having completed since the last prepare or recovery (state {:?})",
                    self.state(*gone)
                ));
            }
        }
        let upgrading: Vec<u32> = self
            .units
            .keys()
            .copied()
            .filter(|&u| self.state(u) == Some("upgrading"))
            .collect();
        if upgrading.len() > 1 {
            self.violations
                .push(format!("units {upgrading:?} committed upgrading together"));
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
        self.app_revision.hash(state);
        self.report_versions.hash(state);
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
            sim.pending_departed.hash(state);
            sim.pending_changed.hash(state);
            sim.retry.hash(state);
            sim.in_error.hash(state);
            sim.members.hash(state);
            sim.cache.hash(state);
            sim.failures.hash(state);
            sim.workload_in_flux.hash(state);
            sim.in_flight.hash(state);
        }
    }
}

/// The next hook of an agent that is not running one, in the Juju scheduler's order: a hook to
/// retry, relation-created, leader-elected, upgrade-charm, departed, changed (app first).
fn next_hook_of(sim: &SimUnit) -> Option<Hook> {
    if let Some(hook) = sim.retry {
        Some(hook)
    } else if sim.pending_created {
        Some(Hook::RelationCreated)
    } else if sim.pending_leader_elected {
        Some(Hook::LeaderElected)
    } else if sim.pending_upgrade_charm {
        Some(Hook::UpgradeCharm)
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
