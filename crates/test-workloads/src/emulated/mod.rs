//! An emulated MySQL InnoDB cluster for `juju-sim`: no server, just one JSON file per
//! unit, so that the charm's upgrade and rollback paths run end to end on one machine.
//!
//! # Files
//!
//! - `<machine dir>/mysql-workload-<app>-<n>.json`: one unit's server
//!   ([`EmulatedUnitState`]: installed version and revision, running flag, member state,
//!   role, slow-shutdown flag, data-format version, error log). The file carries the unit
//!   name; the file name only keeps co-located units apart.
//! - The cluster is the union of `<model dir>/machines/*/mysql-workload-*.json`: a unit is
//!   a member once its server has started once.
//! - `<model dir>/mysql-faults.json`: faults armed by a test ([`FaultPlan`]), read afresh
//!   by every operation. Schema:
//!
//! ```json
//! {"faults": [
//!   {"kind": "start-fails",         "version": "8.0.35"},
//!   {"kind": "no-rejoin",           "unit": "mysql/1"},
//!   {"kind": "upgrade-check-fails", "version": "8.0.35"},
//!   {"kind": "status-unavailable",  "unit": "mysql/0"},
//!   {"kind": "downgrade-refused",   "version": "8.0.34"}
//! ]}
//! ```
//!
//! `kind` is required; `version` and `unit` are optional selectors (absent = any). The
//! version compared is the one being started (`start-fails`, `downgrade-refused`) or the
//! one installed on the unit doing the operation (`no-rejoin`, `status-unavailable`,
//! `upgrade-check-fails`, whose unit is the one running the checker). Unknown fields are
//! rejected, so a typo does not silently disarm a fault.
//!
//! # Behaviour
//!
//! Every write goes to a temporary file renamed over the target. Nothing sleeps: a started
//! member is RECOVERING, and its recovery completes at the first check of
//! [`Workload::wait_until_online`], which therefore sees it ONLINE at the second check.
//! A server starting while no other member is ONLINE bootstraps the group as PRIMARY.
//! When the primary stops, the ONLINE member with the lowest version (then the lowest unit
//! number) is elected, as Group Replication prefers the lowest version in a mixed group.
//! Starting a version older than the data directory succeeds unless `downgrade-refused`
//! is armed; then the error log shows MY-013171 as mysqld would.

mod faults;
mod state;
mod version;

pub use faults::{FaultKind, FaultPlan, FaultRule, FAULTS_FILE_NAME};
pub use state::{EmulatedUnitState, STATE_FILE_PREFIX};

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use state::{read_state, scan_states, state_file, write_state};

use mysql_charm::workload::error_log::{
    downgrade_refused_since_last_start, DOWNGRADE_REFUSED_CODE, START_MARKER,
};
use mysql_charm::workload::{
    wait_for_online, ClusterMember, ClusterStatus, MemberRole, MemberState, RetryPolicy, Workload,
    WorkloadError, WorkloadRevision,
};

/// The [`Workload`] of one unit in a `juju-sim` model.
#[derive(Debug, Clone)]
pub struct EmulatedWorkload {
    unit: String,
    state_path: PathBuf,
    model_dir: PathBuf,
}

type UnitFile = (PathBuf, EmulatedUnitState);

impl EmulatedWorkload {
    /// The workload of `unit`, whose machine directory is `machine_dir`, in the model at
    /// `model_dir` (the emulator's `JUJU_UNIT_NAME`, `JUJU_SIM_MACHINE_DIR`,
    /// `JUJU_SIM_MODEL_DIR`).
    pub fn new(
        unit: impl Into<String>,
        machine_dir: impl AsRef<Path>,
        model_dir: impl Into<PathBuf>,
    ) -> Self {
        let unit = unit.into();
        Self {
            state_path: state_file(machine_dir.as_ref(), &unit),
            unit,
            model_dir: model_dir.into(),
        }
    }

    /// Builds the workload from the emulator's hook environment, looked up with `var`;
    /// `None` when not running under `juju-sim`.
    pub fn from_hook_env(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        Some(Self::new(
            var("JUJU_UNIT_NAME")?,
            var("JUJU_SIM_MACHINE_DIR")?,
            var("JUJU_SIM_MODEL_DIR")?,
        ))
    }

    /// The unit this workload belongs to.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// This unit's state file.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// This unit's server, as stored; `None` before anything was installed.
    pub fn unit_state(&self) -> Result<Option<EmulatedUnitState>, WorkloadError> {
        let state = read_state(&self.state_path)?;
        if let Some(found) = &state {
            if found.unit != self.unit {
                return Err(WorkloadError::BadStateFile {
                    path: self.state_path.clone(),
                    reason: format!("belongs to {}, not {}", found.unit, self.unit),
                });
            }
        }
        Ok(state)
    }

    fn own(&self) -> Result<EmulatedUnitState, WorkloadError> {
        Ok(self
            .unit_state()?
            .unwrap_or_else(|| EmulatedUnitState::fresh(&self.unit)))
    }

    fn save_own(&self, state: &EmulatedUnitState) -> Result<(), WorkloadError> {
        write_state(&self.state_path, state)
    }

    /// Every other unit's server in the model.
    fn peers(&self) -> Result<Vec<UnitFile>, WorkloadError> {
        Ok(scan_states(&self.model_dir)?
            .into_iter()
            .filter(|(path, s)| s.unit != self.unit && *path != self.state_path)
            .collect())
    }

    fn faults(&self) -> Result<FaultPlan, WorkloadError> {
        FaultPlan::load(&self.model_dir)
    }

    fn installed_or_refuse(
        &self,
        state: &EmulatedUnitState,
        operation: &str,
    ) -> Result<WorkloadRevision, WorkloadError> {
        state
            .installed
            .clone()
            .ok_or_else(|| WorkloadError::Precondition {
                operation: operation.to_owned(),
                reason: format!("nothing is installed on {}", self.unit),
            })
    }

    /// Starts mysqld on `own` (already marked installed), applying the armed faults and
    /// joining the group. The caller saves `own` whatever the outcome.
    fn boot(
        &self,
        own: &mut EmulatedUnitState,
        peers: &[UnitFile],
        faults: &FaultPlan,
    ) -> Result<(), WorkloadError> {
        let installed = self.installed_or_refuse(own, "start")?;
        let version = installed.version.as_str();
        own.starts += 1;
        own.error_log.push(format!(
            "[System] [MY-010116] [Server] mysqld (mysqld {version}) {START_MARKER} {}",
            own.starts
        ));
        let refuse = |own: &mut EmulatedUnitState, reason: String| {
            own.error_log
                .push("[ERROR] [MY-010119] [Server] Aborting".to_owned());
            own.running = false;
            own.member_state = MemberState::Offline;
            own.role = None;
            Err(WorkloadError::StartFailed {
                unit: self.unit.clone(),
                reason,
                failure: None,
            })
        };
        if faults.is_armed(FaultKind::StartFails, &self.unit, Some(version)) {
            return refuse(own, format!("mysqld {version} aborted (armed fault)"));
        }
        match own.data_format_version.clone() {
            Some(data) if version::compare(version, &data) == Ordering::Less => {
                if faults.is_armed(FaultKind::DowngradeRefused, &self.unit, Some(version)) {
                    own.error_log.push(format!(
                        "[ERROR] [{DOWNGRADE_REFUSED_CODE}] [InnoDB] Cannot boot server version {} \
                         on data directory built by version {}. Downgrade is not supported",
                        version::version_id(version),
                        version::version_id(&data)
                    ));
                    return refuse(own, format!("data directory written by {data}"));
                }
            }
            _ => own.data_format_version = Some(version.to_owned()),
        }
        own.running = true;
        own.slow_shutdown = false;
        own.error_log.push(format!(
            "[System] [MY-010931] [Server] mysqld: ready for connections. Version: '{version}'"
        ));
        let group_alive = peers
            .iter()
            .any(|(_, p)| p.running && p.member_state == MemberState::Online);
        if faults.is_armed(FaultKind::NoRejoin, &self.unit, Some(version)) {
            own.member_state = MemberState::Offline;
            own.role = None;
        } else if group_alive {
            own.member_state = MemberState::Recovering;
            own.role = Some(MemberRole::Secondary);
        } else {
            own.member_state = MemberState::Online;
            own.role = Some(MemberRole::Primary);
        }
        Ok(())
    }

    /// The member state seen by one check of [`Workload::wait_until_online`]; a RECOVERING
    /// member finishes its recovery afterwards (unless `no-rejoin` is armed).
    fn poll_member_state(&self) -> Result<MemberState, WorkloadError> {
        let mut own = self.own()?;
        if !own.running {
            return Ok(MemberState::Offline);
        }
        let seen = own.member_state.clone();
        let stuck =
            self.faults()?
                .is_armed(FaultKind::NoRejoin, &self.unit, own.installed_version());
        if seen == MemberState::Recovering && !stuck {
            own.member_state = MemberState::Online;
            self.save_own(&own)?;
        }
        Ok(seen)
    }
}

/// The unit number of `app/N`, for ordering.
fn unit_number(unit: &str) -> u64 {
    juju_ops::context::parse_unit_name(unit).map_or(u64::MAX, |(_, n)| u64::from(n))
}

fn member_of(state: &EmulatedUnitState) -> ClusterMember {
    ClusterMember {
        unit: state.unit.clone(),
        state: state.member_state.clone(),
        role: state.role,
        address: None,
        version: state.installed.as_ref().map(|r| r.version.clone()),
    }
}

impl Workload for EmulatedWorkload {
    fn installed_revision(&self) -> Result<Option<WorkloadRevision>, WorkloadError> {
        Ok(self.unit_state()?.and_then(|s| s.installed))
    }

    fn install(&self, target: &WorkloadRevision) -> Result<(), WorkloadError> {
        let mut own = self.own()?;
        if own.running {
            return Err(WorkloadError::Precondition {
                operation: format!("install {}", target.revision),
                reason: format!("mysqld is running on {}; stop it first", self.unit),
            });
        }
        own.installed = Some(target.clone());
        self.save_own(&own)
    }

    fn stop(&self) -> Result<(), WorkloadError> {
        let mut own = self.own()?;
        if !own.running {
            return Ok(());
        }
        let version = own.installed_version().unwrap_or("unknown").to_owned();
        let how = if own.slow_shutdown { "slow" } else { "fast" };
        own.error_log.push(format!(
            "[System] [MY-010910] [Server] mysqld: Shutdown complete (mysqld {version}, {how} shutdown)."
        ));
        let was_primary = own.role == Some(MemberRole::Primary);
        own.running = false;
        own.member_state = MemberState::Offline;
        own.role = None;
        self.save_own(&own)?;
        if was_primary {
            let successor = self
                .peers()?
                .into_iter()
                .filter(|(_, p)| p.running && p.member_state == MemberState::Online)
                .min_by(|(_, a), (_, b)| {
                    version::compare(
                        a.installed_version().unwrap_or_default(),
                        b.installed_version().unwrap_or_default(),
                    )
                    .then(unit_number(&a.unit).cmp(&unit_number(&b.unit)))
                    .then(a.unit.cmp(&b.unit))
                });
            if let Some((path, mut elected)) = successor {
                elected.role = Some(MemberRole::Primary);
                write_state(&path, &elected)?;
            }
        }
        Ok(())
    }

    fn start(&self) -> Result<(), WorkloadError> {
        let mut own = self.own()?;
        if own.running {
            return Ok(());
        }
        let peers = self.peers()?;
        let result = self.boot(&mut own, &peers, &self.faults()?);
        self.save_own(&own)?;
        result
    }

    fn cluster_status(&self) -> Result<ClusterStatus, WorkloadError> {
        let own = self.own()?;
        let unavailable = |reason: &str| WorkloadError::ServerUnavailable {
            unit: self.unit.clone(),
            reason: reason.to_owned(),
            failure: None,
        };
        if !own.running {
            return Err(unavailable("mysqld is not running"));
        }
        if self.faults()?.is_armed(
            FaultKind::StatusUnavailable,
            &self.unit,
            own.installed_version(),
        ) {
            return Err(unavailable("no answer (armed fault)"));
        }
        if !matches!(
            own.member_state,
            MemberState::Online | MemberState::Recovering
        ) {
            return Err(unavailable(
                "this instance is not an active member of the group",
            ));
        }
        let peers = self.peers()?;
        let members = std::iter::once(&own)
            .chain(peers.iter().map(|(_, p)| p))
            .filter(|s| s.is_cluster_member())
            .map(member_of);
        Ok(ClusterStatus::from_members(members))
    }

    fn switch_primary(&self, unit: &str) -> Result<(), WorkloadError> {
        let status = self.cluster_status()?;
        let target = status
            .member(unit)
            .ok_or_else(|| WorkloadError::UnknownUnit { unit: unit.into() })?;
        if target.state != MemberState::Online {
            return Err(WorkloadError::SwitchoverFailed {
                unit: unit.to_owned(),
                reason: format!("{unit} is {}, not ONLINE", target.state),
                failure: None,
            });
        }
        let mut everyone = vec![(self.state_path.clone(), self.own()?)];
        everyone.extend(self.peers()?);
        for (path, state) in everyone {
            let role = if state.unit == unit {
                Some(MemberRole::Primary)
            } else if state.role == Some(MemberRole::Primary) {
                Some(MemberRole::Secondary)
            } else {
                state.role
            };
            if role != state.role {
                write_state(&path, &EmulatedUnitState { role, ..state })?;
            }
        }
        Ok(())
    }

    fn set_slow_shutdown(&self, unit: &str) -> Result<(), WorkloadError> {
        let (path, mut state) = if unit == self.unit {
            (self.state_path.clone(), self.own()?)
        } else {
            self.peers()?
                .into_iter()
                .find(|(_, s)| s.unit == unit)
                .ok_or_else(|| WorkloadError::UnknownUnit { unit: unit.into() })?
        };
        if !state.running {
            return Err(WorkloadError::ServerUnavailable {
                unit: unit.to_owned(),
                reason: "mysqld is not running".into(),
                failure: None,
            });
        }
        state.slow_shutdown = true;
        write_state(&path, &state)
    }

    fn check_upgradable(&self, from_unit: &str) -> Result<(), WorkloadError> {
        let own = self.own()?;
        let installed = self.installed_or_refuse(&own, "upgrade check")?;
        let from = if from_unit == self.unit {
            own.clone()
        } else {
            self.peers()?
                .into_iter()
                .map(|(_, s)| s)
                .find(|s| s.unit == from_unit)
                .ok_or_else(|| WorkloadError::UnknownUnit {
                    unit: from_unit.into(),
                })?
        };
        if !from.running {
            return Err(WorkloadError::ServerUnavailable {
                unit: from_unit.to_owned(),
                reason: "mysqld is not running".into(),
                failure: None,
            });
        }
        if self.faults()?.is_armed(
            FaultKind::UpgradeCheckFails,
            &self.unit,
            Some(&installed.version),
        ) {
            return Err(WorkloadError::NotUpgradable {
                from_unit: from_unit.to_owned(),
                summary: format!(
                    "upgrade checker of {} reported 1 error (armed fault)",
                    installed.version
                ),
                failure: None,
            });
        }
        Ok(())
    }

    fn wait_until_online(&self, retry: RetryPolicy) -> Result<(), WorkloadError> {
        // Emulated recovery progresses per check, not with time: nothing to sleep for.
        wait_for_online(&self.unit, retry, || self.poll_member_state(), |_| {})
    }

    fn downgrade_refused(&self) -> Result<bool, WorkloadError> {
        Ok(downgrade_refused_since_last_start(&self.own()?.error_log))
    }

    fn reset_and_rejoin(&self) -> Result<(), WorkloadError> {
        let mut own = self.own()?;
        let installed = self.installed_or_refuse(&own, "reset")?;
        let peers = self.peers()?;
        let donor = peers
            .iter()
            .find(|(_, p)| p.running && p.member_state == MemberState::Online)
            .map(|(_, p)| p.unit.clone())
            .ok_or_else(|| WorkloadError::NoDonor {
                unit: self.unit.clone(),
            })?;
        own.running = false;
        own.data_format_version = Some(installed.version.clone());
        own.error_log.push(format!(
            "[Warning] [MY-000000] [Server] data directory re-initialised; cloning from {donor}"
        ));
        let result = self.boot(&mut own, &peers, &self.faults()?);
        self.save_own(&own)?;
        result
    }
}
