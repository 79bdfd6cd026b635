//! What the core asks the charm to do, in order.
//!
//! The core decides; the charm performs each [`Effect`] with a hook tool. Effects are handed to
//! an [`EffectSink`] the moment they are decided, so a charm can `status-set` at once and an
//! operator watching `juju status` sees each step while a long upgrade runs.

use std::convert::Infallible;
use std::fmt;

/// A workload status kind a charm may set (`status-set` accepts exactly these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// Everything is fine.
    Active,
    /// The operator must act.
    Blocked,
    /// Work is in progress on this unit.
    Maintenance,
    /// Waiting for something outside this unit.
    Waiting,
}

impl StatusKind {
    /// The word `status-set` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Active => "active",
            StatusKind::Blocked => "blocked",
            StatusKind::Maintenance => "maintenance",
            StatusKind::Waiting => "waiting",
        }
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workload status with its message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status {
    /// The kind.
    pub kind: StatusKind,
    /// The message shown next to it; may be empty.
    pub message: String,
}

impl Status {
    /// An active status.
    pub fn active(message: impl Into<String>) -> Self {
        Status {
            kind: StatusKind::Active,
            message: message.into(),
        }
    }

    /// A blocked status.
    pub fn blocked(message: impl Into<String>) -> Self {
        Status {
            kind: StatusKind::Blocked,
            message: message.into(),
        }
    }

    /// A maintenance status.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Status {
            kind: StatusKind::Maintenance,
            message: message.into(),
        }
    }

    /// A waiting status.
    pub fn waiting(message: impl Into<String>) -> Self {
        Status {
            kind: StatusKind::Waiting,
            message: message.into(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

/// Log level of a [`Effect::Log`] (`juju-log --log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// Decisions, for debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something unusual that does not stop the upgrade.
    Warning,
    /// Something that stops or blocks the upgrade.
    Error,
}

impl LogLevel {
    /// The level word `juju-log` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

/// One thing for the charm to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Set a key in this unit's bag of the peer relation; an empty value deletes the key.
    SetUnit {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Set a key in the application bag of the peer relation (only ever emitted on the leader).
    SetApp {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Set this unit's workload status.
    UnitStatus(Status),
    /// Set the application status (leader only).
    AppStatus(Status),
    /// Write to the unit's log.
    Log {
        /// The level.
        level: LogLevel,
        /// The text.
        message: String,
    },
    /// Add a result to the running action (`action-set`).
    ActionResult {
        /// The result key.
        key: String,
        /// The value.
        value: String,
    },
    /// Fail the running action with this message (`action-fail`).
    ActionFail(String),
    /// Publish the workload version (`application-version-set`).
    WorkloadVersion(String),
}

/// Receives effects, in order, as the core decides them.
///
/// A sink that performs effects with hook tools can fail; its error stops the turn: nothing
/// more is applied, the workload is not touched after it, and the core returns the error.
pub trait EffectSink {
    /// Why an effect could not be performed.
    type Error;

    /// Performs (or records) one effect.
    fn apply(&mut self, effect: Effect) -> Result<(), Self::Error>;
}

/// Records the effects; never fails.
impl EffectSink for Vec<Effect> {
    type Error = Infallible;

    fn apply(&mut self, effect: Effect) -> Result<(), Infallible> {
        self.push(effect);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_sink_keeps_effects_in_order() {
        let mut sink: Vec<Effect> = Vec::new();
        let Ok(()) = sink.apply(Effect::UnitStatus(Status::waiting("a")));
        let Ok(()) = sink.apply(Effect::ActionFail("b".into()));
        assert_eq!(
            sink,
            vec![
                Effect::UnitStatus(Status::waiting("a")),
                Effect::ActionFail("b".into())
            ]
        );
    }

    #[test]
    fn status_words_match_status_set() {
        assert_eq!(Status::active("").to_string(), "active");
        assert_eq!(
            Status::blocked("ready to rollback application").to_string(),
            "blocked: ready to rollback application"
        );
        assert_eq!(StatusKind::Maintenance.as_str(), "maintenance");
        assert_eq!(StatusKind::Waiting.as_str(), "waiting");
        assert_eq!(LogLevel::Warning.as_str(), "WARNING");
    }
}
