//! What one server says about itself (read-only or not, replicating from where, how far
//! behind), and the member state and role the cluster view gives it.
//!
//! The rules, in the words of Group Replication's states:
//! - no answer: OFFLINE;
//! - the recorded primary: ONLINE when writable, RECOVERING while still read-only;
//! - any other server: ONLINE when both replication threads run against the primary's
//!   port and it is not behind; RECOVERING while connecting or catching up; ERROR when
//!   replication stopped on an error; OFFLINE when replication is not running at all;
//! - in a Galera cluster, any server: what Galera reports decides. ONLINE only when the
//!   node is `Synced` in the primary component (and, for the recorded primary, writable);
//!   RECOVERING while it joins, receives a state transfer or donates one; OFFLINE
//!   otherwise. No timer decides that a node is back.

use super::sql::{QueryResult, SqlClient};
use mysql_charm::workload::{CommandFailure, MemberRole, MemberState};

/// A replica's `SHOW SLAVE STATUS`, the fields the cluster view needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaStatus {
    pub io_running: String,
    pub sql_running: String,
    pub seconds_behind: Option<u64>,
    pub source_port: Option<u16>,
    pub last_error: String,
}

/// A Galera node's own account of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GaleraStatus {
    /// `wsrep_local_state_comment`: `Joining`, `Joined`, `Synced`, `Donor/Desynced`, ...
    pub local_state: String,
    /// `wsrep_cluster_status`: `Primary` when the node is in the primary component.
    pub cluster_status: String,
}

/// One server's answer to the workload's questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    pub read_only: bool,
    pub version: String,
    pub replica: Option<ReplicaStatus>,
    /// Only asked of the servers of a Galera cluster.
    pub galera: Option<GaleraStatus>,
}

fn failure_without_output(query: &str) -> CommandFailure {
    CommandFailure {
        command: format!("mariadb <<< {query:?}"),
        exit_code: Some(0),
        stderr: "the query printed no row".to_owned(),
    }
}

/// Asks a server (as the administrative user) for its role and replication state, and
/// for its Galera state when `galera`.
pub(crate) fn probe(admin: &SqlClient, galera: bool) -> Result<Probe, CommandFailure> {
    const SELF_QUERY: &str = "SELECT @@read_only AS read_only, @@version AS version";
    let own = admin.query(SELF_QUERY)?;
    let (Some(read_only), Some(version)) = (own.first("read_only"), own.first("version")) else {
        return Err(failure_without_output(SELF_QUERY));
    };
    let read_only = read_only != "0";
    let version = version.to_owned();
    let replica = parse_replica(&admin.query("SHOW SLAVE STATUS")?);
    let galera = if galera {
        const GALERA_QUERY: &str = "SHOW STATUS WHERE Variable_name IN \
             ('wsrep_local_state_comment', 'wsrep_cluster_status')";
        let rows = admin.query(GALERA_QUERY)?;
        let value = |name: &str| {
            rows.rows
                .iter()
                .find(|row| row.first().map(String::as_str) == Some(name))
                .and_then(|row| row.get(1).cloned())
                .unwrap_or_default()
        };
        Some(GaleraStatus {
            local_state: value("wsrep_local_state_comment"),
            cluster_status: value("wsrep_cluster_status"),
        })
    } else {
        None
    };
    Ok(Probe {
        read_only,
        version,
        replica,
        galera,
    })
}

fn parse_replica(result: &QueryResult) -> Option<ReplicaStatus> {
    let field = |name: &str| result.first(name).unwrap_or_default().to_owned();
    result.rows.first()?;
    let last_error = [field("Last_SQL_Error"), field("Last_IO_Error")]
        .into_iter()
        .find(|e| !e.is_empty())
        .unwrap_or_default();
    Some(ReplicaStatus {
        io_running: field("Slave_IO_Running"),
        sql_running: field("Slave_SQL_Running"),
        seconds_behind: field("Seconds_Behind_Master").parse().ok(),
        source_port: field("Master_Port").parse().ok(),
        last_error,
    })
}

/// The member state and role of a server, given whether it is the recorded primary,
/// what it answered (`None`: it did not), and the port it should replicate from.
pub(crate) fn member_view(
    is_primary: bool,
    answer: Option<&Probe>,
    primary_port: Option<u16>,
) -> (MemberState, Option<MemberRole>) {
    let Some(probe) = answer else {
        return (MemberState::Offline, None);
    };
    if let Some(galera) = &probe.galera {
        return galera_view(is_primary, probe.read_only, galera);
    }
    if is_primary {
        let state = if probe.read_only {
            MemberState::Recovering
        } else {
            MemberState::Online
        };
        return (state, Some(MemberRole::Primary));
    }
    let Some(replica) = &probe.replica else {
        return (MemberState::Offline, None);
    };
    if replica.sql_running != "Yes" || replica.io_running == "No" {
        let state = if replica.last_error.is_empty() {
            MemberState::Offline
        } else {
            MemberState::Error
        };
        return (state, None);
    }
    let from_primary = primary_port.is_some() && replica.source_port == primary_port;
    let caught_up = replica.io_running == "Yes" && replica.seconds_behind == Some(0);
    let state = if from_primary && caught_up {
        MemberState::Online
    } else {
        MemberState::Recovering
    };
    (state, Some(MemberRole::Secondary))
}

/// A Galera node's member state: Galera's own words, never a timer.
fn galera_view(
    is_primary: bool,
    read_only: bool,
    galera: &GaleraStatus,
) -> (MemberState, Option<MemberRole>) {
    let role = if is_primary {
        MemberRole::Primary
    } else {
        MemberRole::Secondary
    };
    let synced = galera.local_state == "Synced" && galera.cluster_status == "Primary";
    if synced {
        let state = if is_primary && read_only {
            MemberState::Recovering
        } else {
            MemberState::Online
        };
        return (state, Some(role));
    }
    let joining = galera.cluster_status == "Primary"
        && ["Joining", "Joined", "Donor", "Waiting"]
            .iter()
            .any(|s| galera.local_state.starts_with(s));
    if joining {
        (MemberState::Recovering, Some(role))
    } else {
        (MemberState::Offline, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(io: &str, sql: &str, behind: Option<u64>, port: u16, error: &str) -> Probe {
        Probe {
            read_only: true,
            version: "10.11.6-MariaDB-juju-sim-8.0.34-r182".into(),
            replica: Some(ReplicaStatus {
                io_running: io.into(),
                sql_running: sql.into(),
                seconds_behind: behind,
                source_port: Some(port),
                last_error: error.into(),
            }),
            galera: None,
        }
    }

    fn node(state: &str, cluster: &str, read_only: bool) -> Probe {
        Probe {
            read_only,
            version: "10.11.19-MariaDB-juju-sim-8.0.34-r182".into(),
            replica: None,
            galera: Some(GaleraStatus {
                local_state: state.into(),
                cluster_status: cluster.into(),
            }),
        }
    }

    #[test]
    fn galera_nodes_are_online_only_when_synced_in_the_primary_component() {
        assert_eq!(
            member_view(false, Some(&node("Synced", "Primary", true)), None),
            (MemberState::Online, Some(MemberRole::Secondary))
        );
        assert_eq!(
            member_view(true, Some(&node("Synced", "Primary", false)), None),
            (MemberState::Online, Some(MemberRole::Primary))
        );
        assert_eq!(
            member_view(true, Some(&node("Synced", "Primary", true)), None).0,
            MemberState::Recovering
        );
        for joining in [
            "Joining",
            "Joined",
            "Donor/Desynced",
            "Joining: receiving State Transfer",
        ] {
            assert_eq!(
                member_view(false, Some(&node(joining, "Primary", true)), None).0,
                MemberState::Recovering,
                "{joining}"
            );
        }
        assert_eq!(
            member_view(false, Some(&node("Synced", "non-Primary", true)), None),
            (MemberState::Offline, None)
        );
        assert_eq!(
            member_view(
                false,
                Some(&node("Initialized", "Disconnected", true)),
                None
            )
            .0,
            MemberState::Offline
        );
    }

    #[test]
    fn primary_is_online_once_writable() {
        let mut probe = replica("No", "No", None, 0, "");
        probe.replica = None;
        probe.read_only = false;
        assert_eq!(
            member_view(true, Some(&probe), Some(1)),
            (MemberState::Online, Some(MemberRole::Primary))
        );
        probe.read_only = true;
        assert_eq!(
            member_view(true, Some(&probe), Some(1)),
            (MemberState::Recovering, Some(MemberRole::Primary))
        );
        assert_eq!(
            member_view(true, None, Some(1)),
            (MemberState::Offline, None)
        );
    }

    #[test]
    fn replicas_are_online_only_when_caught_up_with_the_primary() {
        let online = replica("Yes", "Yes", Some(0), 20_000, "");
        assert_eq!(
            member_view(false, Some(&online), Some(20_000)),
            (MemberState::Online, Some(MemberRole::Secondary))
        );
        // Replicating from a server that is no longer the primary.
        assert_eq!(
            member_view(false, Some(&online), Some(20_001)).0,
            MemberState::Recovering
        );
        let connecting = replica("Connecting", "Yes", None, 20_000, "");
        assert_eq!(
            member_view(false, Some(&connecting), Some(20_000)).0,
            MemberState::Recovering
        );
        let behind = replica("Yes", "Yes", Some(3), 20_000, "");
        assert_eq!(
            member_view(false, Some(&behind), Some(20_000)).0,
            MemberState::Recovering
        );
    }

    #[test]
    fn stopped_or_broken_replication_is_offline_or_error() {
        let mut never = replica("No", "No", None, 0, "");
        never.replica = None;
        assert_eq!(
            member_view(false, Some(&never), Some(1)),
            (MemberState::Offline, None)
        );
        let stopped = replica("No", "No", None, 20_000, "");
        assert_eq!(
            member_view(false, Some(&stopped), Some(20_000)).0,
            MemberState::Offline
        );
        let broken = replica(
            "Yes",
            "No",
            None,
            20_000,
            "Duplicate entry '1' for key 'PRIMARY'",
        );
        assert_eq!(
            member_view(false, Some(&broken), Some(20_000)).0,
            MemberState::Error
        );
    }

    #[test]
    fn slave_status_columns_are_read_by_name() {
        let result = QueryResult {
            columns: vec![
                "Slave_IO_Running".into(),
                "Slave_SQL_Running".into(),
                "Seconds_Behind_Master".into(),
                "Master_Port".into(),
                "Last_IO_Error".into(),
                "Last_SQL_Error".into(),
            ],
            rows: vec![vec![
                "Connecting".into(),
                "Yes".into(),
                "NULL".into(),
                "20001".into(),
                "error connecting to master".into(),
                String::new(),
            ]],
        };
        let status = parse_replica(&result).expect("a replica");
        assert_eq!(status.io_running, "Connecting");
        assert_eq!(status.seconds_behind, None);
        assert_eq!(status.source_port, Some(20_001));
        assert_eq!(status.last_error, "error connecting to master");
        assert_eq!(parse_replica(&QueryResult::default()), None);
    }
}
