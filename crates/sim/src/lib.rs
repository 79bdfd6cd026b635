//! `juju-sim`: a local Juju model emulator.
//!
//! It keeps a model (applications, units, leadership, relation databags, charm
//! revisions) in a directory and runs a charm's `dispatch` once per hook or
//! action per unit, with fake hook tools on `PATH`, following Juju 3.6's
//! machine-unit semantics (see the crate README).

pub mod context;
pub mod tools;
