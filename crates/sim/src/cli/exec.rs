//! `juju exec --unit U -- CMD`: runs a command on the unit's machine — here
//! with `sh -c` in its machine directory (`JUJU_SIM_MACHINE_DIR`), the
//! directory the unit's workload keeps its files in — so a test can stop a
//! unit's server the way an operator would. The command gets no hook
//! context (hook tools do not work in it). It is killed when it outlives
//! `--wait` (Juju's default: 5 minutes), and the result is Juju 3's task
//! document.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};

use super::{format, DataFormat, TaskFormat};
use crate::model::{Model, ModelDir};

/// What to run where.
pub struct Request {
    /// `--unit` values.
    pub units: Vec<String>,
    /// `--machine` values.
    pub machines: Vec<String>,
    /// The command words (joined with spaces for `sh -c`, as Juju does).
    pub command: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
}

/// A Go duration (`60s`, `500ms`, `1h30m`), as `--wait` takes it.
pub fn parse_duration(text: &str) -> Result<Duration> {
    crate::duration::parse(text).map_err(|e| anyhow!(e))
}

/// Runs the request and prints the result; returns the exit code.
pub fn run(dir: &ModelDir, model: &Model, request: &Request, output: TaskFormat) -> Result<i32> {
    if request.units.len() + request.machines.len() != 1 {
        bail!("juju-sim runs exec on exactly one --unit or --machine");
    }
    let (key, machine) = match (request.units.first(), request.machines.first()) {
        (Some(target), _) => {
            let unit = resolve_unit(model, target)?;
            let machine = model
                .units
                .get(&unit)
                .map(|u| u.machine.clone())
                .unwrap_or_default();
            (unit, machine)
        }
        (None, Some(machine)) => {
            if !model.units.values().any(|u| &u.machine == machine) {
                bail!("machine {machine:?} not found");
            }
            (machine.clone(), machine.clone())
        }
        (None, None) => bail!("juju-sim runs exec on exactly one --unit or --machine"),
    };
    let machine_dir = dir.machine_dir(&machine);
    std::fs::create_dir_all(&machine_dir)
        .with_context(|| format!("creating {}", machine_dir.display()))?;
    let script = request.command.join(" ");
    let outcome = run_shell(&script, &machine_dir, &key, request.timeout)?;
    let Some((code, stdout, stderr)) = outcome else {
        eprintln!(
            "ERROR timed out waiting for results from: {key} (after {:?}); the command was killed",
            request.timeout
        );
        return Ok(1);
    };
    let mut results = Map::new();
    results.insert("return-code".into(), json!(code));
    if !stdout.is_empty() {
        results.insert("stdout".into(), json!(stdout));
    }
    if !stderr.is_empty() {
        results.insert("stderr".into(), json!(stderr));
    }
    let status = if code == 0 { "completed" } else { "failed" };
    let task = json!({
        "id": format!("exec-{}", model.next_task),
        "results": results,
        "status": status,
        "unit": key,
    });
    match output {
        TaskFormat::Plain => {
            print!("{stdout}");
            eprint!("{stderr}");
        }
        TaskFormat::Json | TaskFormat::Yaml => {
            let mut doc = Map::new();
            doc.insert(key.clone(), task);
            let data = if output == TaskFormat::Json {
                DataFormat::Json
            } else {
                DataFormat::Yaml
            };
            print!("{}", format::data(&Value::Object(doc), data)?);
        }
    }
    if code != 0 {
        eprintln!("ERROR the following task failed:\n id on {key} with return code {code}");
        return Ok(1);
    }
    Ok(0)
}

/// `app/leader` or `app/N` as a unit that exists.
fn resolve_unit(model: &Model, target: &str) -> Result<String> {
    let name = match target.strip_suffix("/leader") {
        Some(app) => model
            .applications
            .get(app)
            .ok_or_else(|| anyhow!("application {app:?} not found"))?
            .leader
            .clone()
            .ok_or_else(|| anyhow!("application {app:?} has no leader"))?,
        None => target.to_string(),
    };
    if !model.units.contains_key(&name) {
        bail!("unit {name:?} not found");
    }
    Ok(name)
}

/// Runs `sh -c script` in `cwd` in its own process group; `None` when it timed out (and was
/// killed). Output goes to files, not pipes, so a server the command starts in the background
/// cannot keep this waiting.
fn run_shell(
    script: &str,
    cwd: &std::path::Path,
    unit: &str,
    timeout: Duration,
) -> Result<Option<(i32, String, String)>> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let base = std::env::temp_dir().join(format!("juju-sim-exec-{}-{stamp}", std::process::id()));
    let out_path = base.with_extension("out");
    let err_path = base.with_extension("err");
    let result = (|| {
        let stdout = std::fs::File::create(&out_path).context("creating the output file")?;
        let stderr = std::fs::File::create(&err_path).context("creating the output file")?;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .current_dir(cwd)
            .env("JUJU_SIM_MACHINE_DIR", cwd)
            .env("JUJU_UNIT_NAME", unit)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .context("starting /bin/sh")?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for the command")? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                // SAFETY: signals the process group this function started; no memory is involved.
                unsafe {
                    libc::kill(-(child.id() as i32), libc::SIGKILL);
                }
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |path: &std::path::Path| {
            let mut text = String::new();
            if let Ok(mut file) = std::fs::File::open(path) {
                let _ = file.read_to_string(&mut text);
            }
            text
        };
        Ok(status.map(|s| (s.code().unwrap_or(-1), read(&out_path), read(&err_path))))
    })();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_outlives_its_wait_is_killed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = run_shell("sleep 5", tmp.path(), "a/0", Duration::from_millis(100)).unwrap();
        assert_eq!(out, None);
        let out = run_shell("echo hi; exit 3", tmp.path(), "a/0", Duration::from_secs(5)).unwrap();
        assert_eq!(out, Some((3, "hi\n".to_string(), String::new())));
    }
}
