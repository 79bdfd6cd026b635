//! Applying what a finished hook or action did (docs/hook-contract.md §3.1): immediate
//! effects always; batched writes (relation bags, charm state) only after
//! exit 0, in one all-or-nothing commit.

use crate::context::{HookContext, Immediate, RelationView, StatusValue};
use crate::model::{Level, LogEntry, Model, TaskLogLine, VersionedBag};

use super::hook_context::network_bag;

/// Applies the effects Juju applies at once (status-set, application-version-set,
/// leader-set, juju-log, action-log) and returns the log entries to append.
pub fn apply_immediate(
    model: &mut Model,
    unit_name: &str,
    ctx: &HookContext,
    task: Option<u64>,
    run_label: &str,
) -> Vec<LogEntry> {
    let mut log = Vec::new();
    let now = model.clock;
    let app_name = crate::model::app_of(unit_name).to_string();
    for effect in &ctx.immediate {
        match effect {
            Immediate::Log { level, message } => log.push(LogEntry {
                time: now,
                unit: Some(unit_name.to_string()),
                context: Some(run_label.to_string()),
                level: level.parse().unwrap_or(Level::Info),
                module: format!("unit.{unit_name}.juju-log"),
                message: message.clone(),
            }),
            Immediate::UnitStatus { status, message } => {
                if let Some(unit) = model.units.get_mut(unit_name) {
                    unit.workload = StatusValue {
                        status: status.clone(),
                        message: message.clone(),
                    };
                    unit.status_set_by_charm = true;
                }
            }
            Immediate::AppStatus { status, message } => {
                if let Some(app) = model.applications.get_mut(&app_name) {
                    app.status = Some(StatusValue {
                        status: status.clone(),
                        message: message.clone(),
                    });
                }
            }
            Immediate::WorkloadVersion { version } => {
                if let Some(unit) = model.units.get_mut(unit_name) {
                    unit.workload_version = version.clone();
                }
                if let Some(app) = model.applications.get_mut(&app_name) {
                    app.workload_version = version.clone();
                }
            }
            Immediate::LeaderSet { settings } => {
                let mut seen = None;
                if let Some(app) = model.applications.get_mut(&app_name) {
                    if &app.leader_settings != settings {
                        app.leader_settings = settings.clone();
                        app.leader_settings_version += 1;
                    }
                    seen = Some(app.leader_settings_version);
                }
                // The leader does not get leader-settings-changed for its own write.
                if let (Some(unit), Some(version)) = (model.units.get_mut(unit_name), seen) {
                    unit.leader_settings_seen = Some(version);
                }
            }
            Immediate::ActionLog { message } => {
                if let Some(task) = task.and_then(|id| model.tasks.get_mut(&id)) {
                    task.log.push(TaskLogLine {
                        time: now,
                        message: message.clone(),
                    });
                }
            }
        }
    }
    log
}

/// Commits the batched writes of a run that exited 0: the unit's own bags
/// (`unit_dirty`), its application's bags (`app_dirty`, leader only) and its
/// charm state. Nothing is applied when it fails (e.g. leadership was lost
/// while the hook wrote its application bag).
pub fn commit_batched(model: &mut Model, unit_name: &str, ctx: &HookContext) -> Result<(), String> {
    let app_name = crate::model::app_of(unit_name).to_string();
    let is_leader = model
        .applications
        .get(&app_name)
        .and_then(|a| a.leader.as_deref())
        == Some(unit_name);
    if ctx.relations.values().any(|v| v.app_dirty) && !is_leader {
        return Err("cannot write application settings: this unit is not the leader".to_string());
    }
    let address = model
        .units
        .get(unit_name)
        .map(|u| u.address.clone())
        .unwrap_or_default();
    for (id, view) in &ctx.relations {
        if view.unit_dirty {
            commit_unit_bag(model, *id, unit_name, &address, view);
        }
        if view.app_dirty {
            let Some(relation) = model.relations.get_mut(id) else {
                continue;
            };
            let data = view.apps.get(&app_name).cloned().unwrap_or_default();
            let bag = relation.apps.entry(app_name.clone()).or_default();
            if bag.data != data {
                bag.data = data;
                bag.version += 1;
                let version = bag.version;
                // The writer never hears of its own change.
                if let Some(unit) = model.units.get_mut(unit_name) {
                    unit.relations
                        .entry(*id)
                        .or_default()
                        .apps
                        .insert(app_name.clone(), version);
                }
            }
        }
    }
    if let Some(unit) = model.units.get_mut(unit_name) {
        unit.state = ctx.state.clone();
    }
    Ok(())
}

/// Commits the unit's own bag in one relation from what the hook left in `view`; the
/// version moves only when the data changed.
fn commit_unit_bag(
    model: &mut Model,
    relation_id: u64,
    unit_name: &str,
    address: &str,
    view: &RelationView,
) {
    let data = view.units.get(unit_name).cloned().unwrap_or_default();
    let Some(relation) = model.relations.get(&relation_id) else {
        return;
    };
    if relation
        .units
        .get(unit_name)
        .is_some_and(|bag| bag.data == data)
    {
        return;
    }
    // Agents that see this bag through the committed copy keep seeing the old one.
    model.keep_cached_copies(relation_id, unit_name);
    let Some(relation) = model.relations.get_mut(&relation_id) else {
        return;
    };
    let bag = relation
        .units
        .entry(unit_name.to_string())
        .or_insert_with(|| VersionedBag {
            version: 1,
            data: network_bag(address),
        });
    if bag.data != data {
        bag.data = data;
        bag.version += 1;
    }
}
