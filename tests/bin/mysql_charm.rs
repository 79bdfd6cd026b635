//! The MySQL charm binary, built inside the e2e package so tests can pack it
//! (`CARGO_BIN_EXE_e2e-mysql-charm`).

fn main() -> std::process::ExitCode {
    mysql_charm::run()
}
