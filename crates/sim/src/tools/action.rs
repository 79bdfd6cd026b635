//! action-get, action-set, action-fail and action-log. Outside an action
//! they fail with `not running an action`, as in Juju 3.x where every tool
//! exists in every context.

use serde_json::{Map, Value};

use super::flags::Parsed;
use super::output::Output;
use super::{check_empty, golang, Invocation, ToolError, ToolSpec, SMART_FORMATS};
use crate::context::{ActionContext, HookContext, Immediate};

/// Result keys Juju writes itself after the action process exits.
const RESERVED_KEYS: &[&str] = &["stdout", "stdout-encoding", "stderr", "stderr-encoding"];

const DEFAULT_FAIL_MESSAGE: &str = "action failed without reason given, check action for errors";

fn running_action(ctx: &mut HookContext) -> Result<&mut ActionContext, ToolError> {
    ctx.action
        .as_mut()
        .ok_or_else(|| ToolError::Run("not running an action".into()))
}

pub(crate) static ACTION_GET: ToolSpec = ToolSpec {
    name: "action-get",
    args: "[<key>[.<key>.<key>...]]",
    purpose: "Get action parameters.",
    flags: &[],
    formats: SMART_FORMATS,
    run: action_get,
};

fn action_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let mut path = None;
    if let Some((first, rest)) = parsed.positionals.split_first() {
        check_empty(rest)?;
        path = Some(first.split('.').map(str::to_owned).collect::<Vec<_>>());
    }
    let params = &running_action(inv.ctx)?.params;
    let value = match path {
        None => Value::Object(params.clone()),
        Some(path) => lookup(params, &path).cloned().unwrap_or(Value::Null),
    };
    inv.print(Output::Data(value))
}

/// Walks nested maps along `path`; anything else on the way means no value.
fn lookup<'p>(params: &'p Map<String, Value>, path: &[String]) -> Option<&'p Value> {
    let (first, rest) = path.split_first()?;
    let value = params.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

pub(crate) static ACTION_SET: ToolSpec = ToolSpec {
    name: "action-set",
    args: "<key>=<value> [<key>=<value> ...]",
    purpose: "Set action results.",
    flags: &[],
    formats: &[],
    run: action_set,
};

fn action_set(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let mut entries = Vec::new();
    for arg in &parsed.positionals {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ToolError::Usage(format!(
                "argument {} must be of the form key...=value",
                golang::quote(arg)
            )));
        };
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        for segment in &path {
            if !is_valid_key(segment) {
                return Err(ToolError::Usage(format!(
                    "key {} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods",
                    golang::quote(segment)
                )));
            }
            if RESERVED_KEYS.contains(&segment.as_str()) {
                return Err(ToolError::Usage(format!(
                    "cannot set reserved action key {}",
                    golang::quote(segment)
                )));
            }
        }
        entries.push((path, value.to_owned()));
    }
    if entries.is_empty() {
        return Ok(());
    }
    let action = running_action(inv.ctx)?;
    for (path, value) in entries {
        insert(&mut action.results, &path, value);
    }
    Ok(())
}

/// Juju's action (and result key) name rule: `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`.
fn is_valid_key(key: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    key.starts_with(allowed)
        && key.ends_with(allowed)
        && key.chars().all(|c| allowed(c) || c == '-')
}

/// Sets `value` at `path`, creating maps on the way; a non-map in the way is
/// replaced by a map.
fn insert(results: &mut Map<String, Value>, path: &[String], value: String) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut map = results;
    for segment in parents {
        let slot = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(inner) = slot else { return };
        map = inner;
    }
    map.insert(last.clone(), Value::String(value));
}

pub(crate) static ACTION_FAIL: ToolSpec = ToolSpec {
    name: "action-fail",
    args: "[\"<failure message>\"]",
    purpose: "Set action fail status with message.",
    flags: &[],
    formats: &[],
    run: action_fail,
};

fn action_fail(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let message = match parsed.positionals.split_first() {
        Some((message, rest)) => {
            check_empty(rest)?;
            message.clone()
        }
        None => DEFAULT_FAIL_MESSAGE.to_owned(),
    };
    running_action(inv.ctx)?.failed = Some(message);
    Ok(())
}

pub(crate) static ACTION_LOG: ToolSpec = ToolSpec {
    name: "action-log",
    args: "<message>",
    purpose: "Record a progress message for the current action.",
    flags: &[],
    formats: &[],
    run: action_log,
};

fn action_log(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    if parsed.positionals.is_empty() {
        return Err(ToolError::Usage("no message specified".into()));
    }
    let message = parsed.positionals.join(" ");
    running_action(inv.ctx)?;
    inv.ctx.immediate.push(Immediate::ActionLog { message });
    Ok(())
}
