//! The charm's error: anything that stops a hook or action from finishing its work.
//!
//! A hook that returns one exits non-zero, so Juju discards its relation writes and retries
//! it with the data intact; an action reports it with `action-fail` first.

use juju_ops::{ContextError, ToolError};

use crate::cache::CacheError;
use crate::peer::PeerError;
use crate::secrets::SecretError;
use crate::versions::VersionsError;
use crate::workload::WorkloadError;

/// Why a hook or action could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// The `JUJU_*` environment does not describe a hook or action.
    #[error("cannot read the dispatch environment: {0}")]
    Context(#[from] ContextError),
    /// A hook tool failed.
    #[error("hook tool failed: {0}")]
    Tool(#[from] ToolError),
    /// The upgrade peer relation could not be read.
    #[error("cannot read the upgrade relation: {0}")]
    Peer(#[from] PeerError),
    /// The peer cache could not be set aside or dropped at the start of the hook.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The charm's `versions.json` is unusable.
    #[error(transparent)]
    Versions(#[from] VersionsError),
    /// The system users' passwords could not be read or stored.
    #[error("passwords: {0}")]
    Secret(#[from] SecretError),
    /// The MySQL workload failed where the hook cannot carry on without it.
    #[error("MySQL workload: {0}")]
    Workload(#[from] WorkloadError),
}
