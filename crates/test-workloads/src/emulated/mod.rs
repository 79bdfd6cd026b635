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
//! The servers follow MySQL 8.0's rules; an armed fault only adds failures to them.
//!
//! - **Data directory.** A server newer than its data directory upgrades it (MY-013381). An
//!   older one starts on it only where MySQL downgrades in place, within 8.0 to 8.0.35 or
//!   later and within the 8.4 LTS series (MY-014064); otherwise it aborts with MY-013171
//!   ("Downgrade is not supported") and the data is untouched. `downgrade-refused` refuses
//!   the downgrades MySQL would accept too.
//! - **Joining.** A starting server joins the ONLINE members (RECOVERING, then ONLINE) unless
//!   it runs an older version than the lowest of them: then it stays OFFLINE, as Group
//!   Replication refuses it from 8.0.17 on. With no member ONLINE, only the very first
//!   server of a cluster bootstraps the group (as PRIMARY); any other stays OFFLINE until
//!   [`Workload::reboot_from_complete_outage`] re-forms the group from it.
//! - **Primary.** When the primary stops, the ONLINE member with the lowest version (then
//!   the lowest unit number) is elected; a switchover to a member newer than the group's
//!   lowest version is refused.
//! - **Reset.** [`Workload::reset_and_rejoin`] re-initialises the data directory by cloning
//!   from an ONLINE member whose version the clone plugin accepts (the same version before
//!   8.0.37, the same series from then on), then joins as any starting server does.
//!
//! Every write goes to a temporary file renamed over the target. Nothing sleeps: a started
//! member is RECOVERING, and its recovery completes at the first check of
//! [`Workload::wait_until_online`], which therefore sees it ONLINE at the second check.

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

    /// Starts mysqld on `own` (already marked installed), applying MySQL's rules on the
    /// data directory and the armed faults, then joining the group. The caller saves `own`
    /// whatever the outcome.
    fn boot(
        &self,
        own: &mut EmulatedUnitState,
        peers: &[UnitFile],
        faults: &FaultPlan,
    ) -> Result<(), WorkloadError> {
        let installed = self.installed_or_refuse(own, "start")?;
        let version = installed.version.as_str();
        let was_member = own.is_cluster_member();
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
        if let Some(data) = own.data_format_version.clone() {
            let (server_id, data_id) = (version::version_id(version), version::version_id(&data));
            match version::compare(version, &data) {
                Ordering::Less => {
                    let supported = version::in_place_downgrade_supported(&data, version);
                    let armed =
                        faults.is_armed(FaultKind::DowngradeRefused, &self.unit, Some(version));
                    if !supported || armed {
                        own.error_log.push(format!(
                            "[ERROR] [{DOWNGRADE_REFUSED_CODE}] [InnoDB] Cannot boot server version \
                             {server_id} on data directory built by version {data_id}. Downgrade \
                             is not supported"
                        ));
                        return refuse(own, format!("data directory written by {data}"));
                    }
                    for step in ["started", "completed"] {
                        own.error_log.push(format!(
                            "[System] [MY-014064] [Server] Server downgrade from '{data_id}' to \
                             '{server_id}' {step}."
                        ));
                    }
                }
                Ordering::Greater => {
                    for step in ["started", "completed"] {
                        own.error_log.push(format!(
                            "[System] [MY-013381] [Server] Server upgrade from '{data_id}' to \
                             '{server_id}' {step}."
                        ));
                    }
                }
                Ordering::Equal => {}
            }
        }
        own.data_format_version = Some(version.to_owned());
        own.running = true;
        own.slow_shutdown = false;
        own.error_log.push(format!(
            "[System] [MY-010931] [Server] mysqld: ready for connections. Version: '{version}'"
        ));
        self.join_group(own, peers, faults, was_member);
        Ok(())
    }

    /// Group Replication starting on a server that just came up: it joins the ONLINE
    /// members unless it runs an older version than the lowest of them; with no member
    /// ONLINE it bootstraps a group only when there never was one (the first server's
    /// first start), otherwise it stays OFFLINE until the cluster is rebooted from the
    /// complete outage.
    fn join_group(
        &self,
        own: &mut EmulatedUnitState,
        peers: &[UnitFile],
        faults: &FaultPlan,
        was_member: bool,
    ) {
        own.member_state = MemberState::Offline;
        own.role = None;
        let version = own.installed_version().unwrap_or_default().to_owned();
        if faults.is_armed(FaultKind::NoRejoin, &self.unit, Some(&version)) {
            return;
        }
        let lowest_online = peers
            .iter()
            .map(|(_, p)| p)
            .filter(|p| p.running && p.member_state == MemberState::Online)
            .filter_map(EmulatedUnitState::installed_version)
            .min_by(|a, b| version::compare(a, b));
        match lowest_online {
            Some(lowest) if version::compare(&version, lowest) == Ordering::Less => {
                own.error_log.push(format!(
                    "[ERROR] [Repl] Plugin group_replication reported: \
                     'Member version {version} is lower than the lowest version {lowest} in \
                     the group; this member cannot join it.'"
                ));
            }
            Some(_) => {
                own.member_state = MemberState::Recovering;
                own.role = Some(MemberRole::Secondary);
            }
            None if was_member || peers.iter().any(|(_, p)| p.is_cluster_member()) => {
                own.error_log.push(
                    "[Warning] [Repl] Plugin group_replication reported: 'No member of the \
                     group is reachable; the group must be rebooted from a complete outage.'"
                        .to_owned(),
                );
            }
            None => {
                own.error_log.push(
                    "[System] [Repl] Plugin group_replication reported: 'This server bootstrapped \
                     the group.'"
                        .to_owned(),
                );
                own.member_state = MemberState::Online;
                own.role = Some(MemberRole::Primary);
            }
        }
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
        // From 8.0.17, only a member of the group's lowest version may be made primary.
        let lowest = status
            .members
            .values()
            .filter(|m| m.state == MemberState::Online)
            .filter_map(|m| m.version.as_deref())
            .min_by(|a, b| version::compare(a, b));
        if let (Some(lowest), Some(running)) = (lowest, target.version.as_deref()) {
            if version::compare(running, lowest) == Ordering::Greater {
                return Err(WorkloadError::SwitchoverFailed {
                    unit: unit.to_owned(),
                    reason: format!(
                        "{unit} runs {running}, newer than the group's lowest version {lowest}"
                    ),
                    failure: None,
                });
            }
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
        let online: Vec<&EmulatedUnitState> = peers
            .iter()
            .map(|(_, p)| p)
            .filter(|p| p.running && p.member_state == MemberState::Online)
            .collect();
        if online.is_empty() {
            return Err(WorkloadError::NoDonor {
                unit: self.unit.clone(),
            });
        }
        let donor = online
            .iter()
            .find(|p| {
                p.installed_version()
                    .is_some_and(|v| version::clone_supported(v, &installed.version))
            })
            .ok_or_else(|| WorkloadError::Precondition {
                operation: "reset and rejoin".to_owned(),
                reason: format!(
                    "no ONLINE member can donate its data to {} {}: the clone plugin needs the \
                     same server version, and the members run {}",
                    self.unit,
                    installed.version,
                    online
                        .iter()
                        .map(|p| format!(
                            "{} {}",
                            p.unit,
                            p.installed_version().unwrap_or("unknown")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        own.running = false;
        own.data_format_version = Some(installed.version.clone());
        own.error_log.push(format!(
            "[Warning] [MY-000000] [Server] data directory re-initialised; cloning from {}",
            donor.unit
        ));
        let result = self.boot(&mut own, &peers, &self.faults()?);
        self.save_own(&own)?;
        result
    }

    fn reboot_from_complete_outage(&self) -> Result<(), WorkloadError> {
        let mut own = self.own()?;
        if !own.running {
            return Err(WorkloadError::ServerUnavailable {
                unit: self.unit.clone(),
                reason: "mysqld is not running".into(),
                failure: None,
            });
        }
        let operation = "reboot cluster from complete outage".to_owned();
        if !own.is_cluster_member() {
            return Err(WorkloadError::Precondition {
                operation,
                reason: format!("{} was never a member of the cluster", self.unit),
            });
        }
        if own.member_state == MemberState::Online {
            return Ok(());
        }
        let online: Vec<String> = self
            .peers()?
            .into_iter()
            .filter(|(_, p)| p.running && p.member_state == MemberState::Online)
            .map(|(_, p)| p.unit)
            .collect();
        if !online.is_empty() {
            return Err(WorkloadError::Precondition {
                operation,
                reason: format!(
                    "the cluster is not in complete outage ({} ONLINE); rejoin it instead",
                    online.join(", ")
                ),
            });
        }
        let stuck =
            self.faults()?
                .is_armed(FaultKind::NoRejoin, &self.unit, own.installed_version());
        if !stuck {
            own.error_log.push(format!(
                "[System] [Repl] Plugin group_replication reported: 'The group was rebooted \
                 from a complete outage by {}, now its PRIMARY.'",
                self.unit
            ));
            own.member_state = MemberState::Online;
            own.role = Some(MemberRole::Primary);
        }
        self.save_own(&own)
    }
}
