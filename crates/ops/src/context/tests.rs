use super::*;

/// The variables Juju sets for every hook, for unit `mysql/2`.
fn base(dispatch_path: &str, hook_name: &str) -> Vec<(String, String)> {
    [
        (DISPATCH_PATH, dispatch_path),
        (HOOK_NAME, hook_name),
        (UNIT_NAME, "mysql/2"),
        (MODEL_NAME, "dev"),
        (MODEL_UUID, "8a2f6c1e-0000-4000-8000-000000000001"),
        (CHARM_DIR, "/var/lib/juju/agents/unit-mysql-2/charm"),
        (VERSION, "3.6.4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn hook(name: &str) -> Vec<(String, String)> {
    base(&format!("hooks/{name}"), name)
}

fn relation_hook(name: &str, remote_unit: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = hook(name);
    vars.extend(
        [
            (RELATION, "upgrade"),
            (RELATION_ID, "upgrade:7"),
            (REMOTE_UNIT, remote_unit),
            (REMOTE_APP, "mysql"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    vars
}

fn action(name: &str, id: &str) -> Vec<(String, String)> {
    let mut vars = base(&format!("actions/{name}"), "");
    vars.push((ACTION_NAME.to_owned(), name.to_owned()));
    vars.push((ACTION_UUID.to_owned(), id.to_owned()));
    vars
}

fn without(mut vars: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    vars.retain(|(k, _)| k != name);
    vars
}

fn with(mut vars: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    vars.push((name.to_owned(), value.to_owned()));
    vars
}

fn expect_relation(vars: Vec<(String, String)>) -> RelationContext {
    let dispatch = Dispatch::from_vars(vars).expect("valid relation hook");
    dispatch.relation().cloned().expect("relation context")
}

#[test]
fn plain_hook_fills_every_field() {
    let dispatch = Dispatch::from_vars(hook("upgrade-charm")).unwrap();
    assert_eq!(
        dispatch,
        Dispatch {
            event: Event::Hook {
                name: "upgrade-charm".to_owned(),
                relation: None,
            },
            unit_name: "mysql/2".to_owned(),
            app_name: "mysql".to_owned(),
            unit_number: 2,
            model_name: "dev".to_owned(),
            model_uuid: Some("8a2f6c1e-0000-4000-8000-000000000001".to_owned()),
            charm_dir: PathBuf::from("/var/lib/juju/agents/unit-mysql-2/charm"),
            juju_version: "3.6.4".to_owned(),
        }
    );
    assert_eq!(dispatch.hook_name(), Some("upgrade-charm"));
    assert!(dispatch.is_hook("upgrade-charm"));
    assert!(!dispatch.is_hook("install"));
    assert!(!dispatch.is_action());
    assert_eq!(dispatch.action_name(), None);
    assert_eq!(dispatch.action_id(), None);
    assert!(!dispatch.is_relation_hook("upgrade"));
}

#[test]
fn every_non_relation_hook_has_no_relation_even_if_relation_vars_linger() {
    for name in [
        "install",
        "start",
        "stop",
        "remove",
        "config-changed",
        "upgrade-charm",
        "update-status",
        "leader-elected",
        "leader-settings-changed",
        "collect-metrics",
    ] {
        let vars = with(hook(name), RELATION, "upgrade");
        let dispatch = Dispatch::from_vars(vars).unwrap();
        assert_eq!(dispatch.hook_name(), Some(name));
        assert_eq!(dispatch.relation(), None, "{name}");
    }
}

#[test]
fn relation_created_has_no_remote_unit() {
    let relation = expect_relation(relation_hook("upgrade-relation-created", "", &[]));
    assert_eq!(relation.kind, RelationHookKind::Created);
    assert_eq!(relation.name(), "upgrade");
    assert_eq!(relation.id, RelationId::new("upgrade", 7));
    assert_eq!(relation.remote_unit, None);
    assert_eq!(relation.remote_app.as_deref(), Some("mysql"));
    assert_eq!(relation.departing_unit, None);
}

#[test]
fn relation_created_accepts_unset_remote_unit() {
    let vars = without(
        relation_hook("upgrade-relation-created", "", &[]),
        REMOTE_UNIT,
    );
    assert_eq!(expect_relation(vars).remote_unit, None);
}

#[test]
fn relation_joined_names_the_remote_unit() {
    let relation = expect_relation(relation_hook("upgrade-relation-joined", "mysql/0", &[]));
    assert_eq!(relation.kind, RelationHookKind::Joined);
    assert_eq!(relation.remote_unit.as_deref(), Some("mysql/0"));
}

#[test]
fn relation_changed_for_a_unit_and_for_the_app_bag() {
    let unit = expect_relation(relation_hook("upgrade-relation-changed", "mysql/10", &[]));
    assert_eq!(unit.kind, RelationHookKind::Changed);
    assert_eq!(unit.remote_unit.as_deref(), Some("mysql/10"));

    let app = expect_relation(relation_hook("upgrade-relation-changed", "", &[]));
    assert_eq!(
        app.remote_unit, None,
        "empty JUJU_REMOTE_UNIT is an app-bag change"
    );
    assert_eq!(app.remote_app.as_deref(), Some("mysql"));
}

#[test]
fn relation_departed_names_the_departing_unit() {
    let relation = expect_relation(relation_hook(
        "upgrade-relation-departed",
        "mysql/1",
        &[(DEPARTING_UNIT, "mysql/1")],
    ));
    assert_eq!(relation.kind, RelationHookKind::Departed);
    assert_eq!(relation.remote_unit.as_deref(), Some("mysql/1"));
    assert_eq!(relation.departing_unit.as_deref(), Some("mysql/1"));
}

#[test]
fn relation_broken_with_empty_remote_app() {
    let mut vars = relation_hook("db-relation-broken", "", &[]);
    for (k, v) in &mut vars {
        match k.as_str() {
            RELATION => *v = "db".to_owned(),
            RELATION_ID => *v = "db:12".to_owned(),
            REMOTE_APP => v.clear(),
            _ => {}
        }
    }
    let dispatch = Dispatch::from_vars(vars).unwrap();
    assert!(dispatch.is_relation_hook("db"));
    assert!(!dispatch.is_relation_hook("upgrade"));
    let relation = dispatch.relation().unwrap();
    assert_eq!(relation.kind, RelationHookKind::Broken);
    assert_eq!(relation.id, RelationId::new("db", 12));
    assert_eq!(relation.remote_unit, None);
    assert_eq!(relation.remote_app, None);
}

#[test]
fn endpoint_names_with_hyphens_and_relation_in_them() {
    let mut vars = hook("database-peers-relation-changed");
    vars.extend(
        [
            (RELATION, "database-peers"),
            (RELATION_ID, "database-peers:0"),
            (REMOTE_UNIT, "mysql/1"),
            (REMOTE_APP, "mysql"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let dispatch = Dispatch::from_vars(vars).unwrap();
    assert!(dispatch.is_relation_hook("database-peers"));
    assert_eq!(
        RelationHookKind::split_hook_name("my-relation-thing-relation-joined"),
        Some(("my-relation-thing", RelationHookKind::Joined))
    );
    assert_eq!(RelationHookKind::split_hook_name("-relation-joined"), None);
    assert_eq!(RelationHookKind::split_hook_name("upgrade-charm"), None);
}

#[test]
fn action_reads_name_and_id_with_empty_hook_name() {
    let dispatch = Dispatch::from_vars(action("pre-upgrade-check", "42")).unwrap();
    assert_eq!(
        dispatch.event,
        Event::Action {
            name: "pre-upgrade-check".to_owned(),
            id: "42".to_owned(),
        }
    );
    assert!(dispatch.is_action());
    assert_eq!(dispatch.action_name(), Some("pre-upgrade-check"));
    assert_eq!(dispatch.action_id(), Some("42"));
    assert_eq!(dispatch.hook_name(), None);
    assert_eq!(dispatch.relation(), None);
}

#[test]
fn action_ignores_relation_vars() {
    let vars = with(action("resume-upgrade", "3"), RELATION_ID, "garbage");
    let dispatch = Dispatch::from_vars(vars).unwrap();
    assert_eq!(dispatch.relation(), None);
}

#[test]
fn dispatch_path_may_be_a_legacy_hook_path() {
    let vars = base(
        "/var/lib/juju/agents/unit-mysql-2/charm/hooks/install",
        "install",
    );
    assert_eq!(
        Dispatch::from_vars(vars).unwrap().hook_name(),
        Some("install")
    );
    let vars = base("./hooks/start/", "start");
    assert_eq!(
        Dispatch::from_vars(vars).unwrap().hook_name(),
        Some("start")
    );
}

#[test]
fn legacy_charm_dir_is_used_when_juju_charm_dir_is_unset() {
    let vars = with(
        without(hook("install"), CHARM_DIR),
        LEGACY_CHARM_DIR,
        "/srv/charm",
    );
    assert_eq!(
        Dispatch::from_vars(vars).unwrap().charm_dir,
        PathBuf::from("/srv/charm")
    );
}

#[test]
fn model_uuid_is_optional() {
    let dispatch = Dispatch::from_vars(without(hook("install"), MODEL_UUID)).unwrap();
    assert_eq!(dispatch.model_uuid, None);
}

#[test]
fn hook_name_may_be_unset_for_hooks() {
    let dispatch = Dispatch::from_vars(without(hook("install"), HOOK_NAME)).unwrap();
    assert_eq!(dispatch.hook_name(), Some("install"));
}

#[test]
fn each_variable_every_event_needs_is_reported_when_missing() {
    for variable in [DISPATCH_PATH, UNIT_NAME, MODEL_NAME, CHARM_DIR, VERSION] {
        let err = Dispatch::from_vars(without(hook("install"), variable)).unwrap_err();
        assert_eq!(err, ContextError::Missing { variable }, "{variable}");
        // Set but empty counts as missing too.
        let vars = with(without(hook("install"), variable), variable, "");
        let err = Dispatch::from_vars(vars).unwrap_err();
        assert_eq!(err, ContextError::Missing { variable }, "{variable} empty");
    }
}

#[test]
fn relation_variables_are_reported_when_missing() {
    for variable in [RELATION, RELATION_ID, REMOTE_APP] {
        let vars = without(
            relation_hook("upgrade-relation-changed", "mysql/0", &[]),
            variable,
        );
        let err = Dispatch::from_vars(vars).unwrap_err();
        assert_eq!(err, ContextError::Missing { variable }, "{variable}");
    }
    for name in [
        "upgrade-relation-joined",
        "upgrade-relation-changed",
        "upgrade-relation-departed",
    ] {
        let vars = without(
            relation_hook(name, "", &[(DEPARTING_UNIT, "mysql/0")]),
            REMOTE_UNIT,
        );
        let err = Dispatch::from_vars(vars).unwrap_err();
        assert_eq!(
            err,
            ContextError::Missing {
                variable: REMOTE_UNIT
            },
            "{name}"
        );
    }
    let vars = relation_hook("upgrade-relation-departed", "mysql/0", &[]);
    let err = Dispatch::from_vars(vars).unwrap_err();
    assert_eq!(
        err,
        ContextError::Missing {
            variable: DEPARTING_UNIT
        }
    );
}

#[test]
fn joined_without_a_remote_unit_is_malformed() {
    let err = Dispatch::from_vars(relation_hook("upgrade-relation-joined", "", &[])).unwrap_err();
    assert!(
        matches!(
            err,
            ContextError::Malformed {
                variable: REMOTE_UNIT,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn action_variables_are_reported_when_missing() {
    for variable in [ACTION_NAME, ACTION_UUID] {
        let err =
            Dispatch::from_vars(without(action("pre-upgrade-check", "1"), variable)).unwrap_err();
        assert_eq!(err, ContextError::Missing { variable }, "{variable}");
    }
}

fn assert_malformed(vars: Vec<(String, String)>, variable: &'static str, value: &str) {
    match Dispatch::from_vars(vars) {
        Err(ContextError::Malformed {
            variable: v,
            value: got,
            ..
        }) => {
            assert_eq!(v, variable);
            assert_eq!(got, value);
        }
        other => panic!("expected {variable}={value:?} to be malformed, got {other:?}"),
    }
}

#[test]
fn malformed_dispatch_paths_name_the_variable_and_value() {
    for path in ["install", "hooks/", "bin/install", "actions", "hooks//"] {
        assert_malformed(base(path, ""), DISPATCH_PATH, path);
    }
}

#[test]
fn malformed_unit_names_name_the_variable_and_value() {
    for unit in [
        "mysql",
        "mysql/",
        "/0",
        "mysql/x",
        "mysql/-1",
        "mysql/99999999999",
    ] {
        let mut vars = hook("install");
        vars.push((UNIT_NAME.to_owned(), unit.to_owned()));
        assert_malformed(vars, UNIT_NAME, unit);
    }
}

#[test]
fn malformed_relation_ids_name_the_variable_and_value() {
    for id in ["upgrade", "upgrade:", ":7", "upgrade:x", "upgrade:-1", "7"] {
        let vars = relation_hook("upgrade-relation-changed", "mysql/0", &[(RELATION_ID, id)]);
        assert_malformed(vars, RELATION_ID, id);
    }
}

#[test]
fn malformed_remote_and_departing_units_are_reported() {
    let vars = relation_hook("upgrade-relation-changed", "mysql", &[]);
    assert_malformed(vars, REMOTE_UNIT, "mysql");
    let vars = relation_hook(
        "upgrade-relation-departed",
        "mysql/1",
        &[(DEPARTING_UNIT, "nope")],
    );
    assert_malformed(vars, DEPARTING_UNIT, "nope");
}

#[test]
fn disagreeing_variables_are_inconsistent() {
    let vars = with(hook("install"), HOOK_NAME, "start");
    assert_eq!(
        Dispatch::from_vars(vars).unwrap_err(),
        ContextError::Inconsistent {
            variable: HOOK_NAME,
            value: "start".to_owned(),
            other: DISPATCH_PATH,
            other_value: "hooks/install".to_owned(),
        }
    );
    let vars = relation_hook("upgrade-relation-changed", "mysql/0", &[(RELATION, "db")]);
    assert!(matches!(
        Dispatch::from_vars(vars).unwrap_err(),
        ContextError::Inconsistent {
            variable: RELATION,
            ..
        }
    ));
    let vars = relation_hook(
        "upgrade-relation-changed",
        "mysql/0",
        &[(RELATION_ID, "db:7")],
    );
    assert!(matches!(
        Dispatch::from_vars(vars).unwrap_err(),
        ContextError::Inconsistent {
            variable: RELATION_ID,
            ..
        }
    ));
    let vars = with(
        action("pre-upgrade-check", "1"),
        ACTION_NAME,
        "resume-upgrade",
    );
    assert!(matches!(
        Dispatch::from_vars(vars).unwrap_err(),
        ContextError::Inconsistent {
            variable: ACTION_NAME,
            ..
        }
    ));
}

#[test]
fn errors_render_the_variable_and_value() {
    let vars = with(hook("install"), UNIT_NAME, "mysql/x");
    let text = Dispatch::from_vars(vars).unwrap_err().to_string();
    assert!(
        text.contains("JUJU_UNIT_NAME") && text.contains("\"mysql/x\""),
        "{text}"
    );
}

#[test]
fn non_utf8_values_are_malformed_only_when_needed() {
    use std::os::unix::ffi::OsStringExt;
    let bad = decode(OsString::from_vec(vec![b'm', 0xff, b'/', b'0']));
    let mut map: HashMap<String, Result<String, String>> = hook("install")
        .into_iter()
        .map(|(k, v)| (k, Ok(v)))
        .collect();
    map.insert("UNRELATED".to_owned(), bad.clone());
    assert!(Dispatch::parse(&Vars(map.clone())).is_ok());
    map.insert(UNIT_NAME.to_owned(), bad);
    assert_eq!(
        Dispatch::parse(&Vars(map)).unwrap_err(),
        ContextError::Malformed {
            variable: UNIT_NAME,
            value: "m\u{fffd}/0".to_owned(),
            reason: "not valid UTF-8".to_owned(),
        }
    );
}

#[test]
fn from_env_reports_what_the_test_environment_lacks() {
    // The test runner is not a Juju hook: whichever variable is checked
    // first must be reported as missing rather than panicking.
    if std::env::var_os(UNIT_NAME).is_none() {
        assert_eq!(
            Dispatch::from_env().unwrap_err(),
            ContextError::Missing {
                variable: UNIT_NAME
            }
        );
    }
}

#[test]
fn unit_names_split_into_app_and_number() {
    assert_eq!(parse_unit_name("mysql/0"), Some(("mysql", 0)));
    assert_eq!(parse_unit_name("my-sql/123"), Some(("my-sql", 123)));
    assert_eq!(parse_unit_name("mysql/1/2"), None);
    assert_eq!(parse_unit_name("mysql/+1"), None);
    assert_eq!(parse_unit_name(""), None);
}
