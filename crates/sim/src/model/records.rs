//! Append-only records: debug-log entries (what `juju debug-log` shows) and
//! the operation history (one record per hook, action or charm swap, so
//! tests and operators can see exactly what ran, in which order, with which
//! charm revision and outcome).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Log levels, in increasing severity (loggo's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// TRACE.
    Trace,
    /// DEBUG.
    Debug,
    /// INFO.
    Info,
    /// WARNING.
    Warning,
    /// ERROR.
    Error,
    /// CRITICAL.
    Critical,
}

impl FromStr for Level {
    type Err = String;

    fn from_str(text: &str) -> Result<Level, String> {
        match text.to_ascii_uppercase().as_str() {
            "TRACE" => Ok(Level::Trace),
            "DEBUG" => Ok(Level::Debug),
            "INFO" => Ok(Level::Info),
            "WARNING" | "WARN" => Ok(Level::Warning),
            "ERROR" => Ok(Level::Error),
            "CRITICAL" => Ok(Level::Critical),
            _ => Err(format!("unknown log level {text:?}")),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        };
        f.write_str(name)
    }
}

/// One debug-log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Virtual time (seconds since the model was created).
    pub time: u64,
    /// The unit it is about (`None` for model-level messages).
    pub unit: Option<String>,
    /// The hook or action running when it was logged, e.g. `install` or `action pre-upgrade-check`.
    pub context: Option<String>,
    /// Severity.
    pub level: Level,
    /// Juju-style module, e.g. `unit.mysql/0.juju-log`.
    pub module: String,
    /// The text.
    pub message: String,
}

impl LogEntry {
    /// The entry as `juju debug-log` prints it, with the model's virtual time as the time of day.
    pub fn render(&self) -> String {
        self.render_from(0)
    }

    /// The entry as `juju debug-log` prints it, the time of day being `epoch` (the model's
    /// Unix time of virtual second 0) plus the entry's virtual time, in UTC.
    pub fn render_from(&self, epoch: u64) -> String {
        let entity = self.unit.as_deref().map_or("model".to_string(), |u| {
            format!("unit-{}", u.replace('/', "-"))
        });
        format!(
            "{entity}: {} {} {} {}",
            clock_text(epoch + self.time),
            self.level,
            self.module,
            self.message
        )
    }
}

/// Virtual time as `HH:MM:SS` (days wrap, as the real debug-log only shows the time of day).
pub fn clock_text(seconds: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        (seconds / 3600) % 24,
        (seconds / 60) % 60,
        seconds % 60
    )
}

/// A Unix time as the UTC civil date and time `(year, month, day, hour, minute, second)`.
pub fn civil(unix: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Days to civil date (Howard Hinnant's algorithm, proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

/// A Unix time as `juju status` prints a `since`: `03 Dec 2026 06:12:54Z`.
pub fn since_text(unix: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, h, m, s) = civil(unix);
    format!(
        "{day:02} {} {year} {h:02}:{m:02}:{s:02}Z",
        MONTHS[(month - 1) as usize]
    )
}

/// A Unix time as `juju show-task` and `juju run` print one: `2026-12-03 06:12:54 +0000 UTC`.
pub fn timestamp_text(unix: u64) -> String {
    let (year, month, day, h, m, s) = civil(unix);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} +0000 UTC")
}

/// What kind of operation a history record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// A hook process.
    Hook,
    /// An action process.
    Action,
    /// The charm directory was replaced with another revision.
    CharmSwap,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// Exit 0, changes committed.
    Succeeded,
    /// Failed (non-zero exit, signal, injected failure, failed commit); changes discarded.
    Failed {
        /// Why.
        reason: String,
    },
    /// The agent was killed mid-hook (fault injection); writes discarded, hook re-queued.
    Killed,
    /// No handler for the hook: skipped as successful.
    Skipped,
    /// `resolved --no-retry`: the failed hook is marked done without running.
    Resolved,
}

/// One operation a unit ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRecord {
    /// Sequence number within the model (0, 1, ...).
    pub seq: u64,
    /// Virtual time it ran.
    pub time: u64,
    /// The unit.
    pub unit: String,
    /// Hook, action or charm swap.
    pub kind: OpKind,
    /// Hook name, action name, or `charm-swap`.
    pub name: String,
    /// For relation hooks: the relation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation_id: Option<u64>,
    /// For relation hooks: the remote unit (empty string for an app-bag change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_unit: Option<String>,
    /// For actions: the task id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<u64>,
    /// The charm revision in the unit's charm directory when it ran (after, for a swap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(since_text(0), "01 Jan 1970 00:00:00Z");
        // 2025-02-24 23:02:57 UTC, a `since` recorded from Juju 3.6.1 (+13:00 there).
        assert_eq!(since_text(1_740_438_177), "24 Feb 2025 23:02:57Z");
        assert_eq!(
            timestamp_text(1_740_438_177),
            "2025-02-24 23:02:57 +0000 UTC"
        );
        // A leap day.
        assert_eq!(since_text(951_782_400), "29 Feb 2000 00:00:00Z");
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!("warning".parse::<Level>().unwrap(), Level::Warning);
        assert!(Level::Debug < Level::Info);
        assert!("loud".parse::<Level>().is_err());
    }

    #[test]
    fn render_looks_like_debug_log() {
        let entry = LogEntry {
            time: 3725,
            unit: Some("mysql/0".into()),
            context: Some("install".into()),
            level: Level::Info,
            module: "unit.mysql/0.juju-log".into(),
            message: "hello".into(),
        };
        assert_eq!(
            entry.render(),
            "unit-mysql-0: 01:02:05 INFO unit.mysql/0.juju-log hello"
        );
        // A model created at 23:00 UTC: the entry is an hour and some later, the next day.
        assert_eq!(
            entry.render_from(1_740_438_000 - 1_740_438_000 % 86_400 + 23 * 3600),
            "unit-mysql-0: 00:02:05 INFO unit.mysql/0.juju-log hello"
        );
    }
}
