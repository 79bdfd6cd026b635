//! `--name value` / `--name=value` options of the xtask commands.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

/// Parsed options.
#[derive(Debug, Default)]
pub struct Options(BTreeMap<String, String>);

impl Options {
    /// Parses `args`, accepting only the option names in `allowed` (each taking a value).
    pub fn parse(args: &[String], allowed: &[&str]) -> Result<Self> {
        let mut values = BTreeMap::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                bail!("unexpected argument {arg:?}");
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => {
                    let value = args
                        .next()
                        .ok_or_else(|| anyhow!("--{flag} needs a value"))?;
                    (flag.to_owned(), value.clone())
                }
            };
            if !allowed.contains(&name.as_str()) {
                bail!(
                    "unknown option --{name} (expected one of: --{})",
                    allowed.join(", --")
                );
            }
            if values.insert(name.clone(), value).is_some() {
                bail!("--{name} given twice");
            }
        }
        Ok(Self(values))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn both_spellings_parse_and_unknown_or_repeated_options_are_refused() {
        let options = Options::parse(
            &args(&["--out", "a.charm", "--profile=release"]),
            &["out", "profile"],
        )
        .expect("valid");
        assert_eq!(options.get("out"), Some("a.charm"));
        assert_eq!(options.get("profile"), Some("release"));
        assert_eq!(options.get("units"), None);
        assert!(Options::parse(&args(&["--units", "3"]), &["out"]).is_err());
        assert!(Options::parse(&args(&["--out"]), &["out"]).is_err());
        assert!(Options::parse(&args(&["--out=a", "--out=b"]), &["out"]).is_err());
        assert!(Options::parse(&args(&["stray"]), &["out"]).is_err());
    }
}
