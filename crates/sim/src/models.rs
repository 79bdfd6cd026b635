//! Models by name, the way `juju` manages them: a models root directory
//! holding one model directory per name and the name of the current model,
//! so `add-model NAME`, `--model NAME`, `switch` and `models` work as they do
//! with a controller (and `jubilant.temp_model()` with them).
//!
//! The root is `$JUJU_SIM_HOME`, else `$XDG_DATA_HOME/juju-sim`, else
//! `~/.local/share/juju-sim`. A `--model` value with a `/` (or starting with
//! `.` or `~`) is a model directory anywhere; a bare name (optionally
//! `controller:`-qualified, as Juju accepts) is `<root>/<name>`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::model::{write_atomically, ModelDir, ModelError};

/// The model used when none was chosen with `switch`.
pub const DEFAULT_MODEL: &str = "default";

/// The file under the root naming the current model.
const CURRENT_FILE: &str = ".current-model";

/// The directory holding the named models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsRoot {
    root: PathBuf,
}

/// Where a command's model is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    /// The model directory.
    pub dir: PathBuf,
    /// Its name when it was chosen by name (a directory has none).
    pub name: Option<String>,
}

impl ModelsRoot {
    /// The root named by the environment (`None` without `HOME` or an override).
    pub fn from_env() -> Option<ModelsRoot> {
        let non_empty = |key: &str| {
            std::env::var_os(key)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = non_empty("JUJU_SIM_HOME")
            .or_else(|| non_empty("XDG_DATA_HOME").map(|d| d.join("juju-sim")))
            .or_else(|| non_empty("HOME").map(|h| h.join(".local/share/juju-sim")))?;
        Some(ModelsRoot { root })
    }

    /// A root at `root`.
    pub fn new(root: impl Into<PathBuf>) -> ModelsRoot {
        ModelsRoot { root: root.into() }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The directory of model `name`.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The current model's name (`default` until `switch`).
    pub fn current(&self) -> String {
        fs::read_to_string(self.root.join(CURRENT_FILE))
            .ok()
            .map(|text| text.trim().to_string())
            .filter(|name| is_valid_model_name(name))
            .unwrap_or_else(|| DEFAULT_MODEL.to_string())
    }

    /// Makes `name` the current model.
    pub fn switch(&self, name: &str) -> Result<(), ModelError> {
        write_atomically(
            &self.root.join(CURRENT_FILE),
            format!("{name}\n").as_bytes(),
        )
    }

    /// The names of the models that exist, sorted.
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|name| is_valid_model_name(name) && self.exists(name))
            .collect();
        names.sort();
        names
    }

    /// True when model `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        ModelDir::new(self.model_dir(name)).exists()
    }
}

/// Juju's model names: lowercase letters, digits and hyphens, starting with a letter or digit.
pub fn is_valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// True when a `--model` value names a directory rather than a model.
pub fn is_directory(value: &str) -> bool {
    value.contains('/') || value.starts_with('.') || value.starts_with('~')
}

/// The model name in a `[controller:]name` reference.
pub fn name_of(reference: &str) -> &str {
    reference
        .rsplit_once(':')
        .map_or(reference, |(_, name)| name)
}

/// Resolves a command's model: `--model` (a directory or a name), else
/// `$JUJU_SIM_MODEL` (a directory), else `$JUJU_MODEL` (a name, as `juju`
/// reads it), else the current model of the root.
pub fn resolve(option: Option<&str>, root: Option<&ModelsRoot>) -> Result<ModelRef, String> {
    let by_name = |reference: &str| -> Result<ModelRef, String> {
        let name = name_of(reference);
        if !is_valid_model_name(name) {
            return Err(format!(
                "invalid model name {name:?}: lowercase letters, digits and hyphens (or pass a directory with a \"/\")"
            ));
        }
        let root = root.ok_or("no models root: set JUJU_SIM_HOME or HOME")?;
        Ok(ModelRef {
            dir: root.model_dir(name),
            name: Some(name.to_string()),
        })
    };
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    match option {
        Some(value) if is_directory(value) => Ok(ModelRef {
            dir: expand_home(value),
            name: None,
        }),
        Some(value) => by_name(value),
        None => {
            if let Some(dir) = env("JUJU_SIM_MODEL") {
                return Ok(ModelRef {
                    dir: expand_home(&dir),
                    name: None,
                });
            }
            if let Some(name) = env("JUJU_MODEL") {
                return by_name(&name);
            }
            let root = root.ok_or("no model: pass --model, or set JUJU_SIM_MODEL or HOME")?;
            by_name(&root.current())
        }
    }
}

fn expand_home(value: &str) -> PathBuf {
    match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_directories_are_told_apart() {
        let root = ModelsRoot::new("/r");
        let named = resolve(Some("jubilant-1a2b3c4d"), Some(&root)).unwrap();
        assert_eq!(named.dir, PathBuf::from("/r/jubilant-1a2b3c4d"));
        assert_eq!(named.name.as_deref(), Some("jubilant-1a2b3c4d"));
        let qualified = resolve(Some("juju-sim:prod"), Some(&root)).unwrap();
        assert_eq!(qualified.dir, PathBuf::from("/r/prod"));
        let relative = resolve(Some("rel/model"), Some(&root)).unwrap();
        assert_eq!(relative.dir, PathBuf::from("rel/model"));
        assert_eq!(relative.name, None);
        assert_eq!(
            resolve(Some("./m"), Some(&root)).unwrap().dir,
            PathBuf::from("./m")
        );
        assert!(resolve(Some("Bad_Name"), Some(&root)).is_err());
    }

    #[test]
    fn switch_names_the_current_model() {
        let tmp = tempfile::tempdir().unwrap();
        let root = ModelsRoot::new(tmp.path());
        assert_eq!(root.current(), DEFAULT_MODEL);
        root.switch("other").unwrap();
        assert_eq!(root.current(), "other");
        assert!(root.names().is_empty(), "no model exists yet");
    }
}
