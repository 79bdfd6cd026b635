//! Running a captured hook again, as often as needed, with exactly the inputs it had.
//!
//! A [`Replay`] is one captured process (the unit's charm directory, its `dispatch`, the
//! environment the engine built, the unit's tool links on `PATH`) and its starting hook
//! context, optionally grown to more units ([`crate::synth`]). Each run first writes that
//! context afresh to a scratch file the process is pointed at (`JUJU_SIM_CONTEXT`), so every
//! run reads the same peer data and its writes are thrown away; the emulated servers live in
//! a scratch model directory (`JUJU_SIM_MODEL_DIR`). Nothing of the model changes, so runs
//! can be repeated and compared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use juju_sim::context::HookContext;

use crate::capture::{tool_calls_in, Capture, PEER_CACHE_DIR};
use crate::error::BenchError;
use crate::measure::{self, Spawn, Traced, Usage};
use crate::synth;

/// Names the file the benchmark's hook-tool binary appends each call to, when set.
pub const TOOL_LOG_VAR: &str = "UPGRADE_BENCH_TOOL_LOG";

/// A captured hook ready to run again.
#[derive(Debug)]
pub struct Replay {
    scratch: tempfile::TempDir,
    /// The replay's own copy of the unit's charm directory, so that the peer cache a run
    /// writes there stays out of the model.
    charm_dir: PathBuf,
    /// The peer cache files each run starts with (by name in `peer-cache/`).
    peer_cache: Vec<(String, Vec<u8>)>,
    spawn: Spawn,
    launcher: PathBuf,
    context_path: PathBuf,
    context_text: Vec<u8>,
    /// Units in the application the hook sees.
    pub units: usize,
    /// The hook's unit.
    pub unit: String,
}

/// One measured run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// What the process cost.
    pub usage: Usage,
    /// Hook-tool calls it made.
    pub tool_calls: u64,
}

impl Replay {
    /// `capture` grown to `units` units (the captured size keeps the context as it was).
    /// The emulated servers as they were when the hook ran are copied, and grown, into the
    /// scratch model.
    /// Timed runs go through `launcher` (the `bench-launch` binary, see [`measure::run`]).
    pub fn new(capture: &Capture, units: usize, launcher: &Path) -> Result<Replay, BenchError> {
        let model_dir = capture
            .request
            .env
            .get("JUJU_SIM_MODEL_DIR")
            .map(PathBuf::from)
            .ok_or_else(|| BenchError::Flow("the hook has no JUJU_SIM_MODEL_DIR".to_owned()))?;
        let model_dir = model_dir.as_path();
        let grown = synth::grow(&capture.before, units)?;
        let scratch = tempfile::Builder::new()
            .prefix("upgrade-bench-replay-")
            .tempdir()
            .map_err(BenchError::io(std::env::temp_dir()))?;
        synth::grow_servers(
            &capture.servers,
            scratch.path(),
            &grown.template,
            &grown.added,
        )?;
        let context_path = scratch.path().join("context.json");
        let context_text = serde_json::to_vec_pretty(&grown.context)
            .map_err(BenchError::json("grown hook context"))?;
        let peer_cache =
            synth::grow_peer_cache(&capture.peer_cache, &capture.before, &grown.context)?;
        let charm_dir = scratch.path().join("charm");
        copy_tree(&capture.request.cwd, &charm_dir)?;
        let mut env = capture.request.env.clone();
        for var in ["JUJU_CHARM_DIR", "CHARM_DIR"] {
            env.insert(var.into(), path_text(&charm_dir));
        }
        let machine = machine_dir(&env, model_dir, scratch.path());
        std::fs::create_dir_all(&machine).map_err(BenchError::io(&machine))?;
        env.insert("JUJU_SIM_CONTEXT".into(), path_text(&context_path));
        env.insert("JUJU_SIM_MODEL_DIR".into(), path_text(scratch.path()));
        env.insert("JUJU_SIM_MACHINE_DIR".into(), path_text(&machine));
        let program = match capture.request.program.strip_prefix(&capture.request.cwd) {
            Ok(relative) => charm_dir.join(relative),
            Err(_) => capture.request.program.clone(),
        };
        let spawn = Spawn {
            program,
            args: Vec::new(),
            cwd: charm_dir.clone(),
            env,
            stderr: scratch.path().join("stderr"),
        };
        Ok(Replay {
            spawn,
            launcher: launcher.to_path_buf(),
            context_path,
            context_text,
            units,
            unit: capture.before.unit.clone(),
            scratch,
            charm_dir,
            peer_cache,
        })
    }

    /// The same process for another hook of the same unit (e.g. one the charm ignores, to
    /// see what merely starting it costs), about `remote_unit` when given.
    pub fn as_hook(&self, hook: &str, remote_unit: Option<&str>) -> Result<Replay, BenchError> {
        let scratch = tempfile::Builder::new()
            .prefix("upgrade-bench-replay-")
            .tempdir()
            .map_err(BenchError::io(std::env::temp_dir()))?;
        let mut context: HookContext =
            serde_json::from_slice(&self.context_text).map_err(BenchError::json("hook context"))?;
        context.hook = Some(hook.to_owned());
        let mut spawn = self.spawn.clone();
        spawn
            .env
            .insert("JUJU_DISPATCH_PATH".into(), format!("hooks/{hook}"));
        spawn.env.insert("JUJU_HOOK_NAME".into(), hook.to_owned());
        if let Some(remote) = remote_unit {
            spawn
                .env
                .insert("JUJU_REMOTE_UNIT".into(), remote.to_owned());
            context.remote_unit = Some(remote.to_owned());
        }
        let context_path = scratch.path().join("context.json");
        let context_text =
            serde_json::to_vec_pretty(&context).map_err(BenchError::json("hook context"))?;
        spawn
            .env
            .insert("JUJU_SIM_CONTEXT".into(), path_text(&context_path));
        spawn.stderr = scratch.path().join("stderr");
        Ok(Replay {
            spawn,
            launcher: self.launcher.clone(),
            context_path,
            context_text,
            units: self.units,
            unit: self.unit.clone(),
            scratch,
            charm_dir: self.charm_dir.clone(),
            peer_cache: self.peer_cache.clone(),
        })
    }

    /// Runs the hook once, timed.
    pub fn run(&self) -> Result<Measured, BenchError> {
        self.reset()?;
        let usage = measure::run(&self.spawn, &self.launcher)?;
        self.finish(usage)
    }

    /// Runs the hook once under `ptrace`: its own memory (the charm's process, tools left
    /// out) and its tool calls.
    pub fn run_traced(&self) -> Result<(Traced, u64), BenchError> {
        self.reset()?;
        let traced = measure::run_traced(&self.spawn)?;
        let measured = self.finish(traced.usage)?;
        Ok((traced, measured.tool_calls))
    }

    /// Runs the hook once with every tool call logged: calls per tool.
    pub fn run_logged(&self) -> Result<(BTreeMap<String, u64>, Measured), BenchError> {
        let log = self.scratch.path().join("tools.log");
        match std::fs::remove_file(&log) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(BenchError::io(&log)(err)),
        }
        let mut spawn = self.spawn.clone();
        spawn.env.insert(TOOL_LOG_VAR.into(), path_text(&log));
        self.reset()?;
        let usage = measure::run(&spawn, &self.launcher)?;
        let measured = self.finish(usage)?;
        let text = match std::fs::read_to_string(&log) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(BenchError::io(&log)(err)),
        };
        let mut calls = BTreeMap::new();
        for tool in text
            .lines()
            .filter_map(|line| line.split_whitespace().next())
        {
            *calls.entry(tool.to_owned()).or_insert(0) += 1;
        }
        Ok((calls, measured))
    }

    /// A hook tool of this unit run by itself against the hook's starting context, e.g.
    /// `relation-get`: what one call costs.
    pub fn tool(&self, name: &str, args: &[&str]) -> Result<ToolRun<'_>, BenchError> {
        let tools_dir = self
            .spawn
            .env
            .get("PATH")
            .and_then(|path| path.split(':').next())
            .map(PathBuf::from)
            .ok_or_else(|| BenchError::Flow("the hook has no PATH".to_owned()))?;
        let mut spawn = self.spawn.clone();
        spawn.program = tools_dir.join(name);
        spawn.args = args.iter().map(|&arg| arg.to_owned()).collect();
        Ok(ToolRun {
            replay: self,
            spawn,
        })
    }

    /// Writes the hook to `dir` as a shell script, `dir/run.sh`, that re-runs it with a fresh
    /// copy of its context, so it can be profiled by hand: `dir/run.sh perf stat -r 20` or
    /// `dir/run.sh valgrind --tool=callgrind` (the words given go before the hook's program).
    pub fn write_script(&self, dir: &Path) -> Result<PathBuf, BenchError> {
        std::fs::create_dir_all(dir).map_err(BenchError::io(dir))?;
        copy_tree(&self.scratch.path().join("machines"), &dir.join("machines"))?;
        copy_tree(&self.charm_dir, &dir.join("charm"))?;
        let cache_start = dir.join("peer-cache.start");
        std::fs::create_dir_all(&cache_start).map_err(BenchError::io(&cache_start))?;
        for (name, text) in &self.peer_cache {
            let path = cache_start.join(name);
            std::fs::write(&path, text).map_err(BenchError::io(&path))?;
        }
        let pristine = dir.join("context.json");
        std::fs::write(&pristine, &self.context_text).map_err(BenchError::io(&pristine))?;
        let mut env = self.spawn.env.clone();
        let scratch = self.scratch.path().display().to_string();
        for value in env.values_mut() {
            if value.starts_with(&scratch) {
                *value = value.replacen(&scratch, &dir.display().to_string(), 1);
            }
        }
        env.insert(
            "JUJU_SIM_CONTEXT".into(),
            path_text(&dir.join("context.run.json")),
        );
        let moved = |path: &Path| -> String {
            path_text(path).replacen(&scratch, &dir.display().to_string(), 1)
        };
        let cache_dir = dir.join("charm").join(PEER_CACHE_DIR);
        let mut script = String::from(
            "#!/bin/sh\n\
             # Re-runs one hook captured by upgrade-bench, with a fresh copy of its context\n\
             # and of the peer cache it started with.\n\
             # Usage: run.sh [WRAPPER...], e.g. run.sh perf stat -r 20\n\
             set -e\n",
        );
        script.push_str(&format!(
            "cp {} {}\nif [ -d {cache} ]; then find {cache} -type f ! -name README -delete; cp {}/. {cache}/ -r; fi\ncd {}\nexec env -i \\\n",
            quote(&path_text(&pristine)),
            quote(&path_text(&dir.join("context.run.json"))),
            quote(&path_text(&cache_start)),
            quote(&moved(&self.spawn.cwd)),
            cache = quote(&path_text(&cache_dir)),
        ));
        for (key, value) in &env {
            script.push_str(&format!("  {}={} \\\n", key, quote(value)));
        }
        script.push_str(&format!(
            "  \"$@\" {}\n",
            quote(&moved(&self.spawn.program))
        ));
        let path = dir.join("run.sh");
        std::fs::write(&path, script).map_err(BenchError::io(&path))?;
        let mut permissions = std::fs::metadata(&path)
            .map_err(BenchError::io(&path))?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).map_err(BenchError::io(&path))?;
        Ok(path)
    }

    /// The launcher timed runs go through.
    pub fn launcher(&self) -> &Path {
        &self.launcher
    }

    /// The hook's starting context (grown).
    pub fn context(&self) -> Result<HookContext, BenchError> {
        serde_json::from_slice(&self.context_text).map_err(BenchError::json("hook context"))
    }

    /// The `juju-log` lines the last run left in its context, for error messages.
    fn logged_lines(&self) -> String {
        let Ok(text) = std::fs::read(&self.context_path) else {
            return String::new();
        };
        let Ok(ctx) = serde_json::from_slice::<HookContext>(&text) else {
            return String::new();
        };
        ctx.immediate
            .iter()
            .filter_map(|effect| match effect {
                juju_sim::context::Immediate::Log { level, message } => {
                    Some(format!("\n  {level} {message}"))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether the run starts with a peer cache it can use (the captured hook had one).
    pub fn has_peer_cache(&self) -> bool {
        !self.peer_cache.is_empty()
    }

    /// Runs start cold: the peer cache files are dropped before each run.
    pub fn without_peer_cache(mut self) -> Self {
        self.peer_cache.clear();
        self
    }

    fn reset(&self) -> Result<(), BenchError> {
        let cache_dir = self.charm_dir.join(PEER_CACHE_DIR);
        if cache_dir.is_dir() {
            for entry in std::fs::read_dir(&cache_dir).map_err(BenchError::io(&cache_dir))? {
                let path = entry.map_err(BenchError::io(&cache_dir))?.path();
                if path.file_name().is_some_and(|name| name != "README") {
                    std::fs::remove_file(&path).map_err(BenchError::io(&path))?;
                }
            }
            for (name, text) in &self.peer_cache {
                let path = cache_dir.join(name);
                std::fs::write(&path, text).map_err(BenchError::io(&path))?;
            }
        }
        std::fs::write(&self.context_path, &self.context_text)
            .map_err(BenchError::io(&self.context_path))
    }

    fn finish(&self, usage: Usage) -> Result<Measured, BenchError> {
        if usage.exit_code != 0 {
            return Err(BenchError::Flow(format!(
                "{} for {} exited {}: {}{}",
                self.spawn
                    .env
                    .get("JUJU_DISPATCH_PATH")
                    .map_or("the hook", String::as_str),
                self.unit,
                usage.exit_code,
                self.spawn.stderr_tail(),
                self.logged_lines()
            )));
        }
        let text = std::fs::read(&self.context_path).map_err(BenchError::io(&self.context_path))?;
        Ok(Measured {
            usage,
            tool_calls: tool_calls_in(&text).unwrap_or(0),
        })
    }
}

/// One hook tool, run by itself with its hook's environment.
#[derive(Debug)]
pub struct ToolRun<'r> {
    replay: &'r Replay,
    spawn: Spawn,
}

impl ToolRun<'_> {
    /// Runs the tool once (on a fresh copy of the context), timed.
    pub fn run(&self) -> Result<Usage, BenchError> {
        self.replay.reset()?;
        let usage = measure::run(&self.spawn, &self.replay.launcher)?;
        if usage.exit_code != 0 {
            return Err(BenchError::Flow(format!(
                "{} exited {}: {}",
                self.spawn.program.display(),
                usage.exit_code,
                self.spawn.stderr_tail()
            )));
        }
        Ok(usage)
    }
}

/// The scratch machine directory standing for the hook's own: the same path under the
/// scratch model as the engine's under the real one.
fn machine_dir(env: &BTreeMap<String, String>, model_dir: &Path, scratch: &Path) -> PathBuf {
    let own = env
        .get("JUJU_SIM_MACHINE_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    match own.strip_prefix(model_dir) {
        Ok(relative) => scratch.join(relative),
        Err(_) => scratch.join("machines").join("own"),
    }
}

/// Single-quotes `text` for `sh`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Copies a directory tree of files (none is fine).
fn copy_tree(from: &Path, to: &Path) -> Result<(), BenchError> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(BenchError::io(from)(err)),
    };
    std::fs::create_dir_all(to).map_err(BenchError::io(to))?;
    for entry in entries {
        let path = entry.map_err(BenchError::io(from))?.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        if path.is_dir() {
            copy_tree(&path, &to.join(name))?;
        } else {
            std::fs::copy(&path, to.join(name)).map_err(BenchError::io(&path))?;
        }
    }
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}
