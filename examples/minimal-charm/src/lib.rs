//! The smallest charm that embeds `juju-upgrade`: `kv`, a versioned key-value store, upgraded
//! and rolled back one unit at a time with v0's protocol.
//!
//! - [`kv`]: the workload, written for the example (not part of the glue).
//! - [`charm`]: the glue: [`charm::KvHooks`] implements the core's `UpgradeHooks` over any
//!   [`kv::Workload`], [`charm::run`] dispatches a hook or action to the core and performs
//!   its effects with the hook tools.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod charm;
pub mod kv;
