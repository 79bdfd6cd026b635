//! The MySQL charm on the test workloads: Juju runs it (through `dispatch`) for every hook
//! and action of a charm deployed on `juju-sim`.

fn main() -> std::process::ExitCode {
    mysql_test_workloads::run()
}
