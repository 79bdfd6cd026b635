//! `juju-sim`: a local Juju model emulator.
//!
//! It keeps a model (applications, units, leadership, relation databags, charm
//! revisions) in a directory and runs a charm's `dispatch` once per hook or
//! action per unit, with fake hook tools on `PATH`, following Juju 3.6's
//! machine-unit semantics (see the crate README).
//!
//! - [`engine::Engine`]: the in-process API (deploy, refresh, actions, faults, settle).
//! - [`model`]: the model and its directory.
//! - [`charm_archive`]: reading, packing and expanding `.charm` archives.
//! - [`context`]: the hook context shared with the hook tools ([`tools`]).

pub mod action_schema;
pub mod charm_archive;
pub mod charm_meta;
pub mod cli;
pub mod context;
pub mod duration;
pub mod engine;
pub mod model;
pub mod models;
pub mod tools;

/// If this process was started through a hook-tool symlink (its `argv[0]`
/// basename is one of [`tools::TOOL_NAMES`]), runs that tool and returns its
/// exit code; otherwise `None`. A binary that serves as the hook-tool binary
/// (`EngineOptions::tool_binary`) calls this first thing in `main`.
pub fn run_as_hook_tool() -> Option<i32> {
    let mut args = std::env::args_os();
    let argv0 = args.next()?;
    let name = std::path::Path::new(&argv0)
        .file_name()?
        .to_string_lossy()
        .to_string();
    if !tools::TOOL_NAMES.contains(&name.as_str()) {
        return None;
    }
    let rest = args.map(|a| a.to_string_lossy().to_string()).collect();
    Some(tools::tool_main(&name, rest))
}

/// `main` of a binary that is only a hook-tool binary (named `binary` in messages): runs the
/// tool it was started as and exits with its code, or exits 2 with an error when it was not
/// started through a tool's link.
pub fn hook_tool_binary_main(binary: &str) -> ! {
    match run_as_hook_tool() {
        Some(code) => std::process::exit(code),
        None => {
            eprintln!(
                "ERROR {binary} runs as a hook tool: start it through a link named after one"
            );
            std::process::exit(2);
        }
    }
}
