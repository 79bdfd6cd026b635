//! Background agents: a model whose setting `juju-sim-agents` is `background`
//! runs its units' operations in a process of its own, one operation at a
//! time, so commands return as `juju`'s do (`run` waits for its task) and
//! `status` shows the model as it changes.
//!
//! One agent per model (it holds `.agent.lock` in the model directory),
//! started by the first command that leaves work behind, gone when the model
//! has been idle for a while or is destroyed. It keeps nothing but its retry
//! budget in memory: the model directory is the source of truth, every
//! operation is taken under the model lock and saved, so a killed agent loses
//! at most the operation it was running (which runs again, as after a killed
//! unit agent). `juju-sim-operation-delay` (a duration) paces it, as slower
//! real agents would be; `settle` still runs everything at once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::engine::{Engine, EngineOptions};
use crate::model::Model;

/// The model setting that turns background agents on (`background`) or off.
pub const AGENTS_KEY: &str = "juju-sim-agents";
/// The model setting pacing the agent: a pause after each operation, e.g. `100ms`.
pub const DELAY_KEY: &str = "juju-sim-operation-delay";

/// How long an agent with nothing to do stays.
const IDLE_EXIT: Duration = Duration::from_secs(2);
/// How often an idle agent looks for work.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How long stopping an agent may take before giving up.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const LOCK_FILE: &str = ".agent.lock";
const PID_FILE: &str = ".agent.pid";

/// True when `model` runs its operations in a background agent.
pub fn is_background(model: &Model) -> bool {
    model.config.get(AGENTS_KEY).and_then(|v| v.as_str()) == Some("background")
}

/// The pause after each operation.
fn delay(model: &Model) -> Duration {
    model
        .config
        .get(DELAY_KEY)
        .and_then(|v| v.as_str())
        .and_then(|text| super::exec::parse_duration(text).ok())
        .unwrap_or(Duration::ZERO)
}

/// Takes the agent lock without waiting; `None` when another agent holds it.
fn try_lock(dir: &Path) -> Result<Option<File>> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    Ok((rc == 0).then_some(file))
}

/// Starts the model's agent unless one runs already.
pub fn ensure_running(dir: &Path) -> Result<()> {
    match try_lock(dir)? {
        // Released at once: the new agent takes it.
        Some(lock) => drop(lock),
        None => return Ok(()),
    }
    let exe = std::env::current_exe().context("finding the juju-sim binary")?;
    Command::new(exe)
        .arg("--model")
        .arg(dir)
        .arg("agent")
        .env_remove("JUJU_SIM_MODEL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting the model's agent")?;
    Ok(())
}

/// Stops the model's agent, if one runs, and waits until it is gone.
pub fn stop(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        if let Some(lock) = try_lock(dir)? {
            drop(lock);
            return Ok(());
        }
        // The lock is held, so the pid file names the live agent.
        if let Some(pid) = std::fs::read_to_string(dir.join(PID_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 0)
        {
            // SAFETY: sends a signal; no memory is involved.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!("the model's agent did not stop within {STOP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The agent: runs the model's operations one at a time until it has been idle for
/// [`IDLE_EXIT`], the model is gone, or background agents are turned off.
pub fn run(dir: &Path) -> Result<i32> {
    let Some(mut lock) = try_lock(dir)? else {
        return Ok(0);
    };
    std::fs::write(dir.join(PID_FILE), format!("{}\n", std::process::id()))
        .context("writing the agent's pid file")?;
    let mut retries: HashMap<String, u32> = HashMap::new();
    let mut idle_since: Option<Instant> = None;
    loop {
        match step(dir, &mut retries)? {
            Step::Gone => return Ok(0),
            Step::Ran(pause) => {
                idle_since = None;
                std::thread::sleep(pause);
            }
            Step::Idle => {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() < IDLE_EXIT {
                    std::thread::sleep(IDLE_POLL);
                    continue;
                }
                // Leave, unless a command left work just as the lock was released
                // (it saw this agent running and started none).
                drop(lock);
                match step(dir, &mut retries)? {
                    Step::Ran(_) => match try_lock(dir)? {
                        Some(again) => {
                            lock = again;
                            idle_since = None;
                        }
                        None => return Ok(0),
                    },
                    Step::Idle | Step::Gone => return Ok(0),
                }
            }
        }
    }
}

enum Step {
    /// One operation ran; pause this long.
    Ran(Duration),
    /// Nothing to run now.
    Idle,
    /// The model is gone or runs in the foreground now.
    Gone,
}

fn step(dir: &Path, retries: &mut HashMap<String, u32>) -> Result<Step> {
    let Some(mut engine) = Engine::open_existing(dir, EngineOptions::default())? else {
        return Ok(Step::Gone);
    };
    if !is_background(engine.model()) {
        return Ok(Step::Gone);
    }
    let pause = delay(engine.model());
    Ok(match engine.step_within(retries)? {
        Some(_) => Step::Ran(pause),
        None => Step::Idle,
    })
}
