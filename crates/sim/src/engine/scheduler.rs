//! The per-unit scheduler: given the model (controller state plus the unit
//! agent's local state), which single operation does this unit run next?
//!
//! The priority order is Juju 3.6's uniter resolver (docs/hook-contract.md §4.1),
//! with queued follow-up hooks first (§4.4): queued hooks → `install` →
//! `-relation-created` → leadership → actions → charm upgrade →
//! `config-changed` → relation hooks (§4.3) → a requested `update-status`. A hook in error blocks every
//! other hook but not actions.

use std::collections::BTreeSet;

use crate::model::{HookInfo, HookKind, Life, Model, TaskStatus, Unit};

/// One operation a unit agent can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Run a hook.
    Hook {
        /// The hook.
        hook: HookInfo,
        /// Where it came from (decides what happens to the queue and the error).
        source: HookSource,
    },
    /// Run a pending action task.
    Action(u64),
    /// Replace the charm directory with the application's revision, then queue `upgrade-charm`.
    CharmSwap(u64),
    /// A dying unit that never installed goes away without hooks.
    Forget,
}

/// Why a hook was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookSource {
    /// The front of the unit's queue of follow-up hooks.
    Queue,
    /// The failed hook, retried.
    Retry,
    /// Derived from controller state (new relation, leadership, config, ...).
    Fresh,
}

/// What a unit can do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run this.
    Run(Operation),
    /// In error; an automatic retry is due at this virtual time.
    RetryAt(u64),
    /// Nothing to do (or in error waiting for `resolved`).
    Idle,
}

/// Picks the next operation of `unit`. `retry_allowed` says whether an
/// automatic retry of its failed hook may run now (the caller's budget).
pub fn next_operation(model: &Model, unit: &Unit, now: u64, retry_allowed: bool) -> Next {
    if let Some(error) = &unit.error {
        if unit.installed || unit.charm_revision.is_some() {
            if let Some(task) = next_task(model, unit) {
                return Next::Run(Operation::Action(task));
            }
        }
        if error.resolved {
            return Next::Run(Operation::Hook {
                hook: error.hook.clone(),
                source: HookSource::Retry,
            });
        }
        return match error.retry_at {
            Some(at) if at <= now && retry_allowed => Next::Run(Operation::Hook {
                hook: error.hook.clone(),
                source: HookSource::Retry,
            }),
            Some(at) if retry_allowed => Next::RetryAt(at),
            _ => Next::Idle,
        };
    }
    if let Some(hook) = unit.queue.front() {
        return Next::Run(Operation::Hook {
            hook: hook.clone(),
            source: HookSource::Queue,
        });
    }
    if unit.life == Life::Dying {
        return next_for_dying(model, unit);
    }
    let fresh = |hook: HookInfo| {
        Next::Run(Operation::Hook {
            hook,
            source: HookSource::Fresh,
        })
    };
    if !unit.installed {
        return fresh(HookInfo::simple(HookKind::Install));
    }
    for relation in model.relations_of(&unit.app) {
        if !unit.relations.get(&relation.id).is_some_and(|r| r.created) {
            let endpoint = relation.endpoint_of(&unit.app).unwrap_or_default();
            let remote_app = relation.remote_app_of(&unit.app).unwrap_or_default();
            return fresh(HookInfo::relation(
                HookKind::RelationCreated,
                relation.id,
                endpoint,
                remote_app,
            ));
        }
    }
    let Some(app) = model.applications.get(&unit.app) else {
        return Next::Idle;
    };
    let is_leader = app.leader.as_deref() == Some(unit.name.as_str());
    if is_leader && !unit.leader_local {
        return fresh(HookInfo::simple(HookKind::LeaderElected));
    }
    if !is_leader
        && (unit.leader_local || unit.leader_settings_seen != Some(app.leader_settings_version))
    {
        return fresh(HookInfo::simple(HookKind::LeaderSettingsChanged));
    }
    if let Some(task) = next_task(model, unit) {
        return Next::Run(Operation::Action(task));
    }
    if unit.charm_revision != Some(app.revision) {
        return Next::Run(Operation::CharmSwap(app.revision));
    }
    if unit.config_seen != Some(app.config_version) {
        return fresh(HookInfo::simple(HookKind::ConfigChanged));
    }
    if let Some(hook) = next_relation_hook(model, unit) {
        return fresh(hook);
    }
    if unit.update_status_due {
        return fresh(HookInfo::simple(HookKind::UpdateStatus));
    }
    Next::Idle
}

/// The oldest pending task of the unit.
fn next_task(model: &Model, unit: &Unit) -> Option<u64> {
    model
        .tasks
        .values()
        .find(|t| t.unit == unit.name && t.status == TaskStatus::Pending)
        .map(|t| t.id)
}

/// A dying unit departs from every member it knows, then stops and is removed.
fn next_for_dying(model: &Model, unit: &Unit) -> Next {
    if !unit.installed {
        return Next::Run(Operation::Forget);
    }
    for (id, seen) in &unit.relations {
        let Some(relation) = model.relations.get(id) else {
            continue;
        };
        let endpoint = relation.endpoint_of(&unit.app).unwrap_or_default();
        let remote_app = relation.remote_app_of(&unit.app).unwrap_or_default();
        if let Some(member) = seen.members.keys().next() {
            let mut hook =
                HookInfo::relation(HookKind::RelationDeparted, *id, endpoint, remote_app)
                    .with_remote_unit(member);
            hook.departing_unit = Some(unit.name.clone());
            return Next::Run(Operation::Hook {
                hook,
                source: HookSource::Fresh,
            });
        }
    }
    let kind = if unit.stopped {
        HookKind::Remove
    } else {
        HookKind::Stop
    };
    Next::Run(Operation::Hook {
        hook: HookInfo::simple(kind),
        source: HookSource::Fresh,
    })
}

/// docs/hook-contract.md §4.3, one relation at a time in id order: a `-changed` still
/// due after `-joined`, departed, app-bag changed, joined, unit-bag changed.
fn next_relation_hook(model: &Model, unit: &Unit) -> Option<HookInfo> {
    for (id, seen) in &unit.relations {
        if !seen.created {
            continue;
        }
        let Some(relation) = model.relations.get(id) else {
            continue;
        };
        let endpoint = relation.endpoint_of(&unit.app).unwrap_or_default();
        let remote_app = relation.remote_app_of(&unit.app).unwrap_or_default();
        let hook = |kind| HookInfo::relation(kind, *id, endpoint, remote_app);
        if let Some((member, _)) = seen.members.iter().find(|(_, version)| version.is_none()) {
            return Some(hook(HookKind::RelationChanged).with_remote_unit(member));
        }
        let current: BTreeSet<String> = relation.remote_members(&unit.name, remote_app);
        if let Some(gone) = seen.members.keys().find(|m| !current.contains(*m)) {
            let mut departed = hook(HookKind::RelationDeparted).with_remote_unit(gone);
            departed.departing_unit = Some(gone.clone());
            return Some(departed);
        }
        if let Some(bag) = relation.apps.get(remote_app) {
            if bag.version > 0 && seen.apps.get(remote_app).copied().unwrap_or(0) != bag.version {
                return Some(hook(HookKind::RelationChanged));
            }
        }
        if let Some(new) = current.iter().find(|m| !seen.members.contains_key(*m)) {
            return Some(hook(HookKind::RelationJoined).with_remote_unit(new));
        }
        for (member, version) in &seen.members {
            let latest = relation.units.get(member).map(|b| b.version);
            if latest.is_some() && latest != *version {
                return Some(hook(HookKind::RelationChanged).with_remote_unit(member));
            }
        }
    }
    None
}
