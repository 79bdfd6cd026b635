//! The explorer on the example charm: its own `KvHooks` (pre-upgrade check, default stack
//! order, unit upgrade) over an in-memory kv, through every order of hooks with faults
//! (`juju_upgrade_harness::author`). The figures are printed; the test command shows them.

use std::sync::Arc;

use juju_upgrade::{ClusterNotReady, DependencyModel, PeerSnapshot, UpgradeFailed, UpgradeHooks};
use juju_upgrade_harness::author::{
    explore_charm, walk_charm, CharmRevisions, ExploreError, ExploredCharm, Plan, UnitTurn,
};
use juju_upgrade_harness::cluster::Revision;
use minimal_charm::charm::KvHooks;
use minimal_charm::kv::{data_format, KvError, Workload};

/// A start that fails: the version is installed but does not serve.
const START_FAILS: &str = "start-fails";
/// A start that succeeds but whose health check then fails.
const UNHEALTHY: &str = "health-check-fails";

/// kv in memory, with the file store's rules: a healthy unit's state is its version; data
/// written by a newer major refuses an older one.
struct MemoryKv<'a> {
    state: &'a mut String,
    fault: Option<&'a str>,
}

impl Workload for MemoryKv<'_> {
    fn installed(&self) -> Result<String, KvError> {
        let version = self.state.split(' ').next().unwrap_or_default();
        data_format(version)
            .map(|_| version.to_owned())
            .map_err(|_| KvError::NotInstalled)
    }

    fn install(&mut self, version: &str) -> Result<(), KvError> {
        let reads = data_format(version)?;
        if let Ok(found) = self.installed().and_then(|v| data_format(&v)) {
            if found > reads {
                return Err(KvError::DowngradeRefused {
                    version: version.into(),
                    reads,
                    found,
                });
            }
        }
        match self.fault {
            Some(START_FAILS) => {
                *self.state = format!("{version} stopped");
                Err(KvError::StartFailed(version.into()))
            }
            Some(UNHEALTHY) => {
                *self.state = format!("{version} unhealthy");
                Ok(())
            }
            _ => {
                *self.state = version.into();
                Ok(())
            }
        }
    }

    fn check_health(&self) -> Result<(), KvError> {
        match data_format(self.state) {
            Ok(_) => Ok(()),
            Err(_) => Err(KvError::NotServing),
        }
    }
}

/// The example charm as the explorer runs it.
struct Kv;

impl ExploredCharm for Kv {
    fn failure_modes(&self) -> Vec<String> {
        vec![START_FAILS.into(), UNHEALTHY.into()]
    }

    fn hooks<'a>(&'a self, turn: UnitTurn<'a>) -> Box<dyn UpgradeHooks + 'a> {
        Box::new(KvHooks {
            workload: MemoryKv {
                state: turn.workload,
                fault: turn.fault,
            },
            model: turn.model.clone(),
        })
    }
}

fn revision(version: &str, range: &str) -> Revision {
    let json = format!(
        r#"{{"kv": {{"dependencies": {{}}, "name": "kv", "upgrade_supported": "{range}", "version": "{version}"}}}}"#
    );
    Revision {
        model: DependencyModel::from_json(&json).expect("valid model"),
        workload: version.into(),
    }
}

/// kv 1.0.0 deployed, 1.1.0 the upgrade, 1.2.0 a second refresh: the example's ranges.
fn revisions() -> CharmRevisions {
    CharmRevisions {
        original: revision("1.0.0", "~1.0"),
        upgrade: revision("1.1.0", "^1.0"),
        second_refresh: revision("1.2.0", "^1.0"),
    }
}

/// The charm reports its versions, as the example does (`CharmVersions` in its glue).
fn plan() -> Plan {
    let mut plan = Plan::quick();
    plan.exhaustive.beyond_v0 = true;
    plan.random.beyond_v0 = true;
    plan
}

#[test]
fn the_example_charm_explored_with_faults_shows_no_violation() {
    let plan = plan();
    let reports = explore_charm(Arc::new(Kv), &revisions(), &plan).expect("explorable");
    assert_eq!(reports.len(), 2, "one report per failure mode");
    for report in &reports {
        for line in report.lines() {
            println!("{line}");
        }
        assert!(
            report.exhaustive.states > 1_000,
            "{}",
            report.exhaustive.closing_line()
        );
        assert!(
            !report.exhaustive.truncated,
            "{}",
            report.exhaustive.closing_line()
        );
        assert!(report.exhaustive.faults_injected > 0);
        assert_eq!(report.random.interleavings, 200);
        assert!(report.random.faults_injected > 0);
    }
    let violations: u64 = reports.iter().map(|r| r.violations()).sum();
    assert_eq!(violations, 0, "see the lines above");
}

/// A charm whose failure mode does not fail its upgrade cannot be explored: the searches would
/// never see the failure they script.
#[test]
fn a_failure_mode_the_charm_ignores_is_refused() {
    struct Ignores;
    impl ExploredCharm for Ignores {
        fn failure_modes(&self) -> Vec<String> {
            vec!["nothing".into()]
        }
        fn hooks<'a>(&'a self, turn: UnitTurn<'a>) -> Box<dyn UpgradeHooks + 'a> {
            Kv.hooks(UnitTurn {
                fault: None,
                ..turn
            })
        }
    }
    let err = explore_charm(Arc::new(Ignores), &revisions(), &plan()).unwrap_err();
    assert_eq!(err, ExploreError::FaultIgnored("nothing".into()));
}

/// A charm whose upgrade installs the wrong version is caught, with a seed that walks to it
/// again.
#[test]
fn a_broken_charm_is_caught_with_a_replayable_seed() {
    /// Installs the pin, except that every upgrade to 1.1.0 installs 1.0.0 and says it worked.
    struct WrongPin;
    impl ExploredCharm for WrongPin {
        fn failure_modes(&self) -> Vec<String> {
            vec![START_FAILS.into()]
        }
        fn hooks<'a>(&'a self, turn: UnitTurn<'a>) -> Box<dyn UpgradeHooks + 'a> {
            let model = if turn.pin == "1.1.0" && turn.fault.is_none() {
                revision("1.0.0", "^1.0").model
            } else {
                turn.model.clone()
            };
            Box::new(KvHooks {
                workload: MemoryKv {
                    state: turn.workload,
                    fault: turn.fault,
                },
                model,
            })
        }
    }
    let mut plan = plan();
    plan.seeds = 0..20;
    let reports = explore_charm(Arc::new(WrongPin), &revisions(), &plan).expect("explorable");
    let report = &reports[0];
    for line in report.lines() {
        println!("a charm that installs the wrong version: {line}");
    }
    assert!(report.violations() > 0);
    let found = report
        .random
        .examples
        .first()
        .expect("a random walk finds it too");
    let seed = found.seed.expect("a random walk names its seed");
    let again = walk_charm(
        Arc::new(WrongPin),
        START_FAILS,
        &revisions(),
        &plan.random,
        seed,
    );
    assert_eq!(again.trace, found.trace, "the seed walks the same steps");
    assert!(again
        .violations
        .iter()
        .any(|(message, _)| message == &found.message));
}

/// The author's hooks with their own stack order in place of the trait's default.
struct Ordered<H> {
    hooks: H,
    order: fn(&PeerSnapshot) -> Vec<u32>,
}

impl<H: UpgradeHooks> UpgradeHooks for Ordered<H> {
    fn dependency_model(&self) -> &DependencyModel {
        self.hooks.dependency_model()
    }
    fn pre_upgrade_check(&mut self, view: &PeerSnapshot) -> Result<(), ClusterNotReady> {
        self.hooks.pre_upgrade_check(view)
    }
    fn build_upgrade_stack(&mut self, view: &PeerSnapshot) -> Result<Vec<u32>, ClusterNotReady> {
        Ok((self.order)(view))
    }
    fn upgrade_unit(
        &mut self,
        view: &PeerSnapshot,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), UpgradeFailed> {
        self.hooks.upgrade_unit(view, progress)
    }
    fn workload_version(&mut self, view: &PeerSnapshot) -> Option<String> {
        self.hooks.workload_version(view)
    }
}

/// The example charm with a stack order of its author's choosing.
struct KvOrdered(fn(&PeerSnapshot) -> Vec<u32>);

impl ExploredCharm for KvOrdered {
    fn failure_modes(&self) -> Vec<String> {
        vec![START_FAILS.into()]
    }
    fn hooks<'a>(&'a self, turn: UnitTurn<'a>) -> Box<dyn UpgradeHooks + 'a> {
        let model = turn.model.clone();
        let workload = MemoryKv {
            state: turn.workload,
            fault: turn.fault,
        };
        Box::new(Ordered {
            hooks: KvHooks { workload, model },
            order: self.0,
        })
    }
}

/// The explorer runs the author's stack order: the leader first (a valid order, though not
/// v0's) passes; an order that leaves a unit out is caught.
#[test]
fn the_authors_stack_order_is_the_one_explored() {
    let mut plan = plan();
    plan.seeds = 0..50;
    let leader_first = |view: &PeerSnapshot| {
        let mut stack: Vec<u32> = view
            .app_units()
            .into_iter()
            .filter(|&unit| unit != view.unit)
            .collect();
        stack.push(view.unit);
        stack
    };
    let reports =
        explore_charm(Arc::new(KvOrdered(leader_first)), &revisions(), &plan).expect("explorable");
    for line in reports[0].lines() {
        println!("leader first: {line}");
    }
    assert_eq!(reports[0].violations(), 0);

    let without_the_leader = |view: &PeerSnapshot| {
        let all = view.app_units().into_iter();
        all.filter(|&unit| unit != view.unit).collect()
    };
    let reports = explore_charm(Arc::new(KvOrdered(without_the_leader)), &revisions(), &plan)
        .expect("explorable");
    for line in reports[0].lines() {
        println!("an order without the leader: {line}");
    }
    assert!(reports[0].violations() > 0);
}
