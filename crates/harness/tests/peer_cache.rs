//! The charm's peer cache in the cluster: once a unit has read everyone, its hooks read
//! only the unit they are about, and every change the cache could miss costs one full read;
//! a whole upgrade with the cache's faults ends healthy with no violation.

use juju_upgrade_harness::cluster::{Cluster, Hook, Source};
use juju_upgrade_harness::fixtures::{howto_revisions, ORIGINAL_REVISION, UPGRADE_REVISION};

fn deployed(count: u32) -> Cluster {
    let mut cluster = Cluster::deploy(count, 0, &howto_revisions(), ORIGINAL_REVISION);
    cluster.settle();
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
    cluster
}

/// The other units' bags `unit`'s next hook reads, counted.
fn reads_of_next_hook(cluster: &mut Cluster, unit: u32) -> u64 {
    let before = cluster.peer_reads.bags;
    cluster.run_next(unit);
    cluster.peer_reads.bags - before - 2
}

#[test]
fn the_leader_keeps_a_cache_and_reads_only_the_unit_its_hook_is_about() {
    let mut cluster = deployed(5);
    assert!(cluster.units[&0].charm_cache.file.is_some(), "the leader's");
    assert!(
        cluster.units[&3].charm_cache.file.is_none(),
        "a non-leader decided from two bags keeps none"
    );
    cluster.tamper(Source::Unit(3), "note", "x");
    assert_eq!(
        cluster.next_hook(0),
        Some(Hook::RelationChanged(Source::Unit(3)))
    );
    assert_eq!(reads_of_next_hook(&mut cluster, 0), 1, "mysql/3's bag only");
    let action = cluster.peer_reads.bags;
    assert_eq!(cluster.run_pre_upgrade_check(0).failed, None);
    assert_eq!(
        cluster.peer_reads.bags - action,
        2,
        "pre-upgrade-check: own and app bags"
    );
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

#[test]
fn an_agent_killed_before_the_cache_write_leaves_none_and_the_next_hook_reads_everyone() {
    let mut cluster = deployed(4);
    cluster.tamper(Source::Unit(2), "note", "x");
    assert!(cluster.begin(0));
    cluster.kill_agent_before_cache_write(0);
    assert!(cluster.units[&0].charm_cache.file.is_none());
    assert_eq!(
        reads_of_next_hook(&mut cluster, 0),
        3,
        "the re-run reads everyone"
    );
    assert!(cluster.units[&0].charm_cache.file.is_some());
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

#[test]
fn an_agent_killed_after_the_cache_write_keeps_a_cache_that_tells_the_truth() {
    let mut cluster = deployed(4);
    cluster.tamper(Source::Unit(2), "note", "x");
    assert!(cluster.begin(0));
    cluster.kill_agent(0);
    assert!(cluster.units[&0].charm_cache.file.is_some());
    assert_eq!(
        reads_of_next_hook(&mut cluster, 0),
        1,
        "the re-run reads mysql/2"
    );
    cluster.settle();
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
}

#[test]
fn leadership_away_and_back_and_a_rejoined_number_cost_one_full_read() {
    let mut cluster = deployed(4);
    cluster.move_leader_and_back(2);
    assert_eq!(cluster.next_hook(0), Some(Hook::LeaderElected));
    assert_eq!(reads_of_next_hook(&mut cluster, 0), 3);
    cluster.settle();

    cluster.rejoin_unit(3);
    assert_eq!(cluster.next_hook(0), Some(Hook::RelationDeparted(3)));
    cluster.run_next(0);
    assert_eq!(cluster.next_hook(0), Some(Hook::RelationJoined(3)));
    cluster.run_next(0);
    assert!(
        cluster.units[&0].charm_cache.file.is_none(),
        "joined dropped it"
    );
    cluster.settle();
    assert!(cluster.violations.is_empty(), "{:?}", cluster.violations);
    assert_eq!(cluster.run_pre_upgrade_check(0).failed, None);
    cluster.settle();
    cluster.refresh(UPGRADE_REVISION);
    cluster.settle();
    assert_eq!(cluster.healthy_at(UPGRADE_REVISION), Ok(()));
}

#[test]
fn a_whole_upgrade_reads_at_most_three_bags_per_hook() {
    let mut cluster = deployed(8);
    assert_eq!(cluster.run_pre_upgrade_check(0).failed, None);
    cluster.settle();
    cluster.refresh(UPGRADE_REVISION);
    let before = cluster.peer_reads;
    cluster.settle();
    assert_eq!(cluster.healthy_at(UPGRADE_REVISION), Ok(()));
    let hooks = cluster.peer_reads.hooks - before.hooks;
    let bags = cluster.peer_reads.bags - before.bags;
    assert!(
        bags <= 3 * hooks,
        "{bags} bags read in {hooks} hooks ({:?})",
        cluster.peer_reads
    );
}

/// Random walks of 3 units with only the cache's faults, up to 6 of them. Seeds 642 and 3328
/// retry a `-joined` whose agent was killed after its unit was removed and a new one joined
/// with the same number: the retry must not consume the newer unit's `-joined`, or a member
/// goes missing (a stack without it, two workloads changed together).
#[test]
fn walks_with_many_cache_faults_find_nothing() {
    use juju_upgrade_harness::explore::{walk, Config, Faults};
    let mut config = Config::new(3);
    config.vary = true;
    config.max_faults = 6;
    config.fault_percent = 10;
    config.faults = Faults::parse("cache").expect("fault kinds");
    for seed in [642, 3328].into_iter().chain(0..200) {
        let walked = walk(&config, seed);
        assert!(
            walked.violations.is_empty(),
            "seed {seed}: {:?}",
            walked.violations
        );
    }
}
