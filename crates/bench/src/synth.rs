//! Growing a captured hook to more units: the same situation, with more peers.
//!
//! Deploying hundreds of units in the emulator costs hours (every pair of units runs
//! `-relation-joined` and `-changed` once per peer relation), so the per-hook figures for
//! large applications come from a hook captured in a small model and grown here: the new
//! units are copies of a peer that is waiting its turn, with their own addresses, placed in
//! the upgrade stack where they neither become the next to upgrade nor the last. The hook
//! then reads and decides as it would in a model of that size. For the MySQL charm the
//! emulated servers of the new units are added as well ([`grow_servers`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use juju_sim::context::{Bag, HookContext, RelationView};
use mysql_charm::workload::MemberRole;
use mysql_test_workloads::{EmulatedUnitState, STATE_FILE_PREFIX};

use crate::capture::UPGRADE_ENDPOINT;
use crate::error::BenchError;

/// The application bag key of the upgrade stack.
const STACK_KEY: &str = "upgrade-stack";

/// A hook context grown to more units.
#[derive(Debug, Clone, PartialEq)]
pub struct Grown {
    /// The context, with every new unit in the upgrade relation (bags, members, stack) and
    /// in the unit statuses.
    pub context: HookContext,
    /// The unit the new units copy.
    pub template: String,
    /// The new units, in order.
    pub added: Vec<String>,
}

/// `ctx` grown to `units` units in its application (this unit included).
///
/// The template is the unit just above the bottom of the stack (the leader's place) when the
/// stack holds three units or more, and the new units go there too; otherwise it is the
/// lowest-numbered peer outside the stack (one that is done or no stack is written), and the
/// stack is left alone.
pub fn grow(ctx: &HookContext, units: usize) -> Result<Grown, BenchError> {
    let mut grown = ctx.clone();
    let app = ctx.app.clone();
    let view = upgrade_view(&mut grown)?;
    let mut names: Vec<String> = view.members.clone();
    names.push(ctx.unit.clone());
    if units < names.len() {
        return Err(BenchError::Flow(format!(
            "cannot shrink {} units to {units}",
            names.len()
        )));
    }
    let mut stack = stack_of(view, &app)?;
    let template = choose_template(&ctx.unit, &view.members, &stack, &app)?;
    let template_bag = view.units.get(&template).cloned().unwrap_or_default();
    let first_new = names
        .iter()
        .filter_map(|name| number(name))
        .max()
        .map_or(0, |max| max + 1);
    let in_stack = number(&template).is_some_and(|n| stack.contains(&n));
    let mut added = Vec::new();
    let count = u32::try_from(units - names.len())
        .map_err(|_| BenchError::Flow(format!("{units} units are too many")))?;
    for next in first_new..first_new.saturating_add(count) {
        let name = format!("{app}/{next}");
        view.units
            .insert(name.clone(), with_address(&template_bag, next));
        view.members.push(name.clone());
        if in_stack {
            stack.insert(1, next);
        }
        added.push(name);
    }
    view.members.sort();
    if in_stack {
        let text = format!(
            "[{}]",
            stack
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        view.apps
            .entry(app.clone())
            .or_default()
            .insert(STACK_KEY.to_owned(), text);
    }
    let status = match template == ctx.unit {
        true => ctx.unit_status.clone(),
        false => ctx
            .unit_statuses
            .get(&template)
            .cloned()
            .unwrap_or_default(),
    };
    for name in &added {
        grown.unit_statuses.insert(name.clone(), status.clone());
    }
    Ok(Grown {
        context: grown,
        template,
        added,
    })
}

fn upgrade_view(ctx: &mut HookContext) -> Result<&mut RelationView, BenchError> {
    ctx.relations
        .values_mut()
        .find(|view| view.endpoint == UPGRADE_ENDPOINT)
        .ok_or_else(|| BenchError::Flow("the hook context has no upgrade relation".to_owned()))
}

fn stack_of(view: &RelationView, app: &str) -> Result<Vec<u32>, BenchError> {
    let text = view
        .apps
        .get(app)
        .and_then(|bag| bag.get(STACK_KEY))
        .map(String::as_str)
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(BenchError::json(format!("upgrade stack {text:?}")))
}

fn choose_template(
    unit: &str,
    members: &[String],
    stack: &[u32],
    app: &str,
) -> Result<String, BenchError> {
    if stack.len() >= 3 {
        return Ok(format!("{app}/{}", stack[1]));
    }
    let mut peers: Vec<(u32, &String)> = members
        .iter()
        .filter(|name| name.as_str() != unit)
        .filter_map(|name| Some((number(name)?, name)))
        .collect();
    peers.sort();
    peers
        .iter()
        .find(|(n, _)| !stack.contains(n))
        .map(|(_, name)| (*name).clone())
        .ok_or_else(|| {
            BenchError::Flow(format!(
                "no peer of {unit} outside the stack {stack:?} to copy"
            ))
        })
}

fn number(name: &str) -> Option<u32> {
    name.rsplit_once('/')?.1.parse().ok()
}

/// The template's bag with the new unit's own addresses.
fn with_address(template: &Bag, unit: u32) -> Bag {
    let address = format!("10.200.{}.{}", unit / 250, unit % 250 + 1);
    let mut bag: BTreeMap<String, String> = template.clone();
    for key in ["private-address", "ingress-address"] {
        if bag.contains_key(key) {
            bag.insert(key.to_owned(), address.clone());
        }
    }
    if bag.contains_key("egress-subnets") {
        bag.insert("egress-subnets".to_owned(), format!("{address}/32"));
    }
    bag
}

/// The emulated MySQL servers of the model at `model_dir`: each
/// `machines/*/mysql-workload-*.json`, by its path in the model, with its contents. Empty
/// for a model without them (the Python charm's).
pub fn snapshot_servers(model_dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, BenchError> {
    let machines = model_dir.join("machines");
    let mut servers = Vec::new();
    let entries = match std::fs::read_dir(&machines) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(servers),
        Err(err) => return Err(BenchError::io(&machines)(err)),
    };
    for machine in entries {
        let machine = machine.map_err(BenchError::io(&machines))?.path();
        let Ok(files) = std::fs::read_dir(&machine) else {
            continue;
        };
        for file in files {
            let path = file.map_err(BenchError::io(&machine))?.path();
            let is_server = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(STATE_FILE_PREFIX) && n.ends_with(".json"));
            if is_server {
                let text = std::fs::read(&path).map_err(BenchError::io(&path))?;
                let relative = path.strip_prefix(model_dir).unwrap_or(&path).to_path_buf();
                servers.push((relative, text));
            }
        }
    }
    servers.sort();
    Ok(servers)
}

/// Writes `servers` (from [`snapshot_servers`]) into the scratch model `scratch` and adds one
/// for each of `added`, copied from a secondary member (the template's server when it is
/// one). Returns how many servers the scratch model has.
///
/// The emulated cluster is the union of `<model>/machines/*/mysql-workload-*.json`, so a
/// hook started with `JUJU_SIM_MODEL_DIR=<scratch>` sees every new unit as a member in the
/// same state as the copied one.
pub fn grow_servers(
    servers: &[(PathBuf, Vec<u8>)],
    scratch: &Path,
    template: &str,
    added: &[String],
) -> Result<usize, BenchError> {
    let mut parsed: Vec<EmulatedUnitState> = Vec::new();
    for (relative, text) in servers {
        let path = scratch.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(BenchError::io(parent))?;
        }
        std::fs::write(&path, text).map_err(BenchError::io(&path))?;
        let state: EmulatedUnitState = serde_json::from_slice(text)
            .map_err(BenchError::json(relative.display().to_string()))?;
        parsed.push(state);
    }
    if added.is_empty() || parsed.is_empty() {
        // Nothing to grow, or a charm without emulated servers.
        return Ok(parsed.len());
    }
    let secondary = |state: &&EmulatedUnitState| state.role == Some(MemberRole::Secondary);
    let model = parsed
        .iter()
        .filter(secondary)
        .find(|state| state.unit == template)
        .or_else(|| parsed.iter().find(secondary))
        .ok_or_else(|| {
            BenchError::Flow("no secondary MySQL server to copy for the new units".to_owned())
        })?;
    for unit in added {
        let label = unit.replace('/', "-");
        let path = scratch
            .join("machines")
            .join(format!("grown-{label}"))
            .join(format!("{STATE_FILE_PREFIX}{label}.json"));
        let state = EmulatedUnitState {
            unit: unit.clone(),
            ..model.clone()
        };
        write_server(&path, &state)?;
    }
    Ok(parsed.len() + added.len())
}

fn write_server(path: &Path, state: &EmulatedUnitState) -> Result<(), BenchError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(BenchError::io(parent))?;
    }
    let text = serde_json::to_vec_pretty(state)
        .map_err(BenchError::json(format!("server of {}", state.unit)))?;
    std::fs::write(path, text).map_err(BenchError::io(path))
}

/// The Rust charm's peer cache file (`mysql_charm::cache`).
const RUST_CACHE_FILE: &str = mysql_charm::cache::CACHE_FILE;
/// The Python floor's peer cache file.
const FLOOR_CACHE_FILE: &str = "upgrade-floor.json";

/// The relation id and this unit's view of the upgrade relation in `ctx`.
fn upgrade_relation(ctx: &HookContext) -> Result<(u64, &RelationView), BenchError> {
    ctx.relations
        .iter()
        .find(|(_, view)| view.endpoint == UPGRADE_ENDPOINT)
        .map(|(&id, view)| (id, view))
        .ok_or_else(|| BenchError::Flow("the hook context has no upgrade relation".to_owned()))
}

/// The Rust charm's cache for `ctx`: every member's bag as this unit's agent shows it.
fn rust_cache(ctx: &HookContext) -> Result<juju_upgrade::PeerCache, BenchError> {
    let (id, view) = upgrade_relation(ctx)?;
    let unit = number(&ctx.unit)
        .ok_or_else(|| BenchError::Flow(format!("{} is not a unit name", ctx.unit)))?;
    let key = juju_upgrade::CacheKey {
        relation: format!("{UPGRADE_ENDPOINT}:{id}"),
        unit,
        agent: None,
    };
    let mut bags = Vec::new();
    for member in &view.members {
        let n = number(member)
            .ok_or_else(|| BenchError::Flow(format!("{member} is not a unit name")))?;
        bags.push((n, view.units.get(member).cloned().unwrap_or_default()));
    }
    Ok(juju_upgrade::PeerCache::new(key, bags))
}

/// The Python floor's cache for `ctx`: every member's `state`.
fn floor_cache(ctx: &HookContext) -> Result<serde_json::Value, BenchError> {
    let (id, view) = upgrade_relation(ctx)?;
    let states: serde_json::Map<String, serde_json::Value> = view
        .members
        .iter()
        .map(|member| {
            let state = view
                .units
                .get(member)
                .and_then(|bag| bag.get("state"))
                .cloned()
                .unwrap_or_default();
            (member.clone(), serde_json::Value::String(state))
        })
        .collect();
    Ok(serde_json::json!({
        "key": {"relation": format!("{UPGRADE_ENDPOINT}:{id}"), "unit": ctx.unit},
        "states": states,
    }))
}

/// Whether a captured cache file was one the hook could use: written for its relation, unit
/// and members (its bags may differ: the unit the hook is about is read again anyway).
fn usable(name: &str, text: &[u8], captured: &HookContext) -> Result<bool, BenchError> {
    Ok(match name {
        RUST_CACHE_FILE => {
            let Ok(cache) = std::str::from_utf8(text)
                .map_err(|err| err.to_string())
                .and_then(|text| {
                    juju_upgrade::PeerCache::from_json(text).map_err(|err| err.to_string())
                })
            else {
                return Ok(false);
            };
            let expected = rust_cache(captured)?;
            cache.key() == expected.key() && cache.bags().keys().eq(expected.bags().keys())
        }
        FLOOR_CACHE_FILE => {
            let Ok(cache) = serde_json::from_slice::<serde_json::Value>(text) else {
                return Ok(false);
            };
            let expected = floor_cache(captured)?;
            let names = |value: &serde_json::Value| -> Vec<String> {
                value["states"]
                    .as_object()
                    .map(|states| states.keys().cloned().collect())
                    .unwrap_or_default()
            };
            cache["key"] == expected["key"] && names(&cache) == names(&expected)
        }
        _ => false,
    })
}

/// The peer cache files for the hook grown to `grown`, from those it had when captured
/// (`captured` is its context then). A cache the captured hook could use is rebuilt from
/// the grown context (the copies of the new units included); any other file is kept as it
/// was, so a hook that found no usable cache finds none grown either.
pub fn grow_peer_cache(
    files: &[(String, Vec<u8>)],
    captured: &HookContext,
    grown: &HookContext,
) -> Result<Vec<(String, Vec<u8>)>, BenchError> {
    let mut out = Vec::new();
    for (name, text) in files {
        let text = match (name.as_str(), usable(name, text, captured)?) {
            (RUST_CACHE_FILE, true) => rust_cache(grown)?.to_json().into_bytes(),
            (FLOOR_CACHE_FILE, true) => floor_cache(grown)?.to_string().into_bytes(),
            _ => text.clone(),
        };
        out.push((name.clone(), text));
    }
    Ok(out)
}

/// Where a usable captured cache disagrees with what the unit's agent showed the hook:
/// the units whose cached bag (or state) is not the agent's copy, the unit the hook is about
/// (refreshed as it started) left out. Empty when the cache told the truth.
pub fn cache_disagreements(
    files: &[(String, Vec<u8>)],
    captured: &HookContext,
) -> Result<Vec<String>, BenchError> {
    let refreshed = captured.remote_unit.clone().unwrap_or_default();
    let mut wrong = Vec::new();
    for (name, text) in files {
        if !usable(name, text, captured)? {
            continue;
        }
        let (stored, shown): (serde_json::Value, serde_json::Value) = match name.as_str() {
            RUST_CACHE_FILE => {
                let text = std::str::from_utf8(text).unwrap_or_default();
                let stored = juju_upgrade::PeerCache::from_json(text)
                    .map_err(|err| BenchError::Flow(err.to_string()))?;
                let shown = rust_cache(captured)?;
                let by_name = |cache: &juju_upgrade::PeerCache| -> serde_json::Value {
                    cache
                        .bags()
                        .iter()
                        .map(|(n, bag)| (format!("{}/{n}", captured.app), serde_json::json!(bag)))
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                };
                (by_name(&stored), by_name(&shown))
            }
            _ => {
                let stored: serde_json::Value =
                    serde_json::from_slice(text).map_err(BenchError::json("floor cache"))?;
                (
                    stored["states"].clone(),
                    floor_cache(captured)?["states"].clone(),
                )
            }
        };
        for (unit, value) in shown.as_object().into_iter().flatten() {
            if unit != &refreshed && stored.get(unit) != Some(value) {
                wrong.push(format!("{name}: {unit}"));
            }
        }
    }
    Ok(wrong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use juju_sim::context::StatusValue;

    fn bag(pairs: &[(&str, &str)]) -> Bag {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// mysql/1 in a three-unit application, leader mysql/0 at the bottom of the stack.
    fn context(stack: &str) -> HookContext {
        let unit_bag = |n: u32, state: &str| {
            bag(&[
                ("private-address", &format!("10.1.0.{n}")),
                ("state", state),
            ])
        };
        let view = RelationView {
            endpoint: UPGRADE_ENDPOINT.into(),
            remote_app: "mysql".into(),
            members: vec!["mysql/0".into(), "mysql/2".into()],
            units: BTreeMap::from([
                ("mysql/0".to_owned(), unit_bag(0, "ready")),
                ("mysql/1".to_owned(), unit_bag(1, "ready")),
                ("mysql/2".to_owned(), unit_bag(2, "completed")),
            ]),
            apps: BTreeMap::from([("mysql".to_owned(), bag(&[(STACK_KEY, stack)]))]),
            ..RelationView::default()
        };
        let waiting = StatusValue {
            status: "waiting".into(),
            message: "other units upgrading first...".into(),
        };
        HookContext {
            unit: "mysql/1".into(),
            app: "mysql".into(),
            relations: BTreeMap::from([(3, view)]),
            unit_status: waiting.clone(),
            unit_statuses: BTreeMap::from([
                ("mysql/0".to_owned(), waiting.clone()),
                ("mysql/1".to_owned(), waiting.clone()),
                ("mysql/2".to_owned(), StatusValue::default()),
            ]),
            ..HookContext::default()
        }
    }

    fn view(ctx: &HookContext) -> &RelationView {
        ctx.relations.get(&3).expect("the upgrade relation")
    }

    #[test]
    fn new_units_copy_the_unit_above_the_bottom_and_join_the_stack_there() {
        let grown = grow(&context("[0, 1, 2]"), 6).expect("grown");
        assert_eq!(grown.template, "mysql/1");
        assert_eq!(grown.added, ["mysql/3", "mysql/4", "mysql/5"]);
        let view = view(&grown.context);
        assert_eq!(
            view.members,
            ["mysql/0", "mysql/2", "mysql/3", "mysql/4", "mysql/5"]
        );
        assert_eq!(
            view.apps["mysql"][STACK_KEY], "[0, 5, 4, 3, 1, 2]",
            "the top (2) and the bottom (0) stay where they were"
        );
        assert_eq!(view.units["mysql/4"]["state"], "ready");
        assert_eq!(view.units["mysql/4"]["private-address"], "10.200.0.5");
        assert_eq!(grown.context.unit_statuses.len(), 6);
        assert_eq!(grown.context.unit_statuses["mysql/5"].status, "waiting");
    }

    #[test]
    fn with_a_short_stack_new_units_copy_a_peer_that_is_done() {
        let grown = grow(&context("[0, 1]"), 4).expect("grown");
        assert_eq!(grown.template, "mysql/2");
        let view = view(&grown.context);
        assert_eq!(view.apps["mysql"][STACK_KEY], "[0, 1]");
        assert_eq!(view.units["mysql/3"]["state"], "completed");
    }

    #[test]
    fn the_same_size_is_the_same_context_and_shrinking_is_refused() {
        let ctx = context("[0, 1, 2]");
        let same = grow(&ctx, 3).expect("same size");
        assert_eq!(same.context, ctx);
        assert!(same.added.is_empty());
        assert!(grow(&ctx, 2).is_err());
        assert!(
            grow(&HookContext::default(), 5).is_err(),
            "no upgrade relation"
        );
    }

    #[test]
    fn a_model_without_servers_grows_none() {
        let model = tempfile::tempdir().expect("model dir");
        let scratch = tempfile::tempdir().expect("scratch dir");
        let servers = snapshot_servers(model.path()).expect("snapshot");
        let added = ["mysql/3".to_owned()];
        assert_eq!(
            grow_servers(&servers, scratch.path(), "mysql/1", &added).ok(),
            Some(0)
        );
    }

    #[test]
    fn servers_are_copied_and_new_ones_made_from_a_secondary() {
        let model = tempfile::tempdir().expect("model dir");
        let scratch = tempfile::tempdir().expect("scratch dir");
        let server = |unit: &str, role: MemberRole| EmulatedUnitState {
            role: Some(role),
            ..EmulatedUnitState::fresh(unit)
        };
        for (machine, state) in [
            ("0", server("mysql/0", MemberRole::Primary)),
            ("1", server("mysql/1", MemberRole::Secondary)),
        ] {
            let label = state.unit.replace('/', "-");
            let path = model
                .path()
                .join("machines")
                .join(machine)
                .join(format!("{STATE_FILE_PREFIX}{label}.json"));
            write_server(&path, &state).expect("write");
        }
        let added = vec!["mysql/2".to_owned(), "mysql/3".to_owned()];
        let servers = snapshot_servers(model.path()).expect("snapshot");
        assert_eq!(servers.len(), 2);
        let count = grow_servers(&servers, scratch.path(), "mysql/0", &added);
        assert_eq!(count.expect("grown"), 4);
        let new = scratch
            .path()
            .join("machines/grown-mysql-3")
            .join(format!("{STATE_FILE_PREFIX}mysql-3.json"));
        let state: EmulatedUnitState =
            serde_json::from_slice(&std::fs::read(new).expect("read")).expect("parse");
        assert_eq!(state.unit, "mysql/3");
        assert_eq!(state.role, Some(MemberRole::Secondary));
        assert!(scratch
            .path()
            .join("machines/0")
            .join(format!("{STATE_FILE_PREFIX}mysql-0.json"))
            .exists());
    }
}
