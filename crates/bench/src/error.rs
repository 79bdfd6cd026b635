//! What can go wrong while setting up, running or measuring a benchmark.

use std::path::PathBuf;

/// A benchmark could not be run or measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A process could not be started or waited for.
    #[error("running {program}: {source}")]
    Process {
        /// The program.
        program: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A JSON document (a hook context, an emulated server) could not be read or written.
    #[error("{what}: {source}")]
    Json {
        /// What was being read or written.
        what: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The emulator refused an operation.
    #[error(transparent)]
    Engine(#[from] juju_sim::engine::EngineError),
    /// A charm could not be packed.
    #[error(transparent)]
    Pack(#[from] xtask::pack::PackError),
    /// The emulated MySQL workload could not be set up.
    #[error(transparent)]
    Workload(#[from] mysql_charm::workload::WorkloadError),
    /// The model did not get where the benchmark needs it (a hook failed, a state is missing).
    #[error("{0}")]
    Flow(String),
}

impl BenchError {
    /// An [`BenchError::Io`] for `path`, as a closure for `map_err`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BenchError {
        let path = path.into();
        move |source| BenchError::Io { path, source }
    }

    /// A [`BenchError::Json`] about `what`, as a closure for `map_err`.
    pub fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Json { what, source }
    }
}
