//! The MySQL charm binary, built inside the benchmark package so the benchmark can pack the
//! release build it measures (the same `main` as `charm/src/main.rs`).

fn main() -> std::process::ExitCode {
    mysql_charm::run()
}
