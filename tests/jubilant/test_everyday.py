"""One test per everyday jubilant call, against juju-sim as `juju`, with juju-sim's bash
test charm (`shelly`: a `replicas` peer relation, a `flavour` option, `report`, `set-note`
and `fail` actions; a file `fail-<event>` in a unit's machine directory fails that event).

Schemas: what jubilant parses (`jubilant.statustypes`, `unittypes`, `modeltypes`,
`_task.Task`, `_version.Version`), which follows Juju 3.6's outputs as recorded in
canonical/jubilant's tests/unit (fake_statuses.py, test_run.py) and Juju's formatter
(cmd/juju/status/formatted.go)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess

import jubilant
import pytest

from conftest import model_dir

APP = "shelly"

# `since` as Juju 3.6 prints it: "24 Feb 2025 12:02:57+13:00", or with Z in UTC.
SINCE = re.compile(r"^\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def deploy(juju: jubilant.Juju, charm: pathlib.Path, **kwargs) -> jubilant.Status:
    juju.deploy(charm, APP, **kwargs)
    return juju.wait(jubilant.all_active, error=jubilant.any_error, delay=0.2)


def test_status_in_juju_schema(juju: jubilant.Juju, shell_charm):
    status = deploy(juju, shell_charm("v1"), num_units=2)
    assert status.model.name == juju.model
    assert (status.model.type, status.model.cloud, status.model.version) == (
        "iaas",
        "localhost",
        "3.6.4",
    )
    assert status.model.model_status.current == "available"
    app = status.apps[APP]
    assert app.charm == "local:shelly-1"
    assert (app.charm_origin, app.charm_name, app.charm_rev) == ("local", "shelly", 1)
    assert app.exposed is False
    assert app.base == jubilant.statustypes.FormattedBase(name="ubuntu", channel="22.04")
    assert app.app_status.current == "active"
    assert SINCE.match(app.app_status.since), app.app_status.since
    (peers,) = app.relations["replicas"]
    assert (peers.related_app, peers.interface, peers.scope) == (
        APP,
        "shelly_peers",
        "global",
    )
    assert sorted(app.units) == ["shelly/0", "shelly/1"]
    for name, unit in app.units.items():
        assert unit.workload_status.current == "active"
        assert unit.workload_status.message == "ready"
        assert SINCE.match(unit.workload_status.since)
        assert unit.juju_status.current == "idle"
        assert unit.juju_status.version == "3.6.4"
        assert SINCE.match(unit.juju_status.since)
        machine = status.machines[unit.machine]
        assert machine.juju_status.current == "started"
        assert unit.public_address in machine.ip_addresses
    assert [u.leader for u in app.units.values()].count(True) == 1
    # YAML is the same document.
    yaml_text = juju.cli("status", "--format", "yaml")
    assert "charm-origin: local" in yaml_text


def test_deploy_with_config_reaches_the_first_hooks(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"), config={"flavour": "mint"}, base="ubuntu@24.04")
    assert juju.config(APP) == {"flavour": "mint"}
    unit = juju.show_unit("shelly/0")
    (peers,) = unit.relation_info
    assert peers.local_unit.data["flavour"] == "mint", "config-changed saw the deploy config"
    assert juju.status().apps[APP].base.channel == "24.04"


def test_config_get_set_and_reset(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"))
    assert juju.config(APP) == {"flavour": "vanilla"}
    juju.config(APP, {"flavour": "lemon"})
    assert juju.config(APP) == {"flavour": "lemon"}
    assert juju.show_unit("shelly/0").relation_info[0].local_unit.data["flavour"] == "lemon"
    juju.config(APP, reset="flavour")
    assert juju.config(APP) == {"flavour": "vanilla"}
    raw = juju.cli("config", "--format", "json", APP)
    assert '"source": "default"' in raw and '"type": "string"' in raw
    with pytest.raises(jubilant.CLIError) as bad:
        juju.config(APP, {"colour": "red"})
    assert bad.value.returncode == 1
    assert 'unknown option "colour"' in bad.value.stderr


def test_show_unit(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"), num_units=2)
    unit = juju.show_unit("shelly/0")
    assert unit.leader is True
    assert unit.charm == "local:shelly-1"
    assert unit.opened_ports == []
    assert unit.machine == "0"
    (peers,) = unit.relation_info
    assert (peers.endpoint, peers.related_endpoint) == ("replicas", "replicas")
    assert peers.local_unit.in_scope
    assert set(peers.related_units) == {"shelly/1"}
    assert juju.show_unit("shelly/1").leader is False


def test_run_an_action_with_results(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"), num_units=2)
    task = juju.run("shelly/leader", "report", {"count": 3, "greeting": "hi"})
    assert task.success
    assert task.status == "completed"
    assert task.results == {
        "unit": "shelly/0",
        "leader": "True",
        "greeting": "hi",
        "count": "3",
        "code": "v1",
    }
    assert task.stdout == "report done\n"
    assert task.return_code == 0
    assert len(task.log) == 1 and task.log[0].endswith(" reporting")


def test_run_a_failing_action(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"))
    with pytest.raises(jubilant.TaskError) as failed:
        juju.run("shelly/0", "fail")
    assert failed.value.task.status == "failed"
    assert failed.value.task.message == "asked to fail"
    # Parameters are validated before anything runs (count is required, minimum 1).
    with pytest.raises(jubilant.CLIError) as invalid:
        juju.run("shelly/0", "report", {"count": 0})
    assert "validation failed" in invalid.value.stderr
    with pytest.raises(jubilant.CLIError) as undefined:
        juju.run("shelly/0", "no-such-action")
    assert 'action "no-such-action" not defined' in undefined.value.stderr


def test_add_unit_and_remove_unit(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"))
    juju.add_unit(APP, num_units=2)
    status = juju.wait(lambda s: jubilant.all_active(s) and len(s.apps[APP].units) == 3)
    assert len(status.machines) == 3
    juju.remove_unit("shelly/1", "shelly/2", destroy_storage=True, force=True)
    status = juju.wait(lambda s: list(s.apps[APP].units) == ["shelly/0"])
    assert jubilant.all_active(status)


def test_debug_log(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"))
    everything = juju.debug_log(limit=0).splitlines()
    assert any("config-changed with code v1 flavour=vanilla" in line for line in everything)
    last = juju.debug_log(limit=3).splitlines()
    assert last == everything[-3:]
    assert all(line.startswith(("unit-shelly-0: ", "model: ")) for line in everything)


def test_exec_runs_on_the_units_machine(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"))
    task = juju.exec("pwd; echo hello >greeting", unit="shelly/leader")
    assert task.success
    machine = model_dir(juju) / "machines" / "0"
    assert task.stdout == f"{machine.resolve()}\n"
    assert (machine / "greeting").read_text() == "hello\n"
    with pytest.raises(jubilant.TaskError) as failed:
        juju.exec("echo oops >&2; exit 3", unit="shelly/0")
    assert failed.value.task.return_code == 3
    assert failed.value.task.stderr == "oops\n"
    with pytest.raises(TimeoutError):
        juju.exec("sleep 10", unit="shelly/0", wait=0.2)

    # As an operator would break a unit: its next config-changed fails.
    juju.exec("touch fail-config-changed", unit="shelly/0")
    juju.config(APP, {"flavour": "mint"})
    status = juju.wait(jubilant.any_error, delay=0.2)
    assert status.apps[APP].units["shelly/0"].workload_status.message == (
        'hook failed: "config-changed"'
    )


def test_model_config(juju: jubilant.Juju):
    config = juju.model_config()
    assert config["name"] == juju.model
    assert config["update-status-hook-interval"] == "5m"
    juju.model_config({"update-status-hook-interval": "10s", "automatically-retry-hooks": False})
    config = juju.model_config()
    assert config["update-status-hook-interval"] == "10s"
    assert config["automatically-retry-hooks"] is False
    juju.model_config(reset=["update-status-hook-interval", "automatically-retry-hooks"])
    assert juju.model_config()["update-status-hook-interval"] == "5m"


def test_refresh_by_path_and_by_revision(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"), num_units=2)
    juju.refresh(APP, path=shell_charm("v2"))
    status = juju.wait(jubilant.all_active, delay=0.2)
    assert (status.apps[APP].charm_rev, status.apps[APP].version) == (2, "v2")
    # force=True passes --force --force-base --force-units: accepted while no unit is in error.
    juju.refresh(APP, revision=1, force=True)
    status = juju.wait(jubilant.all_active, delay=0.2)
    assert (status.apps[APP].charm_rev, status.apps[APP].version) == (1, "v1")
    assert status.apps[APP].charm == "local:shelly-1"
    juju.exec("touch fail-upgrade-charm", unit="shelly/1")
    juju.refresh(APP, revision=2)
    juju.wait(jubilant.any_error, delay=0.2)
    with pytest.raises(jubilant.CLIError) as refused:
        juju.refresh(APP, revision=1, force=True)
    assert "--force-units with a unit in error (shelly/1)" in refused.value.stderr


def test_models_version_and_show_model():
    with jubilant.temp_model() as juju:
        name = juju.model
        directory = pathlib.Path(os.environ["JUJU_SIM_HOME"]) / name
        assert directory.is_dir()
        info = juju.show_model()
        assert (info.short_name, info.model_type, info.controller_name) == (
            name,
            "iaas",
            "juju-sim",
        )
        assert info.life == "alive"
        listed = juju.cli("models", "--format", "json", include_model=False)
        assert f'"short-name": "{name}"' in listed
        version = juju.version()
        assert version.tuple == (3, 6, 4)
        assert version.release == "ubuntu"
    assert not directory.exists(), "temp_model destroyed the model"


def test_what_juju_sim_does_not_do_fails_as_juju_does(juju: jubilant.Juju, shell_charm):
    deploy(juju, shell_charm("v1"))
    with pytest.raises(jubilant.CLIError) as integrate:
        juju.integrate(APP, "other")
    assert integrate.value.returncode == 1
    assert integrate.value.stderr.startswith("ERROR juju-sim does not support integrate")
    with pytest.raises(jubilant.CLIError) as placement:
        juju.add_unit(APP, to="0")
    assert "does not support --to" in placement.value.stderr
    with pytest.raises(jubilant.CLIError) as charmhub:
        juju.deploy("postgresql", channel="14/stable")
    assert "local charms only" in charmhub.value.stderr
    with pytest.raises(jubilant.CLIError) as flag:
        juju.cli("status", "--no-such-flag")
    assert flag.value.returncode == 2
    assert flag.value.stderr == "ERROR option provided but not defined: --no-such-flag\n"
    missing = subprocess.run(
        ["juju", "status", "--model", "no-such-model", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert 'model "no-such-model" not found' in missing.stderr


def test_a_model_directory_and_the_juju_sim_name(juju_sim: pathlib.Path, tmp_path, shell_charm):
    """`Juju(model=DIR, cli_binary="juju-sim")`: a model directory anywhere, no PATH link."""
    juju = jubilant.Juju(model=str(tmp_path / "model"), cli_binary=juju_sim)
    deploy(juju, shell_charm("v1"))
    assert (tmp_path / "model" / "model.json").is_file()
    assert juju.status().model.name == "model"
    assert juju.run("shelly/0", "report", {"count": 1}).results["unit"] == "shelly/0"
