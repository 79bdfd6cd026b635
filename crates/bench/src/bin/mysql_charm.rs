//! The MySQL charm on the test workloads, built inside the benchmark package so the
//! benchmark can pack the release build it measures (the charm of `charm/src/main.rs`, on
//! the emulated server under `juju-sim`).

fn main() -> std::process::ExitCode {
    mysql_test_workloads::run()
}
