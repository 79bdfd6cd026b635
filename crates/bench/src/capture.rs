//! Recording what the emulator runs: every hook or action process with its tool calls and
//! wall time, and, when asked, the exact process (program, directory, environment) and the
//! hook context it started with, so it can be run again later with the same inputs.
//!
//! [`Recorder`] is a [`ProcessRunner`]: the engine hands it each process to run; it reads the
//! context file before (the context the engine wrote for this run) and after (what the hook
//! tools left, with the call count `tool_calls`), and runs the process with the engine's own
//! [`SystemRunner`] in between.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use juju_sim::context::HookContext;
use juju_sim::engine::{ProcessRunner, RunOutput, RunRequest, SystemRunner};

use crate::synth::snapshot_servers;

/// The peer relation the upgrade protocol runs on.
pub const UPGRADE_ENDPOINT: &str = "upgrade";

/// One hook or action process the emulator ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The unit, e.g. `mysql/1`.
    pub unit: String,
    /// The hook or action name, e.g. `upgrade-charm` or `pre-upgrade-check`.
    pub event: String,
    /// Whether it was an action.
    pub is_action: bool,
    /// Whether the unit was the leader (as its hook context said).
    pub is_leader: bool,
    /// Hook-tool calls it made.
    pub tool_calls: u64,
    /// Wall time of the process, spawn to exit.
    pub wall: Duration,
    /// Whether it exited 0.
    pub succeeded: bool,
}

/// A run kept with everything needed to run it again.
#[derive(Debug, Clone)]
pub struct Capture {
    /// What the run was and did.
    pub run: Run,
    /// The process as the engine started it.
    pub request: RunRequest,
    /// The hook context the engine wrote for it.
    pub before: HookContext,
    /// The hook context when it exited (the hook's writes, the call count).
    pub after: HookContext,
    /// The model's emulated MySQL servers when it started (see
    /// [`crate::synth::snapshot_servers`]).
    pub servers: Vec<(std::path::PathBuf, Vec<u8>)>,
    /// The files of the unit's peer cache (`peer-cache/` in its charm directory, the README
    /// left out) when it started, by name.
    pub peer_cache: Vec<(String, Vec<u8>)>,
}

impl Capture {
    /// This unit's `state` in the upgrade relation before the run.
    pub fn state_before(&self) -> Option<&str> {
        own_state(&self.before)
    }

    /// This unit's `state` in the upgrade relation when the run ended.
    pub fn state_after(&self) -> Option<&str> {
        own_state(&self.after)
    }

    /// Whether this unit was on top of the upgrade stack (next to upgrade) when the run
    /// started.
    pub fn on_top_of_stack(&self) -> bool {
        let ctx = &self.before;
        let Some((app, number)) = ctx.unit.rsplit_once('/') else {
            return false;
        };
        ctx.relations
            .values()
            .find(|view| view.endpoint == UPGRADE_ENDPOINT)
            .and_then(|view| view.apps.get(app))
            .and_then(|bag| bag.get("upgrade-stack"))
            .and_then(|stack| serde_json::from_str::<Vec<u64>>(stack).ok())
            .and_then(|stack| stack.last().map(|top| top.to_string() == number))
            .unwrap_or(false)
    }
}

/// The unit's own `state` in the upgrade relation of a hook context.
pub fn own_state(ctx: &HookContext) -> Option<&str> {
    ctx.relations
        .values()
        .find(|view| view.endpoint == UPGRADE_ENDPOINT)
        .and_then(|view| view.units.get(&ctx.unit))
        .and_then(|bag| bag.get("state"))
        .map(String::as_str)
}

/// Decides before a run whether to keep it for replay: `(unit, event, is_leader)`.
pub type CaptureFilter = Box<dyn Fn(&str, &str, bool) -> bool + Send>;

/// What a [`Recorder`] has seen so far.
#[derive(Default)]
pub struct Recording {
    /// Every run, in order.
    pub runs: Vec<Run>,
    /// The runs kept for replay, in order.
    pub captures: Vec<Capture>,
    /// Which runs to keep; none when unset.
    filter: Option<CaptureFilter>,
    /// A process the recorder could not read back; the first one is kept.
    pub problem: Option<String>,
}

impl Recording {
    /// Keeps the runs `filter` accepts from now on (`None`: keep none).
    pub fn capture(&mut self, filter: Option<CaptureFilter>) {
        self.filter = filter;
    }
}

/// A [`ProcessRunner`] that records each run into a shared [`Recording`].
pub struct Recorder {
    inner: SystemRunner,
    recording: Arc<Mutex<Recording>>,
}

impl Recorder {
    /// A recorder and the handle to read (and steer) its recording.
    pub fn new() -> (Recorder, Arc<Mutex<Recording>>) {
        let recording = Arc::new(Mutex::new(Recording::default()));
        let recorder = Recorder {
            inner: SystemRunner,
            recording: Arc::clone(&recording),
        };
        (recorder, recording)
    }
}

/// Locks a recording; a panic elsewhere while it was held leaves the data usable.
pub fn lock(recording: &Mutex<Recording>) -> std::sync::MutexGuard<'_, Recording> {
    recording.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ProcessRunner for Recorder {
    fn run(&mut self, request: &RunRequest) -> std::io::Result<RunOutput> {
        let before_text = std::fs::read(&request.context_file)?;
        let unit = env(request, "JUJU_UNIT_NAME");
        let dispatch_path = env(request, "JUJU_DISPATCH_PATH");
        let (kind, event) = dispatch_path
            .split_once('/')
            .unwrap_or(("", &dispatch_path));
        let (is_action, event) = (kind == "actions", event.to_owned());
        // The engine writes the context pretty-printed; a full parse only for kept runs.
        let is_leader = contains(&before_text, b"\"is_leader\": true");
        let keep = {
            let recording = lock(&self.recording);
            recording
                .filter
                .as_ref()
                .is_some_and(|filter| filter(&unit, &event, is_leader))
        };
        let servers = match (keep, request.env.get("JUJU_SIM_MODEL_DIR")) {
            (true, Some(model_dir)) => snapshot_servers(std::path::Path::new(model_dir))
                .map_err(|err| std::io::Error::other(err.to_string()))?,
            _ => Vec::new(),
        };
        let peer_cache = if keep {
            snapshot_peer_cache(&request.cwd)?
        } else {
            Vec::new()
        };
        let start = Instant::now();
        let output = self.inner.run(request)?;
        let wall = start.elapsed();
        let after_text = std::fs::read(&request.context_file)?;
        let run = Run {
            unit,
            event,
            is_action,
            is_leader,
            tool_calls: tool_calls_in(&after_text).unwrap_or(0),
            wall,
            succeeded: output.exit.success(),
        };
        let mut recording = lock(&self.recording);
        if keep {
            match (parse(&before_text), parse(&after_text)) {
                (Ok(before), Ok(after)) => recording.captures.push(Capture {
                    run: run.clone(),
                    request: request.clone(),
                    before,
                    after,
                    servers,
                    peer_cache,
                }),
                (Err(err), _) | (_, Err(err)) => {
                    recording.problem.get_or_insert_with(|| {
                        format!("hook context of {} {}: {err}", run.unit, run.event)
                    });
                }
            }
        }
        recording.runs.push(run);
        Ok(output)
    }
}

/// The directory in a charm that holds its peer cache (both charms ship it).
pub const PEER_CACHE_DIR: &str = "peer-cache";

/// The files in `charm_dir`'s [`PEER_CACHE_DIR`] but its README, by name.
pub fn snapshot_peer_cache(charm_dir: &std::path::Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let dir = charm_dir.join(PEER_CACHE_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name != "README" && path.is_file() {
            files.push((name, std::fs::read(&path)?));
        }
    }
    files.sort();
    Ok(files)
}

fn env(request: &RunRequest, key: &str) -> String {
    request.env.get(key).cloned().unwrap_or_default()
}

fn parse(text: &[u8]) -> Result<HookContext, serde_json::Error> {
    serde_json::from_slice(text)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The `tool_calls` count in a hook context's JSON text, found without parsing the whole
/// context (it is the last field the engine and the tools write).
pub fn tool_calls_in(text: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"tool_calls\":";
    let at = text.windows(KEY.len()).rposition(|window| window == KEY)?;
    let rest = &text[at + KEY.len()..];
    let digits: Vec<u8> = rest
        .iter()
        .copied()
        .skip_while(|byte| byte.is_ascii_whitespace())
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn tool_calls_are_found_in_pretty_and_compact_json() {
        let ctx = HookContext {
            tool_calls: 42,
            ..HookContext::default()
        };
        let pretty = serde_json::to_vec_pretty(&ctx).unwrap_or_default();
        assert_eq!(tool_calls_in(&pretty), Some(42));
        let compact = serde_json::to_vec(&ctx).unwrap_or_default();
        assert_eq!(tool_calls_in(&compact), Some(42));
        assert_eq!(tool_calls_in(b"{\"id\": \"x\"}"), None);
    }

    #[test]
    fn own_state_is_read_from_the_upgrade_relation_only() {
        let bag = |state: &str| BTreeMap::from([("state".to_owned(), state.to_owned())]);
        let view = |endpoint: &str, state: &str| juju_sim::context::RelationView {
            endpoint: endpoint.into(),
            units: BTreeMap::from([("mysql/1".to_owned(), bag(state))]),
            ..Default::default()
        };
        let ctx = HookContext {
            unit: "mysql/1".into(),
            relations: BTreeMap::from([
                (1, view("database-peers", "x")),
                (2, view("upgrade", "ready")),
            ]),
            ..HookContext::default()
        };
        assert_eq!(own_state(&ctx), Some("ready"));
        assert_eq!(own_state(&HookContext::default()), None);
    }
}
