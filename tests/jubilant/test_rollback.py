"""The operator how-to *Roll back a single cluster*, as a charm author writes it with
jubilant against juju-sim: deploy three units of revision 182, prepare and refresh to a new
revision whose MySQL fails to start on the first unit that upgrades, see that unit blocked,
then the how-to's rollback (`run mysql/leader pre-upgrade-check`, `refresh mysql
--revision=182`) until every unit is active again on MySQL 8.0.33."""

from __future__ import annotations

import json

import jubilant

from conftest import NEW_VERSION, OLD_REVISION, OLD_VERSION, model_dir

APP = "mysql"
UPGRADE_FAILED = "upgrade failed. Check logs for rollback instruction"
READY_TO_ROLLBACK = "ready to rollback application"


def leader(status: jubilant.Status) -> str:
    (name,) = [n for n, u in status.apps[APP].units.items() if u.leader]
    return name


def blocked_units(status: jubilant.Status) -> list[str]:
    return [
        name
        for name, unit in status.apps[APP].units.items()
        if (unit.workload_status.current, unit.workload_status.message)
        == ("blocked", UPGRADE_FAILED)
    ]


def test_roll_back_a_single_cluster(juju: jubilant.Juju, mysql_charms):
    juju.deploy(mysql_charms["old"], APP, num_units=3, revision=OLD_REVISION)
    status = juju.wait(jubilant.all_active, error=jubilant.any_error, delay=0.2)
    assert status.apps[APP].charm_rev == OLD_REVISION
    assert status.apps[APP].charm_origin == "local"
    assert len(status.machines) == 3

    # Upgrade, step 1: prepare; the leader becomes the primary, to upgrade last.
    task = juju.run(f"{APP}/leader", "pre-upgrade-check")
    assert task.success, task

    # The new revision's MySQL fails to start (an emulator fault armed in the model).
    faults = {"faults": [{"kind": "start-fails", "version": NEW_VERSION}]}
    (model_dir(juju) / "mysql-faults.json").write_text(json.dumps(faults))
    juju.refresh(APP, path=mysql_charms["new"])
    status = juju.wait(lambda s: len(blocked_units(s)) == 1, delay=0.2)
    (failed,) = blocked_units(status)
    others = [n for n in status.apps[APP].units if n != failed]
    assert all(status.apps[APP].units[n].workload_status.current != "blocked" for n in others)
    assert f"{failed}" in juju.debug_log(limit=0)

    # Roll back, step 1: prepare (enter the recovery state).
    task = juju.run(f"{APP}/leader", "pre-upgrade-check")
    assert task.success, task
    status = juju.status()
    head = status.apps[APP].units[leader(status)].workload_status
    assert (head.current, head.message) == ("blocked", READY_TO_ROLLBACK)

    # Roll back, step 2: refresh back to revision 182.
    juju.refresh(APP, revision=OLD_REVISION)

    # Roll back, step 3: check.
    status = juju.wait(jubilant.all_active, error=jubilant.any_error, delay=0.2)
    assert status.apps[APP].charm_rev == OLD_REVISION
    for name in status.apps[APP].units:
        unit = juju.show_unit(name)
        assert unit.workload_version == OLD_VERSION, (name, unit)
        assert unit.charm == f"local:{APP}-{OLD_REVISION}"
