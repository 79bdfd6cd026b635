//! Whole rollouts in the in-process cluster (`juju-upgrade-harness`, no processes): how many
//! hooks Juju's fan-out makes an upgrade and a rollback run, and how many peer-relation reads
//! those hooks make, measured in two steps as the core now decides, against v0's pattern of
//! reading every unit in every hook.
//!
//! The cluster delivers hooks as Juju does: every committed change of a unit's bag queues
//! `upgrade-relation-changed` on every other unit (changes from one unit coalesce while
//! queued), a change of the application bag on every unit but the leader. Hooks run one at a
//! time, the lowest-numbered unit with work first (`Cluster::settle`'s order).
//!
//! The cluster runs each hook in two steps (`juju_upgrade::handle_own_and_app` on the unit's
//! own bag and the application bag, then `handle` on every bag only when the core asks for
//! them, the other units' from the unit's peer cache where it may stand for them) and counts
//! it in `Cluster::peer_reads`; the difference of that count around one hook says whether
//! the core needed every unit and how many bags the hook read.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use juju_upgrade_harness::cluster::{Cluster, Hook, PeerReads};
use juju_upgrade_harness::fixtures::{howto_revisions, ORIGINAL_REVISION, UPGRADE_REVISION};

use crate::error::BenchError;

/// Peer-relation tool calls every upgrade hook makes before it knows whether it needs the
/// other units: `relation-ids`, `is-leader`, `relation-list`, and `relation-get` of its own
/// bag and of the application bag.
pub const OWN_AND_APP_READS: u64 = 5;

/// Peer-relation tool calls of a hook that reads every unit's bag, on a unit that sees
/// `units` units (itself included): the first five, then one `relation-get` per other unit
/// (k + 4 on k units). v0's `DataUpgrade` makes as many in every hook (through `ops`:
/// `get_relation`, `is_leader`, `cluster_state` over every unit, `upgrade_stack`).
pub fn every_unit_reads(units: u64) -> u64 {
    OWN_AND_APP_READS + units.saturating_sub(1)
}

/// What ran on a unit: a hook, or the `pre-upgrade-check` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// A hook the agent delivered.
    Hook(Hook),
    /// `juju run <unit> pre-upgrade-check`.
    PreUpgradeCheck,
}

/// The peer-relation reads of one hook (or action), measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookReads {
    /// The unit it ran on.
    pub unit: u32,
    /// What ran.
    pub ran: Ran,
    /// It ran on the leader.
    pub on_leader: bool,
    /// Units it saw (itself included).
    pub units_seen: u64,
    /// The core needed every unit's bag after reading its own and the application's.
    pub read_every_unit: bool,
    /// Bags it read with `relation-get`: its own, the application's, and the other units'
    /// its peer cache could not stand for.
    pub bags_read: u64,
    /// It needed every unit's bag and its peer cache stood for none of them.
    pub cache_miss: bool,
    /// Tool calls it made reading in two steps, as the core decided.
    pub reads_two_step: u64,
    /// Tool calls it would have made reading every unit (v0's pattern).
    pub reads_every_unit: u64,
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
    /// Peer-relation tool calls had every hook read every unit (v0's pattern), over the
    /// same hooks.
    pub reads_every_unit: u64,
    /// Peer-relation tool calls reading in two steps, measured: [`OWN_AND_APP_READS`] per
    /// hook, and the other units' bags in the hooks that needed them.
    pub reads_two_step: u64,
    /// Hooks whose decision needed every unit's bag (from the peer cache or read), measured.
    pub two_step_full_reads: u64,
    /// Bags read with `relation-get`, measured (own, application, others not cached).
    pub bags_read: u64,
    /// Of the hooks that needed every unit's bag, those that read them all (no usable
    /// peer cache).
    pub cache_misses: u64,
    /// The most tool calls a hook that did not read every unit made (0 if there was none).
    pub max_partial_hook_reads: u64,
    /// Wall time of the in-process run.
    pub wall: Duration,
}

impl PhaseCount {
    fn add(&mut self, reads: &HookReads) {
        self.hooks += 1;
        self.leader_hooks += u64::from(reads.on_leader);
        self.reads_every_unit += reads.reads_every_unit;
        self.reads_two_step += reads.reads_two_step;
        self.two_step_full_reads += u64::from(reads.read_every_unit);
        self.bags_read += reads.bags_read;
        self.cache_misses += u64::from(reads.cache_miss);
        if !reads.read_every_unit {
            self.max_partial_hook_reads = self.max_partial_hook_reads.max(reads.reads_two_step);
        }
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

/// Runs the upgrade and the rollback (the how-to's: the first unit to upgrade fails) on
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
    let recovery = pre_upgrade_check(&mut cluster, leader, "recovery")?;
    rollback.add(&recovery);
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

/// Starts and commits `unit`'s next hook, measuring its reads; `None` when the unit has no
/// hook to run (or is running one).
pub fn run_next_hook(cluster: &mut Cluster, unit: u32) -> Result<Option<HookReads>, BenchError> {
    let Some(hook) = cluster.next_hook(unit) else {
        return Ok(None);
    };
    let before = cluster.peer_reads;
    if !cluster.begin(unit) {
        return Ok(None);
    }
    // Measured before the commit: the units the hook saw are the agent's view while it ran.
    let reads = measured(cluster, unit, Ran::Hook(hook), before)?;
    cluster.commit(unit);
    Ok(Some(reads))
}

/// Runs `pre-upgrade-check` on `unit` (`what` names it in errors), measuring its reads.
fn pre_upgrade_check(
    cluster: &mut Cluster,
    unit: u32,
    what: &str,
) -> Result<HookReads, BenchError> {
    if cluster.is_busy(unit) || !cluster.units.contains_key(&unit) {
        return Err(BenchError::Flow(format!(
            "{what}: unit {unit} is busy or gone"
        )));
    }
    let before = cluster.peer_reads;
    let outcome = cluster.run_pre_upgrade_check(unit);
    if let Some(failure) = outcome.failed {
        return Err(BenchError::Flow(format!("{what} failed: {failure}")));
    }
    measured(cluster, unit, Ran::PreUpgradeCheck, before)
}

/// The reads of the one hook run on `unit` since the cluster's count was `before`; checks
/// that the cluster counted exactly that hook, with the bags such a hook reads.
fn measured(
    cluster: &Cluster,
    unit: u32,
    ran: Ran,
    before: PeerReads,
) -> Result<HookReads, BenchError> {
    let after = cluster.peer_reads;
    let hooks = after.hooks.saturating_sub(before.hooks);
    let every_unit_hooks = after
        .every_unit_hooks
        .saturating_sub(before.every_unit_hooks);
    let bags = after.bags.saturating_sub(before.bags);
    let units_seen = unit_view(cluster, unit);
    let read_every_unit = every_unit_hooks == 1;
    // Own bag and app bag; and, when the core needed the others, those the peer cache did
    // not stand for.
    let others_read = bags.saturating_sub(2);
    let others = units_seen.saturating_sub(1);
    if hooks != 1
        || every_unit_hooks > 1
        || bags < 2
        || others_read > others
        || (!read_every_unit && others_read > 0)
    {
        return Err(BenchError::Flow(format!(
            "{ran:?} on unit {unit} (seeing {units_seen} units) was counted as {hooks} hooks, \
             {every_unit_hooks} reading every unit, {bags} bags"
        )));
    }
    let reads_every_unit = every_unit_reads(units_seen);
    Ok(HookReads {
        unit,
        ran,
        on_leader: unit == cluster.leader,
        units_seen,
        read_every_unit,
        bags_read: bags,
        cache_miss: read_every_unit && others > 0 && others_read == others,
        reads_two_step: OWN_AND_APP_READS + others_read,
        reads_every_unit,
    })
}

/// Deployed, settled and prepared (`pre-upgrade-check` on the leader).
fn prepared(units: u32, report_versions: bool) -> Result<Cluster, BenchError> {
    let revisions = howto_revisions();
    let mut cluster = Cluster::deploy(units, 0, &revisions, ORIGINAL_REVISION);
    cluster.keep_logs = false;
    cluster.report_versions = report_versions;
    settle(&mut cluster, &mut PhaseCount::default())?;
    let leader = cluster.leader;
    pre_upgrade_check(&mut cluster, leader, "pre-upgrade-check")?;
    Ok(cluster)
}

/// Units a hook on `unit` sees: the peers its agent knows, itself included.
fn unit_view(cluster: &Cluster, unit: u32) -> u64 {
    cluster.units.get(&unit).map_or(1, |sim| {
        let mut seen = sim.members.len() as u64;
        if !sim.members.contains(&unit) {
            seen += 1;
        }
        seen
    })
}

/// Runs hooks, lowest unit first, until none is left, counting each.
fn settle(cluster: &mut Cluster, count: &mut PhaseCount) -> Result<(), BenchError> {
    let mut per_unit: BTreeMap<u32, u64> = BTreeMap::new();
    while let Some(&unit) = cluster.ready_units().first() {
        if count.hooks >= MAX_HOOKS {
            return Err(BenchError::Flow(format!("no end after {MAX_HOOKS} hooks")));
        }
        let Some(reads) = run_next_hook(cluster, unit)? else {
            break;
        };
        count.add(&reads);
        *per_unit.entry(unit).or_default() += 1;
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
    fn reading_every_unit_costs_one_relation_get_per_other_unit_on_top_of_the_first_five() {
        assert_eq!(every_unit_reads(1), OWN_AND_APP_READS);
        assert_eq!(every_unit_reads(3), 7);
        assert_eq!(every_unit_reads(200), 204);
    }

    #[test]
    fn a_hook_the_cluster_did_not_count_is_an_error_not_a_zero() {
        let mut cluster = Cluster::deploy(3, 0, &howto_revisions(), ORIGINAL_REVISION);
        let before = cluster.peer_reads;
        let nothing_ran = measured(&cluster, 1, Ran::PreUpgradeCheck, before);
        assert!(
            matches!(nothing_ran, Err(BenchError::Flow(_))),
            "{nothing_ran:?}"
        );
        // The first hook of unit 1 (`upgrade-relation-created`), counted once.
        let reads = run_next_hook(&mut cluster, 1);
        let reads = reads.ok().flatten();
        assert!(
            matches!(
                reads,
                Some(HookReads {
                    unit: 1,
                    units_seen: 3,
                    ..
                })
            ),
            "{reads:?}"
        );
    }
}
