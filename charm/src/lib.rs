//! Charmed MySQL (machines), in Rust: the hooks and actions that upgrade a MySQL InnoDB
//! cluster one unit at a time and roll it back after a failed `juju refresh`.
//!
//! The charm embeds the sans-IO upgrade core (`juju-upgrade`) and talks to Juju through
//! `juju-ops`:
//!
//! - [`dispatch`]: the entry point ([`run`]) and the routing of each event;
//! - [`upgrade`]: Charmed MySQL's upgrade steps ([`upgrade::MySqlUpgrade`]) and the driver
//!   running the core for `upgrade-relation-created/changed`, `upgrade-charm` and
//!   `pre-upgrade-check`;
//! - [`peer`]: the `upgrade` peer relation read into a snapshot, and the core's effects
//!   performed with hook tools;
//! - [`lifecycle`]: install, start and the health status;
//! - [`actions`]: `pre-upgrade-check` and `get-cluster-status`;
//! - [`versions`]: the pinned workload and the dependency model shipped in `versions.json`;
//! - [`workload`]: the MySQL server (the snap in production, emulated under `juju-sim`).

pub mod actions;
pub mod dispatch;
pub mod error;
pub mod lifecycle;
pub mod peer;
pub mod upgrade;
pub mod versions;
pub mod workload;

pub use dispatch::run;
pub use error::CharmError;
