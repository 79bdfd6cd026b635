//! The MySQL workloads the charm runs on under the `juju-sim` emulator, and the charm
//! entry point that picks them.
//!
//! The production charm (`mysql-charm`) knows only the `charmed-mysql` snap. The binaries
//! that run the charm on `juju-sim` (the end-to-end tests', the benchmarks', the one
//! `cargo xtask demo` packs) call [`run`] instead, which runs the same charm
//! ([`mysql_charm::run_with`]) on the workload [`choose_workload`] picks from the hook
//! environment:
//!
//! - [`EmulatedWorkload`]: a file-backed MySQL InnoDB cluster, one JSON file per unit, so
//!   the upgrade and rollback paths run end to end on one machine;
//! - [`MariaDbWorkload`] ([`mariadb`]): a real `mariadbd` per unit, chosen with
//!   `JUJU_SIM_WORKLOAD=mariadb`, so a rollback runs while a real database keeps serving.
//!
//! Both honour the faults a test arms in the model's faults file ([`FaultPlan`]).

mod chooser;
mod emulated;
pub mod mariadb;

pub use chooser::{choose_workload, TestWorkload};
pub use emulated::{
    EmulatedUnitState, EmulatedWorkload, FaultKind, FaultPlan, FaultRule, FAULTS_FILE_NAME,
    STATE_FILE_PREFIX,
};
pub use mariadb::MariaDbWorkload;

use std::process::ExitCode;

/// Runs the charm for the event in this process's environment, on the workload
/// [`choose_workload`] picks.
pub fn run() -> ExitCode {
    mysql_charm::run_with(choose_workload)
}
