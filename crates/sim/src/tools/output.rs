//! The `--format` and `-o/--output` handling of Juju's hook tools.
//!
//! `smart` prints strings as they are, lists of strings one per line, bools
//! as `True`/`False`, nothing for nil or the empty string, and anything else
//! as YAML; `json` is one line of JSON; `yaml` is YAML, nothing for nil.

use serde_json::Value;

use super::golang;
use super::ToolError;

/// An output format of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Juju's default for most tools.
    Smart,
    /// One line of JSON.
    Json,
    /// YAML.
    Yaml,
}

impl Format {
    /// Parses a `--format` value.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "smart" => Some(Format::Smart),
            "json" => Some(Format::Json),
            "yaml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// A value a tool prints. Go's formatters look at the dynamic type, so a
/// list of strings (`[]string`) prints differently in `smart` from a list of
/// arbitrary values; the two variants keep that distinction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// A `[]string`: one per line in `smart`.
    Strings(Vec<String>),
    /// Any other value; `Value::Null` is Go's nil.
    Data(Value),
}

impl Output {
    /// Renders the value in `format`.
    pub fn render(&self, format: Format) -> Result<Vec<u8>, ToolError> {
        let value = match self {
            Output::Strings(items) => {
                Value::Array(items.iter().cloned().map(Value::String).collect())
            }
            Output::Data(value) => sorted(value),
        };
        match format {
            Format::Json => json(&value),
            Format::Yaml => yaml(&value),
            Format::Smart => {
                let text = match (self, &value) {
                    (Output::Strings(items), _) => items.join("\n"),
                    (_, Value::Null) => String::new(),
                    (_, Value::String(text)) => text.clone(),
                    (_, Value::Bool(true)) => "True".to_owned(),
                    (_, Value::Bool(false)) => "False".to_owned(),
                    _ => return yaml(&value),
                };
                if text.is_empty() {
                    Ok(Vec::new())
                } else {
                    Ok(format!("{text}\n").into_bytes())
                }
            }
        }
    }
}

/// Where and how a tool prints its result (`--format`, `-o/--output`).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The chosen format.
    pub format: Format,
    /// `-o` path; empty means stdout.
    pub path: String,
}

impl Target {
    /// Renders `output` and writes it to the `-o` file or appends it to `stdout`.
    pub fn write(&self, output: &Output, stdout: &mut Vec<u8>) -> Result<(), ToolError> {
        let bytes = output.render(self.format)?;
        if self.path.is_empty() {
            stdout.extend_from_slice(&bytes);
            return Ok(());
        }
        std::fs::write(&self.path, bytes)
            .map_err(|error| ToolError::Run(golang::path_error("open", &self.path, &error)))
    }
}

/// JSON as Go's `json.Marshal` writes it (HTML-safe escapes), plus a newline.
fn json(value: &Value) -> Result<Vec<u8>, ToolError> {
    let text = serde_json::to_string(value)
        .map_err(|error| ToolError::Run(format!("cannot encode output as JSON: {error}")))?;
    // Go escapes these inside strings; they cannot occur outside strings.
    let mut escaped = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped.push('\n');
    Ok(escaped.into_bytes())
}

/// YAML with exactly one trailing newline; nil prints nothing.
fn yaml(value: &Value) -> Result<Vec<u8>, ToolError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let text = serde_yaml::to_string(value)
        .map_err(|error| ToolError::Run(format!("cannot encode output as YAML: {error}")))?;
    let trimmed = text.trim_end_matches('\n');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(format!("{trimmed}\n").into_bytes())
}

/// A copy with every map's keys sorted, as Go's encoders sort map keys
/// (whatever order `serde_json` keeps maps in).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: std::collections::BTreeMap<&String, Value> = map
                .iter()
                .map(|(key, value)| (key, sorted(value)))
                .collect();
            Value::Object(
                ordered
                    .into_iter()
                    .map(|(key, value)| (key.clone(), value))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
