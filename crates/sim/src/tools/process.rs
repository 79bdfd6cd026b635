//! The hook-tool process: finds the hook context file through the
//! environment, locks it for the whole call (tools run concurrently from one
//! hook are serialised, as Juju's agent serialises them), runs the tool, and
//! writes the context back in place under the same lock, with the call counted
//! (`HookContext::tool_calls`); only a change the tool made is flushed to disk.
//!
//! The file is rewritten in place rather than replaced by a rename: a
//! concurrent tool waiting for the lock holds the old file open, and would
//! read stale data from a replaced inode.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use super::{flags, run_tool, ToolOutput};
use crate::context::HookContext;

/// Names the variable holding the context file's path.
pub(crate) const CONTEXT_PATH_VAR: &str = "JUJU_SIM_CONTEXT";
/// Names the variable holding this hook's context id.
pub(crate) const CONTEXT_ID_VAR: &str = "JUJU_CONTEXT_ID";

/// [`super::tool_main`]: runs against the real environment and stdio.
pub(crate) fn tool_main(name: &str, args: Vec<String>) -> i32 {
    let env = |key: &str| std::env::var(key).ok();
    let output = run_process(name, &args, &env, &mut std::io::stdin().lock());
    if name == "status-set" && output.code == 0 {
        pause_after_status_set(&env);
    }
    // Nothing sensible is left to do if the parent closed our stdout/stderr.
    let _ = std::io::stdout().lock().write_all(&output.stdout);
    let _ = std::io::stderr().lock().write_all(&output.stderr);
    output.code
}

/// Names the variable holding the pause after each `status-set` (a duration).
pub(crate) const STATUS_SET_DELAY_VAR: &str = "JUJU_SIM_STATUS_SET_DELAY";

/// Waits, after a `status-set` is written, as long as the model's
/// `juju-sim-status-set-delay` says (at most a minute): a charm's statuses then stay
/// visible to `juju status` at least that long, as if each took a round trip to a
/// controller.
fn pause_after_status_set(env: &dyn Fn(&str) -> Option<String>) {
    if let Some(delay) =
        env(STATUS_SET_DELAY_VAR).and_then(|text| crate::duration::parse(&text).ok())
    {
        std::thread::sleep(delay.min(std::time::Duration::from_secs(60)));
    }
}

/// Runs one tool call as a process would, with `env` for the environment and
/// `stdin` read only when the call needs it (`--file -`).
pub(crate) fn run_process(
    name: &str,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
) -> ToolOutput {
    let failure = |message: String| ToolOutput::failure(1, &message);
    let Some(id) = env(CONTEXT_ID_VAR).filter(|id| !id.is_empty()) else {
        return failure(format!("{CONTEXT_ID_VAR} not set"));
    };
    let Some(path) = env(CONTEXT_PATH_VAR).filter(|path| !path.is_empty()) else {
        return failure(format!("{CONTEXT_PATH_VAR} not set"));
    };
    let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(error) => return failure(format!("cannot open hook context {path}: {error}")),
    };
    // Released when `file` is dropped at the end of this call.
    if let Err(error) = file.lock() {
        return failure(format!("cannot lock hook context {path}: {error}"));
    }
    let mut ctx = match read_context(&mut file) {
        Ok(ctx) => ctx,
        Err(error) => return failure(format!("cannot read hook context {path}: {error}")),
    };
    if ctx.id != id {
        return failure(format!("bad request: bad context: {id}"));
    }
    let mut input = Vec::new();
    if reads_stdin(name, args) {
        if let Err(error) = stdin.read_to_end(&mut input) {
            return failure(format!("cannot read stdin: {error}"));
        }
    }
    let before = ctx.clone();
    let mut output = run_tool(name, args, &input, &mut ctx);
    // Only a change the tool made must survive a crash; the call count need not.
    let durable = ctx != before;
    ctx.tool_calls = ctx.tool_calls.saturating_add(1);
    if let Err(error) = write_context(&mut file, &ctx, durable) {
        output.code = 1;
        output
            .stderr
            .extend(format!("ERROR cannot write hook context {path}: {error}\n").bytes());
    }
    output
}

fn read_context(file: &mut File) -> Result<HookContext, String> {
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|error| error.to_string())?;
    serde_json::from_slice(&text).map_err(|error| error.to_string())
}

/// Rewrites the context in place; `durable` also flushes it to disk.
///
/// The new text overwrites the old from the start and the file is then cut to its length:
/// emptying it first would make ext4 (`auto_da_alloc`) flush it on close, which costs
/// milliseconds on every call.
fn write_context(file: &mut File, ctx: &HookContext, durable: bool) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(ctx).map_err(|error| error.to_string())?;
    file.seek(SeekFrom::Start(0))
        .map_err(|error| error.to_string())?;
    file.write_all(&text).map_err(|error| error.to_string())?;
    let length = u64::try_from(text.len()).map_err(|error| error.to_string())?;
    file.set_len(length).map_err(|error| error.to_string())?;
    if durable {
        file.sync_data().map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// True when the call reads its settings from stdin (`--file -`). Only
/// relation-set and state-set have `--file`.
fn reads_stdin(name: &str, args: &[String]) -> bool {
    let spec = match name {
        "relation-set" => &super::relation::RELATION_SET,
        "state-set" => &super::state::STATE_SET,
        _ => return false,
    };
    let defs = spec.all_flags();
    match flags::parse(&defs, args, &mut |_, _| Ok(())) {
        Ok(flags::Outcome::Parsed(parsed)) => parsed.value("file") == Some("-"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn context_file(ctx: &HookContext) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&serde_json::to_vec(ctx).expect("json"))
            .expect("write");
        file
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key: &str| map.get(key).cloned()
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    fn sample() -> HookContext {
        HookContext {
            id: "app/0-install-1".into(),
            unit: "app/0".into(),
            app: "app".into(),
            state: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
            ..HookContext::default()
        }
    }

    #[test]
    fn missing_environment_is_reported() {
        let output = run_process("state-get", &[], &env_of(&[]), &mut std::io::empty());
        assert_eq!(
            (output.code, output.stderr),
            (1, b"ERROR JUJU_CONTEXT_ID not set\n".to_vec())
        );
        let env = env_of(&[(CONTEXT_ID_VAR, "x")]);
        let output = run_process("state-get", &[], &env, &mut std::io::empty());
        assert_eq!(
            (output.code, output.stderr),
            (1, b"ERROR JUJU_SIM_CONTEXT not set\n".to_vec())
        );
    }

    #[test]
    fn wrong_context_id_is_refused() {
        let file = context_file(&sample());
        let path = file.path().to_string_lossy().into_owned();
        let env = env_of(&[(CONTEXT_ID_VAR, "other"), (CONTEXT_PATH_VAR, &path)]);
        let output = run_process("state-get", &[], &env, &mut std::io::empty());
        assert_eq!(output.code, 1);
        assert_eq!(output.stderr, b"ERROR bad request: bad context: other\n");
    }

    #[test]
    fn writes_are_saved_and_stdin_is_read_for_file_dash() {
        let file = context_file(&sample());
        let path = file.path().to_string_lossy().into_owned();
        let env = env_of(&[
            (CONTEXT_ID_VAR, "app/0-install-1"),
            (CONTEXT_PATH_VAR, &path),
        ]);
        let mut stdin = &b"{\"from-stdin\": \"yes\"}"[..];
        let output = run_process(
            "state-set",
            &args(&["--file", "-", "k=w"]),
            &env,
            &mut stdin,
        );
        assert_eq!(
            output,
            ToolOutput {
                code: 0,
                ..ToolOutput::default()
            }
        );

        let saved: HookContext =
            serde_json::from_slice(&std::fs::read(file.path()).expect("read")).expect("parse");
        let expected = BTreeMap::from([
            ("from-stdin".to_string(), "yes".to_string()),
            ("k".to_string(), "w".to_string()),
        ]);
        assert_eq!(saved.state, Some(expected));

        let output = run_process("state-get", &args(&["k"]), &env, &mut std::io::empty());
        assert_eq!(output.stdout, b"w\n");
    }

    #[test]
    fn stdin_is_left_alone_unless_file_dash() {
        assert!(reads_stdin("relation-set", &args(&["-r", "1", "--file=-"])));
        assert!(reads_stdin("state-set", &args(&["--file", "-"])));
        assert!(!reads_stdin("state-set", &args(&["--file", "x.yaml"])));
        assert!(!reads_stdin(
            "relation-set",
            &args(&["a=b", "--", "--file", "-"])
        ));
        assert!(!reads_stdin("state-get", &args(&["--file", "-"])));
    }

    #[test]
    fn a_read_only_call_changes_nothing_but_the_call_count() {
        let file = context_file(&sample());
        let path = file.path().to_string_lossy().into_owned();
        let env = env_of(&[
            (CONTEXT_ID_VAR, "app/0-install-1"),
            (CONTEXT_PATH_VAR, &path),
        ]);
        for _ in 0..2 {
            let output = run_process(
                "state-get",
                &args(&["--format=json"]),
                &env,
                &mut std::io::empty(),
            );
            assert_eq!(output.stdout, b"{\"k\":\"v\"}\n");
        }
        let saved: HookContext =
            serde_json::from_slice(&std::fs::read(file.path()).expect("read")).expect("parse");
        let expected = HookContext {
            tool_calls: 2,
            ..sample()
        };
        assert_eq!(saved, expected);
    }

    #[test]
    fn a_write_that_shortens_the_context_leaves_no_stale_tail() {
        let mut ctx = sample();
        ctx.state = Some(BTreeMap::from([("k".to_string(), "v".repeat(4096))]));
        let file = context_file(&ctx);
        let path = file.path().to_string_lossy().into_owned();
        let env = env_of(&[
            (CONTEXT_ID_VAR, "app/0-install-1"),
            (CONTEXT_PATH_VAR, &path),
        ]);
        let output = run_process("state-delete", &args(&["k"]), &env, &mut std::io::empty());
        assert_eq!(output.code, 0);
        let saved: HookContext =
            serde_json::from_slice(&std::fs::read(file.path()).expect("read")).expect("parse");
        assert_eq!(saved.state, Some(BTreeMap::new()));
        assert_eq!(saved.tool_calls, 1);
    }

    #[test]
    fn failing_calls_are_counted_too() {
        let file = context_file(&sample());
        let path = file.path().to_string_lossy().into_owned();
        let env = env_of(&[
            (CONTEXT_ID_VAR, "app/0-install-1"),
            (CONTEXT_PATH_VAR, &path),
        ]);
        let output = run_process(
            "state-get",
            &args(&["--bogus"]),
            &env,
            &mut std::io::empty(),
        );
        assert_eq!(output.code, 2);
        let output = run_process("state-set", &args(&["k=w"]), &env, &mut std::io::empty());
        assert_eq!(output.code, 0);
        let saved: HookContext =
            serde_json::from_slice(&std::fs::read(file.path()).expect("read")).expect("parse");
        assert_eq!(saved.tool_calls, 2);
        assert_eq!(
            saved.state.and_then(|state| state.get("k").cloned()),
            Some("w".to_string())
        );
    }
}
