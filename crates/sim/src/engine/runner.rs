//! Running one hook or action process, and the kill-agent fault.
//!
//! [`ProcessRunner`] is the seam between the engine and the operating
//! system: [`SystemRunner`] execs the handler for real (own process group,
//! environment from scratch, stdin `/dev/null`, output captured); tests of the
//! scheduler can substitute a runner that edits the context file itself.
//!
//! The kill-agent fault is deterministic without any help from the hook
//! tools: for that run, `PATH` starts with a trap directory whose tool entries
//! are small `sh` wrappers that call the real tool, count the call, and on the
//! N-th call kill the hook's whole process group before returning to it, so
//! the hook cannot do anything after its N-th tool call.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One process to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// The handler (`dispatch`, `hooks/<name>` or `actions/<name>`).
    pub program: PathBuf,
    /// Working directory (the charm directory).
    pub cwd: PathBuf,
    /// The complete environment (nothing is inherited).
    pub env: BTreeMap<String, String>,
    /// The context file (also in `env` as `JUJU_SIM_CONTEXT`).
    pub context_file: PathBuf,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl Exit {
    /// True for exit code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// Juju's wording: `exit status N` or `signal: killed`-style text.
    pub fn describe(self) -> String {
        match self {
            Exit::Code(code) => format!("exit status {code}"),
            Exit::Signal(libc::SIGKILL) => "signal: killed".to_string(),
            Exit::Signal(signal) => format!("signal: {signal}"),
        }
    }

    /// The `return-code` Juju records for an action.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(signal) => 128 + signal,
        }
    }
}

/// What the process did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// Its exit.
    pub exit: Exit,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// A problem worth a warning in the debug log (e.g. a leftover process kept the output open).
    pub warning: Option<String>,
}

/// Runs hook and action processes.
pub trait ProcessRunner {
    /// Runs the request to completion.
    fn run(&mut self, request: &RunRequest) -> std::io::Result<RunOutput>;
}

/// Runs processes for real.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

/// How long to keep reading output after the process exited, in case a
/// process it started in the background still holds the pipes.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

impl ProcessRunner for SystemRunner {
    fn run(&mut self, request: &RunRequest) -> std::io::Result<RunOutput> {
        let mut child = Command::new(&request.program)
            .current_dir(&request.cwd)
            .env_clear()
            .envs(&request.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so the kill fault can take the hook and its children.
            .process_group(0)
            .spawn()?;
        let stdout = child.stdout.take().map(spawn_reader);
        let stderr = child.stderr.take().map(spawn_reader);
        let status = child.wait()?;
        let exit = match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        };
        let mut warning = None;
        let mut collect = |reader: Option<Reader>| -> Vec<u8> {
            let Some((buffer, done)) = reader else {
                return Vec::new();
            };
            if done.recv_timeout(OUTPUT_GRACE).is_err() {
                warning = Some(
                    "a process started by the hook still holds its stdout/stderr open".to_string(),
                );
            }
            buffer.lock().map(|b| b.clone()).unwrap_or_default()
        };
        let stdout = collect(stdout);
        let stderr = collect(stderr);
        Ok(RunOutput {
            exit,
            stdout,
            stderr,
            warning,
        })
    }
}

type Reader = (Arc<Mutex<Vec<u8>>>, mpsc::Receiver<()>);

fn spawn_reader(mut pipe: impl Read + Send + 'static) -> Reader {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = mpsc::channel();
    let shared = Arc::clone(&buffer);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut b) = shared.lock() {
                        b.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
        let _ = done_tx.send(());
    });
    (buffer, done_rx)
}

/// Makes sure `tools_dir` holds a symlink named after each tool, pointing at `binary`.
pub fn install_tool_links(tools_dir: &Path, binary: &Path, names: &[&str]) -> std::io::Result<()> {
    fs::create_dir_all(tools_dir)?;
    for name in names {
        let link = tools_dir.join(name);
        if fs::read_link(&link).is_ok_and(|target| target == binary) {
            continue;
        }
        if fs::symlink_metadata(&link).is_ok() {
            fs::remove_file(&link)?;
        }
        symlink(binary, &link)?;
    }
    Ok(())
}

/// An armed kill-agent trap for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillTrap {
    /// Goes first on `PATH` instead of the unit's tools directory.
    pub path_dir: PathBuf,
    /// Written by the wrapper just before it kills the process group.
    pub fired_marker: PathBuf,
}

impl KillTrap {
    /// True when the trap killed the run.
    pub fn fired(&self) -> bool {
        self.fired_marker.exists()
    }
}

/// Builds a fresh trap directory under `dir`: wrappers named after each tool
/// that kill the hook's process group after the `after`-th tool call.
pub fn prepare_kill_trap(
    dir: &Path,
    binary: &Path,
    names: &[&str],
    after: u32,
) -> std::io::Result<KillTrap> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    let real = dir.join("real");
    let wrappers = dir.join("bin");
    install_tool_links(&real, binary, names)?;
    fs::create_dir_all(&wrappers)?;
    let counter = dir.join("calls");
    let marker = dir.join("fired");
    for name in names {
        let script = format!(
            "#!/bin/sh\n\
             # juju-sim kill-agent fault: run the real tool, count the call, and on\n\
             # call {after} kill the whole hook process group before returning to it.\n\
             {real} \"$@\"\n\
             rc=$?\n\
             n=$(cat {counter} 2>/dev/null || echo 0)\n\
             n=$((n + 1))\n\
             echo \"$n\" > {counter}\n\
             if [ \"$n\" -ge {after} ]; then\n\
             \x20 echo fired > {marker}\n\
             \x20 kill -9 0\n\
             fi\n\
             exit $rc\n",
            real = shell_quote(&real.join(name)),
            counter = shell_quote(&counter),
            marker = shell_quote(&marker),
        );
        let path = wrappers.join(name);
        fs::write(&path, script)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
    }
    Ok(KillTrap {
        path_dir: wrappers,
        fired_marker: marker,
    })
}

/// Single-quotes a path for `sh`.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path, script: &str, env: &[(&str, &str)]) -> RunRequest {
        let program = dir.join("prog");
        fs::write(&program, script).unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        RunRequest {
            program,
            cwd: dir.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            context_file: dir.join("ctx.json"),
        }
    }

    #[test]
    fn environment_is_built_from_scratch_and_output_captured() {
        let tmp = tempfile::tempdir().unwrap();
        let req = request(
            tmp.path(),
            "#!/bin/sh\necho \"A=$A HOME=${HOME:-unset}\"\necho oops >&2\nread x && echo got-input\nexit 3\n",
            &[("A", "1"), ("PATH", "/usr/bin:/bin")],
        );
        let out = SystemRunner.run(&req).unwrap();
        assert_eq!(out.exit, Exit::Code(3));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "A=1 HOME=unset\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
        assert_eq!(out.exit.describe(), "exit status 3");
    }

    #[test]
    fn kill_trap_stops_the_hook_after_the_nth_tool_call() {
        let tmp = tempfile::tempdir().unwrap();
        // A stand-in "tool binary": prints its name.
        let tool = tmp.path().join("tool");
        fs::write(&tool, "#!/bin/sh\necho \"tool $(basename \"$0\") $*\"\n").unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        let trap = prepare_kill_trap(
            &tmp.path().join("trap"),
            &tool,
            &["juju-log", "is-leader"],
            2,
        )
        .unwrap();
        let path = format!("{}:/usr/bin:/bin", trap.path_dir.display());
        let marker = tmp.path().join("after");
        let script = format!(
            "#!/bin/sh\njuju-log one\nis-leader\ntouch {}\n",
            marker.display()
        );
        let req = request(tmp.path(), &script, &[("PATH", &path)]);
        let out = SystemRunner.run(&req).unwrap();
        assert_eq!(out.exit, Exit::Signal(libc::SIGKILL));
        assert!(trap.fired());
        assert!(!marker.exists(), "nothing runs after the N-th tool call");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "tool juju-log one\ntool is-leader \n"
        );
    }

    #[test]
    fn tool_links_point_at_the_binary() {
        let tmp = tempfile::tempdir().unwrap();
        let binary = tmp.path().join("bin");
        fs::write(&binary, "").unwrap();
        install_tool_links(&tmp.path().join("tools"), &binary, &["a", "b"]).unwrap();
        install_tool_links(&tmp.path().join("tools"), &binary, &["a", "b"]).unwrap();
        assert_eq!(fs::read_link(tmp.path().join("tools/b")).unwrap(), binary);
    }
}
