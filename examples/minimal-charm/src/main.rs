//! The charm's executable, what Juju's `dispatch` runs for every hook and action: installs kv
//! at `install` and hands every upgrade event to the core. A failed hook exits non-zero, so
//! that Juju drops its peer-data writes and retries it.

use std::process::ExitCode;

use anyhow::Context;
use juju_ops::upgrade::{run_turn, upgrade_event};
use juju_ops::{Dispatch, HookTools, ProcessHookTools, Status};
use juju_upgrade::{CharmVersions, DependencyModel};
use minimal_charm::charm::KvHooks;
use minimal_charm::kv::{KvStore, Workload};

fn run(tools: &dyn HookTools) -> anyhow::Result<()> {
    let dispatch = Dispatch::from_env()?;
    let read = |name: &str| {
        let path = dispatch.charm_dir.join(name);
        std::fs::read_to_string(&path).with_context(|| path.display().to_string())
    };
    let model = DependencyModel::from_json(&read("dependencies.json")?)?;
    let mut hooks = KvHooks {
        workload: KvStore::on_this_machine(),
        model,
    };
    if dispatch.is_hook("install") {
        hooks.workload.install(&hooks.pin())?;
        tools.application_version_set(&hooks.pin())?;
        return Ok(tools.status_set(&Status::active(""))?);
    }
    if let Some(event) = upgrade_event(&dispatch, tools)? {
        let charm = CharmVersions::new(read("revision")?.trim(), hooks.pin());
        run_turn(&dispatch, tools, event, charm, &mut hooks)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&ProcessHookTools::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ERROR {err:#}");
            ExitCode::FAILURE
        }
    }
}
