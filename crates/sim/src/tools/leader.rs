//! is-leader, leader-get and leader-set (Juju 2.x/3.x; gone in 4.0).
//!
//! `leader-set` writes to the controller at once and is not rolled back if
//! the hook fails, so it is recorded as an immediate effect.

use serde_json::Value;

use super::flags::Parsed;
use super::output::Output;
use super::{check_empty, golang, keyvalues, Invocation, ToolError, ToolSpec, SMART_FORMATS};
use crate::context::Immediate;

pub(crate) static IS_LEADER: ToolSpec = ToolSpec {
    name: "is-leader",
    args: "",
    purpose: "Print application leadership status.",
    flags: &[],
    formats: SMART_FORMATS,
    run: is_leader,
};

fn is_leader(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    check_empty(&parsed.positionals)?;
    let leader = inv.ctx.is_leader;
    inv.print(Output::Data(Value::Bool(leader)))
}

pub(crate) static LEADER_GET: ToolSpec = ToolSpec {
    name: "leader-get",
    args: "[<key>]",
    purpose: "Print application leadership settings.",
    flags: &[],
    formats: SMART_FORMATS,
    run: leader_get,
};

fn leader_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let mut key = None;
    if let Some((first, rest)) = parsed.positionals.split_first() {
        if first.contains('=') {
            return Err(ToolError::Usage(format!(
                "invalid key {}",
                golang::quote(first)
            )));
        }
        key = Some(first.clone()).filter(|key| key != "-");
        check_empty(rest)?;
    }
    let settings = &inv.ctx.leader_settings;
    let value = match key {
        None => serde_json::to_value(settings)
            .map_err(|error| ToolError::Run(format!("cannot encode settings: {error}")))?,
        Some(key) => settings
            .get(&key)
            .cloned()
            .map_or(Value::Null, Value::String),
    };
    inv.print(Output::Data(value))
}

pub(crate) static LEADER_SET: ToolSpec = ToolSpec {
    name: "leader-set",
    args: "<key>=<value> [...]",
    purpose: "Write application leadership settings.",
    flags: &[],
    formats: &[],
    run: leader_set,
};

fn leader_set(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let changes = keyvalues::parse(&parsed.positionals)?;
    let ctx = &mut *inv.ctx;
    if !ctx.is_leader {
        return Err(ToolError::Run(
            "cannot write leadership settings: cannot write settings: not the leader".into(),
        ));
    }
    let mut settings = ctx.leader_settings.clone();
    for (key, value) in changes {
        if value.is_empty() {
            settings.remove(&key);
        } else {
            settings.insert(key, value);
        }
    }
    if settings != ctx.leader_settings {
        ctx.leader_settings = settings.clone();
        ctx.immediate.push(Immediate::LeaderSet { settings });
    }
    Ok(())
}
