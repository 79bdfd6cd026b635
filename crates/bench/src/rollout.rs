//! Whole rollouts in the in-process cluster (`juju-upgrade-harness`, no processes): how many
//! hooks Juju's fan-out makes an upgrade and a rollback run, and how many peer-relation reads
//! those hooks make, for the charm as it is, for v0's pattern, and for a design where a
//! non-leader reads its peers only when it may have to act (see [`ReadPattern::TwoStep`]).
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
    /// A proposed core change: a hook first reads `relation-ids`, `is-leader`, its own bag and
    /// the application bag (4 calls); the leader then reads every unit, as now, and so does a
    /// non-leader that may have to act ([`Situation::needs_peers`]); every other non-leader
    /// hook stops there.
    TwoStep,
}

/// What a unit knows after reading its own bag and the application bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// It is the leader.
    pub is_leader: bool,
    /// It is on top of the upgrade stack (next to upgrade, or upgrading).
    pub on_top: bool,
    /// The stack is empty.
    pub stack_empty: bool,
    /// Its own state is `completed`.
    pub completed: bool,
    /// The hook is `upgrade-charm`.
    pub upgrade_charm: bool,
}

impl Situation {
    /// Whether the unit needs its peers' bags to decide: the leader always; a non-leader on
    /// top of the stack (it upgrades once every unit is ready and nobody else upgrades), or
    /// with an empty stack after completing (it returns to idle once every unit is done) or at
    /// `upgrade-charm` (a refresh nobody prepared). Any other non-leader only waits its turn:
    /// with its own bag and the application bag it knows it is not its turn.
    pub fn needs_peers(self) -> bool {
        self.is_leader
            || self.on_top
            || (self.stack_empty && (self.completed || self.upgrade_charm))
    }
}

impl ReadPattern {
    /// Peer-relation reads of one hook on a unit that sees `units` units (itself included).
    pub fn reads(self, units: u64, situation: Situation) -> u64 {
        match self {
            ReadPattern::EveryUnit => units + 4,
            ReadPattern::TwoStep if situation.needs_peers() => units + 4,
            // relation-ids, is-leader, its own bag, the application bag.
            ReadPattern::TwoStep => 4,
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
    /// Peer-relation reads with [`ReadPattern::TwoStep`].
    pub reads_two_step: u64,
    /// Hooks that would read every unit with [`ReadPattern::TwoStep`].
    pub two_step_full_reads: u64,
    /// Wall time of the in-process run.
    pub wall: Duration,
}

impl PhaseCount {
    fn count(&mut self, units: u64, situation: Situation) {
        self.hooks += 1;
        self.leader_hooks += u64::from(situation.is_leader);
        self.reads_every_unit += ReadPattern::EveryUnit.reads(units, situation);
        self.reads_two_step += ReadPattern::TwoStep.reads(units, situation);
        self.two_step_full_reads += u64::from(situation.needs_peers());
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
    let situation = situation(&cluster, leader, false);
    let recovery = cluster.run_pre_upgrade_check(leader);
    if let Some(failure) = recovery.failed {
        return Err(BenchError::Flow(format!("recovery failed: {failure}")));
    }
    rollback.count(members, situation);
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

/// What `unit` reads first (its own committed bag and the committed application bag).
fn situation(cluster: &Cluster, unit: u32, upgrade_charm: bool) -> Situation {
    let stack = cluster.stack();
    Situation {
        is_leader: unit == cluster.leader,
        on_top: stack.last() == Some(&unit),
        stack_empty: stack.is_empty(),
        completed: cluster.state(unit) == Some("completed"),
        upgrade_charm,
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
        let Some(hook) = cluster.next_hook(unit) else {
            break;
        };
        let units = unit_view(cluster, unit);
        count.count(units, situation(cluster, unit, hook == Hook::UpgradeCharm));
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

    fn waiting() -> Situation {
        Situation {
            is_leader: false,
            on_top: false,
            stack_empty: false,
            completed: false,
            upgrade_charm: false,
        }
    }

    #[test]
    fn in_two_steps_a_non_leader_waiting_its_turn_reads_four_bags_whatever_the_size() {
        assert_eq!(ReadPattern::EveryUnit.reads(3, waiting()), 7);
        assert_eq!(ReadPattern::EveryUnit.reads(200, waiting()), 204);
        assert_eq!(ReadPattern::TwoStep.reads(200, waiting()), 4);
        let upgrade_charm = Situation {
            upgrade_charm: true,
            ..waiting()
        };
        assert_eq!(ReadPattern::TwoStep.reads(200, upgrade_charm), 4);
    }

    #[test]
    fn in_two_steps_the_leader_the_top_and_a_unit_finishing_read_every_unit() {
        for situation in [
            Situation {
                is_leader: true,
                ..waiting()
            },
            Situation {
                on_top: true,
                ..waiting()
            },
            Situation {
                stack_empty: true,
                completed: true,
                ..waiting()
            },
            Situation {
                stack_empty: true,
                upgrade_charm: true,
                ..waiting()
            },
        ] {
            assert_eq!(
                ReadPattern::TwoStep.reads(200, situation),
                204,
                "{situation:?}"
            );
        }
        let idle_after_the_round = Situation {
            stack_empty: true,
            ..waiting()
        };
        assert_eq!(ReadPattern::TwoStep.reads(200, idle_after_the_round), 4);
    }
}
