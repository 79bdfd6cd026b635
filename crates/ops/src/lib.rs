//! Juju bindings for charms written in Rust.
//!
//! * [`context`]: the dispatch context read from the `JUJU_*` environment.
//! * [`tools`]: the [`HookTools`] trait over every hook tool a charm uses, and
//!   `ProcessHookTools`, which runs the real tools found on `PATH`.
//! * [`logger`]: a `log::Log` backend that writes through `juju-log`.

pub mod context;
pub mod logger;
pub mod tools;

pub use context::{ContextError, Dispatch, Event, RelationContext, RelationHookKind};
pub use logger::JujuLogger;
pub use tools::{
    AppStatus, HookTools, MockHookTools, ProcessHookTools, RelationId, Status, StatusName,
    ToolError,
};
