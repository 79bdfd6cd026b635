//! Test harness and explorer for the upgrade core (`juju-upgrade`).
//!
//! - [`cluster`]: an in-process model of one Juju application whose units run
//!   [`juju_upgrade::handle`] with Juju's delivery semantics (committed bags, per-unit caches,
//!   coalesced `relation-changed`, overlapping hooks) and its faults (hook errors and retries,
//!   agents killed mid-hook, leadership moves, unit removal, a second refresh).
//! - [`scenario`]: the operator's script (prepare, refresh, recover, roll back) and the checks on
//!   the states where no hook is left to run.
//! - [`explore`]: bounded exhaustive search and seeded random walks over event orders and
//!   faults, checking the invariants after every step, with replayable traces.
//! - [`fixtures`]: the charm revisions of the seed how-to.
//!
//! Everything is deterministic: no wall clock, no OS randomness; a seed or a trace names one run.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cluster;
pub mod explore;
pub mod fixtures;
pub mod rng;
pub mod scenario;
