//! How the CLI prints things: `juju status` tables, task results, unit
//! details, history lines and YAML/JSON documents.

use anyhow::{anyhow, Result};
use serde_json::{json, Map, Value};

use super::DataFormat;
use crate::engine::status::StatusReport;
use crate::engine::Engine;
use crate::model::{
    clock_text, since_text, timestamp_text, LogEntry, Model, OpRecord, Outcome, Task,
};

/// A table whose columns are padded to their widest cell; `right` columns are right-aligned.
fn table(header: &[&str], right: &[usize], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if right.contains(&i) {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                if i + 1 < cells.len() {
                    text.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < cells.len() {
                text.push_str("  ");
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `juju status`'s tables (JSON and YAML: [`super::juju_status`]).
pub fn status(report: &StatusReport) -> Result<String> {
    {
        {
            let mut out = table(
                &[
                    "Model",
                    "Controller",
                    "Cloud/Region",
                    "Version",
                    "Timestamp",
                ],
                &[],
                &[vec![
                    report.model.name.clone(),
                    "juju-sim".into(),
                    "localhost/localhost".into(),
                    crate::engine::JUJU_VERSION.into(),
                    since_text(report.model.epoch + report.model.clock)
                        .rsplit(' ')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ]],
            );
            out.push('\n');
            let apps: Vec<Vec<String>> = report
                .applications
                .iter()
                .map(|(name, app)| {
                    vec![
                        name.clone(),
                        app.version.clone(),
                        app.application_status.current.clone(),
                        app.scale.to_string(),
                        app.charm.clone(),
                        String::new(),
                        app.charm_rev.to_string(),
                        "no".into(),
                        app.application_status.message.clone(),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Exposed",
                    "Message",
                ],
                &[3, 6],
                &apps,
            ));
            let mut units = Vec::new();
            for app in report.applications.values() {
                for (name, unit) in app.units_in_order() {
                    let star = if unit.leader { "*" } else { "" };
                    units.push(vec![
                        format!("{name}{star}"),
                        unit.workload_status.current.clone(),
                        unit.juju_status.current.clone(),
                        unit.machine.clone(),
                        unit.public_address.clone(),
                        String::new(),
                        if unit.workload_status.message.is_empty() {
                            unit.juju_status.message.clone()
                        } else {
                            unit.workload_status.message.clone()
                        },
                    ]);
                }
            }
            if !units.is_empty() {
                out.push('\n');
                out.push_str(&table(
                    &[
                        "Unit",
                        "Workload",
                        "Agent",
                        "Machine",
                        "Public address",
                        "Ports",
                        "Message",
                    ],
                    &[],
                    &units,
                ));
            }
            Ok(out)
        }
    }
}

/// True when a log entry is about `include`: a unit (`app/0` or `unit-app-0`) or an application.
pub fn log_matches(entry: &LogEntry, include: &str) -> bool {
    let Some(unit) = entry.unit.as_deref() else {
        return false;
    };
    let tag = format!("unit-{}", unit.replace('/', "-"));
    unit == include || tag == include || crate::model::app_of(unit) == include
}

/// One history line: time, unit, operation, outcome.
pub fn history_line(record: &OpRecord) -> String {
    let mut what = record.name.clone();
    match (&record.remote_unit, record.task) {
        (Some(remote), _) if !remote.is_empty() => what.push_str(&format!(" ({remote})")),
        (_, Some(task)) => what.push_str(&format!(" (task {task})")),
        _ => {}
    }
    let outcome = match &record.outcome {
        Outcome::Succeeded => "ok".to_string(),
        Outcome::Failed { reason } => format!("failed: {reason}"),
        Outcome::Killed => "killed".to_string(),
        Outcome::Skipped => "skipped (no handler)".to_string(),
        Outcome::Resolved => "resolved without retry".to_string(),
    };
    let revision = record
        .revision
        .map(|r| format!(" rev {r}"))
        .unwrap_or_default();
    format!(
        "{} {} {what}{revision} {outcome}",
        clock_text(record.time),
        record.unit
    )
}

/// What `juju run` prints when a task ends: log lines, results, stdout.
pub fn task_result(task: &Task) -> Result<String> {
    let mut out = String::new();
    for line in &task.log {
        out.push_str(&format!("{} {}\n", clock_text(line.time), line.message));
    }
    let mut results: Map<String, Value> = task.results.clone();
    let stdout = results.remove("stdout");
    for key in [
        "return-code",
        "stdout-encoding",
        "stderr",
        "stderr-encoding",
    ] {
        results.remove(key);
    }
    if !results.is_empty() {
        out.push_str(&serde_yaml::to_string(&Value::Object(results))?);
    }
    if let Some(Value::String(text)) = stdout {
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    if let Some(message) = &task.message {
        out.push_str(&format!("message: {message}\n"));
    }
    Ok(out)
}

/// A task as `juju show-task` shows it.
pub fn task_value(task: &Task) -> Value {
    let log: Vec<Value> = task
        .log
        .iter()
        .map(|l| json!({"timestamp": clock_text(l.time), "message": l.message}))
        .collect();
    let mut value = json!({
        "id": task.id.to_string(),
        "unit": task.unit,
        "action": task.action,
        "parameters": task.params,
        "status": task.status,
        "results": task.results,
        "log": log,
        "enqueued": clock_text(task.enqueued),
    });
    if let Some(message) = &task.message {
        value["message"] = json!(message);
    }
    if let Some(started) = task.started {
        value["started"] = json!(clock_text(started));
    }
    if let Some(completed) = task.completed {
        value["completed"] = json!(clock_text(completed));
    }
    value
}

/// A document in YAML or JSON.
pub fn data(value: &Value, format: DataFormat) -> Result<String> {
    Ok(match format {
        DataFormat::Yaml => serde_yaml::to_string(value)?,
        DataFormat::Json => serde_json::to_string_pretty(value)? + "\n",
    })
}

/// `juju show-unit`: status, charm state and relation data (committed, as the controller holds it).
pub fn unit_value(model: &Model, name: &str) -> Result<Value> {
    let unit = model
        .units
        .get(name)
        .ok_or_else(|| anyhow!("unit {name:?} not found"))?;
    let app = model.applications.get(&unit.app);
    let (workload, agent) = crate::engine::status::unit_display(unit);
    let mut relations = Vec::new();
    for relation in model.relations_of(&unit.app) {
        let remote_app = relation.remote_app_of(&unit.app).unwrap_or_default();
        let mut related = Map::new();
        for (other, bag) in &relation.units {
            if other != name && crate::model::app_of(other) == remote_app {
                related.insert(other.clone(), json!({"in-scope": true, "data": bag.data}));
            }
        }
        let own = relation.units.get(name);
        relations.push(json!({
            "relation-id": relation.id,
            "endpoint": relation.endpoint_of(&unit.app),
            "related-endpoint": relation.endpoints.iter().find(|e| e.app == remote_app).map(|e| e.endpoint.clone()),
            "application-data": relation.apps.get(&unit.app).map(|b| b.data.clone()).unwrap_or_default(),
            "local-unit": {"in-scope": own.is_some(), "data": own.map(|b| b.data.clone()).unwrap_or_default()},
            "related-units": related,
        }));
    }
    let charm = app.map(|a| {
        format!(
            "local:{}-{}",
            a.charm,
            unit.charm_revision.unwrap_or(a.revision)
        )
    });
    let mut details = json!({
        "opened-ports": [],
        "machine": unit.machine,
        "public-address": unit.address,
        "charm": charm,
        "leader": app.and_then(|a| a.leader.as_deref()) == Some(name),
        "life": unit.life,
        "workload-version": unit.workload_version,
        "workload-status": {"current": workload.status, "message": workload.message},
        "juju-status": {"current": agent.status, "message": agent.message},
        "charm-state": unit.state,
        "relation-info": relations,
    });
    if let Some(error) = &unit.error {
        details["hook-error"] =
            json!({"hook": error.hook.name(), "reason": error.reason, "attempts": error.attempts});
    }
    let mut wrapper = Map::new();
    wrapper.insert(name.to_string(), details);
    Ok(Value::Object(wrapper))
}

/// `juju config APP`: every option with its value, type, default and where the value comes
/// from, in `juju config --format json`'s schema (an unset option without a default has no
/// `value`).
pub fn config(engine: &mut Engine, app: &str, format: DataFormat) -> Result<String> {
    let charm_name = engine
        .model()
        .applications
        .get(app)
        .map(|a| a.charm.clone())
        .unwrap_or_default();
    let spec = engine.charm_config(app)?;
    let mut settings = Map::new();
    for (name, entry) in engine.config(app)? {
        let option = spec.get(&name);
        let mut setting = json!({
            "description": option.map(|o| o.description.clone()).unwrap_or_default(),
            "source": entry.source,
            "type": option.map(|o| o.kind.name()).unwrap_or("string"),
        });
        if let Some(default) = option.and_then(|o| o.default.clone()) {
            setting["default"] = default;
        }
        if let Some(value) = entry.value {
            setting["value"] = value;
        }
        settings.insert(name, setting);
    }
    let doc = json!({
        "application": app,
        "application-config": {
            "trust": {
                "default": false,
                "description": "Does this application have access to trusted credentials",
                "source": "default",
                "type": "bool",
                "value": false,
            }
        },
        "charm": charm_name,
        "settings": settings,
    });
    data(&doc, format)
}

/// `juju config APP KEY`: the value alone.
pub fn config_key(engine: &mut Engine, app: &str, key: &str) -> Result<String> {
    let entry = engine.config(app)?.remove(key).ok_or_else(|| {
        anyhow!("key {key:?} not found in {app:?} application config or charm settings")
    })?;
    Ok(entry.value.as_ref().map(plain_value).unwrap_or_default())
}

/// A value as `juju config APP KEY` prints it: strings bare, others as YAML scalars.
pub fn plain_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `juju model-config --format json`: `{key: {"Value": v, "Source": s}}` — the keys a
/// machine model has that mean something here, the extra hook environment and scheduler
/// seed of the emulator, and whatever was set with `key=value`.
pub fn model_config(model: &Model) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |key: &str, value: Value, source: &str| {
        out.insert(key.to_string(), json!({"Value": value, "Source": source}));
    };
    put("name", json!(model.name), "model");
    put("uuid", json!(model.uuid), "model");
    put("type", json!("lxd"), "model");
    put("default-base", json!(""), "default");
    put("automatically-retry-hooks", json!(true), "default");
    put("update-status-hook-interval", json!("5m"), "default");
    put("logging-config", json!("<root>=INFO"), "default");
    let env: Vec<String> = model.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    put(
        "juju-sim-env",
        json!(env.join(" ")),
        if env.is_empty() { "default" } else { "model" },
    );
    for (key, value) in &model.config {
        out.insert(key.clone(), json!({"Value": value, "Source": "model"}));
    }
    out
}

/// `juju model-config` without `--format`: a table.
pub fn model_config_table(model: &Model, settings: &Map<String, Value>) -> String {
    let rows: Vec<Vec<String>> = settings
        .iter()
        .map(|(key, entry)| {
            vec![
                key.clone(),
                entry["Source"].as_str().unwrap_or_default().to_string(),
                plain_value(&entry["Value"]),
            ]
        })
        .collect();
    let mut out = table(&["Attribute", "From", "Value"], &[], &rows);
    out.push_str(&format!("\nscheduler seed state: {}\n", model.rng));
    out
}

/// A task as `juju run --format json` prints it under its unit: Juju 3's task document.
pub fn task_run_value(task: &Task, epoch: u64) -> Value {
    let at = |t: u64| timestamp_text(epoch + t);
    let log: Vec<Value> = task
        .log
        .iter()
        .map(|l| json!(format!("{} {}", at(l.time), l.message)))
        .collect();
    let mut value = json!({
        "id": task.id.to_string(),
        "results": task.results,
        "status": task.status,
        "unit": task.unit,
    });
    if !log.is_empty() {
        value["log"] = json!(log);
    }
    if let Some(message) = &task.message {
        value["message"] = json!(message);
    }
    let mut timing = json!({"enqueued": at(task.enqueued)});
    if let Some(started) = task.started {
        timing["started"] = json!(at(started));
    }
    if let Some(completed) = task.completed {
        timing["completed"] = json!(at(completed));
    }
    value["timing"] = timing;
    value
}
