//! relation-ids, relation-list, relation-get and relation-set through
//! `run_tool`: output shapes, default relation and target, read rules for own
//! and remote bags, write merge semantics, dirty flags, and error texts with
//! their exit codes.

mod support;

use std::collections::BTreeMap;

use juju_sim::context::{HookContext, RelationView};
use support::{assert_fails, assert_prints, bag, run, run_with_stdin, text};

/// `app/0` (leader) in `replicas-relation-changed` for `app/1`. Relation 3 is
/// the peer relation `replicas`; relation 7 (`db`) and 12 (`db`) go to `pg`.
fn context() -> HookContext {
    let peers = RelationView {
        endpoint: "replicas".into(),
        remote_app: "app".into(),
        members: vec!["app/2".into(), "app/1".into()],
        units: BTreeMap::from([
            (
                "app/0".to_string(),
                bag(&[("private-address", "10.0.0.1"), ("mine", "0")]),
            ),
            (
                "app/1".to_string(),
                bag(&[("private-address", "10.0.0.2"), ("state", "idle")]),
            ),
            ("app/2".to_string(), bag(&[("private-address", "10.0.0.3")])),
        ]),
        apps: BTreeMap::from([("app".to_string(), bag(&[("stack", "[1, 2]")]))]),
        ..RelationView::default()
    };
    let db = RelationView {
        endpoint: "db".into(),
        remote_app: "pg".into(),
        members: vec!["pg/0".into()],
        units: BTreeMap::from([
            ("app/0".to_string(), bag(&[])),
            ("pg/0".to_string(), bag(&[("host", "pg-0")])),
            ("pg/1".to_string(), bag(&[("host", "pg-1-departed")])),
        ]),
        apps: BTreeMap::from([
            ("pg".to_string(), bag(&[("password", "<s&cret>")])),
            ("app".to_string(), bag(&[("user", "app")])),
        ]),
        ..RelationView::default()
    };
    let db2 = RelationView {
        endpoint: "db".into(),
        remote_app: "pg".into(),
        ..RelationView::default()
    };
    HookContext {
        id: "ctx".into(),
        unit: "app/0".into(),
        app: "app".into(),
        is_leader: true,
        hook: Some("replicas-relation-changed".into()),
        relation_id: Some(3),
        remote_unit: Some("app/1".into()),
        relations: BTreeMap::from([(3, peers), (7, db), (12, db2)]),
        ..HookContext::default()
    }
}

#[test]
fn relation_ids_lists_endpoint_relations_sorted_as_strings() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "relation-ids", &["db", "--format=json"]),
        "[\"db:12\",\"db:7\"]\n",
    );
    assert_prints(&run(&mut ctx, "relation-ids", &["db"]), "db:12\ndb:7\n");
    assert_prints(
        &run(&mut ctx, "relation-ids", &["--format", "yaml", "db"]),
        "- db:12\n- db:7\n",
    );
    // Default: the hook's relation endpoint.
    assert_prints(
        &run(&mut ctx, "relation-ids", &["--format=json"]),
        "[\"replicas:3\"]\n",
    );
    // Unknown endpoints are not an error.
    assert_prints(
        &run(&mut ctx, "relation-ids", &["nope", "--format=json"]),
        "[]\n",
    );
    assert_prints(&run(&mut ctx, "relation-ids", &["nope"]), "");
    assert_fails(
        &run(&mut ctx, "relation-ids", &["db", "x"]),
        2,
        "ERROR unrecognized args: [\"x\"]\n",
    );

    ctx.relation_id = None;
    assert_fails(
        &run(&mut ctx, "relation-ids", &[]),
        2,
        "ERROR no endpoint name specified\n",
    );
}

#[test]
fn relation_list_shows_remote_members_and_app() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "relation-list", &["--format=json"]),
        "[\"app/1\",\"app/2\"]\n",
    );
    assert_prints(
        &run(&mut ctx, "relation-list", &["--format=json", "-r", "db:7"]),
        "[\"pg/0\"]\n",
    );
    assert_prints(&run(&mut ctx, "relation-list", &["-r", "7"]), "pg/0\n");
    assert_prints(
        &run(&mut ctx, "relation-list", &["--format=json", "-r", "12"]),
        "[]\n",
    );
    assert_prints(
        &run(
            &mut ctx,
            "relation-list",
            &["--format=json", "--app", "-r", "db:7"],
        ),
        "\"pg\"\n",
    );
    assert_prints(
        &run(&mut ctx, "relation-list", &["--app", "-r", "7"]),
        "pg\n",
    );
    // Only the number counts: the endpoint prefix is not checked.
    assert_prints(
        &run(
            &mut ctx,
            "relation-list",
            &["--format=json", "-r", "wrong:7"],
        ),
        "[\"pg/0\"]\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-list", &["-r", "db:99"]),
        2,
        "ERROR invalid value \"db:99\" for option -r: relation not found\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-list", &["--relation=db:x"]),
        2,
        "ERROR invalid value \"db:x\" for option --relation: invalid relation id\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-list", &["extra"]),
        2,
        "ERROR unrecognized args: [\"extra\"]\n",
    );

    ctx.relation_id = None;
    assert_fails(
        &run(&mut ctx, "relation-list", &[]),
        2,
        "ERROR no relation id specified\n",
    );
}

#[test]
fn relation_get_reads_whole_bags_and_single_keys() {
    let mut ctx = context();
    // Default target: the hook's remote unit.
    assert_prints(
        &run(&mut ctx, "relation-get", &["--format=json"]),
        "{\"private-address\":\"10.0.0.2\",\"state\":\"idle\"}\n",
    );
    assert_prints(
        &run(&mut ctx, "relation-get", &["--format=json", "-", "app/1"]),
        "{\"private-address\":\"10.0.0.2\",\"state\":\"idle\"}\n",
    );
    assert_prints(&run(&mut ctx, "relation-get", &["state"]), "idle\n");
    assert_prints(
        &run(
            &mut ctx,
            "relation-get",
            &["--format=json", "state", "app/1"],
        ),
        "\"idle\"\n",
    );
    // Missing keys: JSON null, nothing in smart.
    assert_prints(
        &run(
            &mut ctx,
            "relation-get",
            &["--format=json", "nope", "app/1"],
        ),
        "null\n",
    );
    assert_prints(&run(&mut ctx, "relation-get", &["nope", "app/1"]), "");
    // smart prints maps as YAML.
    assert_prints(
        &run(&mut ctx, "relation-get", &["-", "app/1"]),
        "private-address: 10.0.0.2\nstate: idle\n",
    );
    // Another relation, a departed unit whose data is still readable, Go's HTML-safe JSON.
    assert_prints(
        &run(
            &mut ctx,
            "relation-get",
            &["-r", "db:7", "--format=json", "-", "pg/1"],
        ),
        "{\"host\":\"pg-1-departed\"}\n",
    );
    assert_prints(
        &run(
            &mut ctx,
            "relation-get",
            &["-r", "db:7", "--format=json", "--app", "-", "pg"],
        ),
        "{\"password\":\"\\u003cs\\u0026cret\\u003e\"}\n",
    );
    // --app with a unit name reads that unit's application.
    assert_prints(
        &run(
            &mut ctx,
            "relation-get",
            &["-r", "7", "--app", "password", "pg/0"],
        ),
        "<s&cret>\n",
    );
    // --app without a target: the hook's remote application.
    assert_prints(
        &run(&mut ctx, "relation-get", &["--app", "--format=json"]),
        "{\"stack\":\"[1, 2]\"}\n",
    );
}

#[test]
fn relation_get_target_errors_are_argument_errors() {
    let mut ctx = context();
    assert_fails(
        &run(&mut ctx, "relation-get", &["-", "app"]),
        2,
        "ERROR expected unit name, got application name \"app\"\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-get", &["-", "Bad!"]),
        2,
        "ERROR invalid unit name \"Bad!\"\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-get", &["-", "app/1", "more"]),
        2,
        "ERROR unrecognized args: [\"more\"]\n",
    );

    // Outside a relation hook there is no default relation, unit or app.
    ctx.relation_id = None;
    ctx.remote_unit = None;
    assert_fails(
        &run(&mut ctx, "relation-get", &["-", "app/1"]),
        2,
        "ERROR no relation id specified\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-get", &["-r", "3"]),
        2,
        "ERROR no unit or application specified\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-get", &["-r", "3", "--app"]),
        2,
        "ERROR no unit or application specified\n",
    );
    // A unit never seen in the relation.
    assert_fails(
        &run(&mut ctx, "relation-get", &["-r", "3", "-", "app/9"]),
        1,
        "ERROR cannot read settings for unit \"app/9\" in relation \"replicas:3\": permission denied\n",
    );
}

#[test]
fn relation_get_without_remote_unit_falls_back_to_the_remote_app() {
    // An application-data relation-changed: JUJU_REMOTE_UNIT is empty.
    let mut ctx = context();
    ctx.relation_id = Some(7);
    ctx.remote_unit = Some(String::new());
    assert_prints(
        &run(&mut ctx, "relation-get", &["--format=json"]),
        "{\"password\":\"\\u003cs\\u0026cret\\u003e\"}\n",
    );
}

#[test]
fn relation_set_merges_deletes_and_marks_the_unit_bag_dirty() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "relation-set", &["new=1", "mine=", "x=a=b"]),
        "",
    );
    let peers = &ctx.relations[&3];
    assert_eq!(
        peers.units["app/0"],
        bag(&[("private-address", "10.0.0.1"), ("new", "1"), ("x", "a=b")])
    );
    assert!(peers.unit_dirty);
    assert!(!peers.app_dirty);
    // Own-unit reads see the uncommitted write.
    assert_prints(&run(&mut ctx, "relation-get", &["new", "app/0"]), "1\n");
    // Other relations are untouched.
    assert!(!ctx.relations[&7].unit_dirty);
}

#[test]
fn relation_set_reads_file_and_stdin_with_args_overriding() {
    let mut ctx = context();
    let json = br#"{"a": "from-stdin", "b": "kept", "gone": ""}"#;
    let output = run_with_stdin(
        &mut ctx,
        "relation-set",
        &["-r", "db:7", "--file", "-", "a=from-args"],
        json,
    );
    assert_prints(&output, "");
    assert_eq!(
        ctx.relations[&7].units["app/0"],
        bag(&[("a", "from-args"), ("b", "kept")])
    );
    assert!(ctx.relations[&7].unit_dirty);
    assert!(!ctx.relations[&3].unit_dirty);

    // YAML with non-string scalars, from a file (as ops' controller storage writes it).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.yaml");
    std::fs::write(
        &path,
        "n: 5\nflag: true\nblock: |\n  line one\n  line two\n",
    )
    .expect("write");
    let path = path.to_string_lossy().into_owned();
    assert_prints(
        &run(
            &mut ctx,
            "relation-set",
            &["-r", "12", &format!("--file={path}")],
        ),
        "",
    );
    assert_eq!(
        ctx.relations[&12].units["app/0"],
        bag(&[
            ("block", "line one\nline two\n"),
            ("flag", "true"),
            ("n", "5")
        ])
    );

    assert_fails(
        &run(&mut ctx, "relation-set", &["--file", "/nonexistent/x.yaml"]),
        1,
        "ERROR open /nonexistent/x.yaml: no such file or directory\n",
    );
    let nested = run_with_stdin(&mut ctx, "relation-set", &["--file", "-"], b"a: {b: c}\n");
    assert_eq!(nested.code, 1);
    assert!(
        text(&nested.stderr).starts_with("ERROR yaml: "),
        "{}",
        text(&nested.stderr)
    );
}

#[test]
fn relation_set_app_bag_needs_leadership() {
    let mut ctx = context();
    assert_prints(&run(&mut ctx, "relation-set", &["--app", "stack=[2]"]), "");
    assert_eq!(ctx.relations[&3].apps["app"], bag(&[("stack", "[2]")]));
    assert!(ctx.relations[&3].app_dirty);
    assert!(!ctx.relations[&3].unit_dirty);
    // The leader reads its own app bag from the local copy.
    assert_prints(
        &run(&mut ctx, "relation-get", &["--app", "stack", "app"]),
        "[2]\n",
    );

    let mut ctx = context();
    ctx.is_leader = false;
    assert_fails(
        &run(&mut ctx, "relation-set", &["--app=true", "stack=[2]"]),
        1,
        "ERROR cannot write relation settings\n",
    );
    assert!(!ctx.relations[&3].app_dirty);
    // `--app=false` is a unit write.
    assert_prints(&run(&mut ctx, "relation-set", &["--app=false", "k=v"]), "");
    assert!(ctx.relations[&3].unit_dirty);
    // A non-leader may read its own app bag in a peer relation only.
    assert_prints(
        &run(&mut ctx, "relation-get", &["--app", "stack", "app"]),
        "[1, 2]\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-get", &["-r", "7", "--app", "-", "app"]),
        1,
        "ERROR permission denied\n",
    );
}

#[test]
fn relation_set_argument_errors() {
    let mut ctx = context();
    assert_fails(
        &run(&mut ctx, "relation-set", &["novalue"]),
        2,
        "ERROR expected \"key=value\", got \"novalue\"\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-set", &["=v"]),
        2,
        "ERROR expected \"key=value\", got \"=v\"\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-set", &["a=1", "a=2"]),
        2,
        "ERROR key \"a\" specified more than once\n",
    );
    assert_fails(
        &run(&mut ctx, "relation-set", &["--bogus"]),
        2,
        "ERROR option provided but not defined: --bogus\n",
    );
    assert!(!ctx.relations[&3].unit_dirty);

    ctx.relation_id = None;
    assert_fails(
        &run(&mut ctx, "relation-set", &["a=1"]),
        2,
        "ERROR no relation id specified\n",
    );
}

#[test]
fn relation_set_without_change_leaves_the_bag_clean() {
    let mut ctx = context();
    assert_prints(&run(&mut ctx, "relation-set", &["mine=0", "absent="]), "");
    assert!(!ctx.relations[&3].unit_dirty);
}

#[test]
fn relation_set_deprecated_format_flag_warns() {
    let mut ctx = context();
    let output = run(&mut ctx, "relation-set", &["--format", "json", "a=1"]);
    assert_eq!(output.code, 0);
    assert_eq!(
        text(&output.stderr),
        "--format flag deprecated for command \"relation-set\""
    );
    assert!(ctx.relations[&3].unit_dirty);
}

#[test]
fn relation_tools_write_to_output_file() {
    let mut ctx = context();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.json").to_string_lossy().into_owned();
    assert_prints(
        &run(&mut ctx, "relation-list", &["--format=json", "-o", &path]),
        "",
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "[\"app/1\",\"app/2\"]\n"
    );
    assert_prints(
        &run(
            &mut ctx,
            "relation-get",
            &["state", "app/1", &format!("--output={path}")],
        ),
        "",
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "idle\n");
}
