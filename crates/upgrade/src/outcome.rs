//! What one turn left behind, for the charm's decisions after the event.

use std::collections::BTreeSet;

use crate::effect::Status;
use crate::snapshot::{Bag, PeerSnapshot};

/// What a handled event left: the bags as it left them, and what it told about this unit.
///
/// Built from the effects the turn emitted, so the charm needs neither to read the bags again
/// nor to watch the effects to know, e.g., whether an upgrade is still under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The application, e.g. `mysql`.
    pub app: String,
    /// This unit's number.
    pub unit: u32,
    /// Whether this unit is the leader.
    pub is_leader: bool,
    /// This unit's bag after the event: as read, with the event's writes.
    pub own_bag: Bag,
    /// The application bag after the event: as read, with the event's writes.
    pub app_bag: Bag,
    /// The last `state` this unit wrote was `idle`: it left (or joined) the upgrade protocol
    /// and its ordinary status may be shown again.
    pub became_idle: bool,
    /// The action's result; `None` for a hook.
    pub action: Option<ActionOutcome>,
    /// The last status the core set on this unit in this event, if any.
    pub unit_status: Option<Status>,
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The action succeeded with these results (`action-set`).
    Succeeded(Bag),
    /// The action failed with this message (`action-fail`).
    Failed(String),
}

impl Outcome {
    /// A view of this unit alone with the bags as the event left them: enough for
    /// [`PeerSnapshot::upgrade_in_progress`] and this unit's state, reading no other unit.
    pub fn unit_view(&self) -> PeerSnapshot {
        let mut view = PeerSnapshot::new(self.app.clone(), self.unit, self.is_leader);
        view.units = BTreeSet::from([self.unit]);
        view.unit_bags.insert(self.unit, self.own_bag.clone());
        view.app_bag = self.app_bag.clone();
        view
    }

    /// Whether the event was an action that failed.
    pub fn action_failed(&self) -> bool {
        matches!(self.action, Some(ActionOutcome::Failed(_)))
    }
}
