//! Benchmarks of the upgrade machinery: what one hook of the Rust MySQL charm costs
//! under the emulator's hook tools against a Python `ops` charm doing the same peer-relation
//! reads and writes, how many hook-tool calls a hook makes as the application grows, and how
//! the cost of a whole upgrade or rollback grows with the number of units.
//!
//! - [`capture`]: recording every process the emulator runs, and keeping some for replay;
//! - [`model`]: models in the emulator with real charm processes (an upgrade, the how-to's
//!   rollback) and what each phase ran;
//! - [`cases`]: which captured hooks are measured;
//! - [`synth`]: a captured hook grown to more units;
//! - [`replay`]: running a captured (or grown) hook again with the same inputs;
//! - [`measure`]: wall time, CPU and peak memory of a process (`wait4`, `ptrace`);
//! - [`cost`]: a hook's cost over repeated runs, and where its time goes;
//! - [`rollout`]: whole rollouts in the in-process cluster, hooks and reads counted;
//! - [`stats`], [`table`], [`machine`]: medians, tables, the machine's description.
//!
//! The `upgrade-bench` binary runs them and prints the figures (see BENCHMARKS.md).

#![deny(missing_docs)]

pub mod capture;
pub mod cases;
pub mod cost;
pub mod error;
pub mod machine;
pub mod measure;
pub mod model;
pub mod replay;
pub mod rollout;
pub mod stats;
pub mod synth;
pub mod table;

pub use error::BenchError;
pub use replay::TOOL_LOG_VAR;
