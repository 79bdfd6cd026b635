//! Which workload a hook runs on: the one the `juju-sim` hook environment asks for, or
//! the production snap outside the emulator.

use juju_ops::{Dispatch, HookTools};
use mysql_charm::dispatch::snap_workload;
use mysql_charm::workload::Workload;
use mysql_charm::CharmError;

use crate::{EmulatedWorkload, MariaDbWorkload};

/// A test workload, as the hook environment selects it.
#[derive(Debug, Clone)]
pub enum TestWorkload {
    /// A real `mariadbd` for this unit (`JUJU_SIM_WORKLOAD=mariadb`).
    MariaDb(Box<MariaDbWorkload>),
    /// The emulated server (any other `juju-sim` hook).
    Emulated(EmulatedWorkload),
}

impl TestWorkload {
    /// Under `juju-sim` (the environment, looked up with `var`, has the emulator's
    /// machine and model directories): a real `mariadbd` when the model asks for it with
    /// `JUJU_SIM_WORKLOAD=mariadb`, else the emulated server. `None` elsewhere.
    pub fn from_hook_env(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if let Some(mariadb) = MariaDbWorkload::from_hook_env(&var) {
            return Some(Self::MariaDb(Box::new(mariadb)));
        }
        EmulatedWorkload::from_hook_env(&var).map(Self::Emulated)
    }

    /// The workload, for the charm.
    pub fn into_workload(self) -> Box<dyn Workload> {
        match self {
            Self::MariaDb(mariadb) => mariadb,
            Self::Emulated(emulated) => Box::new(emulated),
        }
    }
}

/// This unit's workload for one hook or action: the test workload of this process's
/// environment ([`TestWorkload::from_hook_env`]); outside `juju-sim`, the production snap
/// ([`snap_workload`]).
pub fn choose_workload(
    dispatch: &Dispatch,
    tools: &dyn HookTools,
) -> Result<Box<dyn Workload>, CharmError> {
    match TestWorkload::from_hook_env(|key| std::env::var(key).ok()) {
        Some(chosen) => Ok(chosen.into_workload()),
        None => snap_workload(dispatch, tools),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn a_sim_hook_runs_on_the_emulated_server_unless_the_model_asks_for_mariadb() {
        let emulated = TestWorkload::from_hook_env(env(&[
            ("JUJU_UNIT_NAME", "mysql/1"),
            ("JUJU_SIM_MACHINE_DIR", "/model/machines/1"),
            ("JUJU_SIM_MODEL_DIR", "/model"),
        ]));
        assert!(
            matches!(&emulated, Some(TestWorkload::Emulated(w)) if w.unit() == "mysql/1"),
            "{emulated:?}"
        );

        let mariadb = TestWorkload::from_hook_env(env(&[
            ("JUJU_UNIT_NAME", "mysql/1"),
            ("JUJU_SIM_MACHINE_DIR", "/model/machines/1"),
            ("JUJU_SIM_MODEL_DIR", "/model"),
            ("JUJU_SIM_WORKLOAD", "mariadb"),
        ]));
        assert!(
            matches!(&mariadb, Some(TestWorkload::MariaDb(w)) if w.unit() == "mysql/1"),
            "{mariadb:?}"
        );
    }

    #[test]
    fn outside_the_emulator_there_is_no_test_workload() {
        let outside = TestWorkload::from_hook_env(env(&[
            ("JUJU_UNIT_NAME", "mysql/1"),
            ("JUJU_SIM_WORKLOAD", "mariadb"),
        ]));
        assert!(outside.is_none(), "{outside:?}");
    }
}
