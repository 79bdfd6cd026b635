//! The InnoDB cluster as one unit's server reports it: members by unit name, with their
//! Group Replication state and role.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A member's Group Replication state, as MySQL Shell's `cluster.status()` spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum MemberState {
    /// Serving, in sync with the group.
    Online,
    /// Joined, catching up with the group (distributed recovery).
    Recovering,
    /// Server up, Group Replication not running (or server stopped, in the emulator).
    Offline,
    /// Group Replication hit an error on this member.
    Error,
    /// The group lost contact with this member.
    Unreachable,
    /// In the cluster metadata but not in the group (MySQL Shell prints `(MISSING)`).
    Missing,
    /// Any other state string, kept verbatim rather than rejected.
    Other(String),
}

impl MemberState {
    /// Parses a state, ignoring case and the parentheses MySQL Shell puts around `MISSING`.
    pub fn parse(text: &str) -> Self {
        let bare = text.trim().trim_start_matches('(').trim_end_matches(')');
        match bare.to_ascii_uppercase().as_str() {
            "ONLINE" => Self::Online,
            "RECOVERING" => Self::Recovering,
            "OFFLINE" => Self::Offline,
            "ERROR" => Self::Error,
            "UNREACHABLE" => Self::Unreachable,
            "MISSING" => Self::Missing,
            _ => Self::Other(text.trim().to_owned()),
        }
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Online => "ONLINE",
            Self::Recovering => "RECOVERING",
            Self::Offline => "OFFLINE",
            Self::Error => "ERROR",
            Self::Unreachable => "UNREACHABLE",
            Self::Missing => "(MISSING)",
            Self::Other(text) => text,
        })
    }
}

impl From<String> for MemberState {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

impl From<MemberState> for String {
    fn from(state: MemberState) -> Self {
        state.to_string()
    }
}

/// A member's role in a single-primary group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MemberRole {
    /// Accepts writes.
    Primary,
    /// Read-only replica.
    Secondary,
}

impl MemberRole {
    /// Parses `PRIMARY`/`SECONDARY`, ignoring case; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PRIMARY" => Some(Self::Primary),
            "SECONDARY" => Some(Self::Secondary),
            _ => None,
        }
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Primary => "PRIMARY",
            Self::Secondary => "SECONDARY",
        })
    }
}

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// The Juju unit running this instance, e.g. `mysql/1`.
    pub unit: String,
    /// Its Group Replication state.
    pub state: MemberState,
    /// Its role; `None` when the member is not in the group (MySQL Shell omits it).
    pub role: Option<MemberRole>,
    /// `host:port`, when known.
    pub address: Option<String>,
    /// The server version it runs, when known.
    pub version: Option<String>,
}

/// The cluster as seen from one unit's server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Members by unit name.
    pub members: BTreeMap<String, ClusterMember>,
}

impl ClusterStatus {
    /// Builds a status from members, keyed by their unit names.
    pub fn from_members(members: impl IntoIterator<Item = ClusterMember>) -> Self {
        Self {
            members: members.into_iter().map(|m| (m.unit.clone(), m)).collect(),
        }
    }

    /// The unit of the ONLINE primary, if there is one.
    pub fn primary(&self) -> Option<&str> {
        self.members
            .values()
            .find(|m| m.role == Some(MemberRole::Primary) && m.state == MemberState::Online)
            .map(|m| m.unit.as_str())
    }

    /// The member running on `unit`.
    pub fn member(&self, unit: &str) -> Option<&ClusterMember> {
        self.members.get(unit)
    }

    /// Units whose members are ONLINE, in name order.
    pub fn online_units(&self) -> Vec<&str> {
        self.members
            .values()
            .filter(|m| m.state == MemberState::Online)
            .map(|m| m.unit.as_str())
            .collect()
    }
}

impl ClusterStatus {
    /// The members in the shape of MySQL Shell's `cluster.status()`:
    /// `defaultReplicaSet.topology.<instance label>` with `address`, `memberRole`, `status`
    /// and `version`, and `defaultReplicaSet.primary` (the primary's address, or its label
    /// when the address is unknown).
    pub fn to_shell_status(&self) -> serde_json::Value {
        let label_or_address =
            |m: &ClusterMember| m.address.clone().unwrap_or_else(|| instance_label(&m.unit));
        let topology: serde_json::Map<String, serde_json::Value> = self
            .members
            .values()
            .map(|m| {
                let mut entry = serde_json::Map::new();
                entry.insert("address".into(), label_or_address(m).into());
                if let Some(role) = m.role {
                    entry.insert("memberRole".into(), role.to_string().into());
                }
                entry.insert("status".into(), m.state.to_string().into());
                if let Some(version) = &m.version {
                    entry.insert("version".into(), version.clone().into());
                }
                (instance_label(&m.unit), entry.into())
            })
            .collect();
        let primary = self
            .primary()
            .and_then(|unit| self.member(unit))
            .map(label_or_address);
        serde_json::json!({
            "defaultReplicaSet": {
                "primary": primary,
                "topology": topology,
            }
        })
    }
}

/// Charmed MySQL labels each instance with its unit name, `/` replaced by `-`.
pub fn instance_label(unit: &str) -> String {
    unit.replace('/', "-")
}

/// The unit behind an instance label (`mysql-k8s-2` -> `mysql-k8s/2`); labels that do not
/// end in `-<number>` are kept as they are.
pub(crate) fn unit_from_label(label: &str) -> String {
    match label.rsplit_once('-') {
        Some((app, number))
            if !app.is_empty()
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{app}/{number}")
        }
        _ => label.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_as_mysql_shell_prints_them() {
        assert_eq!(MemberState::parse("ONLINE"), MemberState::Online);
        assert_eq!(MemberState::parse("recovering"), MemberState::Recovering);
        assert_eq!(MemberState::parse("(MISSING)"), MemberState::Missing);
        assert_eq!(
            MemberState::parse("SOMETHING_NEW"),
            MemberState::Other("SOMETHING_NEW".into())
        );
        assert_eq!(MemberState::Missing.to_string(), "(MISSING)");
    }

    #[test]
    fn labels_map_back_to_unit_names() {
        assert_eq!(unit_from_label("mysql-0"), "mysql/0");
        assert_eq!(unit_from_label("my-sql-12"), "my-sql/12");
        assert_eq!(unit_from_label("127.0.0.1:3306"), "127.0.0.1:3306");
        assert_eq!(unit_from_label("-3"), "-3");
        assert_eq!(instance_label("my-sql/12"), "my-sql-12");
    }

    #[test]
    fn primary_must_be_online() {
        let status = ClusterStatus::from_members([
            ClusterMember {
                unit: "mysql/0".into(),
                state: MemberState::Offline,
                role: Some(MemberRole::Primary),
                address: None,
                version: None,
            },
            ClusterMember {
                unit: "mysql/1".into(),
                state: MemberState::Online,
                role: Some(MemberRole::Secondary),
                address: None,
                version: None,
            },
        ]);
        assert_eq!(status.primary(), None);
        assert_eq!(status.online_units(), vec!["mysql/1"]);
    }
}
