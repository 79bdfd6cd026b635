//! The emulated server as a command, built inside the e2e package so tests can pack it into
//! the Python v0 test charm (`CARGO_BIN_EXE_e2e-emulated-mysql`).

fn main() -> std::process::ExitCode {
    mysql_test_workloads::cli::main()
}
