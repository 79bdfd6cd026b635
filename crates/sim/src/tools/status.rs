//! status-set and status-get.
//!
//! `status-set` is applied by Juju at once, so it is recorded as an
//! immediate effect as well as in the context. `status-get` of the unit is
//! read once per hook and cached, so a later `status-set` in the same hook
//! does not change what it prints.

use serde_json::{json, Map, Value};

use super::flags::{Check, FlagDef, FlagKind, Parsed};
use super::output::{Format, Output};
use super::{check_empty, golang, Invocation, ToolError, ToolSpec, SMART_FORMATS};
use crate::context::{Immediate, StatusValue};

/// The statuses a charm may set.
const SETTABLE: &[&str] = &["maintenance", "blocked", "waiting", "active"];

const APPLICATION_FLAG_HELP: &str =
    "set this status for the application to which the unit belongs if the unit is the leader";

pub(crate) static STATUS_SET: ToolSpec = ToolSpec {
    name: "status-set",
    args: "<maintenance | blocked | waiting | active> [message]",
    purpose: "Set status information.",
    flags: &[FlagDef {
        names: &["application"],
        kind: FlagKind::Bool,
        check: Check::Any,
        default: "false",
        help: APPLICATION_FLAG_HELP,
    }],
    formats: &[],
    run: status_set,
};

fn status_set(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let Some((status, rest)) = parsed.positionals.split_first() else {
        return Err(ToolError::Usage(
            "invalid args, require <status> [message]".into(),
        ));
    };
    if !SETTABLE.contains(&status.as_str()) {
        return Err(ToolError::Usage(format!(
            "invalid status {}, expected one of [{}]",
            golang::quote(status),
            SETTABLE.join(" ")
        )));
    }
    let message = match rest.split_first() {
        Some((message, rest)) => {
            check_empty(rest)?;
            message.clone()
        }
        None => String::new(),
    };
    let value = StatusValue {
        status: status.clone(),
        message: message.clone(),
    };
    let ctx = &mut *inv.ctx;
    if parsed.is_set("application") {
        if !ctx.is_leader {
            return Err(ToolError::Run("this unit is not the leader".into()));
        }
        ctx.app_status = value;
        ctx.immediate.push(Immediate::AppStatus {
            status: status.clone(),
            message,
        });
    } else {
        ctx.unit_status = value.clone();
        ctx.unit_statuses.insert(ctx.unit.clone(), value);
        ctx.immediate.push(Immediate::UnitStatus {
            status: status.clone(),
            message,
        });
    }
    Ok(())
}

pub(crate) static STATUS_GET: ToolSpec = ToolSpec {
    name: "status-get",
    args: "[--include-data] [--application]",
    purpose: "Print status information.",
    flags: &[
        FlagDef {
            names: &["include-data"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "print all status data",
        },
        FlagDef {
            names: &["application"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "print status for all units of this application if this unit is the leader",
        },
    ],
    formats: SMART_FORMATS,
    run: status_get,
};

fn status_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    check_empty(&parsed.positionals)?;
    let include_data = parsed.is_set("include-data");
    let word_only = !include_data && inv.target.format == Format::Smart;
    let ctx = &mut *inv.ctx;
    let output = if parsed.is_set("application") {
        if !ctx.is_leader {
            return Err(ToolError::Run(
                "finding application status: this unit is not the leader".into(),
            ));
        }
        if word_only {
            Value::String(ctx.app_status.status.clone())
        } else {
            // The controller has every unit's latest status, this one's included.
            let mut statuses = ctx.unit_statuses.clone();
            statuses.insert(ctx.unit.clone(), ctx.unit_status.clone());
            let units: Map<String, Value> = statuses
                .iter()
                .map(|(unit, status)| (unit.clone(), details(status, include_data)))
                .collect();
            let mut application = details(&ctx.app_status, include_data);
            if let Value::Object(fields) = &mut application {
                fields.insert("units".into(), Value::Object(units));
            }
            json!({ "application-status": application })
        }
    } else {
        let status = ctx
            .unit_status_cache
            .get_or_insert_with(|| ctx.unit_status.clone())
            .clone();
        if word_only {
            Value::String(status.status)
        } else {
            details(&status, include_data)
        }
    };
    inv.print(Output::Data(output))
}

/// One status as status-get prints it: `status`, plus `message` and an empty
/// `status-data` with `--include-data`.
fn details(status: &StatusValue, include_data: bool) -> Value {
    let mut fields = Map::new();
    fields.insert("status".into(), Value::String(status.status.clone()));
    if include_data {
        fields.insert("message".into(), Value::String(status.message.clone()));
        fields.insert("status-data".into(), Value::Object(Map::new()));
    }
    Value::Object(fields)
}
