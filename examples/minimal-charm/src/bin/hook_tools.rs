//! juju-sim's hook tools as one binary, for this crate's end-to-end tests: the emulator links
//! `relation-get`, `status-set`, ... to it and the name it was started as picks the tool.

fn main() {
    juju_sim::hook_tool_binary_main("minimal-charm-hook-tools")
}
