//! SQL through the `mariadb` command-line client: statements travel on standard input
//! (passwords in them never reach a command line), credentials in an options file.

use std::path::{Path, PathBuf};

use mysql_charm::workload::{CommandFailure, CommandRunner, CommandSpec, ProcessRunner};

/// The rows of one result set, as the client's batch mode prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows; `NULL` stays the text `NULL`.
    pub rows: Vec<Vec<String>>,
}

impl QueryResult {
    /// The value of `column` in the first row, if there is such a row and column.
    pub fn first(&self, column: &str) -> Option<&str> {
        let index = self.columns.iter().position(|c| c == column)?;
        self.rows.first()?.get(index).map(String::as_str)
    }

    /// Parses batch output: a tab-separated header line, then one line per row, with
    /// `\t`, `\n` and `\\` escaped inside values.
    fn parse(stdout: &str) -> Self {
        let mut lines = stdout.lines().filter(|l| !l.is_empty());
        let Some(header) = lines.next() else {
            return Self::default();
        };
        Self {
            columns: header.split('\t').map(unescape).collect(),
            rows: lines
                .map(|line| line.split('\t').map(unescape).collect())
                .collect(),
        }
    }
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A client bound to one server and user (an options file written by the workload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlClient {
    binary: PathBuf,
    options_file: PathBuf,
}

impl SqlClient {
    /// A client running `binary` (the `mariadb` program) with `options_file` as its only
    /// defaults file.
    pub fn new(binary: impl Into<PathBuf>, options_file: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            options_file: options_file.into(),
        }
    }

    /// The options file this client logs in with.
    pub fn options_file(&self) -> &Path {
        &self.options_file
    }

    fn spec(&self, sql: &str) -> CommandSpec {
        CommandSpec::new(
            self.binary.display().to_string(),
            [
                format!("--defaults-file={}", self.options_file.display()),
                "--batch".to_owned(),
            ],
        )
        .with_stdin(sql)
    }

    /// Runs `sql` (one or more statements) and returns the last result set printed;
    /// `Err` with the client's exit code and stderr when it fails (including when the
    /// server does not answer).
    pub fn query(&self, sql: &str) -> Result<QueryResult, CommandFailure> {
        let spec = self.spec(sql);
        let output = ProcessRunner.run(&spec).map_err(|e| CommandFailure {
            command: spec.command_line(),
            exit_code: None,
            stderr: format!("could not run the client: {e}"),
        })?;
        if output.succeeded() {
            // Callers send at most one statement whose rows they read, and send it last.
            Ok(QueryResult::parse(&output.stdout))
        } else {
            Err(CommandFailure {
                command: spec.command_line(),
                exit_code: output.exit_code,
                stderr: output.stderr.trim().to_owned(),
            })
        }
    }

    /// Runs statements whose output does not matter.
    pub fn execute(&self, sql: &str) -> Result<(), CommandFailure> {
        self.query(sql).map(|_| ())
    }
}

/// Quotes a text value for SQL (single quotes, backslashes escaped).
pub(crate) fn sql_text(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_parses_with_escapes_and_nulls() {
        let parsed = QueryResult::parse(
            "Slave_IO_Running\tLast_IO_Error\tSeconds_Behind_Master\n\
             Connecting\terror reconnecting\\tto master\\n\tNULL\n",
        );
        assert_eq!(parsed.first("Slave_IO_Running"), Some("Connecting"));
        assert_eq!(
            parsed.first("Last_IO_Error"),
            Some("error reconnecting\tto master\n")
        );
        assert_eq!(parsed.first("Seconds_Behind_Master"), Some("NULL"));
        assert_eq!(parsed.first("Nope"), None);
        assert_eq!(QueryResult::parse(""), QueryResult::default());
        assert_eq!(QueryResult::parse("a\n").first("a"), None);
    }

    #[test]
    fn text_values_are_quoted_for_sql() {
        assert_eq!(sql_text("0-1-5,1-2-3"), "'0-1-5,1-2-3'");
        assert_eq!(sql_text("it's \\"), "'it\\'s \\\\'");
    }
}
