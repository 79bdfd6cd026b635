//! The example charm end to end on juju-sim: packed as `cargo xtask pack --charm minimal`
//! packs it, three units, each with entries in its kv store. An upgrade to kv 1.1.0; a refresh
//! back to 1.0.0 afterwards, which the dependency model refuses; and the operator's how-to:
//! an upgrade whose first unit fails, then `pre-upgrade-check` and `juju refresh` back.

use std::path::{Path, PathBuf};

use juju_sim::engine::{Engine, EngineOptions, Source};
use juju_sim::model::TaskStatus;
use minimal_charm::kv::{KvStore, Workload};
use xtask::minimal::{pack, MinimalOverrides};

const APP: &str = "minimal-kv";
const UNITS: [&str; 3] = ["minimal-kv/0", "minimal-kv/1", "minimal-kv/2"];
/// The default stack puts the leader (unit 0) at the bottom: the highest number goes first.
const FIRST_TO_UPGRADE: &str = "minimal-kv/2";

/// Revision 1 (kv 1.0.0, upgrades only from 1.0.x) and revision 2 (kv 1.1.0, from any 1.x).
fn charms(dir: &Path) -> (PathBuf, PathBuf) {
    let binary = Path::new(env!("CARGO_BIN_EXE_minimal-charm"));
    let revision = |version: &str, range: &str| {
        let out = dir.join(version).join(xtask::minimal::CHARM_FILE_NAME);
        let overrides = MinimalOverrides {
            kv_version: Some(version.into()),
            upgrade_supported: Some(range.into()),
        };
        pack(binary, &overrides, &out).expect("packed");
        out
    };
    (revision("1.0.0", "~1.0"), revision("1.1.0", "^1.0"))
}

struct Model {
    _root: tempfile::TempDir,
    engine: Engine,
}

impl Model {
    /// Three units on revision 1, each storing `unit` = its name; revision 2 in the store.
    fn deploy(seed: u64) -> Model {
        let root = tempfile::tempdir().unwrap();
        let (old, new) = charms(root.path());
        let options = EngineOptions {
            tool_binary: Some(env!("CARGO_BIN_EXE_minimal-charm-hook-tools").into()),
            seed,
            ..EngineOptions::default()
        };
        let mut engine = Engine::open(root.path().join("model"), options).unwrap();
        engine.deploy(&old, APP, UNITS.len(), Some(1)).unwrap();
        engine.add_charm(&new, Some(2)).unwrap();
        let mut model = Model {
            _root: root,
            engine,
        };
        model.settle();
        for unit in UNITS {
            model.kv(unit).put("unit", unit).unwrap();
        }
        model
    }

    fn kv(&self, unit: &str) -> KvStore {
        KvStore::new(self.engine.machine_dir(unit).unwrap().join("kv"))
    }

    fn settle(&mut self) {
        self.engine.settle().expect("the model settles");
        assert!(
            self.engine.errors().is_empty(),
            "{:?}",
            self.engine.errors()
        );
    }

    fn run(&mut self, target: &str, action: &str) -> juju_sim::model::Task {
        let id = self
            .engine
            .run_action(target, action, serde_json::Map::new())
            .unwrap();
        self.settle();
        self.engine.task(id).unwrap().clone()
    }

    fn refresh(&mut self, revision: u64) {
        self.engine
            .refresh(APP, Source::Revision(revision))
            .unwrap();
        self.settle();
    }

    /// (workload status, message) of `unit`.
    fn status(&self, unit: &str) -> (String, String) {
        let report = self.engine.status();
        let status = &report.applications[APP].units[unit].workload_status;
        (status.current.clone(), status.message.clone())
    }

    fn installed(&self) -> Vec<String> {
        UNITS
            .iter()
            .map(|unit| self.kv(unit).installed().unwrap())
            .collect()
    }

    /// Every unit active, serving `version` with its entry, and no stack (or an empty one).
    fn assert_all_on(&self, version: &str) {
        for unit in UNITS {
            assert_eq!(
                self.status(unit),
                ("active".into(), String::new()),
                "{unit}"
            );
            let kv = self.kv(unit);
            assert_eq!(kv.serving().unwrap().as_deref(), Some(version), "{unit}");
            assert_eq!(kv.get("unit").unwrap().as_deref(), Some(unit), "{unit}");
        }
        let bag = self.engine.app_bag(APP, "upgrade").unwrap();
        let stack = bag.get("upgrade-stack").map(String::as_str);
        assert!(matches!(stack, None | Some("[]")), "stack {stack:?}");
    }
}

#[test]
fn an_upgrade_goes_unit_by_unit_and_a_downgrade_after_it_is_refused() {
    let mut model = Model::deploy(1);
    model.assert_all_on("1.0.0");

    let check = model.run(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(check.status, TaskStatus::Completed, "{check:?}");
    model.refresh(2);
    model.assert_all_on("1.1.0");
    // One at a time, the highest number first, the leader last.
    let upgraded: Vec<String> = model
        .engine
        .log_entries()
        .unwrap()
        .into_iter()
        .filter(|entry| {
            entry
                .message
                .ends_with("upgraded and healthy, setting state completed")
        })
        .filter_map(|entry| entry.unit)
        .collect();
    assert_eq!(upgraded, ["minimal-kv/2", "minimal-kv/1", "minimal-kv/0"]);
    let report = model.engine.status();
    for unit in UNITS {
        assert_eq!(
            report.applications[APP].units[unit].workload_version,
            "1.1.0"
        );
    }

    // Revision 1 upgrades only from 1.0.x: the leader refuses it before any unit is touched.
    let check = model.run(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(check.status, TaskStatus::Completed, "{check:?}");
    model.refresh(1);
    assert_eq!(model.installed(), ["1.1.0", "1.1.0", "1.1.0"]);
    let (leader_status, message) = model.status("minimal-kv/0");
    assert_eq!(leader_status, "blocked", "{message}");
    // As in v0: the leader's version check fails the leader, and the operator refreshes back.
    assert_eq!(
        message,
        "upgrade failed. Check logs for rollback instruction"
    );
    let log = model.engine.log_entries().unwrap();
    assert!(
        log.iter().any(|entry| entry
            .message
            .contains("kv 1.1.0 can not be upgraded to 1.0.0")),
        "the leader logs why the refresh is refused"
    );
}

#[test]
fn the_first_unit_fails_and_the_how_to_rolls_the_application_back() {
    let mut model = Model::deploy(2);
    model
        .kv(FIRST_TO_UPGRADE)
        .arm_start_failure("1.1.0")
        .unwrap();

    let check = model.run(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(check.status, TaskStatus::Completed, "{check:?}");
    model.refresh(2);
    assert_eq!(
        model.status(FIRST_TO_UPGRADE),
        (
            "blocked".into(),
            "upgrade failed. Check logs for rollback instruction".into()
        )
    );
    // Nothing else moved: the other units still serve 1.0.0.
    for unit in ["minimal-kv/0", "minimal-kv/1"] {
        assert_eq!(model.kv(unit).serving().unwrap().as_deref(), Some("1.0.0"));
    }
    assert_eq!(model.kv(FIRST_TO_UPGRADE).serving().unwrap(), None);

    // The how-to: enter recovery, refresh back to the previous revision, check the status.
    let recover = model.run(&format!("{APP}/leader"), "pre-upgrade-check");
    assert_eq!(recover.status, TaskStatus::Completed, "{recover:?}");
    model.refresh(1);
    model.assert_all_on("1.0.0");
    assert_eq!(model.installed(), ["1.0.0", "1.0.0", "1.0.0"]);
}
