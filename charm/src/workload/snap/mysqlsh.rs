//! MySQL Shell scripts the charm runs, and the parsing of what they print.
//!
//! A script goes to `mysqlsh --python` on standard input (batch mode), so credentials
//! never appear on a command line. It connects, prints a marker, then does its work;
//! only what follows the marker is parsed, so connection warnings cannot confuse us.

use serde_json::{json, Value};

use crate::workload::cluster::unit_from_label;
use crate::workload::{ClusterMember, ClusterStatus, MemberRole, MemberState, WorkloadRevision};

/// Printed by every script before its real output.
pub(crate) const OUTPUT_MARKER: &str = "###mysql-charm-output###";

/// Printed by the upgrade-check script when the checker refuses to compare a server with
/// its own version (nothing to upgrade).
pub(crate) const SAME_VERSION: &str = "SAME_VERSION";

/// Where and as whom a script connects.
pub(crate) struct Connection<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub host: &'a str,
    pub port: u16,
}

impl Connection<'_> {
    /// A MySQL Shell connection dictionary (JSON is valid Python here: strings and a number).
    fn dictionary(&self) -> String {
        json!({
            "scheme": "mysql",
            "user": self.user,
            "password": self.password,
            "host": self.host,
            "port": self.port,
        })
        .to_string()
    }
}

/// A Python string literal (JSON string escapes are valid Python escapes).
fn py_str(text: &str) -> String {
    Value::from(text).to_string()
}

fn script(connection: &Connection<'_>, body: &[String]) -> String {
    let mut lines = vec![
        format!("shell.connect({})", connection.dictionary()),
        format!("print({})", py_str(OUTPUT_MARKER)),
    ];
    lines.extend_from_slice(body);
    lines.push(String::new());
    lines.join("\n")
}

/// `cluster.status()` of the cluster, as JSON.
pub(crate) fn cluster_status(connection: &Connection<'_>, cluster: &str) -> String {
    script(
        connection,
        &[
            format!("cluster = dba.get_cluster({})", py_str(cluster)),
            "print(cluster.status())".to_owned(),
        ],
    )
}

/// Makes the instance at `address` the primary, from the current primary.
pub(crate) fn set_primary(connection: &Connection<'_>, cluster: &str, address: &str) -> String {
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            format!("cluster = dba.get_cluster({})", py_str(cluster)),
            format!("cluster.set_primary_instance({})", py_str(address)),
        ],
    )
}

/// `SET GLOBAL innodb_fast_shutdown = 0` on the connected instance.
pub(crate) fn slow_shutdown(connection: &Connection<'_>) -> String {
    script(
        connection,
        &[r#"session.run_sql("SET GLOBAL innodb_fast_shutdown = 0")"#.to_owned()],
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

/// From the primary: drop the stale incarnation of an instance from the metadata, then
/// add `instance` back, its data cloned from a donor.
pub(crate) fn rejoin(
    connection: &Connection<'_>,
    cluster: &str,
    instance: &Connection<'_>,
    label: &str,
) -> String {
    let options = json!({"label": label, "recoveryMethod": "clone"}).to_string();
    script(
        connection,
        &[
            "shell.connect_to_primary()".to_owned(),
            format!("cluster = dba.get_cluster({})", py_str(cluster)),
            "cluster.rescan({'removeInstances': 'auto'})".to_owned(),
            format!("cluster.add_instance({}, {options})", instance.dictionary()),
        ],
    )
}

/// Re-forms the cluster from the connected instance after a complete outage.
pub(crate) fn reboot_from_complete_outage(connection: &Connection<'_>, cluster: &str) -> String {
    script(
        connection,
        &[format!(
            "dba.reboot_cluster_from_complete_outage({})",
            py_str(cluster)
        )],
    )
}

/// What a script printed after its marker; `None` when the marker is missing.
pub(crate) fn after_marker(stdout: &str) -> Option<&str> {
    stdout
        .rfind(OUTPUT_MARKER)
        .map(|at| &stdout[at + OUTPUT_MARKER.len()..])
}

/// The JSON object in `text`: from its first `{` to its last `}`.
fn json_object(text: &str) -> Result<Value, String> {
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

/// Parses `snap list <snap>`: the row of `snap`, its Version and Rev columns.
pub(crate) fn parse_snap_list(stdout: &str, snap: &str) -> Result<WorkloadRevision, String> {
    stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|columns| columns.first() == Some(&snap))
        .and_then(|columns| match columns.as_slice() {
            [_, version, revision, ..] => Some(WorkloadRevision::new(*version, *revision)),
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
            host: "10.0.0.1",
            port: 3306,
        };
        let text = slow_shutdown(&connection);
        let first = text.lines().next().unwrap_or_default();
        assert!(first.starts_with("shell.connect({"));
        // The dictionary round-trips: what Python reads is what we meant.
        let dict: Value = serde_json::from_str(
            first
                .trim_start_matches("shell.connect(")
                .trim_end_matches(')'),
        )
        .expect("dictionary is JSON");
        assert_eq!(dict["password"], "pa'ss\"word\\");
        assert_eq!(dict["port"], 3306);
    }

    #[test]
    fn snap_list_rows_are_found_by_name() {
        let out = "Name           Version                  Rev  Tracking    Publisher        Notes\n\
                   charmed-mysql  8.0.34-0ubuntu0.22.04.1  182  8.0/stable  dataplatformbot  held\n";
        assert_eq!(
            parse_snap_list(out, "charmed-mysql"),
            Ok(WorkloadRevision::new("8.0.34-0ubuntu0.22.04.1", "182"))
        );
        assert!(parse_snap_list("Name Version Rev\n", "charmed-mysql").is_err());
    }

    #[test]
    fn the_checker_report_is_read_after_header_text() {
        let out = "The MySQL server at 10.0.0.1:3306, version 8.0.33, will now be checked\n\
                   {\"serverVersion\": \"8.0.33\", \"targetVersion\": \"8.0.34\", \"errorCount\": 2, \
                   \"warningCount\": 1, \"summary\": \"2 errors were found.\"}";
        assert_eq!(
            parse_upgrade_check(out),
            Ok(UpgradeCheck::Report {
                error_count: 2,
                summary: "2 errors were found.".into()
            })
        );
        assert_eq!(
            parse_upgrade_check("\nSAME_VERSION\n"),
            Ok(UpgradeCheck::SameVersion)
        );
        assert!(parse_upgrade_check("garbage").is_err());
    }
}
