//! The operator's side of an explored run, and the checks on states where no hook is left.
//!
//! The operator follows the how-to: wait for the deployment, run `pre-upgrade-check` on
//! the leader, `juju refresh` to the new revision; when a unit shows it failed, run
//! `pre-upgrade-check` again (recovery) and `juju refresh` back to the original revision; repeat
//! if the rollback fails, a bounded number of times. When the upgrade pauses before a unit
//! (`pause-after-unit-refresh`), the operator runs `resume-upgrade` on it; when a unit failed,
//! the operator may instead accept it with `force-upgrade skip-health-check` (an alternative
//! the explorer offers with [`crate::explore::Config::operator_moves`]). A run is over when no
//! hook is left and the operator has nothing documented left to do; it must then be finished
//! (every unit idle and active on the last refreshed revision, a unit accepted by force
//! possibly still broken) or paused on a failed unit whose status says why.

use std::collections::BTreeSet;

use juju_upgrade::wire::ROUND_KEY;
use juju_upgrade::{messages, Event, Status, StatusKind};

use crate::cluster::{ActionOutcome, Cluster};
use crate::fixtures::{ORIGINAL_REVISION, UPGRADE_REVISION};

/// Where the operator is in the how-to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The deployment is settling; once no hook is left the operator prepares the upgrade.
    Deploying,
    /// `pre-upgrade-check` succeeded; the operator refreshes to the new revision.
    Prepared,
    /// The refresh (or the rollback refresh) is rolling through the units.
    Rolling,
    /// Recovery entered after a failure; the operator refreshes back to the original revision.
    Recovered,
    /// The run is over.
    Done,
}

/// What the operator does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperatorStep {
    /// `juju run mysql/leader pre-upgrade-check` on an idle cluster.
    Prepare,
    /// `juju refresh mysql --revision=43`.
    Refresh,
    /// `juju run mysql/leader pre-upgrade-check` on a failed cluster (enters recovery).
    Recover,
    /// `juju refresh mysql --revision=42` (the rollback).
    RollBack,
    /// `juju run mysql/leader pre-upgrade-check` after units blocked on a refresh that no
    /// `pre-upgrade-check` prepared (beyond v0: they join once it runs).
    PrepareRefreshed,
    /// `juju run mysql/<unit> resume-upgrade` on the unit the upgrade paused before.
    Resume(u32),
    /// `juju run mysql/<unit> force-upgrade skip-health-check=true` on a failed unit: accept it
    /// and go on.
    Force(u32),
    /// Nothing left to do: check the final state.
    Finish,
}

impl OperatorStep {
    /// The command the operator types (or the check made), for traces.
    pub fn describe(self) -> String {
        match self {
            OperatorStep::Prepare => "juju run mysql/leader pre-upgrade-check (prepare)".into(),
            OperatorStep::Refresh => "juju refresh mysql --revision=43".into(),
            OperatorStep::Recover => "juju run mysql/leader pre-upgrade-check (recovery)".into(),
            OperatorStep::RollBack => "juju refresh mysql --revision=42 (rollback)".into(),
            OperatorStep::PrepareRefreshed => {
                "juju run mysql/leader pre-upgrade-check (units wait for it after a refresh)".into()
            }
            OperatorStep::Resume(unit) => format!("juju run mysql/{unit} resume-upgrade"),
            OperatorStep::Force(unit) => {
                format!("juju run mysql/{unit} force-upgrade skip-health-check=true")
            }
            OperatorStep::Finish => "final check".into(),
        }
    }
}

/// The scripted failures and how many recoveries the operator attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Script {
    /// Which workload upgrade of the refresh fails, counted from 0 across all units (0: the
    /// first unit to upgrade fails).
    pub fail_upgrade: Option<u32>,
    /// Which workload rollback of the first rollback fails.
    pub fail_rollback: Option<u32>,
    /// How many times the operator enters recovery before leaving the cluster paused.
    pub max_recoveries: u32,
}

impl Default for Script {
    /// The how-to's flow: the first unit fails, one recovery, the rollback succeeds.
    fn default() -> Self {
        Script {
            fail_upgrade: Some(0),
            fail_rollback: None,
            max_recoveries: 3,
        }
    }
}

/// The operator's progress through the how-to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    /// Where the operator is.
    pub phase: Phase,
    /// A rollback refresh was issued.
    pub rolling_back: bool,
    /// Recoveries entered so far.
    pub recoveries: u32,
    /// The scripted failures.
    pub script: Script,
    /// How the run ended, once it has.
    pub ending: Option<Ending>,
    /// The units accepted by `force-upgrade skip-health-check`, one bit each.
    pub forced: u64,
}

impl Operator {
    /// An operator about to deploy.
    pub fn new(script: Script) -> Self {
        Operator {
            phase: Phase::Deploying,
            rolling_back: false,
            recoveries: 0,
            script,
            ending: None,
            forced: 0,
        }
    }

    /// A failed unit the operator sees, and could act on now: blocked under the charm revision
    /// just refreshed to (not a failure the rollback has yet to reach), not running anything.
    fn visible_failures(cluster: &Cluster) -> Vec<u32> {
        cluster
            .failed_units()
            .into_iter()
            .filter(|&unit| {
                cluster.status(unit).map(|s| s.kind) == Some(StatusKind::Blocked)
                    && cluster.units[&unit].revision == cluster.app_revision
                    && !cluster.is_busy(unit)
            })
            .collect()
    }

    /// The unit a quiet upgrade paused before, as its status says.
    fn paused_before(cluster: &Cluster) -> Option<u32> {
        cluster.units.keys().copied().find(|&unit| {
            cluster.status(unit)
                == Some(&Status::blocked(messages::paused_unit(&format!(
                    "{}/{unit}",
                    cluster.app
                ))))
        })
    }

    /// Records that `force-upgrade skip-health-check` accepted `unit` as it is.
    pub fn accept_forced(&mut self, unit: u32) {
        self.forced |= unit_bit(unit);
    }

    /// What else the operator may do instead of [`Self::next_step`]: accept a failed unit with
    /// `force-upgrade skip-health-check` once nothing moves.
    pub fn alternatives(&self, cluster: &Cluster) -> Vec<OperatorStep> {
        if self.phase != Phase::Rolling || !cluster.is_quiet() {
            return Vec::new();
        }
        Operator::visible_failures(cluster)
            .into_iter()
            .map(OperatorStep::Force)
            .collect()
    }

    /// The operator's next step in `cluster`, if there is one now. Steps that only make sense
    /// once nothing moves (prepare, finish) wait for a quiet cluster; the others are taken as
    /// soon as the operator could see they are due, even while hooks still run.
    pub fn next_step(&self, cluster: &Cluster) -> Option<OperatorStep> {
        let quiet = cluster.is_quiet();
        match self.phase {
            Phase::Deploying => quiet.then_some(OperatorStep::Prepare),
            Phase::Prepared => Some(OperatorStep::Refresh),
            Phase::Recovered => Some(OperatorStep::RollBack),
            Phase::Done => None,
            Phase::Rolling => {
                let visible_failure = !Operator::visible_failures(cluster).is_empty();
                let can_recover = visible_failure
                    && self.recoveries < self.script.max_recoveries
                    && !cluster.is_busy(cluster.leader);
                let waiting_for_prepare = cluster.units.values().any(|sim| {
                    sim.status
                        == Some(Status::blocked(messages::refresh_not_prepared(
                            &cluster.app,
                        )))
                });
                if can_recover && (quiet || recovery_would_succeed(cluster)) {
                    Some(OperatorStep::Recover)
                } else if quiet
                    && waiting_for_prepare
                    && self.recoveries < self.script.max_recoveries
                {
                    Some(OperatorStep::PrepareRefreshed)
                } else if let Some(unit) = quiet.then(|| Operator::paused_before(cluster)).flatten()
                {
                    Some(OperatorStep::Resume(unit))
                } else if quiet {
                    Some(OperatorStep::Finish)
                } else {
                    None
                }
            }
        }
    }

    /// Performs `step`, returning what went wrong if the outcome breaks the how-to's promises.
    pub fn perform(&mut self, step: OperatorStep, cluster: &mut Cluster) -> Vec<String> {
        let mut problems = Vec::new();
        match step {
            OperatorStep::Prepare => {
                let leader = cluster.leader;
                let outcome = cluster.run_pre_upgrade_check(leader);
                if let Some(message) = outcome.failed {
                    problems.push(format!(
                        "pre-upgrade-check on an idle, quiet cluster failed: {message}"
                    ));
                } else {
                    problems.extend(check_prepared(cluster));
                }
                let baseline = model_json(cluster, ORIGINAL_REVISION);
                if cluster.dependencies() != baseline.as_deref() {
                    problems.push(format!(
                        "the deployment did not store revision {ORIGINAL_REVISION}'s dependencies as the baseline: {:?}",
                        cluster.dependencies()
                    ));
                }
                self.phase = Phase::Prepared;
            }
            OperatorStep::Refresh => {
                if let Some(offset) = self.script.fail_upgrade {
                    cluster.fail_upgrade_calls([offset]);
                }
                cluster.refresh(UPGRADE_REVISION);
                self.phase = Phase::Rolling;
            }
            OperatorStep::Recover => {
                let leader = cluster.leader;
                let failed = cluster.failed_units();
                let stack_before = cluster.stack();
                let round_before = cluster.app_bag.get(ROUND_KEY).cloned();
                let outcome = cluster.run_pre_upgrade_check(leader);
                self.recoveries += 1;
                let recovered = cluster.state(leader) == Some("recovery");
                let prepared = outcome.failed.is_none()
                    && !recovered
                    && cluster.app_bag.get(ROUND_KEY).cloned() != round_before;
                if prepared {
                    // The leader's copy of the failed unit was older than the failure (a unit
                    // paused by a second refresh as the upgrade ended): the action prepared a
                    // new upgrade instead, and the refresh that follows takes every unit on.
                    problems.extend(check_prepared(cluster));
                    self.phase = Phase::Recovered;
                } else if outcome.failed.is_none() && !recovered {
                    // Beyond v0: the rollback refresh already reached the failed units, so
                    // the action says so and changes nothing; the rollback goes on. The leader
                    // still drops units that left the application from the stack, as it does
                    // in any event it handles.
                    let without_removed: Vec<u32> = stack_before
                        .iter()
                        .copied()
                        .filter(|unit| !cluster.removed.contains(unit))
                        .collect();
                    let stack_after = cluster.stack();
                    if stack_after != stack_before && stack_after != without_removed {
                        problems.push(format!(
                            "pre-upgrade-check answered {:?} and changed the stack without a new round",
                            outcome.results
                        ));
                    }
                } else {
                    problems.extend(check_recovery(
                        cluster,
                        leader,
                        &failed,
                        &stack_before,
                        &outcome,
                    ));
                    self.phase = Phase::Recovered;
                }
            }
            OperatorStep::RollBack => {
                if !self.rolling_back {
                    if let Some(offset) = self.script.fail_rollback {
                        cluster.fail_upgrade_calls([offset]);
                    }
                }
                self.rolling_back = true;
                cluster.refresh(ORIGINAL_REVISION);
                self.phase = Phase::Rolling;
            }
            OperatorStep::PrepareRefreshed => {
                let leader = cluster.leader;
                let outcome = cluster.run_pre_upgrade_check(leader);
                self.recoveries += 1;
                if let Some(message) = outcome.failed {
                    problems.push(format!(
                        "units wait for pre-upgrade-check, but it fails on the leader: {message}"
                    ));
                }
            }
            OperatorStep::Resume(unit) => {
                let outcome = cluster.run_action(unit, Event::ResumeUpgrade);
                // Only the unit's own upgrade may fail once resumed (a scripted failure).
                if let Some(message) = outcome.failed {
                    if !message.starts_with("Upgrade resumed, but") {
                        problems.push(format!(
                            "the upgrade paused before mysql/{unit} but resume-upgrade there fails: {message}"
                        ));
                    }
                }
            }
            OperatorStep::Force(unit) => {
                let outcome = cluster.run_action(
                    unit,
                    Event::ForceUpgrade {
                        skip_compatibility_check: false,
                        skip_pre_upgrade_check: false,
                        skip_health_check: true,
                    },
                );
                match outcome.failed {
                    None => self.accept_forced(unit),
                    Some(message) => problems.push(format!(
                        "mysql/{unit} failed but force-upgrade skip-health-check there fails: {message}"
                    )),
                }
            }
            OperatorStep::Finish => {
                let (ending, found) = check_final(cluster, self.rolling_back, self.forced);
                problems.extend(found);
                self.ending = Some(ending);
                self.phase = Phase::Done;
            }
        }
        problems
    }
}

/// A prepared upgrade stacks every live unit (and maybe a removed one the leader has not yet
/// heard depart; it drops it then).
fn check_prepared(cluster: &Cluster) -> Vec<String> {
    let stacked: BTreeSet<u32> = cluster.stack().into_iter().collect();
    let live: BTreeSet<u32> = cluster.units.keys().copied().collect();
    let known: BTreeSet<u32> = live.union(&cluster.removed).copied().collect();
    if stacked.is_superset(&live) && stacked.is_subset(&known) {
        Vec::new()
    } else {
        vec![format!(
            "pre-upgrade-check built stack {:?} for units {live:?}",
            cluster.stack()
        )]
    }
}

/// Whether the recovery action would succeed now (the leader has heard of the failure).
fn recovery_would_succeed(cluster: &Cluster) -> bool {
    let mut trial = cluster.clone();
    trial.keep_logs = false;
    let leader = trial.leader;
    trial.run_pre_upgrade_check(leader).failed.is_none()
}

/// Recovery must succeed on a quiet failed cluster, mark the leader, put every live unit back
/// in the stack and a failed unit on top.
fn check_recovery(
    cluster: &Cluster,
    leader: u32,
    failed: &[u32],
    stack_before: &[u32],
    outcome: &ActionOutcome,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(message) = &outcome.failed {
        problems.push(format!(
            "the cluster is paused on failed units {failed:?} but pre-upgrade-check on the leader fails: {message}"
        ));
        return problems;
    }
    if cluster.state(leader) != Some("recovery") {
        problems.push(format!(
            "recovery left leader {leader} in state {:?}",
            cluster.state(leader)
        ));
    }
    if cluster.status(leader) != Some(&Status::blocked(messages::READY_TO_ROLLBACK)) {
        problems.push(format!(
            "recovery left leader {leader} with status {:?}",
            cluster.status(leader)
        ));
    }
    // Every live unit is back; a removed unit the leader has not yet heard depart may remain.
    let stack = cluster.stack();
    let stacked: BTreeSet<u32> = stack.iter().copied().collect();
    let live: BTreeSet<u32> = cluster.units.keys().copied().collect();
    let known: BTreeSet<u32> = live.union(&cluster.removed).copied().collect();
    if !stacked.is_superset(&live) || !stacked.is_subset(&known) {
        problems.push(format!(
            "recovery stack {stack:?} is not every live unit {live:?}"
        ));
    }
    // v0's repair keeps the top (the failed unit, when a workload upgrade failed), so it rolls
    // back first. (A unit paused by a second refresh may be anywhere in the stack or out of it.)
    // (Removed units, which the leader drops once it hears them depart, are skipped.)
    let live_top = |units: &[u32]| {
        units
            .iter()
            .rev()
            .find(|unit| !cluster.removed.contains(unit))
            .copied()
    };
    let top_before = live_top(stack_before);
    let top_after = live_top(&stack);
    // A removed unit still on top in the leader's view gets the others inserted under it;
    // once it is dropped, another unit leads the rollback: only checked without removals.
    let removal_in_stack = stack_before.iter().any(|u| cluster.removed.contains(u));
    if removal_in_stack {
        return problems;
    }
    if top_before.is_some() && top_after != top_before {
        problems.push(format!(
            "recovery changed the top of the stack from {stack_before:?} to {stack:?}"
        ));
    }
    if top_before.is_some_and(|top| failed.contains(&top)) && top_after != top_before {
        problems.push(format!(
            "recovery stack {stack:?} does not roll back the failed unit {top_before:?} first"
        ));
    }
    problems
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ending {
    /// Every unit idle and active on the last refreshed revision.
    Finished,
    /// Paused on failed units whose status says what to do.
    Paused,
    /// v0 behaviour: a refresh reached the units only after the upgrade had ended, so it found
    /// no stack and did nothing but log that `pre-upgrade-check` must run first. Every unit is
    /// idle on the workload and baseline of the last completed upgrade, running the newer charm.
    UnpreparedRefresh,
}

/// A run over: finished on the last refreshed revision, or paused on failed units that say so,
/// or (v0 only) a refresh that came after the upgrade ended.
///
/// A unit in `forced` (one bit each) was accepted by `force-upgrade skip-health-check` and may
/// still run its broken workload.
pub fn check_final(cluster: &Cluster, rolling_back: bool, forced: u64) -> (Ending, Vec<String>) {
    let failed = cluster.failed_units();
    if !failed.is_empty() {
        return (Ending::Paused, check_paused(cluster, &failed));
    }
    if !cluster.report_versions && ended_before_an_unprepared_refresh(cluster) {
        return (Ending::UnpreparedRefresh, Vec::new());
    }
    (
        Ending::Finished,
        check_finished(cluster, rolling_back, forced),
    )
}

/// Every unit idle and active, no stack, and workloads and baseline consistently those of one
/// revision older than the application's.
fn ended_before_an_unprepared_refresh(cluster: &Cluster) -> bool {
    let Some(baseline) = cluster.dependencies() else {
        return false;
    };
    let Some((&ran, _)) = cluster
        .revisions
        .iter()
        .find(|(_, revision)| revision.model.to_json() == baseline)
    else {
        return false;
    };
    let pinned = &cluster.revisions[&ran].workload;
    ran != cluster.app_revision
        && cluster.all_idle_and_active()
        && cluster
            .units
            .values()
            .all(|sim| &sim.workload == pinned && sim.revision == cluster.app_revision)
}

fn check_finished(cluster: &Cluster, rolling_back: bool, forced: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let target = cluster.app_revision;
    if rolling_back && target != ORIGINAL_REVISION {
        problems.push(format!(
            "a rollback ended on revision {target}, not {ORIGINAL_REVISION}"
        ));
    }
    let stack = cluster.stack();
    if !stack.is_empty() {
        problems.push(format!(
            "nothing can happen any more but the stack is {stack:?} and no unit failed: {}",
            describe(cluster)
        ));
    }
    let Some(revision) = cluster.revisions.get(&target) else {
        problems.push(format!("the application runs unknown revision {target}"));
        return problems;
    };
    for (&unit, sim) in &cluster.units {
        let state = cluster.state(unit);
        let active = sim.status.as_ref().map(|s| s.kind) == Some(StatusKind::Active);
        if state != Some("idle") || !active {
            problems.push(format!(
                "unit {unit} ended in state {state:?} with status {:?}",
                sim.status
            ));
        }
        let accepted_broken = forced & unit_bit(unit) != 0 && sim.workload == "broken";
        if sim.revision != target || (sim.workload != revision.workload && !accepted_broken) {
            problems.push(format!(
                "unit {unit} ended on revision {} with workload {} instead of {target} with {}",
                sim.revision, sim.workload, revision.workload
            ));
        }
    }
    let baseline = model_json(cluster, target);
    if cluster.dependencies() != baseline.as_deref() {
        problems.push(format!(
            "the dependencies baseline is not revision {target}'s: {:?}",
            cluster.dependencies()
        ));
    }
    problems
}

/// Paused: every failed unit shows a blocked status that says what happened and no unit is
/// left `upgrading`. (Which units are in the stack does not matter here: recovery puts every unit back,
/// and that is checked when the operator runs it.)
fn check_paused(cluster: &Cluster, failed: &[u32]) -> Vec<String> {
    let mut problems = Vec::new();
    for &unit in failed {
        let status = cluster.status(unit);
        let says_why = status.is_some_and(|s| {
            s.kind == StatusKind::Blocked
                && [messages::UPGRADE_FAILED, messages::REFRESHED_DURING_UPGRADE]
                    .contains(&s.message.as_str())
        });
        if !says_why {
            problems.push(format!("unit {unit} failed but its status is {status:?}"));
        }
    }
    for &unit in cluster.units.keys() {
        if cluster.state(unit) == Some("upgrading") {
            problems.push(format!("unit {unit} is still upgrading while paused"));
        }
    }
    problems
}

/// `unit`'s bit in a set of units (units past 63 share the last bit).
fn unit_bit(unit: u32) -> u64 {
    1 << unit.min(63)
}

fn model_json(cluster: &Cluster, revision: u32) -> Option<String> {
    cluster.revisions.get(&revision).map(|r| r.model.to_json())
}

/// One line per unit: state, status, revision, workload; and the stack.
pub fn describe(cluster: &Cluster) -> String {
    let mut parts: Vec<String> = cluster
        .units
        .iter()
        .map(|(&unit, sim)| {
            format!(
                "mysql/{unit}{}: {} [{}] rev {} workload {}",
                if unit == cluster.leader { "*" } else { "" },
                cluster.state(unit).unwrap_or("-"),
                sim.status
                    .as_ref()
                    .map_or_else(|| "no status".to_owned(), ToString::to_string),
                sim.revision,
                sim.workload
            )
        })
        .collect();
    parts.push(format!("stack {:?}", cluster.stack()));
    parts.join("; ")
}
