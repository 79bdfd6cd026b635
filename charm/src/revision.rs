//! Which charm revision this unit runs, as Juju wrote it into the charm directory.
//!
//! The upgrade core needs it to recognise a `juju refresh` back to the original revision as a
//! rollback and to print the exact rollback command (`juju refresh mysql --revision=N`).
//! Juju writes the charm URL to `.juju-charm` (e.g. `ch:amd64/jammy/mysql-43`,
//! `local:mysql-183`) and the revision alone to `revision` whenever it expands a charm; the
//! URL is read first, the `revision` file is the fallback.

use std::fs;
use std::path::{Path, PathBuf};

/// Juju's file holding the charm URL of the deployed charm.
pub const CHARM_URL_FILE: &str = ".juju-charm";
/// Juju's file holding the deployed charm's revision.
pub const REVISION_FILE: &str = "revision";

/// Why the charm revision could not be found.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file holds no revision number.
    #[error("{path} holds {text:?}, which has no revision number")]
    NoRevision {
        /// The file.
        path: PathBuf,
        /// What it holds (trimmed).
        text: String,
    },
    /// Neither file gave a revision.
    #[error("no charm revision: {url}; {revision}")]
    Neither {
        /// Why the charm URL gave none.
        url: Box<RevisionError>,
        /// Why the revision file gave none.
        revision: Box<RevisionError>,
    },
}

/// The revision of the charm in `charm_dir`, e.g. `"183"`: from the charm URL in
/// `.juju-charm`, else from the `revision` file.
pub fn charm_revision(charm_dir: &Path) -> Result<String, RevisionError> {
    let url = read_trimmed(&charm_dir.join(CHARM_URL_FILE)).and_then(|(path, text)| {
        revision_of_url(&text).ok_or(RevisionError::NoRevision { path, text })
    });
    let url_error = match url {
        Ok(revision) => return Ok(revision),
        Err(err) => err,
    };
    let file = read_trimmed(&charm_dir.join(REVISION_FILE)).and_then(|(path, text)| {
        if is_revision(&text) {
            Ok(text)
        } else {
            Err(RevisionError::NoRevision { path, text })
        }
    });
    file.map_err(|revision_error| RevisionError::Neither {
        url: Box::new(url_error),
        revision: Box::new(revision_error),
    })
}

/// What identifies the charm in `charm_dir` to the operator's `juju refresh`: the revision
/// (`"183"`, for `--revision`) of a Charmhub charm, or the whole URL (`"local:mysql-3"`) of a
/// charm deployed from a file, which only `--path` refreshes to. Read as [`charm_revision`].
pub fn charm_id(charm_dir: &Path) -> Result<String, RevisionError> {
    let revision = charm_revision(charm_dir)?;
    match read_trimmed(&charm_dir.join(CHARM_URL_FILE)) {
        Ok((_, url))
            if url.starts_with("local:")
                && revision_of_url(&url).as_deref() == Some(revision.as_str()) =>
        {
            Ok(url)
        }
        _ => Ok(revision),
    }
}

/// The revision at the end of a charm URL: `local:mysql-183` gives `183`,
/// `ch:amd64/jammy/mysql-43` gives `43`; `None` when the URL ends in no revision.
pub fn revision_of_url(url: &str) -> Option<String> {
    let url = url.trim();
    let name = url.rsplit('/').next().unwrap_or(url);
    let name = name.rsplit_once(':').map_or(name, |(_, rest)| rest);
    let (charm, revision) = name.rsplit_once('-')?;
    (!charm.is_empty() && is_revision(revision)).then(|| revision.to_owned())
}

fn is_revision(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn read_trimmed(path: &Path) -> Result<(PathBuf, String), RevisionError> {
    let text = fs::read_to_string(path).map_err(|source| RevisionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((path.to_path_buf(), text.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charm_urls_end_in_their_revision() {
        assert_eq!(revision_of_url("local:mysql-183").as_deref(), Some("183"));
        assert_eq!(
            revision_of_url("ch:amd64/jammy/mysql-43\n").as_deref(),
            Some("43")
        );
        assert_eq!(revision_of_url("ch:mysql-router-7").as_deref(), Some("7"));
        assert_eq!(revision_of_url("cs:~user/mysql-12").as_deref(), Some("12"));
        for no_revision in [
            "",
            "local:mysql",
            "ch:mysql-",
            "ch:-4",
            "local:mysql-1a",
            "-",
        ] {
            assert_eq!(revision_of_url(no_revision), None, "{no_revision:?}");
        }
    }

    #[test]
    fn the_url_comes_first_and_the_revision_file_is_the_fallback() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(REVISION_FILE), "182\n").expect("write");
        assert_eq!(charm_revision(dir.path()).expect("from the file"), "182");
        fs::write(dir.path().join(CHARM_URL_FILE), "ch:mysql-183\n").expect("write");
        assert_eq!(charm_revision(dir.path()).expect("from the URL"), "183");
        fs::write(dir.path().join(CHARM_URL_FILE), "ch:mysql\n").expect("write");
        assert_eq!(charm_revision(dir.path()).expect("fallback"), "182");
    }

    #[test]
    fn a_local_charm_is_identified_by_its_url_a_charmhub_one_by_its_revision() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(CHARM_URL_FILE), "local:mysql-3\n").expect("write");
        assert_eq!(charm_id(dir.path()).expect("local"), "local:mysql-3");
        fs::write(dir.path().join(CHARM_URL_FILE), "ch:amd64/jammy/mysql-43\n").expect("write");
        assert_eq!(charm_id(dir.path()).expect("charmhub"), "43");
    }

    #[test]
    fn without_either_the_error_says_why_for_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(CHARM_URL_FILE), "local:mysql\n").expect("write");
        fs::write(dir.path().join(REVISION_FILE), "latest\n").expect("write");
        let err = charm_revision(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"local:mysql\", which has no revision"),
            "{text}"
        );
        assert!(text.contains("\"latest\", which has no revision"), "{text}");
        let empty = tempfile::tempdir().expect("tempdir");
        let err = charm_revision(empty.path()).unwrap_err();
        assert!(matches!(err, RevisionError::Neither { .. }), "{err}");
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
