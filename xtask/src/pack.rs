//! Packing the MySQL charm without charmcraft.
//!
//! The archive holds what `charmcraft pack` would put in it for this repository: `dispatch`,
//! `metadata.yaml`, `actions.yaml`, `config.yaml`, a `manifest.yaml` naming the base,
//! `versions.json` (the repository's, with [`VersionOverrides`] applied: one source tree
//! yields the several revisions a rollback test needs) and the binary as `bin/mysql-charm`.
//! Executables get mode 0755 and everything else 0644, whatever the modes on disk, so the
//! archive works once Juju (or `juju-sim`) expands it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use juju_sim::charm_archive::{self, CharmError};
use mysql_charm::versions::{VersionOverrides, Versions, VersionsError, VERSIONS_FILE};

/// The archive name charmcraft gives this charm (`<name>_<base>-<arch>.charm`).
pub const CHARM_FILE_NAME: &str = "mysql_ubuntu-22.04-amd64.charm";
/// Where the binary goes in the charm (what `dispatch` runs).
pub const BINARY_IN_CHARM: &str = "bin/mysql-charm";
/// Files copied as they are from the repository root.
pub const ROOT_FILES: [&str; 4] = ["dispatch", "metadata.yaml", "actions.yaml", "config.yaml"];
/// The executables among the charm's files.
const EXECUTABLES: [&str; 2] = ["dispatch", BINARY_IN_CHARM];
/// The directory the charm keeps its peer cache in (`mysql_charm::cache`), shipped with a
/// README so that Juju's deployer removes it on a refresh to a revision without it.
pub const PEER_CACHE_README: &str = "peer-cache/README";
/// What charmcraft writes for `base: ubuntu@22.04` on amd64.
const MANIFEST: &str = "\
bases:
- architectures:
  - amd64
  channel: '22.04'
  name: ubuntu
";

/// Why a charm could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The repository's `versions.json`, or the overrides, are invalid.
    #[error(transparent)]
    Versions(#[from] VersionsError),
    /// The archive could not be written.
    #[error(transparent)]
    Archive(#[from] CharmError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What to pack.
#[derive(Debug, Clone)]
pub struct CharmSource {
    /// The repository root, with the charm's root files and `versions.json`.
    pub repo_root: PathBuf,
    /// The compiled charm binary.
    pub binary: PathBuf,
    /// Changes to `versions.json` for this revision.
    pub overrides: VersionOverrides,
}

impl CharmSource {
    /// This repository (the root above the `xtask` crate) with `binary` and no overrides.
    pub fn from_this_repo(binary: impl Into<PathBuf>) -> Self {
        Self {
            repo_root: repo_root(),
            binary: binary.into(),
            overrides: VersionOverrides::default(),
        }
    }

    /// The same source with `overrides`.
    pub fn with_overrides(mut self, overrides: VersionOverrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// The versions this revision will ship.
    pub fn versions(&self) -> Result<Versions, PackError> {
        Ok(Versions::load(&self.repo_root)?.with_overrides(&self.overrides)?)
    }
}

/// The repository root, as known when this crate was compiled.
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Writes the charm's files into `dir` (created if needed) and returns the versions it ships.
pub fn assemble(source: &CharmSource, dir: &Path) -> Result<Versions, PackError> {
    let versions = source.versions()?;
    fs::create_dir_all(dir.join("bin")).map_err(io_err(dir))?;
    fs::create_dir_all(dir.join("peer-cache")).map_err(io_err(dir))?;
    for name in ROOT_FILES {
        let from = source.repo_root.join(name);
        let to = dir.join(name);
        fs::copy(&from, &to).map_err(io_err(&from))?;
    }
    let readme = source.repo_root.join(PEER_CACHE_README);
    fs::copy(&readme, dir.join(PEER_CACHE_README)).map_err(io_err(&readme))?;
    let binary = dir.join(BINARY_IN_CHARM);
    fs::copy(&source.binary, &binary).map_err(io_err(&source.binary))?;
    write(&dir.join("manifest.yaml"), MANIFEST)?;
    write(&dir.join(VERSIONS_FILE), &versions.to_json_pretty())?;
    for name in ROOT_FILES.iter().chain(&[
        "manifest.yaml",
        VERSIONS_FILE,
        BINARY_IN_CHARM,
        PEER_CACHE_README,
    ]) {
        let mode = if EXECUTABLES.contains(name) {
            0o755
        } else {
            0o644
        };
        let path = dir.join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_err(&path))?;
    }
    Ok(versions)
}

fn write(path: &Path, text: &str) -> Result<(), PackError> {
    fs::write(path, text).map_err(io_err(path))
}

/// Packs the charm into the archive `out` and returns the versions it ships.
pub fn pack(source: &CharmSource, out: &Path) -> Result<Versions, PackError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".charm-staging-")
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let versions = assemble(source, staging.path())?;
    charm_archive::pack(staging.path(), &[], out)?;
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A stand-in binary: packing copies bytes, it never runs them.
    fn fake_binary(dir: &Path) -> PathBuf {
        let path = dir.join("mysql-charm");
        fs::write(&path, b"\x7fELF not really").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    #[test]
    fn the_archive_has_every_file_with_unix_modes_and_the_overridden_versions() {
        let tmp = tempfile::tempdir().unwrap();
        let source =
            CharmSource::from_this_repo(fake_binary(tmp.path())).with_overrides(VersionOverrides {
                workload_version: Some("8.0.33".into()),
                snap_revision: Some("57".into()),
                ..VersionOverrides::default()
            });
        let out = tmp.path().join("out").join(CHARM_FILE_NAME);
        let versions = pack(&source, &out).expect("packed");
        assert_eq!(versions.workload().version, "8.0.33");

        let mut zip = zip::ZipArchive::new(fs::File::open(&out).unwrap()).unwrap();
        let mut names: Vec<String> = zip.file_names().map(str::to_owned).collect();
        names.sort();
        for expected in [
            "actions.yaml",
            "bin/mysql-charm",
            "config.yaml",
            "dispatch",
            "manifest.yaml",
            "metadata.yaml",
            "peer-cache/README",
            "versions.json",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        for (name, mode) in [
            ("dispatch", 0o755),
            ("bin/mysql-charm", 0o755),
            ("metadata.yaml", 0o644),
            ("versions.json", 0o644),
        ] {
            let entry = zip.by_name(name).unwrap();
            assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(mode), "{name}");
        }
        let mut text = String::new();
        zip.by_name("versions.json")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let shipped = Versions::from_json(&text).expect("valid versions.json");
        assert_eq!(shipped.workload_revision().revision, "57");

        let charm = charm_archive::read_charm(&out).expect("juju-sim reads it");
        assert_eq!(charm.metadata.name, "mysql");
        assert!(charm.actions.contains_key("pre-upgrade-check"));
        let staging_left: Vec<_> = fs::read_dir(out.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".charm-staging")
            })
            .collect();
        assert!(staging_left.is_empty(), "the staging directory is removed");
    }

    #[test]
    fn invalid_overrides_are_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let source =
            CharmSource::from_this_repo(fake_binary(tmp.path())).with_overrides(VersionOverrides {
                upgrade_supported: Some("not a range".into()),
                ..VersionOverrides::default()
            });
        let out = tmp.path().join(CHARM_FILE_NAME);
        let err = pack(&source, &out).unwrap_err();
        assert!(matches!(err, PackError::Versions(_)), "{err}");
        assert!(!out.exists());
    }
}
