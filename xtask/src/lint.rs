//! `charmcraft analyse` (PyPI charmcraft, Canonical's charm linter) on a packed charm, for
//! the tests of every charm this repository packs.
//!
//! charmcraft comes from the venv `scripts/python-venv charmcraft` makes: `CHARMCRAFT`
//! (set by `scripts/test`), else `<repo>/.venv-charmcraft/bin/charmcraft`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pack::repo_root;

/// How long one `charmcraft analyse` may take before it is killed.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Why the linter could not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("no charmcraft at {0}: run `bash scripts/python-venv charmcraft` or set CHARMCRAFT")]
    Missing(PathBuf),
    #[error("running charmcraft: {0}")]
    Io(#[from] std::io::Error),
    #[error("charmcraft analyse did not finish in {0:?}")]
    TimedOut(Duration),
    #[error("charmcraft analyse printed no JSON ({error}):\n{stdout}\n{stderr}")]
    Output {
        error: serde_json::Error,
        stdout: String,
        stderr: String,
    },
}

/// One linter's answer, as `charmcraft analyse --format=json` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The linter (`entrypoint`, `metadata`, ...).
    pub name: String,
    /// charmcraft's `LintResult`: ok, warning, error, fatal, ignored, unknown, nonapplicable.
    pub result: String,
    /// What it says.
    pub text: String,
}

impl Finding {
    /// A warning, an error or a fatal result; "unknown" is an attribute charmcraft cannot
    /// name (the language of a charm not written in Python), not a finding.
    pub fn is_problem(&self) -> bool {
        matches!(self.result.as_str(), "warning" | "error" | "fatal")
    }
}

/// The charmcraft the tests run.
pub fn charmcraft() -> PathBuf {
    std::env::var_os("CHARMCRAFT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-charmcraft/bin/charmcraft"))
}

/// Every linter's answer on `charm`, and whether charmcraft exited 0. charmcraft's state
/// and logs go to `scratch`.
pub fn analyse(charm: &Path, scratch: &Path) -> Result<(Vec<Finding>, bool), LintError> {
    let charmcraft = charmcraft();
    if !charmcraft.is_file() {
        return Err(LintError::Missing(charmcraft));
    }
    let mut child = Command::new(charmcraft)
        .arg("analyse")
        .arg("--format=json")
        .arg(charm)
        .current_dir(scratch)
        .env("HOME", scratch)
        .env("XDG_RUNTIME_DIR", scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LintError::TimedOut(TIMEOUT));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let parsed: Value = match serde_json::from_str(&stdout) {
        Ok(value) => value,
        Err(error) => {
            return Err(LintError::Output {
                error,
                stdout,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    };
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let findings = parsed
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| Finding {
                    name: text(r, "name"),
                    result: text(r, "result"),
                    text: text(r, "text"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((findings, output.status.success()))
}

/// Panics (for a test) unless every linter ran on `charm` and none warns or errs.
pub fn assert_clean(charm: &Path) {
    let scratch = tempfile::tempdir().expect("scratch dir for charmcraft");
    let (findings, exited_ok) = analyse(charm, scratch.path()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = findings.iter().map(|f| f.name.as_str()).collect();
    for expected in ["entrypoint", "metadata", "juju-actions", "juju-config"] {
        assert!(
            names.contains(&expected),
            "no {expected} linter in {names:?}"
        );
    }
    let problems: Vec<&Finding> = findings.iter().filter(|f| f.is_problem()).collect();
    assert!(
        problems.is_empty(),
        "charmcraft analyse found: {problems:#?}"
    );
    assert!(
        exited_ok,
        "charmcraft analyse exited non-zero: {findings:#?}"
    );
}
