#!/usr/bin/env python3
"""The floor of the Python approach to in-place upgrades (a benchmark charm).

An upgrade hook reads the `upgrade` peer relation as the Rust charm does, in two
steps: this unit's bag and the application's (`upgrade-stack`) first; every
unit's `state`, as the v0 upgrade library of data-platform-libs reads it, only
on the leader, on the unit on top of the stack, and on a unit finishing the
round (stack empty, this unit completed). A unit that only waits its turn stops
there. It writes this unit's `state` (the leader also the stack), following
v0's rules. There is no workload, no pydantic and no library code on top of
`ops`, so what a hook of this charm costs is the least a Python `ops` charm
making the Rust charm's reads and writes can cost.

One thing differs from v0 on purpose: after writing its own state a unit looks
again (within the same hook, from the data `ops` already read), so the flow does
not stall when the unit on top of the stack is the last one to become ready.

Like the Rust charm it keeps the other units' states it was shown between hooks
(`peer-cache/upgrade-floor.json`), so a hook that needs every unit reads only the
unit its `-relation-changed` is about: the file is moved aside when such a hook
starts, dropped by hooks that may change the members or the leader, used only
for the same relation, unit and members, and written whole then renamed.
"""

import json
import logging
import os

import ops

logger = logging.getLogger(__name__)

PEER = "upgrade"
# The cluster state is the first of these that any unit is in.
ORDER = ("recovery", "failed", "idle", "ready", "upgrading", "completed")
# What v0 stores as the deployed revision's dependencies.
DEPENDENCIES = {
    "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "1"},
    "snap": {
        "dependencies": {},
        "name": "charmed-mysql",
        "upgrade_supported": "~8.0.31",
        "version": "8.0.34",
    },
}


CACHE_DIR = "peer-cache"
CACHE_FILE = os.path.join(CACHE_DIR, "upgrade-floor.json")
TAKEN_FILE = CACHE_FILE + ".taken"
TEMP_FILE = CACHE_FILE + ".tmp"
# Hooks that may change the members or the leader: the cache is dropped.
DROPPING = tuple(f"{PEER}-relation-{kind}" for kind in ("created", "joined", "departed", "broken"))


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def cache_on_hook_start() -> str:
    """Moves the cache aside or drops it, before any hook tool; returns the file to read."""
    hook = os.environ.get("JUJU_HOOK_NAME", "")
    if hook == f"{PEER}-relation-changed" and os.environ.get("JUJU_REMOTE_UNIT"):
        _remove(TAKEN_FILE)
        try:
            os.rename(CACHE_FILE, TAKEN_FILE)
        except FileNotFoundError:
            pass
        return TAKEN_FILE
    if hook in DROPPING or hook == "leader-elected":
        _remove(TAKEN_FILE)
        _remove(CACHE_FILE)
        return ""
    return CACHE_FILE


def unit_number(name: str) -> int:
    """The number in a unit name: 2 for `mysql/2`."""
    return int(name.rsplit("/", 1)[1])


class FloorCharm(ops.CharmBase):
    """The v0 upgrade flow on the peer relation, and nothing else."""

    def __init__(self, framework: ops.Framework, cache_file: str = CACHE_FILE):
        super().__init__(framework)
        self._cache_file = cache_file
        self._read_states = None
        framework.observe(self.on[PEER].relation_created, self._on_created)
        framework.observe(self.on[PEER].relation_changed, self._on_changed)
        framework.observe(self.on.upgrade_charm, self._on_upgrade_charm)
        framework.observe(self.on.pre_upgrade_check_action, self._on_pre_upgrade_check)

    # ----- the peer data, read as v0 reads it -----

    def _states(self, relation: ops.Relation) -> dict:
        """Every unit's state: the other units' from the cache where it holds exactly the
        members (the unit this hook is about read again), else read; `ops` reads each
        unit's bag once per hook and caches it."""
        if self._read_states is not None:
            return {**self._read_states, self.unit.name: relation.data[self.unit].get("state", "")}
        key = {"relation": f"{PEER}:{relation.id}", "unit": self.unit.name}
        members = {unit.name: unit for unit in relation.units}
        cached = self._load_cache()
        remote = os.environ.get("JUJU_REMOTE_UNIT", "")
        if cached.get("key") == key and sorted(cached.get("states", {})) == sorted(members):
            states = dict(cached["states"])
            if self._cache_file == TAKEN_FILE and remote in members:
                states[remote] = relation.data[members[remote]].get("state", "")
        else:
            states = {name: relation.data[unit].get("state", "") for name, unit in members.items()}
        self._store_cache(key, states)
        self._read_states = states
        return {**states, self.unit.name: relation.data[self.unit].get("state", "")}

    def _load_cache(self) -> dict:
        if not self._cache_file:
            return {}
        try:
            with open(self._cache_file, encoding="utf-8") as file:
                cached = json.load(file)
        except (OSError, ValueError):
            return {}
        return cached if isinstance(cached, dict) else {}

    @staticmethod
    def _store_cache(key: dict, states: dict) -> None:
        if not os.path.isdir(CACHE_DIR):
            return
        try:
            with open(TEMP_FILE, "w", encoding="utf-8") as file:
                json.dump({"key": key, "states": states}, file)
                file.flush()
                os.fsync(file.fileno())
            os.rename(TEMP_FILE, CACHE_FILE)
        except OSError as err:
            logger.warning("cannot write the peer cache: %s", err)
            _remove(CACHE_FILE)
        _remove(TAKEN_FILE)

    @staticmethod
    def _cluster_state(states: dict):
        """The state furthest behind, or None when a unit has none (or an unknown one)."""
        try:
            return min(states.values(), key=ORDER.index) if states else None
        except ValueError:
            return None

    def _only_waits(self, relation: ops.Relation) -> bool:
        """Whether this unit's bag and the application bag show it only waits its turn:
        not the leader, not on top of the stack, not finishing the round."""
        if self.unit.is_leader():
            return False
        own = relation.data[self.unit].get("state", "")
        stack = self._stack(relation)
        if stack:
            return stack[-1] != unit_number(self.unit.name)
        return own != "completed"

    def _stack(self, relation: ops.Relation) -> list:
        return json.loads(relation.data[self.app].get("upgrade-stack") or "[]")

    def _set_stack(self, relation: ops.Relation, stack: list) -> None:
        relation.data[self.app]["upgrade-stack"] = json.dumps(stack)

    def _set_state(self, relation: ops.Relation, state: str) -> None:
        relation.data[self.unit]["state"] = state

    # ----- hooks and the action -----

    def _on_created(self, _event: ops.RelationCreatedEvent) -> None:
        relation = self.model.get_relation(PEER)
        if relation is None:
            return
        self._set_state(relation, "idle")
        if self.unit.is_leader():
            relation.data[self.app]["dependencies"] = json.dumps(DEPENDENCIES)

    def _on_pre_upgrade_check(self, event: ops.ActionEvent) -> None:
        relation = self.model.get_relation(PEER)
        if relation is None:
            event.fail("Could not find upgrade relation.")
            return
        if not self.unit.is_leader():
            event.fail("Action must be ran on the Juju leader.")
            return
        states = self._states(relation)
        cluster = self._cluster_state(states)
        if cluster == "failed":
            # Recovery: the units already done go back under the failed one.
            stack = self._stack(relation)
            for number in sorted(unit_number(name) for name in states):
                if number not in stack:
                    stack.insert(-1, number)
            self._set_stack(relation, stack)
            self.unit.status = ops.BlockedStatus("ready to rollback application")
            self._set_state(relation, "recovery")
            return
        if cluster != "idle":
            event.fail("Cannot run pre-upgrade checks, cluster already upgrading.")
            return
        # The leader upgrades last (bottom); the highest unit number goes first (top).
        others = sorted(unit_number(name) for name in states if name != self.unit.name)
        stack = [unit_number(self.unit.name), *others]
        self._set_stack(relation, stack)
        event.set_results({"result": f"upgrade stack {json.dumps(stack)}"})

    def _on_upgrade_charm(self, _event: ops.UpgradeCharmEvent) -> None:
        relation = self.model.get_relation(PEER)
        if relation is None:
            return
        if not self._stack(relation):
            logger.error("Cluster upgrade failed, ensure pre-upgrade checks are ran first.")
            return
        if self.unit.is_leader():
            stored = json.loads(relation.data[self.app].get("dependencies") or "{}")
            if stored.get("snap", {}).get("version") != DEPENDENCIES["snap"]["version"]:
                logger.info("upgrading from %s", stored.get("snap", {}).get("version"))
        self.unit.status = ops.WaitingStatus("other units upgrading first...")
        self._set_state(relation, "ready")
        if not self._only_waits(relation) and self.app.planned_units() == 1:
            logger.info("single unit: upgrading at once")
        self._evaluate(relation)

    def _on_changed(self, _event: ops.RelationChangedEvent) -> None:
        relation = self.model.get_relation(PEER)
        if relation is not None:
            self._evaluate(relation)

    # ----- v0's relation-changed rules -----

    def _evaluate(self, relation: ops.Relation) -> None:
        """Applies the rules until this unit has nothing more to do."""
        for _ in range(len(relation.units) + 4):
            if not self._step(relation):
                return

    def _step(self, relation: ops.Relation) -> bool:
        """One pass of v0's rules; True when it wrote something."""
        if self._only_waits(relation):
            return False
        states = self._states(relation)
        cluster = self._cluster_state(states)
        if cluster in ("failed", "recovery"):
            return False
        own = states[self.unit.name]
        stack = self._stack(relation)
        if not stack:
            if own == "completed" and cluster in ("idle", "completed"):
                self.unit.status = ops.ActiveStatus()
                self._set_state(relation, "idle")
                if self.unit.is_leader():
                    relation.data[self.app]["dependencies"] = json.dumps(DEPENDENCIES)
            return False
        if "upgrading" in states.values() and own in ("idle", "ready"):
            self.unit.status = ops.WaitingStatus("other units upgrading first...")
        top = stack[-1]
        top_state = states.get(f"{self.app.name}/{top}")
        if self.unit.is_leader() and top_state == "completed":
            stack.pop()
            self._set_stack(relation, stack)
            return True
        if (
            top == unit_number(self.unit.name)
            and top_state in ("ready", "upgrading")
            and cluster == "ready"
        ):
            self.unit.status = ops.MaintenanceStatus("upgrading...")
            self._set_state(relation, "upgrading")
            # The workload's upgrade is the charm's own business, not the framework's.
            self.unit.status = ops.MaintenanceStatus("upgrade completed")
            self._set_state(relation, "completed")
            return True
        return False


if __name__ == "__main__":
    CACHE = cache_on_hook_start()

    class Floor(FloorCharm):
        """The floor with the cache file this hook reads."""

        def __init__(self, framework: ops.Framework):
            super().__init__(framework, CACHE)

    ops.main(Floor)
