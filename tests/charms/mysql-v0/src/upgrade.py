"""The upgrade relation as Charmed MySQL (machines) implements it on data-platform-libs'
upgrade library v0: `MySQLVMUpgrade` in canonical/mysql-operator's src/upgrade.py, on the
emulated server instead of the snap and MySQL Shell.

The library itself is not here: `charm.py` loads the real file at run time.
"""

import json
import logging

import workload
from charms.data_platform_libs.v0.upgrade import (
    ClusterNotReadyError,
    DataUpgrade,
    DependencyModel,
    UpgradeGrantedEvent,
    VersionError,
)
from ops.model import BlockedStatus, MaintenanceStatus
from pydantic import BaseModel

logger = logging.getLogger(__name__)

UPGRADE_FAILED = "upgrade failed. Check logs for rollback instruction"


class MySQLVMDependenciesModel(BaseModel):
    """Charmed MySQL's dependency model: the charm and the snap."""

    charm: DependencyModel
    snap: DependencyModel


def load_versions(path: str = "versions.json") -> dict:
    """The charm's pinned workload and dependency model (the Rust charm's file format)."""
    with open(path) as f:
        return json.load(f)


def dependencies_model(versions: dict) -> MySQLVMDependenciesModel:
    """The dependency model of this revision."""
    return MySQLVMDependenciesModel(**versions["dependencies"])


class MySQLVMUpgrade(DataUpgrade):
    """Charmed MySQL's upgrade class on the emulated server."""

    def __init__(self, charm, versions: dict, **kwargs) -> None:
        super().__init__(charm, **kwargs)
        self.charm = charm
        self.pinned = versions["workload"]
        self.framework.observe(
            self.charm.on[self.relation_name].relation_changed, self._on_upgrade_changed
        )
        self.framework.observe(self.charm.on.upgrade_charm, self._on_upgrade_charm_check_legacy)

    def build_upgrade_stack(self) -> list:
        """The leader last; the others by unit number, the highest first."""
        stack = sorted(int(unit.name.split("/")[1]) for unit in self.peer_relation.units)
        stack.insert(0, int(self.charm.unit.name.split("/")[1]))
        return stack

    def pre_upgrade_check(self) -> None:
        """Every planned unit ONLINE; the leader becomes primary; slow shutdown everywhere."""
        fail_message = "Pre-upgrade check failed. Cannot upgrade."
        try:
            status = workload.cluster_status()
        except workload.WorkloadError:
            raise ClusterNotReadyError(
                message=fail_message,
                cause="Failed to retrieve cluster status",
                resolution="Ensure that mysqld is running for this unit",
            )
        online = [m for m in status["members"].values() if m["state"] == "ONLINE"]
        if len(online) < self.charm.app.planned_units():
            raise ClusterNotReadyError(
                message=fail_message,
                cause="Not all units are online",
                resolution="Ensure all units are online in the cluster",
            )
        try:
            primary = [m["unit"] for m in online if m.get("role") == "PRIMARY"]
            if primary != [self.charm.unit.name]:
                workload.switch_primary(self.charm.unit.name)
        except workload.WorkloadError:
            raise ClusterNotReadyError(
                message=fail_message,
                cause="Failed to set primary",
                resolution="Check the cluster status",
            )
        try:
            for unit in self.app_units:
                workload.set_slow_shutdown(unit.name)
        except workload.WorkloadError:
            raise ClusterNotReadyError(
                message=fail_message,
                cause="Failed to set slow shutdown",
                resolution="Check the cluster status",
            )

    def _on_upgrade_charm_check_legacy(self, event) -> None:
        """A refresh from a charm without upgrade data: build the stack on every unit ready."""
        if not self.peer_relation or len(self.app_units) < self.charm.app.planned_units():
            event.defer()
            logger.debug("Wait all units join the upgrade relation")
            return
        if self.state:
            return
        if not self.charm.unit.is_leader():
            self.peer_relation.data[self.charm.unit].update({"state": "ready"})
            return
        peers_state = [s for s in self.unit_states if s != ""]
        if len(peers_state) == len(self.peer_relation.units) and set(peers_state) == {"ready"}:
            self.peer_relation.data[self.charm.unit].update({"state": "ready"})
            logger.warning("Upgrading from unsupported version")
            self.upgrade_stack = self.build_upgrade_stack()
            self.peer_relation.data[self.charm.app].update(
                {"dependencies": json.dumps(self.dependency_model.dict())}
            )
        else:
            logger.debug("Wait until all peers have set upgrade state to ready")
            event.defer()

    def _on_upgrade_granted(self, event: UpgradeGrantedEvent) -> None:
        """Stop, refresh the server, check (first unit), start, rejoin."""
        name = self.charm.unit.name
        target = self.pinned
        try:
            was = workload.installed() or {}
            logger.info(
                f"{name}: refreshing {target['name']} from {was.get('version')} "
                f"(revision {was.get('revision')}) to {target['version']} "
                f"(revision {target['revision']})"
            )
            self.charm.unit.status = MaintenanceStatus("stopping services..")
            workload.stop()
            self.charm.unit.status = MaintenanceStatus("upgrading snap...")
            try:
                workload.install(target["version"], target["revision"])
            except workload.WorkloadError as e:
                logger.error(f"Failed to install workload snap: {e}")
                self.set_unit_failed()
                return
            self.charm.unit.status = MaintenanceStatus("check if upgrade is possible")
            self._check_server_upgradeability()
            self.charm.unit.status = MaintenanceStatus("starting services...")
            workload.start()
        except VersionError:
            logger.exception("Failed to upgrade MySQL dependencies")
            self.set_unit_failed()
            return
        except workload.StartError as e:
            if not workload.downgrade_refused():
                logger.error(f"Failed to start MySQL server after snap refresh: {e}")
                self.set_unit_failed()
                return
            if self.charm.app.planned_units() == 1:
                logger.error("Downgrade is incompatible. Restore from backup is required.")
                self.set_unit_failed()
                return
            logger.info("Downgrade is incompatible. Resetting workload")
            workload.reset_and_rejoin()
        except workload.WorkloadError as e:
            logger.error(f"Failed to stop MySQL server: {e}")
            self.set_unit_failed()
            return

        self.charm.unit.set_workload_version(target["version"])
        self.charm.unit.status = MaintenanceStatus("recovering unit after upgrade")
        try:
            workload.wait_online()
            logger.info(f"{name}: back ONLINE on {target['name']} {target['version']}")
            logger.debug("Upgraded unit is healthy. Set upgrade state to `completed`")
            self.set_unit_completed()
            if self.charm.unit.is_leader():
                logger.debug("Re-emitting upgrade-changed on leader...")
                self.on_upgrade_changed(event)
        except Exception:
            logger.debug("Upgraded unit is not healthy")
            self.set_unit_failed()
            self.charm.unit.status = BlockedStatus(UPGRADE_FAILED)

    def _on_upgrade_changed(self, _) -> None:
        """Once the upgrade is over, show the unit's health."""
        if not self.upgrade_stack and self.idle:
            self.charm.show_health()

    def log_rollback_instructions(self) -> None:
        """Charmed MySQL's rollback instructions."""
        logger.critical(
            "\n".join(
                (
                    "Upgrade failed, follow the instructions below to rollback:",
                    "    1. Re-run `pre-upgrade-check` action on the leader unit to enter 'recovery' state",
                    "    2. Run `juju refresh` to the previously deployed charm revision or local charm file",
                )
            )
        )

    def _check_server_upgradeability(self) -> None:
        """The upgrade checker against the leader's old server, on the first unit only."""
        planned_units = self.charm.app.planned_units()
        if planned_units == 1:
            return
        if len(self.upgrade_stack or []) < planned_units:
            return
        leader = f"{self.charm.app.name}/{self.upgrade_stack[0]}"
        try:
            workload.check_upgradable(leader)
            logger.debug("MySQL server is upgradeable")
        except workload.WorkloadError as e:
            logger.error("MySQL server is not upgradeable")
            raise VersionError(
                message="Cannot upgrade MySQL server",
                cause=str(e),
                resolution="Check mysql-shell upgrade utility output for more details",
            )
