//! The `juju-sim` command line (being written).

/// Runs the CLI with the process arguments; returns the exit code.
pub fn main() -> i32 {
    eprintln!("ERROR juju-sim CLI not available yet");
    2
}
