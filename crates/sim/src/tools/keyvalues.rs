//! `key=value` arguments and `--file` settings maps, as relation-set,
//! state-set and leader-set read them (Juju's `keyvalues.Parse` and its YAML
//! settings reader).

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::golang;
use super::ToolError;

/// Parses `key=value` arguments: split at the first `=`, empty values
/// allowed, empty keys and repeated keys refused. Errors are argument
/// errors (exit 2).
pub(crate) fn parse(args: &[String]) -> Result<BTreeMap<String, String>, ToolError> {
    let mut settings = BTreeMap::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(ToolError::Usage(format!(
                "expected \"key=value\", got {}",
                golang::quote(arg)
            )));
        };
        if settings.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(ToolError::Usage(format!(
                "key {} specified more than once",
                golang::quote(key)
            )));
        }
    }
    Ok(settings)
}

/// Reads the `--file` map: `-` is stdin, anything else a path. The content is
/// a YAML (so also JSON) mapping of strings to scalars; scalars become their
/// text and null becomes the empty string, as Go's YAML decoder does when
/// decoding into `map[string]string`.
pub(crate) fn read_file(path: &str, stdin: &[u8]) -> Result<BTreeMap<String, String>, ToolError> {
    let content = if path == "-" {
        stdin.to_vec()
    } else {
        std::fs::read(path)
            .map_err(|error| ToolError::Run(golang::path_error("open", path, &error)))?
    };
    let document: Value = serde_yaml::from_slice(&content)
        .map_err(|error| ToolError::Run(format!("yaml: {error}")))?;
    let mapping = match document {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Mapping(mapping) => mapping,
        other => {
            return Err(ToolError::Run(format!(
                "yaml: unmarshal errors:\n  cannot unmarshal {} into map[string]string",
                yaml_kind(&other)
            )))
        }
    };
    let mut settings = BTreeMap::new();
    for (key, value) in mapping {
        let key = scalar_text(&key)?;
        let value = scalar_text(&value)?;
        settings.insert(key, value);
    }
    Ok(settings)
}

fn scalar_text(value: &Value) -> Result<String, ToolError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Number(number) => Ok(number.to_string()),
        Value::String(text) => Ok(text.clone()),
        Value::Tagged(tagged) => scalar_text(&tagged.value),
        other => Err(ToolError::Run(format!(
            "yaml: unmarshal errors:\n  cannot unmarshal {} into string",
            yaml_kind(other)
        ))),
    }
}

fn yaml_kind(value: &Value) -> &'static str {
    match value {
        Value::Sequence(_) => "!!seq",
        Value::Mapping(_) => "!!map",
        Value::Bool(_) => "!!bool",
        Value::Number(_) => "!!number",
        Value::String(_) => "!!str",
        Value::Null => "!!null",
        Value::Tagged(_) => "tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_from_ops_keeps_strings_exact() {
        let json = br#"{"a:b": "yes", "n": "null", "esc": "tab\tquote\"slash\/\u00e9", "multi": "l1\nl2", "num": "007"}"#;
        assert_eq!(
            read_file("-", json),
            Ok(map(&[
                ("a:b", "yes"),
                ("esc", "tab\tquote\"slash/é"),
                ("multi", "l1\nl2"),
                ("n", "null"),
                ("num", "007"),
            ]))
        );
    }

    #[test]
    fn yaml_block_scalars_as_ops_controller_storage_writes_them() {
        let yaml = b"? |-\n  #notices#\n: |\n  []\n? |-\n  Charm/StoredStateData[_stored]\n: |\n  {events: 1}\n";
        assert_eq!(
            read_file("-", yaml),
            Ok(map(&[
                ("#notices#", "[]\n"),
                ("Charm/StoredStateData[_stored]", "{events: 1}\n")
            ]))
        );
    }

    #[test]
    fn empty_input_is_an_empty_map_and_non_maps_are_refused() {
        assert_eq!(read_file("-", b""), Ok(BTreeMap::new()));
        assert_eq!(read_file("-", b"a: ~\n"), Ok(map(&[("a", "")])));
        assert!(matches!(
            read_file("-", b"- a\n- b\n"),
            Err(ToolError::Run(_))
        ));
        assert!(matches!(
            read_file("-", b"a: [1]\n"),
            Err(ToolError::Run(_))
        ));
        assert!(matches!(
            read_file("-", b"{unclosed"),
            Err(ToolError::Run(_))
        ));
    }

    #[test]
    fn key_values_split_at_the_first_equals() {
        let args: Vec<String> = ["a=1", "b=", "c=x=y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse(&args),
            Ok(map(&[("a", "1"), ("b", ""), ("c", "x=y")]))
        );
    }
}
