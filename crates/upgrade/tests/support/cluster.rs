//! A small, deterministic, in-process model of one Juju application running the upgrade core.
//!
//! It keeps the committed peer databags and delivers events the Juju way (see
//! juju-contract §3-§4):
//! - a hook reads the app bag fresh, its own bag, and a per-unit cache of the other units' bags
//!   that is refreshed only when a `relation-changed` for that unit runs;
//! - bag writes are committed when the hook ends; statuses apply at once;
//! - a commit that changes a unit bag queues `relation-changed` on every *other* unit, a change
//!   to the app bag queues one on every unit except the writing leader; queued changes from the
//!   same source coalesce;
//! - a unit runs one hook at a time, but hooks of different units may overlap: a hook is begun
//!   (decisions made, workload touched) and committed later, so other units can run in between
//!   on stale data, as with real concurrent agents.
//!
//! It also checks the safety rules while it runs and records any breach in `violations`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use juju_upgrade::{
    handle, Bag, ClusterNotReady, DependencyModel, Effect, Event, PeerSnapshot, Status, StatusKind,
    UpgradeFailed, UpgradeHooks, UpgradeStack, DEPENDENCIES_KEY, STACK_KEY, STATE_KEY,
};

/// A charm revision: its dependency model and the workload version it pins.
#[derive(Clone, Debug)]
pub struct Revision {
    pub model: DependencyModel,
    pub workload: String,
}

/// Who changed data a unit has not yet heard about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    App,
    Unit(u32),
}

/// What one unit's agent knows and has queued.
#[derive(Clone, Debug, Default)]
pub struct SimUnit {
    pub revision: u32,
    pub workload: String,
    pub status: Option<Status>,
    pub published_version: Option<String>,
    pub pending_created: bool,
    pub pending_upgrade_charm: bool,
    pub pending_changed: BTreeSet<Source>,
    /// This agent's cached copies of the other units' bags.
    pub cache: BTreeMap<u32, Bag>,
    /// Scripted outcomes of the next `upgrade_unit` calls: `true` fails; empty means succeed.
    pub failures: VecDeque<bool>,
    pub log: Vec<(juju_upgrade::LogLevel, String)>,
}

/// A hook that has run its decisions but not yet committed its bag writes.
#[derive(Debug)]
struct InFlight {
    effects: Vec<Effect>,
    /// The hook upgraded (or rolled back) the workload.
    upgraded: bool,
    /// ... and that succeeded.
    succeeded: bool,
}

/// One workload upgrade (or rollback) the core asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRecord {
    pub unit: u32,
    pub from: String,
    pub to: String,
    pub failed: bool,
}

/// The result of running an action.
#[derive(Clone, Debug, Default)]
pub struct ActionOutcome {
    pub failed: Option<String>,
    pub results: BTreeMap<String, String>,
}

/// The hooks a unit runs with: its current revision's model and pin, and a fake workload.
struct SimHooks {
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
pub struct Cluster {
    pub app: String,
    pub leader: u32,
    pub units: BTreeMap<u32, SimUnit>,
    pub app_bag: Bag,
    pub unit_bags: BTreeMap<u32, Bag>,
    pub revisions: BTreeMap<u32, Revision>,
    pub app_revision: u32,
    /// Every workload upgrade or rollback, in the order they started.
    pub upgrades: Vec<UpgradeRecord>,
    /// Breaches of the safety rules seen while running.
    pub violations: Vec<String>,
    in_flight: BTreeMap<u32, InFlight>,
    /// Units whose upgrade succeeded since the last `pre-upgrade-check` (new stack or recovery).
    completed_this_round: BTreeSet<u32>,
}

impl Cluster {
    /// `count` units numbered from 0, deployed at `revision`, with the relation about to be
    /// created on each.
    pub fn deploy(count: u32, leader: u32, revisions: &[(u32, Revision)], revision: u32) -> Self {
        let revisions: BTreeMap<u32, Revision> = revisions.iter().cloned().collect();
        let workload = revisions[&revision].workload.clone();
        let units = (0..count)
            .map(|unit| {
                let sim = SimUnit {
                    revision,
                    workload: workload.clone(),
                    pending_created: true,
                    ..SimUnit::default()
                };
                (unit, sim)
            })
            .collect();
        Cluster {
            app: "mysql".into(),
            leader,
            units,
            app_bag: Bag::new(),
            unit_bags: BTreeMap::new(),
            revisions,
            app_revision: revision,
            upgrades: Vec::new(),
            violations: Vec::new(),
            in_flight: BTreeMap::new(),
            completed_this_round: BTreeSet::new(),
        }
    }

    // ----- what an operator or a test reads -----

    pub fn state(&self, unit: u32) -> Option<&str> {
        self.unit_bags
            .get(&unit)
            .and_then(|bag| bag.get(STATE_KEY))
            .map(String::as_str)
    }

    pub fn stack(&self) -> Vec<u32> {
        self.app_bag
            .get(STACK_KEY)
            .map(|text| {
                UpgradeStack::from_json(text)
                    .expect("the core writes valid stacks")
                    .as_slice()
                    .to_vec()
            })
            .unwrap_or_default()
    }

    pub fn dependencies(&self) -> Option<&str> {
        self.app_bag.get(DEPENDENCIES_KEY).map(String::as_str)
    }

    pub fn status(&self, unit: u32) -> Option<&Status> {
        self.units[&unit].status.as_ref()
    }

    pub fn failed_units(&self) -> Vec<u32> {
        self.units
            .keys()
            .copied()
            .filter(|&unit| self.state(unit) == Some("failed"))
            .collect()
    }

    pub fn is_quiet(&self) -> bool {
        self.in_flight.is_empty()
            && self
                .units
                .keys()
                .all(|&unit| self.next_event(unit).is_none())
    }

    // ----- what an operator does -----

    /// `juju refresh`: every unit will get `upgrade-charm` with the new revision.
    pub fn refresh(&mut self, revision: u32) {
        self.app_revision = revision;
        for sim in self.units.values_mut() {
            sim.pending_upgrade_charm = true;
        }
    }

    /// `juju run <unit> pre-upgrade-check`, run to completion (actions never overlap hooks on
    /// the same unit; tests call this when the cluster is quiet).
    pub fn run_pre_upgrade_check(&mut self, unit: u32) -> ActionOutcome {
        assert!(!self.in_flight.contains_key(&unit), "unit {unit} is busy");
        let effects = self.begin_with(unit, Event::PreUpgradeCheck);
        let mut outcome = ActionOutcome::default();
        for effect in &effects.effects {
            match effect {
                Effect::ActionFail(message) => outcome.failed = Some(message.clone()),
                Effect::ActionResult { key, value } => {
                    outcome.results.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        self.in_flight.insert(unit, effects);
        self.commit(unit);
        if outcome.failed.is_none() {
            self.completed_this_round.clear();
        }
        outcome
    }

    /// Scripts the outcomes of `unit`'s next upgrades (`true` fails).
    pub fn script_failures(&mut self, unit: u32, outcomes: &[bool]) {
        self.units
            .get_mut(&unit)
            .expect("known unit")
            .failures
            .extend(outcomes);
    }

    // ----- event delivery -----

    fn next_event(&self, unit: u32) -> Option<(Event, Option<Source>)> {
        let sim = &self.units[&unit];
        if sim.pending_created {
            Some((Event::RelationCreated, None))
        } else if sim.pending_upgrade_charm {
            Some((Event::UpgradeCharm, None))
        } else {
            sim.pending_changed
                .iter()
                .next()
                .map(|&source| (Event::RelationChanged, Some(source)))
        }
    }

    /// Runs every queued hook to completion, one at a time, lowest unit number first.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let Some(unit) = self
                .units
                .keys()
                .copied()
                .find(|&unit| self.next_event(unit).is_some())
            else {
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
                if self.in_flight.contains_key(&unit) {
                    options.push((false, unit));
                } else if self.next_event(unit).is_some() {
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

    /// Starts `unit`'s next queued hook: takes it off the queue and runs the core.
    fn begin(&mut self, unit: u32) {
        let Some((event, source)) = self.next_event(unit) else {
            return;
        };
        let sim = self.units.get_mut(&unit).expect("known unit");
        match event {
            Event::RelationCreated => sim.pending_created = false,
            Event::UpgradeCharm => {
                sim.pending_upgrade_charm = false;
                sim.revision = self.app_revision;
            }
            _ => {}
        }
        if let Some(source) = source {
            sim.pending_changed.remove(&source);
            if let Source::Unit(remote) = source {
                let committed = self.unit_bags.get(&remote).cloned().unwrap_or_default();
                sim.cache.insert(remote, committed);
            }
        }
        let flight = self.begin_with(unit, event);
        self.in_flight.insert(unit, flight);
    }

    fn snapshot(&self, unit: u32) -> PeerSnapshot {
        let sim = &self.units[&unit];
        let mut unit_bags = sim.cache.clone();
        unit_bags.insert(unit, self.unit_bags.get(&unit).cloned().unwrap_or_default());
        PeerSnapshot {
            app: self.app.clone(),
            unit,
            is_leader: unit == self.leader,
            units: self.units.keys().copied().collect(),
            app_bag: self.app_bag.clone(),
            unit_bags,
        }
    }

    fn begin_with(&mut self, unit: u32, event: Event) -> InFlight {
        let snapshot = self.snapshot(unit);
        let sim = self.units.get_mut(&unit).expect("known unit");
        let revision = self.revisions[&sim.revision].clone();
        let mut hooks = SimHooks {
            model: revision.model,
            pin: revision.workload,
            workload: sim.workload.clone(),
            fail: false,
            upgraded: None,
            top_at_upgrade: None,
            unit,
        };
        hooks.fail = sim.failures.front().copied().unwrap_or(false);
        let mut effects = Vec::new();
        handle(&event, snapshot, &mut hooks, &mut effects);
        if hooks.upgraded.is_some() {
            sim.failures.pop_front();
        }
        sim.workload = hooks.workload.clone();
        // Statuses, logs and the workload version apply at once.
        for effect in &effects {
            match effect {
                Effect::UnitStatus(status) => sim.status = Some(status.clone()),
                Effect::WorkloadVersion(version) => sim.published_version = Some(version.clone()),
                Effect::Log { level, message } => sim.log.push((*level, message.clone())),
                Effect::SetApp { .. } if unit != self.leader => self.violations.push(format!(
                    "non-leader {unit} wrote the app bag during {event}"
                )),
                _ => {}
            }
        }
        let upgraded = hooks.upgraded.is_some();
        let succeeded = hooks.upgraded.as_ref().is_some_and(|record| !record.failed);
        if let Some(record) = hooks.upgraded {
            if hooks.top_at_upgrade != Some(unit) {
                self.violations.push(format!(
                    "unit {unit} upgraded while the stack top was {:?}",
                    hooks.top_at_upgrade
                ));
            }
            let overlapping: Vec<u32> = self
                .in_flight
                .iter()
                .filter(|(_, flight)| flight.upgraded)
                .map(|(&other, _)| other)
                .collect();
            if !overlapping.is_empty() {
                self.violations.push(format!(
                    "unit {unit} upgraded while {overlapping:?} were still upgrading"
                ));
            }
            self.upgrades.push(record);
        }
        InFlight {
            effects,
            upgraded,
            succeeded,
        }
    }

    /// Ends `unit`'s running hook: commits its bag writes and queues `relation-changed`.
    fn commit(&mut self, unit: u32) {
        let Some(flight) = self.in_flight.remove(&unit) else {
            return;
        };
        let own_before = self.unit_bags.get(&unit).cloned().unwrap_or_default();
        let app_before = self.app_bag.clone();
        let stack_before = self.stack();
        if flight.succeeded {
            self.completed_this_round.insert(unit);
        }
        for effect in flight.effects {
            match effect {
                Effect::SetUnit { key, value } => {
                    let bag = self.unit_bags.entry(unit).or_default();
                    write(bag, key, value);
                }
                Effect::SetApp { key, value } => write(&mut self.app_bag, key, value),
                _ => {}
            }
        }
        let stack_after = self.stack();
        for gone in stack_before.iter().filter(|u| !stack_after.contains(u)) {
            if !self.completed_this_round.contains(gone) {
                self.violations.push(format!(
                    "unit {gone} left the stack without completing in this round (state {:?})",
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
            if own_changed {
                sim.pending_changed.insert(Source::Unit(unit));
            }
            if app_changed {
                sim.pending_changed.insert(Source::App);
            }
        }
    }

    /// Every unit is idle and active, and the stack is empty.
    pub fn all_idle_and_active(&self) -> bool {
        self.stack().is_empty()
            && self.units.keys().all(|&unit| {
                self.state(unit) == Some("idle")
                    && self.status(unit).map(|s| s.kind) == Some(StatusKind::Active)
            })
    }
}

fn write(bag: &mut Bag, key: String, value: String) {
    if value.is_empty() {
        bag.remove(&key);
    } else {
        bag.insert(key, value);
    }
}
