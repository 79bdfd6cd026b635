//! Test harness and explorer for the upgrade core (`juju-upgrade`).
//!
//! - [`cluster`]: an in-process model of one Juju application whose units run the core with
//!   Juju's delivery rules (committed bags, per-unit caches, coalesced `relation-changed`,
//!   overlapping hooks and actions), the operator's commands and actions, and its faults (hook
//!   errors and retries, agents killed mid-hook, leadership moves, unit removal, a second
//!   refresh, a failing health check); [`violation`]: the safety rules it checks.
//! - `charm` (private): the charm each unit runs, and the one place the core is called.
//! - [`scenario`]: the operator's script (prepare, refresh, recover, roll back, resume, force)
//!   and the checks on the states where no hook is left to run.
//! - [`explore`]: bounded exhaustive search and seeded random walks over event orders and
//!   faults, checking the invariants after every step, with replayable traces.
//! - [`fixtures`]: the charm revisions of the how-to.
//! - [`author`]: the same searches on a charm author's own `UpgradeHooks`
//!   ([`author::explore_charm`]).
//!
//! Every test that needs a running application lives in this crate's `tests/`; the core's
//! own tests call it directly on hand-built views.
//!
//! Everything is deterministic: no wall clock, no OS randomness; a seed or a trace names one run.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod author;
mod charm;
pub mod cluster;
pub mod explore;
pub mod fixtures;
pub mod rng;
pub mod scenario;
pub mod violation;
