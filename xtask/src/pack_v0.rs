//! Packing the Python v0 test charm: Charmed MySQL's Python charm as far as its upgrades go
//! (`tests/charms/mysql-v0`), on data-platform-libs' upgrade library v0 and the emulated
//! server.
//!
//! The archive has the test charm's `dispatch`, `actions.yaml`, `config.yaml` and `src/`,
//! this repository's `metadata.yaml` (the same endpoints as the Rust charm, so Juju allows a
//! refresh either way), `versions.json` with [`VersionOverrides`] applied (the Python charm
//! reads the same file), a `manifest.yaml` and the emulated server's command as
//! `bin/emulated-mysql`. The v0 library is not packed: the model passes its folder in
//! (`V0_LIBRARY_DIR`, see [`v0_library_dir`]) and the charm loads it at run time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use juju_sim::charm_archive;
use mysql_charm::versions::{VersionOverrides, Versions, VERSIONS_FILE};

use crate::pack::{repo_root, PackError};

/// The Python charm's own files, relative to [`PythonV0Source::charm_dir`].
pub const CHARM_FILES: [&str; 6] = [
    "dispatch",
    "actions.yaml",
    "config.yaml",
    "src/charm.py",
    "src/upgrade.py",
    "src/workload.py",
];
/// Where the emulated server's command goes in the charm.
pub const WORKLOAD_IN_CHARM: &str = "bin/emulated-mysql";
/// The model environment variable naming the folder with `v0/upgrade.py`.
pub const V0_LIBRARY_ENV: &str = "V0_LIBRARY_DIR";
const MANIFEST: &str = "\
bases:
- architectures:
  - amd64
  channel: '22.04'
  name: ubuntu
";

/// What to pack.
#[derive(Debug, Clone)]
pub struct PythonV0Source {
    /// The repository root (its `metadata.yaml` and `versions.json`).
    pub repo_root: PathBuf,
    /// The Python charm's directory.
    pub charm_dir: PathBuf,
    /// The compiled `emulated-mysql` command.
    pub workload_binary: PathBuf,
    /// Changes to `versions.json` for this revision.
    pub overrides: VersionOverrides,
}

impl PythonV0Source {
    /// This repository's Python v0 test charm with `workload_binary`.
    pub fn from_this_repo(workload_binary: impl Into<PathBuf>) -> Self {
        let root = repo_root();
        Self {
            charm_dir: root.join("tests/charms/mysql-v0"),
            repo_root: root,
            workload_binary: workload_binary.into(),
            overrides: VersionOverrides::default(),
        }
    }

    /// The same source with `overrides`.
    pub fn with_overrides(mut self, overrides: VersionOverrides) -> Self {
        self.overrides = overrides;
        self
    }
}

/// The folder holding data-platform-libs' `v0/upgrade.py`: `$V0_LIBRARY_DIR` when set, else
/// `shared/thirdparty/data-platform-libs` beside the repository's parent folder (where the
/// project's tests find the unmodified library).
pub fn v0_library_dir() -> PathBuf {
    match std::env::var_os(V0_LIBRARY_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/thirdparty/data-platform-libs"),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the charm's files into `dir` and returns the versions it ships.
pub fn assemble(source: &PythonV0Source, dir: &Path) -> Result<Versions, PackError> {
    let versions = Versions::load(&source.repo_root)?.with_overrides(&source.overrides)?;
    fs::create_dir_all(dir.join("bin")).map_err(io_err(dir))?;
    fs::create_dir_all(dir.join("src")).map_err(io_err(dir))?;
    let mut copies: Vec<(PathBuf, &str)> = CHARM_FILES
        .iter()
        .map(|name| (source.charm_dir.join(name), *name))
        .collect();
    copies.push((source.repo_root.join("metadata.yaml"), "metadata.yaml"));
    copies.push((source.workload_binary.clone(), WORKLOAD_IN_CHARM));
    for (from, name) in &copies {
        fs::copy(from, dir.join(name)).map_err(io_err(from))?;
    }
    let manifest = dir.join("manifest.yaml");
    fs::write(&manifest, MANIFEST).map_err(io_err(&manifest))?;
    let versions_file = dir.join(VERSIONS_FILE);
    fs::write(&versions_file, versions.to_json_pretty()).map_err(io_err(&versions_file))?;
    let executables = ["dispatch", WORKLOAD_IN_CHARM];
    for (_, name) in &copies {
        let mode = if executables.contains(name) {
            0o755
        } else {
            0o644
        };
        let path = dir.join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_err(&path))?;
    }
    Ok(versions)
}

/// Packs the Python v0 test charm into the archive `out`.
pub fn pack(source: &PythonV0Source, out: &Path) -> Result<Versions, PackError> {
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

    #[test]
    fn the_archive_has_the_python_charm_the_repositorys_metadata_and_the_overridden_versions() {
        let tmp = tempfile::tempdir().unwrap();
        let binary = tmp.path().join("emulated-mysql");
        fs::write(&binary, "#!/bin/sh\n").unwrap();
        let source = PythonV0Source::from_this_repo(&binary).with_overrides(VersionOverrides {
            workload_version: Some("8.0.33".into()),
            snap_revision: Some("57".into()),
            ..VersionOverrides::default()
        });
        let dir = tmp.path().join("charm");
        let versions = assemble(&source, &dir).unwrap();
        assert_eq!(versions.workload().version, "8.0.33");
        for name in CHARM_FILES
            .iter()
            .chain(&["metadata.yaml", WORKLOAD_IN_CHARM])
        {
            assert!(dir.join(name).is_file(), "{name}");
        }
        assert_eq!(
            fs::read_to_string(dir.join("metadata.yaml")).unwrap(),
            fs::read_to_string(repo_root().join("metadata.yaml")).unwrap()
        );
        let shipped = Versions::load(&dir).unwrap();
        assert_eq!(shipped.workload().revision, "57");
        let mode = fs::metadata(dir.join("dispatch"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(
            !dir.join("src/charms").exists(),
            "the v0 library is never packed"
        );
    }
}
