//! Reading mysqld's error log: did the last start refuse a downgrade?

/// What mysqld logs at every start (MY-010116); only what follows the last one is about
/// the current start, so an old refusal does not count after a successful reset.
pub const START_MARKER: &str = "starting as process";

/// MySQL's "Cannot boot server version X on data directory built by version Y.
/// Downgrade is not supported".
pub const DOWNGRADE_REFUSED_CODE: &str = "MY-013171";

/// Whether the log lines after the last start marker (all lines, if none) show MY-013171.
pub fn downgrade_refused_since_last_start<S: AsRef<str>>(lines: &[S]) -> bool {
    let last_start = lines
        .iter()
        .rposition(|line| line.as_ref().contains(START_MARKER))
        .unwrap_or(0);
    lines[last_start..]
        .iter()
        .any(|line| line.as_ref().contains(DOWNGRADE_REFUSED_CODE))
}
