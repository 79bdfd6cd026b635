//! A hostile or buggy peer writes garbage into the peer relation in the middle of an upgrade
//! or a rollback. Whatever it writes and whenever: no panic, no unit upgrades out of turn or
//! together with another, no non-leader writes the app bag, and every unit that cannot read
//! the data says so in a blocked status that names the problem.

use juju_upgrade::wire::{DEPENDENCIES_KEY, ROUND_KEY, STACK_KEY, STATE_KEY};
use juju_upgrade::{messages, StatusKind};
use juju_upgrade_harness::cluster::{Cluster, Source};
use juju_upgrade_harness::fixtures::{howto_revisions, ORIGINAL_REVISION, UPGRADE_REVISION};
use proptest::prelude::*;

fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just("upgrayding".to_owned()),
        Just("[0, 1, 1]".to_owned()),
        Just("[0, 1, -3]".to_owned()),
        Just("{\"snap\": {\"version\": \"8.0\"}}".to_owned()),
        Just("two".to_owned()),
        Just(String::new()),
        "\\[[0-9, ]{0,12}\\]",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn garbage_in_the_peer_relation_mid_upgrade_is_refused_not_acted_on(
        count in 2u32..=4,
        choices in prop::collection::vec(any::<u32>(), 0..400),
        tamper_after in 0usize..60,
        in_app_bag in any::<bool>(),
        writer in 0u32..4,
        key in prop::sample::select(vec![STATE_KEY, STACK_KEY, DEPENDENCIES_KEY, ROUND_KEY, "charm-versions", "upgrade-target"]),
        value in garbage(),
        fail_first in any::<bool>(),
    ) {
        let mut cluster = Cluster::deploy(count, 0, &howto_revisions(), ORIGINAL_REVISION);
        cluster.keep_logs = false;
        cluster.settle();
        prop_assert_eq!(cluster.run_pre_upgrade_check(0).failed, None);
        if fail_first {
            cluster.fail_upgrade_calls([0]);
        }
        cluster.refresh(UPGRADE_REVISION);
        let mut choices = choices.into_iter();
        // Run some hooks, then tamper, then let everything run.
        for _ in 0..tamper_after {
            let busy = cluster.busy_units();
            let ready = cluster.ready_units();
            let options: Vec<(bool, u32)> = busy.iter().map(|&u| (false, u))
                .chain(ready.iter().map(|&u| (true, u))).collect();
            if options.is_empty() {
                break;
            }
            let (begin, unit) = options[choices.next().unwrap_or(0) as usize % options.len()];
            if begin { cluster.begin(unit); } else { cluster.commit(unit); }
        }
        let source = if in_app_bag { Source::App } else { Source::Unit(writer % count) };
        cluster.tamper(source, key, &value);
        cluster.settle_randomly(&mut choices);

        prop_assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
        for sim in cluster.units.values() {
            if let Some(status) = &sim.status {
                if status.kind == StatusKind::Blocked
                    && status.message.starts_with(messages::DATA_INVALID_PREFIX)
                {
                    prop_assert!(status.message.len() > messages::DATA_INVALID_PREFIX.len());
                }
            }
        }
    }
}
