//! MySQL Shell scripts the charm runs, and the parsing of what they print.
//!
//! A script goes to `mysqlsh --python` on standard input (batch mode), so credentials
//! never appear on a command line. It connects, prints a marker, then does its work;
//! only what follows the marker is parsed, so connection warnings cannot confuse us.
//! Each script is the Python that Charmed MySQL's `lib/charms/mysql/v0/mysql.py` sends to
//! the Shell for the same operation (`dba`, `cluster`, `session`, `shell` objects).

use std::path::Path;

use serde_json::{json, Value};

use crate::workload::cluster::unit_from_label;
use crate::workload::{ClusterMember, ClusterStatus, MemberRole, MemberState, WorkloadRevision};

/// Printed by every script before its real output.
pub(crate) const OUTPUT_MARKER: &str = "###mysql-charm-output###";

/// Printed by the upgrade-check script when the checker refuses to compare a server with
/// its own version (nothing to upgrade).
pub(crate) const SAME_VERSION: &str = "SAME_VERSION";

/// The units-operations lock task serialising additions to the cluster (Charmed MySQL's
/// `UNIT_ADD_LOCKNAME`), a row of `mysql.juju_units_operations`.
pub(crate) const UNIT_ADD_LOCK: &str = "unit-add";
/// The units-operations lock task serialising removals (`UNIT_TEARDOWN_LOCKNAME`).
pub(crate) const UNIT_TEARDOWN_LOCK: &str = "unit-teardown";

/// Where a script connects to.
pub(crate) enum Endpoint<'a> {
    /// Classic protocol over TCP.
    Tcp { host: &'a str, port: u16 },
    /// The local server's socket (root logs in only there).
    Socket(&'a Path),
}

/// Where and as whom a script connects.
pub(crate) struct Connection<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub endpoint: Endpoint<'a>,
}

impl Connection<'_> {
    /// A MySQL Shell connection dictionary (JSON is valid Python here: strings and a number).
    pub(crate) fn dictionary(&self) -> String {
        match &self.endpoint {
            Endpoint::Tcp { host, port } => json!({
                "scheme": "mysql",
                "user": self.user,
                "password": self.password,
                "host": host,
                "port": port,
            }),
            Endpoint::Socket(path) => json!({
                "scheme": "mysql",
                "user": self.user,
                "password": self.password,
                "socket": path.display().to_string(),
            }),
        }
        .to_string()
    }
}

/// A Python string literal (JSON string escapes are valid Python escapes).
pub(crate) fn py_str(text: &str) -> String {
    Value::from(text).to_string()
}

/// A Python dictionary literal of `value` (a JSON object of strings, numbers and
/// booleans); JSON's `true`/`false` are spelt the Python way.
fn py_dict(value: &Value) -> String {
    fn render(value: &Value) -> String {
        match value {
            Value::Bool(true) => "True".to_owned(),
            Value::Bool(false) => "False".to_owned(),
            Value::Null => "None".to_owned(),
            Value::Object(map) => format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!("{}: {}", py_str(k), render(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Array(items) => format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            ),
            other => other.to_string(),
        }
    }
    render(value)
}

/// A SQL string literal inside single quotes (backslashes and quotes escaped, as MySQL
/// reads them without `NO_BACKSLASH_ESCAPES`).
pub(crate) fn sql_str(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn script(connection: &Connection<'_>, body: &[String]) -> String {
    let mut lines = vec![
        "shell.options.set('useWizards', False)".to_owned(),
        format!("shell.connect({})", connection.dictionary()),
        format!("print({})", py_str(OUTPUT_MARKER)),
    ];
    lines.extend_from_slice(body);
    lines.push(String::new());
    lines.join("\n")
}

fn run_sql(sql: &str) -> String {
    format!("session.run_sql({})", py_str(sql))
}

fn get_cluster(cluster: &str) -> String {
    format!("cluster = dba.get_cluster({})", py_str(cluster))
}

/// `SELECT 1`: the server accepts connections (Charmed MySQL's `check_mysqlsh_connection`).
pub(crate) fn check_connection(connection: &Connection<'_>) -> String {
    script(connection, &[run_sql("SELECT 1")])
}

/// The running server's version (`SELECT version()`), e.g. `8.0.34-0ubuntu0.22.04.1`.
pub(crate) fn server_version(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[format!(
            "print({}.fetch_one()[0])",
            run_sql("SELECT version()")
        )],
    )
}

/// `cluster.status()` of the cluster, as JSON.
pub(crate) fn cluster_status(connection: &Connection<'_>, cluster: &str, extended: bool) -> String {
    script(
        connection,
        &[
            get_cluster(cluster),
            format!(
                "print(cluster.status({}))",
                py_dict(&json!({ "extended": extended }))
            ),
        ],
    )
}

/// The cluster set's `status()`, as JSON (extended 0, as Charmed MySQL's action).
pub(crate) fn cluster_set_status(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[
            "cluster_set = dba.get_cluster_set()".to_owned(),
            "print(cluster_set.status({\"extended\": 0}))".to_owned(),
        ],
    )
}

/// Makes the instance at `address` the primary, from the current primary.
pub(crate) fn set_primary(connection: &Connection<'_>, cluster: &str, address: &str) -> String {
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            get_cluster(cluster),
            format!("cluster.set_primary_instance({})", py_str(address)),
        ],
    )
}

/// `SET GLOBAL innodb_fast_shutdown = 0` on the connected instance.
pub(crate) fn slow_shutdown(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[run_sql("SET GLOBAL innodb_fast_shutdown = 0")],
    )
}

/// The upgrade checker of this shell against the connected server, JSON output. The
/// checker raises `ValueError` for a server of the shell's own version; that is reported
/// as [`SAME_VERSION`], anything else is re-raised.
pub(crate) fn upgrade_check(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[
            "try:".to_owned(),
            "    util.check_for_server_upgrade(options={'outputFormat': 'JSON'})".to_owned(),
            "except ValueError:".to_owned(),
            "    running = session.run_sql('SELECT @@version').fetch_one()[0].split('-')[0]"
                .to_owned(),
            "    if running in shell.version:".to_owned(),
            format!("        print({})", py_str(SAME_VERSION)),
            "    else:".to_owned(),
            "        raise".to_owned(),
        ],
    )
}

/// A single-unit cluster after its server restarted: Group Replication does not re-form a
/// group alone, so the cluster is rebooted from this instance.
pub(crate) fn reboot_from_complete_outage(connection: &Connection<'_>, cluster: &str) -> String {
    script(
        connection,
        &[format!(
            "dba.reboot_cluster_from_complete_outage({})",
            py_str(cluster)
        )],
    )
}

/// From the primary: rejoin the OFFLINE instance at `address` (its auto-rejoin attempts
/// are exhausted).
pub(crate) fn rejoin_instance(connection: &Connection<'_>, cluster: &str, address: &str) -> String {
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            get_cluster(cluster),
            format!("cluster.rejoin_instance({})", py_str(address)),
        ],
    )
}

/// From the primary: drop instances that left the group from the metadata (the stale
/// incarnation of a reset instance).
pub(crate) fn rescan_removing(connection: &Connection<'_>, cluster: &str) -> String {
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            get_cluster(cluster),
            format!(
                "cluster.rescan({})",
                py_dict(&json!({"removeInstances": "auto"}))
            ),
        ],
    )
}

/// Takes the units-operations lock `task` for `label` and prints `1` when this unit holds
/// it (Charmed MySQL's `_acquire_lock`: an UPDATE that only succeeds on a free lock).
pub(crate) fn acquire_lock(connection: &Connection<'_>, task: &str, label: &str) -> String {
    script(
        connection,
        &[
            run_sql(&format!(
                "UPDATE mysql.juju_units_operations SET executor={}, status='in-progress' \
                 WHERE task={} AND executor=''",
                sql_str(label),
                sql_str(task)
            )),
            format!(
                "print({}.fetch_one()[0])",
                run_sql(&format!(
                    "SELECT count(*) FROM mysql.juju_units_operations WHERE task={} AND executor={}",
                    sql_str(task),
                    sql_str(label)
                ))
            ),
        ],
    )
}

/// Releases the lock `task` held by `label`.
pub(crate) fn release_lock(connection: &Connection<'_>, task: &str, label: &str) -> String {
    script(
        connection,
        &[run_sql(&format!(
            "UPDATE mysql.juju_units_operations SET executor='', status='not-started' \
             WHERE task={} AND executor={}",
            sql_str(task),
            sql_str(label)
        ))],
    )
}

/// This instance's Group Replication state (`NONE` when it has no row) and whether
/// Group Replication is still trying to rejoin by itself (Charmed MySQL's
/// `get_member_state` and `is_cluster_auto_rejoin_ongoing`).
pub(crate) fn member_state(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[
            format!(
                "rows = {}.fetch_all()",
                run_sql(
                    "SELECT MEMBER_STATE FROM performance_schema.replication_group_members \
                     WHERE MEMBER_ID = @@server_uuid OR MEMBER_ID = ''"
                )
            ),
            format!(
                "rejoining = {}.fetch_one()[0]",
                run_sql(
                    "SELECT COUNT(*) FROM performance_schema.events_stages_current \
                     WHERE EVENT_NAME LIKE '%auto-rejoin%'"
                )
            ),
            "print(rows[0][0] if rows else 'NONE', 'auto-rejoin' if rejoining else 'no-rejoin')"
                .to_owned(),
        ],
    )
}

/// Prints how many units-operations locks are held (`are_locks_acquired`).
pub(crate) fn locks_held(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[format!(
            "print({}.fetch_one()[0])",
            run_sql("SELECT COUNT(*) FROM mysql.juju_units_operations WHERE status='in-progress'")
        )],
    )
}

/// Creates the units-operations table on the new cluster's first instance.
pub(crate) fn create_lock_table(connection: &Connection<'_>) -> String {
    let mut body = vec![
        run_sql("DROP TABLE IF EXISTS mysql.juju_units_operations"),
        run_sql(
            "CREATE TABLE mysql.juju_units_operations (task varchar(20), executor varchar(20), \
             status varchar(20), primary key(task))",
        ),
    ];
    for task in [UNIT_TEARDOWN_LOCK, UNIT_ADD_LOCK] {
        body.push(run_sql(&format!(
            "INSERT INTO mysql.juju_units_operations VALUES ({}, '', 'not-started') \
             ON DUPLICATE KEY UPDATE executor = '', status = 'not-started'",
            sql_str(task)
        )));
    }
    script(connection, &body)
}

/// From the primary: adds `address` to the cluster, its data cloned from a donor.
pub(crate) fn add_instance(
    connection: &Connection<'_>,
    cluster: &str,
    address: &str,
    label: &str,
) -> String {
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            get_cluster(cluster),
            format!(
                "cluster.add_instance({}, {})",
                py_str(address),
                py_dict(&json!({"recoveryMethod": "clone", "label": label}))
            ),
        ],
    )
}

/// Creates the cluster on the connected (leader's) instance, labels it, and creates the
/// cluster set around it (Charmed MySQL's `create_cluster` and `create_cluster_set`).
pub(crate) fn create_cluster(
    connection: &Connection<'_>,
    cluster: &str,
    cluster_set: &str,
    address: &str,
    label: &str,
) -> String {
    script(
        connection,
        &[
            format!(
                "cluster = dba.create_cluster({}, {})",
                py_str(cluster),
                py_dict(&json!({"communicationStack": "MySQL"}))
            ),
            format!(
                "cluster.set_instance_option({}, 'label', {})",
                py_str(address),
                py_str(label)
            ),
            format!("cluster.create_cluster_set({})", py_str(cluster_set)),
        ],
    )
}

/// Prepares the connected instance for InnoDB Cluster and creates the cluster-admin user;
/// the Shell restarts mysqld to apply persisted settings.
pub(crate) fn configure_instance(
    connection: &Connection<'_>,
    cluster_admin: &str,
    cluster_admin_password: &str,
) -> String {
    script(
        connection,
        &[format!(
            "dba.configure_instance(None, {})",
            py_dict(&json!({
                "clusterAdmin": cluster_admin,
                "clusterAdminPassword": cluster_admin_password,
                "restart": true,
            }))
        )],
    )
}

/// A system user the charm creates at initialisation, with its grants.
pub(crate) struct SystemUser<'a> {
    pub name: &'a str,
    pub password: &'a str,
    /// What follows `GRANT` (privileges and `ON ...`).
    pub grants: &'a str,
    /// Appended to `CREATE USER` (e.g. `WITH MAX_USER_CONNECTIONS 3`).
    pub options: &'a str,
}

/// As root over the socket: root's password, then the system users and their grants, and
/// root stripped of what only the charm's users need (Charmed MySQL's
/// `configure_mysql_system_users`).
pub(crate) fn configure_system_users(
    connection: &Connection<'_>,
    root_password: &str,
    users: &[SystemUser<'_>],
) -> String {
    let mut body = vec![run_sql(&format!(
        "ALTER USER 'root'@'localhost' IDENTIFIED BY {}",
        sql_str(root_password)
    ))];
    for user in users {
        let mut create = format!(
            "CREATE USER IF NOT EXISTS {}@'%' IDENTIFIED BY {}",
            sql_str(user.name),
            sql_str(user.password)
        );
        if !user.options.is_empty() {
            create = format!("{create} {}", user.options);
        }
        body.push(run_sql(&create));
        body.push(run_sql(&format!(
            "GRANT {} TO {}@'%'",
            user.grants,
            sql_str(user.name)
        )));
    }
    body.push(run_sql(
        "REVOKE BINLOG_ADMIN, CONNECTION_ADMIN, ENCRYPTION_KEY_ADMIN, GROUP_REPLICATION_ADMIN, \
         REPLICATION_SLAVE_ADMIN, SET_USER_ID, SUPER, SYSTEM_USER, SYSTEM_VARIABLES_ADMIN, \
         VERSION_TOKEN_ADMIN ON *.* FROM 'root'@'localhost'",
    ));
    body.push(run_sql("FLUSH PRIVILEGES"));
    script(connection, &body)
}

/// Installs each `(plugin, library)` not installed yet, with `super_read_only` lifted for
/// the time of it (a secondary is read-only) and put back after.
pub(crate) fn install_plugins(connection: &Connection<'_>, plugins: &[(&str, &str)]) -> String {
    let mut body = vec![
        format!(
            "installed = [row[0] for row in {}.fetch_all()]",
            run_sql("SELECT PLUGIN_NAME FROM information_schema.PLUGINS")
        ),
        format!(
            "read_only = {}.fetch_one()[0]",
            run_sql("SELECT @@GLOBAL.super_read_only")
        ),
        "if read_only:".to_owned(),
        format!("    {}", run_sql("SET GLOBAL super_read_only = OFF")),
        "try:".to_owned(),
    ];
    for (plugin, library) in plugins {
        body.push(format!("    if {} not in installed:", py_str(plugin)));
        body.push(format!(
            "        {}",
            run_sql(&format!(
                "INSTALL PLUGIN {plugin} SONAME {}",
                sql_str(library)
            ))
        ));
        body.push(format!("        print('installed', {})", py_str(plugin)));
    }
    body.extend([
        "finally:".to_owned(),
        "    if read_only:".to_owned(),
        format!("        {}", run_sql("SET GLOBAL super_read_only = ON")),
    ]);
    script(connection, &body)
}

/// On the primary: a new password for `user`@`host`.
pub(crate) fn update_password(
    connection: &Connection<'_>,
    user: &str,
    host: &str,
    password: &str,
) -> String {
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            run_sql(&format!(
                "ALTER USER {}@{} IDENTIFIED BY {}",
                sql_str(user),
                sql_str(host),
                sql_str(password)
            )),
            run_sql("FLUSH PRIVILEGES"),
        ],
    )
}

/// What a script printed after its marker; `None` when the marker is missing.
pub(crate) fn after_marker(stdout: &str) -> Option<&str> {
    stdout
        .rfind(OUTPUT_MARKER)
        .map(|at| &stdout[at + OUTPUT_MARKER.len()..])
}

/// The JSON object in `text`: from its first `{` to its last `}`.
pub(crate) fn json_object(text: &str) -> Result<Value, String> {
    let (Some(start), Some(end)) = (text.find('{'), text.rfind('}')) else {
        return Err("no JSON object".to_owned());
    };
    if end < start {
        return Err("no JSON object".to_owned());
    }
    serde_json::from_str(&text[start..=end]).map_err(|e| format!("invalid JSON: {e}"))
}

/// `value[key]`, ignoring the key's case (Charmed MySQL lower-cases the whole output;
/// MySQL Shell prints camelCase).
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn text_field(value: &Value, key: &str) -> Option<String> {
    field(value, key)?.as_str().map(str::to_owned)
}

/// Parses the output of `print(cluster.status())`.
pub(crate) fn parse_cluster_status(text: &str) -> Result<ClusterStatus, String> {
    let status = json_object(text)?;
    let topology = field(&status, "defaultReplicaSet")
        .and_then(|set| field(set, "topology"))
        .and_then(Value::as_object)
        .ok_or("no defaultReplicaSet.topology object")?;
    let members = topology.iter().map(|(label, member)| ClusterMember {
        unit: unit_from_label(label),
        state: text_field(member, "status")
            .map(|s| MemberState::parse(&s))
            .unwrap_or_else(|| MemberState::Other("UNKNOWN".to_owned())),
        role: text_field(member, "memberRole").and_then(|r| MemberRole::parse(&r)),
        address: text_field(member, "address"),
        version: text_field(member, "version"),
    });
    Ok(ClusterStatus::from_members(members))
}

/// What the upgrade checker concluded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UpgradeCheck {
    /// The server already runs the shell's version.
    SameVersion,
    /// The checker's report.
    Report {
        /// Errors found (any error blocks the upgrade).
        error_count: u64,
        /// Its one-line summary.
        summary: String,
    },
}

/// Parses the output of [`upgrade_check`].
pub(crate) fn parse_upgrade_check(text: &str) -> Result<UpgradeCheck, String> {
    if text.lines().any(|line| line.trim() == SAME_VERSION) {
        return Ok(UpgradeCheck::SameVersion);
    }
    let report = json_object(text)?;
    let error_count = field(&report, "errorCount")
        .and_then(Value::as_u64)
        .ok_or("no errorCount in the checker report")?;
    Ok(UpgradeCheck::Report {
        error_count,
        summary: text_field(&report, "summary").unwrap_or_default(),
    })
}

/// Parses `snap list <snap>`: the row of `snap`, its Version and Rev columns, and whether
/// its Notes say `held`.
pub(crate) fn parse_snap_list(
    stdout: &str,
    snap: &str,
) -> Result<(WorkloadRevision, bool), String> {
    stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|columns| columns.first() == Some(&snap))
        .and_then(|columns| match columns.as_slice() {
            [_, version, revision, rest @ ..] => Some((
                WorkloadRevision::new(*version, *revision),
                rest.last()
                    .is_some_and(|notes| notes.split(',').any(|n| n == "held")),
            )),
            _ => None,
        })
        .ok_or_else(|| format!("no row for {snap} with version and revision"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_quoted_as_python_strings() {
        let connection = Connection {
            user: "serverconfig",
            password: "pa'ss\"word\\",
            endpoint: Endpoint::Tcp {
                host: "10.0.0.1",
                port: 3306,
            },
        };
        let text = slow_shutdown(&connection);
        let line = text
            .lines()
            .find(|l| l.starts_with("shell.connect("))
            .unwrap_or_default();
        // The dictionary round-trips: what Python reads is what we meant.
        let dict: Value = serde_json::from_str(
            line.trim_start_matches("shell.connect(")
                .trim_end_matches(')'),
        )
        .expect("dictionary is JSON");
        assert_eq!(dict["password"], "pa'ss\"word\\");
        assert_eq!(dict["port"], 3306);
    }

    const SNAP_LIST: &str = include_str!("../../../tests/fixtures/snap-list-held.txt");
    const CLUSTER_STATUS: &str = include_str!("../../../tests/fixtures/cluster-status.json");

    #[test]
    fn snap_list_rows_are_found_by_name_with_the_held_note() {
        assert_eq!(
            parse_snap_list(SNAP_LIST, "charmed-mysql"),
            Ok((WorkloadRevision::new("8.0.34-0ubuntu0.22.04.1", "69"), true))
        );
        assert_eq!(
            parse_snap_list(SNAP_LIST, "lxd"),
            Ok((WorkloadRevision::new("5.0.3-80aeff7", "27948"), false))
        );
        let unheld = SNAP_LIST.replace("dataplatformbot    held", "dataplatformbot    -");
        assert_eq!(
            parse_snap_list(&unheld, "charmed-mysql").map(|(_, held)| held),
            Ok(false)
        );
        assert!(parse_snap_list("Name Version Rev\n", "charmed-mysql").is_err());
    }

    #[test]
    fn cluster_status_members_states_and_roles_come_from_the_topology() {
        let status = parse_cluster_status(CLUSTER_STATUS).expect("parsed");
        assert_eq!(status.primary(), Some("mysql/1"));
        let m0 = status.member("mysql/0").expect("mysql/0");
        assert_eq!(m0.state, MemberState::Recovering);
        assert_eq!(m0.role, Some(MemberRole::Secondary));
        let m2 = status.member("mysql/2").expect("mysql/2");
        assert_eq!(m2.state, MemberState::Missing);
        assert_eq!(m2.version.as_deref(), Some("8.0.35"));
        assert_eq!(status.online_units(), vec!["mysql/1"]);
        // Charmed MySQL lower-cases everything; the parse does not care.
        let lowered = parse_cluster_status(&CLUSTER_STATUS.to_lowercase()).expect("lower");
        assert_eq!(lowered.primary(), Some("mysql/1"));
    }

    #[test]
    fn sql_literals_escape_quotes_and_backslashes() {
        assert_eq!(sql_str(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn python_dictionaries_spell_booleans_the_python_way() {
        assert_eq!(
            py_dict(&json!({"restart": true, "n": 0, "s": "x"})),
            r#"{"n": 0, "restart": True, "s": "x"}"#
        );
    }
}
