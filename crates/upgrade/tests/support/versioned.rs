//! An in-process application whose charm reports its versions and its
//! `pause-after-unit-refresh` config to the core, which turns on the rules beyond v0.
//!
//! It follows the Juju delivery rules of `juju-upgrade-harness`'s cluster (committed bags read
//! fresh for the app and the unit itself, cached for the others until their
//! `relation-changed`; writes committed when the hook exits 0; coalesced `relation-changed`;
//! hooks of different units overlapping between `begin` and `commit`), and adds what that
//! cluster does not model: the charm's reported versions and config, the `resume-upgrade` and
//! `force-upgrade` actions, an action left running while other units run hooks, and a failing
//! pre-upgrade health check. Safety rules are checked on every commit and recorded in
//! `violations`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use juju_upgrade::{
    handle, handle_own_and_app, Bag, CharmVersions, ClusterNotReady, DependencyModel, Effect,
    Event, Handled, LogLevel, PeerScope, PeerSnapshot, Status, StatusKind, UpgradeFailed,
    UpgradeHooks, UpgradeStack, STACK_KEY, STATE_KEY,
};
use juju_upgrade_harness::cluster::Revision;

/// Who changed data a unit has not heard about yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    App,
    Unit(u32),
}

/// One unit's agent.
#[derive(Clone, Debug, Default)]
pub struct Agent {
    pub revision: u32,
    pub workload: String,
    pub status: Option<Status>,
    pub pending_created: bool,
    pub pending_leader_elected: bool,
    pub pending_upgrade_charm: bool,
    pub pending_changed: BTreeSet<Source>,
    /// A hook that failed and runs again before anything else.
    pub retry: Option<Event>,
    /// The next hook this agent starts exits non-zero.
    pub fail_next_hook: bool,
    pub cache: BTreeMap<u32, Bag>,
    /// Scripted outcomes of the next `upgrade_unit` calls: `true` fails.
    pub failures: VecDeque<bool>,
    pub log: Vec<(LogLevel, String)>,
}

/// A hook or action begun and not yet ended.
#[derive(Clone, Debug)]
struct InFlight {
    event: Event,
    effects: Vec<Effect>,
    as_leader: bool,
    succeeded: bool,
    /// Exits non-zero when it ends.
    fails: bool,
}

/// One workload upgrade (or rollback) the core asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRecord {
    pub unit: u32,
    pub from: String,
    pub to: String,
    pub failed: bool,
}

/// What an action returned.
#[derive(Clone, Debug, Default)]
pub struct ActionOutcome {
    pub failed: Option<String>,
    pub results: BTreeMap<String, String>,
    pub logs: Vec<(LogLevel, String)>,
}

impl ActionOutcome {
    pub fn result(&self) -> &str {
        self.results.get("result").map_or("", String::as_str)
    }
}

struct Charm<'a> {
    revision: u32,
    model: DependencyModel,
    pin: String,
    workload: String,
    fail: bool,
    check: Option<&'a str>,
    pause: Option<String>,
    upgraded: Option<UpgradeRecord>,
    top_at_upgrade: Option<u32>,
    unit: u32,
}

impl UpgradeHooks for Charm<'_> {
    fn dependency_model(&self) -> &DependencyModel {
        &self.model
    }

    fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        match self.check {
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
        progress("upgrading snap...");
        self.upgraded = Some(UpgradeRecord {
            unit: self.unit,
            from: self.workload.clone(),
            to: self.pin.clone(),
            failed: self.fail,
        });
        if self.fail {
            self.workload = "broken".into();
            return Err(UpgradeFailed {
                cause: "Failed to start MySQL server after snap refresh".into(),
            });
        }
        self.workload = self.pin.clone();
        Ok(())
    }

    fn workload_version(&mut self, _: &PeerSnapshot) -> Option<String> {
        Some(self.workload.clone())
    }

    fn this_charm(&self) -> CharmVersions {
        CharmVersions::new(self.revision.to_string(), self.pin.clone())
    }

    fn pause_after_unit_refresh(&self) -> Option<String> {
        self.pause.clone()
    }
}

/// An application whose charm reports its versions.
pub struct Cluster {
    pub app: String,
    pub leader: u32,
    pub agents: BTreeMap<u32, Agent>,
    pub app_bag: Bag,
    pub unit_bags: BTreeMap<u32, Bag>,
    pub revisions: BTreeMap<u32, Revision>,
    pub app_revision: u32,
    /// The `pause-after-unit-refresh` config value (`None`: the charm has no such option).
    pub pause: Option<String>,
    /// Why the charm's pre-upgrade health check fails, if it does.
    pub check_failure: Option<String>,
    pub app_status: Option<Status>,
    pub upgrades: Vec<UpgradeRecord>,
    pub violations: Vec<String>,
    in_flight: BTreeMap<u32, InFlight>,
    completed_since_entering: BTreeSet<u32>,
}

impl Cluster {
    /// `count` units at `revision`, `leader` leading, the relation set up, with
    /// `pause-after-unit-refresh` set to `pause`.
    pub fn deploy(
        count: u32,
        leader: u32,
        revisions: &[(u32, Revision)],
        revision: u32,
        pause: Option<&str>,
    ) -> Self {
        let revisions: BTreeMap<u32, Revision> = revisions.iter().cloned().collect();
        let workload = revisions[&revision].workload.clone();
        let agents = (0..count)
            .map(|unit| {
                let agent = Agent {
                    revision,
                    workload: workload.clone(),
                    pending_created: true,
                    ..Agent::default()
                };
                (unit, agent)
            })
            .collect();
        let mut cluster = Cluster {
            app: "mysql".into(),
            leader,
            agents,
            app_bag: Bag::new(),
            unit_bags: BTreeMap::new(),
            revisions,
            app_revision: revision,
            pause: pause.map(str::to_owned),
            check_failure: None,
            app_status: None,
            upgrades: Vec::new(),
            violations: Vec::new(),
            in_flight: BTreeMap::new(),
            completed_since_entering: BTreeSet::new(),
        };
        cluster.settle();
        cluster
    }

    // ----- reading -----

    pub fn state(&self, unit: u32) -> Option<&str> {
        self.value(unit, STATE_KEY)
    }

    pub fn value(&self, unit: u32, key: &str) -> Option<&str> {
        self.unit_bags
            .get(&unit)
            .and_then(|bag| bag.get(key))
            .map(String::as_str)
    }

    pub fn app_value(&self, key: &str) -> Option<&str> {
        self.app_bag.get(key).map(String::as_str)
    }

    pub fn stack(&self) -> Vec<u32> {
        self.app_bag
            .get(STACK_KEY)
            .and_then(|text| UpgradeStack::from_json(text).ok())
            .map(|stack| stack.as_slice().to_vec())
            .unwrap_or_default()
    }

    pub fn status(&self, unit: u32) -> Option<&Status> {
        self.agents[&unit].status.as_ref()
    }

    pub fn failed_units(&self) -> Vec<u32> {
        self.agents
            .keys()
            .copied()
            .filter(|&unit| self.state(unit) == Some("failed"))
            .collect()
    }

    /// The units whose workload changed, in order.
    pub fn upgrade_order(&self) -> Vec<u32> {
        self.upgrades.iter().map(|record| record.unit).collect()
    }

    pub fn is_quiet(&self) -> bool {
        self.in_flight.is_empty() && self.agents.keys().all(|&u| self.next_event(u).is_none())
    }

    /// Every unit idle and active on `revision`'s workload, the stack empty, no violation.
    pub fn healthy_at(&self, revision: u32) -> Result<(), String> {
        let workload = &self.revisions[&revision].workload;
        if !self.stack().is_empty() {
            return Err(format!("stack {:?}", self.stack()));
        }
        for (unit, agent) in &self.agents {
            if self.state(*unit) != Some("idle")
                || agent.status.as_ref().map(|s| s.kind) != Some(StatusKind::Active)
                || &agent.workload != workload
                || agent.revision != revision
            {
                return Err(format!(
                    "unit {unit}: state {:?}, status {:?}, workload {}, revision {}",
                    self.state(*unit),
                    agent.status,
                    agent.workload,
                    agent.revision
                ));
            }
        }
        if !self.violations.is_empty() {
            return Err(format!("{:?}", self.violations));
        }
        Ok(())
    }

    /// Whether `unit` logged a line containing `needle` at `level`.
    pub fn logged(&self, unit: u32, level: LogLevel, needle: &str) -> bool {
        self.agents[&unit]
            .log
            .iter()
            .any(|(l, message)| *l == level && message.contains(needle))
    }

    // ----- operating -----

    /// `juju refresh`: every unit gets `upgrade-charm` with the new revision (one still queued
    /// runs with the latest charm).
    pub fn refresh(&mut self, revision: u32) {
        self.app_revision = revision;
        for agent in self.agents.values_mut() {
            agent.pending_upgrade_charm = true;
        }
    }

    pub fn script_failures(&mut self, unit: u32, outcomes: &[bool]) {
        if let Some(agent) = self.agents.get_mut(&unit) {
            agent.failures.extend(outcomes);
        }
    }

    /// Leadership moves: the new leader gets `leader-elected`.
    pub fn move_leader(&mut self, unit: u32) {
        self.leader = unit;
        if let Some(agent) = self.agents.get_mut(&unit) {
            agent.pending_leader_elected = true;
        }
    }

    /// The next hook `unit` starts exits non-zero (its writes are lost) and is retried.
    pub fn fail_next_hook(&mut self, unit: u32) {
        if let Some(agent) = self.agents.get_mut(&unit) {
            agent.fail_next_hook = true;
        }
    }

    /// `juju run <unit> <action>`, to completion.
    pub fn run_action(&mut self, unit: u32, event: Event) -> ActionOutcome {
        self.begin_action(unit, event);
        let outcome = self.action_outcome(unit);
        self.commit(unit);
        outcome
    }

    /// Starts an action on `unit` and leaves it running (its writes are committed by
    /// [`Self::commit`]); the outcome is readable at once.
    pub fn begin_action(&mut self, unit: u32, event: Event) -> ActionOutcome {
        assert!(!self.in_flight.contains_key(&unit), "unit {unit} is busy");
        let flight = self.run_core(unit, event, false);
        self.in_flight.insert(unit, flight);
        self.action_outcome(unit)
    }

    fn action_outcome(&self, unit: u32) -> ActionOutcome {
        let mut outcome = ActionOutcome::default();
        if let Some(flight) = self.in_flight.get(&unit) {
            for effect in &flight.effects {
                match effect {
                    Effect::ActionFail(message) => outcome.failed = Some(message.clone()),
                    Effect::ActionResult { key, value } => {
                        outcome.results.insert(key.clone(), value.clone());
                    }
                    Effect::Log { level, message } => {
                        outcome.logs.push((*level, message.clone()));
                    }
                    _ => {}
                }
            }
        }
        outcome
    }

    // ----- delivery -----

    fn next_event(&self, unit: u32) -> Option<(Event, Option<Source>)> {
        if self.in_flight.contains_key(&unit) {
            return None;
        }
        let agent = &self.agents[&unit];
        if let Some(event) = agent.retry {
            Some((event, None))
        } else if agent.pending_created {
            Some((Event::RelationCreated, None))
        } else if agent.pending_leader_elected {
            Some((Event::LeaderElected, None))
        } else if agent.pending_upgrade_charm {
            Some((Event::UpgradeCharm, None))
        } else {
            agent
                .pending_changed
                .iter()
                .next()
                .map(|&source| (Event::RelationChanged, Some(source)))
        }
    }

    /// Runs queued hooks one at a time, lowest unit first, until quiet (running actions stay
    /// running).
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let Some(unit) = self
                .agents
                .keys()
                .copied()
                .find(|&unit| self.next_event(unit).is_some())
            else {
                return;
            };
            self.begin(unit);
            self.commit(unit);
        }
        self.violations.push("did not settle".into());
    }

    /// Runs queued hooks one at a time, lowest unit first, until `done` holds (checked after
    /// each hook) or nothing is left to run. Returns whether `done` holds.
    pub fn run_until(&mut self, done: impl Fn(&Cluster) -> bool) -> bool {
        for _ in 0..10_000 {
            if done(self) {
                return true;
            }
            let Some(unit) = self
                .agents
                .keys()
                .copied()
                .find(|&unit| self.next_event(unit).is_some())
            else {
                return done(self);
            };
            self.begin(unit);
            self.commit(unit);
        }
        false
    }

    /// Whether `unit` is running a hook or action.
    pub fn is_busy(&self, unit: u32) -> bool {
        self.in_flight.contains_key(&unit)
    }

    /// Whether `unit` has a hook to start.
    pub fn has_hook(&self, unit: u32) -> bool {
        self.next_event(unit).is_some()
    }

    /// Runs `unit`'s next queued hook to its end; returns the event it handled.
    pub fn run_next(&mut self, unit: u32) -> Option<Event> {
        let event = self.next_event(unit).map(|(event, _)| event);
        if self.begin(unit) {
            self.commit(unit);
        }
        event
    }

    /// Runs queued hooks until quiet, `choices` picking at each step which unit begins or
    /// ends a hook (running actions are ended too).
    pub fn settle_randomly(&mut self, choices: &mut impl Iterator<Item = u32>) {
        for _ in 0..10_000 {
            let mut options: Vec<(bool, u32)> = Vec::new();
            for &unit in self.agents.keys() {
                if self.in_flight.contains_key(&unit) {
                    options.push((false, unit));
                } else if self.next_event(unit).is_some() {
                    options.push((true, unit));
                }
            }
            if options.is_empty() {
                return;
            }
            let (begin, unit) = options[choices.next().unwrap_or(0) as usize % options.len()];
            if begin {
                self.begin(unit);
            } else {
                self.commit(unit);
            }
        }
        self.violations.push("did not settle".into());
    }

    /// Starts `unit`'s next queued hook.
    pub fn begin(&mut self, unit: u32) -> bool {
        let Some((event, source)) = self.next_event(unit) else {
            return false;
        };
        let app_revision = self.app_revision;
        let agent = self.agents.get_mut(&unit).expect("known unit");
        let retrying = agent.retry.take().is_some();
        match event {
            Event::RelationCreated => agent.pending_created = false,
            Event::LeaderElected => agent.pending_leader_elected = false,
            Event::UpgradeCharm if !retrying => {
                agent.pending_upgrade_charm = false;
                agent.revision = app_revision;
            }
            _ => {}
        }
        if let Some(source) = source {
            agent.pending_changed.remove(&source);
            if let Source::Unit(remote) = source {
                let committed = self.unit_bags.get(&remote).cloned().unwrap_or_default();
                agent.cache.insert(remote, committed);
            }
        }
        let fails = std::mem::take(&mut agent.fail_next_hook);
        let flight = self.run_core(unit, event, fails);
        self.in_flight.insert(unit, flight);
        true
    }

    fn snapshot(&self, unit: u32) -> PeerSnapshot {
        let mut unit_bags = self.agents[&unit].cache.clone();
        unit_bags.insert(unit, self.unit_bags.get(&unit).cloned().unwrap_or_default());
        PeerSnapshot {
            app: self.app.clone(),
            unit,
            is_leader: unit == self.leader,
            units: self.agents.keys().copied().collect(),
            app_bag: self.app_bag.clone(),
            unit_bags,
            scope: PeerScope::EveryUnit,
        }
    }

    fn run_core(&mut self, unit: u32, event: Event, fails: bool) -> InFlight {
        let snapshot = self.snapshot(unit);
        let as_leader = unit == self.leader;
        let agent = self.agents.get_mut(&unit).expect("known unit");
        let revision = self.revisions[&agent.revision].clone();
        let mut charm = Charm {
            revision: agent.revision,
            model: revision.model,
            pin: revision.workload,
            workload: agent.workload.clone(),
            fail: agent.failures.front().copied().unwrap_or(false),
            check: self.check_failure.as_deref(),
            pause: self.pause.clone(),
            upgraded: None,
            top_at_upgrade: None,
            unit,
        };
        let mut effects = Vec::new();
        // As the charm does: its own bag and the application bag first.
        let partial = PeerSnapshot::own_and_app(
            snapshot.app.clone(),
            unit,
            snapshot.is_leader,
            snapshot.units.clone(),
            snapshot.unit_bags.get(&unit).cloned().unwrap_or_default(),
            snapshot.app_bag.clone(),
        );
        if let Handled::NeedsEveryUnit(_) =
            handle_own_and_app(&event, partial, &mut charm, &mut effects)
        {
            handle(&event, snapshot, &mut charm, &mut effects);
        }
        if charm.upgraded.is_some() {
            agent.failures.pop_front();
        }
        agent.workload = charm.workload.clone();
        for effect in &effects {
            match effect {
                Effect::UnitStatus(status) => agent.status = Some(status.clone()),
                Effect::AppStatus(status) => {
                    if !as_leader {
                        self.violations
                            .push(format!("non-leader {unit} set the app status"));
                    }
                    self.app_status = Some(status.clone());
                }
                Effect::Log { level, message } => agent.log.push((*level, message.clone())),
                Effect::SetApp { .. } if !as_leader => self.violations.push(format!(
                    "non-leader {unit} wrote the app bag during {event}"
                )),
                _ => {}
            }
        }
        let succeeded = charm.upgraded.as_ref().is_some_and(|r| !r.failed);
        if let Some(record) = charm.upgraded {
            if charm.top_at_upgrade != Some(unit) {
                self.violations.push(format!(
                    "unit {unit} upgraded while the stack top was {:?}",
                    charm.top_at_upgrade
                ));
            }
            if charm.revision > self.app_revision {
                self.violations.push(format!(
                    "unit {unit} installed revision {}'s {} while the application was refreshed back to revision {}",
                    charm.revision, record.to, self.app_revision
                ));
            }
            let overlapping: Vec<u32> = self
                .in_flight
                .iter()
                .filter(|(_, f)| f.succeeded || f.effects.iter().any(is_upgrading_write))
                .map(|(&u, _)| u)
                .collect();
            if !overlapping.is_empty() {
                self.violations.push(format!(
                    "unit {unit} upgraded while {overlapping:?} were upgrading"
                ));
            }
            self.upgrades.push(record);
        }
        InFlight {
            event,
            effects,
            as_leader,
            succeeded,
            fails,
        }
    }

    /// Ends `unit`'s running hook or action: commits its writes (unless it fails, or wrote
    /// the app bag after losing leadership) and queues `relation-changed` on the others.
    pub fn commit(&mut self, unit: u32) {
        let Some(flight) = self.in_flight.remove(&unit) else {
            return;
        };
        let wrote_app = flight
            .effects
            .iter()
            .any(|e| matches!(e, Effect::SetApp { .. }));
        let lost_leadership = flight.as_leader && self.leader != unit && wrote_app;
        if flight.fails || lost_leadership {
            if !flight.event.is_action() {
                self.agents.get_mut(&unit).expect("known unit").retry = Some(flight.event);
            }
            return;
        }
        let own_before = self.unit_bags.get(&unit).cloned().unwrap_or_default();
        let app_before = self.app_bag.clone();
        let stack_before = self.stack();
        // A workload upgrade that succeeded, or a failed one the operator accepted with
        // `force-upgrade skip-health-check`, completes the unit.
        let forced_completion = matches!(flight.event, Event::ForceUpgrade { .. })
            && flight.effects.iter().any(|e| {
                matches!(e, Effect::SetUnit { key, value } if key == STATE_KEY && value == "completed")
            });
        if flight.succeeded || forced_completion {
            self.completed_since_entering.insert(unit);
        }
        for effect in flight.effects {
            match effect {
                Effect::SetUnit { key, value } => {
                    put(self.unit_bags.entry(unit).or_default(), key, value);
                }
                Effect::SetApp { key, value } => put(&mut self.app_bag, key, value),
                _ => {}
            }
        }
        let stack_after = self.stack();
        for gone in stack_before.iter().filter(|u| !stack_after.contains(u)) {
            if !self.completed_since_entering.contains(gone) {
                self.violations.push(format!(
                    "unit {gone} left the stack without completing since it entered it"
                ));
            }
        }
        for entered in stack_after.iter().filter(|u| !stack_before.contains(u)) {
            self.completed_since_entering.remove(entered);
        }
        let upgrading: Vec<u32> = self
            .agents
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
        for (&other, agent) in self.agents.iter_mut() {
            if other == unit {
                continue;
            }
            if own_changed {
                agent.pending_changed.insert(Source::Unit(unit));
            }
            if app_changed {
                agent.pending_changed.insert(Source::App);
            }
        }
    }
}

fn is_upgrading_write(effect: &Effect) -> bool {
    matches!(effect, Effect::SetUnit { key, value } if key == STATE_KEY && value == "upgrading")
}

fn put(bag: &mut Bag, key: String, value: String) {
    if value.is_empty() {
        bag.remove(&key);
    } else {
        bag.insert(key, value);
    }
}
