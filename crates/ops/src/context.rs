//! The dispatch context: which event this process was started for, read from
//! the `JUJU_*` environment Juju sets for every hook and action.
//!
//! Juju runs the charm's `dispatch` once per event and tells it the event
//! through `JUJU_DISPATCH_PATH` (`hooks/<hook>` or `actions/<action>`); the
//! other variables say which unit, model and relation it is about.
//! [`Dispatch::from_env`] reads them; [`Dispatch::from_vars`] does the same
//! from any list of pairs, for tests and emulators.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::tools::RelationId;

/// `JUJU_DISPATCH_PATH`: `hooks/<name>` or `actions/<name>`.
pub const DISPATCH_PATH: &str = "JUJU_DISPATCH_PATH";
/// `JUJU_HOOK_NAME`: the hook name; set but empty for actions.
pub const HOOK_NAME: &str = "JUJU_HOOK_NAME";
/// `JUJU_UNIT_NAME`: `mysql/0`.
pub const UNIT_NAME: &str = "JUJU_UNIT_NAME";
/// `JUJU_MODEL_NAME`.
pub const MODEL_NAME: &str = "JUJU_MODEL_NAME";
/// `JUJU_MODEL_UUID`.
pub const MODEL_UUID: &str = "JUJU_MODEL_UUID";
/// `JUJU_CHARM_DIR`: the charm's root, also the hook's working directory.
pub const CHARM_DIR: &str = "JUJU_CHARM_DIR";
/// `CHARM_DIR`: the legacy name of `JUJU_CHARM_DIR`, used when that is unset.
pub const LEGACY_CHARM_DIR: &str = "CHARM_DIR";
/// `JUJU_VERSION`: the unit agent's version, e.g. `3.6.4`.
pub const VERSION: &str = "JUJU_VERSION";
/// `JUJU_RELATION`: the endpoint of a relation hook.
pub const RELATION: &str = "JUJU_RELATION";
/// `JUJU_RELATION_ID`: `<endpoint>:<id>` of a relation hook.
pub const RELATION_ID: &str = "JUJU_RELATION_ID";
/// `JUJU_REMOTE_UNIT`: the remote unit; empty for application-data changes.
pub const REMOTE_UNIT: &str = "JUJU_REMOTE_UNIT";
/// `JUJU_REMOTE_APP`: the application on the other side.
pub const REMOTE_APP: &str = "JUJU_REMOTE_APP";
/// `JUJU_DEPARTING_UNIT`: the unit leaving, in `-relation-departed`.
pub const DEPARTING_UNIT: &str = "JUJU_DEPARTING_UNIT";
/// `JUJU_ACTION_NAME`.
pub const ACTION_NAME: &str = "JUJU_ACTION_NAME";
/// `JUJU_ACTION_UUID`: the action's task id (a decimal string in Juju 3).
pub const ACTION_UUID: &str = "JUJU_ACTION_UUID";

/// A missing or malformed dispatch variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A variable this event needs is not set.
    #[error("environment variable {variable} is not set")]
    Missing {
        /// The variable's name.
        variable: &'static str,
    },
    /// A variable is set but its value cannot be used.
    #[error("environment variable {variable} has invalid value {value:?}: {reason}")]
    Malformed {
        /// The variable's name.
        variable: &'static str,
        /// The value found (lossily decoded if it was not UTF-8).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two variables disagree about the event.
    #[error("environment variable {variable}={value:?} does not match {other}={other_value:?}")]
    Inconsistent {
        /// The variable that disagrees.
        variable: &'static str,
        /// Its value.
        value: String,
        /// The variable it was checked against (usually `JUJU_DISPATCH_PATH`).
        other: &'static str,
        /// That variable's value.
        other_value: String,
    },
}

/// The five relation hooks Juju runs for an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationHookKind {
    /// `<endpoint>-relation-created`: the relation exists, no unit has joined yet.
    Created,
    /// `<endpoint>-relation-joined`: a remote unit joined.
    Joined,
    /// `<endpoint>-relation-changed`: a remote unit's or application's bag changed.
    Changed,
    /// `<endpoint>-relation-departed`: a unit left.
    Departed,
    /// `<endpoint>-relation-broken`: the relation is going away (never for peers).
    Broken,
}

impl RelationHookKind {
    const ALL: [Self; 5] = [
        Self::Created,
        Self::Joined,
        Self::Changed,
        Self::Departed,
        Self::Broken,
    ];

    /// The hook-name suffix, e.g. `-relation-changed`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Created => "-relation-created",
            Self::Joined => "-relation-joined",
            Self::Changed => "-relation-changed",
            Self::Departed => "-relation-departed",
            Self::Broken => "-relation-broken",
        }
    }

    /// Splits a hook name such as `upgrade-relation-changed` into its endpoint
    /// and kind; `None` for hooks that are not relation hooks.
    pub fn split_hook_name(hook: &str) -> Option<(&str, Self)> {
        Self::ALL.into_iter().find_map(|kind| {
            hook.strip_suffix(kind.suffix())
                .filter(|endpoint| !endpoint.is_empty())
                .map(|endpoint| (endpoint, kind))
        })
    }
}

/// What a relation hook is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationContext {
    /// Which of the five relation hooks this is.
    pub kind: RelationHookKind,
    /// The relation (`JUJU_RELATION_ID`); its endpoint is `JUJU_RELATION`.
    pub id: RelationId,
    /// The remote unit (`JUJU_REMOTE_UNIT`); `None` when empty, as for
    /// `-relation-created`, `-relation-broken` and application-bag changes.
    pub remote_unit: Option<String>,
    /// The remote application (`JUJU_REMOTE_APP`; this application for a peer
    /// relation); `None` when Juju leaves it empty.
    pub remote_app: Option<String>,
    /// The unit leaving (`JUJU_DEPARTING_UNIT`), only in `-relation-departed`;
    /// it may be this unit itself.
    pub departing_unit: Option<String>,
}

impl RelationContext {
    /// The endpoint name, e.g. `upgrade`.
    pub fn name(&self) -> &str {
        &self.id.endpoint
    }
}

/// The event this process runs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A hook, e.g. `upgrade-charm` or `upgrade-relation-changed`.
    Hook {
        /// The full hook name.
        name: String,
        /// Set for relation hooks.
        relation: Option<RelationContext>,
    },
    /// An action run by `juju run`.
    Action {
        /// The action name, e.g. `pre-upgrade-check`.
        name: String,
        /// The task id Juju gave it (`JUJU_ACTION_UUID`).
        id: String,
    },
}

/// Everything Juju tells one hook or action process about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// The hook or action.
    pub event: Event,
    /// This unit, e.g. `mysql/0`.
    pub unit_name: String,
    /// This unit's application, e.g. `mysql`.
    pub app_name: String,
    /// This unit's number, e.g. `0`.
    pub unit_number: u32,
    /// The model's name.
    pub model_name: String,
    /// The model's UUID, when Juju set it.
    pub model_uuid: Option<String>,
    /// The charm's root directory.
    pub charm_dir: PathBuf,
    /// The unit agent's version, e.g. `3.6.4`.
    pub juju_version: String,
}

impl Dispatch {
    /// Reads the dispatch context from this process's environment.
    ///
    /// Variables whose value is not UTF-8 are reported as
    /// [`ContextError::Malformed`] if the event needs them.
    pub fn from_env() -> Result<Self, ContextError> {
        let vars = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, decode(value))))
            .collect();
        Self::parse(&Vars(vars))
    }

    /// Reads the dispatch context from `(name, value)` pairs, as
    /// [`Dispatch::from_env`] does from the environment. Later pairs win.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ContextError> {
        let vars = vars.into_iter().map(|(k, v)| (k, Ok(v))).collect();
        Self::parse(&Vars(vars))
    }

    fn parse(vars: &Vars) -> Result<Self, ContextError> {
        let unit_name = vars.required(UNIT_NAME)?;
        let (app_name, unit_number) =
            parse_unit_name(&unit_name).ok_or_else(|| ContextError::Malformed {
                variable: UNIT_NAME,
                value: unit_name.clone(),
                reason: "expected <application>/<number>".to_owned(),
            })?;
        let app_name = app_name.to_owned();
        let model_name = vars.required(MODEL_NAME)?;
        let model_uuid = vars.optional(MODEL_UUID)?;
        let charm_dir = match vars.optional(CHARM_DIR)? {
            Some(dir) => dir,
            None => vars
                .optional(LEGACY_CHARM_DIR)?
                .ok_or(ContextError::Missing {
                    variable: CHARM_DIR,
                })?,
        };
        let juju_version = vars.required(VERSION)?;
        let event = parse_event(vars)?;
        Ok(Self {
            event,
            unit_name,
            app_name,
            unit_number,
            model_name,
            model_uuid,
            charm_dir: PathBuf::from(charm_dir),
            juju_version,
        })
    }

    /// The hook name, or `None` for an action.
    pub fn hook_name(&self) -> Option<&str> {
        match &self.event {
            Event::Hook { name, .. } => Some(name),
            Event::Action { .. } => None,
        }
    }

    /// The action name, or `None` for a hook.
    pub fn action_name(&self) -> Option<&str> {
        match &self.event {
            Event::Action { name, .. } => Some(name),
            Event::Hook { .. } => None,
        }
    }

    /// The action's task id, or `None` for a hook.
    pub fn action_id(&self) -> Option<&str> {
        match &self.event {
            Event::Action { id, .. } => Some(id),
            Event::Hook { .. } => None,
        }
    }

    /// Whether this is an action rather than a hook.
    pub fn is_action(&self) -> bool {
        matches!(self.event, Event::Action { .. })
    }

    /// The relation context of a relation hook, else `None`.
    pub fn relation(&self) -> Option<&RelationContext> {
        match &self.event {
            Event::Hook { relation, .. } => relation.as_ref(),
            Event::Action { .. } => None,
        }
    }

    /// Whether this is a relation hook (any of the five) on `endpoint`.
    pub fn is_relation_hook(&self, endpoint: &str) -> bool {
        self.relation()
            .is_some_and(|relation| relation.name() == endpoint)
    }

    /// Whether this is the hook `name` (e.g. `upgrade-charm`).
    pub fn is_hook(&self, name: &str) -> bool {
        self.hook_name() == Some(name)
    }
}

/// Splits a unit name `mysql/3` into the application name and unit number;
/// `None` if it is not of that form.
pub fn parse_unit_name(unit: &str) -> Option<(&str, u32)> {
    let (app, number) = unit.split_once('/')?;
    if app.is_empty() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((app, number.parse().ok()?))
}

/// The environment as a map; a value is `Err(lossy text)` when not UTF-8.
struct Vars(HashMap<String, Result<String, String>>);

impl Vars {
    /// The value if set (possibly empty).
    fn get(&self, variable: &'static str) -> Result<Option<String>, ContextError> {
        match self.0.get(variable) {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(value.clone())),
            Some(Err(lossy)) => Err(ContextError::Malformed {
                variable,
                value: lossy.clone(),
                reason: "not valid UTF-8".to_owned(),
            }),
        }
    }

    /// The value; unset or empty is [`ContextError::Missing`].
    fn required(&self, variable: &'static str) -> Result<String, ContextError> {
        self.optional(variable)?
            .ok_or(ContextError::Missing { variable })
    }

    /// The value; unset or empty is `None`.
    fn optional(&self, variable: &'static str) -> Result<Option<String>, ContextError> {
        Ok(self.get(variable)?.filter(|value| !value.is_empty()))
    }

    /// The value, which must be set but may be empty (empty is `None`).
    fn present(&self, variable: &'static str) -> Result<Option<String>, ContextError> {
        let value = self
            .get(variable)?
            .ok_or(ContextError::Missing { variable })?;
        Ok(Some(value).filter(|value| !value.is_empty()))
    }
}

fn decode(value: OsString) -> Result<String, String> {
    value
        .into_string()
        .map_err(|raw| raw.to_string_lossy().into_owned())
}

fn parse_event(vars: &Vars) -> Result<Event, ContextError> {
    let path = vars.required(DISPATCH_PATH)?;
    let malformed = |reason: &str| ContextError::Malformed {
        variable: DISPATCH_PATH,
        value: path.clone(),
        reason: reason.to_owned(),
    };
    // Juju sets `hooks/<name>`; a legacy `hooks/<name>` symlink to dispatch
    // sees its own path instead, so only the last two components count.
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let name = parts.next().unwrap_or_default();
    let kind = parts
        .next()
        .ok_or_else(|| malformed("expected hooks/<name> or actions/<name>"))?;
    if name.is_empty() {
        return Err(malformed("the event name is empty"));
    }
    match kind {
        "hooks" => parse_hook(vars, &path, name),
        "actions" => parse_action(vars, &path, name),
        _ => Err(malformed("expected hooks/<name> or actions/<name>")),
    }
}

fn parse_hook(vars: &Vars, path: &str, name: &str) -> Result<Event, ContextError> {
    if let Some(hook_name) = vars.optional(HOOK_NAME)? {
        if hook_name != name {
            return Err(inconsistent(HOOK_NAME, hook_name, path));
        }
    }
    let relation = match RelationHookKind::split_hook_name(name) {
        Some((endpoint, kind)) => Some(parse_relation(vars, path, endpoint, kind)?),
        None => None,
    };
    Ok(Event::Hook {
        name: name.to_owned(),
        relation,
    })
}

fn parse_relation(
    vars: &Vars,
    path: &str,
    endpoint: &str,
    kind: RelationHookKind,
) -> Result<RelationContext, ContextError> {
    let relation = vars.required(RELATION)?;
    if relation != endpoint {
        return Err(inconsistent(RELATION, relation, path));
    }
    let raw_id = vars.required(RELATION_ID)?;
    let id: RelationId = raw_id.parse().map_err(|_| ContextError::Malformed {
        variable: RELATION_ID,
        value: raw_id.clone(),
        reason: "expected <endpoint>:<integer>".to_owned(),
    })?;
    if id.endpoint != endpoint {
        return Err(inconsistent(RELATION_ID, raw_id, path));
    }
    // Juju names the remote unit for joined/changed/departed (empty for an
    // application-bag change) and sets it empty for created/broken.
    let remote_unit = match kind {
        RelationHookKind::Joined | RelationHookKind::Changed | RelationHookKind::Departed => {
            vars.present(REMOTE_UNIT)?
        }
        RelationHookKind::Created | RelationHookKind::Broken => vars.optional(REMOTE_UNIT)?,
    };
    if let Some(unit) = &remote_unit {
        check_unit_name(REMOTE_UNIT, unit)?;
    }
    let remote_app = vars.present(REMOTE_APP)?;
    let departing_unit = match kind {
        RelationHookKind::Departed => Some(vars.required(DEPARTING_UNIT)?),
        _ => vars.optional(DEPARTING_UNIT)?,
    };
    if let Some(unit) = &departing_unit {
        check_unit_name(DEPARTING_UNIT, unit)?;
    }
    if kind == RelationHookKind::Joined && remote_unit.is_none() {
        return Err(ContextError::Malformed {
            variable: REMOTE_UNIT,
            value: String::new(),
            reason: "a -relation-joined hook needs the joining unit".to_owned(),
        });
    }
    Ok(RelationContext {
        kind,
        id,
        remote_unit,
        remote_app,
        departing_unit,
    })
}

fn parse_action(vars: &Vars, path: &str, name: &str) -> Result<Event, ContextError> {
    let action_name = vars.required(ACTION_NAME)?;
    if action_name != name {
        return Err(inconsistent(ACTION_NAME, action_name, path));
    }
    let id = vars.required(ACTION_UUID)?;
    Ok(Event::Action {
        name: action_name,
        id,
    })
}

fn check_unit_name(variable: &'static str, unit: &str) -> Result<(), ContextError> {
    match parse_unit_name(unit) {
        Some(_) => Ok(()),
        None => Err(ContextError::Malformed {
            variable,
            value: unit.to_owned(),
            reason: "expected <application>/<number>".to_owned(),
        }),
    }
}

/// A variable that disagrees with `JUJU_DISPATCH_PATH`.
fn inconsistent(variable: &'static str, value: String, path: &str) -> ContextError {
    ContextError::Inconsistent {
        variable,
        value,
        other: DISPATCH_PATH,
        other_value: path.to_owned(),
    }
}

#[cfg(test)]
mod tests;
