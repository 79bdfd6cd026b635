//! juju-sim's hook tools as one binary: the engine links `relation-get`, `status-set`, ...
//! to it and the name it was started as picks the tool.

fn main() {
    juju_sim::hook_tool_binary_main("e2e-hook-tools")
}
