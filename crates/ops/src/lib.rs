//! Juju bindings for charms written in Rust.
//!
//! A charm is one executable that Juju starts for every hook and action. This
//! crate gives it the three things it needs from Juju:
//!
//! * [`context`]: which event it was started for ([`Dispatch`]), read from the
//!   `JUJU_*` environment.
//! * [`tools`]: the [`HookTools`] trait over every hook tool a charm uses
//!   (mockable as `MockHookTools` with the `mock` feature, which tests enable), and
//!   [`ProcessHookTools`], which runs the real tools found on `PATH`.
//! * [`logger`]: a `log::Log` backend that writes through `juju-log`.
//! * `upgrade` (feature `upgrade`): one turn of the `juju-upgrade` core over the hook
//!   tools, for charms embedding it.
//!
//! # Example
//!
//! Handle a peer relation change; in production the dispatch comes from
//! [`Dispatch::from_env`] and the tools are [`ProcessHookTools::new`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use juju_ops::{Dispatch, HookTools, MockHookTools, Status, ToolError};
//!
//! fn handle(dispatch: &Dispatch, tools: &dyn HookTools) -> Result<(), ToolError> {
//!     if let Some(relation) = dispatch.relation().filter(|r| r.name() == "upgrade") {
//!         let own = tools.relation_get_unit(&relation.id, &dispatch.unit_name)?;
//!         if own.get("state").map(String::as_str) != Some("idle") {
//!             let values = BTreeMap::from([("state".to_owned(), "idle".to_owned())]);
//!             tools.relation_set_unit(&relation.id, &values)?;
//!         }
//!         tools.status_set(&Status::active(""))?;
//!     }
//!     Ok(())
//! }
//!
//! let vars = [
//!     ("JUJU_DISPATCH_PATH", "hooks/upgrade-relation-changed"),
//!     ("JUJU_UNIT_NAME", "mysql/1"),
//!     ("JUJU_MODEL_NAME", "dev"),
//!     ("JUJU_CHARM_DIR", "/var/lib/juju/agents/unit-mysql-1/charm"),
//!     ("JUJU_VERSION", "3.6.4"),
//!     ("JUJU_RELATION", "upgrade"),
//!     ("JUJU_RELATION_ID", "upgrade:3"),
//!     ("JUJU_REMOTE_UNIT", "mysql/0"),
//!     ("JUJU_REMOTE_APP", "mysql"),
//! ];
//! let dispatch = Dispatch::from_vars(vars.map(|(k, v)| (k.to_owned(), v.to_owned())))
//!     .expect("a complete relation-changed environment");
//! assert!(dispatch.is_relation_hook("upgrade"));
//!
//! let mut tools = MockHookTools::new();
//! tools.expect_relation_get_unit()
//!     .withf(|rel, unit| rel.to_string() == "upgrade:3" && unit == "mysql/1")
//!     .returning(|_, _| Ok(BTreeMap::new()));
//! tools.expect_relation_set_unit()
//!     .withf(|_, values| values.get("state").map(String::as_str) == Some("idle"))
//!     .times(1)
//!     .returning(|_, _| Ok(()));
//! tools.expect_status_set().times(1).returning(|_| Ok(()));
//! handle(&dispatch, &tools).unwrap();
//! ```

#![deny(missing_docs)]

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod context;
pub mod logger;
pub mod tools;
#[cfg(feature = "upgrade")]
pub mod upgrade;

pub use context::{ContextError, Dispatch, Event, RelationContext, RelationHookKind};
pub use logger::JujuLogger;
#[cfg(any(test, feature = "mock"))]
pub use tools::MockHookTools;
pub use tools::{
    AppStatus, HookTools, ProcessHookTools, RelationId, Status, StatusName, ToolError,
};
