//! The charm author's side: what the core needs from a particular charm.
//!
//! The core decides when; the charm's [`UpgradeHooks`] implementation does the work that touches
//! the workload (health checks, installing a package, restarting a service). All I/O lives there.

use crate::dependency::DependencyModel;
use crate::error::{ClusterNotReady, UpgradeFailed};
use crate::messages;
use crate::snapshot::PeerSnapshot;

/// Implemented by a charm to plug its workload into the upgrade core.
pub trait UpgradeHooks {
    /// The dependency model shipped with this charm revision.
    fn dependency_model(&self) -> &DependencyModel;

    /// Checks on the leader, before an upgrade, that the cluster is healthy enough to upgrade,
    /// and prepares it (for MySQL: every member online, the leader made primary so it upgrades
    /// last, slow shutdown set). An error fails the `pre-upgrade-check` action with its message.
    fn pre_upgrade_check(&mut self, view: &PeerSnapshot) -> Result<(), ClusterNotReady>;

    /// The upgrade order, bottom first: the last unit upgrades first.
    ///
    /// It must list every unit of the application exactly once. The default is Charmed MySQL's:
    /// this unit (the leader, made primary by the check) at the bottom so it upgrades last, and
    /// every other unit above it in ascending number, so the highest number upgrades first.
    fn build_upgrade_stack(&mut self, view: &PeerSnapshot) -> Result<Vec<u32>, ClusterNotReady> {
        let mut stack = vec![view.unit];
        stack.extend(
            view.app_units()
                .into_iter()
                .filter(|&unit| unit != view.unit),
        );
        Ok(stack)
    }

    /// Upgrades, or rolls back, this unit's workload to what this charm revision pins, and
    /// checks that it is healthy again.
    ///
    /// Called only when this unit was granted its turn. Each `progress(message)` becomes a
    /// maintenance status at once (e.g. "stopping services..", "upgrading snap..."). An error
    /// marks the unit `failed`, which pauses the whole upgrade until the operator rolls back.
    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed>;

    /// The workload version to publish after a successful [`Self::upgrade_unit`], if known.
    fn workload_version(&mut self, view: &PeerSnapshot) -> Option<String> {
        let _ = view;
        None
    }

    /// The blocked status message of a failed unit.
    fn failed_status(&self) -> String {
        messages::UPGRADE_FAILED.to_owned()
    }

    /// The log text telling the operator how to roll back after a failure.
    fn rollback_instructions(&self, app: &str) -> String {
        format!(
            "Upgrade failed, follow the instructions below to rollback:\n\
             \x20   1. Re-run `pre-upgrade-check` action on the leader unit to enter 'recovery' state: \
             juju run {app}/leader pre-upgrade-check\n\
             \x20   2. Run `juju refresh` to the previously deployed charm revision or local charm file: \
             juju refresh {app} --revision=<previous revision> (or --path=<previous .charm file>)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Minimal(DependencyModel);

    impl UpgradeHooks for Minimal {
        fn dependency_model(&self) -> &DependencyModel {
            &self.0
        }
        fn pre_upgrade_check(&mut self, _: &PeerSnapshot) -> Result<(), ClusterNotReady> {
            Ok(())
        }
        fn upgrade_unit(
            &mut self,
            _: &PeerSnapshot,
            _: &mut dyn FnMut(&str),
        ) -> Result<(), UpgradeFailed> {
            Ok(())
        }
    }

    #[test]
    fn default_stack_puts_this_unit_at_the_bottom_and_the_highest_number_on_top() {
        let mut view = PeerSnapshot::new("mysql", 2, true);
        view.units.extend([0, 1, 3, 10]);
        let mut hooks = Minimal(DependencyModel::default());
        assert_eq!(hooks.build_upgrade_stack(&view), Ok(vec![2, 0, 1, 3, 10]));
    }

    #[test]
    fn default_texts_tell_the_operator_what_to_run() {
        let hooks = Minimal(DependencyModel::default());
        assert_eq!(hooks.failed_status(), messages::UPGRADE_FAILED);
        let text = hooks.rollback_instructions("mysql");
        assert!(
            text.contains("juju run mysql/leader pre-upgrade-check"),
            "{text}"
        );
        assert!(text.contains("'recovery' state"), "{text}");
        assert!(text.contains("juju refresh mysql"), "{text}");
    }
}
