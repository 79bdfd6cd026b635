//! Typed workload errors. The charm branches on the variant (a start failure leads to the
//! downgrade check, an unanswered status to "Failed to retrieve cluster status"); the
//! operator reads the command, exit code and stderr kept inside.

use std::fmt;
use std::path::PathBuf;

/// A process that ran and failed: what ran, how it ended, what it said on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    /// The command line, without secrets (they travel on stdin).
    pub command: String,
    /// The exit code; `None` when the process was killed by a signal.
    pub exit_code: Option<i32>,
    /// Standard error, trimmed.
    pub stderr: String,
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exit_code {
            Some(code) => write!(f, "`{}` exited with {code}", self.command)?,
            None => write!(f, "`{}` was killed by a signal", self.command)?,
        }
        if !self.stderr.is_empty() {
            write!(f, ": {}", self.stderr)?;
        }
        Ok(())
    }
}

fn caused_by(failure: &Option<CommandFailure>) -> String {
    failure
        .as_ref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default()
}

/// Why a workload operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A command failed where no more specific meaning applies.
    #[error("{0}")]
    Command(CommandFailure),

    /// A command could not be run at all (missing binary, no permission).
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The MySQL server of `unit` did not answer (stopped, unreachable, not a group member).
    #[error("the MySQL server of {unit} does not answer: {reason}{}", caused_by(.failure))]
    ServerUnavailable {
        /// Whose server was asked.
        unit: String,
        /// What went wrong, in words.
        reason: String,
        /// The failed command, when one ran.
        failure: Option<CommandFailure>,
    },

    /// mysqld did not come up on this unit.
    #[error("mysqld failed to start on {unit}: {reason}{}", caused_by(.failure))]
    StartFailed {
        /// This unit.
        unit: String,
        /// What went wrong, in words.
        reason: String,
        /// The failed command, when one ran.
        failure: Option<CommandFailure>,
    },

    /// The upgrade checker found errors (or could not run) against `from_unit`'s server.
    #[error("the server of {from_unit} cannot be upgraded: {summary}{}", caused_by(.failure))]
    NotUpgradable {
        /// The unit whose running server was checked.
        from_unit: String,
        /// The checker's summary.
        summary: String,
        /// The failed command, when one ran.
        failure: Option<CommandFailure>,
    },

    /// The primary could not be moved to `unit`.
    #[error("cannot switch the primary to {unit}: {reason}{}", caused_by(.failure))]
    SwitchoverFailed {
        /// The requested new primary.
        unit: String,
        /// What went wrong, in words.
        reason: String,
        /// The failed command, when one ran.
        failure: Option<CommandFailure>,
    },

    /// The instance did not come back ONLINE within the retry budget.
    #[error("{unit} is not back ONLINE after {attempts} attempts (last seen: {last_seen})")]
    NotBackOnline {
        /// This unit.
        unit: String,
        /// How many times the state was checked.
        attempts: u32,
        /// The last member state seen, or why none could be read.
        last_seen: String,
    },

    /// No other ONLINE member to rejoin from.
    #[error("{unit} cannot rejoin: no other member is ONLINE")]
    NoDonor {
        /// This unit.
        unit: String,
    },

    /// The unit is not known to the cluster or to the address book.
    #[error("unknown unit {unit}")]
    UnknownUnit {
        /// The unit asked for.
        unit: String,
    },

    /// The operation makes no sense in the current state (e.g. refreshing a running server).
    #[error("{operation} refused: {reason}")]
    Precondition {
        /// What was asked.
        operation: String,
        /// Why it was refused.
        reason: String,
    },

    /// A command's output could not be understood.
    #[error("unexpected output from `{command}`: {reason}")]
    UnexpectedOutput {
        /// The command line.
        command: String,
        /// What did not parse.
        reason: String,
    },

    /// A state or fault file of the emulator is unreadable or malformed.
    #[error("bad emulator file {path}: {reason}")]
    BadStateFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// File-system access failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
}

impl WorkloadError {
    /// The failed process behind this error, if one was involved.
    pub fn command_failure(&self) -> Option<&CommandFailure> {
        match self {
            Self::Command(failure) => Some(failure),
            Self::ServerUnavailable { failure, .. }
            | Self::StartFailed { failure, .. }
            | Self::NotUpgradable { failure, .. }
            | Self::SwitchoverFailed { failure, .. } => failure.as_ref(),
            _ => None,
        }
    }

    /// A file operation on `path` failed.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
