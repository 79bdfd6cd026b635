//! juju-sim's hook tools as one binary: the engine links `relation-get`, `status-set`, ... to
//! it and the name it was started as picks the tool.
//!
//! When `UPGRADE_BENCH_TOOL_LOG` names a file, each call first appends one line to it (the
//! tool's name and arguments), so the benchmark can say which tools a hook called. Timed runs
//! leave the variable unset and pay for one environment lookup only.

use std::io::Write;

fn main() {
    if let Some(path) = std::env::var_os(upgrade_bench::TOOL_LOG_VAR) {
        let line = std::env::args()
            .map(|arg| arg.rsplit('/').next().unwrap_or_default().to_owned())
            .take(1)
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" ");
        let logged = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
        if let Err(err) = logged {
            eprintln!("WARNING cannot append to the tool log: {err}");
        }
    }
    juju_sim::hook_tool_binary_main("bench-hook-tools")
}
