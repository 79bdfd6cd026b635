//! Packing the example charm (`examples/minimal-charm`) without charmcraft.
//!
//! The archive holds the example's `charm/` files (`dispatch`, `metadata.yaml`,
//! `actions.yaml`, `config.yaml`), a `manifest.yaml`, its `dependencies.json` with the kv
//! version and range this revision ships ([`MinimalOverrides`]) and the binary as
//! `bin/minimal-charm`. Modes are set as [`crate::pack`] sets them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use juju_sim::charm_archive::{self, CharmError};
use juju_upgrade::{DependencyError, DependencyModel};

/// The archive name charmcraft would give the example (`<name>_<base>-<arch>.charm`).
pub const CHARM_FILE_NAME: &str = "minimal-kv_ubuntu-22.04-amd64.charm";
/// The cargo package and binary of the example charm.
pub const PACKAGE: &str = "minimal-charm";
/// Where the binary goes in the charm (what `dispatch` runs).
pub const BINARY_IN_CHARM: &str = "bin/minimal-charm";
/// The dependency model the charm reads.
pub const DEPENDENCIES_FILE: &str = "dependencies.json";
/// Files copied as they are from the example's `charm/` directory.
pub const CHARM_FILES: [&str; 4] = ["dispatch", "metadata.yaml", "actions.yaml", "config.yaml"];
const MANIFEST: &str = "\
bases:
- architectures:
  - amd64
  channel: '22.04'
  name: ubuntu
";

/// Why the example could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum MinimalPackError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The dependency model, or an override, is invalid.
    #[error("{DEPENDENCIES_FILE}: {0}")]
    Dependencies(#[from] DependencyError),
    /// An override is not usable.
    #[error("{0}")]
    Override(String),
    /// The archive could not be written.
    #[error(transparent)]
    Archive(#[from] CharmError),
}

/// Changes to the example's `dependencies.json` for one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinimalOverrides {
    /// The kv version this revision installs (`MAJOR.MINOR.PATCH`).
    pub kv_version: Option<String>,
    /// The kv versions this revision upgrades from (e.g. `^1.0`).
    pub upgrade_supported: Option<String>,
}

/// The example's `charm/` directory, as known when this crate was compiled.
pub fn charm_dir() -> PathBuf {
    crate::pack::repo_root().join("examples/minimal-charm/charm")
}

/// The dependency model `charm_dir`'s `dependencies.json` gives with `overrides`, validated.
pub fn dependencies(
    charm_dir: &Path,
    overrides: &MinimalOverrides,
) -> Result<DependencyModel, MinimalPackError> {
    let path = charm_dir.join(DEPENDENCIES_FILE);
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| MinimalPackError::Override(format!("{}: {err}", path.display())))?;
    let kv = value
        .get_mut("kv")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| {
            MinimalPackError::Override(format!("{}: no kv component", path.display()))
        })?;
    if let Some(version) = &overrides.kv_version {
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
            return Err(MinimalPackError::Override(format!(
                "kv version {version:?} is not MAJOR.MINOR.PATCH"
            )));
        }
        kv.insert("version".into(), version.as_str().into());
    }
    if let Some(range) = &overrides.upgrade_supported {
        kv.insert("upgrade_supported".into(), range.as_str().into());
    }
    Ok(DependencyModel::from_json(&value.to_string())?)
}

/// Packs the example with `binary` and `overrides` into `out`; returns the model it ships.
pub fn pack(
    binary: &Path,
    overrides: &MinimalOverrides,
    out: &Path,
) -> Result<DependencyModel, MinimalPackError> {
    let source = charm_dir();
    let model = dependencies(&source, overrides)?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".charm-staging-")
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let dir = staging.path();
    fs::create_dir_all(dir.join("bin")).map_err(io_err(dir))?;
    for name in CHARM_FILES {
        let from = source.join(name);
        fs::copy(&from, dir.join(name)).map_err(io_err(&from))?;
    }
    fs::copy(binary, dir.join(BINARY_IN_CHARM)).map_err(io_err(binary))?;
    write(&dir.join("manifest.yaml"), MANIFEST)?;
    write(&dir.join(DEPENDENCIES_FILE), &model.to_json())?;
    for name in CHARM_FILES
        .iter()
        .chain(&["manifest.yaml", DEPENDENCIES_FILE, BINARY_IN_CHARM])
    {
        let executable = *name == "dispatch" || *name == BINARY_IN_CHARM;
        let path = dir.join(name);
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_err(&path))?;
    }
    charm_archive::pack(dir, &[], out)?;
    Ok(model)
}

fn write(path: &Path, text: &str) -> Result<(), MinimalPackError> {
    fs::write(path, text).map_err(io_err(path))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MinimalPackError + '_ {
    move |source| MinimalPackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_ships_the_overridden_model_and_juju_sim_reads_it() {
        let tmp = tempfile::tempdir().unwrap();
        let binary = tmp.path().join("minimal-charm");
        fs::write(&binary, b"\x7fELF not really").unwrap();
        let overrides = MinimalOverrides {
            kv_version: Some("1.1.0".into()),
            upgrade_supported: Some("^1.0".into()),
        };
        let out = tmp.path().join(CHARM_FILE_NAME);
        let model = pack(&binary, &overrides, &out).expect("packed");
        assert_eq!(model.get("kv").unwrap().version, "1.1.0");
        let charm = charm_archive::read_charm(&out).expect("juju-sim reads it");
        assert_eq!(charm.metadata.name, "minimal-kv");
        assert!(charm.actions.contains_key("pre-upgrade-check"));
        let mut zip = zip::ZipArchive::new(fs::File::open(&out).unwrap()).unwrap();
        let entry = zip.by_name(BINARY_IN_CHARM).unwrap();
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn a_bad_version_or_range_is_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join(CHARM_FILE_NAME);
        for overrides in [
            MinimalOverrides {
                kv_version: Some("1.1".into()),
                ..MinimalOverrides::default()
            },
            MinimalOverrides {
                upgrade_supported: Some("not a range".into()),
                ..MinimalOverrides::default()
            },
        ] {
            assert!(pack(Path::new("/nonexistent"), &overrides, &out).is_err());
            assert!(!out.exists());
        }
    }
}
