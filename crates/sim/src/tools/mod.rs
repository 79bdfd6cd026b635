//! The fake hook tools. One binary (`juju-sim`) serves every tool: the engine
//! puts symlinks named after each tool first on the hook's `PATH`, and `main`
//! calls [`tool_main`] when `argv[0]` is one of [`TOOL_NAMES`].
//!
//! (Skeleton: the tools work fills this in; the signatures below are fixed.)

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

/// Runs hook tool `name` with `args` (without argv[0]) against the context
/// file named by `JUJU_SIM_CONTEXT`, printing its output; returns the exit code.
pub fn tool_main(name: &str, args: Vec<String>) -> i32 {
    let _ = (name, args);
    eprintln!("ERROR hook tools not implemented yet");
    1
}
