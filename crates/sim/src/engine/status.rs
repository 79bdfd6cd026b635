//! `juju status` as data: what an operator sees per application and unit
//! (docs/hook-contract.md §5.2), shared by the library API and the CLI's formats.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::StatusValue;
use crate::model::{Application, Model, Unit};

/// A status with its message, as `juju status --format json` names the fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusInfo {
    /// E.g. `active`.
    pub current: String,
    /// The message (may be empty).
    pub message: String,
}

impl From<&StatusValue> for StatusInfo {
    fn from(value: &StatusValue) -> StatusInfo {
        StatusInfo {
            current: value.status.clone(),
            message: value.message.clone(),
        }
    }
}

/// The whole model's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Model name, uuid and virtual time.
    pub model: ModelInfo,
    /// Applications by name.
    pub applications: BTreeMap<String, AppReport>,
}

/// The model header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Virtual seconds since creation.
    pub clock: u64,
    /// Unix time of virtual second 0.
    pub epoch: u64,
}

/// One application row and its units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AppReport {
    /// Charm name.
    pub charm: String,
    /// The application's charm revision.
    pub charm_rev: u64,
    /// Number of units (dying ones included, as Juju shows them until gone).
    pub scale: usize,
    /// The status the leader set, or the one derived from the units.
    pub application_status: StatusInfo,
    /// The most recently set workload version.
    pub version: String,
    /// Units, in natural order (`/2` before `/10`) when iterated via [`AppReport::units_in_order`].
    pub units: BTreeMap<String, UnitReport>,
}

impl AppReport {
    /// Units sorted by number, as `juju status` lists them.
    pub fn units_in_order(&self) -> Vec<(&String, &UnitReport)> {
        let mut units: Vec<_> = self.units.iter().collect();
        units.sort_by_key(|(name, _)| unit_number(name));
        units
    }
}

/// One unit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct UnitReport {
    /// Workload status (`error` while a hook is in error).
    pub workload_status: StatusInfo,
    /// Agent status (`idle` while in error, as `juju status` folds it).
    pub juju_status: StatusInfo,
    /// True on the leader.
    pub leader: bool,
    /// Machine id.
    pub machine: String,
    /// Address.
    pub public_address: String,
    /// The unit's charm revision, only when it differs from the application's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charm_rev: Option<u64>,
    /// Set by `application-version-set` on this unit.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workload_version: String,
}

/// The number part of a unit name (for natural ordering).
pub fn unit_number(name: &str) -> u64 {
    name.rsplit_once('/')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A unit's (workload, agent) status as `juju status` shows them.
pub fn unit_display(unit: &Unit) -> (StatusValue, StatusValue) {
    if unit.error.is_some() {
        let agent = StatusValue {
            status: "idle".into(),
            message: String::new(),
        };
        let workload = StatusValue {
            status: "error".into(),
            message: unit.agent.message.clone(),
        };
        return (workload, agent);
    }
    let agent = StatusValue {
        status: unit.agent.status.clone(),
        message: unit.agent.message.clone(),
    };
    (unit.workload.clone(), agent)
}

fn severity(status: &str) -> u8 {
    match status {
        "error" => 6,
        "blocked" => 5,
        "maintenance" => 4,
        "waiting" => 3,
        "active" => 2,
        "terminated" => 1,
        _ => 0,
    }
}

/// The status Juju derives for an application whose leader never set one:
/// the most severe unit status (first unit wins ties). `None` without units.
pub fn app_display_status(model: &Model, app: &str) -> Option<StatusValue> {
    let mut units = model.units_of(app);
    units.sort_by_key(|u| unit_number(&u.name));
    let mut best: Option<StatusValue> = None;
    for unit in units {
        let (workload, _) = unit_display(unit);
        if best
            .as_ref()
            .is_none_or(|b| severity(&workload.status) > severity(&b.status))
        {
            best = Some(workload);
        }
    }
    best
}

/// Records, for every unit and application, when the status `juju status`
/// shows began to show (called before each save, so `since` moves only when
/// what an operator sees changes).
pub fn stamp(model: &mut Model) {
    let now = model.clock;
    for unit in model.units.values_mut() {
        let (workload, agent) = unit_display(unit);
        unit.workload_since.update(&workload, now);
        unit.agent_since.update(&agent, now);
    }
    let shown: Vec<(String, StatusValue)> = model
        .applications
        .iter()
        .map(|(name, app)| (name.clone(), app_status(model, name, app)))
        .collect();
    for (name, status) in shown {
        if let Some(app) = model.applications.get_mut(&name) {
            app.status_since.update(&status, now);
        }
    }
}

/// The application status `juju status` shows: the leader's, else the one derived from the units.
pub fn app_status(model: &Model, name: &str, app: &Application) -> StatusValue {
    app.status
        .clone()
        .or_else(|| app_display_status(model, name))
        .unwrap_or_else(|| StatusValue {
            status: "unknown".into(),
            message: String::new(),
        })
}

/// Builds the status report of the whole model.
pub fn report(model: &Model) -> StatusReport {
    let mut applications = BTreeMap::new();
    for (name, app) in &model.applications {
        let mut units = BTreeMap::new();
        for unit in model.units_of(name) {
            let (workload, agent) = unit_display(unit);
            units.insert(
                unit.name.clone(),
                UnitReport {
                    workload_status: (&workload).into(),
                    juju_status: (&agent).into(),
                    leader: app.leader.as_deref() == Some(unit.name.as_str()),
                    machine: unit.machine.clone(),
                    public_address: unit.address.clone(),
                    charm_rev: unit.charm_revision.filter(|r| *r != app.revision),
                    workload_version: unit.workload_version.clone(),
                },
            );
        }
        let status = app_status(model, name, app);
        applications.insert(
            name.clone(),
            AppReport {
                charm: app.charm.clone(),
                charm_rev: app.revision,
                scale: units.len(),
                application_status: (&status).into(),
                version: app.workload_version.clone(),
                units,
            },
        );
    }
    StatusReport {
        model: ModelInfo {
            name: model.name.clone(),
            uuid: model.uuid.clone(),
            clock: model.clock,
            epoch: model.epoch,
        },
        applications,
    }
}
