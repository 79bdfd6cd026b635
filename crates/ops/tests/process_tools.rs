//! `ProcessHookTools` against fake hook tools: small shell scripts that record
//! their name, argv (NUL-separated, so newlines survive) and stdin, then answer
//! with canned stdout, stderr and exit code.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use juju_ops::tools::MAX_MESSAGE_ARG_LEN;
use juju_ops::{AppStatus, HookTools, ProcessHookTools, RelationId, Status, StatusName, ToolError};
use serde_json::json;

const TOOLS: [&str; 20] = [
    "juju-log",
    "status-set",
    "status-get",
    "is-leader",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "application-version-set",
    "config-get",
    "state-get",
    "state-set",
    "state-delete",
    "leader-get",
    "leader-set",
    "goal-state",
];

/// The fake tool. It lives next to `bin/` in each test's directory, found
/// from `$0` (the symlink it was run through).
const FAKE_TOOL: &str = r#"#!/bin/sh
tool=${0##*/}
root=${0%/*}/..
call=$(printf '%s/calls/%05d' "$root" "$(ls "$root/calls" | wc -l)")
mkdir "$call"
printf '%s' "$tool" > "$call/tool"
for arg in "$@"; do printf '%s\0' "$arg"; done > "$call/args"
resp="$root/responses/$tool"
if [ -f "$resp.skip-stdin" ]; then : > "$call/stdin"; else cat > "$call/stdin"; fi
if [ -f "$resp.stdout" ]; then cat "$resp.stdout"; fi
if [ -f "$resp.stderr" ]; then cat "$resp.stderr" >&2; fi
if [ -f "$resp.signal" ]; then kill -9 $$; fi
if [ -f "$resp.code" ]; then exit "$(cat "$resp.code")"; fi
exit 0
"#;

/// Writes the fake tool once per test process. Every test calls this before
/// spawning anything, so no child can inherit the script's write handle
/// (which would make exec fail with "text file busy").
fn fake_tool_script() -> &'static Path {
    static SCRIPT: OnceLock<PathBuf> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let tmp = dir.join(format!("juju-ops-fake-tool.{}.tmp", std::process::id()));
        let path = dir.join("juju-ops-fake-tool.sh");
        fs::write(&tmp, FAKE_TOOL).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// One recorded tool invocation.
#[derive(Debug, PartialEq)]
struct Call {
    tool: String,
    args: Vec<String>,
    stdin: String,
}

fn call(tool: &str, args: &[&str], stdin: &str) -> Call {
    Call {
        tool: tool.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        stdin: stdin.to_owned(),
    }
}

/// A directory with `bin/<tool>` links to the fake, `calls/` and `responses/`.
struct Fake {
    root: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        let script = fake_tool_script();
        let root = tempfile::tempdir().unwrap();
        for sub in ["bin", "calls", "responses"] {
            fs::create_dir(root.path().join(sub)).unwrap();
        }
        for tool in TOOLS {
            symlink(script, root.path().join("bin").join(tool)).unwrap();
        }
        Self { root }
    }

    fn bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    fn tools(&self) -> ProcessHookTools {
        ProcessHookTools::with_tool_dir(self.bin())
    }

    fn respond_file(&self, tool: &str, suffix: &str, content: impl AsRef<[u8]>) {
        let path = self
            .root
            .path()
            .join("responses")
            .join(format!("{tool}.{suffix}"));
        fs::write(path, content).unwrap();
    }

    fn stdout(&self, tool: &str, stdout: impl AsRef<[u8]>) {
        self.respond_file(tool, "stdout", stdout);
    }

    fn fail(&self, tool: &str, code: i32, stderr: &str) {
        self.respond_file(tool, "code", code.to_string());
        self.respond_file(tool, "stderr", stderr);
    }

    fn calls(&self) -> Vec<Call> {
        let mut dirs: Vec<PathBuf> = fs::read_dir(self.root.path().join("calls"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        dirs.sort();
        dirs.iter()
            .map(|dir| {
                let args = fs::read(dir.join("args")).unwrap();
                let mut args: Vec<String> = args
                    .split(|&b| b == 0)
                    .map(|a| String::from_utf8(a.to_vec()).unwrap())
                    .collect();
                args.pop(); // the text after the last NUL terminator
                Call {
                    tool: fs::read_to_string(dir.join("tool")).unwrap(),
                    args,
                    stdin: fs::read_to_string(dir.join("stdin")).unwrap(),
                }
            })
            .collect()
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_method_runs_its_tool_with_the_exact_arguments() {
    let fake = Fake::new();
    fake.stdout(
        "status-get",
        r#"{"message":"upgrading...","status":"maintenance","status-data":{}}"#,
    );
    fake.stdout("is-leader", "true\n");
    fake.stdout("relation-ids", "[\"upgrade:3\"]\n");
    fake.stdout("relation-list", "[\"mysql/0\",\"mysql/2\"]\n");
    fake.stdout("relation-get", "{\"state\":\"idle\"}\n");
    fake.stdout("action-get", "{\"force\":true,\"units\":2}\n");
    fake.stdout("config-get", "{\"profile\":\"testing\"}\n");
    fake.stdout("state-get", "{\"k\":\"v\"}\n");
    fake.stdout("leader-get", "{}\n");
    fake.stdout(
        "goal-state",
        r#"{"units":{"mysql/1":{"status":"active","since":"2026-01-02 03:04:05Z"}},"relations":{}}"#,
    );
    let tools = fake.tools();
    let rel = RelationId::new("upgrade", 3);

    tools.juju_log(log::Level::Warn, "hello").unwrap();
    tools.status_set(&Status::active("")).unwrap();
    tools
        .app_status_set(&Status::blocked("upgrade failed"))
        .unwrap();
    assert_eq!(
        tools.status_get().unwrap(),
        Status::maintenance("upgrading...")
    );
    assert!(tools.is_leader().unwrap());
    assert_eq!(tools.relation_ids("upgrade").unwrap(), vec![rel.clone()]);
    assert_eq!(
        tools.relation_list(&rel).unwrap(),
        vec!["mysql/0", "mysql/2"]
    );
    assert_eq!(
        tools.relation_get_unit(&rel, "mysql/2").unwrap(),
        map(&[("state", "idle")])
    );
    assert_eq!(
        tools.relation_get_app(&rel, "mysql").unwrap(),
        map(&[("state", "idle")])
    );
    tools
        .relation_set_unit(&rel, &map(&[("state", "ready")]))
        .unwrap();
    tools
        .relation_set_app(&rel, &map(&[("upgrade-stack", "[0,2,1]")]))
        .unwrap();
    let params = tools.action_get().unwrap();
    assert_eq!(params.get("force"), Some(&json!(true)));
    assert_eq!(params.get("units"), Some(&json!(2)));
    tools
        .action_set(&map(&[("result", "ok"), ("detail.unit", "mysql/1")]))
        .unwrap();
    tools
        .action_fail("Action must be ran on the Juju leader.")
        .unwrap();
    tools.action_log("checking").unwrap();
    tools.application_version_set("8.0.36").unwrap();
    assert_eq!(
        tools.config_get().unwrap().get("profile"),
        Some(&json!("testing"))
    );
    assert_eq!(tools.state_get().unwrap(), map(&[("k", "v")]));
    tools.state_set(&map(&[("k", "v2")])).unwrap();
    tools.state_delete("k").unwrap();
    assert_eq!(tools.leader_get().unwrap(), BTreeMap::new());
    tools.leader_set(&map(&[("a", "1"), ("b", "x=y")])).unwrap();
    assert_eq!(tools.planned_units().unwrap(), vec!["mysql/1"]);

    assert_eq!(
        fake.calls(),
        vec![
            call("juju-log", &["--log-level", "WARNING", "--", "hello"], ""),
            call(
                "status-set",
                &["--application=False", "active", "--", ""],
                ""
            ),
            call(
                "status-set",
                &["--application=True", "blocked", "--", "upgrade failed"],
                ""
            ),
            call(
                "status-get",
                &["--include-data", "--format=json", "--application=false"],
                ""
            ),
            call("is-leader", &["--format=json"], ""),
            call("relation-ids", &["upgrade", "--format=json"], ""),
            call("relation-list", &["--format=json", "-r", "upgrade:3"], ""),
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:3", "-", "mysql/2"],
                ""
            ),
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:3", "--app", "-", "mysql"],
                ""
            ),
            call(
                "relation-set",
                &["-r", "upgrade:3", "--file", "-"],
                r#"{"state":"ready"}"#
            ),
            call(
                "relation-set",
                &["-r", "upgrade:3", "--app", "--file", "-"],
                r#"{"upgrade-stack":"[0,2,1]"}"#
            ),
            call("action-get", &["--format=json"], ""),
            call("action-set", &["detail.unit=mysql/1", "result=ok"], ""),
            call(
                "action-fail",
                &["--", "Action must be ran on the Juju leader."],
                ""
            ),
            call("action-log", &["--", "checking"], ""),
            call("application-version-set", &["--", "8.0.36"], ""),
            call("config-get", &["--format=json"], ""),
            call("state-get", &["--format=json"], ""),
            call("state-set", &["--file", "-"], r#"{"k":"v2"}"#),
            call("state-delete", &["k"], ""),
            call("leader-get", &["--format=json"], ""),
            call("leader-set", &["a=1", "b=x=y"], ""),
            call("goal-state", &["--format=json"], ""),
        ]
    );
}

#[test]
fn single_keys_and_the_application_status_are_read() {
    let fake = Fake::new();
    let tools = fake.tools();
    let rel = RelationId::new("upgrade", 0);

    fake.stdout("relation-get", "\"ready\"\n");
    assert_eq!(
        tools
            .relation_get_unit_key(&rel, "mysql/1", "state")
            .unwrap()
            .as_deref(),
        Some("ready")
    );
    fake.stdout("relation-get", "null\n");
    assert_eq!(
        tools
            .relation_get_app_key(&rel, "mysql", "upgrade-stack")
            .unwrap(),
        None
    );
    fake.stdout("config-get", "42\n");
    assert_eq!(
        tools.config_get_key("max-connections").unwrap(),
        Some(json!(42))
    );
    fake.stdout("config-get", "null\n");
    assert_eq!(tools.config_get_key("unset").unwrap(), None);
    fake.stdout(
        "status-get",
        r#"{"application-status":{"message":"","status":"active","status-data":{},"units":{"mysql/0":{"message":"x","status":"waiting","status-data":{}}}}}"#,
    );
    assert_eq!(
        tools.status_get_app().unwrap(),
        AppStatus {
            status: Status::active(""),
            units: BTreeMap::from([("mysql/0".to_owned(), Status::waiting("x"))]),
        }
    );

    assert_eq!(
        fake.calls(),
        vec![
            call(
                "relation-get",
                &["--format=json", "-r", "upgrade:0", "state", "mysql/1"],
                ""
            ),
            call(
                "relation-get",
                &[
                    "--format=json",
                    "-r",
                    "upgrade:0",
                    "--app",
                    "upgrade-stack",
                    "mysql"
                ],
                ""
            ),
            call("config-get", &["--format=json", "max-connections"], ""),
            call("config-get", &["--format=json", "unset"], ""),
            call(
                "status-get",
                &["--include-data", "--format=json", "--application=true"],
                ""
            ),
        ]
    );
}

/// Values that break naive `key=value` argument or shell handling.
fn awkward_values() -> BTreeMap<String, String> {
    let blob: serde_json::Value = (0..2500)
        .map(|i| {
            (
                format!("unit-{i}"),
                json!({"state": "idle", "note": "x = \"y\"\n"}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let blob = blob.to_string();
    assert!(blob.len() > 100_000, "blob is {} bytes", blob.len());
    map(&[
        ("spaces", "  two  words  "),
        ("newlines", "line one\nline two\n"),
        ("quotes", r#"it's "quoted" \ backslash"#),
        ("equals", "a=b==c"),
        ("key=with=equals", "v"),
        ("key with spaces", "v"),
        ("dash", "--app"),
        ("unicode", "héllo ✓"),
        ("deleted", ""),
        ("blob", &blob),
    ])
}

#[test]
fn relation_and_state_writes_round_trip_awkward_values_through_stdin() {
    let fake = Fake::new();
    let tools = fake.tools();
    let rel = RelationId::new("upgrade", 5);
    let values = awkward_values();

    tools.relation_set_app(&rel, &values).unwrap();
    tools.state_set(&values).unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].args, ["-r", "upgrade:5", "--app", "--file", "-"]);
    assert_eq!(calls[1].args, ["--file", "-"]);
    for recorded in &calls {
        let sent: BTreeMap<String, String> = serde_json::from_str(&recorded.stdin).unwrap();
        assert_eq!(sent, values, "{} stdin", recorded.tool);
    }

    // What the tool was given, read back the way Juju would print it.
    fake.stdout("relation-get", &calls[0].stdin);
    fake.stdout("state-get", &calls[1].stdin);
    assert_eq!(tools.relation_get_app(&rel, "mysql").unwrap(), values);
    assert_eq!(tools.state_get().unwrap(), values);
}

#[test]
fn action_results_with_awkward_values_are_single_arguments() {
    let fake = Fake::new();
    let values = map(&[
        ("spaces", "  two  words  "),
        ("newlines", "a\nb\n"),
        ("quotes", r#"'single' "double""#),
        ("equals", "x=y=z"),
        ("empty", ""),
        ("nested.key-1", "--not-a-flag"),
    ]);
    fake.tools().action_set(&values).unwrap();
    let expected: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        fake.calls(),
        vec![Call {
            tool: "action-set".to_owned(),
            args: expected,
            stdin: String::new(),
        }]
    );
}

#[test]
fn free_text_follows_a_double_dash() {
    let fake = Fake::new();
    let tools = fake.tools();
    let text = "-starts with a dash\nand has \"quotes\" = signs";
    tools.juju_log(log::Level::Trace, text).unwrap();
    tools.status_set(&Status::waiting(text)).unwrap();
    tools.action_fail(text).unwrap();
    tools.action_log(text).unwrap();
    tools.application_version_set("-1.0").unwrap();
    assert_eq!(
        fake.calls(),
        vec![
            call("juju-log", &["--log-level", "TRACE", "--", text], ""),
            call(
                "status-set",
                &["--application=False", "waiting", "--", text],
                ""
            ),
            call("action-fail", &["--", text], ""),
            call("action-log", &["--", text], ""),
            call("application-version-set", &["--", "-1.0"], ""),
        ]
    );
}

#[test]
fn messages_too_long_for_one_argument_are_sent_in_pieces() {
    let fake = Fake::new();
    let message: String = "0123456789€".repeat(25_000); // 325 000 bytes
    fake.tools().juju_log(log::Level::Info, &message).unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    let mut rejoined = String::new();
    for recorded in &calls {
        assert_eq!(recorded.args[..3], ["--log-level", "INFO", "--"]);
        assert_eq!(recorded.args.len(), 4);
        assert!(recorded.args[3].len() <= MAX_MESSAGE_ARG_LEN);
        rejoined.push_str(&recorded.args[3]);
    }
    assert_eq!(rejoined, message);
}

#[test]
fn exit_code_stderr_and_arguments_reach_the_error() {
    let fake = Fake::new();
    let tools = fake.tools();

    let stderr = "ERROR invalid value \"upgrade:9\" for option -r: relation not found\n";
    fake.fail("relation-get", 2, stderr);
    match tools.relation_get_unit(&RelationId::new("upgrade", 9), "mysql/0") {
        Err(ToolError::RelationNotFound {
            tool,
            args,
            code,
            stderr: got,
        }) => {
            assert_eq!(tool, "relation-get");
            assert_eq!(args, ["--format=json", "-r", "upgrade:9", "-", "mysql/0"]);
            assert_eq!(code, Some(2));
            assert_eq!(got, stderr);
        }
        other => panic!("{other:?}"),
    }

    fake.fail("status-set", 1, "ERROR this unit is not the leader\n");
    let err = tools.app_status_set(&Status::active("")).unwrap_err();
    assert!(
        matches!(err, ToolError::NotLeader { code: Some(1), .. }),
        "{err:?}"
    );

    fake.fail("state-get", 7, "ERROR something else\n");
    match tools.state_get() {
        Err(ToolError::Failed {
            tool,
            args,
            code,
            stderr,
        }) => {
            assert_eq!(tool, "state-get");
            assert_eq!(args, ["--format=json"]);
            assert_eq!(code, Some(7));
            assert_eq!(stderr, "ERROR something else\n");
        }
        other => panic!("{other:?}"),
    }

    // Output printed before failing is not mistaken for success.
    fake.stdout("is-leader", "true\n");
    fake.fail("is-leader", 1, "ERROR leadership status unknown: boom\n");
    assert_eq!(tools.is_leader().unwrap_err().exit_code(), Some(1));
}

#[test]
fn a_killed_tool_has_no_exit_code() {
    let fake = Fake::new();
    fake.respond_file("config-get", "signal", "");
    let err = fake.tools().config_get().unwrap_err();
    assert!(
        matches!(err, ToolError::Failed { code: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("killed by a signal"), "{err}");
}

fn assert_parse_error<T: std::fmt::Debug>(result: Result<T, ToolError>, tool: &str, raw: &str) {
    match result {
        Err(ToolError::Parse {
            tool: t, output, ..
        }) => {
            assert_eq!(t, tool);
            assert_eq!(output, raw);
        }
        other => panic!("expected a parse error with output {raw:?}, got {other:?}"),
    }
}

#[test]
fn malformed_output_is_a_parse_error_keeping_the_raw_text() {
    let fake = Fake::new();
    let tools = fake.tools();
    let rel = RelationId::new("upgrade", 1);

    fake.stdout("is-leader", "True\n");
    assert_parse_error(tools.is_leader(), "is-leader", "True\n");
    fake.stdout("relation-get", "state: idle\n");
    assert_parse_error(
        tools.relation_get_unit(&rel, "mysql/1"),
        "relation-get",
        "state: idle\n",
    );
    fake.stdout("state-get", "{\"count\":1}\n");
    assert_parse_error(tools.state_get(), "state-get", "{\"count\":1}\n");
    fake.stdout("relation-ids", "[\"upgrade\"]");
    assert_parse_error(
        tools.relation_ids("upgrade"),
        "relation-ids",
        "[\"upgrade\"]",
    );
    fake.stdout("status-get", "active\n");
    assert_parse_error(tools.status_get(), "status-get", "active\n");
    fake.stdout("action-get", "");
    assert_parse_error(tools.action_get(), "action-get", "");
    fake.stdout("relation-list", b"[\"mysql/\xff\"]".as_slice());
    assert_parse_error(
        tools.relation_list(&rel),
        "relation-list",
        "[\"mysql/\u{fffd}\"]",
    );
}

#[test]
fn null_state_and_empty_maps_are_empty() {
    let fake = Fake::new();
    let tools = fake.tools();
    fake.stdout("state-get", "null\n");
    assert_eq!(tools.state_get().unwrap(), BTreeMap::new());
    fake.stdout("action-get", "{}\n");
    assert!(tools.action_get().unwrap().is_empty());
    fake.stdout("relation-list", "[]\n");
    assert!(tools
        .relation_list(&RelationId::new("upgrade", 0))
        .unwrap()
        .is_empty());
}

#[test]
fn a_tool_that_ignores_stdin_does_not_hang() {
    let fake = Fake::new();
    fake.respond_file("relation-set", "skip-stdin", "");
    let big = map(&[("blob", &"x".repeat(1 << 20))]);
    fake.tools()
        .relation_set_unit(&RelationId::new("upgrade", 0), &big)
        .unwrap();
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn a_refused_status_never_runs_the_tool() {
    let fake = Fake::new();
    let err = fake
        .tools()
        .status_set(&Status::new(StatusName::Error, "nope"))
        .unwrap_err();
    assert!(matches!(err, ToolError::InvalidArgument { .. }), "{err:?}");
    fake.tools()
        .action_set(&map(&[("Upper", "v")]))
        .unwrap_err();
    assert_eq!(fake.calls(), vec![]);
}

#[test]
fn a_missing_tool_is_a_spawn_error() {
    let fake = Fake::new();
    fs::remove_file(fake.bin().join("goal-state")).unwrap();
    let err = fake.tools().planned_units().unwrap_err();
    assert!(matches!(err, ToolError::Spawn { .. }), "{err:?}");
    assert_eq!(err.tool(), "goal-state");
}

#[test]
fn tools_are_found_on_path_by_default() {
    let fake = Fake::new();
    fake.stdout("is-leader", "false\n");
    // Prepending keeps every other test's `sh`, `cat`, ... resolvable; the
    // fake's names do not clash with them. Other tests use absolute paths.
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![fake.bin()];
    paths.extend(std::env::split_paths(&old));
    std::env::set_var("PATH", std::env::join_paths(paths).unwrap());
    let result = ProcessHookTools::new().is_leader();
    std::env::set_var("PATH", &old);
    assert!(!result.unwrap());
    assert_eq!(
        fake.calls(),
        vec![call("is-leader", &["--format=json"], "")]
    );
}
