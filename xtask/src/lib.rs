//! Developer tooling for the MySQL charm, as a library so the end-to-end tests pack charms
//! exactly as `cargo xtask pack` does.
//!
//! - [`pack`]: assemble the charm's files (the root `dispatch` and YAML files, a
//!   `manifest.yaml`, `versions.json` with per-revision overrides, the compiled binary)
//!   and write a `.charm` archive.
//! - [`minimal`]: the same for the example charm, `examples/minimal-charm`.
//! - [`lint`]: `charmcraft analyse` on a packed charm.

pub mod lint;
pub mod minimal;
pub mod pack;
