//! `bench-launch REPORT PROGRAM [ARGS...]`: runs PROGRAM (same environment, directory and
//! stdio), waits for it with `wait4`, and writes to REPORT one line:
//! `<wall ns> <cpu ns> <ru_maxrss KiB> <exit code>`.
//!
//! Why a launcher: on Linux a child's `ru_maxrss` starts from the resident set of the
//! process it was forked from (the old image's peak is kept across `exec`), so a hook
//! started straight from the benchmark would report the benchmark's memory. Started from this
//! small process instead, it reports its own and its hook tools'. The wall time is taken
//! here too, so the launcher's own start is not counted.

use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [report, program, rest @ ..] = args.as_slice() else {
        eprintln!("usage: bench-launch REPORT PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    match launch(program, rest) {
        Ok(line) => match std::fs::write(report, line) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bench-launch: cannot write {report}: {err}");
                ExitCode::from(3)
            }
        },
        Err(err) => {
            eprintln!("bench-launch: {program}: {err}");
            ExitCode::from(3)
        }
    }
}

fn launch(program: &str, args: &[String]) -> std::io::Result<String> {
    let start = Instant::now();
    let child = Command::new(program).args(args).spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals of the right types.
        let result = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if result == pid {
            let wall = start.elapsed();
            let micros =
                |t: libc::timeval| i128::from(t.tv_sec) * 1_000_000 + i128::from(t.tv_usec);
            let cpu_ns = (micros(usage.ru_utime) + micros(usage.ru_stime)) * 1000;
            let exit = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            return Ok(format!(
                "{} {cpu_ns} {} {exit}\n",
                wall.as_nanos(),
                usage.ru_maxrss
            ));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
