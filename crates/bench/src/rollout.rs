//! Whole rollouts in the in-process cluster (`juju-upgrade-harness`, no processes): how many
//! hooks Juju's fan-out makes an upgrade and a rollback run, and how many peer-relation reads
//! those hooks make, for the charm as it is, for v0's pattern, and for a design where only
//! the leader reads every unit.
//!
//! The cluster delivers hooks as Juju does: every committed change of a unit's bag queues
//! `upgrade-relation-changed` on every other unit (changes from one unit coalesce while
//! queued), a change of the application bag on every unit but the leader. Hooks run one at a
//! time, the lowest-numbered unit with work first (`Cluster::settle`'s order).

use std::time::{Duration, Instant};

use juju_upgrade_harness::cluster::{Cluster, Hook};
use juju_upgrade_harness::fixtures::{seed_revisions, ORIGINAL_REVISION, UPGRADE_REVISION};

use crate::error::BenchError;

/// How a hook reads the peer relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPattern {
    /// Every hook reads every unit's bag: `relation-ids`, `is-leader`, `relation-list`, one
    /// `relation-get` per unit it sees and one for the application bag. This is what the
    /// charm's `peer::snapshot` does for every upgrade hook, and what v0's `DataUpgrade`
    /// does (through `ops`: `get_relation`, `is_leader`, `cluster_state` over every unit,
    /// `upgrade_stack`).
    EveryUnit,
    /// Only the leader reads every unit; the others read their own bag and the application
    /// bag, where the leader publishes what they need (see BENCHMARKS.md).
    LeaderReadsAll,
}

impl ReadPattern {
    /// Peer-relation reads of one hook on a unit that sees `units` units (itself included).
    pub fn reads(self, units: u64, is_leader: bool) -> u64 {
        match (self, is_leader) {
            (ReadPattern::EveryUnit, _) | (ReadPattern::LeaderReadsAll, true) => units + 4,
            // relation-ids, is-leader, its own bag, the application bag.
            (ReadPattern::LeaderReadsAll, false) => 4,
        }
    }
}

/// What one phase (the upgrade, or the rollback) ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseCount {
    /// Hooks run (and actions).
    pub hooks: u64,
    /// Of which on the leader.
    pub leader_hooks: u64,
    /// The most hooks one unit ran.
    pub max_hooks_per_unit: u64,
    /// Peer-relation reads with [`ReadPattern::EveryUnit`] (the charm now, and v0).
    pub reads_every_unit: u64,
    /// Peer-relation reads with [`ReadPattern::LeaderReadsAll`].
    pub reads_leader_only: u64,
    /// Wall time of the in-process run.
    pub wall: Duration,
}

impl PhaseCount {
    fn count(&mut self, units: u64, is_leader: bool) {
        self.hooks += 1;
        self.leader_hooks += u64::from(is_leader);
        self.reads_every_unit += ReadPattern::EveryUnit.reads(units, is_leader);
        self.reads_leader_only += ReadPattern::LeaderReadsAll.reads(units, is_leader);
    }
}

/// A whole upgrade and a whole rollback of one application size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    /// Units in the application.
    pub units: u32,
    /// `juju refresh` to the new revision until every unit is idle on it.
    pub upgrade: PhaseCount,
    /// After the first unit failed its upgrade: `pre-upgrade-check` (recovery) and `juju
    /// refresh` back, until every unit is idle on the old revision.
    pub rollback: PhaseCount,
}

/// Most hooks one phase may run before the benchmark gives up.
const MAX_HOOKS: u64 = 50_000_000;

/// Runs the upgrade and the rollback (the seed's: the first unit to upgrade fails) on
/// `units` units, the leader being unit 0, with the charm reporting its versions as the
/// MySQL charm does when `report_versions`.
pub fn rollout(units: u32, report_versions: bool) -> Result<Rollout, BenchError> {
    let mut cluster = prepared(units, report_versions)?;
    let start = Instant::now();
    cluster.refresh(UPGRADE_REVISION);
    let mut upgrade = PhaseCount::default();
    settle(&mut cluster, &mut upgrade)?;
    upgrade.wall = start.elapsed();
    check(&cluster, "upgrade", "8.0.34")?;
    if cluster.upgrades.len() != units as usize {
        return Err(BenchError::Flow(format!(
            "{} workload upgrades for {units} units",
            cluster.upgrades.len()
        )));
    }

    let mut cluster = prepared(units, report_versions)?;
    cluster.fail_upgrade_calls([0]);
    cluster.refresh(UPGRADE_REVISION);
    settle(&mut cluster, &mut PhaseCount::default())?;
    if cluster.failed_units().len() != 1 {
        return Err(BenchError::Flow(format!(
            "the failing refresh left {:?} failed",
            cluster.failed_units()
        )));
    }
    let start = Instant::now();
    let mut rollback = PhaseCount::default();
    let leader = cluster.leader;
    let members = unit_view(&cluster, leader);
    let recovery = cluster.run_pre_upgrade_check(leader);
    if let Some(failure) = recovery.failed {
        return Err(BenchError::Flow(format!("recovery failed: {failure}")));
    }
    rollback.count(members, true);
    cluster.refresh(ORIGINAL_REVISION);
    settle(&mut cluster, &mut rollback)?;
    rollback.wall = start.elapsed();
    check(&cluster, "rollback", "8.0.33")?;
    Ok(Rollout {
        units,
        upgrade,
        rollback,
    })
}

/// Deployed, settled and prepared (`pre-upgrade-check` on the leader).
fn prepared(units: u32, report_versions: bool) -> Result<Cluster, BenchError> {
    let revisions = seed_revisions();
    let mut cluster = Cluster::deploy(units, 0, &revisions, ORIGINAL_REVISION);
    cluster.keep_logs = false;
    cluster.report_versions = report_versions;
    settle(&mut cluster, &mut PhaseCount::default())?;
    let outcome = cluster.run_pre_upgrade_check(cluster.leader);
    match outcome.failed {
        Some(failure) => Err(BenchError::Flow(format!(
            "pre-upgrade-check failed: {failure}"
        ))),
        None => Ok(cluster),
    }
}

/// Units a hook on `unit` sees: the peers its agent knows, itself included.
fn unit_view(cluster: &Cluster, unit: u32) -> u64 {
    cluster
        .units
        .get(&unit)
        .map_or(1, |sim| sim.members.len().max(1) as u64)
}

/// Runs hooks, lowest unit first, until none is left, counting each.
fn settle(cluster: &mut Cluster, count: &mut PhaseCount) -> Result<(), BenchError> {
    let mut per_unit: std::collections::BTreeMap<u32, u64> = Default::default();
    while let Some(&unit) = cluster.ready_units().first() {
        if count.hooks >= MAX_HOOKS {
            return Err(BenchError::Flow(format!("no end after {MAX_HOOKS} hooks")));
        }
        let hook: Option<Hook> = cluster.next_hook(unit);
        if hook.is_none() {
            break;
        }
        let units = unit_view(cluster, unit);
        count.count(units, unit == cluster.leader);
        *per_unit.entry(unit).or_default() += 1;
        cluster.begin(unit);
        cluster.commit(unit);
    }
    count.max_hooks_per_unit = count
        .max_hooks_per_unit
        .max(per_unit.values().copied().max().unwrap_or(0));
    if let Some(violation) = cluster.violations.first() {
        return Err(BenchError::Flow(format!(
            "the cluster broke a rule: {violation}"
        )));
    }
    Ok(())
}

fn check(cluster: &Cluster, phase: &str, version: &str) -> Result<(), BenchError> {
    let wrong: Vec<u32> = cluster
        .units
        .iter()
        .filter(|(_, sim)| sim.workload != version)
        .map(|(&unit, _)| unit)
        .collect();
    if !cluster.all_idle_and_active() || !wrong.is_empty() {
        return Err(BenchError::Flow(format!(
            "after the {phase}, the cluster is not idle and active on {version} (units {wrong:?} are not)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_leader_reads_every_unit_in_the_proposed_pattern() {
        assert_eq!(ReadPattern::EveryUnit.reads(3, false), 7);
        assert_eq!(ReadPattern::EveryUnit.reads(200, true), 204);
        assert_eq!(ReadPattern::LeaderReadsAll.reads(200, false), 4);
        assert_eq!(ReadPattern::LeaderReadsAll.reads(200, true), 204);
    }
}
