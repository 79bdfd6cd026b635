//! Unit upgrade states and the cluster state derived from them.
//!
//! Each unit writes its own `state` into its peer databag; the cluster state is the "worst" of
//! them, so one unit that is behind (or broken) holds the whole application back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::UnknownState;

/// Where one unit is in the upgrade process; stored as the unit bag's `state` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitState {
    /// Not upgrading; the normal state between upgrades.
    Idle,
    /// Running the new charm and waiting for its turn to upgrade the workload.
    Ready,
    /// Upgrading (or rolling back) its workload right now.
    Upgrading,
    /// Finished upgrading its workload; waits for the others.
    Completed,
    /// Its upgrade failed; the whole rolling process is paused.
    Failed,
    /// The leader's mark that the operator prepared a rollback after a failure.
    Recovery,
}

/// v0's `STATES` order: the first state present among the units is the cluster state.
const SEVERITY: [UnitState; 6] = [
    UnitState::Recovery,
    UnitState::Failed,
    UnitState::Idle,
    UnitState::Ready,
    UnitState::Upgrading,
    UnitState::Completed,
];

impl UnitState {
    /// Every state, worst first (the order used by [`cluster_state`]).
    pub const ALL_WORST_FIRST: [UnitState; 6] = SEVERITY;

    /// The text stored in the databag.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Idle => "idle",
            UnitState::Ready => "ready",
            UnitState::Upgrading => "upgrading",
            UnitState::Completed => "completed",
            UnitState::Failed => "failed",
            UnitState::Recovery => "recovery",
        }
    }

    /// Position in the worst-first order: 0 is `recovery`, 5 is `completed`.
    pub fn severity_rank(self) -> usize {
        match self {
            UnitState::Recovery => 0,
            UnitState::Failed => 1,
            UnitState::Idle => 2,
            UnitState::Ready => 3,
            UnitState::Upgrading => 4,
            UnitState::Completed => 5,
        }
    }
}

impl fmt::Display for UnitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UnitState {
    type Err = UnknownState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SEVERITY
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownState {
                text: text.to_owned(),
            })
    }
}

/// The cluster state: the worst of the units' states, in the order recovery, failed, idle,
/// ready, upgrading, completed.
///
/// `None` (a unit that has not reported a state yet) makes the cluster state unknown, as does an
/// empty application: v0 returns `None` whenever a unit's state is missing.
pub fn cluster_state<I>(states: I) -> Option<UnitState>
where
    I: IntoIterator<Item = Option<UnitState>>,
{
    let mut worst: Option<UnitState> = None;
    for state in states {
        let state = state?;
        worst = match worst {
            Some(current) if current.severity_rank() <= state.severity_rank() => Some(current),
            _ => Some(state),
        };
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use UnitState::*;

    #[test]
    fn states_round_trip_through_text_and_serde() {
        for state in UnitState::ALL_WORST_FIRST {
            assert_eq!(state.to_string().parse::<UnitState>(), Ok(state));
            let json = serde_json::to_string(&state).expect("serialises");
            assert_eq!(json, format!("\"{state}\""));
            let back: UnitState = serde_json::from_str(&json).expect("deserialises");
            assert_eq!(back, state);
        }
    }

    #[test]
    fn unknown_state_text_is_a_typed_error_keeping_the_text() {
        let err = "upgrayding".parse::<UnitState>().unwrap_err();
        assert_eq!(err.text, "upgrayding");
        assert!("Idle".parse::<UnitState>().is_err(), "states are lowercase");
        assert!("".parse::<UnitState>().is_err());
    }

    #[test]
    fn cluster_state_is_the_worst_state_in_v0_order() {
        // v0's test_cluster_state: one unit at min_state, the other completed.
        for min_state in [Failed, Idle, Ready, Upgrading, Completed] {
            assert_eq!(
                cluster_state([Some(min_state), Some(Completed)]),
                Some(min_state)
            );
        }
        assert_eq!(
            cluster_state([Some(Ready), Some(Upgrading), Some(Completed)]),
            Some(Ready)
        );
        assert_eq!(
            cluster_state([Some(Failed), Some(Recovery)]),
            Some(Recovery)
        );
        assert_eq!(cluster_state([Some(Idle), Some(Failed)]), Some(Failed));
        assert_eq!(cluster_state([Some(Completed), Some(Idle)]), Some(Idle));
    }

    #[test]
    fn cluster_state_is_unknown_when_a_unit_has_not_reported() {
        assert_eq!(cluster_state([Some(Idle), None, Some(Idle)]), None);
        assert_eq!(cluster_state([None]), None);
        assert_eq!(cluster_state(std::iter::empty()), None);
    }
}
