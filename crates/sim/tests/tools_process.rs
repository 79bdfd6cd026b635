//! The real `juju-sim` binary run as a hook tool through symlinks named after
//! the tools, against a context file: argv[0] dispatch, the environment
//! contract (`JUJU_CONTEXT_ID`, `JUJU_SIM_CONTEXT`), stdin for `--file -`,
//! writing the context back, and the file lock serialising concurrent calls.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use juju_sim::context::{Bag, HookContext, RelationView};
use juju_sim::tools::TOOL_NAMES;

const CONTEXT_ID: &str = "app/0-update-status-0123456789abcdef0123456789abcdef";

fn bag(pairs: &[(&str, &str)]) -> Bag {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A temp dir with a `tools/` directory of symlinks and a context file.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).expect("tools dir");
        for name in TOOL_NAMES {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_juju-sim"), tools.join(name))
                .expect("symlink");
        }
        let ctx = HookContext {
            id: CONTEXT_ID.into(),
            unit: "app/0".into(),
            app: "app".into(),
            is_leader: true,
            hook: Some("update-status".into()),
            relations: BTreeMap::from([(
                2,
                RelationView {
                    endpoint: "replicas".into(),
                    remote_app: "app".into(),
                    members: vec!["app/1".into()],
                    units: BTreeMap::from([
                        ("app/0".to_string(), bag(&[("private-address", "10.0.0.1")])),
                        (
                            "app/1".to_string(),
                            bag(&[("private-address", "10.0.0.2"), ("state", "idle")]),
                        ),
                    ]),
                    ..RelationView::default()
                },
            )]),
            ..HookContext::default()
        };
        let fixture = Fixture { dir };
        std::fs::write(
            fixture.context_path(),
            serde_json::to_vec(&ctx).expect("json"),
        )
        .expect("write context");
        fixture
    }

    fn context_path(&self) -> PathBuf {
        self.dir.path().join("context.json")
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.dir.path().join("tools").join(name)
    }

    fn context(&self) -> HookContext {
        serde_json::from_slice(&std::fs::read(self.context_path()).expect("read context"))
            .expect("parse context")
    }

    /// A command for tool `name` with the hook environment set up.
    fn command(&self, name: &str, args: &[&str]) -> Command {
        let mut command = Command::new(self.tool(name));
        command
            .args(args)
            .env_clear()
            .env("JUJU_CONTEXT_ID", CONTEXT_ID)
            .env("JUJU_SIM_CONTEXT", self.context_path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }
}

fn run(mut command: Command) -> Output {
    command.output().expect("run tool")
}

fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8")
}

#[track_caller]
fn assert_output(output: &Output, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (
            output.status.code(),
            text(&output.stdout),
            text(&output.stderr)
        ),
        (Some(code), stdout, stderr)
    );
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[test]
fn tools_read_the_context_file() {
    let fixture = Fixture::new();
    assert!(is_executable(&fixture.tool("relation-get")));
    let output = run(fixture.command(
        "relation-get",
        &["--format=json", "-r", "replicas:2", "-", "app/1"],
    ));
    assert_output(
        &output,
        0,
        "{\"private-address\":\"10.0.0.2\",\"state\":\"idle\"}\n",
        "",
    );
    assert_output(&run(fixture.command("is-leader", &[])), 0, "True\n", "");
    assert_output(
        &run(fixture.command("relation-ids", &["replicas"])),
        0,
        "replicas:2\n",
        "",
    );
}

#[test]
fn writes_land_in_the_context_file_and_stdin_feeds_file_dash() {
    let fixture = Fixture::new();
    let output = run_with_stdin(
        fixture.command("relation-set", &["-r", "2", "--file", "-"]),
        br#"{"state": "ready", "note": "from stdin"}"#,
    );
    assert_output(&output, 0, "", "");
    assert_output(
        &run(fixture.command("status-set", &["active", "--", "all good"])),
        0,
        "",
        "",
    );
    let ctx = fixture.context();
    let relation = &ctx.relations[&2];
    assert_eq!(
        relation.units["app/0"],
        bag(&[
            ("note", "from stdin"),
            ("private-address", "10.0.0.1"),
            ("state", "ready")
        ])
    );
    assert!(relation.unit_dirty);
    assert_eq!(ctx.unit_status.message, "all good");
    // A later call sees the earlier call's uncommitted write.
    let output = run(fixture.command("relation-get", &["-r", "2", "state", "app/0"]));
    assert_output(&output, 0, "ready\n", "");
}

#[test]
fn errors_and_exit_codes_come_through() {
    let fixture = Fixture::new();
    let output = run(fixture.command("relation-get", &["-r", "9"]));
    assert_output(
        &output,
        2,
        "",
        "ERROR invalid value \"9\" for option -r: relation not found\n",
    );
    let output = run(fixture.command("action-get", &[]));
    assert_output(&output, 1, "", "ERROR not running an action\n");

    let mut wrong_id = fixture.command("state-get", &[]);
    wrong_id.env("JUJU_CONTEXT_ID", "app/0-other");
    assert_output(
        &run(wrong_id),
        1,
        "",
        "ERROR bad request: bad context: app/0-other\n",
    );
    let mut no_id = fixture.command("state-get", &[]);
    no_id.env_remove("JUJU_CONTEXT_ID");
    assert_output(&run(no_id), 1, "", "ERROR JUJU_CONTEXT_ID not set\n");
    // Nothing above changed the context.
    assert!(!fixture.context().relations[&2].unit_dirty);
}

#[test]
fn concurrent_tool_calls_are_serialised_by_the_lock() {
    let fixture = Fixture::new();
    let children: Vec<_> = (0..24)
        .map(|n| {
            let mut command = fixture.command("state-set", &[&format!("key-{n}=value-{n}")]);
            command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert_output(&output, 0, "", "");
    }
    let state = fixture.context().state.expect("state written");
    let expected: Bag = (0..24)
        .map(|n| (format!("key-{n}"), format!("value-{n}")))
        .collect();
    assert_eq!(state, expected);
}
