//! Hook-tool calls of the real charm binary per hook, counted by the emulator's tools, on
//! hooks captured in a 3-unit upgrade and grown to 10 and 50 units (no timing is asserted).
//!
//! The charm reads its own bag and the application bag first and the other units' only when
//! the core needs them (`juju_upgrade::handle_own_and_app`): on the leader, in actions, and on
//! a unit that may act. Those come from the unit's peer cache (`mysql_charm::cache`) once a
//! first hook has read everyone, the unit the hook is about read again. So every captured
//! hook, the leader's and `pre-upgrade-check` included, makes the same calls on 3 and 50
//! units; with the cache dropped (a first hook), the leader reads one more bag per unit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use upgrade_bench::cases::HookCase;
use upgrade_bench::model::{upgraded_model, CharmKind, Charms};
use upgrade_bench::replay::Replay;
use upgrade_bench::synth::cache_disagreements;

struct Counted {
    calls: u64,
    tools: BTreeMap<String, u64>,
}

fn tool(tools: &BTreeMap<String, u64>, name: &str) -> u64 {
    tools.get(name).copied().unwrap_or(0)
}

/// A hook as captured (with the peer cache it started with) or with the cache dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cache {
    AsCaptured,
    Dropped,
}

type Counts = BTreeMap<(HookCase, usize, Cache), Counted>;

/// Sizes counted with the peer cache as captured, and with it dropped.
const WARM_SIZES: [usize; 2] = [3, 50];
const COLD_SIZES: [usize; 2] = [3, 10];

/// Calls per case, from one captured 3-unit upgrade of the Rust charm (shared by the tests
/// of this file).
fn counted() -> &'static Counts {
    static COUNTED: OnceLock<Counts> = OnceLock::new();
    COUNTED.get_or_init(|| count(CharmKind::Rust))
}

/// The same for the Python ops floor.
fn counted_python() -> &'static Counts {
    static COUNTED: OnceLock<Counts> = OnceLock::new();
    COUNTED.get_or_init(|| count(CharmKind::Python))
}

/// The venv with PyPI `ops` that `scripts/test` makes (`OPS_VENV`), else the repository's.
fn ops_venv() -> PathBuf {
    let venv = std::env::var_os("OPS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    assert!(
        venv.join("bin/python").exists(),
        "no Python venv with ops at {}: run `bash scripts/python-venv` or set OPS_VENV",
        venv.display()
    );
    venv
}

fn count(kind: CharmKind) -> Counts {
    let work = tempfile::tempdir().expect("work dir");
    let charm = PathBuf::from(env!("CARGO_BIN_EXE_bench-mysql-charm"));
    let hook_tools = PathBuf::from(env!("CARGO_BIN_EXE_bench-hook-tools"));
    let launcher = PathBuf::from(env!("CARGO_BIN_EXE_bench-launch"));
    let venv = (kind == CharmKind::Python).then(ops_venv);
    let charms = Charms::pack(&charm, work.path(), venv).expect("packed charms");
    let (model, _) = upgraded_model(kind, 3, &charms, &hook_tools).expect("a 3-unit upgrade");
    let captures = model.captures();
    let mut counted = BTreeMap::new();
    for case in HookCase::ALL {
        let capture = case
            .pick(&captures)
            .unwrap_or_else(|| panic!("no {} captured", case.label()));
        let disagreements = cache_disagreements(&capture.peer_cache, &capture.before)
            .expect("the captured cache read");
        assert!(
            disagreements.is_empty(),
            "{:?} {}: the peer cache it started with is not what Juju showed it: {disagreements:?}",
            kind,
            case.label()
        );
        let runs = WARM_SIZES
            .iter()
            .map(|&units| (units, Cache::AsCaptured))
            .chain(COLD_SIZES.iter().map(|&units| (units, Cache::Dropped)));
        for (units, cache) in runs {
            let replay = Replay::new(capture, units, &launcher).expect("replay");
            if cache == Cache::AsCaptured && case.on_leader() {
                assert!(
                    replay.has_peer_cache(),
                    "{kind:?} {}: the leader keeps a peer cache",
                    case.label()
                );
            }
            let replay = match cache {
                Cache::AsCaptured => replay,
                Cache::Dropped => replay.without_peer_cache(),
            };
            let (tools, measured) = replay.run_logged().expect("the hook ran");
            assert_eq!(
                tools.values().sum::<u64>(),
                measured.tool_calls,
                "the tool log and the context's count agree for {}",
                case.label()
            );
            counted.insert(
                (case, units, cache),
                Counted {
                    calls: measured.tool_calls,
                    tools,
                },
            );
        }
    }
    counted
}

#[test]
fn every_bag_is_read_at_most_once_and_writes_go_in_one_call_per_bag() {
    let counted = counted();
    for ((case, units, cache), count) in counted {
        let label = format!(
            "{} on {units} units ({cache:?}): {:?}",
            case.label(),
            count.tools
        );
        let units = *units as u64;
        assert!(
            tool(&count.tools, "relation-get") <= units + 1,
            "each unit's bag and the application bag once at most: {label}"
        );
        assert!(
            tool(&count.tools, "relation-set") <= 2,
            "one relation-set per bag at most: {label}"
        );
        assert_eq!(tool(&count.tools, "relation-list"), 1, "{label}");
        assert_eq!(tool(&count.tools, "is-leader"), 1, "{label}");
        assert!(tool(&count.tools, "relation-ids") <= 1, "{label}");
    }
    // Every upgrade hook writes: upgrade-charm its state (the leader the app bag too), the
    // action the stack.
    for case in [
        HookCase::UpgradeCharm { leader: false },
        HookCase::UpgradeCharm { leader: true },
        HookCase::PreUpgradeCheck,
    ] {
        assert!(
            tool(
                &counted[&(case, 3, Cache::AsCaptured)].tools,
                "relation-set"
            ) >= 1,
            "{case:?}"
        );
    }
}

#[test]
fn a_non_leader_waiting_its_turn_makes_the_same_calls_whatever_the_number_of_units() {
    let counted = counted();
    for case in HookCase::ALL.into_iter().filter(|case| !case.on_leader()) {
        let (small, large) = (
            &counted[&(case, 3, Cache::Dropped)],
            &counted[&(case, 10, Cache::Dropped)],
        );
        assert_eq!(
            small.tools,
            large.tools,
            "{}: 3 units {} calls, 10 units {}",
            case.label(),
            small.calls,
            large.calls
        );
        assert_eq!(
            tool(&large.tools, "relation-get"),
            2,
            "its own bag and the application bag: {}",
            case.label()
        );
        assert_eq!(tool(&large.tools, "goal-state"), 0, "{}", case.label());
    }
}

#[test]
fn once_its_cache_is_warm_the_leader_makes_the_same_calls_on_3_and_50_units() {
    let counted = counted();
    for case in HookCase::ALL {
        let (small, large) = (
            &counted[&(case, 3, Cache::AsCaptured)],
            &counted[&(case, 50, Cache::AsCaptured)],
        );
        assert_eq!(
            small.tools,
            large.tools,
            "{}: 3 units {} calls, 50 units {}",
            case.label(),
            small.calls,
            large.calls
        );
        assert!(
            tool(&large.tools, "relation-get") <= 3,
            "its own bag, the application bag and the unit the hook is about at most: {} {:?}",
            case.label(),
            large.tools
        );
    }
}

#[test]
fn without_its_cache_the_leader_reads_one_more_bag_per_added_unit_and_nothing_else_grows() {
    let counted = counted();
    for case in HookCase::ALL.into_iter().filter(|case| case.on_leader()) {
        let (small, large) = (
            &counted[&(case, 3, Cache::Dropped)],
            &counted[&(case, 10, Cache::Dropped)],
        );
        assert_eq!(
            tool(&large.tools, "relation-get") - tool(&small.tools, "relation-get"),
            7,
            "{}: {:?} -> {:?}",
            case.label(),
            small.tools,
            large.tools
        );
        assert_eq!(large.calls - small.calls, 7, "{}", case.label());
    }
}

/// The Python floor is a fair floor only if it reads the peer relation as the Rust charm
/// does: on every hook, the same bags (`relation-get` calls), with the cache as captured on
/// 3 and 50 units and without it on 3 and 10.
#[test]
fn the_python_floor_reads_the_same_bags_as_the_rust_charm() {
    let (rust, python) = (counted(), counted_python());
    for &key in rust.keys() {
        let (case, units, cache) = key;
        {
            let (r, p) = (&rust[&key], &python[&key]);
            assert_eq!(
                tool(&p.tools, "relation-get"),
                tool(&r.tools, "relation-get"),
                "{} on {units} units ({cache:?}): Rust {:?}, Python {:?}",
                case.label(),
                r.tools,
                p.tools
            );
        }
    }
}
