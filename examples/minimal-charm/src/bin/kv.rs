//! `kv`: the store's command line, for an operator on the unit's machine.
//!
//! `kv DIR put KEY VALUE`, `kv DIR get KEY`, `kv DIR status` (installed, serving, format).
//! DIR is the store's directory (`/var/lib/minimal-kv`; under juju-sim,
//! `$JUJU_SIM_MODEL/machines/<machine>/kv`).

use std::process::ExitCode;

use minimal_charm::kv::{KvError, KvStore, Workload};

fn run(args: &[String]) -> Result<String, String> {
    let usage = "usage: kv DIR put KEY VALUE | kv DIR get KEY | kv DIR status";
    let (dir, rest) = args.split_first().ok_or(usage)?;
    let kv = KvStore::new(dir);
    let shown = |err: KvError| err.to_string();
    match rest {
        [cmd, key, value] if cmd == "put" => {
            kv.put(key, value).map(|()| String::new()).map_err(shown)
        }
        [cmd, key] if cmd == "get" => match kv.get(key).map_err(shown)? {
            Some(value) => Ok(value),
            None => Err(format!("no key {key:?}")),
        },
        [cmd] if cmd == "status" => Ok(format!(
            "installed {}, serving {}, data format {}",
            kv.installed().map_err(shown)?,
            kv.serving()
                .map_err(shown)?
                .unwrap_or_else(|| "nothing".into()),
            kv.format().map_err(shown)?
        )),
        _ => Err(usage.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ERROR {err}");
            ExitCode::FAILURE
        }
    }
}
