//! The `upgrade` peer relation through hook tools: reading it into the core's
//! [`PeerSnapshot`], and performing the core's [`Effect`]s as they are decided.

use std::collections::{BTreeMap, BTreeSet};

use juju_ops::{Event as JujuEvent, HookTools, RelationId, Status as OpsStatus, ToolError};
use juju_upgrade::{
    unit_number, Bag, Effect, EffectSink, LogLevel, PeerSnapshot, Status, StatusKind, UnitState,
};

/// The peer relation endpoint the upgrade protocol runs on (`metadata.yaml`).
pub const UPGRADE_ENDPOINT: &str = "upgrade";

/// Why the peer relation could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// `relation-list` named a unit that is not `<app>/<number>`.
    #[error("relation-list returned {0:?}, which is not a unit name")]
    UnitName(String),
}

/// The `upgrade` relation, or `None` while Juju has not created it.
pub fn upgrade_relation(tools: &dyn HookTools) -> Result<Option<RelationId>, ToolError> {
    Ok(tools.relation_ids(UPGRADE_ENDPOINT)?.into_iter().next())
}

/// The `upgrade` relation for `event`: a hook of that relation names it already
/// (`JUJU_RELATION_ID`), which saves the `relation-ids` call; otherwise as
/// [`upgrade_relation`].
pub fn upgrade_relation_of(
    event: &JujuEvent,
    tools: &dyn HookTools,
) -> Result<Option<RelationId>, ToolError> {
    match event {
        JujuEvent::Hook {
            relation: Some(relation),
            ..
        } if relation.name() == UPGRADE_ENDPOINT => Ok(Some(relation.id.clone())),
        _ => upgrade_relation(tools),
    }
}

/// Reads what every upgrade hook needs first: whether this unit leads, the units
/// `relation-list` reports (the ones this unit's agent has seen join), this unit's bag and the
/// application bag. Four calls whatever the number of units; the core asks for the others'
/// bags only when a rule needs them ([`read_other_units`]).
pub fn own_and_app(
    tools: &dyn HookTools,
    relation: &RelationId,
    app: &str,
    unit: u32,
) -> Result<PeerSnapshot, PeerError> {
    let is_leader = tools.is_leader()?;
    let mut units = BTreeSet::new();
    for name in tools.relation_list(relation)? {
        let number = unit_number(&name).ok_or_else(|| PeerError::UnitName(name.clone()))?;
        units.insert(number);
    }
    let (own_bag, app_bag) = own_and_app_bags(tools, relation, app, unit)?;
    Ok(PeerSnapshot::own_and_app(
        app, unit, is_leader, units, own_bag, app_bag,
    ))
}

/// This unit's bag and the application bag (two `relation-get`).
pub fn own_and_app_bags(
    tools: &dyn HookTools,
    relation: &RelationId,
    app: &str,
    unit: u32,
) -> Result<(Bag, Bag), ToolError> {
    let own_bag = tools.relation_get_unit(relation, &format!("{app}/{unit}"))?;
    let app_bag = tools.relation_get_app(relation, app)?;
    Ok((own_bag, app_bag))
}

/// The bags of `units` of `view`'s application, one `relation-get` each: what completes a
/// view from [`own_and_app`] ([`juju_upgrade::Pending::complete`]).
pub fn read_bags(
    tools: &dyn HookTools,
    relation: &RelationId,
    view: &PeerSnapshot,
    units: impl IntoIterator<Item = u32>,
) -> Result<Vec<(u32, Bag)>, ToolError> {
    units
        .into_iter()
        .map(|unit| {
            Ok((
                unit,
                tools.relation_get_unit(relation, &view.unit_name(unit))?,
            ))
        })
        .collect()
}

/// Completes a view from [`own_and_app`] with every other unit's bag, one `relation-get` each.
pub fn read_other_units(
    tools: &dyn HookTools,
    relation: &RelationId,
    view: PeerSnapshot,
) -> Result<PeerSnapshot, PeerError> {
    let others: Vec<u32> = view
        .app_units()
        .into_iter()
        .filter(|&unit| unit != view.unit)
        .collect();
    let bags = read_bags(tools, relation, &view, others)?;
    Ok(view.with_other_bags(bags))
}

/// Reads every bag of the peer relation as this unit sees it now ([`own_and_app`], then
/// [`read_other_units`]).
pub fn snapshot(
    tools: &dyn HookTools,
    relation: &RelationId,
    app: &str,
    unit: u32,
) -> Result<PeerSnapshot, PeerError> {
    let view = own_and_app(tools, relation, app, unit)?;
    read_other_units(tools, relation, view)
}

/// Whether this unit takes no part in an upgrade right now: its state is `idle` or it has
/// none yet. Only then may ordinary hooks set its status without hiding an upgrade's.
pub fn is_idle(view: &PeerSnapshot) -> bool {
    matches!(view.own_state(), Ok(None | Some(UnitState::Idle)))
}

/// Start of the DEBUG log line recording each status the upgrade sets, e.g.
/// `status set: maintenance: upgrading snap...`.
pub const STATUS_LOG_PREFIX: &str = "status set: ";

/// Performs the core's effects through hook tools.
///
/// Statuses, workload versions, logs and action results go out at once. Relation writes are
/// gathered and sent when the turn ends ([`ToolSink::commit`]), one `relation-set` per bag:
/// Juju commits them only when the hook succeeds anyway, and nothing reads the bags in
/// between, so one call per bag says the same as one call per key, for fewer calls. Each
/// status is also logged at DEBUG ([`STATUS_LOG_PREFIX`]): a unit shows only its last status,
/// the log keeps them all. A failing tool is the sink's error, which stops the core's turn
/// before the workload is touched; the hook then exits non-zero and Juju discards the
/// half-done writes and retries. A failing `juju-log` is written to stderr instead (Juju
/// keeps it too) and does not fail the hook.
pub struct ToolSink<'t> {
    tools: &'t dyn HookTools,
    relation: Option<RelationId>,
    /// This unit's bag writes so far (the last value of each key).
    unit_writes: BTreeMap<String, String>,
    /// The application bag writes so far.
    app_writes: BTreeMap<String, String>,
}

impl<'t> ToolSink<'t> {
    /// A sink writing to `relation`.
    pub fn new(tools: &'t dyn HookTools, relation: RelationId) -> Self {
        Self {
            tools,
            relation: Some(relation),
            unit_writes: BTreeMap::new(),
            app_writes: BTreeMap::new(),
        }
    }

    /// A sink for a unit without the relation: a relation write is refused as an error.
    pub fn without_relation(tools: &'t dyn HookTools) -> Self {
        Self {
            tools,
            relation: None,
            unit_writes: BTreeMap::new(),
            app_writes: BTreeMap::new(),
        }
    }

    fn relation(&self, tool: &str, key: &str) -> Result<&RelationId, ToolError> {
        self.relation
            .as_ref()
            .ok_or_else(|| ToolError::InvalidArgument {
                tool: tool.to_owned(),
                argument: key.to_owned(),
                reason: format!("there is no {UPGRADE_ENDPOINT} relation to write to"),
            })
    }

    /// Sends the gathered relation writes: this unit's bag, then the application's.
    pub fn commit(self) -> Result<(), ToolError> {
        if let Some(relation) = &self.relation {
            if !self.unit_writes.is_empty() {
                self.tools.relation_set_unit(relation, &self.unit_writes)?;
            }
            if !self.app_writes.is_empty() {
                self.tools.relation_set_app(relation, &self.app_writes)?;
            }
        }
        Ok(())
    }

    fn log(&self, level: LogLevel, message: &str) {
        if let Err(err) = self.tools.juju_log(log_level(level), message) {
            eprintln!("{} {message} (juju-log failed: {err})", level.as_str());
        }
    }
}

impl EffectSink for ToolSink<'_> {
    type Error = ToolError;

    fn apply(&mut self, effect: Effect) -> Result<(), ToolError> {
        match effect {
            Effect::SetUnit { key, value } => {
                self.relation("relation-set", &key)?;
                self.unit_writes.insert(key, value);
                Ok(())
            }
            Effect::SetApp { key, value } => {
                self.relation("relation-set", &key)?;
                self.app_writes.insert(key, value);
                Ok(())
            }
            Effect::UnitStatus(status) => {
                self.tools.status_set(&ops_status(&status))?;
                self.log(LogLevel::Debug, &format!("{STATUS_LOG_PREFIX}{status}"));
                Ok(())
            }
            Effect::AppStatus(status) => self.tools.app_status_set(&ops_status(&status)),
            Effect::Log { level, message } => {
                self.log(level, &message);
                Ok(())
            }
            Effect::ActionResult { key, value } => {
                self.tools.action_set(&BTreeMap::from([(key, value)]))
            }
            Effect::ActionFail(message) => self.tools.action_fail(&message),
            Effect::WorkloadVersion(version) => self.tools.application_version_set(&version),
        }
    }
}

/// The core's status as `status-set` takes it.
pub fn ops_status(status: &Status) -> OpsStatus {
    match status.kind {
        StatusKind::Active => OpsStatus::active(&status.message),
        StatusKind::Blocked => OpsStatus::blocked(&status.message),
        StatusKind::Maintenance => OpsStatus::maintenance(&status.message),
        StatusKind::Waiting => OpsStatus::waiting(&status.message),
    }
}

fn log_level(level: LogLevel) -> log::Level {
    match level {
        LogLevel::Debug => log::Level::Debug,
        LogLevel::Info => log::Level::Info,
        LogLevel::Warning => log::Level::Warn,
        LogLevel::Error => log::Level::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juju_ops::{MockHookTools, StatusName};

    fn relation() -> RelationId {
        RelationId::new(UPGRADE_ENDPOINT, 4)
    }

    fn bag(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn snapshot_reads_every_unit_bag_and_the_app_bag() {
        let mut tools = MockHookTools::new();
        tools.expect_is_leader().returning(|| Ok(true));
        tools
            .expect_relation_list()
            .withf(|rel| rel.to_string() == "upgrade:4")
            .returning(|_| Ok(vec!["mysql/2".into(), "mysql/10".into()]));
        tools
            .expect_relation_get_unit()
            .times(3)
            .returning(|_, unit| Ok(bag(&[("state", "idle"), ("who", unit)])));
        tools
            .expect_relation_get_app()
            .withf(|_, app| app == "mysql")
            .returning(|_, _| Ok(bag(&[("upgrade-stack", "[0, 2, 10]")])));
        let view = snapshot(&tools, &relation(), "mysql", 0).expect("snapshot");
        assert!(view.is_leader);
        assert_eq!(view.app_units().into_iter().collect::<Vec<_>>(), [0, 2, 10]);
        assert_eq!(view.unit_value(10, "who"), Some("mysql/10"));
        assert_eq!(view.unit_value(0, "who"), Some("mysql/0"));
        assert_eq!(view.upgrade_stack().map(|s| s.top()), Ok(Some(10)));
        assert!(is_idle(&view));
    }

    #[test]
    fn own_and_app_reads_this_units_bag_and_the_app_bag_only() {
        let mut tools = MockHookTools::new();
        tools.expect_is_leader().times(1).returning(|| Ok(false));
        tools
            .expect_relation_list()
            .times(1)
            .returning(|_| Ok((0..200).map(|n| format!("mysql/{n}")).collect()));
        tools
            .expect_relation_get_unit()
            .withf(|_, unit| unit == "mysql/7")
            .times(1)
            .returning(|_, _| Ok(bag(&[("state", "ready")])));
        tools
            .expect_relation_get_app()
            .times(1)
            .returning(|_, _| Ok(bag(&[("upgrade-stack", "[0, 7, 9]")])));
        let view = own_and_app(&tools, &relation(), "mysql", 7).expect("view");
        assert_eq!(view.scope, juju_upgrade::PeerScope::OwnAndApp);
        assert_eq!(view.app_units().len(), 200);
        assert_eq!(view.unit_value(7, "state"), Some("ready"));

        let mut tools = MockHookTools::new();
        tools
            .expect_relation_get_unit()
            .withf(|_, unit| unit != "mysql/7")
            .times(199)
            .returning(|_, unit| Ok(bag(&[("who", unit)])));
        let view = read_other_units(&tools, &relation(), view).expect("every unit");
        assert_eq!(view.scope, juju_upgrade::PeerScope::EveryUnit);
        assert_eq!(view.unit_value(199, "who"), Some("mysql/199"));
        assert_eq!(view.unit_value(7, "state"), Some("ready"), "own bag kept");
    }

    #[test]
    fn snapshot_refuses_names_that_are_not_units() {
        let mut tools = MockHookTools::new();
        tools.expect_is_leader().returning(|| Ok(false));
        tools
            .expect_relation_list()
            .returning(|_| Ok(vec!["mysql".into()]));
        let err = snapshot(&tools, &relation(), "mysql", 1).unwrap_err();
        assert!(matches!(err, PeerError::UnitName(name) if name == "mysql"));
    }

    #[test]
    fn sink_performs_each_effect_with_its_tool_and_the_bag_writes_last() {
        let mut tools = MockHookTools::new();
        let mut seq = mockall::Sequence::new();
        tools
            .expect_status_set()
            .withf(|s| s.name == StatusName::Maintenance && s.message == "upgrading snap...")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        tools
            .expect_juju_log()
            .withf(|level, m| {
                *level == log::Level::Debug && m == "status set: maintenance: upgrading snap..."
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        tools
            .expect_application_version_set()
            .withf(|v| v == "8.0.34")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        tools
            .expect_action_set()
            .withf(|values| values == &bag(&[("result", "ok")]))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        tools
            .expect_action_fail()
            .withf(|m| m == "no")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        tools
            .expect_juju_log()
            .withf(|level, m| *level == log::Level::Warn && m == "careful")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        // The bag writes go out last, when the turn ends.
        tools
            .expect_relation_set_unit()
            .withf(|rel, values| rel.id == 4 && values == &bag(&[("state", "idle")]))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        tools
            .expect_relation_set_app()
            .withf(|_, values| values == &bag(&[("upgrade-stack", "[0]")]))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let mut sink = ToolSink::new(&tools, relation());
        for effect in [
            Effect::UnitStatus(Status::maintenance("upgrading snap...")),
            Effect::SetUnit {
                key: "state".into(),
                value: "idle".into(),
            },
            Effect::SetApp {
                key: "upgrade-stack".into(),
                value: "[0]".into(),
            },
            Effect::WorkloadVersion("8.0.34".into()),
            Effect::ActionResult {
                key: "result".into(),
                value: "ok".into(),
            },
            Effect::ActionFail("no".into()),
            Effect::Log {
                level: LogLevel::Warning,
                message: "careful".into(),
            },
        ] {
            sink.apply(effect).expect("no tool failed");
        }
        sink.commit().expect("no tool failed");
    }

    fn failure(tool: &str) -> ToolError {
        ToolError::Failed {
            tool: tool.into(),
            args: vec![],
            code: Some(1),
            stderr: "ERROR boom".into(),
        }
    }

    #[test]
    fn writes_to_a_bag_go_out_in_one_relation_set_with_the_last_value_of_each_key() {
        let mut tools = MockHookTools::new();
        tools
            .expect_relation_set_unit()
            .withf(|_, values| values == &bag(&[("state", "completed"), ("upgrade-round", "3")]))
            .times(1)
            .returning(|_, _| Ok(()));
        tools.expect_relation_set_app().never();
        let mut sink = ToolSink::new(&tools, relation());
        for (key, value) in [
            ("state", "ready"),
            ("upgrade-round", "3"),
            ("state", "upgrading"),
            ("state", "completed"),
        ] {
            sink.apply(Effect::SetUnit {
                key: key.into(),
                value: value.into(),
            })
            .expect("gathered");
        }
        sink.commit().expect("written");
    }

    #[test]
    fn sink_stops_at_the_first_tool_failure_and_drops_the_writes() {
        let mut tools = MockHookTools::new();
        tools
            .expect_status_set()
            .times(1)
            .returning(|_| Err(failure("status-set")));
        tools.expect_juju_log().never();
        tools.expect_relation_set_unit().never();
        let mut sink = ToolSink::new(&tools, relation());
        sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "ready".into(),
        })
        .expect("gathered");
        // The error stops the core's turn: nothing more is applied and nothing committed.
        let err = sink
            .apply(Effect::UnitStatus(Status::waiting("x")))
            .unwrap_err();
        assert_eq!(err.tool(), "status-set");
    }

    #[test]
    fn a_failing_relation_set_fails_the_turn() {
        let mut tools = MockHookTools::new();
        tools
            .expect_relation_set_unit()
            .times(1)
            .returning(|_, _| Err(failure("relation-set")));
        tools.expect_relation_set_app().never();
        let mut sink = ToolSink::new(&tools, relation());
        for effect in [
            Effect::SetUnit {
                key: "state".into(),
                value: "ready".into(),
            },
            Effect::SetApp {
                key: "upgrade-stack".into(),
                value: "[0]".into(),
            },
        ] {
            sink.apply(effect).expect("gathered");
        }
        let err = sink.commit().unwrap_err();
        assert_eq!(err.tool(), "relation-set");
    }

    #[test]
    fn without_the_relation_a_write_is_refused_at_once() {
        let mut tools = MockHookTools::new();
        tools.expect_status_set().never();
        let mut sink = ToolSink::without_relation(&tools);
        let err = sink
            .apply(Effect::SetUnit {
                key: "state".into(),
                value: "ready".into(),
            })
            .unwrap_err();
        assert_eq!(err.tool(), "relation-set");
    }

    #[test]
    fn a_failing_juju_log_does_not_fail_the_hook() {
        let mut tools = MockHookTools::new();
        tools.expect_juju_log().returning(|_, _| {
            Err(ToolError::Failed {
                tool: "juju-log".into(),
                args: vec![],
                code: Some(1),
                stderr: "gone".into(),
            })
        });
        tools
            .expect_relation_set_unit()
            .times(1)
            .returning(|_, _| Ok(()));
        let mut sink = ToolSink::new(&tools, relation());
        sink.apply(Effect::Log {
            level: LogLevel::Error,
            message: "x".into(),
        })
        .expect("log failures are not hook failures");
        sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "ready".into(),
        })
        .expect("gathered");
        sink.commit().expect("log failures are not hook failures");
    }
}
