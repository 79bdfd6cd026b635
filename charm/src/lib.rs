//! Charmed MySQL (machines), in Rust: the hooks and actions that upgrade a MySQL InnoDB
//! cluster one unit at a time and roll it back after a failed `juju refresh`.
//!
//! The charm embeds the sans-IO upgrade core (`juju-upgrade`) and talks to Juju through
//! `juju-ops`:
//!
//! - [`dispatch`]: the entry point ([`run`], on the snap; [`run_with`], on a workload the
//!   caller builds) and the routing of each event;
//! - [`context`]: what a handler works with during one hook or action
//!   ([`context::HookContext`]);
//! - [`upgrade`]: Charmed MySQL's upgrade steps ([`upgrade::MySqlUpgrade`]) and the driver
//!   running the core for the `upgrade` relation's hooks, `upgrade-charm`, `leader-elected`,
//!   `config-changed` and the upgrade actions;
//! - [`peer`]: the `upgrade` peer relation read into a snapshot, and the core's effects
//!   performed with hook tools;
//! - [`cache`]: the unit's copies of the other units' bags, kept between hooks so that the
//!   leader's hooks and the actions read only the bag Juju has just refreshed;
//! - [`lifecycle`]: install, start (the server set up, the cluster created or joined),
//!   update-status (an OFFLINE member rejoined) and the health status;
//! - [`actions`]: `pre-upgrade-check`, `resume-upgrade`, `force-upgrade`,
//!   `get-cluster-status`, `get-password` and `set-password`;
//! - [`secrets`]: the system users' passwords in a Juju secret;
//! - [`versions`]: the pinned workload and the dependency model shipped in `versions.json`;
//! - [`revision`]: the Juju charm revision of the charm directory;
//! - [`workload`]: the MySQL server: the [`workload::Workload`] trait and its production
//!   implementation on the `charmed-mysql` snap.
//!
//! The workloads the charm runs on under `juju-sim` (an emulated cluster, a real MariaDB
//! server per unit) are not part of this crate: the `mysql-test-workloads` crate builds
//! them and runs the charm on them through [`run_with`].

pub mod actions;
pub mod cache;
pub mod context;
pub mod dispatch;
pub mod error;
pub mod lifecycle;
pub mod peer;
pub mod revision;
pub mod secrets;
pub mod status;
pub mod upgrade;
pub mod versions;
pub mod workload;

pub use dispatch::{run, run_with};
pub use error::CharmError;
