//! The smallest charm that embeds `juju-upgrade`: `kv`, a versioned key-value store, upgraded
//! and rolled back one unit at a time with v0's protocol.
//!
//! - [`kv`]: the workload, written for the example (not part of the glue).
//! - [`charm`]: [`charm::KvHooks`] implements the core's `UpgradeHooks` over any
//!   [`kv::Workload`]; the binary (`src/main.rs`) dispatches each hook or action to the core
//!   through `juju_ops::upgrade`, which performs its effects with the hook tools.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod charm;
pub mod kv;
