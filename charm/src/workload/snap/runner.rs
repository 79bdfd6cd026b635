//! Running external commands, behind a trait so [`super::SnapWorkload`] is tested against
//! fakes of `snap` and MySQL Shell. Every command carries a timeout: a hung `mysqlsh` or
//! `snap` must fail the step with a clear error, never hang the hook.

use std::fmt;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The timeout of a command built without one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// How long it may run before it is killed.
    pub timeout: Duration,
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
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same command, killed after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
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
            .field("timeout", &self.timeout)
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
    /// Whether it was killed for running past its timeout.
    pub timed_out: bool,
}

impl CommandOutput {
    /// Exit code 0 with the given standard output.
    pub fn success(stdout: impl Into<String>) -> Self {
        Self {
            exit_code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
            timed_out: false,
        }
    }

    /// A failure with the given exit code and standard error.
    pub fn failure(exit_code: i32, stderr: impl Into<String>) -> Self {
        Self {
            exit_code: Some(exit_code),
            stdout: String::new(),
            stderr: stderr.into(),
            timed_out: false,
        }
    }

    /// Whether the command exited with 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Runs commands to completion.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait CommandRunner {
    /// Runs `command` and returns how it ended; `Err` only when it could not be started.
    fn run(&self, command: &CommandSpec) -> std::io::Result<CommandOutput>;
}

/// Runs commands as child processes of the hook, each killed at its timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessRunner;

/// How often a running child is checked against its deadline.
const POLL: Duration = Duration::from_millis(20);

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error only truncates what we show; the exit status tells the story.
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

fn wait_or_kill(child: &mut Child, timeout: Duration) -> std::io::Result<(Option<i32>, bool)> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status.code(), false));
        }
        if Instant::now() >= deadline {
            // Already exited between the two checks is fine: wait reaps it.
            let _ = child.kill();
            let status = child.wait()?;
            return Ok((status.code(), true));
        }
        std::thread::sleep(POLL);
    }
}

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
        // Feed stdin and drain the outputs on other threads, so a child that writes a lot
        // before reading cannot deadlock against us and the deadline is kept.
        if let (Some(mut pipe), Some(text)) = (child.stdin.take(), command.stdin.clone()) {
            std::thread::spawn(move || {
                // A child that exits without reading its input is not our error.
                let _ = pipe.write_all(text.as_bytes());
            });
        }
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let (exit_code, timed_out) = wait_or_kill(&mut child, command.timeout)?;
        // A grandchild holding the pipes open would block the drains: only join them when
        // the child ended by itself.
        let text = |handle: Option<std::thread::JoinHandle<Vec<u8>>>| {
            handle
                .filter(|_| !timed_out)
                .and_then(|h| h.join().ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        };
        let stdout = text(stdout);
        let mut stderr = text(stderr);
        if timed_out {
            stderr = format!(
                "killed after {} s (its timeout)",
                command.timeout.as_secs_f32()
            );
        }
        Ok(CommandOutput {
            exit_code,
            stdout,
            stderr,
            timed_out,
        })
    }
}
