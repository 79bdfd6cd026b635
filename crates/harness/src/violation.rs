//! The safety rules the cluster checks on every transition, and how a breach reads.

use std::fmt;

/// A breach of a safety rule, seen while the cluster ran. `during` names the hook or action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// A unit's agent runs a charm revision the cluster does not define.
    UnknownRevision {
        /// The unit.
        unit: u32,
        /// The revision it runs.
        revision: u32,
    },
    /// Queued hooks kept coming: `limit` hooks (or begin/commit steps) ran without the
    /// cluster going quiet.
    DidNotSettle {
        /// How many ran.
        limit: u32,
        /// What was counted: `hooks` or `steps`.
        counting: &'static str,
    },
    /// A unit blocked on invalid peer data although nobody wrote any outside the protocol.
    BlockedOnValidData {
        /// The unit.
        unit: u32,
        /// The hook or action.
        during: String,
        /// The status message it showed.
        message: String,
    },
    /// The core gave up after its step budget.
    StepBudget {
        /// The unit.
        unit: u32,
        /// The hook or action.
        during: String,
    },
    /// A unit that is not the leader wrote the application bag.
    NonLeaderWroteAppBag {
        /// The unit.
        unit: u32,
        /// The hook or action.
        during: String,
    },
    /// A unit that is not the leader set the application status.
    NonLeaderSetAppStatus {
        /// The unit.
        unit: u32,
    },
    /// A unit changed its workload while it was not on top of the stack in its own view.
    UpgradedOutOfTurn {
        /// The unit.
        unit: u32,
        /// The stack top in the view the core handed to `upgrade_unit`.
        top_in_view: Option<u32>,
        /// The committed stack top.
        committed_top: Option<u32>,
    },
    /// A unit changed its workload while other units' workloads were still being changed.
    UpgradedWhileOthersChanging {
        /// The unit.
        unit: u32,
        /// The units whose workload was being changed.
        others: Vec<u32>,
    },
    /// A unit installed a newer revision's workload after the application was refreshed back.
    InstalledAfterRefreshBack {
        /// The unit.
        unit: u32,
        /// The revision the unit's agent still ran.
        revision: u32,
        /// The workload it installed.
        workload: String,
        /// The revision the application was refreshed to.
        app_revision: u32,
    },
    /// A `pre-upgrade-check` that failed still changed the stack.
    FailedCheckChangedStack {
        /// The unit the action ran on.
        unit: u32,
    },
    /// A unit committed a stack no unit can read.
    UnreadableStack {
        /// The unit.
        unit: u32,
        /// Why it cannot be read.
        error: String,
    },
    /// A unit left the stack without having completed since it entered it, or since the last
    /// prepare or recovery.
    LeftStackIncomplete {
        /// The unit.
        unit: u32,
        /// Its committed state.
        state: Option<String>,
    },
    /// More than one unit committed `upgrading`.
    UpgradingTogether {
        /// The units.
        units: Vec<u32>,
    },
    /// A hook decided from the unit's peer cache, and the cache held bags that differ from
    /// the agent's copies (what `relation-get` would have returned).
    PeerCacheLied {
        /// The unit.
        unit: u32,
        /// The hook or action.
        during: String,
        /// The units whose cached bag differed.
        units: Vec<u32>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::UnknownRevision { unit, revision } => {
                write!(f, "unit {unit} runs unknown revision {revision}")
            }
            Violation::DidNotSettle { limit, counting } => {
                write!(f, "did not settle within {limit} {counting}")
            }
            Violation::BlockedOnValidData {
                unit,
                during,
                message,
            } => write!(
                f,
                "unit {unit} blocked on peer data nobody corrupted during {during}: {message}"
            ),
            Violation::StepBudget { unit, during } => {
                write!(f, "unit {unit} hit the core's step budget during {during}")
            }
            Violation::NonLeaderWroteAppBag { unit, during } => {
                write!(f, "non-leader {unit} wrote the app bag during {during}")
            }
            Violation::NonLeaderSetAppStatus { unit } => {
                write!(f, "non-leader {unit} set the app status")
            }
            Violation::UpgradedOutOfTurn {
                unit,
                top_in_view,
                committed_top,
            } => write!(
                f,
                "unit {unit} upgraded while the stack top was {top_in_view:?} in its view ({committed_top:?} committed)"
            ),
            Violation::UpgradedWhileOthersChanging { unit, others } => write!(
                f,
                "unit {unit} upgraded while the workload of {others:?} was still being changed"
            ),
            Violation::InstalledAfterRefreshBack {
                unit,
                revision,
                workload,
                app_revision,
            } => write!(
                f,
                "unit {unit} installed revision {revision}'s {workload} while the application was refreshed back to revision {app_revision}"
            ),
            Violation::FailedCheckChangedStack { unit } => {
                write!(f, "a failed pre-upgrade-check on unit {unit} changed the stack")
            }
            Violation::UnreadableStack { unit, error } => {
                write!(f, "unit {unit} committed an unreadable stack: {error}")
            }
            Violation::LeftStackIncomplete { unit, state } => write!(
                f,
                "unit {unit} left the stack without having completed since it entered it or since the last prepare or recovery (state {state:?})"
            ),
            Violation::UpgradingTogether { units } => {
                write!(f, "units {units:?} committed upgrading together")
            }
            Violation::PeerCacheLied {
                unit,
                during,
                units,
            } => write!(
                f,
                "unit {unit} decided {during} from a peer cache whose bags of units {units:?} are not the agent's copies"
            ),
        }
    }
}
