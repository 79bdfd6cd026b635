//! Juju secrets through the hook tools `secret-add`, `secret-get`, `secret-set`,
//! `secret-ids`, `secret-info-get` and `secret-remove` (Juju 3.x): argument building and
//! output parsing, kept apart so they are tested without Juju.
//!
//! Secret content never goes on a command line: each value is written to a private file
//! passed as `key#file=<path>` (as the Python `ops` library does), so it is not visible
//! in the process list.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{invalid, parse_json, ToolError};

/// Which secret a tool acts on: by its URI or by the label its owner gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `secret:<id>` (or the bare id).
    Id(String),
    /// The owner's label (`--label`).
    Label(String),
}

/// Who owns a secret the charm adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOwner {
    /// The application (only the leader may add or change it).
    Application,
    /// This unit.
    Unit,
}

/// What `secret-info-get` says about a secret this charm owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// The secret's id (`secret-info-get`'s key).
    pub id: String,
    /// Its label, if any.
    pub label: Option<String>,
    /// Its latest revision.
    pub revision: u64,
    /// `application` or `unit`.
    pub owner: String,
}

/// Juju's rule for content keys: lower-case letters, digits and single dashes,
/// starting with a letter, at least 3 characters.
pub fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() >= 3
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !key.ends_with('-')
        && !key.contains("--")
}

/// Checks the content Juju would refuse: no keys, or a key breaking [`is_valid_key`].
pub fn check_content(tool: &str, content: &BTreeMap<String, String>) -> Result<(), ToolError> {
    if content.is_empty() {
        return Err(invalid(
            tool,
            "<content>",
            "a secret needs at least one key",
        ));
    }
    match content.keys().find(|key| !is_valid_key(key)) {
        Some(key) => Err(invalid(
            tool,
            key,
            "secret keys are lower-case letters, digits and dashes, start with a letter and have at least 3 characters",
        )),
        None => Ok(()),
    }
}

/// The arguments naming `secret`: the URI as a positional, or `--label`.
pub fn ref_args(secret: &SecretRef) -> Vec<String> {
    match secret {
        SecretRef::Id(id) => vec![id.clone()],
        SecretRef::Label(label) => vec!["--label".to_owned(), label.clone()],
    }
}

/// A private directory holding one file per secret value, removed when dropped.
pub struct ContentFiles {
    dir: PathBuf,
    /// `key#file=<path>` for each key.
    pub args: Vec<String>,
}

impl ContentFiles {
    /// Writes each value of `content` to a file only this user can read.
    pub fn write(tool: &str, content: &BTreeMap<String, String>) -> Result<Self, ToolError> {
        let io = |source| ToolError::Io {
            tool: tool.to_owned(),
            args: Vec::new(),
            source,
        };
        let dir = private_dir().map_err(io)?;
        let files = Self {
            dir,
            args: Vec::new(),
        };
        let mut files = files;
        for (key, value) in content {
            let path = files.dir.join(key);
            write_private(&path, value.as_bytes()).map_err(io)?;
            files.args.push(format!("{key}#file={}", path.display()));
        }
        Ok(files)
    }
}

impl Drop for ContentFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for n in 0..100u32 {
        let dir = base.join(format!("juju-secret-{}-{stamp}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "no free name for a private directory",
    ))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// Whether a failed secret tool said the secret does not exist.
pub fn is_not_found(error: &ToolError) -> bool {
    matches!(error, ToolError::Failed { stderr, .. } if stderr.contains("not found"))
}

/// Parses `secret-add`'s output: the new secret's URI.
pub fn parse_secret_uri(tool: &str, args: &[String], stdout: &str) -> Result<String, ToolError> {
    let uri = stdout.trim();
    if uri.starts_with("secret:") && !uri.contains(char::is_whitespace) {
        Ok(uri.to_owned())
    } else {
        Err(ToolError::Parse {
            tool: tool.to_owned(),
            args: args.to_vec(),
            output: stdout.to_owned(),
            reason: "expected a secret URI (secret:...)".to_owned(),
        })
    }
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(default)]
    label: Option<String>,
    revision: u64,
    #[serde(default)]
    owner: String,
}

/// Parses `secret-info-get --format=json`: `{"<id>": {"revision": N, "label": ..,
/// "owner": ..}}`, one entry.
pub fn parse_secret_info(
    tool: &str,
    args: &[String],
    stdout: &str,
) -> Result<SecretInfo, ToolError> {
    let raw: BTreeMap<String, RawInfo> = parse_json(tool, args, stdout)?;
    let mut entries = raw.into_iter();
    match (entries.next(), entries.next()) {
        (Some((id, info)), None) => Ok(SecretInfo {
            id,
            label: info.label.filter(|l| !l.is_empty()),
            revision: info.revision,
            owner: info.owner,
        }),
        _ => Err(ToolError::Parse {
            tool: tool.to_owned(),
            args: args.to_vec(),
            output: stdout.to_owned(),
            reason: "expected exactly one secret".to_owned(),
        }),
    }
}
