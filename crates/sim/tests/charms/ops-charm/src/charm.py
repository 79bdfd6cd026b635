#!/usr/bin/env python3
"""A small ops charm that exercises juju-sim's hook tools the way ops uses them.

Every hook: reads its config, publishes its greeting and an event counter in its
peer unit bag (and, as leader, its name in the peer application bag), and sets
its unit status (and, as leader, the application status). `install` also sets
a maintenance status and the workload version. The `greet` action reads its
params, logs progress, and sets results or fails. Stored state lives in Juju's
charm state (state-get/state-set), so those tools are exercised too.
"""

import logging

import ops

logger = logging.getLogger(__name__)

PEER = "replicas"
WORKLOAD_VERSION = "1.2.3"


class OpsSimTestCharm(ops.CharmBase):
    """The test charm."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(events=0)
        hooks = [
            self.on.install,
            self.on.config_changed,
            self.on.start,
            self.on.leader_elected,
            self.on.update_status,
            self.on.upgrade_charm,
            self.on[PEER].relation_created,
            self.on[PEER].relation_joined,
            self.on[PEER].relation_changed,
            self.on[PEER].relation_departed,
        ]
        for hook in hooks:
            framework.observe(hook, self._on_hook)
        framework.observe(self.on.greet_action, self._on_greet)

    def _on_hook(self, event: ops.EventBase) -> None:
        self._stored.events += 1
        if isinstance(event, ops.InstallEvent):
            self.unit.status = ops.MaintenanceStatus("installing")
            self.unit.set_workload_version(WORKLOAD_VERSION)

        greeting = self.config["greeting"]
        peers = self.model.get_relation(PEER)
        peer_names = []
        if peers is not None:
            peers.data[self.unit]["greeting"] = greeting
            peers.data[self.unit]["events"] = str(self._stored.events)
            if self.unit.is_leader():
                peers.data[self.app]["leader"] = self.unit.name
            peer_names = sorted(unit.name for unit in peers.units)
            for name in peer_names:
                unit = self.model.get_unit(name)
                logger.info("peer %s says %s", name, peers.data[unit].get("greeting"))

        self.unit.status = ops.ActiveStatus(f"{greeting} from {self.unit.name} with {len(peer_names)} peers")
        if self.unit.is_leader():
            self.app.status = ops.ActiveStatus(f"led by {self.unit.name}")
        logger.info("handled %s (event %d)", type(event).__name__, self._stored.events)
        if self.config["fail-hooks"]:
            raise RuntimeError("fail-hooks is set")

    def _on_greet(self, event: ops.ActionEvent) -> None:
        name = event.params["name"]
        event.log(f"greeting {name}")
        if event.params["fail"]:
            event.fail(f"asked not to greet {name}")
            return
        peers = self.model.get_relation(PEER)
        leader = self.unit.is_leader()
        results = {
            "greeting": f"{self.config['greeting']}, {name}!",
            "peers": len(peers.units) if peers is not None else 0,
            "leader": leader,
            "unit-status": self.unit.status.message,
            "planned-units": self.app.planned_units(),
            "stored-events": self._stored.events,
        }
        if leader:
            results["app"] = {
                "status": self.app.status.name,
                "leader-in-peer-data": peers.data[self.app].get("leader", "") if peers else "",
            }
        event.set_results(results)


if __name__ == "__main__":
    ops.main(OpsSimTestCharm, use_juju_for_storage=True)
