//! The bridge to `juju-upgrade` (feature `upgrade`): one upgrade turn of a hook or action,
//! its peer data read and its effects performed with the hook tools.
//!
//! A charm embedding the core needs the same glue whatever its workload: which hooks and
//! actions are upgrade events ([`upgrade_event`]), the peer relation read in two steps (this
//! unit's bag and the application bag, then the others only when the core asks), the
//! `pause-after-unit-refresh` value, and a sink that turns each [`Effect`] into its tool
//! ([`ToolSink`]). [`run_turn`] does all of it; the charm brings its `UpgradeHooks` and its
//! versions.

use std::collections::{BTreeMap, BTreeSet};

use juju_upgrade::{
    handle_own_and_app, no_relation, CharmVersions, Effect, EffectSink, Event, Handled, Input,
    LogLevel, Outcome, PeerSnapshot, StatusKind, UpgradeHooks, PAUSE_OPTION,
};

use crate::context::{parse_unit_name, Dispatch};
use crate::tools::{HookTools, RelationId, Status, StatusName, ToolError};

/// The peer relation's endpoint, as v0 names it (`upgrade`, in `metadata.yaml`'s `peers`).
pub const UPGRADE_ENDPOINT: &str = "upgrade";

/// The core's event for this hook or action, `None` for one the upgrade does not handle.
///
/// `force-upgrade` reads its parameters (`skip-compatibility-check`, `skip-pre-upgrade-check`,
/// `skip-health-check`) with `action-get`; the other events need no tool.
pub fn upgrade_event(
    dispatch: &Dispatch,
    tools: &dyn HookTools,
) -> Result<Option<Event>, ToolError> {
    let relation_hook = |kind: &str| format!("{UPGRADE_ENDPOINT}-relation-{kind}");
    let Some(name) = dispatch.hook_name().or(dispatch.action_name()) else {
        return Ok(None);
    };
    Ok(Some(match name {
        "upgrade-charm" => Event::UpgradeCharm,
        "leader-elected" => Event::LeaderElected,
        "config-changed" => Event::ConfigChanged,
        "pre-upgrade-check" => Event::PreUpgradeCheck,
        "resume-upgrade" => Event::ResumeUpgrade,
        "force-upgrade" => {
            let params = tools.action_get()?;
            let flag = |key: &str| params.get(key).and_then(|v| v.as_bool()).unwrap_or(false);
            Event::ForceUpgrade {
                skip_compatibility_check: flag("skip-compatibility-check"),
                skip_pre_upgrade_check: flag("skip-pre-upgrade-check"),
                skip_health_check: flag("skip-health-check"),
            }
        }
        other if other == relation_hook("created") => Event::RelationCreated,
        other if other == relation_hook("changed") => Event::RelationChanged,
        other if other == relation_hook("departed") => Event::RelationDeparted,
        _ => return Ok(None),
    }))
}

/// Runs one turn of the core for `event` on this unit, as `Input`'s calling protocol says:
/// reads this unit's bag and the application bag, then the other units' only if the core
/// asks; performs each effect as it comes. Returns the [`Outcome`], or `None` when the
/// application has no upgrade relation (an action then fails saying so).
///
/// A tool error stops the turn before the workload is touched: fail the hook (exit non-zero)
/// so that Juju drops its peer-data writes and retries it.
pub fn run_turn<H: UpgradeHooks>(
    dispatch: &Dispatch,
    tools: &dyn HookTools,
    event: Event,
    charm: CharmVersions,
    hooks: &mut H,
) -> Result<Option<Outcome>, ToolError> {
    let Some(relation) = tools.relation_ids(UPGRADE_ENDPOINT)?.into_iter().next() else {
        no_relation(&event, &mut ToolSink::new(tools, None))?;
        return Ok(None);
    };
    let mut units: BTreeSet<u32> = tools
        .relation_list(&relation)?
        .iter()
        .filter_map(|unit| Some(parse_unit_name(unit)?.1))
        .collect();
    units.insert(dispatch.unit_number);
    let view = PeerSnapshot::own_and_app(
        dispatch.app_name.as_str(),
        dispatch.unit_number,
        tools.is_leader()?,
        units,
        tools.relation_get_unit(&relation, &dispatch.unit_name)?,
        tools.relation_get_app(&relation, &dispatch.app_name)?,
    );
    let pause = tools
        .config_get_key(PAUSE_OPTION)?
        .and_then(|value| value.as_str().map(str::to_owned));
    let input = Input::new(event, view)
        .with_charm(charm)
        .with_pause_setting(pause);
    let mut sink = ToolSink::new(tools, Some(relation.clone()));
    let outcome = match handle_own_and_app(input, hooks, &mut sink)? {
        Handled::Done(outcome) => outcome,
        Handled::NeedsEveryUnit(pending) => {
            let mut bags = Vec::new();
            for unit in pending.units_to_read() {
                let name = format!("{}/{unit}", dispatch.app_name);
                bags.push((unit, tools.relation_get_unit(&relation, &name)?));
            }
            pending.complete(bags, hooks, &mut sink)?
        }
    };
    Ok(Some(outcome))
}

/// Performs each effect with its hook tool as it arrives: peer-data writes with
/// `relation-set` (committed by Juju when the hook ends), statuses with `status-set`, logs
/// with `juju-log`, action results with `action-set` / `action-fail`, the workload version
/// with `application-version-set`. The first tool error stops the turn.
pub struct ToolSink<'t> {
    tools: &'t dyn HookTools,
    relation: Option<RelationId>,
}

impl<'t> ToolSink<'t> {
    /// A sink writing peer data to `relation` (`None`: the relation is absent, and a peer
    /// write is refused with [`ToolError::InvalidArgument`]).
    pub fn new(tools: &'t dyn HookTools, relation: Option<RelationId>) -> Self {
        ToolSink { tools, relation }
    }

    fn relation(&self, key: &str) -> Result<&RelationId, ToolError> {
        self.relation
            .as_ref()
            .ok_or_else(|| ToolError::InvalidArgument {
                tool: "relation-set".to_owned(),
                argument: key.to_owned(),
                reason: format!("no {UPGRADE_ENDPOINT} relation to write to"),
            })
    }
}

/// The hook tools' status for the core's.
pub fn ops_status(status: &juju_upgrade::Status) -> Status {
    let name = match status.kind {
        StatusKind::Active => StatusName::Active,
        StatusKind::Blocked => StatusName::Blocked,
        StatusKind::Maintenance => StatusName::Maintenance,
        StatusKind::Waiting => StatusName::Waiting,
    };
    Status::new(name, status.message.clone())
}

impl EffectSink for ToolSink<'_> {
    type Error = ToolError;

    fn apply(&mut self, effect: Effect) -> Result<(), ToolError> {
        let one = |key: String, value: String| BTreeMap::from([(key, value)]);
        match effect {
            Effect::SetUnit { key, value } => {
                let relation = self.relation(&key)?;
                self.tools.relation_set_unit(relation, &one(key, value))
            }
            Effect::SetApp { key, value } => {
                let relation = self.relation(&key)?;
                self.tools.relation_set_app(relation, &one(key, value))
            }
            Effect::UnitStatus(status) => self.tools.status_set(&ops_status(&status)),
            Effect::AppStatus(status) => self.tools.app_status_set(&ops_status(&status)),
            Effect::Log { level, message } => {
                let level = match level {
                    LogLevel::Debug => log::Level::Debug,
                    LogLevel::Info => log::Level::Info,
                    LogLevel::Warning => log::Level::Warn,
                    LogLevel::Error => log::Level::Error,
                };
                self.tools.juju_log(level, &message)
            }
            Effect::ActionResult { key, value } => self.tools.action_set(&one(key, value)),
            Effect::ActionFail(message) => self.tools.action_fail(&message),
            Effect::WorkloadVersion(version) => self.tools.application_version_set(&version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockHookTools;
    use juju_upgrade::Status as CoreStatus;

    #[test]
    fn each_effect_goes_to_its_tool_and_the_first_error_stops_the_turn() {
        let mut tools = MockHookTools::new();
        tools
            .expect_relation_set_unit()
            .withf(|rel, values| rel.to_string() == "upgrade:3" && values["state"] == "ready")
            .times(1)
            .returning(|_, _| Ok(()));
        tools
            .expect_status_set()
            .withf(|status| status.name == StatusName::Waiting && status.message == "wait")
            .times(1)
            .returning(|_| {
                Err(ToolError::InvalidArgument {
                    tool: "status-set".into(),
                    argument: "wait".into(),
                    reason: "refused".into(),
                })
            });
        let mut sink = ToolSink::new(&tools, Some(RelationId::new("upgrade", 3)));
        let Ok(()) = sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "ready".into(),
        }) else {
            panic!("relation-set succeeds");
        };
        let err = sink
            .apply(Effect::UnitStatus(CoreStatus::waiting("wait")))
            .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
    }

    #[test]
    fn without_the_relation_a_peer_write_is_refused_without_running_a_tool() {
        let tools = MockHookTools::new();
        let mut sink = ToolSink::new(&tools, None);
        let err = sink
            .apply(Effect::SetApp {
                key: "upgrade-stack".into(),
                value: "[0]".into(),
            })
            .unwrap_err();
        assert!(err.to_string().contains("upgrade-stack"), "{err}");
    }
}
