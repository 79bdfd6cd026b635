//! The fake hook tools. One binary (`juju-sim`) serves every tool: the engine
//! puts symlinks named after each tool first on the hook's `PATH`, and `main`
//! calls [`tool_main`] when `argv[0]` is one of [`TOOL_NAMES`].
//!
//! [`run_tool`] is the pure core: it parses a tool's arguments the way Juju's
//! `gnuflag` does and applies the tool to an in-memory [`HookContext`],
//! returning what the real tool would print and its exit status.
//! [`tool_main`] wraps it for a process: it finds the context file through
//! the environment, locks it, and writes the changed context back.

mod action;
mod flags;
mod golang;
mod keyvalues;
mod leader;
mod log;
mod names;
mod output;
mod process;
pub(crate) use process::STATUS_SET_DELAY_VAR;
mod relation;
mod state;
mod status;
mod unit;

use crate::context::HookContext;
use flags::{Check, FlagDef, FlagKind, Outcome, Parsed};
use output::{Format, Output, Target};

/// The hook tools this emulator provides.
pub const TOOL_NAMES: &[&str] = &[
    "juju-log",
    "status-set",
    "status-get",
    "is-leader",
    "leader-get",
    "leader-set",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "config-get",
    "state-get",
    "state-set",
    "state-delete",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "application-version-set",
    "goal-state",
    "unit-get",
];

/// What one tool invocation printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolOutput {
    /// Bytes for the process's stdout.
    pub stdout: Vec<u8>,
    /// Bytes for the process's stderr (`ERROR <message>\n` on failure).
    pub stderr: Vec<u8>,
    /// Exit status: 0 success, 1 run error, 2 flag or argument error.
    pub code: i32,
}

impl ToolOutput {
    fn failure(code: i32, message: &str) -> ToolOutput {
        ToolOutput {
            stdout: Vec::new(),
            stderr: format!("ERROR {message}\n").into_bytes(),
            code,
        }
    }
}

/// Runs hook tool `name` with `args` (without `argv[0]`) against `ctx`.
///
/// `stdin` is what `--file -` reads. Effects that Juju applies at once are
/// appended to `ctx.immediate`; batched writes change `ctx` (relation bags
/// with their dirty flags, `state`) for the engine to commit on success.
/// `-o FILE` writes that file relative to the current directory.
pub fn run_tool(name: &str, args: &[String], stdin: &[u8], ctx: &mut HookContext) -> ToolOutput {
    let Some(spec) = find_spec(name) else {
        return ToolOutput::failure(1, &format!("bad request: unknown command: {name}"));
    };
    let defs = spec.all_flags();
    let outcome = flags::parse(&defs, args, &mut |def, value| match def.check {
        Check::Any => Ok(()),
        Check::Format if spec.formats.contains(&value) => Ok(()),
        Check::Format => Err(format!("unknown format {}", golang::quote(value))),
        Check::Relation => relation::parse_selector(value, ctx).map(drop),
    });
    let parsed = match outcome {
        Ok(Outcome::Parsed(parsed)) => parsed,
        Ok(Outcome::Help) => {
            return ToolOutput {
                stdout: help(spec, &defs).into_bytes(),
                stderr: Vec::new(),
                code: 0,
            }
        }
        Err(message) => return ToolOutput::failure(2, &message),
    };
    let default_format = spec.formats.first().copied().unwrap_or("smart");
    let format = match spec.formats.is_empty() {
        true => default_format,
        false => parsed.value("format").unwrap_or(default_format),
    };
    let target = Target {
        format: Format::parse(format).unwrap_or(Format::Smart),
        path: parsed.value("o").unwrap_or_default().to_owned(),
    };
    let mut invocation = Invocation {
        ctx,
        stdin,
        stdout: Vec::new(),
        stderr: Vec::new(),
        target,
    };
    let result = (spec.run)(&mut invocation, &parsed);
    let Invocation {
        stdout, mut stderr, ..
    } = invocation;
    let code = match result {
        Ok(()) => 0,
        Err(error) => {
            stderr.extend_from_slice(format!("ERROR {}\n", error.message()).as_bytes());
            error.code()
        }
    };
    ToolOutput {
        stdout,
        stderr,
        code,
    }
}

/// Runs hook tool `name` with `args` (without `argv[0]`) against the context
/// file named by `JUJU_SIM_CONTEXT`, printing its output; returns the exit code.
pub fn tool_main(name: &str, args: Vec<String>) -> i32 {
    process::tool_main(name, args)
}

/// Why a tool failed: the exit status tells flag/argument errors from errors
/// while running, as Juju's command runner does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ToolError {
    /// A bad argument (Juju's `Init` errors): exit 2.
    #[error("{0}")]
    Usage(String),
    /// The command failed while running: exit 1.
    #[error("{0}")]
    Run(String),
}

impl ToolError {
    fn code(&self) -> i32 {
        match self {
            ToolError::Usage(_) => 2,
            ToolError::Run(_) => 1,
        }
    }

    fn message(&self) -> &str {
        match self {
            ToolError::Usage(message) | ToolError::Run(message) => message,
        }
    }
}

/// One tool call in progress: the context it works on and what it printed.
pub(crate) struct Invocation<'a> {
    /// The hook context (read, and changed by writing tools).
    pub ctx: &'a mut HookContext,
    /// What `--file -` reads.
    pub stdin: &'a [u8],
    /// Printed output.
    pub stdout: Vec<u8>,
    /// Printed warnings (errors are added by [`run_tool`]).
    pub stderr: Vec<u8>,
    /// Where `print` sends results (`--format`, `-o`).
    pub target: Target,
}

impl Invocation<'_> {
    /// Prints a result in the chosen format, to stdout or the `-o` file.
    pub fn print(&mut self, output: Output) -> Result<(), ToolError> {
        self.target.write(&output, &mut self.stdout)
    }
}

/// A tool's command line and behaviour.
pub(crate) struct ToolSpec {
    /// Tool name (argv[0]).
    pub name: &'static str,
    /// Positional-argument synopsis for `--help`.
    pub args: &'static str,
    /// One-line purpose for `--help`.
    pub purpose: &'static str,
    /// Flags other than the output flags.
    pub flags: &'static [FlagDef],
    /// Accepted `--format` values, default first; empty when the tool has no
    /// `--format`/`-o` output flags.
    pub formats: &'static [&'static str],
    /// Checks the positionals and does the work.
    pub run: fn(&mut Invocation<'_>, &Parsed) -> Result<(), ToolError>,
}

/// The usual formats of Juju's formatted output, `smart` first.
pub(crate) const SMART_FORMATS: &[&str] = &["smart", "json", "yaml"];

const FORMAT_FLAG: FlagDef = FlagDef {
    names: &["format"],
    kind: FlagKind::Value,
    check: Check::Format,
    default: "",
    help: "Specify output format",
};
const OUTPUT_FLAG: FlagDef = FlagDef {
    names: &["o", "output"],
    kind: FlagKind::Value,
    check: Check::Any,
    default: "",
    help: "Specify an output file",
};

impl ToolSpec {
    fn all_flags(&self) -> Vec<&FlagDef> {
        let mut defs: Vec<&FlagDef> = self.flags.iter().collect();
        if !self.formats.is_empty() {
            defs.push(&FORMAT_FLAG);
            defs.push(&OUTPUT_FLAG);
        }
        defs
    }
}

fn find_spec(name: &str) -> Option<&'static ToolSpec> {
    SPECS.iter().copied().find(|spec| spec.name == name)
}

static SPECS: &[&ToolSpec] = &[
    &log::JUJU_LOG,
    &status::STATUS_SET,
    &status::STATUS_GET,
    &leader::IS_LEADER,
    &leader::LEADER_GET,
    &leader::LEADER_SET,
    &relation::RELATION_IDS,
    &relation::RELATION_LIST,
    &relation::RELATION_GET,
    &relation::RELATION_SET,
    &unit::CONFIG_GET,
    &state::STATE_GET,
    &state::STATE_SET,
    &state::STATE_DELETE,
    &action::ACTION_GET,
    &action::ACTION_SET,
    &action::ACTION_FAIL,
    &action::ACTION_LOG,
    &unit::APPLICATION_VERSION_SET,
    &unit::GOAL_STATE,
    &unit::UNIT_GET,
];

/// `--help` text: usage line, purpose, and the flags.
fn help(spec: &ToolSpec, defs: &[&FlagDef]) -> String {
    let mut text = format!("Usage: {}", spec.name);
    if !defs.is_empty() {
        text.push_str(" [options]");
    }
    if !spec.args.is_empty() {
        text.push(' ');
        text.push_str(spec.args);
    }
    text.push_str(&format!("\n\nSummary:\n{}\n", spec.purpose));
    if !defs.is_empty() {
        text.push_str("\nOptions:\n");
        for def in defs {
            let names: Vec<String> = def
                .names
                .iter()
                .map(|name| flags::with_dashes(name))
                .collect();
            let default = match def {
                def if def.check == Check::Format => spec.formats.first().copied().unwrap_or(""),
                def => def.default,
            };
            let mut line = names.join(", ");
            if !default.is_empty() {
                line.push_str(&format!(" (= {default})"));
            }
            text.push_str(&format!("{line}\n    {}\n", def.help));
        }
    }
    text
}

/// Refuses leftover positionals, as Juju's `cmd.CheckEmpty` does.
pub(crate) fn check_empty(rest: &[String]) -> Result<(), ToolError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(ToolError::Usage(format!(
            "unrecognized args: {}",
            golang::quote_list(rest)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_name_has_a_spec_and_no_spec_is_unlisted() {
        for name in TOOL_NAMES {
            assert!(find_spec(name).is_some(), "{name} has no spec");
        }
        assert_eq!(SPECS.len(), TOOL_NAMES.len());
    }
}
