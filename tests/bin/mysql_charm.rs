//! The MySQL charm on the test workloads, built inside the e2e package so tests can pack
//! it (`CARGO_BIN_EXE_e2e-mysql-charm`).

fn main() -> std::process::ExitCode {
    mysql_test_workloads::run()
}
