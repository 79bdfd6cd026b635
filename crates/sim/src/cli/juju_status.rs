//! `juju status --format json|yaml` in Juju 3.6's schema for a machine
//! model, field for field, so tools that read Juju's status (jubilant's
//! `status()` and `wait()`, scripts with `jq`) read juju-sim's.
//!
//! The shape follows Juju 3.6's formatter (`cmd/juju/status/formatted.go`:
//! empty fields are left out, `leader` only when true, a unit's charm only as
//! `upgrading-from` while it differs from the application's) and recorded
//! outputs of Juju 3.6. Fields with no meaning here get what Juju gives a
//! local (LXD) machine model: cloud and region `localhost`, `sla`
//! `unsupported`, space `alpha`. Dates are the model's epoch plus virtual
//! time, in UTC. juju-sim adds one field Juju only shows in `show-unit`:
//! each unit's `workload-version`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;

use serde_json::{json, Map, Value};

use crate::charm_meta::Metadata;
use crate::context::{HookContext, Immediate, StatusValue};
use crate::engine::status::{app_status, unit_display};
use crate::engine::JUJU_VERSION;
use crate::model::{since_text, Model, ModelDir, Since, Unit};

/// The controller name juju-sim reports.
pub const CONTROLLER: &str = "juju-sim";
/// The cloud (and region) juju-sim reports: a local machine cloud's.
pub const CLOUD: &str = "localhost";

/// The whole status document.
pub fn status(dir: &ModelDir, model: &Model) -> Value {
    let at = |virtual_time: u64| since_text(model.epoch + virtual_time);
    let mut machines = Map::new();
    let mut applications = Map::new();
    for (name, app) in &model.applications {
        let metadata = metadata_of(dir, model, &app.charm, app.revision);
        let base = base_value(&app.base);
        let mut units = Map::new();
        for unit in model.units_of(name) {
            let (workload, agent) = unit_display(unit);
            let workload_since = since_of(&unit.workload_since, &workload, model.clock);
            let agent_since = since_of(&unit.agent_since, &agent, model.clock);
            let workload = info(&workload, at(workload_since));
            let mut agent = info(&agent, at(agent_since));
            agent["version"] = json!(JUJU_VERSION);
            let mut entry = json!({
                "workload-status": workload,
                "juju-status": agent,
                "machine": unit.machine,
                "public-address": unit.address,
            });
            if app.leader.as_deref() == Some(unit.name.as_str()) {
                entry["leader"] = json!(true);
            }
            if let Some(revision) = unit.charm_revision.filter(|r| *r != app.revision) {
                entry["upgrading-from"] = json!(format!("local:{}-{revision}", app.charm));
            }
            if !unit.workload_version.is_empty() {
                entry["workload-version"] = json!(unit.workload_version);
            }
            units.insert(unit.name.clone(), entry);
            machines.insert(unit.machine.clone(), machine(model, unit, &base, &at));
        }
        let shown = app_status(model, name, app);
        let since = since_of(&app.status_since, &shown, model.clock);
        let mut entry = json!({
            "charm": format!("local:{}-{}", app.charm, app.revision),
            "base": base,
            "charm-origin": "local",
            "charm-name": app.charm,
            "charm-rev": app.revision,
            "exposed": false,
            "application-status": info(&shown, at(since)),
        });
        if let Some(metadata) = &metadata {
            let relations = relations(model, name, metadata);
            if !relations.is_empty() {
                entry["relations"] = Value::Object(relations);
            }
        }
        if !units.is_empty() {
            entry["units"] = Value::Object(units);
        }
        if !app.workload_version.is_empty() {
            entry["version"] = json!(app.workload_version);
        }
        if let Some(metadata) = &metadata {
            let mut bindings = Map::new();
            bindings.insert(String::new(), json!("alpha"));
            for endpoint in metadata
                .peers
                .keys()
                .chain(metadata.provides.keys())
                .chain(metadata.requires.keys())
            {
                bindings.insert(endpoint.clone(), json!("alpha"));
            }
            entry["endpoint-bindings"] = Value::Object(bindings);
        }
        applications.insert(name.clone(), entry);
    }
    let now = model.epoch + model.clock;
    let time_of_day = since_text(now);
    json!({
        "model": {
            "name": model.name,
            "type": "iaas",
            "controller": CONTROLLER,
            "cloud": CLOUD,
            "region": CLOUD,
            "version": JUJU_VERSION,
            "model-status": {"current": "available", "since": at(0)},
            "sla": "unsupported",
        },
        "machines": machines,
        "applications": applications,
        "storage": {},
        "controller": {"timestamp": time_of_day.rsplit(' ').next().unwrap_or_default()},
    })
}

/// A status as Juju prints it: `current`, `message` (left out when empty), `since`.
fn info(status: &StatusValue, since: String) -> Value {
    let mut value = json!({"current": status.status});
    if !status.message.is_empty() {
        value["message"] = json!(status.message);
    }
    value["since"] = json!(since);
    value
}

/// `ubuntu@22.04` as Juju's `{name, channel}`.
pub fn base_value(base: &str) -> Value {
    let (name, channel) = base.split_once('@').unwrap_or((base, ""));
    json!({"name": name, "channel": channel})
}

/// A unit's machine (one per unit), as a started LXD machine shows.
fn machine(model: &Model, unit: &Unit, base: &Value, at: &dyn Fn(u64) -> String) -> Value {
    let short = model.uuid.get(..6).unwrap_or(&model.uuid);
    let instance = format!("juju-{short}-{}", unit.machine);
    let since = at(unit.created);
    let number: u64 = unit.machine.parse().unwrap_or_default();
    json!({
        "juju-status": {"current": "started", "since": since, "version": JUJU_VERSION},
        "hostname": instance,
        "dns-name": unit.address,
        "ip-addresses": [unit.address],
        "instance-id": instance,
        "machine-status": {"current": "running", "message": "Running", "since": since},
        "modification-status": {"current": "idle", "since": since},
        "base": base,
        "network-interfaces": {
            "eth0": {
                "ip-addresses": [unit.address],
                "mac-address": format!("00:16:3e:{:02x}:{:02x}:{:02x}", (number >> 16) & 0xff, (number >> 8) & 0xff, number & 0xff),
                "gateway": "10.1.0.1",
                "space": "alpha",
                "is-up": true,
            }
        },
        "constraints": "arch=amd64",
        "hardware": "arch=amd64 cores=0 mem=0M virt-type=container",
    })
}

/// `relations`: endpoint → the applications related on it, Juju 3.6's list form.
fn relations(model: &Model, app: &str, metadata: &Metadata) -> Map<String, Value> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for relation in model.relations_of(app) {
        let Some(endpoint) = relation.endpoint_of(app) else {
            continue;
        };
        let declared = metadata
            .peers
            .get(endpoint)
            .or_else(|| metadata.provides.get(endpoint))
            .or_else(|| metadata.requires.get(endpoint));
        out.entry(endpoint.to_string()).or_default().push(json!({
            "related-application": relation.remote_app_of(app).unwrap_or(app),
            "interface": declared.map(|e| e.interface.clone()).unwrap_or_default(),
            "scope": declared.and_then(|e| e.scope.clone()).unwrap_or_else(|| "global".into()),
        }));
    }
    out.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()
}

/// The metadata of a stored charm revision (`None` when it cannot be read: the
/// status still shows everything else).
fn metadata_of(dir: &ModelDir, model: &Model, charm: &str, revision: u64) -> Option<Metadata> {
    let stored = model.store.get(charm)?.get(&revision)?;
    crate::charm_archive::read_charm(&dir.root().join(&stored.archive))
        .ok()
        .map(|c| c.metadata)
}

/// Shows what a hook or action running now has set with `status-set`:
/// Juju's agent sends a status to the controller at once, so `juju status`
/// shows it while the hook still runs; the engine applies it to the model
/// only when the process exits.
pub fn overlay_running(dir: &ModelDir, model: &mut Model) {
    for unit in model.units.values_mut() {
        if unit.agent.status != "executing" || unit.error.is_some() {
            continue;
        }
        if let Some(status) = running_status(dir, &unit.name) {
            unit.workload = status;
        }
    }
}

fn since_of(since: &Since, shown: &StatusValue, now: u64) -> u64 {
    if since.status == shown.status && since.message == shown.message {
        since.at
    } else {
        now
    }
}

/// The last `status-set` of the hook or action running on `unit`, read from its
/// context file under the lock the hook tools take (so never half-written).
fn running_status(dir: &ModelDir, unit: &str) -> Option<StatusValue> {
    let path = dir.unit_dir(unit).join("context.json");
    let mut file = File::open(path).ok()?;
    file.lock_shared().ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    let ctx: HookContext = serde_json::from_str(&text).ok()?;
    ctx.immediate.iter().rev().find_map(|effect| match effect {
        Immediate::UnitStatus { status, message } => Some(StatusValue {
            status: status.clone(),
            message: message.clone(),
        }),
        _ => None,
    })
}
