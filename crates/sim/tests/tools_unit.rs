//! The non-relation tools through `run_tool`: status, leadership, config,
//! charm state, actions, logging, workload version, goal-state, unit-get,
//! plus the shared command-line rules (flags, formats, help, unknown tools).

mod support;

use std::collections::BTreeMap;

use juju_sim::context::{ActionContext, HookContext, Immediate, RelationView, StatusValue};
use juju_sim::tools::TOOL_NAMES;
use serde_json::json;
use support::{assert_fails, assert_prints, bag, run, run_with_stdin, text};

fn status(status: &str, message: &str) -> StatusValue {
    StatusValue {
        status: status.into(),
        message: message.into(),
    }
}

/// `app/0`, leader, in the `config-changed` hook, with a peer relation and
/// one relation to `pg`.
fn context() -> HookContext {
    HookContext {
        id: "ctx".into(),
        unit: "app/0".into(),
        app: "app".into(),
        is_leader: true,
        hook: Some("config-changed".into()),
        relations: BTreeMap::from([
            (
                0,
                RelationView {
                    endpoint: "replicas".into(),
                    remote_app: "app".into(),
                    members: vec!["app/1".into()],
                    ..RelationView::default()
                },
            ),
            (
                4,
                RelationView {
                    endpoint: "db".into(),
                    remote_app: "pg".into(),
                    members: vec!["pg/0".into()],
                    ..RelationView::default()
                },
            ),
        ]),
        config: BTreeMap::from([
            ("name".to_string(), Some(json!("hello"))),
            ("count".to_string(), Some(json!(3))),
            ("ratio".to_string(), Some(json!(0.5))),
            ("debug".to_string(), Some(json!(false))),
            ("unset".to_string(), None),
        ]),
        leader_settings: bag(&[("seed", "42")]),
        unit_status: status("active", "ready"),
        app_status: status("waiting", "app msg"),
        unit_statuses: BTreeMap::from([
            ("app/0".to_string(), status("maintenance", "stale snapshot")),
            ("app/1".to_string(), status("blocked", "needs x")),
        ]),
        private_address: "10.1.2.3".into(),
        ..HookContext::default()
    }
}

fn in_action(mut ctx: HookContext) -> HookContext {
    ctx.hook = None;
    let params = json!({"name": "bob", "count": 2, "opts": {"deep": {"x": true}}, "list": [1, 2]});
    let serde_json::Value::Object(params) = params else {
        unreachable!()
    };
    ctx.action = Some(ActionContext {
        name: "greet".into(),
        id: "5".into(),
        params,
        ..ActionContext::default()
    });
    ctx
}

#[test]
fn status_set_applies_immediately_for_unit_and_application() {
    let mut ctx = context();
    assert_prints(
        &run(
            &mut ctx,
            "status-set",
            &["--application=False", "maintenance", "--", "-starting"],
        ),
        "",
    );
    assert_eq!(ctx.unit_status, status("maintenance", "-starting"));
    assert_eq!(
        ctx.unit_statuses["app/0"],
        status("maintenance", "-starting")
    );
    assert_prints(
        &run(
            &mut ctx,
            "status-set",
            &["--application=True", "active", "all good"],
        ),
        "",
    );
    assert_eq!(ctx.app_status, status("active", "all good"));
    assert_prints(&run(&mut ctx, "status-set", &["blocked"]), "");
    assert_eq!(
        ctx.immediate,
        vec![
            Immediate::UnitStatus {
                status: "maintenance".into(),
                message: "-starting".into()
            },
            Immediate::AppStatus {
                status: "active".into(),
                message: "all good".into()
            },
            Immediate::UnitStatus {
                status: "blocked".into(),
                message: String::new()
            },
        ]
    );
}

#[test]
fn status_set_errors() {
    let mut ctx = context();
    assert_fails(
        &run(&mut ctx, "status-set", &[]),
        2,
        "ERROR invalid args, require <status> [message]\n",
    );
    assert_fails(
        &run(&mut ctx, "status-set", &["error", "x"]),
        2,
        "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n",
    );
    assert_fails(
        &run(&mut ctx, "status-set", &["active", "a", "b"]),
        2,
        "ERROR unrecognized args: [\"b\"]\n",
    );
    assert_fails(
        &run(&mut ctx, "status-set", &["--application=maybe", "active"]),
        2,
        "ERROR invalid value \"maybe\" for option --application: strconv.ParseBool: parsing \"maybe\": invalid syntax\n",
    );
    ctx.is_leader = false;
    assert_fails(
        &run(&mut ctx, "status-set", &["--application", "active"]),
        1,
        "ERROR this unit is not the leader\n",
    );
    assert!(ctx.immediate.is_empty());
}

#[test]
fn status_get_shapes() {
    let mut ctx = context();
    assert_prints(&run(&mut ctx, "status-get", &[]), "active\n");
    assert_prints(
        &run(&mut ctx, "status-get", &["--format=json"]),
        "{\"status\":\"active\"}\n",
    );
    assert_prints(
        &run(
            &mut ctx,
            "status-get",
            &["--include-data", "--format=json", "--application=false"],
        ),
        "{\"message\":\"ready\",\"status\":\"active\",\"status-data\":{}}\n",
    );
    assert_prints(
        &run(&mut ctx, "status-get", &["--include-data"]),
        "message: ready\nstatus: active\nstatus-data: {}\n",
    );
    assert_prints(
        &run(&mut ctx, "status-get", &["--application"]),
        "waiting\n",
    );
    // `units` sits inside `application-status`; this unit shows its live status.
    assert_prints(
        &run(&mut ctx, "status-get", &["--include-data", "--format=json", "--application=true"]),
        concat!(
            "{\"application-status\":{\"message\":\"app msg\",\"status\":\"waiting\",\"status-data\":{},",
            "\"units\":{\"app/0\":{\"message\":\"ready\",\"status\":\"active\",\"status-data\":{}},",
            "\"app/1\":{\"message\":\"needs x\",\"status\":\"blocked\",\"status-data\":{}}}}}\n"
        ),
    );
    assert_prints(
        &run(&mut ctx, "status-get", &["--application", "--format=json"]),
        "{\"application-status\":{\"status\":\"waiting\",\"units\":{\"app/0\":{\"status\":\"active\"},\"app/1\":{\"status\":\"blocked\"}}}}\n",
    );
    assert_fails(
        &run(&mut ctx, "status-get", &["x"]),
        2,
        "ERROR unrecognized args: [\"x\"]\n",
    );

    ctx.is_leader = false;
    assert_fails(
        &run(&mut ctx, "status-get", &["--application"]),
        1,
        "ERROR finding application status: this unit is not the leader\n",
    );
}

#[test]
fn status_get_keeps_the_first_read_for_the_rest_of_the_hook() {
    let mut ctx = context();
    assert_prints(&run(&mut ctx, "status-get", &[]), "active\n");
    assert_prints(&run(&mut ctx, "status-set", &["blocked", "changed"]), "");
    assert_prints(&run(&mut ctx, "status-get", &[]), "active\n");

    // Without an earlier status-get, the new status is what Juju would return.
    let mut ctx = context();
    assert_prints(&run(&mut ctx, "status-set", &["blocked", "changed"]), "");
    assert_prints(&run(&mut ctx, "status-get", &[]), "blocked\n");
}

#[test]
fn is_leader_formats() {
    let mut ctx = context();
    assert_prints(&run(&mut ctx, "is-leader", &[]), "True\n");
    assert_prints(&run(&mut ctx, "is-leader", &["--format=json"]), "true\n");
    assert_prints(&run(&mut ctx, "is-leader", &["--format=yaml"]), "true\n");
    ctx.is_leader = false;
    assert_prints(&run(&mut ctx, "is-leader", &[]), "False\n");
    assert_prints(
        &run(&mut ctx, "is-leader", &["--format", "json"]),
        "false\n",
    );
    assert_fails(
        &run(&mut ctx, "is-leader", &["--format=xml"]),
        2,
        "ERROR invalid value \"xml\" for option --format: unknown format \"xml\"\n",
    );
}

#[test]
fn leader_get_and_set() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "leader-get", &["--format=json"]),
        "{\"seed\":\"42\"}\n",
    );
    assert_prints(&run(&mut ctx, "leader-get", &["seed"]), "42\n");
    assert_prints(
        &run(&mut ctx, "leader-get", &["--format=json", "nope"]),
        "null\n",
    );
    assert_prints(&run(&mut ctx, "leader-get", &["-"]), "seed: '42'\n");
    assert_fails(
        &run(&mut ctx, "leader-get", &["a=b"]),
        2,
        "ERROR invalid key \"a=b\"\n",
    );

    assert_prints(&run(&mut ctx, "leader-set", &["a=1", "seed="]), "");
    assert_eq!(ctx.leader_settings, bag(&[("a", "1")]));
    assert_eq!(
        ctx.immediate,
        vec![Immediate::LeaderSet {
            settings: bag(&[("a", "1")])
        }]
    );
    assert_prints(
        &run(&mut ctx, "leader-get", &["--format=json"]),
        "{\"a\":\"1\"}\n",
    );
    // Writing what is already there changes nothing.
    assert_prints(&run(&mut ctx, "leader-set", &["a=1"]), "");
    assert_eq!(ctx.immediate.len(), 1);
    assert_fails(
        &run(&mut ctx, "leader-set", &["oops"]),
        2,
        "ERROR expected \"key=value\", got \"oops\"\n",
    );

    ctx.is_leader = false;
    assert_fails(
        &run(&mut ctx, "leader-set", &["a=2"]),
        1,
        "ERROR cannot write leadership settings: cannot write settings: not the leader\n",
    );
    assert_eq!(ctx.leader_settings, bag(&[("a", "1")]));
}

#[test]
fn config_get_typed_values() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "config-get", &["--format=json"]),
        "{\"count\":3,\"debug\":false,\"name\":\"hello\",\"ratio\":0.5}\n",
    );
    assert_prints(
        &run(&mut ctx, "config-get", &["--all", "--format=json"]),
        "{\"count\":3,\"debug\":false,\"name\":\"hello\",\"ratio\":0.5,\"unset\":null}\n",
    );
    assert_prints(
        &run(&mut ctx, "config-get", &["-a", "--format=json"]),
        "{\"count\":3,\"debug\":false,\"name\":\"hello\",\"ratio\":0.5,\"unset\":null}\n",
    );
    assert_prints(
        &run(&mut ctx, "config-get", &["count", "--format=json"]),
        "3\n",
    );
    assert_prints(&run(&mut ctx, "config-get", &["count"]), "3\n");
    assert_prints(&run(&mut ctx, "config-get", &["name"]), "hello\n");
    assert_prints(&run(&mut ctx, "config-get", &["debug"]), "False\n");
    assert_prints(
        &run(&mut ctx, "config-get", &["unset", "--format=json"]),
        "null\n",
    );
    assert_prints(
        &run(&mut ctx, "config-get", &["missing", "--format=json"]),
        "null\n",
    );
    assert_prints(
        &run(&mut ctx, "config-get", &[]),
        "count: 3\ndebug: false\nname: hello\nratio: 0.5\n",
    );
    assert_fails(
        &run(&mut ctx, "config-get", &["--all", "name"]),
        2,
        "ERROR cannot use argument --all together with key \"name\"\n",
    );
}

#[test]
fn state_get_set_delete() {
    let mut ctx = context();
    // No state at all: null, not {}.
    assert_prints(&run(&mut ctx, "state-get", &["--format=json"]), "null\n");
    assert_prints(&run(&mut ctx, "state-get", &[]), "");
    assert_prints(
        &run(&mut ctx, "state-get", &["--format=json", "k"]),
        "\"\"\n",
    );
    assert_fails(
        &run(&mut ctx, "state-get", &["--strict", "k"]),
        1,
        "ERROR \"k\" not found\n",
    );

    let stdin = br#"{"a": "1", "b": "2"}"#;
    assert_prints(
        &run_with_stdin(
            &mut ctx,
            "state-set",
            &["--file", "-", "b=3", "empty="],
            stdin,
        ),
        "",
    );
    assert_eq!(
        ctx.state,
        Some(bag(&[("a", "1"), ("b", "3"), ("empty", "")]))
    );
    assert_prints(
        &run(&mut ctx, "state-get", &["--format=json"]),
        "{\"a\":\"1\",\"b\":\"3\",\"empty\":\"\"}\n",
    );
    assert_prints(&run(&mut ctx, "state-get", &["b"]), "3\n");
    assert_prints(
        &run(&mut ctx, "state-get", &["-"]),
        "a: '1'\nb: '3'\nempty: ''\n",
    );

    assert_prints(&run(&mut ctx, "state-delete", &["a"]), "");
    assert_prints(&run(&mut ctx, "state-delete", &["never-there"]), "");
    assert_prints(&run(&mut ctx, "state-delete", &[]), "");
    assert_eq!(ctx.state, Some(bag(&[("b", "3"), ("empty", "")])));
    assert_fails(
        &run(&mut ctx, "state-delete", &["b", "c"]),
        2,
        "ERROR unrecognized args: [\"c\"]\n",
    );
}

#[test]
fn state_set_limits() {
    let mut ctx = context();
    let long_key = format!("{}=v", "k".repeat(257));
    assert_fails(
        &run(&mut ctx, "state-set", &[&long_key]),
        1,
        "ERROR max allowed key length (256) exceeded\n",
    );
    let long_value = format!("k={}", "v".repeat(64 * 1024 + 1));
    assert_fails(
        &run(&mut ctx, "state-set", &[&long_value]),
        1,
        "ERROR max allowed value length (65536) exceeded\n",
    );
    assert_eq!(ctx.state, None);
    let at_limit = format!("{}={}", "k".repeat(256), "v".repeat(64 * 1024));
    assert_prints(&run(&mut ctx, "state-set", &[&at_limit]), "");
    assert_eq!(ctx.state.as_ref().map(|state| state.len()), Some(1));
    assert_fails(
        &run(&mut ctx, "state-set", &["k"]),
        2,
        "ERROR expected \"key=value\", got \"k\"\n",
    );
}

#[test]
fn action_get_params() {
    let mut ctx = in_action(context());
    assert_prints(
        &run(&mut ctx, "action-get", &["--format=json"]),
        "{\"count\":2,\"list\":[1,2],\"name\":\"bob\",\"opts\":{\"deep\":{\"x\":true}}}\n",
    );
    assert_prints(&run(&mut ctx, "action-get", &["name"]), "bob\n");
    assert_prints(
        &run(&mut ctx, "action-get", &["count", "--format=json"]),
        "2\n",
    );
    assert_prints(&run(&mut ctx, "action-get", &["opts.deep.x"]), "True\n");
    assert_prints(
        &run(&mut ctx, "action-get", &["opts.deep", "--format=json"]),
        "{\"x\":true}\n",
    );
    assert_prints(&run(&mut ctx, "action-get", &["list"]), "- 1\n- 2\n");
    assert_prints(
        &run(&mut ctx, "action-get", &["opts.missing", "--format=json"]),
        "null\n",
    );
    assert_prints(
        &run(&mut ctx, "action-get", &["name.deeper", "--format=json"]),
        "null\n",
    );
    assert_fails(
        &run(&mut ctx, "action-get", &["a", "b"]),
        2,
        "ERROR unrecognized args: [\"b\"]\n",
    );

    // No params: an empty map.
    if let Some(action) = ctx.action.as_mut() {
        action.params.clear();
    }
    assert_prints(&run(&mut ctx, "action-get", &["--format=json"]), "{}\n");
}

#[test]
fn action_set_builds_nested_results() {
    let mut ctx = in_action(context());
    assert_prints(
        &run(
            &mut ctx,
            "action-set",
            &["outfile.size=10G", "foo.bar=2", "plain=a=b"],
        ),
        "",
    );
    assert_prints(
        &run(&mut ctx, "action-set", &["foo.baz.val=3", "foo.bar=4"]),
        "",
    );
    let results = ctx
        .action
        .as_ref()
        .map(|action| serde_json::Value::Object(action.results.clone()));
    assert_eq!(
        results,
        Some(
            json!({"outfile": {"size": "10G"}, "foo": {"bar": "4", "baz": {"val": "3"}}, "plain": "a=b"})
        )
    );
}

#[test]
fn action_set_key_rules() {
    let mut ctx = in_action(context());
    let rule = "must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods";
    assert_fails(
        &run(&mut ctx, "action-set", &["Foo=1"]),
        2,
        &format!("ERROR key \"Foo\" {rule}\n"),
    );
    assert_fails(
        &run(&mut ctx, "action-set", &["a.-b=1"]),
        2,
        &format!("ERROR key \"-b\" {rule}\n"),
    );
    assert_fails(
        &run(&mut ctx, "action-set", &["a..b=1"]),
        2,
        &format!("ERROR key \"\" {rule}\n"),
    );
    assert_fails(
        &run(&mut ctx, "action-set", &["stdout=x"]),
        2,
        "ERROR cannot set reserved action key \"stdout\"\n",
    );
    assert_fails(
        &run(&mut ctx, "action-set", &["x.stderr-encoding=x"]),
        2,
        "ERROR cannot set reserved action key \"stderr-encoding\"\n",
    );
    assert_fails(
        &run(&mut ctx, "action-set", &["x"]),
        2,
        "ERROR argument \"x\" must be of the form key...=value\n",
    );
    assert_eq!(
        ctx.action.as_ref().map(|action| action.results.len()),
        Some(0)
    );
}

#[test]
fn action_fail_and_log() {
    let mut ctx = in_action(context());
    assert_prints(&run(&mut ctx, "action-fail", &[]), "");
    assert_eq!(
        ctx.action
            .as_ref()
            .and_then(|action| action.failed.clone())
            .as_deref(),
        Some("action failed without reason given, check action for errors")
    );
    assert_prints(&run(&mut ctx, "action-fail", &["--", "-broken"]), "");
    assert_eq!(
        ctx.action
            .as_ref()
            .and_then(|action| action.failed.clone())
            .as_deref(),
        Some("-broken")
    );
    assert_fails(
        &run(&mut ctx, "action-fail", &["a", "b"]),
        2,
        "ERROR unrecognized args: [\"b\"]\n",
    );

    assert_prints(
        &run(&mut ctx, "action-log", &["--", "step", "1", "done"]),
        "",
    );
    assert_eq!(
        ctx.immediate,
        vec![Immediate::ActionLog {
            message: "step 1 done".into()
        }]
    );
    assert_fails(
        &run(&mut ctx, "action-log", &[]),
        2,
        "ERROR no message specified\n",
    );
}

#[test]
fn action_tools_outside_an_action() {
    let mut ctx = context();
    for (tool, args) in [
        ("action-get", &["--format=json"][..]),
        ("action-set", &["a=1"][..]),
        ("action-fail", &["why"][..]),
        ("action-log", &["hello"][..]),
    ] {
        assert_fails(
            &run(&mut ctx, tool, args),
            1,
            "ERROR not running an action\n",
        );
    }
    assert!(ctx.immediate.is_empty());
    // Argument errors still come first.
    assert_fails(
        &run(&mut ctx, "action-log", &[]),
        2,
        "ERROR no message specified\n",
    );
}

#[test]
fn juju_log_levels_and_relation_prefix() {
    let mut ctx = context();
    assert_prints(
        &run(
            &mut ctx,
            "juju-log",
            &["--log-level", "WARNING", "--", "-a", "b"],
        ),
        "",
    );
    assert_prints(&run(&mut ctx, "juju-log", &["plain"]), "");
    assert_prints(&run(&mut ctx, "juju-log", &["--debug", "dbg"]), "");
    assert_prints(&run(&mut ctx, "juju-log", &["-l", "error", "lower"]), "");
    assert_prints(&run(&mut ctx, "juju-log", &["-l", "loud", "bad level"]), "");
    ctx.relation_id = Some(4);
    assert_prints(&run(&mut ctx, "juju-log", &["in", "relation"]), "");
    let log = |level: &str, message: &str| Immediate::Log {
        level: level.into(),
        message: message.into(),
    };
    assert_eq!(
        ctx.immediate,
        vec![
            log("WARNING", "-a b"),
            log("INFO", "plain"),
            log("DEBUG", "dbg"),
            log("ERROR", "lower"),
            log("WARNING", "Specified log level of \"loud\" is not valid"),
            log("INFO", "bad level"),
            log("INFO", "db:4: in relation"),
        ]
    );
    assert_fails(
        &run(&mut ctx, "juju-log", &[]),
        2,
        "ERROR no message specified\n",
    );
    assert_fails(
        &run(&mut ctx, "juju-log", &["--"]),
        2,
        "ERROR no message specified\n",
    );
    let deprecated = run(&mut ctx, "juju-log", &["--format=json", "x"]);
    assert_eq!(
        (deprecated.code, text(&deprecated.stderr)),
        (0, "--format flag deprecated for command \"juju-log\"")
    );
}

#[test]
fn application_version_set_is_immediate() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "application-version-set", &["--", "8.0.36"]),
        "",
    );
    assert_eq!(
        ctx.immediate,
        vec![Immediate::WorkloadVersion {
            version: "8.0.36".into()
        }]
    );
    assert_fails(
        &run(&mut ctx, "application-version-set", &[]),
        2,
        "ERROR no version specified\n",
    );
    assert_fails(
        &run(&mut ctx, "application-version-set", &["1", "2"]),
        2,
        "ERROR unrecognized args: [\"2\"]\n",
    );
}

#[test]
fn goal_state_lists_units_and_non_peer_relations() {
    let mut ctx = context();
    let output = run(&mut ctx, "goal-state", &["--format=json"]);
    assert_eq!(output.code, 0, "{}", text(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let since = value["units"]["app/0"]["since"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // `YYYY-MM-DD hh:mm:ssZ`.
    assert_eq!(since.len(), 20, "{since}");
    assert_eq!(
        (&since[4..5], &since[10..11], &since[19..]),
        ("-", " ", "Z")
    );
    let entry = |status: &str| json!({"status": status, "since": since});
    assert_eq!(
        value,
        json!({
            "units": {"app/0": entry("active"), "app/1": entry("blocked")},
            "relations": {"db": {"pg": entry("joined"), "pg/0": entry("unknown")}},
        })
    );
    // Default format is YAML; smart is not offered.
    let yaml = run(&mut ctx, "goal-state", &[]);
    assert!(
        text(&yaml.stdout).starts_with("relations:\n  db:\n"),
        "{}",
        text(&yaml.stdout)
    );
    assert_fails(
        &run(&mut ctx, "goal-state", &["--format=smart"]),
        2,
        "ERROR invalid value \"smart\" for option --format: unknown format \"smart\"\n",
    );
}

#[test]
fn unit_get_addresses() {
    let mut ctx = context();
    assert_prints(
        &run(&mut ctx, "unit-get", &["private-address"]),
        "10.1.2.3\n",
    );
    assert_prints(
        &run(&mut ctx, "unit-get", &["public-address", "--format=json"]),
        "\"10.1.2.3\"\n",
    );
    assert_fails(
        &run(&mut ctx, "unit-get", &[]),
        2,
        "ERROR no setting specified\n",
    );
    assert_fails(
        &run(&mut ctx, "unit-get", &["zone"]),
        2,
        "ERROR unknown setting \"zone\"\n",
    );
}

#[test]
fn common_command_line_rules() {
    let mut ctx = context();
    for tool in TOOL_NAMES {
        let help = run(&mut ctx, tool, &["--help"]);
        assert_eq!(help.code, 0, "{tool}");
        assert!(
            text(&help.stdout).starts_with(&format!("Usage: {tool}")),
            "{tool}: {}",
            text(&help.stdout)
        );
        assert_eq!(run(&mut ctx, tool, &["-h"]), help, "{tool}");
        assert_fails(
            &run(&mut ctx, tool, &["--no-such-flag"]),
            2,
            "ERROR option provided but not defined: --no-such-flag\n",
        );
    }
    assert_fails(
        &run(&mut ctx, "config-get", &["--format"]),
        2,
        "ERROR option needs an argument: --format\n",
    );
    assert_fails(
        &run(&mut ctx, "network-get", &[]),
        1,
        "ERROR bad request: unknown command: network-get\n",
    );
    // None of the above changed anything.
    assert_eq!(ctx, context());
}
