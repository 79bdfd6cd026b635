//! The charm's peer cache in the cluster: each unit keeps its copies of the other units' bags
//! between hooks as the MySQL charm does (`mysql_charm::cache`, on the rules of
//! [`juju_upgrade::PeerCache`]), and the faults that could make such a cache lie.
//!
//! The charm's file is modelled per unit ([`CharmCache`]): moved aside when a hook that refreshes a unit's copy starts, dropped
//! by hooks that may change the members or the leader, written when a hook that needed every
//! bag ends its decisions (before Juju commits the hook). Whenever a hook decides from the
//! cache, the bags it hands the core are checked against the agent's copies
//! ([`crate::cluster::SimUnit::cache`], what `relation-get` would return):
//! [`Violation::PeerCacheLied`] if they differ.
//!
//! The faults ([`Cluster::kill_agent_before_cache_write`], [`Cluster::move_leader_and_back`],
//! [`Cluster::rejoin_unit`]) are the changes a cache could miss: an agent killed after the
//! charm wrote its cache and before Juju committed the hook (plain [`Cluster::kill_agent`]),
//! or before the charm wrote it; leadership leaving a unit and coming back; a unit removed
//! and added again with the same number. The agent's incarnation is not modelled (as in
//! `juju-sim`, the charm cannot tell a restarted agent), so a cache survives a killed agent
//! and must still tell the truth.

use std::collections::{BTreeMap, BTreeSet};

use juju_upgrade::{read_other_bags, Bag, CacheHook, CacheKey, CacheMiss, OtherBags, PeerCache};

use crate::cluster::{Cluster, Hook, SimUnit, Source, Task};
use crate::violation::Violation;

/// The relation the cluster's units share, as the charm names it in its cache key.
const RELATION: &str = "upgrade:0";

/// One unit's peer cache file (kept parsed: a damaged file is the charm's unit tests' case).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CharmCache {
    /// `upgrade.json`: the cache in place.
    pub file: Option<PeerCache>,
    /// `upgrade.json.taken`: moved aside by the running hook.
    pub taken: Option<PeerCache>,
    /// The files before the running hook wrote its cache, if it did.
    before_write: Option<(Option<PeerCache>, Option<PeerCache>)>,
}

impl CharmCache {
    /// What the charm does as a hook starts, before any hook tool.
    pub fn hook_start(&mut self, hook: CacheHook) {
        self.before_write = None;
        match hook {
            CacheHook::Keeps => {}
            CacheHook::Refreshes(_) => self.taken = self.file.take(),
            CacheHook::Invalidates => {
                self.file = None;
                self.taken = None;
            }
        }
    }

    /// The cache the running hook may use.
    pub fn load(&self, hook: CacheHook) -> Result<PeerCache, CacheMiss> {
        let cache = match hook {
            CacheHook::Invalidates => return Err(CacheMiss::Invalidated),
            CacheHook::Refreshes(_) => self.taken.as_ref(),
            CacheHook::Keeps => self.file.as_ref(),
        };
        cache.cloned().ok_or(CacheMiss::Absent)
    }

    /// The running hook's cache for the next hook.
    pub fn store(&mut self, cache: &PeerCache) {
        self.before_write = Some((self.file.clone(), self.taken.clone()));
        self.file = Some(cache.clone());
        self.taken = None;
    }

    /// The running hook died before it wrote its cache: the files are as it left them
    /// before the write.
    fn lose_write(&mut self) {
        if let Some((file, taken)) = self.before_write.take() {
            self.file = file;
            self.taken = taken;
        }
    }
}

/// What a hook or action does to the agent's copies as it starts, as the charm sees it.
pub fn cache_hook(task: Task) -> CacheHook {
    match task {
        Task::Hook(Hook::RelationChanged(Source::Unit(unit))) => CacheHook::Refreshes(unit),
        Task::Hook(
            Hook::RelationCreated
            | Hook::RelationJoined(_)
            | Hook::RelationDeparted(_)
            | Hook::LeaderElected,
        ) => CacheHook::Invalidates,
        Task::Hook(
            Hook::RelationChanged(Source::App)
            | Hook::UpgradeCharm
            | Hook::ConfigChanged
            | Hook::UpdateStatus,
        )
        | Task::Action(_) => CacheHook::Keeps,
    }
}

/// The cache key of `unit` in the cluster.
pub fn cache_key(unit: u32) -> CacheKey {
    CacheKey {
        relation: RELATION.to_owned(),
        unit,
        agent: None,
    }
}

/// The other units' bags for a hook of `unit` that needs them: from its cache where it may
/// stand for them, else read from the agent's copies (`agent_copies`; a unit whose bag it
/// never copied reads as empty, as `relation-get` returns). Returns them and, when the
/// cache was used and differs from the agent's copies, the violation.
pub(crate) fn other_bags(
    unit: u32,
    members: &BTreeSet<u32>,
    agent_copies: &BTreeMap<u32, Bag>,
    cache: &CharmCache,
    hook: CacheHook,
    during: &str,
) -> (OtherBags, Option<Violation>) {
    let others: BTreeSet<u32> = members.iter().copied().filter(|&u| u != unit).collect();
    let copy = |other: u32| agent_copies.get(&other).cloned().unwrap_or_default();
    let Ok(got) = read_other_bags(&cache_key(unit), hook, &others, cache.load(hook), |other| {
        Ok::<Bag, std::convert::Infallible>(copy(other))
    });
    let lied: Vec<u32> = got
        .bags
        .iter()
        .filter(|(other, bag)| *bag != copy(*other))
        .map(|(other, _)| *other)
        .collect();
    let violation = (got.miss.is_none() && !lied.is_empty()).then(|| Violation::PeerCacheLied {
        unit,
        during: during.to_owned(),
        units: lied,
    });
    (got, violation)
}

impl Cluster {
    /// Kills `unit`'s agent in the middle of its running hook, before the charm wrote its
    /// peer cache: as [`Cluster::kill_agent`], with the cache files as the hook left them
    /// before the write (moved aside or dropped, if the hook does that). Nothing for a unit
    /// running no hook.
    pub fn kill_agent_before_cache_write(&mut self, unit: u32) {
        if !matches!(self.running(unit), Some(Task::Hook(_))) {
            return;
        }
        if let Some(sim) = self.units.get_mut(&unit) {
            sim.charm_cache.lose_write();
        }
        self.kill_agent(unit);
    }

    /// Leadership moves to `unit` and back to the current leader before either has run a
    /// hook: both get `leader-elected`.
    pub fn move_leader_and_back(&mut self, unit: u32) {
        let leader = self.leader;
        if unit == leader || !self.units.contains_key(&unit) {
            return;
        }
        self.move_leader(unit);
        self.move_leader(leader);
    }

    /// `unit` is removed ([`Cluster::remove_unit`]) and a new unit with the same number joins
    /// at once: a fresh agent on the application's revision with an empty bag and no peer
    /// cache, `upgrade-relation-created` and `-changed` for every other unit queued; every
    /// other unit runs `-departed` for the old one and then `-joined` for the new one.
    pub fn rejoin_unit(&mut self, unit: u32) {
        if !self.units.contains_key(&unit) || self.units.len() < 2 {
            return;
        }
        self.remove_unit(unit);
        let workload = self
            .revisions
            .get(&self.app_revision)
            .map(|revision| revision.workload.clone())
            .unwrap_or_default();
        let mut members: BTreeSet<u32> = self.units.keys().copied().collect();
        members.insert(unit);
        for sim in self.units.values_mut() {
            sim.pending_joined.insert(unit);
        }
        let mut fresh = SimUnit::default();
        // Juju runs `-joined` and `-changed` on the new unit for every unit already there.
        fresh.pending_changed = self.units.keys().map(|&u| Source::Unit(u)).collect();
        fresh.pending_changed.insert(Source::App);
        fresh.revision = self.app_revision;
        fresh.workload = workload;
        fresh.pending_created = true;
        fresh.members = members;
        self.units.insert(unit, fresh);
        self.removed.remove(&unit);
    }
}
