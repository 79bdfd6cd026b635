use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use log::Level;

use super::*;
use crate::tools::{MockHookTools, ToolError};

/// A fallback writer whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<StdMutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn emit(logger: &dyn Log, level: Level, message: &str) {
    logger.log(
        &Record::builder()
            .level(level)
            .target("mysql_charm")
            .args(format_args!("{message}"))
            .build(),
    );
}

#[test]
fn records_reach_juju_log_at_their_level() {
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let mut tools = MockHookTools::new();
    let sink = seen.clone();
    tools
        .expect_juju_log()
        .times(5)
        .returning(move |level, message| {
            sink.lock().unwrap().push((level, message.to_owned()));
            Ok(())
        });
    let fallback = Captured::default();
    let logger = JujuLogger::with_fallback(tools, LevelFilter::Trace, Box::new(fallback.clone()));
    for level in [
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ] {
        emit(
            &logger,
            level,
            &format!("{level} message -- with = and \"quotes\""),
        );
    }
    let seen = seen.lock().unwrap();
    let levels: Vec<Level> = seen.iter().map(|(level, _)| *level).collect();
    assert_eq!(
        levels,
        [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace
        ]
    );
    assert_eq!(seen[1].1, "WARN message -- with = and \"quotes\"");
    assert_eq!(
        fallback.text(),
        "",
        "nothing falls back when juju-log works"
    );
}

#[test]
fn records_below_the_filter_are_dropped() {
    let mut tools = MockHookTools::new();
    tools
        .expect_juju_log()
        .withf(|level, message| *level == Level::Warn && message == "kept")
        .times(1)
        .returning(|_, _| Ok(()));
    let logger = JujuLogger::new(tools, LevelFilter::Warn);
    assert_eq!(logger.level(), LevelFilter::Warn);
    assert!(!logger.enabled(&Metadata::builder().level(Level::Info).build()));
    assert!(logger.enabled(&Metadata::builder().level(Level::Error).build()));
    emit(&logger, Level::Info, "dropped");
    emit(&logger, Level::Debug, "dropped");
    emit(&logger, Level::Warn, "kept");
}

#[test]
fn a_failing_juju_log_falls_back_to_the_writer() {
    let mut tools = MockHookTools::new();
    tools.expect_juju_log().times(2).returning(|_, _| {
        Err(ToolError::Failed {
            tool: "juju-log".to_owned(),
            args: vec![],
            code: Some(1),
            stderr: "ERROR JUJU_CONTEXT_ID not set".to_owned(),
        })
    });
    let fallback = Captured::default();
    let logger = JujuLogger::with_fallback(tools, LevelFilter::Info, Box::new(fallback.clone()));
    emit(&logger, Level::Error, "first");
    emit(&logger, Level::Info, "second");
    let text = fallback.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("ERROR first (juju-log failed: "),
        "{text}"
    );
    assert!(lines[0].contains("JUJU_CONTEXT_ID not set"), "{text}");
    assert!(lines[1].starts_with("INFO second"), "{text}");
}

#[test]
fn logging_from_inside_juju_log_does_not_recurse() {
    // The only test that installs the global logger: its tools log through
    // `log` themselves, which must end in the fallback, not in juju-log again.
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tools = MockHookTools::new();
    let counter = calls.clone();
    tools.expect_juju_log().returning(move |_, message| {
        counter.fetch_add(1, Ordering::SeqCst);
        log::error!("inner record while sending {message:?}");
        Ok(())
    });
    let fallback = Captured::default();
    let logger = JujuLogger::with_fallback(tools, LevelFilter::Debug, Box::new(fallback.clone()));
    log::set_boxed_logger(Box::new(logger)).expect("no other test sets the global logger");
    log::set_max_level(LevelFilter::Debug);

    log::info!("outer record");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        fallback.text(),
        "ERROR inner record while sending \"outer record\"\n"
    );
    // The guard is released afterwards: the next record goes to juju-log again.
    log::warn!("next record");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A second global logger cannot be installed.
    assert!(init(LevelFilter::Info).is_err());
}
