//! One unit's emulated MySQL server as a command (see `mysql_test_workloads::cli`).

fn main() -> std::process::ExitCode {
    mysql_test_workloads::cli::main()
}
