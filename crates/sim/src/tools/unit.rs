//! Tools about this unit and its application: config-get, unit-get,
//! application-version-set and goal-state.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::flags::{Check, FlagDef, FlagKind, Parsed};
use super::output::Output;
use super::{check_empty, golang, Invocation, ToolError, ToolSpec, SMART_FORMATS};
use crate::context::Immediate;

pub(crate) static CONFIG_GET: ToolSpec = ToolSpec {
    name: "config-get",
    args: "[<key>]",
    purpose: "Print application configuration.",
    flags: &[FlagDef {
        names: &["a", "all"],
        kind: FlagKind::Bool,
        check: Check::Any,
        default: "false",
        help: "print all keys",
    }],
    formats: SMART_FORMATS,
    run: config_get,
};

fn config_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let all = parsed.is_set("a");
    let mut key = None;
    if let Some((first, rest)) = parsed.positionals.split_first() {
        if !first.is_empty() && all {
            return Err(ToolError::Usage(format!(
                "cannot use argument --all together with key {}",
                golang::quote(first)
            )));
        }
        check_empty(rest)?;
        key = Some(first.clone()).filter(|key| !key.is_empty());
    }
    let config = &inv.ctx.config;
    let value = match key {
        // Without --all, options that are unset and have no default are left out.
        None => Value::Object(
            config
                .iter()
                .filter_map(|(name, value)| match value.clone().unwrap_or(Value::Null) {
                    Value::Null if !all => None,
                    value => Some((name.clone(), value)),
                })
                .collect(),
        ),
        Some(key) => config.get(&key).cloned().flatten().unwrap_or(Value::Null),
    };
    inv.print(Output::Data(value))
}

pub(crate) static UNIT_GET: ToolSpec = ToolSpec {
    name: "unit-get",
    args: "<setting>",
    purpose: "Print public-address or private-address.",
    flags: &[],
    formats: SMART_FORMATS,
    run: unit_get,
};

fn unit_get(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let Some((setting, rest)) = parsed.positionals.split_first() else {
        return Err(ToolError::Usage("no setting specified".into()));
    };
    if setting != "private-address" && setting != "public-address" {
        return Err(ToolError::Usage(format!(
            "unknown setting {}",
            golang::quote(setting)
        )));
    }
    check_empty(rest)?;
    // Machine units in the emulator have one address, public and private.
    let address = inv.ctx.private_address.clone();
    inv.print(Output::Data(Value::String(address)))
}

pub(crate) static APPLICATION_VERSION_SET: ToolSpec = ToolSpec {
    name: "application-version-set",
    args: "<new-version>",
    purpose: "Specify which version of the application is deployed.",
    flags: &[],
    formats: &[],
    run: application_version_set,
};

fn application_version_set(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    let Some((version, rest)) = parsed.positionals.split_first() else {
        return Err(ToolError::Usage("no version specified".into()));
    };
    check_empty(rest)?;
    inv.ctx.immediate.push(Immediate::WorkloadVersion {
        version: version.clone(),
    });
    Ok(())
}

pub(crate) static GOAL_STATE: ToolSpec = ToolSpec {
    name: "goal-state",
    args: "",
    purpose: "Print the status of the charm's peers and related units.",
    flags: &[],
    formats: &["yaml", "json"],
    run: goal_state,
};

/// `units`: every unit of this application with its workload status;
/// `relations`: per local endpoint of each non-peer relation, the remote
/// application (`joined`) and each remote unit. `since` is the time of the
/// call: the context does not carry status timestamps.
fn goal_state(inv: &mut Invocation<'_>, parsed: &Parsed) -> Result<(), ToolError> {
    check_empty(&parsed.positionals)?;
    let ctx = &*inv.ctx;
    let since = format_utc(SystemTime::now());
    let entry = |status: &str| json!({ "status": status, "since": since });
    let status_of = |unit: &str| match unit == ctx.unit {
        true => ctx.unit_status.status.clone(),
        false => ctx
            .unit_statuses
            .get(unit)
            .map_or_else(|| "unknown".to_owned(), |s| s.status.clone()),
    };

    let mut units = Map::new();
    let mut own_units: Vec<&String> = ctx.unit_statuses.keys().collect();
    own_units.push(&ctx.unit);
    for unit in own_units {
        units.insert(unit.clone(), entry(&status_of(unit)));
    }
    let mut relations = Map::new();
    for relation in ctx
        .relations
        .values()
        .filter(|relation| relation.remote_app != ctx.app)
    {
        let Value::Object(endpoint) = relations
            .entry(relation.endpoint.clone())
            .or_insert_with(|| Value::Object(Map::new()))
        else {
            continue;
        };
        endpoint.insert(relation.remote_app.clone(), entry("joined"));
        for unit in &relation.members {
            endpoint.insert(unit.clone(), entry(&status_of(unit)));
        }
    }
    inv.print(Output::Data(
        json!({ "units": units, "relations": relations }),
    ))
}

/// `YYYY-MM-DD hh:mm:ssZ`, Juju's goal-state time format (UTC, space, no `T`).
fn format_utc(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_format_matches_juju() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00Z");
        // 2024-02-29 12:34:56 UTC, a leap day.
        let leap_day = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(format_utc(leap_day), "2024-02-29 12:34:56Z");
        // 2000-12-31 23:59:59 UTC.
        let end_of_2000 = UNIX_EPOCH + Duration::from_secs(978_307_199);
        assert_eq!(format_utc(end_of_2000), "2000-12-31 23:59:59Z");
    }
}
