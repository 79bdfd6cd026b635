"""The how-to's rollback watched the way an operator watches it: `juju status` polled
while the model's agents work in the background. Units roll back one at a time, the failed
one first, and their intermediate statuses (`stopping services..`, `starting services...`,
...) show as they are set.

The model runs with background agents (`juju-sim-agents=background`), each `status-set`
followed by a pause (`juju-sim-status-set-delay`), so a status stays up long enough for a
poll to see it, as on a real model where every step takes seconds. Operations follow each
other without a pause, so an agent is idle between them only for an instant and
`all_agents_idle` seen five times in a row means settled. The assertions count what was
seen; no timing is asserted."""

from __future__ import annotations

import json
import time

import jubilant

from conftest import NEW_VERSION, OLD_REVISION, model_dir

APP = "mysql"
UPGRADE_FAILED = "upgrade failed. Check logs for rollback instruction"
# What a unit shows while it upgrades or rolls back (the charm's status policy).
BUSY = {
    "stopping services..",
    "upgrading snap...",
    "starting services...",
    "recovering unit after upgrade",
}
PACED = {"juju-sim-agents": "background", "juju-sim-status-set-delay": "300ms"}


def settled(juju: jubilant.Juju) -> jubilant.Status:
    """Waits until every agent is idle (commands return before the agents finish)."""
    return juju.wait(jubilant.all_agents_idle, delay=0.2, successes=5, timeout=600)


def test_units_roll_back_one_at_a_time_with_their_statuses(mysql_charms):
    with jubilant.temp_model(config=PACED) as juju:
        juju.deploy(mysql_charms["old"], APP, num_units=3, revision=OLD_REVISION)
        juju.wait(jubilant.all_active, error=jubilant.any_error, delay=0.2, timeout=600)
        # Active is not settled: the units may still be joining their peers, and a
        # pre-upgrade-check before that prepares a cluster that is not whole yet.
        settled(juju)
        juju.run(f"{APP}/leader", "pre-upgrade-check")
        settled(juju)
        faults = {"faults": [{"kind": "start-fails", "version": NEW_VERSION}]}
        (model_dir(juju) / "mysql-faults.json").write_text(json.dumps(faults))
        juju.refresh(APP, path=mysql_charms["new"])
        status = juju.wait(
            lambda s: any(
                u.workload_status.message == UPGRADE_FAILED for u in s.apps[APP].units.values()
            ),
            delay=0.2,
            timeout=600,
        )
        status = settled(juju)
        (failed,) = [
            n for n, u in status.apps[APP].units.items() if u.workload_status.message == UPGRADE_FAILED
        ]
        juju.run(f"{APP}/leader", "pre-upgrade-check")
        settled(juju)

        juju.refresh(APP, revision=OLD_REVISION)
        snapshots: list[dict[str, tuple[str, str]]] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = juju.status()
            snapshot = {
                name: (unit.workload_status.current, unit.workload_status.message)
                for name, unit in status.apps[APP].units.items()
            }
            if not snapshots or snapshots[-1] != snapshot:
                snapshots.append(snapshot)
            if jubilant.all_active(status) and jubilant.all_agents_idle(status):
                break
            time.sleep(0.02)
        assert jubilant.all_active(status), snapshots[-1]

    busy_seen = {message for s in snapshots for (_, message) in s.values() if message in BUSY}
    busy_units = [{n for n, (_, m) in s.items() if m in BUSY} for s in snapshots]
    # One unit at a time: never two units busy in the same status.
    assert all(len(units) <= 1 for units in busy_units), snapshots
    # Each unit was seen busy, the failed one first.
    order: list[str] = []
    for units in busy_units:
        for name in units:
            if name not in order:
                order.append(name)
    assert order[0] == failed, (order, snapshots)
    assert sorted(order) == sorted(status.apps[APP].units), (order, snapshots)
    # The intermediate statuses showed as they were set.
    assert {"stopping services..", "starting services..."} <= busy_seen, busy_seen
