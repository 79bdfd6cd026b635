//! relation-ids, relation-list, relation-get and relation-set.
//!
//! Reads follow Juju's rules: this unit's own bag, and its application's bag
//! while it is leader, come from the hook's local copies (uncommitted writes
//! included); everything else comes from the snapshot the engine put in the
//! context. Writes change the local copies and set the relation's dirty
//! flags; the engine commits them only if the hook succeeds.

use serde_json::Value;

use super::flags::{Check, FlagDef, FlagKind, Parsed};
use super::output::Output;
use super::{
    check_empty, golang, keyvalues, names, Invocation, ToolError, ToolSpec, SMART_FORMATS,
};
use crate::context::{Bag, HookContext, RelationView};

/// Juju's limit on the total size of one relation settings bag.
const MAX_RELATION_SETTINGS_SIZE: usize = 16 * 1024 * 1024;

const RELATION_FLAG: FlagDef = FlagDef {
    names: &["r", "relation"],
    kind: FlagKind::Value,
    check: Check::Relation,
    default: "",
    help: "Specify a relation by id",
};

/// Parses a `-r` value (`7` or `name:7`; only the number after the last `:`
/// counts, the name is not checked) and checks the relation exists.
pub(crate) fn parse_selector(value: &str, ctx: &HookContext) -> Result<u64, String> {
    let number = value.rsplit_once(':').map_or(value, |(_, number)| number);
    let id: i64 = number
        .parse()
        .map_err(|_| "invalid relation id".to_owned())?;
    u64::try_from(id)
        .ok()
        .filter(|id| ctx.relations.contains_key(id))
        .ok_or_else(|| "relation not found".to_owned())
}

/// The relation a relation tool acts on: `-r`, else the hook's relation.
fn selected_relation(ctx: &HookContext, parsed: &Parsed) -> Option<u64> {
    match parsed.value("r") {
        Some(value) => parse_selector(value, ctx).ok(),
        None => ctx.relation_id.filter(|id| ctx.relations.contains_key(id)),
    }
}

fn require_relation(ctx: &HookContext, parsed: &Parsed) -> Result<u64, ToolError> {
    selected_relation(ctx, parsed)
        .ok_or_else(|| ToolError::Usage("no relation id specified".into()))
}

fn relation(ctx: &HookContext, id: u64) -> Result<&RelationView, ToolError> {
    ctx.relations
        .get(&id)
        .ok_or_else(|| ToolError::Run("relation not found".into()))
}

/// The hook's relation, when this is a relation hook.
fn hook_relation(ctx: &HookContext) -> Option<&RelationView> {
    ctx.relation_id.and_then(|id| ctx.relations.get(&id))
}

pub(crate) static RELATION_IDS: ToolSpec = ToolSpec {
    name: "relation-ids",
    args: "<name>",
    purpose: "List all relation IDs for the given endpoint.",
    flags: &[],
    formats: SMART_FORMATS,
    run: relation_ids,
};

fn relation_ids(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let (endpoint, rest) = match parsed.positionals.split_first() {
        Some((endpoint, rest)) => (endpoint.clone(), rest),
        None => match hook_relation(inv.ctx) {
            Some(relation) => (relation.endpoint.clone(), &[][..]),
            None => return Err(ToolError::Usage("no endpoint name specified".into())),
        },
    };
    check_empty(rest)?;
    let mut ids: Vec<String> = inv
        .ctx
        .relations
        .iter()
        .filter(|(_, relation)| relation.endpoint == endpoint)
        .map(|(id, relation)| format!("{}:{id}", relation.endpoint))
        .collect();
    ids.sort();
    inv.print(Output::Strings(ids))
}

pub(crate) static RELATION_LIST: ToolSpec = ToolSpec {
    name: "relation-list",
    args: "",
    purpose: "List relation units.",
    flags: &[
        RELATION_FLAG,
        FlagDef {
            names: &["app"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "List remote application instead of participating units",
        },
    ],
    formats: SMART_FORMATS,
    run: relation_list,
};

fn relation_list(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let id = require_relation(inv.ctx, parsed)?;
    check_empty(&parsed.positionals)?;
    let relation = relation(inv.ctx, id)?;
    if parsed.is_set("app") {
        let app = Value::String(relation.remote_app.clone());
        return inv.print(Output::Data(app));
    }
    let mut members: Vec<String> = relation
        .members
        .iter()
        .filter(|unit| **unit != inv.ctx.unit)
        .cloned()
        .collect();
    members.sort();
    members.dedup();
    inv.print(Output::Strings(members))
}

pub(crate) static RELATION_GET: ToolSpec = ToolSpec {
    name: "relation-get",
    args: "<key> <unit id>",
    purpose: "Get relation settings.",
    flags: &[
        RELATION_FLAG,
        FlagDef {
            names: &["app"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "Get the relation data for the overall application, not just a unit",
        },
    ],
    formats: SMART_FORMATS,
    run: relation_get,
};

fn relation_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let id = require_relation(inv.ctx, parsed)?;
    let mut args = parsed.positionals.as_slice();
    let mut key = None;
    if let Some((first, rest)) = args.split_first() {
        key = Some(first.as_str()).filter(|key| *key != "-");
        args = rest;
    }
    let mut app = parsed.is_set("app");
    let target = match args.split_first() {
        Some((given, rest)) => {
            args = rest;
            if app {
                if names::is_valid_application(given) {
                    given.clone()
                } else if names::is_valid_unit(given) {
                    names::unit_application(given).to_owned()
                } else {
                    return Err(ToolError::Run(format!(
                        "invalid application name {}",
                        golang::quote(given)
                    )));
                }
            } else if names::is_valid_unit(given) {
                given.clone()
            } else if names::is_valid_application(given) {
                return Err(ToolError::Usage(format!(
                    "expected unit name, got application name {}",
                    golang::quote(given)
                )));
            } else {
                return Err(ToolError::Usage(format!(
                    "invalid unit name {}",
                    golang::quote(given)
                )));
            }
        }
        None => {
            let remote_unit = inv.ctx.remote_unit.clone().filter(|unit| !unit.is_empty());
            let remote_app = hook_relation(inv.ctx).map(|relation| relation.remote_app.clone());
            match (app, remote_unit, remote_app) {
                (true, _, Some(remote_app)) => remote_app,
                (false, Some(remote_unit), _) => remote_unit,
                (false, None, Some(remote_app)) => {
                    app = true;
                    remote_app
                }
                _ => return Err(ToolError::Usage("no unit or application specified".into())),
            }
        }
    };
    check_empty(args)?;

    let ctx = &*inv.ctx;
    let relation = relation(ctx, id)?;
    let fake_id = format!("{}:{id}", relation.endpoint);
    let settings: Bag = if !app && target == ctx.unit {
        relation.units.get(&ctx.unit).cloned().unwrap_or_default()
    } else if app && target == ctx.app {
        // A leader reads its local copy; a non-leader reads the controller's
        // copy, which it may do only in a peer relation.
        if !ctx.is_leader && relation.remote_app != ctx.app {
            return Err(ToolError::Run("permission denied".into()));
        }
        relation.apps.get(&ctx.app).cloned().unwrap_or_default()
    } else if app {
        match relation.apps.get(&target) {
            Some(bag) => bag.clone(),
            None if target == relation.remote_app => Bag::new(),
            None => {
                return Err(ToolError::Run(format!(
                    "cannot read application settings for {} in relation {}: permission denied",
                    golang::quote(&target),
                    golang::quote(&fake_id)
                )))
            }
        }
    } else {
        match relation.units.get(&target) {
            Some(bag) => bag.clone(),
            None => {
                return Err(ToolError::Run(format!(
                    "cannot read settings for unit {} in relation {}: permission denied",
                    golang::quote(&target),
                    golang::quote(&fake_id)
                )))
            }
        }
    };
    let value = match key {
        None => serde_json::to_value(&settings)
            .map_err(|error| ToolError::Run(format!("cannot encode settings: {error}")))?,
        Some(key) => settings
            .get(key)
            .cloned()
            .map_or(Value::Null, Value::String),
    };
    inv.print(Output::Data(value))
}

pub(crate) static RELATION_SET: ToolSpec = ToolSpec {
    name: "relation-set",
    args: "key=value [key=value ...]",
    purpose: "Set relation settings.",
    flags: &[
        RELATION_FLAG,
        FlagDef {
            names: &["file"],
            kind: FlagKind::Value,
            check: Check::Any,
            default: "",
            help: "file containing key-value pairs (\"-\" for stdin)",
        },
        FlagDef {
            names: &["app"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "pick whether you are setting \"application\" settings or \"unit\" settings",
        },
        FlagDef {
            names: &["format"],
            kind: FlagKind::Value,
            check: Check::Any,
            default: "",
            help: "deprecated format flag",
        },
    ],
    formats: &[],
    run: relation_set,
};

fn relation_set(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let id = require_relation(inv.ctx, parsed)?;
    let overrides = keyvalues::parse(&parsed.positionals)?;
    if parsed
        .value("format")
        .is_some_and(|format| !format.is_empty())
    {
        inv.stderr
            .extend_from_slice(b"--format flag deprecated for command \"relation-set\"");
    }
    let mut settings = match parsed.value("file").filter(|path| !path.is_empty()) {
        Some(path) => keyvalues::read_file(path, inv.stdin)?,
        None => Bag::new(),
    };
    settings.extend(overrides);

    let ctx = &mut *inv.ctx;
    let app = parsed.is_set("app");
    if app && !ctx.is_leader {
        return Err(ToolError::Run("cannot write relation settings".into()));
    }
    let owner = if app {
        ctx.app.clone()
    } else {
        ctx.unit.clone()
    };
    let relation = ctx
        .relations
        .get_mut(&id)
        .ok_or_else(|| ToolError::Run("relation not found".into()))?;
    let bags = if app {
        &mut relation.apps
    } else {
        &mut relation.units
    };
    let mut bag = bags.get(&owner).cloned().unwrap_or_default();
    for (key, value) in settings {
        if value.is_empty() {
            bag.remove(&key);
        } else {
            bag.insert(key, value);
        }
    }
    let size: usize = bag.iter().map(|(key, value)| key.len() + value.len()).sum();
    if size > MAX_RELATION_SETTINGS_SIZE {
        return Err(ToolError::Run(format!(
            "max allowed relation settings size ({MAX_RELATION_SETTINGS_SIZE}) exceeded"
        )));
    }
    if bags.get(&owner).cloned().unwrap_or_default() != bag {
        bags.insert(owner, bag);
        if app {
            relation.app_dirty = true;
        } else {
            relation.unit_dirty = true;
        }
    }
    Ok(())
}
