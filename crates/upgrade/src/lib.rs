//! Sans-IO core for safe in-place upgrades and rollbacks of stateful Juju applications.
//!
//! placeholder
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dependency;
pub mod effect;
pub mod error;
pub mod hooks;
pub mod machine;
pub mod messages;
pub mod snapshot;
pub mod stack;
pub mod state;

pub use dependency::{
    check_upgrade, parse_version, verify_requirements, Dependency, DependencyModel,
    RangeCheckError, Requirement,
};
pub use effect::{Effect, EffectSink, LogLevel, Status, StatusKind};
pub use error::{
    ClusterNotReady, DependencyError, RequirementError, SnapshotError, StackError, UnknownState,
    UpgradeFailed, VersionIncompatible, VersionParseError,
};
pub use hooks::UpgradeHooks;
pub use machine::{handle, no_relation, Event, RESULT_KEY};
pub use snapshot::{Bag, PeerSnapshot, DEPENDENCIES_KEY, ROUND_KEY, STACK_KEY, STATE_KEY};
pub use stack::UpgradeStack;
pub use state::{cluster_state, UnitState};
