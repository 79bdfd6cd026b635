//! `juju run` parameters: `key=value` words, values parsed as YAML (so
//! `count=3` is a number and `force=true` a boolean) unless `--string-args`,
//! dotted keys building nested maps (`a.b=1` → `{"a": {"b": 1}}`).

use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Value};

/// Parses `key=value` words into an action's parameter map.
pub fn parse(words: &[String], string_args: bool) -> Result<Map<String, Value>> {
    let mut params = Map::new();
    for word in words {
        let (key, raw) = word
            .split_once('=')
            .ok_or_else(|| anyhow!("expected \"key=value\", got {word:?}"))?;
        if key.is_empty() || key.split('.').any(str::is_empty) {
            bail!("invalid parameter key {key:?}");
        }
        let value = if string_args || raw.is_empty() {
            Value::String(raw.to_string())
        } else {
            serde_yaml::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
        };
        insert(&mut params, key, value)?;
    }
    Ok(params)
}

/// Reads `juju run --params FILE`: a YAML map of parameters.
pub fn from_file(path: &std::path::Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("reading params file {}: {e}", path.display()))?;
    match serde_yaml::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => bail!(
            "params file {}: expected a map of parameters",
            path.display()
        ),
        Err(e) => bail!("params file {}: invalid YAML: {e}", path.display()),
    }
}

fn insert(map: &mut Map<String, Value>, key: &str, value: Value) -> Result<()> {
    match key.split_once('.') {
        None => {
            if map.insert(key.to_string(), value).is_some() {
                bail!("parameter {key:?} given more than once");
            }
            Ok(())
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(inner) => insert(inner, rest, value),
                _ => bail!("parameter {head:?} is both a value and a map"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_are_yaml_typed_and_dotted_keys_nest() {
        let params = parse(
            &words(&[
                "count=3",
                "force=true",
                "name=db",
                "deep.a=1",
                "deep.b=x",
                "empty=",
            ]),
            false,
        );
        assert_eq!(
            Value::Object(params.unwrap()),
            json!({"count": 3, "force": true, "name": "db", "deep": {"a": 1, "b": "x"}, "empty": ""})
        );
    }

    #[test]
    fn string_args_keep_strings_and_bad_words_fail() {
        assert_eq!(
            Value::Object(parse(&words(&["count=3"]), true).unwrap()),
            json!({"count": "3"})
        );
        assert!(parse(&words(&["novalue"]), false).is_err());
        assert!(parse(&words(&["a=1", "a=2"]), false).is_err());
        assert!(parse(&words(&["a=1", "a.b=2"]), false).is_err());
    }
}
