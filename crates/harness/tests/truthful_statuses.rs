//! What the application status says between the operator's steps is true then, and names
//! only a command that works then.

use juju_upgrade::{messages, CharmVersions, Event, Status, StatusKind};
use juju_upgrade_harness::cluster::Cluster;
use juju_upgrade_harness::fixtures::UPGRADE_REVISION;

#[test]
fn after_pre_upgrade_check_and_before_the_refresh_the_status_names_the_refresh_not_a_rollback() {
    let mut cluster = Cluster::builder(3).charm_versions(true).deploy();
    cluster.settle();
    assert_eq!(cluster.app_status, Some(Status::active("")));
    assert!(cluster
        .run_action(0, Event::PreUpgradeCheck)
        .failed
        .is_none());
    cluster.settle();
    let prepared = Status::active(messages::prepared_app(
        "mysql",
        Some(&CharmVersions::new("42", "8.0.33")),
    ));
    assert_eq!(cluster.app_status, Some(prepared.clone()));
    assert_eq!(
        prepared.message,
        "Upgrade prepared: start it with `juju refresh mysql --revision=<new revision>`"
    );
    // Once the refresh lands, the upgrade is under way and can be rolled back.
    cluster.refresh(UPGRADE_REVISION);
    assert!(cluster.run_until(|c| c
        .app_status
        .as_ref()
        .is_some_and(|s| s.kind == StatusKind::Maintenance)));
    assert_eq!(
        cluster.app_status,
        Some(Status::maintenance(messages::upgrading_app(
            "juju refresh mysql --revision=42"
        )))
    );
    cluster.settle();
    assert_eq!(cluster.healthy_at(UPGRADE_REVISION), Ok(()));
    assert_eq!(cluster.app_status, Some(Status::active("")));
}

#[test]
fn a_charm_deployed_from_a_file_is_told_to_refresh_from_a_file() {
    let local = CharmVersions::new("local:mysql-1", "8.0.33");
    assert_eq!(
        messages::prepared_app("mysql", Some(&local)),
        "Upgrade prepared: start it with `juju refresh mysql --path=<new charm file>`"
    );
}
