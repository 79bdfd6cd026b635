//! The `juju-sim` binary: the emulator's CLI, and — when started through a
//! hook-tool symlink such as `relation-get` — that hook tool.

fn main() {
    if let Some(code) = juju_sim::run_as_hook_tool() {
        std::process::exit(code);
    }
    std::process::exit(juju_sim::cli::main());
}
