//! The hooks the benchmark measures, and how each is picked among the captured runs of an
//! upgrade, the same way for both charms.

use crate::capture::Capture;

/// A hook (or action) on a leader or a non-leader unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookCase {
    /// `upgrade-charm`: the first one on a unit of this kind after `juju refresh`; on a
    /// non-leader, one that is not on top of the stack (it waits its turn).
    UpgradeCharm {
        /// On the leader.
        leader: bool,
    },
    /// `upgrade-relation-changed` on a unit that is `ready` and stays `ready` (it waits for
    /// its turn): the first such run after `juju refresh`.
    RelationChanged {
        /// On the leader.
        leader: bool,
    },
    /// The `pre-upgrade-check` action on the leader that prepares the upgrade.
    PreUpgradeCheck,
}

impl HookCase {
    /// Every case, in report order.
    pub const ALL: [HookCase; 5] = [
        HookCase::UpgradeCharm { leader: false },
        HookCase::UpgradeCharm { leader: true },
        HookCase::RelationChanged { leader: false },
        HookCase::RelationChanged { leader: true },
        HookCase::PreUpgradeCheck,
    ];

    /// The hook or action name.
    pub fn event(self) -> &'static str {
        match self {
            HookCase::UpgradeCharm { .. } => "upgrade-charm",
            HookCase::RelationChanged { .. } => "upgrade-relation-changed",
            HookCase::PreUpgradeCheck => "pre-upgrade-check",
        }
    }

    /// Whether it runs on the leader.
    pub fn on_leader(self) -> bool {
        match self {
            HookCase::UpgradeCharm { leader } | HookCase::RelationChanged { leader } => leader,
            HookCase::PreUpgradeCheck => true,
        }
    }

    /// `upgrade-charm (non-leader)`, for tables.
    pub fn label(self) -> String {
        match self {
            HookCase::PreUpgradeCheck => "pre-upgrade-check (leader action)".to_owned(),
            case if case.on_leader() => format!("{} (leader)", case.event()),
            case => format!("{} (non-leader)", case.event()),
        }
    }

    /// Whether `capture` is an instance of this case.
    pub fn matches(self, capture: &Capture) -> bool {
        let run = &capture.run;
        if !run.succeeded || run.event != self.event() || run.is_leader != self.on_leader() {
            return false;
        }
        match self {
            // Off the top of the stack, so both charms' captures are a unit waiting its turn
            // (the unit on top goes on to upgrade in the same hook).
            HookCase::UpgradeCharm { leader: false } => {
                !run.is_action && !capture.on_top_of_stack()
            }
            HookCase::UpgradeCharm { leader: true } => !run.is_action,
            HookCase::RelationChanged { .. } => {
                !run.is_action
                    && capture.state_before() == Some("ready")
                    && capture.state_after() == Some("ready")
            }
            HookCase::PreUpgradeCheck => run.is_action,
        }
    }

    /// The first capture of this case.
    pub fn pick(self, captures: &[Capture]) -> Option<&Capture> {
        captures.iter().find(|capture| self.matches(capture))
    }
}
