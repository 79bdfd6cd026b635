//! `cargo xtask demo`: the how-to's rollback on the juju-sim emulator, from a fresh clone.
//!
//! It builds `juju-sim` and the charm on the test workloads (`mysql-test-charm`: under
//! `juju-sim` it runs on the emulated MySQL server), packs revision 182 (MySQL 8.0.33) and a new revision
//! (MySQL 8.0.34), deploys revision 182, prepares and refreshes to the new revision with
//! an emulator fault that makes MySQL 8.0.34 fail to start, and then runs the how-to's three
//! steps: `run mysql/leader pre-upgrade-check`, `refresh mysql --revision=182`, `status`.
//! Every step runs the real `juju-sim` binary, printed as an operator would type it, and is
//! followed by `juju-sim status`. The end state is checked: the command fails if any unit
//! is not active on 8.0.33 at revision 182.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, ensure, Context, Result};
use mysql_charm::versions::VersionOverrides;
use mysql_test_workloads::{FaultKind, FaultPlan, FaultRule};
use serde_json::Value;
use xtask::pack::{pack, repo_root, CharmSource, CHARM_FILE_NAME};

use crate::binary::CharmBinary;
use crate::cargo::{self, Profile};
use crate::options::Options;

const APP: &str = "mysql";
const OLD_REVISION: &str = "182";
const OLD_VERSION: &str = "8.0.33";
const OLD_SNAP_REVISION: &str = "57";
const UPGRADE_FAILED: &str = "upgrade failed. Check logs for rollback instruction";
const READY_TO_ROLLBACK: &str = "ready to rollback application";

/// Runs the demo with the command-line `args`.
pub fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args, &["model", "units"])?;
    let units: usize = match options.get("units") {
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| anyhow!("--units must be a positive number, not {text:?}"))?,
        None => 3,
    };
    let work = repo_root().join("target").join("juju-sim-demo");
    let model = match options.get("model") {
        Some(dir) => absolute(Path::new(dir))?,
        None => work.join("model"),
    };

    heading("Build the emulator and the charm on the test workloads");
    let charm = CharmBinary::TestWorkloads;
    let packages = ["juju-sim", charm.package()];
    println!("$ {}", cargo::command_line(&packages, Profile::Debug));
    let built = cargo::build(&packages, Profile::Debug)?;
    let juju = JujuSim {
        binary: built.path("juju-sim")?,
        model: model.clone(),
        cwd: work.clone(),
    };
    let charm_binary = built.path(charm.name())?;

    heading("Pack revision 182 (MySQL 8.0.33) and a new revision (MySQL 8.0.34)");
    let old = VersionOverrides {
        workload_version: Some(OLD_VERSION.into()),
        snap_revision: Some(OLD_SNAP_REVISION.into()),
        ..VersionOverrides::default()
    };
    pack_printed(&charm_binary, &work, OLD_REVISION, old)?;
    pack_printed(&charm_binary, &work, "new", VersionOverrides::default())?;

    println!();
    println!("juju-sim is {}", juju.binary.display());
    println!(
        "Commands run in {} with JUJU_SIM_MODEL={}",
        work.display(),
        model.display()
    );
    if model.join("model.json").exists() {
        juju.run(&["destroy"])?;
    } else if model.exists() && model.read_dir().map_or(true, |mut d| d.next().is_some()) {
        bail!(
            "{} exists and is not a juju-sim model; choose another --model",
            model.display()
        );
    }

    heading(&format!("Deploy {units} units of revision 182"));
    let old_charm = format!("./{OLD_REVISION}/{CHARM_FILE_NAME}");
    let units_text = units.to_string();
    juju.run(&[
        "deploy",
        &old_charm,
        APP,
        "-n",
        &units_text,
        "--revision",
        OLD_REVISION,
    ])?;
    juju.show_status()?;
    expect_all_active(&juju.status_json()?, 182, OLD_VERSION)?;

    heading("Upgrade, step 1: prepare (the leader becomes the primary, to upgrade last)");
    juju.run(&["run", &format!("{APP}/leader"), "pre-upgrade-check"])?;
    println!();
    println!("# Juju runs update-status every 5 minutes; juju-sim runs it when asked:");
    juju.run(&["update-status", APP])?;
    juju.show_status()?;
    expect_leader_primary(&juju.status_json()?)?;

    heading("Upgrade, step 2: refresh to the new revision; its MySQL 8.0.34 fails to start");
    let faults =
        FaultPlan::default().arm(FaultRule::new(FaultKind::StartFails).for_version("8.0.34"));
    faults
        .save(&model)
        .map_err(|err| anyhow!("arming the emulator fault: {err}"))?;
    println!(
        "# emulator fault armed in $JUJU_SIM_MODEL/mysql-faults.json: mysqld 8.0.34 fails to start"
    );
    juju.run(&["refresh", APP, &format!("--path=./new/{CHARM_FILE_NAME}")])?;
    juju.show_status()?;
    let failed = failed_units(&juju.status_json()?)?;
    ensure!(
        failed.len() == 1,
        "exactly one unit should have failed the upgrade, not {failed:?}"
    );
    juju.run(&[
        "debug-log",
        "--include",
        &failed[0],
        "--level",
        "ERROR",
        "-n",
        "3",
    ])?;

    heading("Rollback, step 1: prepare (enter the recovery state)");
    juju.run(&["run", &format!("{APP}/leader"), "pre-upgrade-check"])?;
    juju.show_status()?;
    expect_leader_ready_to_roll_back(&juju.status_json()?)?;

    heading("Rollback, step 2: refresh back to revision 182");
    juju.run(&["refresh", APP, &format!("--revision={OLD_REVISION}")])?;

    heading("Rollback, step 3: check");
    juju.show_status()?;
    expect_all_active(&juju.status_json()?, 182, OLD_VERSION)?;
    println!();
    println!(
        "Every unit is active on MySQL {OLD_VERSION} at revision {OLD_REVISION}: rolled back."
    );
    Ok(())
}

fn heading(text: &str) {
    println!();
    println!("==> {text}");
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("current directory")?
        .join(path))
}

/// Packs one revision into `<work>/<label>/`, printing the equivalent xtask command.
fn pack_printed(
    binary: &Path,
    work: &Path,
    label: &str,
    overrides: VersionOverrides,
) -> Result<()> {
    let out = work.join(label).join(CHARM_FILE_NAME);
    let mut line = format!(
        "$ cargo xtask pack --workloads test --out {}",
        display_from_repo(&out)
    );
    if let Some(version) = &overrides.workload_version {
        line.push_str(&format!(" --workload-version {version}"));
    }
    if let Some(revision) = &overrides.snap_revision {
        line.push_str(&format!(" --snap-revision {revision}"));
    }
    println!("{line}");
    let source = CharmSource {
        repo_root: repo_root(),
        binary: binary.to_path_buf(),
        overrides,
    };
    let versions = pack(&source, &out)?;
    let workload = versions.workload();
    println!(
        "Packed {} ({} {} revision {})",
        display_from_repo(&out),
        workload.name,
        workload.version,
        workload.revision
    );
    Ok(())
}

fn display_from_repo(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The `juju-sim` binary run for one model, from the directory holding the charm files.
struct JujuSim {
    binary: PathBuf,
    model: PathBuf,
    cwd: PathBuf,
}

impl JujuSim {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(&self.cwd)
            .env("JUJU_SIM_MODEL", &self.model);
        command
    }

    /// Prints `juju-sim <args>` and runs it; its output goes to the terminal.
    fn run(&self, args: &[&str]) -> Result<()> {
        println!();
        println!("$ juju-sim {}", args.join(" "));
        let status = self
            .command(args)
            .status()
            .with_context(|| format!("running {}", self.binary.display()))?;
        ensure!(
            status.success(),
            "`juju-sim {}` failed ({status})",
            args.join(" ")
        );
        Ok(())
    }

    fn show_status(&self) -> Result<()> {
        self.run(&["status"])
    }

    /// `juju-sim status --format json`, not printed: the demo's own checks.
    fn status_json(&self) -> Result<Value> {
        let output = self
            .command(&["status", "--format", "json"])
            .output()
            .with_context(|| format!("running {}", self.binary.display()))?;
        ensure!(
            output.status.success(),
            "`juju-sim status --format json` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).context("parsing juju-sim's JSON status")
    }
}

fn app(status: &Value) -> Result<&Value> {
    status
        .get("applications")
        .and_then(|apps| apps.get(APP))
        .ok_or_else(|| anyhow!("the status has no application {APP:?}"))
}

fn units(status: &Value) -> Result<Vec<(String, &Value)>> {
    let units = app(status)?
        .get("units")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("the status has no units"))?;
    Ok(units
        .iter()
        .map(|(name, unit)| (name.clone(), unit))
        .collect())
}

fn workload(unit: &Value) -> (&str, &str) {
    let status = &unit["workload-status"];
    (
        status["current"].as_str().unwrap_or_default(),
        status["message"].as_str().unwrap_or_default(),
    )
}

fn expect_all_active(status: &Value, revision: u64, version: &str) -> Result<()> {
    let app = app(status)?;
    ensure!(
        app["charm-rev"].as_u64() == Some(revision),
        "the application is at revision {}, expected {revision}",
        app["charm-rev"]
    );
    for (name, unit) in units(status)? {
        let (current, message) = workload(unit);
        ensure!(
            current == "active",
            "{name} is {current} ({message}), expected active"
        );
        let running = unit["workload-version"].as_str().unwrap_or_default();
        ensure!(
            running == version,
            "{name} runs MySQL {running:?}, expected {version}"
        );
    }
    Ok(())
}

fn failed_units(status: &Value) -> Result<Vec<String>> {
    Ok(units(status)?
        .into_iter()
        .filter(|(_, unit)| workload(unit) == ("blocked", UPGRADE_FAILED))
        .map(|(name, _)| name)
        .collect())
}

fn leader(status: &Value) -> Result<(String, &Value)> {
    units(status)?
        .into_iter()
        .find(|(_, unit)| unit["leader"].as_bool() == Some(true))
        .ok_or_else(|| anyhow!("no leader in the status"))
}

fn expect_leader_primary(status: &Value) -> Result<()> {
    let leader = leader(status)?;
    ensure!(
        workload(leader.1) == ("active", "Primary"),
        "{} shows {:?}, expected active \"Primary\"",
        leader.0,
        workload(leader.1)
    );
    Ok(())
}

fn expect_leader_ready_to_roll_back(status: &Value) -> Result<()> {
    let leader = leader(status)?;
    ensure!(
        workload(leader.1) == ("blocked", READY_TO_ROLLBACK),
        "{} shows {:?}, expected blocked {READY_TO_ROLLBACK:?}",
        leader.0,
        workload(leader.1)
    );
    Ok(())
}
