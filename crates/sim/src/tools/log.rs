//! juju-log: writes to the unit's log at once (an immediate effect). In a
//! relation hook the message is prefixed with the relation, `<endpoint>:<id>: `.

use super::flags::{Check, FlagDef, FlagKind, Parsed};
use super::{golang, Invocation, ToolError, ToolSpec};
use crate::context::Immediate;

pub(crate) static JUJU_LOG: ToolSpec = ToolSpec {
    name: "juju-log",
    args: "<message>",
    purpose: "Write a message to the juju log.",
    flags: &[
        FlagDef {
            names: &["debug"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "log at debug level",
        },
        FlagDef {
            names: &["l", "log-level"],
            kind: FlagKind::Value,
            check: Check::Any,
            default: "INFO",
            help: "Send log message at the given level",
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
    run: juju_log,
};

fn juju_log(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    if parsed.positionals.is_empty() {
        return Err(ToolError::Usage("no message specified".into()));
    }
    let message = parsed.positionals.join(" ");
    if parsed
        .value("format")
        .is_some_and(|format| !format.is_empty())
    {
        inv.stderr
            .extend_from_slice(b"--format flag deprecated for command \"juju-log\"");
    }
    let ctx = &mut *inv.ctx;
    let level = if parsed.is_set("debug") {
        "DEBUG"
    } else {
        let requested = parsed.value("l").unwrap_or("INFO");
        match level_name(requested) {
            Some(level) => level,
            None => {
                ctx.immediate.push(Immediate::Log {
                    level: "WARNING".into(),
                    message: format!(
                        "Specified log level of {} is not valid",
                        golang::quote(requested)
                    ),
                });
                "INFO"
            }
        }
    };
    let prefix = match ctx
        .relation_id
        .and_then(|id| ctx.relations.get(&id).map(|r| (id, r)))
    {
        Some((id, relation)) => format!("{}:{id}: ", relation.endpoint),
        None => String::new(),
    };
    ctx.immediate.push(Immediate::Log {
        level: level.into(),
        message: format!("{prefix}{message}"),
    });
    Ok(())
}

/// The canonical name of a log level, as Juju's logger parses it
/// (case-insensitive; `WARN` means `WARNING`).
fn level_name(requested: &str) -> Option<&'static str> {
    match requested.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some("TRACE"),
        "DEBUG" => Some("DEBUG"),
        "INFO" => Some("INFO"),
        "WARN" | "WARNING" => Some("WARNING"),
        "ERROR" => Some("ERROR"),
        "CRITICAL" => Some("CRITICAL"),
        _ => None,
    }
}
