//! Charms on disk: reading one from a directory or a `.charm` zip, packing a
//! directory into a `.charm` with Unix modes (so `dispatch` and binaries stay
//! executable), and expanding an archive into a unit's charm directory with
//! Juju's upgrade semantics: files of the new archive overwrite, paths only
//! the previous archive had are deleted, files the charm created survive.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::charm_meta::{parse_actions, parse_config, Actions, ConfigSpec, MetaError, Metadata};

/// Name of the file, inside an expanded charm directory, that lists what the
/// last expanded archive contained (Juju keeps the same list outside; keeping
/// it inside makes [`expand`] self-contained).
pub const MANIFEST_FILE: &str = ".juju-manifest";

/// Why a charm could not be read, packed or expanded.
#[derive(Debug, thiserror::Error)]
pub enum CharmError {
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The archive is not a readable zip.
    #[error("{path}: not a valid charm archive: {source}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The underlying error.
        source: zip::result::ZipError,
    },
    /// `metadata.yaml` is missing.
    #[error("{0}: charm has no metadata.yaml")]
    NoMetadata(PathBuf),
    /// A YAML file of the charm is invalid.
    #[error("{path}: {source}")]
    Meta {
        /// The charm.
        path: PathBuf,
        /// What is wrong.
        source: MetaError,
    },
    /// An archive entry or pack input would land outside the charm directory.
    #[error("unsafe path in charm: {0}")]
    UnsafePath(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CharmError + '_ {
    move |source| CharmError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn zip_err(path: &Path) -> impl FnOnce(zip::result::ZipError) -> CharmError + '_ {
    move |source| CharmError::Zip {
        path: path.to_path_buf(),
        source,
    }
}

/// What the emulator knows about a charm.
#[derive(Debug, Clone, PartialEq)]
pub struct Charm {
    /// From `metadata.yaml`.
    pub metadata: Metadata,
    /// From `actions.yaml` (empty when absent).
    pub actions: Actions,
    /// From `config.yaml` (empty when absent).
    pub config: ConfigSpec,
}

impl Charm {
    /// Builds a charm from the texts of its YAML files.
    pub fn from_texts(
        path: &Path,
        metadata: &str,
        actions: Option<&str>,
        config: Option<&str>,
    ) -> Result<Charm, CharmError> {
        let meta_err = |source| CharmError::Meta {
            path: path.to_path_buf(),
            source,
        };
        Ok(Charm {
            metadata: Metadata::parse(metadata).map_err(meta_err)?,
            actions: parse_actions(actions.unwrap_or("")).map_err(meta_err)?,
            config: parse_config(config.unwrap_or("")).map_err(meta_err)?,
        })
    }
}

/// Reads a charm from a directory or a `.charm` zip.
pub fn read_charm(path: &Path) -> Result<Charm, CharmError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    let read = |name: &str| -> Result<Option<String>, CharmError> {
        if meta.is_dir() {
            match fs::read_to_string(path.join(name)) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(CharmError::Io {
                    path: path.join(name),
                    source: e,
                }),
            }
        } else {
            read_zip_text(path, name)
        }
    };
    let metadata =
        read("metadata.yaml")?.ok_or_else(|| CharmError::NoMetadata(path.to_path_buf()))?;
    let actions = read("actions.yaml")?;
    let config = read("config.yaml")?;
    Charm::from_texts(path, &metadata, actions.as_deref(), config.as_deref())
}

fn read_zip_text(archive: &Path, name: &str) -> Result<Option<String>, CharmError> {
    let file = File::open(archive).map_err(io_err(archive))?;
    let mut zip = ZipArchive::new(file).map_err(zip_err(archive))?;
    let mut entry = match zip.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => {
            return Err(CharmError::Zip {
                path: archive.to_path_buf(),
                source: e,
            })
        }
    };
    let mut text = String::new();
    entry.read_to_string(&mut text).map_err(io_err(archive))?;
    Ok(Some(text))
}

/// Writes `out`, a `.charm` zip of `files` (paths relative to `dir`;
/// directories are added recursively; an empty list means all of `dir`).
///
/// Each entry keeps its Unix mode and symlinks stay symlinks, so executables
/// stay executable after Juju expands the archive. Entry order and timestamps
/// are fixed, so packing the same tree twice gives the same bytes.
pub fn pack(dir: &Path, files: &[PathBuf], out: &Path) -> Result<(), CharmError> {
    let roots: Vec<PathBuf> = if files.is_empty() {
        let mut all = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            all.push(PathBuf::from(entry.map_err(io_err(dir))?.file_name()));
        }
        all
    } else {
        files.to_vec()
    };
    let mut pairs = Vec::new();
    for root in roots {
        let relative = safe_relative(&root)?;
        pairs.push((dir.join(&relative), relative));
    }
    pack_mapped(&pairs, out)
}

/// Writes `out`, a `.charm` zip of `(source on disk, path in the archive)`
/// pairs — for charms assembled from several places, e.g. a compiled binary
/// from the build directory as `bin/<name>`. Directories are added
/// recursively; missing parent directories become `0755` entries. Same
/// modes and reproducibility as [`pack`].
pub fn pack_mapped(pairs: &[(PathBuf, PathBuf)], out: &Path) -> Result<(), CharmError> {
    // Archive path → its source (`None`: a parent directory with no source).
    let mut entries: BTreeMap<PathBuf, Option<PathBuf>> = BTreeMap::new();
    // Never pack the output into itself when it is written inside a packed directory.
    let temp = out.with_extension("charm.partial");
    let skip: Vec<PathBuf> = [out, temp.as_path()]
        .iter()
        .filter_map(|p| absolute(p))
        .collect();
    for (source, name) in pairs {
        let relative = safe_relative(name)?;
        let mut parent = relative.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            entries.entry(p.to_path_buf()).or_insert(None);
            parent = p.parent();
        }
        collect(source, &relative, &skip, &mut entries)?;
    }
    if !entries.contains_key(Path::new("metadata.yaml")) {
        return Err(CharmError::NoMetadata(out.to_path_buf()));
    }
    let file = File::create(&temp).map_err(io_err(&temp))?;
    let mut zip = ZipWriter::new(file);
    let base = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    for (relative, source) in &entries {
        let name = archive_name(relative);
        let Some(source) = source else {
            zip.add_directory(name, base.unix_permissions(0o755))
                .map_err(zip_err(out))?;
            continue;
        };
        let meta = fs::symlink_metadata(source).map_err(io_err(source))?;
        let mode = meta.permissions().mode();
        if meta.file_type().is_symlink() {
            let target = fs::read_link(source).map_err(io_err(source))?;
            zip.add_symlink(name, target.to_string_lossy(), base.unix_permissions(0o777))
                .map_err(zip_err(out))?;
        } else if meta.is_dir() {
            zip.add_directory(name, base.unix_permissions(mode))
                .map_err(zip_err(out))?;
        } else {
            zip.start_file(name, base.unix_permissions(mode))
                .map_err(zip_err(out))?;
            let bytes = fs::read(source).map_err(io_err(source))?;
            zip.write_all(&bytes).map_err(io_err(out))?;
        }
    }
    zip.finish().map_err(zip_err(out))?;
    fs::rename(&temp, out).map_err(io_err(out))
}

/// Adds `source` as `relative`, and everything under it when it is a directory.
fn collect(
    source: &Path,
    relative: &Path,
    skip: &[PathBuf],
    entries: &mut BTreeMap<PathBuf, Option<PathBuf>>,
) -> Result<(), CharmError> {
    if absolute(source).is_some_and(|p| skip.contains(&p)) {
        return Ok(());
    }
    let meta = fs::symlink_metadata(source).map_err(io_err(source))?;
    entries.insert(relative.to_path_buf(), Some(source.to_path_buf()));
    if meta.is_dir() {
        for entry in fs::read_dir(source).map_err(io_err(source))? {
            let entry = entry.map_err(io_err(source))?;
            collect(
                &entry.path(),
                &relative.join(entry.file_name()),
                skip,
                entries,
            )?;
        }
    }
    Ok(())
}

/// An absolute, symlink-free form of a path whose last component may not exist yet.
fn absolute(path: &Path) -> Option<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

fn archive_name(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Accepts only plain relative paths (no `..`, no root).
fn safe_relative(path: &Path) -> Result<PathBuf, CharmError> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => return Err(CharmError::UnsafePath(path.display().to_string())),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(CharmError::UnsafePath(path.display().to_string()));
    }
    Ok(clean)
}

/// Expands `archive` into `dest` the way Juju deploys or upgrades a charm.
///
/// Every entry of the archive is written (with its Unix mode; files under
/// `hooks/` also get the owner-exec bit, as Juju adds it); paths that the
/// previously expanded archive had and this one does not are deleted (a
/// directory with everything in it); anything else already in `dest` — files
/// the charm created — is left alone.
pub fn expand(archive: &Path, dest: &Path) -> Result<(), CharmError> {
    let file = File::open(archive).map_err(io_err(archive))?;
    let mut zip = ZipArchive::new(file).map_err(zip_err(archive))?;
    let mut new_paths = BTreeSet::new();
    for index in 0..zip.len() {
        let entry = zip.by_index(index).map_err(zip_err(archive))?;
        let raw = entry.name().to_string();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| CharmError::UnsafePath(raw.clone()))?;
        let relative = safe_relative(&relative)?;
        let mut parent = relative.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            new_paths.insert(p.to_path_buf());
            parent = p.parent();
        }
        new_paths.insert(relative);
    }
    if !new_paths.contains(Path::new("metadata.yaml")) {
        return Err(CharmError::NoMetadata(archive.to_path_buf()));
    }
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let old_paths = read_manifest(dest)?;
    // Deepest first, so a removed directory's removed children go before it.
    let gone_paths: Vec<&PathBuf> = old_paths.difference(&new_paths).collect();
    for gone in gone_paths.into_iter().rev() {
        remove_any(&dest.join(gone))?;
    }
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(zip_err(archive))?;
        let raw = entry.name().to_string();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| CharmError::UnsafePath(raw.clone()))
            .and_then(|p| safe_relative(&p))?;
        let target = dest.join(&relative);
        let mode = entry.unix_mode().map(|m| m & 0o7777).filter(|m| *m != 0);
        if let Some(parent) = target.parent() {
            ensure_dir(parent)?;
        }
        if entry.is_dir() {
            if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
                remove_any(&target)?;
            }
            ensure_dir(&target)?;
            set_mode(&target, mode.unwrap_or(0o755))?;
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(io_err(&target))?;
        remove_any(&target)?;
        if entry.is_symlink() {
            let link = String::from_utf8_lossy(&bytes).to_string();
            if !symlink_stays_inside(&relative, Path::new(&link)) {
                return Err(CharmError::UnsafePath(format!("{raw} -> {link}")));
            }
            symlink(&link, &target).map_err(io_err(&target))?;
            continue;
        }
        let mut mode = mode.unwrap_or(0o644);
        if relative.starts_with("hooks") {
            mode |= 0o100;
        }
        // A fresh inode: a running program from the old charm keeps its file.
        fs::write(&target, &bytes).map_err(io_err(&target))?;
        set_mode(&target, mode)?;
    }
    write_manifest(dest, &new_paths)
}

fn ensure_dir(path: &Path) -> Result<(), CharmError> {
    fs::create_dir_all(path).map_err(io_err(path))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), CharmError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

fn remove_any(path: &Path) -> Result<(), CharmError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CharmError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn symlink_stays_inside(link_path: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link_path.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn read_manifest(dest: &Path) -> Result<BTreeSet<PathBuf>, CharmError> {
    let path = dest.join(MANIFEST_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.is_empty())
            .filter_map(|l| safe_relative(Path::new(l)).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(CharmError::Io { path, source: e }),
    }
}

fn write_manifest(dest: &Path, paths: &BTreeSet<PathBuf>) -> Result<(), CharmError> {
    let path = dest.join(MANIFEST_FILE);
    let mut text = String::new();
    for p in paths {
        text.push_str(&archive_name(p));
        text.push('\n');
    }
    fs::write(&path, text).map_err(io_err(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn sample(dir: &Path, version: &str) {
        write(
            &dir.join("metadata.yaml"),
            "name: sample\npeers:\n  p: {interface: q}\n",
            0o644,
        );
        write(
            &dir.join("dispatch"),
            &format!("#!/bin/sh\necho {version}\n"),
            0o755,
        );
        write(&dir.join("lib/common.sh"), version, 0o644);
    }

    #[test]
    fn pack_keeps_modes_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        sample(&src, "v1");
        symlink("dispatch", src.join("link")).unwrap();
        let out = tmp.path().join("sample.charm");
        pack(&src, &[], &out).unwrap();
        let charm = read_charm(&out).unwrap();
        assert_eq!(charm.metadata.name, "sample");
        assert!(charm.metadata.peers.contains_key("p"));
        let dest = tmp.path().join("unit");
        expand(&out, &dest).unwrap();
        assert_eq!(mode(&dest.join("dispatch")), 0o755);
        assert_eq!(mode(&dest.join("lib/common.sh")), 0o644);
        assert_eq!(
            fs::read_link(dest.join("link")).unwrap(),
            PathBuf::from("dispatch")
        );
        // Same tree, same bytes.
        let again = tmp.path().join("again.charm");
        pack(&src, &[], &again).unwrap();
        assert_eq!(fs::read(&out).unwrap(), fs::read(&again).unwrap());
    }

    #[test]
    fn pack_selected_files_only() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        sample(&src, "v1");
        write(&src.join("target/junk"), "x", 0o644);
        let out = tmp.path().join("c.charm");
        pack(
            &src,
            &[
                PathBuf::from("metadata.yaml"),
                PathBuf::from("dispatch"),
                PathBuf::from("lib"),
            ],
            &out,
        )
        .unwrap();
        let dest = tmp.path().join("unit");
        expand(&out, &dest).unwrap();
        assert!(dest.join("lib/common.sh").exists());
        assert!(!dest.join("target").exists());
        assert!(pack(&src, &[PathBuf::from("../x")], &out).is_err());
        assert!(matches!(
            pack(&src, &[PathBuf::from("lib")], &out),
            Err(CharmError::NoMetadata(_))
        ));
    }

    #[test]
    fn pack_mapped_assembles_files_from_several_places() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        sample(&src, "v1");
        let binary = tmp.path().join("build/out/charm-bin");
        write(&binary, "ELF", 0o755);
        let out = tmp.path().join("c.charm");
        let pairs = [
            (src.join("metadata.yaml"), PathBuf::from("metadata.yaml")),
            (src.join("dispatch"), PathBuf::from("dispatch")),
            (binary, PathBuf::from("bin/charm-bin")),
        ];
        pack_mapped(&pairs, &out).unwrap();
        let dest = tmp.path().join("unit");
        expand(&out, &dest).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("bin/charm-bin")).unwrap(),
            "ELF"
        );
        assert_eq!(mode(&dest.join("bin/charm-bin")), 0o755);
        assert_eq!(mode(&dest.join("bin")), 0o755);
        assert!(!dest.join("lib").exists());
    }

    #[test]
    fn expand_upgrade_overwrites_deletes_and_keeps_charm_files() {
        let tmp = tempfile::tempdir().unwrap();
        let v1 = tmp.path().join("v1");
        sample(&v1, "v1");
        write(&v1.join("old-only/data"), "x", 0o644);
        let v2 = tmp.path().join("v2");
        sample(&v2, "v2");
        write(&v2.join("new-only"), "y", 0o600);
        let (a1, a2) = (tmp.path().join("1.charm"), tmp.path().join("2.charm"));
        pack(&v1, &[], &a1).unwrap();
        pack(&v2, &[], &a2).unwrap();
        let dest = tmp.path().join("charm");
        expand(&a1, &dest).unwrap();
        write(&dest.join("state.db"), "mine", 0o600);
        write(&dest.join("old-only/created-by-charm"), "mine", 0o600);
        expand(&a2, &dest).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("lib/common.sh")).unwrap(),
            "v2"
        );
        assert_eq!(mode(&dest.join("new-only")), 0o600);
        assert_eq!(fs::read_to_string(dest.join("state.db")).unwrap(), "mine");
        assert!(
            !dest.join("old-only").exists(),
            "a directory only the old archive had goes, with its content"
        );
        // And back again: new-only disappears, old-only returns.
        expand(&a1, &dest).unwrap();
        assert!(!dest.join("new-only").exists());
        assert!(dest.join("old-only/data").exists());
        assert!(dest.join("dispatch").exists());
    }

    #[test]
    fn expand_rejects_escaping_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("bad.charm");
        let mut zip = ZipWriter::new(File::create(&out).unwrap());
        zip.start_file("metadata.yaml", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"name: bad\n").unwrap();
        zip.add_symlink("evil", "../../etc/passwd", SimpleFileOptions::default())
            .unwrap();
        zip.finish().unwrap();
        assert!(matches!(
            expand(&out, &tmp.path().join("d")),
            Err(CharmError::UnsafePath(_))
        ));
    }

    #[test]
    fn reading_a_directory_without_metadata_fails() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_charm(tmp.path()),
            Err(CharmError::NoMetadata(_))
        ));
    }
}
