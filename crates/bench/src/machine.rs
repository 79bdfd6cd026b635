//! The machine a benchmark ran on, for the record next to its figures.

use std::fmt;
use std::process::Command;

/// What the figures depend on: processors, memory, kernel, the code measured, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Processors available to this process (`nproc`).
    pub nproc: usize,
    /// The CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory from `/proc/meminfo`, in KiB.
    pub memory_kib: u64,
    /// `uname -sr`.
    pub kernel: String,
    /// The commit measured, with `-dirty` when the working tree had changes.
    pub commit: String,
    /// When the benchmark ran (UTC, `date -u`).
    pub date: String,
}

impl Machine {
    /// Describes this machine; what cannot be found is reported as `unknown`.
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let dirty = !command_output("git", &["status", "--porcelain"]).is_empty();
        let mut commit = command_output("git", &["rev-parse", "--short=12", "HEAD"]);
        if commit.is_empty() {
            commit = "unknown".to_owned();
        } else if dirty {
            commit.push_str("-dirty");
        }
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            memory_kib: mem_total_kib(&meminfo).unwrap_or(0),
            kernel: or_unknown(command_output("uname", &["-sr"])),
            commit,
            date: or_unknown(command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "date:    {}", self.date)?;
        writeln!(f, "commit:  {}", self.commit)?;
        writeln!(
            f,
            "machine: {} x {}, {:.1} GiB memory, {}",
            self.nproc,
            self.cpu_model,
            self.memory_kib as f64 / (1024.0 * 1024.0),
            self.kernel
        )
    }
}

fn or_unknown(text: String) -> String {
    if text.is_empty() {
        "unknown".to_owned()
    } else {
        text
    }
}

/// A command's trimmed stdout; empty when it cannot run or fails.
fn command_output(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        _ => String::new(),
    }
}

/// The first `model name` in `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_owned())
}

/// `MemTotal` in `/proc/meminfo` text, in KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_and_memory_are_read_from_proc_text() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        let meminfo = "MemTotal:       24567800 kB\nMemFree:        1 kB\n";
        assert_eq!(mem_total_kib(meminfo), Some(24_567_800));
        assert_eq!(mem_total_kib("MemFree: 1 kB\n"), None);
    }
}
