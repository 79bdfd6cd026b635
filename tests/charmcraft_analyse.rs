//! `charmcraft analyse` (PyPI charmcraft, Canonical's charm linter) on the charm as
//! `cargo xtask pack` packs it: every linter answers OK or "not applicable", none
//! warns or errs.
//!
//! charmcraft comes from the venv `scripts/python-venv charmcraft` makes
//! (`CHARMCRAFT`, set by `scripts/test`, else `<repo>/.venv-charmcraft/bin/charmcraft`).
//! The linters read the archive's files (`dispatch` and its entrypoint, the YAML
//! files), which are the same for every binary the pack puts at `bin/mysql-charm`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use xtask::pack::{pack, repo_root, CharmSource, CHARM_FILE_NAME};

fn charmcraft() -> PathBuf {
    let path = std::env::var_os("CHARMCRAFT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-charmcraft/bin/charmcraft"));
    assert!(
        path.is_file(),
        "no charmcraft at {}: run `bash scripts/python-venv charmcraft` or set CHARMCRAFT",
        path.display()
    );
    path
}

/// Runs `command`, killing it after `limit`.
fn run_with_timeout(mut command: Command, limit: Duration) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("charmcraft starts");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait on charmcraft").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("charmcraft analyse did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("charmcraft output")
}

#[test]
fn charmcraft_analyse_finds_no_warning_or_error_in_the_packed_charm() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let charm = scratch.path().join(CHARM_FILE_NAME);
    let source = CharmSource::from_this_repo(env!("CARGO_BIN_EXE_e2e-mysql-charm"));
    pack(&source, &charm).expect("pack the charm");

    let mut command = Command::new(charmcraft());
    command
        .arg("analyse")
        .arg("--format=json")
        .arg(&charm)
        .current_dir(scratch.path())
        // charmcraft keeps its state and logs under these; keep them in the scratch dir.
        .env("HOME", scratch.path())
        .env("XDG_RUNTIME_DIR", scratch.path());
    let output = run_with_timeout(command, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let results: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("charmcraft analyse printed no JSON ({err}):\n{stdout}\n{stderr}")
    });
    let results = results.as_array().expect("a list of linter results");
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    for expected in ["entrypoint", "metadata", "juju-actions", "juju-config"] {
        assert!(
            names.contains(&expected),
            "no {expected} linter in {names:?}"
        );
    }
    let bad: Vec<&Value> = results
        .iter()
        .filter(|r| {
            // charmcraft's LintResult values; "unknown" is an attribute it could not
            // name (the language of a non-Python charm), not a finding.
            let result = r["result"].as_str().unwrap_or("");
            matches!(result, "warning" | "error" | "fatal")
        })
        .collect();
    assert!(
        bad.is_empty(),
        "charmcraft analyse found problems: {bad:#?}"
    );
    assert!(
        output.status.success(),
        "charmcraft analyse exited {}:\n{stdout}\n{stderr}",
        output.status
    );
}
