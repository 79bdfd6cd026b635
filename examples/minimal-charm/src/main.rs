//! The charm's executable: Juju's `dispatch` runs it for every hook and action.

fn main() -> std::process::ExitCode {
    minimal_charm::charm::main()
}
