//! The `upgrade` peer relation through hook tools: reading it into the core's
//! [`PeerSnapshot`], and performing the core's [`Effect`]s as they are decided.

use std::collections::{BTreeMap, BTreeSet};

use juju_ops::{Event as JujuEvent, HookTools, RelationId, Status as OpsStatus, ToolError};
use juju_upgrade::{
    unit_number, Bag, Effect, EffectSink, LogLevel, PeerSnapshot, Status, StatusKind, UnitState,
    STATE_KEY,
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

/// A view of this unit alone with its bag and the application bag: enough for the status
/// decisions of ordinary hooks, and [`PeerSnapshot::upgrade_in_progress`] reads no other unit
/// in it.
pub fn unit_alone(view_of: &PeerSnapshot) -> PeerSnapshot {
    let mut alone = PeerSnapshot::new(view_of.app.clone(), view_of.unit, view_of.is_leader);
    if let Some(own) = view_of.unit_bags.get(&view_of.unit) {
        alone.unit_bags.insert(view_of.unit, own.clone());
    }
    alone.app_bag = view_of.app_bag.clone();
    alone
}

/// Completes a view from [`own_and_app`] with every other unit's bag, one `relation-get` each.
pub fn read_other_units(
    tools: &dyn HookTools,
    relation: &RelationId,
    view: PeerSnapshot,
) -> Result<PeerSnapshot, PeerError> {
    let mut others = Vec::new();
    for number in view.app_units() {
        if number != view.unit {
            others.push((
                number,
                tools.relation_get_unit(relation, &view.unit_name(number))?,
            ));
        }
    }
    Ok(view.with_other_bags(others))
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
/// gathered and sent when the turn ends ([`ToolSink::into_result`]), one `relation-set` per
/// bag: Juju commits them only when the hook succeeds anyway, and nothing reads the bags in
/// between, so one call per bag says the same as one call per key did, for fewer calls. Each status is also logged at
/// DEBUG ([`STATUS_LOG_PREFIX`]): a unit shows only its last status, the log keeps them all. After the first failing tool
/// the sink stops performing effects and keeps the error, so the hook can exit non-zero and
/// Juju discards the half-done writes and retries. A failing `juju-log` is written to
/// stderr instead (Juju keeps it too) and does not fail the hook.
pub struct ToolSink<'t> {
    tools: &'t dyn HookTools,
    relation: Option<RelationId>,
    error: Option<ToolError>,
    became_idle: bool,
    action_failed: bool,
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
            error: None,
            became_idle: false,
            action_failed: false,
            unit_writes: BTreeMap::new(),
            app_writes: BTreeMap::new(),
        }
    }

    /// A sink for a unit without the relation: a relation write is refused as an error.
    pub fn without_relation(tools: &'t dyn HookTools) -> Self {
        Self {
            tools,
            relation: None,
            error: None,
            became_idle: false,
            action_failed: false,
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

    /// Sends the gathered relation writes (this unit's bag, then the application's), unless a
    /// tool failed before: then the first tool error, and the hook must fail.
    pub fn into_result(self) -> Result<SinkOutcome, ToolError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        if let Some(relation) = &self.relation {
            if !self.unit_writes.is_empty() {
                self.tools.relation_set_unit(relation, &self.unit_writes)?;
            }
            if !self.app_writes.is_empty() {
                self.tools.relation_set_app(relation, &self.app_writes)?;
            }
        }
        Ok(SinkOutcome {
            became_idle: self.became_idle,
            action_failed: self.action_failed,
            unit_writes: self.unit_writes,
            app_writes: self.app_writes,
        })
    }

    fn log(&self, level: LogLevel, message: &str) {
        if let Err(err) = self.tools.juju_log(log_level(level), message) {
            eprintln!("{} {message} (juju-log failed: {err})", level.as_str());
        }
    }

    fn perform(&mut self, effect: Effect) -> Result<(), ToolError> {
        match effect {
            Effect::SetUnit { key, value } => {
                if key == STATE_KEY {
                    self.became_idle = value == UnitState::Idle.as_str();
                }
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
            Effect::ActionFail(message) => {
                self.action_failed = true;
                self.tools.action_fail(&message)
            }
            Effect::WorkloadVersion(version) => self.tools.application_version_set(&version),
        }
    }
}

/// What the effects of one turn told about this unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOutcome {
    /// The last state this unit wrote was `idle`: it left (or joined) the upgrade protocol
    /// and its ordinary status may be shown again.
    pub became_idle: bool,
    /// The core failed the running action (`action-fail`).
    pub action_failed: bool,
    /// This unit's bag writes sent (a key set to "" is deleted).
    pub unit_writes: BTreeMap<String, String>,
    /// The application bag writes sent.
    pub app_writes: BTreeMap<String, String>,
}

impl SinkOutcome {
    /// `bag` with these writes applied, as Juju applies them (an empty value deletes).
    pub fn apply(writes: &BTreeMap<String, String>, bag: &mut BTreeMap<String, String>) {
        for (key, value) in writes {
            if value.is_empty() {
                bag.remove(key);
            } else {
                bag.insert(key.clone(), value.clone());
            }
        }
    }
}

impl EffectSink for ToolSink<'_> {
    fn apply(&mut self, effect: Effect) {
        if self.error.is_some() {
            return;
        }
        if let Err(err) = self.perform(effect) {
            self.error = Some(err);
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
    fn sink_performs_each_effect_with_its_tool_and_notes_the_return_to_idle() {
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
        sink.apply(Effect::UnitStatus(Status::maintenance("upgrading snap...")));
        sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "idle".into(),
        });
        sink.apply(Effect::SetApp {
            key: "upgrade-stack".into(),
            value: "[0]".into(),
        });
        sink.apply(Effect::WorkloadVersion("8.0.34".into()));
        sink.apply(Effect::ActionResult {
            key: "result".into(),
            value: "ok".into(),
        });
        sink.apply(Effect::ActionFail("no".into()));
        sink.apply(Effect::Log {
            level: LogLevel::Warning,
            message: "careful".into(),
        });
        let outcome = sink.into_result().expect("no tool failed");
        assert!(outcome.became_idle);
        assert!(outcome.action_failed);
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
            });
        }
        let outcome = sink.into_result().expect("written");
        assert!(!outcome.became_idle);
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
        });
        sink.apply(Effect::UnitStatus(Status::waiting("x")));
        sink.apply(Effect::Log {
            level: LogLevel::Info,
            message: "not performed".into(),
        });
        let err = sink.into_result().unwrap_err();
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
        sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "ready".into(),
        });
        sink.apply(Effect::SetApp {
            key: "upgrade-stack".into(),
            value: "[0]".into(),
        });
        let err = sink.into_result().unwrap_err();
        assert_eq!(err.tool(), "relation-set");
    }

    #[test]
    fn without_the_relation_a_write_is_refused_at_once() {
        let mut tools = MockHookTools::new();
        tools.expect_status_set().never();
        let mut sink = ToolSink::without_relation(&tools);
        sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "ready".into(),
        });
        sink.apply(Effect::UnitStatus(Status::waiting("x")));
        let err = sink.into_result().unwrap_err();
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
        });
        sink.apply(Effect::SetUnit {
            key: "state".into(),
            value: "ready".into(),
        });
        let outcome = sink
            .into_result()
            .expect("log failures are not hook failures");
        assert!(!outcome.became_idle);
        assert!(!outcome.action_failed);
    }
}
