//! The parts of a charm's `metadata.yaml`, `actions.yaml` and `config.yaml`
//! that the emulator needs: endpoints (to create peer relations), action
//! schemas (to validate `run` parameters at enqueue time) and config options
//! (to give hooks their typed values and defaults).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a charm's YAML files could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The file is not valid YAML or does not have the expected shape.
    #[error("{file}: {message}")]
    Invalid {
        /// Which file (`metadata.yaml`, ...).
        file: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(file: &'static str, message: impl Into<String>) -> MetaError {
    MetaError::Invalid {
        file,
        message: message.into(),
    }
}

/// One relation endpoint declared in `metadata.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The interface name, e.g. `mysql_peers`.
    pub interface: String,
    /// Maximum number of relations on this endpoint, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `global` (default) or `container`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// What the emulator reads from `metadata.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The charm name (Charmhub name).
    pub name: String,
    /// Peer endpoints: one relation per endpoint exists from deploy time.
    pub peers: BTreeMap<String, Endpoint>,
    /// Endpoints this charm provides to other applications.
    pub provides: BTreeMap<String, Endpoint>,
    /// Endpoints this charm requires from other applications.
    pub requires: BTreeMap<String, Endpoint>,
    /// Whether the charm is a subordinate (not supported by the emulator, but reported).
    pub subordinate: bool,
}

impl Metadata {
    /// Parses `metadata.yaml` text.
    pub fn parse(text: &str) -> Result<Metadata, MetaError> {
        const FILE: &str = "metadata.yaml";
        let doc: Value = serde_yaml::from_str(text).map_err(|e| invalid(FILE, e.to_string()))?;
        let map = doc
            .as_object()
            .ok_or_else(|| invalid(FILE, "expected a mapping"))?;
        let name = match map.get("name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => return Err(invalid(FILE, "missing charm name")),
        };
        let subordinate = match map.get("subordinate") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid(FILE, "subordinate must be a boolean")),
        };
        Ok(Metadata {
            name,
            peers: parse_endpoints(map.get("peers"), "peers")?,
            provides: parse_endpoints(map.get("provides"), "provides")?,
            requires: parse_endpoints(map.get("requires"), "requires")?,
            subordinate,
        })
    }

    /// Looks an endpoint up in every role.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.peers
            .get(name)
            .or_else(|| self.provides.get(name))
            .or_else(|| self.requires.get(name))
    }
}

fn parse_endpoints(
    section: Option<&Value>,
    role: &str,
) -> Result<BTreeMap<String, Endpoint>, MetaError> {
    const FILE: &str = "metadata.yaml";
    let mut endpoints = BTreeMap::new();
    let map = match section {
        None | Some(Value::Null) => return Ok(endpoints),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(invalid(FILE, format!("{role} must be a mapping"))),
    };
    for (name, spec) in map {
        let endpoint = match spec {
            // The short form `endpoint: interface`.
            Value::String(interface) => Endpoint {
                interface: interface.clone(),
                limit: None,
                scope: None,
            },
            Value::Object(fields) => {
                let interface = fields
                    .get("interface")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(FILE, format!("{role}.{name}: missing interface")))?;
                Endpoint {
                    interface: interface.to_string(),
                    limit: fields.get("limit").and_then(Value::as_u64),
                    scope: fields
                        .get("scope")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }
            }
            _ => return Err(invalid(FILE, format!("{role}.{name}: expected a mapping"))),
        };
        endpoints.insert(name.clone(), endpoint);
    }
    Ok(endpoints)
}

/// One action from `actions.yaml`, with Juju's schema defaults applied.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActionSpec {
    /// Human description.
    pub description: String,
    /// Parameter schemas (JSON-schema draft-4 properties), by name.
    pub params: BTreeMap<String, Value>,
    /// Parameters that must be given (after defaults are inserted).
    pub required: Vec<String>,
    /// Whether parameters not in `params` are accepted (Juju's default: false).
    pub additional_properties: bool,
    /// Declared `parallel:` (recorded; the emulator serialises every action).
    pub parallel: bool,
    /// Declared `execution-group:` (recorded only).
    pub execution_group: Option<String>,
}

/// Every action of a charm, by name.
pub type Actions = BTreeMap<String, ActionSpec>;

/// True for names Juju accepts for actions and action-set keys.
pub fn is_valid_action_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            edge_ok(first) && edge_ok(last) && bytes.iter().all(|&b| edge_ok(b) || b == b'-')
        }
        _ => false,
    }
}

/// Parses `actions.yaml` text (an empty file means no actions).
pub fn parse_actions(text: &str) -> Result<Actions, MetaError> {
    const FILE: &str = "actions.yaml";
    let doc: Value = serde_yaml::from_str(text).map_err(|e| invalid(FILE, e.to_string()))?;
    let mut actions = Actions::new();
    let map = match doc {
        Value::Null => return Ok(actions),
        Value::Object(map) => map,
        _ => return Err(invalid(FILE, "expected a mapping of action names")),
    };
    for (name, spec) in map {
        if !is_valid_action_name(&name) {
            return Err(invalid(FILE, format!("bad action name {name}")));
        }
        let fields = match spec {
            Value::Null => serde_json::Map::new(),
            Value::Object(fields) => fields,
            _ => return Err(invalid(FILE, format!("{name}: expected a mapping"))),
        };
        reject_refs(&Value::Object(fields.clone()), &name)?;
        let mut action = ActionSpec::default();
        if let Some(Value::String(d)) = fields.get("description") {
            action.description = d.clone();
        }
        match fields.get("params") {
            None | Some(Value::Null) => {}
            Some(Value::Object(params)) => {
                for (param, schema) in params {
                    action.params.insert(param.clone(), schema.clone());
                }
            }
            Some(_) => return Err(invalid(FILE, format!("{name}.params: expected a mapping"))),
        }
        match fields.get("required") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let param = item.as_str().ok_or_else(|| {
                        invalid(FILE, format!("{name}.required: expected strings"))
                    })?;
                    action.required.push(param.to_string());
                }
            }
            Some(_) => return Err(invalid(FILE, format!("{name}.required: expected a list"))),
        }
        match fields.get("additionalProperties") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => action.additional_properties = *b,
            Some(_) => {
                return Err(invalid(
                    FILE,
                    format!("{name}.additionalProperties: expected a boolean"),
                ))
            }
        }
        action.parallel = matches!(fields.get("parallel"), Some(Value::Bool(true)));
        action.execution_group = fields
            .get("execution-group")
            .and_then(Value::as_str)
            .map(str::to_string);
        actions.insert(name, action);
    }
    Ok(actions)
}

/// Juju refuses `$ref` and `$schema` anywhere in an action schema.
fn reject_refs(value: &Value, action: &str) -> Result<(), MetaError> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" || key == "$schema" {
                    return Err(invalid(
                        "actions.yaml",
                        format!("{action}: schema key {key:?} is not allowed"),
                    ));
                }
                reject_refs(inner, action)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| reject_refs(v, action)),
        _ => Ok(()),
    }
}

/// The type of a config option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionType {
    /// `string` (also the default when no type is given).
    String,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `boolean`.
    Boolean,
    /// `secret` (a secret URI, handled as a string).
    Secret,
}

impl OptionType {
    /// The name `config.yaml` and `juju config` use.
    pub fn name(self) -> &'static str {
        match self {
            OptionType::String => "string",
            OptionType::Int => "int",
            OptionType::Float => "float",
            OptionType::Boolean => "boolean",
            OptionType::Secret => "secret",
        }
    }
}

/// One option from `config.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: OptionType,
    /// Its default, already typed; `None` when the option has no default.
    pub default: Option<Value>,
    /// Human description.
    pub description: String,
}

/// Every config option of a charm, by name.
pub type ConfigSpec = BTreeMap<String, ConfigOption>;

/// Parses `config.yaml` text (`options:` mapping; an empty file means no options).
pub fn parse_config(text: &str) -> Result<ConfigSpec, MetaError> {
    const FILE: &str = "config.yaml";
    let doc: Value = serde_yaml::from_str(text).map_err(|e| invalid(FILE, e.to_string()))?;
    let mut spec = ConfigSpec::new();
    let options = match &doc {
        Value::Null => return Ok(spec),
        Value::Object(map) => match map.get("options") {
            None | Some(Value::Null) => return Ok(spec),
            Some(Value::Object(options)) => options,
            Some(_) => return Err(invalid(FILE, "options must be a mapping")),
        },
        _ => return Err(invalid(FILE, "expected a mapping")),
    };
    for (name, option) in options {
        let fields = option
            .as_object()
            .ok_or_else(|| invalid(FILE, format!("option {name}: expected a mapping")))?;
        let kind = match fields.get("type").and_then(Value::as_str) {
            None | Some("string") => OptionType::String,
            Some("int") => OptionType::Int,
            Some("float") => OptionType::Float,
            Some("boolean") => OptionType::Boolean,
            Some("secret") => OptionType::Secret,
            Some(other) => {
                return Err(invalid(
                    FILE,
                    format!("option {name}: unknown type {other:?}"),
                ))
            }
        };
        let default = match fields.get("default") {
            None | Some(Value::Null) => None,
            Some(value) => Some(coerce_default(kind, value).ok_or_else(|| {
                invalid(
                    FILE,
                    format!("option {name}: default {value} is not a {kind:?}"),
                )
            })?),
        };
        let description = fields
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        spec.insert(
            name.clone(),
            ConfigOption {
                kind,
                default,
                description,
            },
        );
    }
    Ok(spec)
}

/// Checks a YAML default against its declared type (ints may be given for floats).
fn coerce_default(kind: OptionType, value: &Value) -> Option<Value> {
    match (kind, value) {
        (OptionType::String | OptionType::Secret, Value::String(_)) => Some(value.clone()),
        // YAML turns unquoted `8.0` or `yes` into other types; Juju keeps strings as written.
        (OptionType::String, Value::Number(n)) => Some(Value::String(n.to_string())),
        (OptionType::String, Value::Bool(b)) => Some(Value::String(b.to_string())),
        (OptionType::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(value.clone()),
        (OptionType::Float, Value::Number(n)) => n.as_f64().map(Value::from),
        (OptionType::Boolean, Value::Bool(_)) => Some(value.clone()),
        _ => None,
    }
}

/// Parses an operator-supplied string (`juju config app key=value`) into the option's type.
pub fn parse_config_value(option: &ConfigOption, raw: &str) -> Result<Value, String> {
    match option.kind {
        OptionType::String | OptionType::Secret => Ok(Value::String(raw.to_string())),
        OptionType::Int => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected int, got {raw:?}")),
        OptionType::Float => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .ok_or_else(|| format!("expected float, got {raw:?}")),
        OptionType::Boolean => match raw.trim() {
            "true" | "True" | "TRUE" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "False" | "FALSE" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("expected boolean, got {raw:?}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_reads_peers_in_long_and_short_form() {
        let meta = Metadata::parse(
            "name: db\npeers:\n  replicas:\n    interface: db_peers\n  upgrade: upgrade\nprovides:\n  database: {interface: sql}\n",
        )
        .unwrap();
        assert_eq!(meta.name, "db");
        assert_eq!(meta.peers["replicas"].interface, "db_peers");
        assert_eq!(meta.peers["upgrade"].interface, "upgrade");
        assert_eq!(meta.provides["database"].interface, "sql");
        assert!(meta.requires.is_empty());
    }

    #[test]
    fn metadata_without_name_is_rejected() {
        assert!(Metadata::parse("summary: x\n").is_err());
        assert!(Metadata::parse("- a\n").is_err());
    }

    #[test]
    fn actions_default_to_no_additional_properties() {
        let actions = parse_actions(
            "backup:\n  description: d\n  params:\n    to: {type: string, default: /tmp}\n  required: [to]\nopen:\n  additionalProperties: true\n",
        )
        .unwrap();
        assert!(!actions["backup"].additional_properties);
        assert_eq!(actions["backup"].required, vec!["to".to_string()]);
        assert!(actions["open"].additional_properties);
        assert!(parse_actions("").unwrap().is_empty());
    }

    #[test]
    fn actions_reject_bad_names_and_refs() {
        assert!(parse_actions("Bad:\n  description: x\n").is_err());
        assert!(parse_actions("a:\n  params:\n    p: {$ref: x}\n").is_err());
    }

    #[test]
    fn action_names_follow_juju_pattern() {
        assert!(is_valid_action_name("pre-upgrade-check"));
        assert!(is_valid_action_name("a1"));
        assert!(!is_valid_action_name("-a"));
        assert!(!is_valid_action_name("a-"));
        assert!(!is_valid_action_name("A"));
        assert!(!is_valid_action_name(""));
    }

    #[test]
    fn config_types_defaults_and_values() {
        let spec = parse_config(
            "options:\n  name: {type: string}\n  port: {type: int, default: 3306}\n  ratio: {type: float, default: 1}\n  on: {type: boolean, default: true}\n  plain: {default: x}\n",
        )
        .unwrap();
        assert_eq!(spec["name"].default, None);
        assert_eq!(spec["port"].default, Some(Value::from(3306)));
        assert_eq!(spec["ratio"].default, Some(Value::from(1.0)));
        assert_eq!(spec["plain"].kind, OptionType::String);
        assert_eq!(
            parse_config_value(&spec["port"], "12").unwrap(),
            Value::from(12)
        );
        assert!(parse_config_value(&spec["port"], "x").is_err());
        assert_eq!(
            parse_config_value(&spec["on"], "false").unwrap(),
            Value::Bool(false)
        );
        assert!(parse_config("options:\n  port: {type: int, default: abc}\n").is_err());
    }
}
