//! `cargo xtask`: developer commands for the MySQL charm.
//!
//! - `cargo xtask pack [--out PATH] [--workload-version V] [--snap-revision R]
//!   [--charm-version V] [--upgrade-supported RANGE] [--profile debug|release]
//!   [--workloads production|test]`
//! - `cargo xtask pack --charm minimal [--out PATH] [--workload-version V]
//!   [--upgrade-supported RANGE] [--profile debug|release]`: the example charm
//! - `cargo xtask demo [--model DIR] [--units N]`

mod binary;
mod cargo;
mod demo;
mod options;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use mysql_charm::versions::{VersionOverrides, Versions};
use xtask::pack::{pack, repo_root, CharmSource, CHARM_FILE_NAME};

use binary::CharmBinary;
use cargo::Profile;
use options::Options;

const USAGE: &str = "\
usage:
  cargo xtask pack [--out PATH] [--workload-version V] [--snap-revision R]
                   [--charm-version V] [--upgrade-supported RANGE] [--profile debug|release]
                   [--workloads production|test]
      Build the charm binary and write a .charm archive (default: ./mysql_ubuntu-22.04-amd64.charm).
        --workloads  production (default): the charm on the charmed-mysql snap;
                     test: the charm on juju-sim's test workloads (an emulated MySQL
                     cluster, or a real MariaDB server per unit), to deploy on juju-sim
      The version flags change the versions.json shipped in the archive:
        --workload-version   MySQL version installed (also the `snap` component's version)
        --snap-revision      charmed-mysql snap revision installed
        --charm-version      the `charm` component's version
        --upgrade-supported  the `snap` component's range of versions it upgrades from
  cargo xtask pack --charm minimal [--out PATH] [--workload-version V]
                   [--upgrade-supported RANGE] [--profile debug|release]
      Build and pack the example charm, examples/minimal-charm (default:
      ./minimal-kv_ubuntu-22.04-amd64.charm); --workload-version is the kv version it
      installs, --upgrade-supported the kv versions it upgrades from.
  cargo xtask demo [--model DIR] [--units N]
      Run the how-to's rollback on the juju-sim emulator, printing each command and the
      status after each step (default model: target/juju-sim-demo/model, 3 units).
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let outcome = match command.as_str() {
        "pack" => run_pack(&rest),
        "demo" => demo::run(&rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ERROR {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

fn run_pack(args: &[String]) -> Result<()> {
    let options = Options::parse(
        args,
        &[
            "out",
            "workload-version",
            "snap-revision",
            "charm-version",
            "upgrade-supported",
            "profile",
            "workloads",
            "charm",
        ],
    )?;
    match options.get("charm") {
        None | Some("mysql") => {}
        Some("minimal") => return run_pack_minimal(&options),
        Some(other) => bail!("--charm must be mysql or minimal, not {other:?}"),
    }
    let charm = CharmBinary::from_option(options.get("workloads"))?;
    let profile = match options.get("profile") {
        None | Some("debug") => Profile::Debug,
        Some("release") => Profile::Release,
        Some(other) => bail!("--profile must be debug or release, not {other:?}"),
    };
    let overrides = VersionOverrides {
        workload_version: options.get("workload-version").map(str::to_owned),
        snap_revision: options.get("snap-revision").map(str::to_owned),
        charm_version: options.get("charm-version").map(str::to_owned),
        upgrade_supported: options.get("upgrade-supported").map(str::to_owned),
    };
    let out = options
        .get("out")
        .map_or_else(|| PathBuf::from(CHARM_FILE_NAME), PathBuf::from);
    // Refuse bad versions before spending a build on them.
    Versions::load(&repo_root())?.with_overrides(&overrides)?;
    let binaries = cargo::build(&[charm.package()], profile)?;
    let binary = binaries.path(charm.name())?;
    let source = CharmSource {
        repo_root: repo_root(),
        binary,
        overrides,
    };
    let versions = pack(&source, &out)?;
    let workload = versions.workload();
    println!(
        "Packed {} ({} {} revision {}, binary {})",
        out.display(),
        workload.name,
        workload.version,
        workload.revision,
        charm.name()
    );
    Ok(())
}

/// `cargo xtask pack --charm minimal`: the example charm.
fn run_pack_minimal(options: &Options) -> Result<()> {
    use xtask::minimal::{self, MinimalOverrides};
    for mysql_only in ["snap-revision", "charm-version", "workloads"] {
        if options.get(mysql_only).is_some() {
            bail!("--{mysql_only} is for the MySQL charm, not --charm minimal");
        }
    }
    let profile = match options.get("profile") {
        None | Some("debug") => Profile::Debug,
        Some("release") => Profile::Release,
        Some(other) => bail!("--profile must be debug or release, not {other:?}"),
    };
    let overrides = MinimalOverrides {
        kv_version: options.get("workload-version").map(str::to_owned),
        upgrade_supported: options.get("upgrade-supported").map(str::to_owned),
    };
    let out = options
        .get("out")
        .map_or_else(|| PathBuf::from(minimal::CHARM_FILE_NAME), PathBuf::from);
    // Refuse bad versions before spending a build on them.
    minimal::dependencies(&minimal::charm_dir(), &overrides)?;
    let binaries = cargo::build(&[minimal::PACKAGE], profile)?;
    let binary = binaries.path(minimal::PACKAGE)?;
    let model = minimal::pack(&binary, &overrides, &out)?;
    let kv = model
        .get("kv")
        .map(|kv| (kv.version.as_str(), kv.upgrade_supported.as_str()));
    let (version, range) = kv.unwrap_or(("?", "?"));
    println!(
        "Packed {} (kv {version}, upgrades from {range}, binary {})",
        out.display(),
        minimal::PACKAGE
    );
    Ok(())
}

/// The error and its causes, leaving out a cause whose text the message already quotes.
fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
