//! The hook tools, as a trait so charms can be tested with a mock.
//!
//! [`HookTools`] lists every hook tool the charm uses; [`ProcessHookTools`]
//! runs the real executables the way Juju expects them to be called (and the
//! way the Python `ops` library calls them): `--format=json` wherever the tool
//! supports it, `-r <endpoint>:<id>` to pick a relation, `--` before free-text
//! messages, and databag writes as a JSON object on stdin through `--file -`.
//!
//! Nothing in this module logs through the `log` crate, so the
//! [`JujuLogger`](crate::logger::JujuLogger) can call it without recursion.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Deserialize;

pub use secret::{SecretInfo, SecretOwner, SecretRef};

/// The longest single argument Linux accepts (`MAX_ARG_STRLEN` less the NUL).
///
/// Longer `juju-log` / `action-log` messages are sent in several calls.
pub const MAX_MESSAGE_ARG_LEN: usize = 131_071;

/// A relation id as Juju prints it: `upgrade:3` (endpoint and integer id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelationId {
    /// Endpoint name, e.g. `upgrade`.
    pub endpoint: String,
    /// Model-wide integer id.
    pub id: u64,
}

impl RelationId {
    /// Builds a relation id from its endpoint and integer id.
    pub fn new(endpoint: impl Into<String>, id: u64) -> Self {
        Self {
            endpoint: endpoint.into(),
            id,
        }
    }
}

/// `upgrade:3`, the form every hook tool accepts after `-r`.
impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

/// A string that is not of the form `<endpoint>:<integer>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid relation id {0:?}: expected <endpoint>:<integer>")]
pub struct InvalidRelationId(pub String);

/// Parses `endpoint:id`; the id is the integer after the last `:`, as Juju
/// and `ops` read it.
impl FromStr for RelationId {
    type Err = InvalidRelationId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidRelationId(s.to_owned());
        let (endpoint, id) = s.rsplit_once(':').ok_or_else(invalid)?;
        if endpoint.is_empty() || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let id = id.parse().map_err(|_| invalid())?;
        Ok(Self::new(endpoint, id))
    }
}

/// Workload status names.
///
/// A charm may set only the first four; the others are what `status-get` can
/// report for a unit whose status Juju chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusName {
    /// The workload is ready.
    Active,
    /// The operator must act.
    Blocked,
    /// The charm is doing work that will finish on its own.
    Maintenance,
    /// Waiting on something outside the operator's control.
    Waiting,
    /// No status was ever set (Juju's default after `start`).
    Unknown,
    /// Set by Juju when a hook failed.
    Error,
    /// Set by Juju when the unit is going away.
    Terminated,
}

impl StatusName {
    /// The word Juju uses, e.g. `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
            Self::Maintenance => "maintenance",
            Self::Waiting => "waiting",
            Self::Unknown => "unknown",
            Self::Error => "error",
            Self::Terminated => "terminated",
        }
    }

    /// Whether `status-set` accepts this status (Juju refuses the others).
    pub fn is_settable(self) -> bool {
        matches!(
            self,
            Self::Active | Self::Blocked | Self::Maintenance | Self::Waiting
        )
    }
}

impl fmt::Display for StatusName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of Juju's workload statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workload status {0:?}")]
pub struct InvalidStatusName(pub String);

impl FromStr for StatusName {
    type Err = InvalidStatusName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "active" => Self::Active,
            "blocked" => Self::Blocked,
            "maintenance" => Self::Maintenance,
            "waiting" => Self::Waiting,
            "unknown" => Self::Unknown,
            "error" => Self::Error,
            "terminated" => Self::Terminated,
            other => return Err(InvalidStatusName(other.to_owned())),
        })
    }
}

/// A status with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The status word.
    pub name: StatusName,
    /// Free text shown next to it in `juju status`.
    pub message: String,
}

impl Status {
    /// Builds a status from a name and message.
    pub fn new(name: StatusName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    /// `active` with a message.
    pub fn active(message: impl Into<String>) -> Self {
        Self::new(StatusName::Active, message)
    }

    /// `blocked` with a message.
    pub fn blocked(message: impl Into<String>) -> Self {
        Self::new(StatusName::Blocked, message)
    }

    /// `maintenance` with a message.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Self::new(StatusName::Maintenance, message)
    }

    /// `waiting` with a message.
    pub fn waiting(message: impl Into<String>) -> Self {
        Self::new(StatusName::Waiting, message)
    }
}

/// The application status and the status of each unit, as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStatus {
    /// The application's own status.
    pub status: Status,
    /// Every unit's workload status, by unit name (`mysql/0`).
    pub units: BTreeMap<String, Status>,
}

/// Error from running a hook tool.
///
/// Every variant names the tool and, once a process was involved, the full
/// argument list, so a failed hook's log says exactly what was run.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The executable could not be started (missing from `PATH`, not executable, ...).
    #[error("could not run `{tool}` with args {args:?}: {source}")]
    Spawn {
        /// Tool name, e.g. `relation-get`.
        tool: String,
        /// Arguments that were to be passed.
        args: Vec<String>,
        /// The operating system's error.
        source: io::Error,
    },
    /// Talking to the running tool failed (writing stdin or collecting output).
    #[error("i/o error while running `{tool}` with args {args:?}: {source}")]
    Io {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// The operating system's error.
        source: io::Error,
    },
    /// The tool exited non-zero (or was killed) for a reason not recognised below.
    #[error("`{tool}` with args {args:?} failed ({}): {}", describe_code(*.code), .stderr.trim_end())]
    Failed {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Exit code; `None` when the process was killed by a signal.
        code: Option<i32>,
        /// Everything the tool wrote to stderr.
        stderr: String,
    },
    /// Juju does not know the relation (stderr said `relation not found`).
    #[error("`{tool}` with args {args:?}: relation not found ({}): {}", describe_code(*.code), .stderr.trim_end())]
    RelationNotFound {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Exit code; `None` when the process was killed by a signal.
        code: Option<i32>,
        /// Everything the tool wrote to stderr.
        stderr: String,
    },
    /// The tool needs leadership and this unit is not the leader.
    #[error("`{tool}` with args {args:?}: this unit is not the leader ({}): {}", describe_code(*.code), .stderr.trim_end())]
    NotLeader {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// Exit code; `None` when the process was killed by a signal.
        code: Option<i32>,
        /// Everything the tool wrote to stderr.
        stderr: String,
    },
    /// The tool succeeded but its output is not what `--format=json` promises.
    #[error(
        "could not parse output of `{tool}` with args {args:?}: {reason}; output was {output:?}"
    )]
    Parse {
        /// Tool name.
        tool: String,
        /// Arguments passed.
        args: Vec<String>,
        /// The raw stdout (lossily decoded if it was not UTF-8).
        output: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The call was refused before spawning: Juju would reject it, or the
    /// operating system cannot pass it (e.g. a NUL byte in an argument).
    #[error("invalid argument for `{tool}`: {argument:?}: {reason}")]
    InvalidArgument {
        /// Tool name.
        tool: String,
        /// The offending key, value or status.
        argument: String,
        /// Why it is refused.
        reason: String,
    },
}

fn describe_code(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_owned(),
    }
}

impl ToolError {
    /// The tool this error is about.
    pub fn tool(&self) -> &str {
        match self {
            Self::Spawn { tool, .. }
            | Self::Io { tool, .. }
            | Self::Failed { tool, .. }
            | Self::RelationNotFound { tool, .. }
            | Self::NotLeader { tool, .. }
            | Self::Parse { tool, .. }
            | Self::InvalidArgument { tool, .. } => tool,
        }
    }

    /// The exit code, for errors where the tool ran and exited non-zero.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::Failed { code, .. }
            | Self::RelationNotFound { code, .. }
            | Self::NotLeader { code, .. } => *code,
            _ => None,
        }
    }

    /// The tool's stderr, for errors where the tool ran and exited non-zero.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Self::Failed { stderr, .. }
            | Self::RelationNotFound { stderr, .. }
            | Self::NotLeader { stderr, .. } => Some(stderr),
            _ => None,
        }
    }

    /// Turns a non-zero exit into the most specific variant its stderr allows.
    pub fn from_exit(tool: &str, args: &[String], code: Option<i32>, stderr: String) -> Self {
        let (tool, args) = (tool.to_owned(), args.to_vec());
        if stderr.contains("relation not found") {
            Self::RelationNotFound {
                tool,
                args,
                code,
                stderr,
            }
        } else if stderr.contains("not the leader") {
            Self::NotLeader {
                tool,
                args,
                code,
                stderr,
            }
        } else {
            Self::Failed {
                tool,
                args,
                code,
                stderr,
            }
        }
    }
}

/// Every hook tool the charm uses. Implemented by [`ProcessHookTools`].
///
/// Relation ids are passed as [`RelationId`] (`upgrade:3`); unit names as
/// Juju prints them (`mysql/1`); application names bare (`mysql`).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait HookTools {
    /// Writes `message` to the unit's log (`juju-log`) at `level`.
    fn juju_log(&self, level: log::Level, message: &str) -> Result<(), ToolError>;
    /// Sets this unit's workload status (`status-set --application=False`).
    fn status_set(&self, status: &Status) -> Result<(), ToolError>;
    /// Sets the application's status (leader only; `status-set --application=True`).
    fn app_status_set(&self, status: &Status) -> Result<(), ToolError>;
    /// This unit's workload status.
    fn status_get(&self) -> Result<Status, ToolError>;
    /// The application's status and its units' statuses (leader only).
    fn status_get_app(&self) -> Result<AppStatus, ToolError>;
    /// Whether this unit is the leader (valid for about 30 s).
    fn is_leader(&self) -> Result<bool, ToolError>;
    /// Every relation on `endpoint`, in Juju's order (string sort of `name:id`).
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError>;
    /// The remote units this unit's agent knows in `relation` (never itself).
    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError>;
    /// A unit's whole bag (`unit` = `mysql/1`, may be this unit).
    fn relation_get_unit(
        &self,
        relation: &RelationId,
        unit: &str,
    ) -> Result<BTreeMap<String, String>, ToolError>;
    /// One key of a unit's bag; `None` when the key is absent.
    fn relation_get_unit_key(
        &self,
        relation: &RelationId,
        unit: &str,
        key: &str,
    ) -> Result<Option<String>, ToolError>;
    /// An application's whole bag.
    fn relation_get_app(
        &self,
        relation: &RelationId,
        app: &str,
    ) -> Result<BTreeMap<String, String>, ToolError>;
    /// One key of an application's bag; `None` when the key is absent.
    fn relation_get_app_key(
        &self,
        relation: &RelationId,
        app: &str,
        key: &str,
    ) -> Result<Option<String>, ToolError>;
    /// Sets keys in this unit's bag; an empty value deletes the key.
    fn relation_set_unit(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError>;
    /// Sets keys in this application's bag (leader only); an empty value deletes.
    fn relation_set_app(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError>;
    /// The running action's parameters (with defaults filled in by Juju).
    fn action_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError>;
    /// Adds results to the running action. Keys may be dotted (`a.b`) for
    /// nesting; every segment must be lowercase alphanumeric with inner
    /// hyphens, else [`ToolError::InvalidArgument`] is returned without
    /// running the tool.
    fn action_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError>;
    /// Marks the running action failed with `message`; the process keeps running.
    fn action_fail(&self, message: &str) -> Result<(), ToolError>;
    /// Sends a progress message for the running action (shown to the operator at once).
    fn action_log(&self, message: &str) -> Result<(), ToolError>;
    /// Sets this unit's workload version, shown by `juju status`.
    fn application_version_set(&self, version: &str) -> Result<(), ToolError>;
    /// Every config option that is set or has a default, typed per `config.yaml`.
    fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError>;
    /// One config option; `None` when it is unset with no default, or unknown.
    fn config_get_key(&self, key: &str) -> Result<Option<serde_json::Value>, ToolError>;
    /// This unit's controller-side charm state (empty when none was ever set).
    fn state_get(&self) -> Result<BTreeMap<String, String>, ToolError>;
    /// Sets keys in this unit's charm state (committed when the hook succeeds).
    fn state_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError>;
    /// Deletes a key from this unit's charm state; a missing key is not an error.
    fn state_delete(&self, key: &str) -> Result<(), ToolError>;
    /// Leader settings (Juju 2.x/3.x only; removed in Juju 4).
    fn leader_get(&self) -> Result<BTreeMap<String, String>, ToolError>;
    /// Writes leader settings at once (leader only; Juju 2.x/3.x only).
    fn leader_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError>;
    /// The units the model plans for this application (`goal-state`), sorted,
    /// including this unit and units that are not up yet, without dying units (as
    /// the Python `ops` library's `planned_units`).
    fn planned_units(&self) -> Result<Vec<String>, ToolError>;
    /// Creates a secret with `content`, owned by `owner`, labelled `label` (none
    /// when empty) (`secret-add`); returns its URI. Application secrets need
    /// leadership.
    fn secret_add(
        &self,
        content: &BTreeMap<String, String>,
        label: &str,
        owner: SecretOwner,
    ) -> Result<String, ToolError>;
    /// The content of `secret` (`secret-get`; the owner sees its latest revision),
    /// or `None` when Juju has no such secret.
    fn secret_get(&self, secret: &SecretRef)
        -> Result<Option<BTreeMap<String, String>>, ToolError>;
    /// Replaces the content of the secret `id` with `content`: a new revision
    /// (`secret-set`; owner only).
    fn secret_set(&self, id: &str, content: &BTreeMap<String, String>) -> Result<(), ToolError>;
    /// The ids of the secrets this unit or its application owns (`secret-ids`).
    fn secret_ids(&self) -> Result<Vec<String>, ToolError>;
    /// What Juju knows of an owned secret (`secret-info-get`), or `None` when there
    /// is no such secret.
    fn secret_info_get(&self, secret: &SecretRef) -> Result<Option<SecretInfo>, ToolError>;
    /// Removes the secret `id`, every revision (`secret-remove`).
    fn secret_remove(&self, id: &str) -> Result<(), ToolError>;
    /// Opens each TCP port in `ports` on this unit (`open-port <port>/tcp`).
    fn open_ports(&self, ports: &[u16]) -> Result<(), ToolError>;
}

/// Runs the real hook tools as child processes.
///
/// By default each tool is looked up on `PATH` (Juju puts its tools directory
/// first); [`ProcessHookTools::with_tool_dir`] runs them from one directory
/// instead. The environment and working directory are inherited.
#[derive(Debug, Clone, Default)]
pub struct ProcessHookTools {
    tool_dir: Option<PathBuf>,
}

impl ProcessHookTools {
    /// Tools found on `PATH`, as inside a Juju hook.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tools run from `dir` (`dir/relation-get`, ...), ignoring `PATH`.
    pub fn with_tool_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            tool_dir: Some(dir.into()),
        }
    }

    /// The directory tools are run from, if not from `PATH`.
    pub fn tool_dir(&self) -> Option<&Path> {
        self.tool_dir.as_deref()
    }

    /// Runs `tool` with `args`, feeding `stdin` if given (else `/dev/null`),
    /// and returns its stdout.
    ///
    /// A non-zero exit becomes [`ToolError::from_exit`]; stdout that is not
    /// UTF-8 becomes [`ToolError::Parse`]. Use this for tools the trait does
    /// not cover.
    pub fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, ToolError> {
        if let Some(bad) = args.iter().find(|arg| arg.contains('\0')) {
            return Err(invalid(
                tool,
                bad,
                "contains a NUL byte, which cannot be passed as an argument",
            ));
        }
        let program = match &self.tool_dir {
            Some(dir) => dir.join(tool),
            None => PathBuf::from(tool),
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| ToolError::Spawn {
            tool: tool.to_owned(),
            args: args.to_vec(),
            source,
        })?;
        let io_error = |source| ToolError::Io {
            tool: tool.to_owned(),
            args: args.to_vec(),
            source,
        };

        // Feed stdin from a second thread while this one drains stdout and
        // stderr, so a large payload cannot deadlock against a full pipe.
        let child_stdin = child.stdin.take();
        let (write_result, output) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<()> {
                match (child_stdin, stdin) {
                    (Some(mut pipe), Some(bytes)) => match pipe.write_all(bytes) {
                        // The tool may exit without reading everything; its
                        // exit status then tells what happened.
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                        other => other,
                    },
                    _ => Ok(()),
                }
            });
            let output = child.wait_with_output();
            let write_result = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("stdin writer thread panicked")));
            (write_result, output)
        });
        let output = output.map_err(io_error)?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            return Err(ToolError::from_exit(
                tool,
                args,
                output.status.code(),
                stderr,
            ));
        }
        write_result.map_err(io_error)?;
        String::from_utf8(output.stdout).map_err(|e| ToolError::Parse {
            tool: tool.to_owned(),
            args: args.to_vec(),
            output: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "output is not valid UTF-8".to_owned(),
        })
    }

    /// Runs a tool and parses its stdout as JSON into `T`.
    fn run_json<T: DeserializeOwned>(&self, tool: &str, args: &[String]) -> Result<T, ToolError> {
        let stdout = self.run(tool, args, None)?;
        parse_json(tool, args, &stdout)
    }

    /// Runs a tool that reads a JSON string map from stdin via `--file -`.
    fn run_with_json_stdin(
        &self,
        tool: &str,
        args: &[String],
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError> {
        let payload = serde_json::to_vec(values)
            .map_err(|e| invalid(tool, "<values>", &format!("cannot encode as JSON: {e}")))?;
        self.run(tool, args, Some(&payload)).map(drop)
    }

    fn status_set_impl(&self, status: &Status, application: bool) -> Result<(), ToolError> {
        const TOOL: &str = "status-set";
        if !status.name.is_settable() {
            return Err(invalid(
                TOOL,
                status.name.as_str(),
                "charms may only set active, blocked, maintenance or waiting",
            ));
        }
        let flag = if application {
            "--application=True"
        } else {
            "--application=False"
        };
        let args = strings([flag, status.name.as_str(), "--", &status.message]);
        self.run(TOOL, &args, None).map(drop)
    }

    fn relation_get_bag(
        &self,
        relation: &RelationId,
        target: &str,
        app: bool,
    ) -> Result<BTreeMap<String, String>, ToolError> {
        const TOOL: &str = "relation-get";
        check_positional(
            TOOL,
            target,
            if app { "application name" } else { "unit name" },
        )?;
        let args = relation_get_args(relation, app, "-", target);
        let bag: Option<BTreeMap<String, String>> = self.run_json(TOOL, &args)?;
        Ok(bag.unwrap_or_default())
    }

    fn relation_get_key(
        &self,
        relation: &RelationId,
        target: &str,
        key: &str,
        app: bool,
    ) -> Result<Option<String>, ToolError> {
        const TOOL: &str = "relation-get";
        check_positional(
            TOOL,
            target,
            if app { "application name" } else { "unit name" },
        )?;
        // Also refuses `-`, which would mean the whole bag.
        check_positional(TOOL, key, "key")?;
        let args = relation_get_args(relation, app, key, target);
        self.run_json(TOOL, &args)
    }

    fn relation_set(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
        app: bool,
    ) -> Result<(), ToolError> {
        let mut args = vec!["-r".to_owned(), relation.to_string()];
        if app {
            args.push("--app".to_owned());
        }
        args.extend(strings(["--file", "-"]));
        self.run_with_json_stdin("relation-set", &args, values)
    }

    /// Sends a free-text message to `tool` after `--`, split into pieces the
    /// operating system accepts as single arguments.
    fn run_message(&self, tool: &str, leading: &[&str], message: &str) -> Result<(), ToolError> {
        for piece in split_message(message, MAX_MESSAGE_ARG_LEN) {
            let mut args = strings(leading.iter().copied());
            args.push("--".to_owned());
            args.push(piece.to_owned());
            self.run(tool, &args, None)?;
        }
        Ok(())
    }
}

impl HookTools for ProcessHookTools {
    fn juju_log(&self, level: log::Level, message: &str) -> Result<(), ToolError> {
        self.run_message("juju-log", &["--log-level", juju_log_level(level)], message)
    }

    fn status_set(&self, status: &Status) -> Result<(), ToolError> {
        self.status_set_impl(status, false)
    }

    fn app_status_set(&self, status: &Status) -> Result<(), ToolError> {
        self.status_set_impl(status, true)
    }

    fn status_get(&self) -> Result<Status, ToolError> {
        const TOOL: &str = "status-get";
        let args = strings(["--include-data", "--format=json", "--application=false"]);
        let stdout = self.run(TOOL, &args, None)?;
        parse_unit_status(TOOL, &args, &stdout)
    }

    fn status_get_app(&self) -> Result<AppStatus, ToolError> {
        const TOOL: &str = "status-get";
        let args = strings(["--include-data", "--format=json", "--application=true"]);
        let stdout = self.run(TOOL, &args, None)?;
        parse_app_status(TOOL, &args, &stdout)
    }

    fn is_leader(&self) -> Result<bool, ToolError> {
        self.run_json("is-leader", &strings(["--format=json"]))
    }

    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        const TOOL: &str = "relation-ids";
        check_positional(TOOL, endpoint, "endpoint name")?;
        let args = strings([endpoint, "--format=json"]);
        let stdout = self.run(TOOL, &args, None)?;
        parse_relation_ids(TOOL, &args, &stdout)
    }

    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError> {
        let args = strings(["--format=json", "-r", &relation.to_string()]);
        let units: Option<Vec<String>> = self.run_json("relation-list", &args)?;
        Ok(units.unwrap_or_default())
    }

    fn relation_get_unit(
        &self,
        relation: &RelationId,
        unit: &str,
    ) -> Result<BTreeMap<String, String>, ToolError> {
        self.relation_get_bag(relation, unit, false)
    }

    fn relation_get_unit_key(
        &self,
        relation: &RelationId,
        unit: &str,
        key: &str,
    ) -> Result<Option<String>, ToolError> {
        self.relation_get_key(relation, unit, key, false)
    }

    fn relation_get_app(
        &self,
        relation: &RelationId,
        app: &str,
    ) -> Result<BTreeMap<String, String>, ToolError> {
        self.relation_get_bag(relation, app, true)
    }

    fn relation_get_app_key(
        &self,
        relation: &RelationId,
        app: &str,
        key: &str,
    ) -> Result<Option<String>, ToolError> {
        self.relation_get_key(relation, app, key, true)
    }

    fn relation_set_unit(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError> {
        self.relation_set(relation, values, false)
    }

    fn relation_set_app(
        &self,
        relation: &RelationId,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ToolError> {
        self.relation_set(relation, values, true)
    }

    fn action_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError> {
        let params: Option<serde_json::Map<String, serde_json::Value>> =
            self.run_json("action-get", &strings(["--format=json"]))?;
        Ok(params.unwrap_or_default())
    }

    fn action_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError> {
        const TOOL: &str = "action-set";
        validate_action_keys(values.keys().map(String::as_str))
            .map_err(|(key, reason)| invalid(TOOL, &key, &reason))?;
        if values.is_empty() {
            // Nothing to record; Juju would reject an argument-less call.
            return Ok(());
        }
        let args: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run(TOOL, &args, None).map(drop)
    }

    fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        let args = strings(["--", message]);
        self.run("action-fail", &args, None).map(drop)
    }

    fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.run_message("action-log", &[], message)
    }

    fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        let args = strings(["--", version]);
        self.run("application-version-set", &args, None).map(drop)
    }

    fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>, ToolError> {
        let config: Option<serde_json::Map<String, serde_json::Value>> =
            self.run_json("config-get", &strings(["--format=json"]))?;
        Ok(config.unwrap_or_default())
    }

    fn config_get_key(&self, key: &str) -> Result<Option<serde_json::Value>, ToolError> {
        const TOOL: &str = "config-get";
        check_positional(TOOL, key, "option name")?;
        let value: serde_json::Value = self.run_json(TOOL, &strings(["--format=json", key]))?;
        Ok((!value.is_null()).then_some(value))
    }

    fn state_get(&self) -> Result<BTreeMap<String, String>, ToolError> {
        // Juju prints `null` rather than `{}` when the unit has no state.
        let state: Option<BTreeMap<String, String>> =
            self.run_json("state-get", &strings(["--format=json"]))?;
        Ok(state.unwrap_or_default())
    }

    fn state_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError> {
        self.run_with_json_stdin("state-set", &strings(["--file", "-"]), values)
    }

    fn state_delete(&self, key: &str) -> Result<(), ToolError> {
        const TOOL: &str = "state-delete";
        check_positional(TOOL, key, "key")?;
        self.run(TOOL, &strings([key]), None).map(drop)
    }

    fn leader_get(&self) -> Result<BTreeMap<String, String>, ToolError> {
        let settings: Option<BTreeMap<String, String>> =
            self.run_json("leader-get", &strings(["--format=json"]))?;
        Ok(settings.unwrap_or_default())
    }

    fn leader_set(&self, values: &BTreeMap<String, String>) -> Result<(), ToolError> {
        const TOOL: &str = "leader-set";
        for key in values.keys() {
            if key.is_empty() || key.contains('=') {
                return Err(invalid(
                    TOOL,
                    key,
                    "a key must be non-empty and contain no `=`",
                ));
            }
        }
        if values.is_empty() {
            return Ok(());
        }
        let args: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run(TOOL, &args, None).map(drop)
    }

    fn planned_units(&self) -> Result<Vec<String>, ToolError> {
        const TOOL: &str = "goal-state";
        let args = strings(["--format=json"]);
        let stdout = self.run(TOOL, &args, None)?;
        parse_goal_state_units(TOOL, &args, &stdout)
    }

    fn secret_add(
        &self,
        content: &BTreeMap<String, String>,
        label: &str,
        owner: SecretOwner,
    ) -> Result<String, ToolError> {
        const TOOL: &str = "secret-add";
        secret::check_content(TOOL, content)?;
        let files = secret::ContentFiles::write(TOOL, content)?;
        let mut args = strings([
            "--owner",
            match owner {
                SecretOwner::Application => "application",
                SecretOwner::Unit => "unit",
            },
        ]);
        if !label.is_empty() {
            args.extend(strings(["--label", label]));
        }
        args.extend(files.args.iter().cloned());
        let stdout = self.run(TOOL, &args, None)?;
        secret::parse_secret_uri(TOOL, &args, &stdout)
    }

    fn secret_get(
        &self,
        secret: &SecretRef,
    ) -> Result<Option<BTreeMap<String, String>>, ToolError> {
        const TOOL: &str = "secret-get";
        let mut args = secret::ref_args(secret);
        args.push("--format=json".to_owned());
        match self.run_json(TOOL, &args) {
            Ok(content) => Ok(Some(content)),
            Err(err) if secret::is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn secret_set(&self, id: &str, content: &BTreeMap<String, String>) -> Result<(), ToolError> {
        const TOOL: &str = "secret-set";
        check_positional(TOOL, id, "secret id")?;
        secret::check_content(TOOL, content)?;
        let files = secret::ContentFiles::write(TOOL, content)?;
        let mut args = vec![id.to_owned()];
        args.extend(files.args.iter().cloned());
        self.run(TOOL, &args, None).map(drop)
    }

    fn secret_ids(&self) -> Result<Vec<String>, ToolError> {
        let args = strings(["--format=json"]);
        let ids: Option<Vec<String>> = self.run_json("secret-ids", &args)?;
        Ok(ids.unwrap_or_default())
    }

    fn secret_info_get(&self, secret: &SecretRef) -> Result<Option<SecretInfo>, ToolError> {
        const TOOL: &str = "secret-info-get";
        let mut args = secret::ref_args(secret);
        args.push("--format=json".to_owned());
        match self.run(TOOL, &args, None) {
            Ok(stdout) => secret::parse_secret_info(TOOL, &args, &stdout).map(Some),
            Err(err) if secret::is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn secret_remove(&self, id: &str) -> Result<(), ToolError> {
        const TOOL: &str = "secret-remove";
        check_positional(TOOL, id, "secret id")?;
        self.run(TOOL, &[id.to_owned()], None).map(drop)
    }

    fn open_ports(&self, ports: &[u16]) -> Result<(), ToolError> {
        for port in ports {
            self.run("open-port", &[format!("{port}/tcp")], None)?;
        }
        Ok(())
    }
}

/// The `--log-level` word `juju-log` expects for a `log` level.
pub fn juju_log_level(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

/// Checks `action-set` keys the way Juju does, so a bad key is a typed error
/// instead of a failed tool call.
///
/// Each `.`-separated segment must match `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`
/// and must not be one of the keys Juju reserves for captured output. A key
/// that is a dotted prefix of another (`a` and `a.b`) is refused too, because
/// one result cannot be both a value and a map. On error returns the key and
/// the reason.
pub fn validate_action_keys<'a>(
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<(), (String, String)> {
    const RESERVED: [&str; 4] = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];
    let keys: Vec<&str> = keys.into_iter().collect();
    for key in &keys {
        for segment in key.split('.') {
            if !is_action_key_segment(segment) {
                return Err((
                    (*key).to_owned(),
                    "must start and end with lowercase alphanumeric, and contain only lowercase \
                     alphanumeric, hyphens and periods"
                        .to_owned(),
                ));
            }
            if RESERVED.contains(&segment) {
                return Err((
                    (*key).to_owned(),
                    format!("{segment:?} is reserved by Juju"),
                ));
            }
        }
    }
    for key in &keys {
        if let Some(longer) = keys.iter().find(|other| {
            other.len() > key.len() && other.starts_with(key) && other.as_bytes()[key.len()] == b'.'
        }) {
            return Err((
                (*key).to_owned(),
                format!("conflicts with {longer:?}: a result cannot be both a value and a map"),
            ));
        }
    }
    Ok(())
}

fn is_action_key_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            edge_ok(first) && edge_ok(last) && bytes.iter().all(|&b| edge_ok(b) || b == b'-')
        }
        _ => false,
    }
}

/// Parses JSON tool output into `T`, keeping the raw text on failure.
pub fn parse_json<T: DeserializeOwned>(
    tool: &str,
    args: &[String],
    stdout: &str,
) -> Result<T, ToolError> {
    serde_json::from_str(stdout).map_err(|e| parse_error(tool, args, stdout, e.to_string()))
}

#[derive(Deserialize)]
struct RawStatus {
    status: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct RawAppStatus {
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    units: BTreeMap<String, RawStatus>,
}

#[derive(Deserialize)]
struct RawAppStatusEnvelope {
    #[serde(rename = "application-status")]
    application_status: RawAppStatus,
}

#[derive(Deserialize)]
struct RawGoalState {
    #[serde(default)]
    units: BTreeMap<String, serde_json::Value>,
}

fn status_from_raw(
    tool: &str,
    args: &[String],
    stdout: &str,
    status: String,
    message: String,
) -> Result<Status, ToolError> {
    let name = status
        .parse()
        .map_err(|e: InvalidStatusName| parse_error(tool, args, stdout, e.to_string()))?;
    Ok(Status { name, message })
}

/// Parses `status-get --include-data --format=json` output for a unit.
pub fn parse_unit_status(tool: &str, args: &[String], stdout: &str) -> Result<Status, ToolError> {
    let raw: RawStatus = parse_json(tool, args, stdout)?;
    status_from_raw(tool, args, stdout, raw.status, raw.message)
}

/// Parses `status-get --application=true --include-data --format=json` output.
///
/// Juju nests `units` inside `application-status`; missing `units` means none.
pub fn parse_app_status(tool: &str, args: &[String], stdout: &str) -> Result<AppStatus, ToolError> {
    let raw: RawAppStatusEnvelope = parse_json(tool, args, stdout)?;
    let app = raw.application_status;
    let status = status_from_raw(tool, args, stdout, app.status, app.message)?;
    let units = app
        .units
        .into_iter()
        .map(|(unit, raw)| {
            Ok((
                unit,
                status_from_raw(tool, args, stdout, raw.status, raw.message)?,
            ))
        })
        .collect::<Result<_, ToolError>>()?;
    Ok(AppStatus { status, units })
}

/// Parses `relation-ids --format=json` output (`["upgrade:3", ...]`).
pub fn parse_relation_ids(
    tool: &str,
    args: &[String],
    stdout: &str,
) -> Result<Vec<RelationId>, ToolError> {
    let ids: Option<Vec<String>> = parse_json(tool, args, stdout)?;
    ids.unwrap_or_default()
        .iter()
        .map(|id| {
            id.parse()
                .map_err(|e: InvalidRelationId| parse_error(tool, args, stdout, e.to_string()))
        })
        .collect()
}

/// Parses `goal-state --format=json` output into the sorted names of the units that
/// are not dying (a unit being removed is not planned).
pub fn parse_goal_state_units(
    tool: &str,
    args: &[String],
    stdout: &str,
) -> Result<Vec<String>, ToolError> {
    let raw: RawGoalState = parse_json(tool, args, stdout)?;
    Ok(raw
        .units
        .into_iter()
        .filter(|(_, unit)| unit.get("status").and_then(|s| s.as_str()) != Some("dying"))
        .map(|(name, _)| name)
        .collect())
}

/// Splits `message` into pieces of at most `max_bytes` bytes, on character
/// boundaries. An empty message is one empty piece, so it is still sent.
pub fn split_message(message: &str, max_bytes: usize) -> Vec<&str> {
    let max_bytes = max_bytes.max(4); // room for any one UTF-8 character
    let mut pieces = Vec::new();
    let mut rest = message;
    while rest.len() > max_bytes {
        let mut cut = max_bytes;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

fn relation_get_args(relation: &RelationId, app: bool, key: &str, target: &str) -> Vec<String> {
    let mut args = strings(["--format=json", "-r", &relation.to_string()]);
    if app {
        args.push("--app".to_owned());
    }
    args.push(key.to_owned());
    args.push(target.to_owned());
    args
}

/// Refuses a positional argument the tool would misread as a flag (or an empty one).
fn check_positional(tool: &str, value: &str, what: &str) -> Result<(), ToolError> {
    if value.is_empty() {
        return Err(invalid(tool, value, &format!("the {what} is empty")));
    }
    if value.starts_with('-') {
        return Err(invalid(
            tool,
            value,
            &format!("a {what} cannot start with `-`"),
        ));
    }
    Ok(())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn invalid(tool: &str, argument: &str, reason: &str) -> ToolError {
    ToolError::InvalidArgument {
        tool: tool.to_owned(),
        argument: argument.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_error(tool: &str, args: &[String], stdout: &str, reason: String) -> ToolError {
    ToolError::Parse {
        tool: tool.to_owned(),
        args: args.to_vec(),
        output: stdout.to_owned(),
        reason,
    }
}

pub mod secret;
#[cfg(test)]
mod tests;
