"""This unit's MySQL server, as the emulator's `bin/emulated-mysql` command runs it.

The Rust test charm and this one share one emulated server per unit (JSON files in the
juju-sim model); the command is its only way in, so both charms see and change the same
servers. Every call has a timeout and raises `WorkloadError` with the command's message.
"""

import json
import os
import subprocess
from typing import Optional

TIMEOUT_SECONDS = 60


class WorkloadError(Exception):
    """The emulated server refused or failed an operation."""


class StartError(WorkloadError):
    """mysqld did not start (Charmed MySQL's MySQLStartMySQLDError)."""


def _binary() -> str:
    return os.path.join(os.environ.get("JUJU_CHARM_DIR", "."), "bin", "emulated-mysql")


def _run(*args: str) -> str:
    try:
        done = subprocess.run(
            [_binary(), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorkloadError(f"emulated-mysql {' '.join(args)}: {e}") from e
    if done.returncode != 0:
        raise WorkloadError(done.stderr.strip() or f"emulated-mysql {' '.join(args)} failed")
    return done.stdout.strip()


def installed() -> Optional[dict]:
    """The installed build (`{"version", "revision"}`), or None."""
    return json.loads(_run("installed"))


def install(version: str, revision: str) -> None:
    """Installs exactly this build (stop the server first)."""
    _run("install", version, revision)


def stop() -> None:
    """Stops mysqld."""
    _run("stop")


def start() -> None:
    """Starts mysqld."""
    try:
        _run("start")
    except WorkloadError as e:
        raise StartError(str(e)) from e


def cluster_status() -> dict:
    """The cluster as this server sees it: `{"members": {unit: {state, role, ...}}}`."""
    return json.loads(_run("status"))


def switch_primary(unit: str) -> None:
    """Makes `unit`'s instance the primary."""
    _run("switch-primary", unit)


def set_slow_shutdown(unit: str) -> None:
    """Sets innodb_fast_shutdown=0 on `unit`'s instance."""
    _run("set-slow-shutdown", unit)


def check_upgradable(from_unit: str) -> None:
    """Runs the upgrade checker against `from_unit`'s server."""
    _run("check-upgradable", from_unit)


def wait_online() -> None:
    """Waits until this instance is ONLINE in the cluster."""
    _run("wait-online")


def downgrade_refused() -> bool:
    """Whether the last start hit MY-013171 (data written by a newer server)."""
    return _run("downgrade-refused") == "true"


def reset_and_rejoin() -> None:
    """Resets this instance's data and rejoins the cluster from a member."""
    _run("reset-and-rejoin")
