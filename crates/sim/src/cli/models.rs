//! The commands about models rather than inside one: `add-model`,
//! `destroy-model`, `models`, `show-model`, `switch`, and `version`, with
//! Juju 3.6's output schemas (`show-model`/`models` as Juju prints them for a
//! local machine cloud; `version --all` as `juju version --format json --all`).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};

use super::juju_status::{CLOUD, CONTROLLER};
use super::{format, Command};
use crate::engine::{Engine, EngineOptions, JUJU_VERSION};
use crate::model::{since_text, Model, ModelDir};
use crate::models::{is_directory, is_valid_model_name, name_of, ModelsRoot};

/// The controller UUID juju-sim reports (it has no controller; a fixed one).
const CONTROLLER_UUID: &str = "00000000-0000-4000-8000-000000000000";

fn root() -> Result<ModelsRoot> {
    ModelsRoot::from_env().ok_or_else(|| anyhow!("no models root: set JUJU_SIM_HOME or HOME"))
}

/// Runs a model-management command; returns the exit code.
pub fn run(model_option: Option<&str>, command: Command) -> Result<i32> {
    match command {
        Command::AddModel {
            name,
            no_switch,
            config,
            ..
        } => {
            if !is_valid_model_name(&name) {
                bail!("invalid model name {name:?}: lowercase letters, digits and hyphens");
            }
            let root = root()?;
            if root.exists(&name) {
                bail!("failed to create new model: model {name:?} for admin already exists (already exists)");
            }
            let mut engine = Engine::open(
                root.model_dir(&name),
                EngineOptions {
                    model_name: Some(name.clone()),
                    ..EngineOptions::default()
                },
            )
            .with_context(|| format!("creating model {name:?}"))?;
            for pair in &config {
                let (key, raw) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("expected \"key=value\", got {pair:?}"))?;
                engine.set_model_config(key, Some(typed(raw)))?;
            }
            if !no_switch {
                root.switch(&name)?;
            }
            eprintln!("Added '{name}' model on {CLOUD}/{CLOUD} with credential '{CLOUD}' for user 'admin'");
        }
        Command::DestroyModel { name, .. } => {
            let dir = model_dir(&name)?;
            let model_dir = ModelDir::new(&dir);
            if !model_dir.exists() {
                bail!("model {name:?} not found");
            }
            super::agent::stop(&dir)?;
            {
                let _lock = model_dir.lock()?;
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
            }
            eprintln!("Destroying model\nModel destroyed.");
        }
        Command::Switch { name } => {
            let root = root()?;
            let name = name_of(&name).to_string();
            if !root.exists(&name) {
                bail!("model {name:?} not found (add it with `add-model {name}`)");
            }
            let previous = root.current();
            root.switch(&name)?;
            eprintln!("{CONTROLLER}:admin/{previous} -> {CONTROLLER}:admin/{name}");
        }
        Command::Models { format } => {
            let root = root()?;
            let current = root.current();
            let mut list = Vec::new();
            for name in root.names() {
                if let Some(model) = ModelDir::new(root.model_dir(&name)).load()? {
                    list.push(model_value(&model, &name));
                }
            }
            match format {
                Some(format) => {
                    let mut doc = json!({"models": list});
                    if root.exists(&current) {
                        doc["current-model"] = json!(current);
                    }
                    print!("{}", format::data(&doc, format)?);
                }
                None => {
                    println!("Controller: {CONTROLLER}\n");
                    println!("Model  Cloud/Region         Type  Status     Units");
                    for model in &list {
                        let name = model["short-name"].as_str().unwrap_or_default();
                        let star = if name == current { "*" } else { "" };
                        let machines = model["machines"].as_object().map_or(0, Map::len);
                        println!("{name}{star}  {CLOUD}/{CLOUD}  iaas  available  {machines}");
                    }
                }
            }
        }
        Command::ShowModel { name, format } => {
            let (dir, shown) = match name.as_deref().or(model_option) {
                Some(reference) => (model_dir(reference)?, name_of(reference).to_string()),
                None => {
                    let model = crate::models::resolve(None, ModelsRoot::from_env().as_ref())
                        .map_err(|e| anyhow!(e))?;
                    let shown = model.name.clone().unwrap_or_default();
                    (model.dir, shown)
                }
            };
            let model = ModelDir::new(&dir)
                .load()?
                .ok_or_else(|| anyhow!("model {shown:?} not found"))?;
            let shown = if shown.is_empty() || is_directory(&shown) {
                model.name.clone()
            } else {
                shown
            };
            let mut doc = Map::new();
            doc.insert(shown.clone(), model_value(&model, &shown));
            print!("{}", format::data(&Value::Object(doc), format)?);
        }
        Command::Version { format, all } => {
            let version = version_text();
            match format {
                None => println!("{version}"),
                Some(format) => {
                    let doc = if all {
                        json!({
                            "version": version,
                            "git-commit": "",
                            "git-tree-state": "clean",
                            "compiler": "rustc",
                            "official": false,
                            "juju-sim": env!("CARGO_PKG_VERSION"),
                        })
                    } else {
                        json!(version)
                    };
                    print!("{}", format::data(&doc, format)?);
                }
            }
        }
        other => bail!("not a model command: {other:?}"),
    }
    Ok(0)
}

/// `3.6.4-ubuntu-amd64`: the emulated Juju version, this machine's architecture.
pub fn version_text() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64el",
        other => other,
    };
    format!("{JUJU_VERSION}-ubuntu-{arch}")
}

/// A `--model`/positional model reference as a directory.
fn model_dir(reference: &str) -> Result<PathBuf> {
    crate::models::resolve(Some(reference), ModelsRoot::from_env().as_ref())
        .map(|m| m.dir)
        .map_err(|e| anyhow!(e))
}

/// A `key=value` value typed as YAML reads it (`true`, `5`, text).
fn typed(raw: &str) -> Value {
    serde_yaml::from_str::<Value>(raw)
        .ok()
        .filter(|v| !v.is_null() && !v.is_object() && !v.is_array())
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// One model as `juju show-model` and `juju models` print it.
fn model_value(model: &Model, short_name: &str) -> Value {
    let mut machines = Map::new();
    for unit in model.units.values() {
        machines.insert(
            unit.machine.clone(),
            json!({"cores": 0, "instance-id": format!("juju-{}-{}", model.uuid.get(..6).unwrap_or(&model.uuid), unit.machine)}),
        );
    }
    json!({
        "name": format!("admin/{short_name}"),
        "short-name": short_name,
        "model-uuid": model.uuid,
        "model-type": "iaas",
        "controller-uuid": CONTROLLER_UUID,
        "controller-name": CONTROLLER,
        "is-controller": false,
        "owner": "admin",
        "cloud": CLOUD,
        "region": CLOUD,
        "type": "lxd",
        "life": "alive",
        "status": {"current": "available", "since": since_text(model.epoch)},
        "users": {"admin": {"display-name": "admin", "access": "admin", "last-connection": "just now"}},
        "machines": machines,
        "agent-version": JUJU_VERSION,
    })
}
