//! Builds the [`HookContext`] a hook or action process sees: the unit's view
//! of leadership, relations (members its agent knows, cached remote unit
//! bags, fresh application bags — docs/hook-contract.md §3.2), config with defaults,
//! charm state and statuses.

use std::collections::BTreeMap;

use crate::charm_archive::Charm;
use crate::context::{ActionContext, Bag, HookContext, RelationView};
use crate::model::{HookInfo, HookKind, Model, Relation, Task, Unit};

use super::status::app_display_status;

/// The keys Juju puts in every unit bag when the unit enters a relation.
pub fn network_bag(address: &str) -> Bag {
    let mut bag = Bag::new();
    bag.insert("egress-subnets".into(), format!("{address}/32"));
    bag.insert("ingress-address".into(), address.to_string());
    bag.insert("private-address".into(), address.to_string());
    bag
}

/// Config values as hooks see them: operator value, else the charm default, else unset.
pub fn effective_config(
    charm: Option<&Charm>,
    set: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, Option<serde_json::Value>> {
    let mut config = BTreeMap::new();
    if let Some(charm) = charm {
        for (name, option) in &charm.config {
            config.insert(
                name.clone(),
                set.get(name).cloned().or_else(|| option.default.clone()),
            );
        }
    }
    config
}

/// Builds the context of one run. `hook` is `None` for an action.
pub fn build(
    model: &Model,
    unit: &Unit,
    charm: Option<&Charm>,
    id: &str,
    hook: Option<&HookInfo>,
    task: Option<&Task>,
) -> HookContext {
    let app = model.applications.get(&unit.app);
    let mut relations = BTreeMap::new();
    for relation in model.relations_of(&unit.app) {
        let seen = unit.relations.get(&relation.id);
        let creating = hook.is_some_and(|h| {
            h.kind == HookKind::RelationCreated && h.relation_id == Some(relation.id)
        });
        if seen.is_some_and(|s| s.created) || creating {
            relations.insert(relation.id, relation_view(relation, unit, hook));
        }
    }
    let unit_statuses = model
        .units_of(&unit.app)
        .into_iter()
        .map(|u| (u.name.clone(), u.workload.clone()))
        .collect();
    HookContext {
        id: id.to_string(),
        unit: unit.name.clone(),
        app: unit.app.clone(),
        is_leader: app.is_some_and(|a| a.leader.as_deref() == Some(unit.name.as_str())),
        hook: hook.map(HookInfo::name),
        relation_id: hook.and_then(|h| h.relation_id),
        remote_unit: hook
            .filter(|h| h.is_relation_hook())
            .map(|h| h.remote_unit.clone().unwrap_or_default()),
        action: task.map(|t| ActionContext {
            name: t.action.clone(),
            id: t.id.to_string(),
            params: t.params.clone(),
            results: serde_json::Map::new(),
            failed: None,
        }),
        relations,
        config: effective_config(charm, app.map(|a| &a.config).unwrap_or(&BTreeMap::new())),
        state: unit.state.clone(),
        leader_settings: app.map(|a| a.leader_settings.clone()).unwrap_or_default(),
        unit_status: unit.workload.clone(),
        unit_status_cache: None,
        app_status: app
            .and_then(|a| a.status.clone())
            .unwrap_or_else(|| app_display_status(model, &unit.app).unwrap_or_default()),
        unit_statuses,
        immediate: Vec::new(),
        private_address: unit.address.clone(),
        tool_calls: 0,
    }
}

fn relation_view(relation: &Relation, unit: &Unit, hook: Option<&HookInfo>) -> RelationView {
    let remote_app = relation
        .remote_app_of(&unit.app)
        .unwrap_or_default()
        .to_string();
    let seen = unit
        .relations
        .get(&relation.id)
        .cloned()
        .unwrap_or_default();
    let this_relation = hook.filter(|h| h.relation_id == Some(relation.id));
    let mut members: Vec<String> = seen.members.keys().cloned().collect();
    if let Some(h) = this_relation {
        if let Some(remote) = &h.remote_unit {
            match h.kind {
                // In -joined for X, X is already a member; in -departed for X it no longer is.
                HookKind::RelationJoined | HookKind::RelationChanged
                    if !members.contains(remote) =>
                {
                    members.push(remote.clone());
                }
                HookKind::RelationDeparted => members.retain(|m| m != remote),
                _ => {}
            }
        }
    }
    members.sort();
    let mut units = BTreeMap::new();
    let own = relation
        .units
        .get(&unit.name)
        .map(|b| b.data.clone())
        .unwrap_or_else(|| network_bag(&unit.address));
    units.insert(unit.name.clone(), own);
    // Units in scope the agent has not joined are read fresh, members from its cache.
    for (name, bag) in &relation.units {
        if name != &unit.name {
            units.insert(name.clone(), bag.data.clone());
        }
    }
    for (name, bag) in &seen.cache {
        units.insert(name.clone(), bag.clone());
    }
    let mut apps = BTreeMap::new();
    for endpoint in &relation.endpoints {
        let bag = relation
            .apps
            .get(&endpoint.app)
            .map(|b| b.data.clone())
            .unwrap_or_default();
        apps.insert(endpoint.app.clone(), bag);
    }
    RelationView {
        endpoint: relation
            .endpoint_of(&unit.app)
            .unwrap_or_default()
            .to_string(),
        remote_app,
        members,
        units,
        apps,
        unit_dirty: false,
        app_dirty: false,
    }
}
