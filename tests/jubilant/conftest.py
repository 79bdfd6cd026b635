"""Fixtures for the jubilant suite: juju-sim on PATH as `juju`, a models root of
the session's own, and the charms the tests deploy.

The suite drives juju-sim exactly as a charm author's integration tests drive
Juju: through PyPI's jubilant, with `jubilant.temp_model()` and the `juju`
binary found on PATH. Run it with `bash scripts/test` (or
`.venv/bin/python -m pytest tests/jubilant` after `cargo build -p juju-sim`).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import jubilant
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHELL_CHARM = REPO / "crates/sim/tests/charms/shell-charm"

# Revision 182 runs MySQL 8.0.33 (snap revision 57), as in the operator how-to; the new
# revision runs what versions.json pins (MySQL 8.0.34).
OLD_REVISION = 182
OLD_VERSION = "8.0.33"
NEW_VERSION = "8.0.34"


def _cargo(*args: str) -> None:
    subprocess.run(
        ["cargo", *args],
        cwd=REPO,
        check=True,
        timeout=1800,
        env={**os.environ, "CARGO_BUILD_JOBS": os.environ.get("CARGO_BUILD_JOBS", "2")},
    )


@pytest.fixture(scope="session")
def juju_sim() -> pathlib.Path:
    """The juju-sim binary ($JUJU_SIM_BIN, else built with cargo)."""
    given = os.environ.get("JUJU_SIM_BIN")
    if given:
        return pathlib.Path(given)
    _cargo("build", "--quiet", "-p", "juju-sim")
    return REPO / "target/debug/juju-sim"


@pytest.fixture(scope="session", autouse=True)
def juju_on_path(juju_sim: pathlib.Path, tmp_path_factory: pytest.TempPathFactory):
    """`juju` on PATH is juju-sim (a link), and models live in this session's root."""
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "juju").symlink_to(juju_sim)
    saved = {key: os.environ.get(key) for key in ("PATH", "JUJU_SIM_HOME", "JUJU_SIM_MODEL")}
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["JUJU_SIM_HOME"] = str(tmp_path_factory.mktemp("models"))
    os.environ.pop("JUJU_SIM_MODEL", None)
    assert shutil.which("juju") == str(bin_dir / "juju")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def juju() -> jubilant.Juju:
    """A fresh model per test, destroyed afterwards, as charm authors write it."""
    with jubilant.temp_model() as juju:
        juju.wait_timeout = 120
        yield juju


def model_dir(juju: jubilant.Juju) -> pathlib.Path:
    """The directory of the model `juju` drives (for emulator faults)."""
    assert juju.model is not None
    return pathlib.Path(os.environ["JUJU_SIM_HOME"]) / juju.model


@pytest.fixture(scope="session")
def mysql_charms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Revision 182 (MySQL 8.0.33) and a new revision (MySQL 8.0.34) of the MySQL charm on
    the emulated server, packed with `cargo xtask pack --workloads test`."""
    out = tmp_path_factory.mktemp("charms")
    old = out / "182" / "mysql.charm"
    new = out / "new" / "mysql.charm"
    old.parent.mkdir()
    new.parent.mkdir()
    _cargo(
        "xtask", "pack", "--workloads", "test", "--out", str(old),
        "--workload-version", OLD_VERSION, "--snap-revision", "57",
    )
    _cargo("xtask", "pack", "--workloads", "test", "--out", str(new))
    return {"old": old, "new": new}


@pytest.fixture
def shell_charm(tmp_path: pathlib.Path):
    """juju-sim's bash test charm, as a directory; `version(text)` makes a copy with another
    version.txt (what the charm reports as its code version)."""

    def version(text: str) -> pathlib.Path:
        copy = tmp_path / f"shelly-{text}"
        shutil.copytree(SHELL_CHARM, copy)
        (copy / "version.txt").write_text(f"{text}\n")
        return copy

    return version
