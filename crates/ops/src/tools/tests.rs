use super::*;

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Asserts a parse error that kept the raw output and the tool name.
fn assert_parse_error<T: fmt::Debug>(result: Result<T, ToolError>, tool: &str, raw: &str) {
    match result {
        Err(ToolError::Parse {
            tool: t,
            output,
            args,
            ..
        }) => {
            assert_eq!(t, tool);
            assert_eq!(output, raw);
            assert_eq!(args, vec!["--format=json".to_owned()]);
        }
        other => panic!("expected a parse error for {raw:?}, got {other:?}"),
    }
}

#[test]
fn relation_ids_round_trip_through_text() {
    let id: RelationId = "database-peers:12".parse().unwrap();
    assert_eq!(id, RelationId::new("database-peers", 12));
    assert_eq!(id.to_string(), "database-peers:12");
    // The id is the integer after the last colon.
    assert_eq!(
        "a:b:3".parse::<RelationId>().unwrap(),
        RelationId::new("a:b", 3)
    );
    for bad in [
        "",
        "7",
        "db",
        "db:",
        ":1",
        "db:x",
        "db:-1",
        "db:+1",
        "db:99999999999999999999999",
    ] {
        assert_eq!(
            bad.parse::<RelationId>(),
            Err(InvalidRelationId(bad.to_owned())),
            "{bad}"
        );
    }
}

#[test]
fn status_names_parse_and_print_as_juju_words() {
    for name in [
        StatusName::Active,
        StatusName::Blocked,
        StatusName::Maintenance,
        StatusName::Waiting,
        StatusName::Unknown,
        StatusName::Error,
        StatusName::Terminated,
    ] {
        assert_eq!(name.as_str().parse::<StatusName>(), Ok(name));
        assert_eq!(name.to_string(), name.as_str());
    }
    assert!(StatusName::Blocked.is_settable());
    assert!(!StatusName::Unknown.is_settable());
    assert!(!StatusName::Error.is_settable());
    assert_eq!(
        "Active".parse::<StatusName>(),
        Err(InvalidStatusName("Active".to_owned()))
    );
}

#[test]
fn unit_status_parses_with_and_without_message() {
    let a = args(&["--format=json"]);
    let out = r#"{"message":"upgrading...","status":"maintenance","status-data":{}}"#;
    assert_eq!(
        parse_unit_status("status-get", &a, out).unwrap(),
        Status::maintenance("upgrading...")
    );
    assert_eq!(
        parse_unit_status("status-get", &a, r#"{"status":"unknown"}"#).unwrap(),
        Status::new(StatusName::Unknown, "")
    );
}

#[test]
fn unit_status_rejects_malformed_output_keeping_it() {
    let a = args(&["--format=json"]);
    for raw in [
        "active\n",
        "",
        "{}",
        r#"{"status":"happy"}"#,
        r#"{"status":3}"#,
        "[1,2]",
    ] {
        assert_parse_error(parse_unit_status("status-get", &a, raw), "status-get", raw);
    }
}

#[test]
fn app_status_reads_units_nested_inside_application_status() {
    let a = args(&["--format=json"]);
    let out = r#"{"application-status":{"message":"ready to rollback application","status":"blocked","status-data":{},
        "units":{"mysql/0":{"message":"","status":"active","status-data":{}},
                 "mysql/1":{"message":"upgrade failed","status":"blocked","status-data":{}}}}}"#;
    let status = parse_app_status("status-get", &a, out).unwrap();
    assert_eq!(
        status.status,
        Status::blocked("ready to rollback application")
    );
    assert_eq!(
        status.units,
        BTreeMap::from([
            ("mysql/0".to_owned(), Status::active("")),
            ("mysql/1".to_owned(), Status::blocked("upgrade failed")),
        ])
    );
    let no_units = r#"{"application-status":{"message":"m","status":"waiting"}}"#;
    let status = parse_app_status("status-get", &a, no_units).unwrap();
    assert_eq!(status.status, Status::waiting("m"));
    assert!(status.units.is_empty());
}

#[test]
fn app_status_rejects_malformed_output() {
    let a = args(&["--format=json"]);
    for raw in [
        r#"{"status":"active"}"#,
        r#"{"application-status":{"status":"active","units":{"mysql/0":{"status":"bogus"}}}}"#,
        "not json",
    ] {
        assert_parse_error(parse_app_status("status-get", &a, raw), "status-get", raw);
    }
}

#[test]
fn relation_ids_output_parses_in_order() {
    let a = args(&["--format=json"]);
    assert_eq!(
        parse_relation_ids("relation-ids", &a, "[\"db:10\",\"db:2\"]\n").unwrap(),
        vec![RelationId::new("db", 10), RelationId::new("db", 2)]
    );
    assert_eq!(
        parse_relation_ids("relation-ids", &a, "[]").unwrap(),
        vec![]
    );
    assert_eq!(
        parse_relation_ids("relation-ids", &a, "null").unwrap(),
        vec![]
    );
    for raw in ["[\"db\"]", "[3]", "{}", "db:1"] {
        assert_parse_error(
            parse_relation_ids("relation-ids", &a, raw),
            "relation-ids",
            raw,
        );
    }
}

#[test]
fn goal_state_units_are_the_sorted_names_of_units_not_dying() {
    let a = args(&["--format=json"]);
    let out = r#"{"units":{"mysql/2":{"status":"active","since":"2026-01-02 03:04:05Z"},
                  "mysql/1":{"status":"waiting","since":"2026-01-02 03:04:05Z"},
                  "mysql/0":{"status":"dying","since":"2026-01-02 03:04:05Z"}},"relations":{}}"#;
    assert_eq!(
        parse_goal_state_units("goal-state", &a, out).unwrap(),
        vec!["mysql/1".to_owned(), "mysql/2".to_owned()]
    );
    assert_parse_error(
        parse_goal_state_units("goal-state", &a, "units: {}"),
        "goal-state",
        "units: {}",
    );
}

#[test]
fn string_maps_reject_non_string_values() {
    let a = args(&["--format=json"]);
    let parsed: BTreeMap<String, String> = parse_json(
        "relation-get",
        &a,
        r#"{"state":"idle","egress-subnets":"10.0.0.1/32"}"#,
    )
    .unwrap();
    assert_eq!(parsed.get("state").map(String::as_str), Some("idle"));
    let raw = r#"{"state":1}"#;
    assert_parse_error(
        parse_json::<BTreeMap<String, String>>("relation-get", &a, raw),
        "relation-get",
        raw,
    );
}

#[test]
fn action_keys_follow_jujus_rule() {
    for good in ["a", "result", "upgrade-stack", "a.b", "x1.y-2.z", "0"] {
        assert_eq!(validate_action_keys([good]), Ok(()), "{good}");
    }
    for bad in [
        "", "A", "-a", "a-", "a_b", "a..b", ".a", "a.", "a b", "a=b", "é",
    ] {
        let err = validate_action_keys([bad]).unwrap_err();
        assert_eq!(err.0, bad);
        assert!(err.1.contains("lowercase alphanumeric"), "{bad}: {}", err.1);
    }
    for reserved in ["stdout", "stderr-encoding", "result.stdout"] {
        let err = validate_action_keys([reserved]).unwrap_err();
        assert!(err.1.contains("reserved"), "{reserved}: {}", err.1);
    }
    let err = validate_action_keys(["a", "a.b"]).unwrap_err();
    assert_eq!(err.0, "a");
    assert!(err.1.contains("\"a.b\""), "{}", err.1);
    // Sharing a prefix that is not a whole segment is fine.
    assert_eq!(validate_action_keys(["ab", "a.b", "a-b"]), Ok(()));
}

#[test]
fn exit_errors_are_classified_by_stderr() {
    let a = args(&["-r", "upgrade:9"]);
    let err = ToolError::from_exit(
        "relation-get",
        &a,
        Some(2),
        "ERROR invalid value \"upgrade:9\" for option -r: relation not found\n".to_owned(),
    );
    assert!(
        matches!(err, ToolError::RelationNotFound { code: Some(2), .. }),
        "{err:?}"
    );
    assert_eq!(err.tool(), "relation-get");
    assert_eq!(err.exit_code(), Some(2));

    let err = ToolError::from_exit(
        "status-set",
        &a,
        Some(1),
        "ERROR this unit is not the leader\n".to_owned(),
    );
    assert!(matches!(err, ToolError::NotLeader { .. }), "{err:?}");

    let err = ToolError::from_exit("state-get", &a, None, "boom".to_owned());
    match &err {
        ToolError::Failed {
            tool,
            args,
            code,
            stderr,
        } => {
            assert_eq!(tool, "state-get");
            assert_eq!(args, &a);
            assert_eq!(*code, None);
            assert_eq!(stderr, "boom");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("killed by a signal") && text.contains("boom"),
        "{text}"
    );
    assert_eq!(err.stderr(), Some("boom"));
}

#[test]
fn failed_error_message_names_tool_args_code_and_stderr() {
    let err = ToolError::from_exit(
        "relation-set",
        &args(&["-r", "upgrade:1", "--app", "--file", "-"]),
        Some(1),
        "ERROR cannot write relation settings\n".to_owned(),
    );
    assert_eq!(
        err.to_string(),
        "`relation-set` with args [\"-r\", \"upgrade:1\", \"--app\", \"--file\", \"-\"] failed \
         (exit code 1): ERROR cannot write relation settings"
    );
}

#[test]
fn messages_split_on_char_boundaries_and_rejoin() {
    assert_eq!(split_message("", 10), vec![""]);
    assert_eq!(split_message("abc", 10), vec!["abc"]);
    assert_eq!(split_message("abcdefghij", 10), vec!["abcdefghij"]);
    assert_eq!(split_message("abcdefghijk", 10), vec!["abcdefghij", "k"]);
    let text = "ééééé€€€x".repeat(7);
    for max in [4, 5, 6, 7, 13] {
        let pieces = split_message(&text, max);
        assert!(
            pieces.iter().all(|p| p.len() <= max && !p.is_empty()),
            "{max}"
        );
        assert_eq!(pieces.concat(), text);
    }
}

#[test]
fn log_levels_map_to_juju_words() {
    use log::Level;
    assert_eq!(juju_log_level(Level::Error), "ERROR");
    assert_eq!(juju_log_level(Level::Warn), "WARNING");
    assert_eq!(juju_log_level(Level::Info), "INFO");
    assert_eq!(juju_log_level(Level::Debug), "DEBUG");
    assert_eq!(juju_log_level(Level::Trace), "TRACE");
}

#[test]
fn refused_calls_never_spawn() {
    // The directory does not exist: any spawn attempt would be a Spawn error,
    // so getting InvalidArgument proves the call was refused first.
    let tools = ProcessHookTools::with_tool_dir("/nonexistent/juju-ops-test-tools");
    let rel = RelationId::new("upgrade", 1);
    let refused = |r: Result<(), ToolError>| {
        assert!(matches!(r, Err(ToolError::InvalidArgument { .. })), "{r:?}")
    };
    refused(tools.status_set(&Status::new(StatusName::Error, "x")));
    refused(tools.app_status_set(&Status::new(StatusName::Unknown, "")));
    refused(tools.action_set(&BTreeMap::from([("Bad".to_owned(), "v".to_owned())])));
    refused(tools.leader_set(&BTreeMap::from([("a=b".to_owned(), "v".to_owned())])));
    refused(tools.leader_set(&BTreeMap::from([(String::new(), "v".to_owned())])));
    refused(tools.state_delete("--all"));
    refused(tools.juju_log(log::Level::Info, "nul \0 byte"));
    refused(tools.relation_get_unit(&rel, "-x").map(drop));
    refused(tools.relation_get_app(&rel, "").map(drop));
    refused(tools.relation_get_unit_key(&rel, "mysql/0", "-").map(drop));
    refused(tools.relation_get_app_key(&rel, "mysql", "--app").map(drop));
    refused(tools.relation_ids("-r").map(drop));
    refused(tools.config_get_key("--all").map(drop));
    // Empty result/settings maps are a no-op rather than a refused call.
    assert!(tools.action_set(&BTreeMap::new()).is_ok());
    assert!(tools.leader_set(&BTreeMap::new()).is_ok());
}

#[test]
fn missing_tool_is_a_spawn_error_with_args() {
    let tools = ProcessHookTools::with_tool_dir("/nonexistent/juju-ops-test-tools");
    match tools.is_leader() {
        Err(ToolError::Spawn { tool, args, source }) => {
            assert_eq!(tool, "is-leader");
            assert_eq!(args, vec!["--format=json".to_owned()]);
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mock_can_stand_in_for_the_tools() {
    let mut mock = MockHookTools::new();
    mock.expect_is_leader().times(1).returning(|| Ok(true));
    mock.expect_relation_ids()
        .withf(|endpoint| endpoint == "upgrade")
        .returning(|_| Ok(vec![RelationId::new("upgrade", 4)]));
    let tools: &dyn HookTools = &mock;
    assert!(tools.is_leader().unwrap());
    assert_eq!(
        tools.relation_ids("upgrade").unwrap(),
        vec![RelationId::new("upgrade", 4)]
    );
}
