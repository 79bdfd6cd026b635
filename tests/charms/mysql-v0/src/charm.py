#!/usr/bin/env python3
"""Charmed MySQL's Python charm, as far as its upgrades go, on the emulated server.

Upgrades and rollbacks run through data-platform-libs' upgrade library v0, the real file,
loaded at run time from `$V0_LIBRARY_DIR/v0/upgrade.py` as
`charms.data_platform_libs.v0.upgrade` (it is never copied into the project). Everything
else a Charmed MySQL unit does is reduced to what an upgrade meets: install and start the
pinned server, join the cluster, show the unit's health, defer status updates while an
upgrade runs.
"""

import importlib.util
import json
import logging
import os
import sys
import types

LIBRARY = "charms.data_platform_libs.v0.upgrade"


def load_v0_library() -> None:
    """Imports the v0 upgrade library from `$V0_LIBRARY_DIR` under its charm-lib name."""
    path = os.path.join(os.environ["V0_LIBRARY_DIR"], "v0", "upgrade.py")
    parts = LIBRARY.split(".")
    for i in range(1, len(parts)):
        package = ".".join(parts[:i])
        if package not in sys.modules:
            module = types.ModuleType(package)
            module.__path__ = []
            sys.modules[package] = module
    spec = importlib.util.spec_from_file_location(LIBRARY, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[LIBRARY] = module
    spec.loader.exec_module(module)


load_v0_library()

import ops  # noqa: E402

import workload  # noqa: E402
from upgrade import MySQLVMUpgrade, dependencies_model, load_versions  # noqa: E402

logger = logging.getLogger(__name__)


class MySQLOperatorCharm(ops.CharmBase):
    """The test charm."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        versions = load_versions()
        self.pinned = versions["workload"]
        self.upgrade = MySQLVMUpgrade(
            self,
            versions,
            relation_name="upgrade",
            substrate="vm",
            dependency_model=dependencies_model(versions),
        )
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.update_status, self._on_update_status)
        framework.observe(self.on.get_cluster_status_action, self._on_get_cluster_status)

    def _on_install(self, _) -> None:
        target = self.pinned
        self.unit.status = ops.MaintenanceStatus(f"installing {target['name']} {target['version']}")
        if workload.installed() != {"version": target["version"], "revision": target["revision"]}:
            workload.stop()
            workload.install(target["version"], target["revision"])
        workload.start()
        self.unit.set_workload_version(target["version"])

    def _on_start(self, _) -> None:
        workload.start()
        try:
            workload.wait_online()
        except workload.WorkloadError as e:
            logger.warning(f"the instance is not ONLINE yet: {e}")
        self.show_health()

    def _on_update_status(self, _) -> None:
        if not self.upgrade.idle:
            logger.debug("skip status update while upgrading")
            return
        self.show_health()

    def show_health(self) -> None:
        """This unit's status from its instance's membership of the cluster."""
        try:
            status = workload.cluster_status()
        except workload.WorkloadError as e:
            self.unit.status = ops.BlockedStatus(f"MySQL is not available: {e}")
            return
        member = status["members"].get(self.unit.name)
        if member is None:
            self.unit.status = ops.WaitingStatus("waiting to join the cluster")
            return
        if member["state"] != "ONLINE":
            self.unit.status = ops.MaintenanceStatus(member["state"])
            return
        primary = member.get("role") == "PRIMARY"
        self.unit.status = ops.ActiveStatus("Primary" if primary else "")
        if self.unit.is_leader():
            # As Charmed MySQL: the leader's health check sets the application status.
            primaries = [
                m for m in status["members"].values()
                if m.get("role") == "PRIMARY" and m["state"] == "ONLINE"
            ]
            if not primaries:
                logger.error("Cluster has no primary. Check cluster status on online units.")
                self.app.status = ops.MaintenanceStatus("Cluster has no primary.")
            else:
                self.app.status = ops.ActiveStatus()

    def _on_get_cluster_status(self, event: ops.ActionEvent) -> None:
        try:
            event.set_results({"status": json.dumps(workload.cluster_status(), sort_keys=True)})
        except workload.WorkloadError as e:
            event.fail(str(e))


if __name__ == "__main__":
    ops.main(MySQLOperatorCharm)
