//! `emulated-mysql`: the emulated server of one unit as a command, for charms that are not
//! written in Rust (the Python v0 test charm) to run on the same server files as the Rust
//! test charm.
//!
//! The unit comes from the `juju-sim` hook environment (`JUJU_UNIT_NAME`,
//! `JUJU_SIM_MACHINE_DIR`, `JUJU_SIM_MODEL_DIR`), so the command only works inside a hook or
//! an action. Each subcommand is one [`Workload`] call:
//!
//! | command | does |
//! | --- | --- |
//! | `installed` | prints `{"version", "revision"}` of the installed server, or `null` |
//! | `install VERSION REVISION` | installs exactly that build |
//! | `stop`, `start` | stops or starts mysqld |
//! | `status` | prints the cluster status as this server sees it (JSON) |
//! | `switch-primary UNIT`, `set-slow-shutdown UNIT` | as the trait says, on `UNIT` |
//! | `check-upgradable FROM_UNIT` | runs the upgrade checker against `FROM_UNIT` |
//! | `wait-online` | waits (Charmed MySQL's 30 checks) until this instance is ONLINE |
//! | `downgrade-refused` | prints `true` when the last start hit MY-013171 |
//! | `reset-and-rejoin` | resets this instance's data and rejoins from a member |
//!
//! Exit status 0 on success; 1 with the workload's error on stderr; 2 on bad usage.

use std::process::ExitCode;

use mysql_charm::workload::{RetryPolicy, Workload, WorkloadError, WorkloadRevision};

use crate::EmulatedWorkload;

/// Why a command line could not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Not a command this tool knows, or the wrong arguments.
    #[error("usage: emulated-mysql {0}")]
    Usage(String),
    /// Not inside a `juju-sim` hook.
    #[error("not in a juju-sim hook: JUJU_UNIT_NAME, JUJU_SIM_MACHINE_DIR and JUJU_SIM_MODEL_DIR must be set")]
    NoHookEnvironment,
    /// The workload refused or failed.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// Output could not be encoded.
    #[error("cannot encode the output: {0}")]
    Encode(#[from] serde_json::Error),
}

const USAGE: &str = "installed | install VERSION REVISION | stop | start | status | \
switch-primary UNIT | set-slow-shutdown UNIT | check-upgradable FROM_UNIT | wait-online | \
downgrade-refused | reset-and-rejoin";

/// Runs one command on `workload`; returns what to print on stdout.
pub fn execute(workload: &dyn Workload, args: &[String]) -> Result<String, CliError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match words.as_slice() {
        ["installed"] => serde_json::to_string(&workload.installed_revision()?)?,
        ["install", version, revision] => {
            workload.install(&WorkloadRevision::new(*version, *revision))?;
            String::new()
        }
        ["stop"] => {
            workload.stop()?;
            String::new()
        }
        ["start"] => {
            workload.start()?;
            String::new()
        }
        ["status"] => serde_json::to_string(&workload.cluster_status()?)?,
        ["switch-primary", unit] => {
            workload.switch_primary(unit)?;
            String::new()
        }
        ["set-slow-shutdown", unit] => {
            workload.set_slow_shutdown(unit)?;
            String::new()
        }
        ["check-upgradable", from] => {
            workload.check_upgradable(from)?;
            String::new()
        }
        ["wait-online"] => {
            workload.wait_until_online(RetryPolicy::REJOIN_AFTER_UPGRADE)?;
            String::new()
        }
        ["downgrade-refused"] => workload.downgrade_refused()?.to_string(),
        ["reset-and-rejoin"] => {
            workload.reset_and_rejoin()?;
            String::new()
        }
        _ => return Err(CliError::Usage(USAGE.to_owned())),
    })
}

/// The command's entry point: the unit's emulated server from the process environment.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = EmulatedWorkload::from_hook_env(|key| std::env::var(key).ok())
        .ok_or(CliError::NoHookEnvironment)
        .and_then(|workload| execute(&workload, &args));
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(err @ CliError::Usage(_)) => {
            eprintln!("{err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn install_start_and_status_act_on_the_units_server_files() {
        let model = tempfile::tempdir().unwrap();
        let machine = model.path().join("machines/0");
        std::fs::create_dir_all(&machine).unwrap();
        let workload = EmulatedWorkload::new("mysql/0", &machine, model.path());
        assert_eq!(execute(&workload, &args(&["installed"])).unwrap(), "null");
        execute(&workload, &args(&["install", "8.0.33", "57"])).unwrap();
        execute(&workload, &args(&["start"])).unwrap();
        execute(&workload, &args(&["wait-online"])).unwrap();
        let installed: serde_json::Value =
            serde_json::from_str(&execute(&workload, &args(&["installed"])).unwrap()).unwrap();
        assert_eq!(
            installed,
            serde_json::json!({"version": "8.0.33", "revision": "57"})
        );
        let status: serde_json::Value =
            serde_json::from_str(&execute(&workload, &args(&["status"])).unwrap()).unwrap();
        assert_eq!(status["members"]["mysql/0"]["state"], "ONLINE", "{status}");
        assert_eq!(
            workload.unit_state().unwrap().unwrap().installed,
            Some(WorkloadRevision::new("8.0.33", "57"))
        );
    }

    #[test]
    fn a_wrong_command_line_is_a_usage_error_and_touches_nothing() {
        let model = tempfile::tempdir().unwrap();
        let workload = EmulatedWorkload::new("mysql/0", model.path(), model.path());
        for bad in [&["install", "8.0.33"][..], &["restart"], &[]] {
            let err = execute(&workload, &args(bad)).unwrap_err();
            assert!(matches!(err, CliError::Usage(_)), "{bad:?}: {err}");
        }
        assert!(workload.unit_state().unwrap().is_none());
    }
}
