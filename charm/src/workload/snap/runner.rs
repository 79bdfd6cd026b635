//! Running external commands, behind a trait so [`super::SnapWorkload`] is tested with a
//! mock that checks every command line and feeds back recorded output.

use std::fmt;
use std::io::Write;
use std::process::{Command, Stdio};

/// A command to run: program, arguments, and optional standard input (where secrets and
/// MySQL Shell scripts travel, never on the command line).
#[derive(Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program, looked up on `PATH`.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Text written to its standard input, if any.
    pub stdin: Option<String>,
}

impl CommandSpec {
    /// A command without standard input.
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    /// The same command, fed `stdin`.
    pub fn with_stdin(mut self, stdin: impl Into<String>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// The command line as a person would type it (standard input not included).
    pub fn command_line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|word| {
                if word.is_empty() || word.contains(char::is_whitespace) {
                    format!("'{word}'")
                } else {
                    word.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Debug for CommandSpec {
    // Standard input may hold passwords: show only its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field(
                "stdin",
                &self.stdin.as_ref().map(|s| format!("<{} bytes>", s.len())),
            )
            .finish()
    }
}

/// How a command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit code; `None` when killed by a signal.
    pub exit_code: Option<i32>,
    /// Everything written to standard output.
    pub stdout: String,
    /// Everything written to standard error.
    pub stderr: String,
}

impl CommandOutput {
    /// Exit code 0 with the given standard output.
    pub fn success(stdout: impl Into<String>) -> Self {
        Self {
            exit_code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// A failure with the given exit code and standard error.
    pub fn failure(exit_code: i32, stderr: impl Into<String>) -> Self {
        Self {
            exit_code: Some(exit_code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// Whether the command exited with 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Runs commands to completion.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait CommandRunner {
    /// Runs `command` and returns how it ended; `Err` only when it could not be started.
    fn run(&self, command: &CommandSpec) -> std::io::Result<CommandOutput>;
}

/// Runs commands as child processes of the hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessRunner;

impl CommandRunner for ProcessRunner {
    fn run(&self, command: &CommandSpec) -> std::io::Result<CommandOutput> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .stdin(if command.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Feed stdin from another thread so a child that writes a lot before reading
        // cannot deadlock against us.
        let feeder = match (child.stdin.take(), command.stdin.clone()) {
            (Some(mut pipe), Some(text)) => Some(std::thread::spawn(move || {
                // A child that exits without reading its input is not our error; its exit
                // status tells the story.
                let _ = pipe.write_all(text.as_bytes());
            })),
            _ => None,
        };
        let output = child.wait_with_output()?;
        if let Some(feeder) = feeder {
            let _ = feeder.join();
        }
        Ok(CommandOutput {
            exit_code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}
