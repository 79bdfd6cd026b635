//! Building the workspace's binaries with the `cargo` that runs this xtask, and finding them
//! from cargo's own report (so a custom target directory works too).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

/// Which cargo profile to build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `dev`.
    Debug,
    /// `release`.
    Release,
}

/// Binaries built, by name.
#[derive(Debug, Default)]
pub struct Built(BTreeMap<String, PathBuf>);

impl Built {
    /// The path of the binary `name`.
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("cargo did not report building the binary {name:?}"))
    }
}

/// The cargo command line for `packages`, as printed to the user.
pub fn command_line(packages: &[&str], profile: Profile) -> String {
    let mut line = String::from("cargo build");
    for package in packages {
        line.push_str(&format!(" -p {package}"));
    }
    if profile == Profile::Release {
        line.push_str(" --release");
    }
    line
}

/// Builds the binaries of `packages` and returns where they are.
pub fn build(packages: &[&str], profile: Profile) -> Result<Built> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["build", "--message-format=json-render-diagnostics"]);
    for package in packages {
        command.args(["-p", package]);
    }
    if profile == Profile::Release {
        command.arg("--release");
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("running cargo build")?;
    let mut built = Built::default();
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.context("reading cargo's output")?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if message["reason"] != "compiler-artifact" {
                continue;
            }
            if let (Some(name), Some(executable)) = (
                message["target"]["name"].as_str(),
                message["executable"].as_str(),
            ) {
                built.0.insert(name.to_owned(), PathBuf::from(executable));
            }
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("`{}` failed ({status})", command_line(packages, profile));
    }
    Ok(built)
}
