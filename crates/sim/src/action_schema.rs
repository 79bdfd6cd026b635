//! Action parameter validation, as Juju does it when a task is enqueued:
//! defaults from `actions.yaml` are inserted, then the parameters are checked
//! against the action's JSON schema (a draft-4 subset: `type`, `enum`,
//! `minimum`/`maximum`, `minLength`/`maxLength`, nested `properties`,
//! `required`, `items`, `additionalProperties`).

use serde_json::{Map, Value};

use crate::charm_meta::ActionSpec;

/// Returns `params` with defaults inserted, or the reason they are invalid
/// (the text that follows Juju's `validation failed: `).
pub fn validate_params(
    spec: &ActionSpec,
    params: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut params = params;
    for (name, schema) in &spec.params {
        if !params.contains_key(name) {
            if let Some(default) = schema.get("default") {
                params.insert(name.clone(), default.clone());
            }
        }
    }
    if !spec.additional_properties {
        if let Some(extra) = params.keys().find(|k| !spec.params.contains_key(*k)) {
            return Err(format!(
                "(root) : additional property {extra:?} is not allowed"
            ));
        }
    }
    for name in &spec.required {
        if !params.contains_key(name) {
            return Err(format!("(root) : {name} is required"));
        }
    }
    for (name, value) in &params {
        if let Some(schema) = spec.params.get(name) {
            check(schema, value, &format!("(root).{name}"))?;
        }
    }
    Ok(params)
}

/// Checks one value against one schema node.
fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(kind) = schema.get("type") {
        let allowed: Vec<&str> = match kind {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| has_type(value, t)) {
            return Err(format!(
                "{path} : invalid type. Expected: {}, given: {}",
                allowed.join(" or "),
                type_name(value)
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.contains(value) {
            let shown: Vec<String> = options.iter().map(Value::to_string).collect();
            return Err(format!(
                "{path} : must be one of the following: {}",
                shown.join(", ")
            ));
        }
    }
    if let Some(number) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if number < min {
                return Err(format!("{path} : must be greater than or equal to {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if number > max {
                return Err(format!("{path} : must be less than or equal to {max}"));
            }
        }
    }
    if let Value::String(text) = value {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if length < min {
                return Err(format!(
                    "{path} : string length must be greater than or equal to {min}"
                ));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if length > max {
                return Err(format!(
                    "{path} : string length must be less than or equal to {max}"
                ));
            }
        }
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    return Err(format!("{path} : {name} is required"));
                }
            }
        }
        if let Some(Value::Bool(false)) = schema.get("additionalProperties") {
            if let Some(extra) = fields
                .keys()
                .find(|k| !properties.is_some_and(|p| p.contains_key(*k)))
            {
                return Err(format!(
                    "{path} : additional property {extra:?} is not allowed"
                ));
            }
        }
        if let Some(properties) = properties {
            for (name, inner) in fields {
                if let Some(inner_schema) = properties.get(name) {
                    check(inner_schema, inner, &format!("{path}.{name}"))?;
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (index, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}.{index}"))?;
        }
    }
    Ok(())
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm_meta::parse_actions;
    use serde_json::json;

    fn spec() -> ActionSpec {
        parse_actions(
            "act:\n  params:\n    mode: {type: string, enum: [fast, slow], default: fast}\n    count: {type: integer, minimum: 1, maximum: 5}\n    opts:\n      type: object\n      properties:\n        deep: {type: boolean}\n  required: [count]\n",
        )
        .unwrap()
        .remove("act")
        .unwrap()
    }

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults_are_inserted() {
        let out = validate_params(&spec(), params(json!({"count": 2}))).unwrap();
        assert_eq!(out["mode"], json!("fast"));
        assert_eq!(out["count"], json!(2));
    }

    #[test]
    fn unknown_params_are_rejected_by_default() {
        let err = validate_params(&spec(), params(json!({"count": 2, "x": 1}))).unwrap_err();
        assert!(err.contains("additional property \"x\""), "{err}");
    }

    #[test]
    fn required_type_enum_and_range_are_checked() {
        assert!(validate_params(&spec(), params(json!({})))
            .unwrap_err()
            .contains("count is required"));
        assert!(validate_params(&spec(), params(json!({"count": "2"})))
            .unwrap_err()
            .contains("invalid type"));
        assert!(validate_params(&spec(), params(json!({"count": 9})))
            .unwrap_err()
            .contains("less than"));
        assert!(
            validate_params(&spec(), params(json!({"count": 1, "mode": "x"})))
                .unwrap_err()
                .contains("one of")
        );
        let nested = validate_params(&spec(), params(json!({"count": 1, "opts": {"deep": "no"}})));
        assert!(nested.unwrap_err().contains("(root).opts.deep"));
    }
}
