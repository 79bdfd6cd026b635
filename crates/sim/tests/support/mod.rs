//! Helpers shared by the `run_tool` tests: build bags, run a tool against a
//! context, and check its output and exit code.

#![allow(dead_code)]

use juju_sim::context::{Bag, HookContext};
use juju_sim::tools::{run_tool, ToolOutput};

pub fn bag(pairs: &[(&str, &str)]) -> Bag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn run(ctx: &mut HookContext, tool: &str, args: &[&str]) -> ToolOutput {
    run_with_stdin(ctx, tool, args, b"")
}

pub fn run_with_stdin(
    ctx: &mut HookContext,
    tool: &str,
    args: &[&str],
    stdin: &[u8],
) -> ToolOutput {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    run_tool(tool, &args, stdin, ctx)
}

pub fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8 output")
}

/// Checks a successful call's stdout (and that stderr is empty).
#[track_caller]
pub fn assert_prints(output: &ToolOutput, stdout: &str) {
    assert_eq!(
        (output.code, text(&output.stderr)),
        (0, ""),
        "stdout was {:?}",
        text(&output.stdout)
    );
    assert_eq!(text(&output.stdout), stdout);
}

/// Checks a failed call's exit code and its whole stderr.
#[track_caller]
pub fn assert_fails(output: &ToolOutput, code: i32, stderr: &str) {
    assert_eq!((output.code, text(&output.stderr)), (code, stderr));
    assert_eq!(text(&output.stdout), "");
}
