//! Helpers shared by the tests: build bags, run a tool against a context and check its
//! output and exit code, and find the Python venv with `ops`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

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

/// The venv with PyPI `ops` that `scripts/test` makes (`OPS_VENV`), else the repository's.
pub fn ops_venv() -> PathBuf {
    let venv = std::env::var_os("OPS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    assert!(
        venv.join("bin/python").exists(),
        "no Python venv with ops at {}: run `bash scripts/python-venv` or set OPS_VENV",
        venv.display()
    );
    venv
}
