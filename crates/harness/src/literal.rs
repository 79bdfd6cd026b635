//! The operator who follows the application status literally: in a quiet cluster, runs the
//! command the status names first, and stops when the status is active with no message.
//!
//! Checked on the way: a quiet cluster whose status names no command while not done (nothing
//! would ever move), a command the operator cannot run (a refresh to the revision the
//! application runs, which Juju refuses; a command this model has no step for), and a
//! command that changes nothing.

use juju_upgrade::StatusKind;

use crate::cluster::Cluster;
use crate::fixtures::{ORIGINAL_REVISION, UPGRADE_REVISION};
use crate::scenario::{Operator, OperatorStep};

/// The command a status message names first, if any: the first text in backticks that is a
/// step, not a command for reading.
pub fn next_command(message: &str) -> Option<&str> {
    // Every other backtick opens a command; reading ones (`juju debug-log`, `juju status`)
    // change nothing and are skipped.
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|command| !READING.contains(command))
}

/// Commands a status names for reading, not as a step.
const READING: [&str; 2] = ["juju debug-log", "juju status"];

/// What the operator reading `cluster`'s application status does next, and what is wrong
/// with the status, if anything. The operator's patience is the script's: once it entered
/// recovery `max_recoveries` times, it stops (a paused ending, checked as such).
pub fn next_step(operator: &Operator, cluster: &Cluster) -> (OperatorStep, Option<String>) {
    let Some(status) = cluster.app_status.as_ref() else {
        return (
            OperatorStep::Finish,
            Some("the application has no status after the upgrade began".to_owned()),
        );
    };
    if status.kind == StatusKind::Active && status.message.is_empty() {
        return (OperatorStep::Finish, None);
    }
    if matches!(status.kind, StatusKind::Maintenance | StatusKind::Waiting) {
        // A status that says work goes on, in a cluster where nothing runs: a wedge.
        return (
            OperatorStep::Finish,
            Some(format!(
                "nothing runs any more, but the application status {status} says work goes on"
            )),
        );
    }
    let Some(command) = next_command(&status.message) else {
        return (
            OperatorStep::Finish,
            Some(format!(
                "nothing runs any more, but the application status {status} names no command"
            )),
        );
    };
    let app = &cluster.app;
    let words: Vec<&str> = command.split_whitespace().collect();
    let leader_check = format!("{app}/leader");
    let step = match words.as_slice() {
        ["juju", "run", target, "pre-upgrade-check"] if *target == leader_check => {
            if operator.recoveries >= operator.script.max_recoveries {
                return (OperatorStep::Finish, None);
            }
            if cluster.failed_units().is_empty() {
                OperatorStep::PrepareRefreshed
            } else {
                OperatorStep::Recover
            }
        }
        ["juju", "run", target, "resume-upgrade"] => {
            match target
                .strip_prefix(&format!("{app}/"))
                .and_then(|n| n.parse().ok())
            {
                Some(unit) => OperatorStep::Resume(unit),
                None => return unrunnable(command, status),
            }
        }
        ["juju", "refresh", target, source @ ..] if *target == app.as_str() => {
            let source = source.join(" ");
            let again_from_file = format!("--path=<charm file of revision {ORIGINAL_REVISION}>");
            let revision = match source.as_str() {
                "--revision=<new revision>" => UPGRADE_REVISION,
                // The original charm again, from its file: Juju makes it a new local revision
                // with the same content, which the harness runs as the same revision.
                other if other == again_from_file => return (OperatorStep::RollBack, None),
                other => match other
                    .strip_prefix("--revision=")
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    Some(revision) => revision,
                    None => return unrunnable(command, status),
                },
            };
            if revision == cluster.app_revision {
                return (
                    OperatorStep::Finish,
                    Some(format!(
                        "the application status {status} names `{command}`, which Juju refuses: the application already runs revision {revision}"
                    )),
                );
            }
            match revision {
                ORIGINAL_REVISION => OperatorStep::RollBack,
                UPGRADE_REVISION => OperatorStep::Refresh,
                _ => return unrunnable(command, status),
            }
        }
        _ => return unrunnable(command, status),
    };
    (step, None)
}

fn unrunnable(command: &str, status: &juju_upgrade::Status) -> (OperatorStep, Option<String>) {
    (
        OperatorStep::Finish,
        Some(format!(
            "the application status {status} names `{command}`, which the operator cannot run here"
        )),
    )
}
