//! state-get, state-set and state-delete: the unit's controller-side charm
//! state. Writes change `ctx.state`, which the engine commits only when the
//! hook succeeds; reads see this hook's own writes.

use serde_json::Value;

use super::flags::{Check, FlagDef, FlagKind, Parsed};
use super::output::Output;
use super::{check_empty, golang, keyvalues, Invocation, ToolError, ToolSpec, SMART_FORMATS};

/// Juju's limits on one charm-state entry.
const MAX_KEY_SIZE: usize = 256;
const MAX_VALUE_SIZE: usize = 64 * 1024;

pub(crate) static STATE_GET: ToolSpec = ToolSpec {
    name: "state-get",
    args: "[<key>]",
    purpose: "Print server-side-state value.",
    flags: &[FlagDef {
        names: &["strict"],
        kind: FlagKind::Bool,
        check: Check::Any,
        default: "false",
        help: "Return an error if the requested key does not exist",
    }],
    formats: SMART_FORMATS,
    run: state_get,
};

fn state_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let mut key = None;
    if let Some((first, rest)) = parsed.positionals.split_first() {
        key = Some(first.clone()).filter(|key| key != "-");
        check_empty(rest)?;
    }
    let state = inv.ctx.state.as_ref();
    let value = match key {
        // A unit without state prints nil (`null` in JSON), not an empty map.
        None => match state {
            Some(state) => serde_json::to_value(state)
                .map_err(|error| ToolError::Run(format!("cannot encode state: {error}")))?,
            None => Value::Null,
        },
        Some(key) => match state.and_then(|state| state.get(&key)) {
            Some(value) => Value::String(value.clone()),
            None if parsed.is_set("strict") => {
                return Err(ToolError::Run(format!("{} not found", golang::quote(&key))))
            }
            None => Value::String(String::new()),
        },
    };
    inv.print(Output::Data(value))
}

pub(crate) static STATE_SET: ToolSpec = ToolSpec {
    name: "state-set",
    args: "key=value [key=value ...]",
    purpose: "Set server-side-state values.",
    flags: &[FlagDef {
        names: &["file"],
        kind: FlagKind::Value,
        check: Check::Any,
        default: "",
        help: "file containing key-value pairs (\"-\" for stdin)",
    }],
    formats: &[],
    run: state_set,
};

fn state_set(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let overrides = keyvalues::parse(&parsed.positionals)?;
    let mut values = match parsed.value("file").filter(|path| !path.is_empty()) {
        Some(path) => keyvalues::read_file(path, inv.stdin)?,
        None => Default::default(),
    };
    values.extend(overrides);
    for (key, value) in &values {
        if key.len() > MAX_KEY_SIZE {
            return Err(ToolError::Run(format!(
                "max allowed key length ({MAX_KEY_SIZE}) exceeded"
            )));
        }
        if value.len() > MAX_VALUE_SIZE {
            return Err(ToolError::Run(format!(
                "max allowed value length ({MAX_VALUE_SIZE}) exceeded"
            )));
        }
    }
    if !values.is_empty() {
        inv.ctx
            .state
            .get_or_insert_with(Default::default)
            .extend(values);
    }
    Ok(())
}

pub(crate) static STATE_DELETE: ToolSpec = ToolSpec {
    name: "state-delete",
    args: "<key>",
    purpose: "Delete server-side-state key value pair.",
    flags: &[],
    formats: &[],
    run: state_delete,
};

fn state_delete(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let Some((key, rest)) = parsed.positionals.split_first() else {
        return Ok(());
    };
    check_empty(rest)?;
    if let Some(state) = inv.ctx.state.as_mut() {
        state.remove(key);
    }
    Ok(())
}
