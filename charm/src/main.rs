//! The charm binary Juju runs (through `dispatch`) for every hook and action.

fn main() -> std::process::ExitCode {
    mysql_charm::run()
}
