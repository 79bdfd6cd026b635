//! The secret hook tools and `open-port` run as processes: the exact arguments Juju 3.6's
//! tools take, secret content passed as `key#file=<path>` (read while the tool runs, gone
//! after, never on the command line), and their outputs parsed.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use juju_ops::{HookTools, ProcessHookTools, SecretOwner, SecretRef, ToolError};

/// A fake tool recording its arguments (one per line) and the content of every
/// `key#file=` file, answering from `<tool>.stdout` / `<tool>.code` / `<tool>.stderr`.
const FAKE: &str = r#"#!/bin/sh
tool=${0##*/}
root=${0%/*}/..
n=$(ls "$root/calls" | wc -l)
call="$root/calls/$n"
mkdir "$call"
echo "$tool" > "$call/tool"
for arg in "$@"; do
  printf '%s\n' "$arg" >> "$call/args"
  case "$arg" in
    *'#file='*) cat "${arg#*#file=}" > "$call/value.${arg%%#file=*}"; ls -l "${arg#*#file=}" | cut -c1-10 > "$call/mode.${arg%%#file=*}" ;;
  esac
done
resp="$root/responses/$tool"
[ -f "$resp.stdout" ] && cat "$resp.stdout"
[ -f "$resp.stderr" ] && cat "$resp.stderr" >&2
[ -f "$resp.code" ] && exit "$(cat "$resp.code")"
exit 0
"#;

struct Fake {
    root: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("dir");
        for sub in ["bin", "calls", "responses"] {
            fs::create_dir(root.path().join(sub)).expect("sub");
        }
        for tool in [
            "secret-add",
            "secret-get",
            "secret-set",
            "secret-ids",
            "secret-info-get",
            "secret-remove",
            "open-port",
        ] {
            let path = root.path().join("bin").join(tool);
            fs::write(&path, FAKE).expect("tool");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("mode");
        }
        Self { root }
    }

    fn tools(&self) -> ProcessHookTools {
        ProcessHookTools::with_tool_dir(self.root.path().join("bin"))
    }

    fn respond(&self, tool: &str, suffix: &str, text: &str) {
        fs::write(
            self.root
                .path()
                .join("responses")
                .join(format!("{tool}.{suffix}")),
            text,
        )
        .expect("response");
    }

    fn call(&self, n: usize) -> (String, Vec<String>, BTreeMap<String, String>) {
        let dir = self.root.path().join("calls").join(n.to_string());
        let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
        let mut files = BTreeMap::new();
        for entry in fs::read_dir(&dir).expect("call dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.starts_with("value.") || name.starts_with("mode.") {
                files.insert(name, read(&path));
            }
        }
        (
            read(&dir.join("tool")).trim().to_owned(),
            read(&dir.join("args")).lines().map(str::to_owned).collect(),
            files,
        )
    }

    fn calls(&self) -> usize {
        fs::read_dir(self.root.path().join("calls"))
            .expect("calls")
            .count()
    }
}

fn content() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("root-password".to_owned(), "p@ss word'\n".to_owned()),
        ("monitoring-password".to_owned(), "m0n".to_owned()),
    ])
}

#[test]
fn secret_add_passes_values_in_private_files_and_returns_the_uri() {
    let fake = Fake::new();
    fake.respond("secret-add", "stdout", "secret:cs2d5tnpbhcmfc1d9g50\n");
    let uri = fake
        .tools()
        .secret_add(
            &content(),
            "database-peers.mysql.app",
            SecretOwner::Application,
        )
        .expect("added");
    assert_eq!(uri, "secret:cs2d5tnpbhcmfc1d9g50");
    let (tool, args, files) = fake.call(0);
    assert_eq!(tool, "secret-add");
    assert_eq!(
        args[..4],
        [
            "--owner",
            "application",
            "--label",
            "database-peers.mysql.app"
        ]
    );
    assert!(
        args[4].starts_with("monitoring-password#file=/"),
        "{args:?}"
    );
    assert!(args[5].starts_with("root-password#file=/"), "{args:?}");
    assert!(
        args.iter().all(|a| !a.contains("p@ss")),
        "no value on the command line"
    );
    assert_eq!(files["value.root-password"], "p@ss word'\n");
    assert_eq!(files["mode.root-password"].trim(), "-rw-------");
    // The files are gone once the tool returned.
    let path = args[5]
        .split_once("#file=")
        .map(|(_, p)| p.to_owned())
        .unwrap_or_default();
    assert!(!Path::new(&path).exists());
}

#[test]
fn keys_juju_refuses_are_refused_before_any_tool_runs() {
    let fake = Fake::new();
    for bad in [
        "pw",
        "Root-password",
        "root_password",
        "-root",
        "root-",
        "a--b",
    ] {
        let content = BTreeMap::from([(bad.to_owned(), "x".to_owned())]);
        let err = fake
            .tools()
            .secret_add(&content, "l", SecretOwner::Unit)
            .expect_err(bad);
        assert!(
            matches!(err, ToolError::InvalidArgument { .. }),
            "{bad}: {err}"
        );
    }
    let err = fake
        .tools()
        .secret_set("secret:x", &BTreeMap::new())
        .expect_err("empty");
    assert!(matches!(err, ToolError::InvalidArgument { .. }));
    assert_eq!(fake.calls(), 0);
}

#[test]
fn secret_get_reads_json_by_label_or_id_and_a_missing_secret_is_none() {
    let fake = Fake::new();
    fake.respond(
        "secret-get",
        "stdout",
        r#"{"root-password":"r","monitoring-password":"m"}"#,
    );
    let got = fake
        .tools()
        .secret_get(&SecretRef::Label("database-peers.mysql.app".into()))
        .expect("read");
    assert_eq!(
        got.and_then(|c| c.get("root-password").cloned()).as_deref(),
        Some("r")
    );
    assert_eq!(
        fake.call(0).1,
        ["--label", "database-peers.mysql.app", "--format=json"]
    );
    fake.tools()
        .secret_get(&SecretRef::Id("secret:abc".into()))
        .expect("by id");
    assert_eq!(fake.call(1).1, ["secret:abc", "--format=json"]);

    fs::remove_file(fake.root.path().join("responses/secret-get.stdout")).expect("rm");
    fake.respond("secret-get", "code", "1");
    fake.respond(
        "secret-get",
        "stderr",
        "ERROR secret \"secret:abc\" not found\n",
    );
    assert_eq!(
        fake.tools()
            .secret_get(&SecretRef::Id("secret:abc".into()))
            .expect("not found is not an error"),
        None
    );
    fake.respond("secret-get", "stderr", "ERROR permission denied\n");
    assert!(fake
        .tools()
        .secret_get(&SecretRef::Id("secret:abc".into()))
        .is_err());
}

#[test]
fn secret_set_info_ids_remove_and_open_port_take_juju_arguments() {
    let fake = Fake::new();
    let tools = fake.tools();
    tools.secret_set("secret:abc", &content()).expect("set");
    let (tool, args, files) = fake.call(0);
    assert_eq!(tool, "secret-set");
    assert_eq!(args[0], "secret:abc");
    assert_eq!(files["value.monitoring-password"], "m0n");

    fake.respond(
        "secret-info-get",
        "stdout",
        r#"{"cs2d5tnpbhcmfc1d9g50":{"revision":3,"label":"database-peers.mysql.app","owner":"application","rotation":"never"}}"#,
    );
    let info = tools
        .secret_info_get(&SecretRef::Label("database-peers.mysql.app".into()))
        .expect("info")
        .expect("exists");
    assert_eq!(info.id, "cs2d5tnpbhcmfc1d9g50");
    assert_eq!(info.revision, 3);
    assert_eq!(info.owner, "application");

    fake.respond("secret-ids", "stdout", r#"["secret:a","secret:b"]"#);
    assert_eq!(tools.secret_ids().expect("ids"), ["secret:a", "secret:b"]);
    assert_eq!(fake.call(2).1, ["--format=json"]);

    tools.secret_remove("secret:a").expect("removed");
    assert_eq!(
        fake.call(3),
        (
            "secret-remove".into(),
            vec!["secret:a".into()],
            BTreeMap::new()
        )
    );
    assert!(tools.secret_remove("--all").is_err(), "not an id");

    tools.open_ports(&[3306, 33060]).expect("opened");
    assert_eq!(fake.call(4).1, ["3306/tcp"]);
    assert_eq!(fake.call(5).1, ["33060/tcp"]);
}
