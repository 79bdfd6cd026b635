//! Running one process and measuring it: wall time, CPU time and peak memory from `wait4`,
//! and the peak memory of the process alone (its hook tools left out) from `/proc` at the
//! moment it exits, stopped there with `ptrace`.
//!
//! `wait4`'s `ru_maxrss` is the largest resident set of the process *and* of the children it
//! waited for: for a hook, the largest of the charm and its hook-tool calls. The charm's own
//! peak needs the process itself: [`run_traced`] starts it under `PTRACE_TRACEME`, asks for a
//! stop at exit (`PTRACE_O_TRACEEXIT`) and reads `VmHWM` from `/proc/<pid>/status` there.
//! Its hook tools are not traced. Traced runs pay for a stop per signal the charm receives
//! (one `SIGCHLD` per tool call), so they are never the timed ones.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// A process to run: the program, its directory and its whole environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spawn {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// Its environment; nothing else is inherited.
    pub env: BTreeMap<String, String>,
    /// Where its stderr goes (stdout is discarded).
    pub stderr: PathBuf,
}

/// What one run cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Spawn to reaped.
    pub wall: Duration,
    /// User plus system CPU time of the process and the children it waited for.
    pub cpu: Duration,
    /// `ru_maxrss` from `wait4`: the largest resident set of the process and of the children
    /// it waited for, in KiB.
    pub tree_max_rss_kib: u64,
    /// The exit code (128 + signal when killed).
    pub exit_code: i32,
}

impl Spawn {
    fn command(&self) -> Result<Command, BenchError> {
        let stderr = File::create(&self.stderr).map_err(BenchError::io(&self.stderr))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        Ok(command)
    }

    fn spawn_error(&self) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
        move |source| BenchError::Process {
            program: self.program.clone(),
            source,
        }
    }

    /// The last lines of what the process wrote to stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

/// Runs `spawn` to completion through the launcher binary `launcher` (`bench-launch`),
/// which starts it, waits for it with `wait4` and reports its wall time and usage.
///
/// The launcher stands between this process and the measured one because a child's
/// `ru_maxrss` starts from the resident set of the process it was forked from: started
/// from here, every process would report at least this benchmark's memory.
pub fn run(spawn: &Spawn, launcher: &Path) -> Result<Usage, BenchError> {
    let report = spawn.stderr.with_extension("usage");
    let mut launched = spawn.clone();
    launched.program = launcher.to_path_buf();
    launched.args = [
        report.display().to_string(),
        spawn.program.display().to_string(),
    ]
    .into_iter()
    .chain(spawn.args.iter().cloned())
    .collect();
    let status = launched
        .command()?
        .status()
        .map_err(launched.spawn_error())?;
    if !status.success() {
        return Err(BenchError::Flow(format!(
            "{} could not run {}: {}",
            launcher.display(),
            spawn.program.display(),
            spawn.stderr_tail()
        )));
    }
    let text = std::fs::read_to_string(&report).map_err(BenchError::io(&report))?;
    parse_report(&text).ok_or_else(|| {
        BenchError::Flow(format!(
            "unreadable report from {}: {text:?}",
            launcher.display()
        ))
    })
}

/// Reads the launcher's line: `<wall ns> <cpu ns> <ru_maxrss KiB> <exit code>`.
pub fn parse_report(text: &str) -> Option<Usage> {
    let mut fields = text.split_whitespace();
    let mut next = || fields.next();
    let wall: u64 = next()?.parse().ok()?;
    let cpu: u64 = next()?.parse().ok()?;
    let tree_max_rss_kib = next()?.parse().ok()?;
    let exit_code = next()?.parse().ok()?;
    Some(Usage {
        wall: Duration::from_nanos(wall),
        cpu: Duration::from_nanos(cpu),
        tree_max_rss_kib,
        exit_code,
    })
}

/// What a traced run tells about the process's own memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced {
    /// Peak resident set (`VmHWM` when it exits: the image it finally exec'd, its hook
    /// tools left out), in KiB.
    pub peak_kib: u64,
    /// Resident memory when it exits, by mapping (a file's name, `[heap]`, `[stack]`,
    /// `[anon]` for anonymous mappings), in KiB.
    pub rss_by_mapping: BTreeMap<String, u64>,
    /// The run as `wait4` saw it (its memory is the tracer's fork; see [`run`]).
    pub usage: Usage,
}

/// Runs `spawn` to completion under `ptrace` and reads its own memory when it exits.
pub fn run_traced(spawn: &Spawn) -> Result<Traced, BenchError> {
    let mut command = spawn.command()?;
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe ptrace call.
    unsafe {
        command.pre_exec(|| {
            let null = std::ptr::null_mut::<libc::c_void>();
            if libc::ptrace(libc::PTRACE_TRACEME, 0, null, null) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = command.spawn().map_err(spawn.spawn_error())?;
    let pid = pid_of(child.id(), &spawn.program)?;
    let mut at_exit = None;
    let mut options_set = false;
    loop {
        let (status, usage) = wait(child.id(), &spawn.program)?;
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            let wall = start.elapsed();
            let (peak_kib, rss_by_mapping) = at_exit.ok_or_else(|| {
                BenchError::Flow(format!(
                    "{} exited before its exit stop",
                    spawn.program.display()
                ))
            })?;
            return Ok(Traced {
                peak_kib,
                rss_by_mapping,
                usage: to_usage(wall, status, &usage),
            });
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let signal = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        let mut deliver = 0;
        if signal == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
            at_exit = Some((vm_hwm_kib(pid)?, rss_by_mapping(pid)?));
        } else if signal == libc::SIGTRAP && event == 0 && !options_set {
            // The stop after the first exec: ask for exit and exec stops from now on.
            let options =
                libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_TRACEEXEC | libc::PTRACE_O_EXITKILL;
            ptrace_call(
                libc::PTRACE_SETOPTIONS,
                pid,
                options as usize,
                &spawn.program,
            )?;
            options_set = true;
        } else if signal != libc::SIGTRAP {
            deliver = signal;
        }
        ptrace_call(libc::PTRACE_CONT, pid, deliver as usize, &spawn.program)?;
    }
}

fn pid_of(id: u32, program: &Path) -> Result<libc::pid_t, BenchError> {
    libc::pid_t::try_from(id)
        .map_err(|_| BenchError::Flow(format!("{}: pid {id} out of range", program.display())))
}

fn ptrace_call(
    request: libc::c_uint,
    pid: libc::pid_t,
    data: usize,
    program: &Path,
) -> Result<(), BenchError> {
    // SAFETY: `pid` is our stopped tracee; the requests used here take no pointers (the
    // options or the signal travel in `data`).
    let result = unsafe {
        libc::ptrace(
            request,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    };
    if result == -1 {
        return Err(BenchError::Process {
            program: program.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Waits for `id` (any state change), retrying on `EINTR`.
fn wait(id: u32, program: &Path) -> Result<(libc::c_int, libc::rusage), BenchError> {
    let pid = pid_of(id, program)?;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals of the right types.
        let result = unsafe { libc::wait4(pid, &mut status, libc::__WALL, &mut usage) };
        if result == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(BenchError::Process {
                program: program.to_path_buf(),
                source: error,
            });
        }
    }
}

fn to_usage(wall: Duration, status: libc::c_int, usage: &libc::rusage) -> Usage {
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Usage {
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        tree_max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        exit_code,
    }
}

/// `VmHWM` of a live process, in KiB.
fn vm_hwm_kib(pid: libc::pid_t) -> Result<u64, BenchError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let text = std::fs::read_to_string(&path).map_err(BenchError::io(&path))?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| BenchError::Flow(format!("no VmHWM in {}", path.display())))
}

/// Resident memory of a live process by mapping, from `/proc/<pid>/smaps`, in KiB.
fn rss_by_mapping(pid: libc::pid_t) -> Result<BTreeMap<String, u64>, BenchError> {
    let path = PathBuf::from(format!("/proc/{pid}/smaps"));
    let text = std::fs::read_to_string(&path).map_err(BenchError::io(&path))?;
    Ok(sum_smaps(&text))
}

/// Sums the `Rss:` of each mapping of smaps text by what is mapped.
pub fn sum_smaps(text: &str) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    let mut current = String::from("[anon]");
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else {
            continue;
        };
        if first == "Rss:" {
            let kib: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            *sums.entry(current.clone()).or_insert(0) += kib;
        } else if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping header: address range, perms, offset, dev, inode, [path].
            let name = words.nth(4).unwrap_or("[anon]");
            current = Path::new(name)
                .file_name()
                .filter(|_| name.starts_with('/'))
                .map_or(name.to_owned(), |file| file.to_string_lossy().into_owned());
        }
    }
    sums.retain(|_, kib| *kib > 0);
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, dir: &Path) -> Spawn {
        Spawn {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            cwd: dir.to_path_buf(),
            env: BTreeMap::from([("PATH".to_owned(), "/usr/bin:/bin".to_owned())]),
            stderr: dir.join("stderr"),
        }
    }

    #[test]
    fn the_launchers_report_is_read_whole_or_not_at_all() {
        let usage = parse_report("1500000 250000 3072 3\n").expect("a report");
        assert_eq!(
            usage,
            Usage {
                wall: Duration::from_micros(1500),
                cpu: Duration::from_micros(250),
                tree_max_rss_kib: 3072,
                exit_code: 3,
            }
        );
        assert_eq!(parse_report("1500000 250000 3072"), None);
        assert_eq!(parse_report("x 1 2 3"), None);
    }

    #[test]
    fn smaps_are_summed_by_mapped_file() {
        let smaps = "\
55d0a0000000-55d0a0100000 r-xp 00000000 fd:01 123 /usr/bin/charm
Rss:                 800 kB
Pss:                 800 kB
55d0a0100000-55d0a0200000 r--p 00100000 fd:01 123 /usr/bin/charm
Rss:                 100 kB
55d0a1000000-55d0a1100000 rw-p 00000000 00:00 0 [heap]
Rss:                 300 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Rss:                  40 kB
7f0000100000-7f0000200000 r--p 00000000 00:00 0
Rss:                   0 kB
";
        let sums = sum_smaps(smaps);
        assert_eq!(
            sums,
            BTreeMap::from([
                ("charm".to_owned(), 900),
                ("[heap]".to_owned(), 300),
                ("[anon]".to_owned(), 40),
            ])
        );
    }

    #[test]
    fn stderr_is_kept_for_error_messages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spawn = shell("echo oops >&2; exit 3", dir.path());
        let traced = run_traced(&spawn).expect("ran");
        assert_eq!(traced.usage.exit_code, 3);
        assert_eq!(spawn.stderr_tail(), "oops");
    }

    #[test]
    fn a_child_that_grows_counts_for_the_tree_but_not_for_the_process_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The child holds a 64 MiB string; the shell itself stays small.
        let script =
            "awk 'BEGIN { s = sprintf(\"%67108864s\", \"\"); print length(s) }' >/dev/null";
        let traced = run_traced(&shell(script, dir.path())).expect("traced run");
        let (own, usage) = (traced.peak_kib, traced.usage);
        assert!(traced.rss_by_mapping.values().sum::<u64>() <= own);
        assert_eq!(usage.exit_code, 0);
        assert!(usage.tree_max_rss_kib > 60 * 1024, "{usage:?}");
        assert!(own < 16 * 1024, "the shell's own peak: {own} KiB");
    }
}
