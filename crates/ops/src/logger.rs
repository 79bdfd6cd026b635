//! A `log` backend that writes through `juju-log`, so a charm's `log::info!`
//! lines land in the unit's log (`juju debug-log`) at the matching level.
//!
//! If `juju-log` fails (outside a hook, or the agent is gone) the record goes
//! to stderr instead, which Juju also keeps, so nothing is lost and nothing
//! recurses: [`ProcessHookTools`] never logs through `log`, and a record
//! emitted while this logger is already writing one on the same thread goes
//! straight to the fallback.

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};

use crate::tools::{HookTools, ProcessHookTools};

thread_local! {
    /// Set while this thread is inside [`JujuLogger::log`].
    static LOGGING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside [`JujuLogger::log`] until dropped, even if
/// the tools panic.
struct ReentryGuard;

impl ReentryGuard {
    /// `None` if this thread is already logging.
    fn enter() -> Option<Self> {
        let already = LOGGING.with(|flag| flag.replace(true));
        (!already).then_some(Self)
    }
}

impl Drop for ReentryGuard {
    fn drop(&mut self) {
        LOGGING.with(|flag| flag.set(false));
    }
}

/// Forwards `log` records to `juju-log`, falling back to a writer (stderr by
/// default) when the tool fails.
pub struct JujuLogger<T> {
    tools: T,
    level: LevelFilter,
    fallback: Mutex<Box<dyn Write + Send>>,
}

impl<T: HookTools> JujuLogger<T> {
    /// A logger that sends records at or above `level` through `tools`.
    pub fn new(tools: T, level: LevelFilter) -> Self {
        Self::with_fallback(tools, level, Box::new(io::stderr()))
    }

    /// Like [`JujuLogger::new`], with `fallback` instead of stderr for records
    /// `juju-log` could not take.
    pub fn with_fallback(tools: T, level: LevelFilter, fallback: Box<dyn Write + Send>) -> Self {
        Self {
            tools,
            level,
            fallback: Mutex::new(fallback),
        }
    }

    /// The most verbose level this logger forwards.
    pub fn level(&self) -> LevelFilter {
        self.level
    }

    fn write_fallback(
        &self,
        level: log::Level,
        message: &str,
        why: Option<&dyn std::fmt::Display>,
    ) {
        // A poisoned lock only means another thread panicked mid-write; the
        // writer itself is still usable.
        let mut out = self
            .fallback
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let line = match why {
            Some(why) => format!("{level} {message} (juju-log failed: {why})\n"),
            None => format!("{level} {message}\n"),
        };
        // Nowhere left to report a failing stderr.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

impl<T: HookTools + Send + Sync> Log for JujuLogger<T> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        let Some(_guard) = ReentryGuard::enter() else {
            // A record raised while sending another one (e.g. by a HookTools
            // implementation that logs): never call juju-log again from here.
            self.write_fallback(record.level(), &message, None);
            return;
        };
        if let Err(error) = self.tools.juju_log(record.level(), &message) {
            self.write_fallback(record.level(), &message, Some(&error));
        }
    }

    fn flush(&self) {
        let mut out = self
            .fallback
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = out.flush();
    }
}

/// Installs a [`JujuLogger`] over the real `juju-log` as the global logger.
///
/// Fails only if a global logger was already set.
pub fn init(level: LevelFilter) -> Result<(), log::SetLoggerError> {
    init_with(ProcessHookTools::new(), level)
}

/// Installs a [`JujuLogger`] over `tools` as the global logger.
pub fn init_with<T>(tools: T, level: LevelFilter) -> Result<(), log::SetLoggerError>
where
    T: HookTools + Send + Sync + 'static,
{
    log::set_boxed_logger(Box::new(JujuLogger::new(tools, level)))?;
    log::set_max_level(level);
    Ok(())
}

#[cfg(test)]
mod tests;
