//! juju-sim's hook tools as one binary: the engine links `relation-get`, `status-set`, ...
//! to it and the name it was started as picks the tool.

fn main() {
    match juju_sim::run_as_hook_tool() {
        Some(code) => std::process::exit(code),
        None => {
            eprintln!(
                "ERROR e2e-hook-tools runs as a hook tool: start it through a link named after one"
            );
            std::process::exit(2);
        }
    }
}
