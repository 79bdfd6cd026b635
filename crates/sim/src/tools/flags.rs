//! Command-line parsing with the rules of Juju's `gnuflag`: `--long`,
//! `--long=value`, `--long value`, `-x value`, `-xvalue`, grouped short bool
//! flags (`-ab`), boolean flags with an explicit `=value`, positionals
//! interspersed with flags, and `--` ending the flags. Flag values are
//! checked while parsing, as gnuflag calls each flag's `Set`, so the first
//! bad flag is the one reported.

use std::collections::BTreeMap;

use super::golang;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--flag` alone means true; `--flag=false` is accepted too.
    Bool,
    /// Needs a value, inline (`--flag=v`, `-fv`) or as the next argument.
    Value,
}

/// How a value flag's value is checked while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Any string.
    Any,
    /// An output format name (`--format`).
    Format,
    /// A relation selector (`-r`/`--relation`).
    Relation,
}

/// One flag a tool accepts.
#[derive(Debug)]
pub(crate) struct FlagDef {
    /// Names without dashes; the first is the key the value is stored under.
    /// One-letter names print as `-x`, longer ones as `--name`.
    pub names: &'static [&'static str],
    /// Bool or value.
    pub kind: FlagKind,
    /// Validation applied to a value flag's value.
    pub check: Check,
    /// Default shown in `--help` (e.g. `false`, `smart`), if any.
    pub default: &'static str,
    /// One-line help.
    pub help: &'static str,
}

/// Flags and positionals after a successful parse.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    values: BTreeMap<&'static str, String>,
    /// Arguments that are not flags, in order.
    pub positionals: Vec<String>,
}

impl Parsed {
    /// The last value given for the flag whose first name is `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// True when the bool flag `key` was given and set to true.
    pub fn is_set(&self, key: &str) -> bool {
        self.value(key) == Some("true")
    }
}

/// What parsing produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Flags and positionals.
    Parsed(Parsed),
    /// `--help` or `-h` was given.
    Help,
}

/// Parses `args` against `defs`. `check` validates a value flag's value and
/// returns the reason it is invalid. The error is the text after `ERROR `.
pub(crate) fn parse(
    defs: &[&FlagDef],
    args: &[String],
    check: &mut dyn FnMut(&FlagDef, &str) -> Result<(), String>,
) -> Result<Outcome, String> {
    let mut parsed = Parsed::default();
    let mut index = 0;
    // The not yet consumed remainder of a short-flag group (`-ab` → `b`), or
    // `=value` after a long flag.
    let mut pending = String::new();
    loop {
        let (name, long) = if !pending.is_empty() {
            let first = pending.chars().next().map(String::from).unwrap_or_default();
            pending.drain(..first.len());
            (first, false)
        } else {
            let Some(arg) = args.get(index) else { break };
            index += 1;
            if arg == "-" || arg.is_empty() || !arg.starts_with('-') {
                parsed.positionals.push(arg.clone());
                continue;
            }
            if arg == "--" {
                parsed.positionals.extend(args[index..].iter().cloned());
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                match long.find('=') {
                    Some(0) => {
                        return Err(format!("empty flag in argument {}", golang::quote(arg)))
                    }
                    Some(eq) => {
                        pending = long[eq..].to_owned();
                        (long[..eq].to_owned(), true)
                    }
                    None => (long.to_owned(), true),
                }
            } else {
                let short = &arg[1..];
                let first = short.chars().next().map(String::from).unwrap_or_default();
                pending = short[first.len()..].to_owned();
                (first, false)
            }
        };

        let Some(def) = defs.iter().find(|def| def.names.contains(&name.as_str())) else {
            if name == "help" || name == "h" {
                return Ok(Outcome::Help);
            }
            return Err(format!(
                "option provided but not defined: {}",
                with_dashes(&name)
            ));
        };
        let key = def.names[0];
        if def.kind == FlagKind::Bool && !pending.starts_with('=') {
            parsed.values.insert(key, "true".to_owned());
            continue;
        }
        let value = if !pending.is_empty() {
            let raw = std::mem::take(&mut pending);
            if long {
                raw[1..].to_owned()
            } else {
                raw
            }
        } else if let Some(next) = args.get(index) {
            index += 1;
            next.clone()
        } else {
            return Err(format!("option needs an argument: {}", with_dashes(&name)));
        };
        let invalid = |reason: String| {
            format!(
                "invalid value {} for option {}: {reason}",
                golang::quote(&value),
                with_dashes(&name)
            )
        };
        let stored = match def.kind {
            FlagKind::Bool => golang::parse_bool(&value).map_err(invalid)?.to_string(),
            FlagKind::Value => {
                check(def, &value).map_err(invalid)?;
                value.clone()
            }
        };
        parsed.values.insert(key, stored);
    }
    Ok(Outcome::Parsed(parsed))
}

/// `r` → `-r`, `app` → `--app`, as gnuflag prints flag names.
pub(crate) fn with_dashes(name: &str) -> String {
    if name.chars().count() > 1 {
        format!("--{name}")
    } else {
        format!("-{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[FlagDef] = &[
        FlagDef {
            names: &["app"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "",
        },
        FlagDef {
            names: &["a", "all"],
            kind: FlagKind::Bool,
            check: Check::Any,
            default: "false",
            help: "",
        },
        FlagDef {
            names: &["r", "relation"],
            kind: FlagKind::Value,
            check: Check::Relation,
            default: "",
            help: "",
        },
    ];

    fn run(args: &[&str]) -> Result<Outcome, String> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let defs: Vec<&FlagDef> = DEFS.iter().collect();
        parse(&defs, &args, &mut |_, value| {
            if value == "bad" {
                Err("nope".into())
            } else {
                Ok(())
            }
        })
    }

    fn parsed(args: &[&str]) -> Parsed {
        match run(args) {
            Ok(Outcome::Parsed(parsed)) => parsed,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn value_flags_take_inline_or_next_values() {
        assert_eq!(parsed(&["-r", "db:1"]).value("r"), Some("db:1"));
        assert_eq!(parsed(&["-rdb:1"]).value("r"), Some("db:1"));
        assert_eq!(parsed(&["--relation=db:1"]).value("r"), Some("db:1"));
        assert_eq!(parsed(&["--relation", "db:1"]).value("r"), Some("db:1"));
        assert_eq!(
            parsed(&["-r", "1", "--relation", "2"]).value("r"),
            Some("2")
        );
    }

    #[test]
    fn bool_flags_accept_explicit_values() {
        assert!(parsed(&["--app"]).is_set("app"));
        assert!(parsed(&["--app=True"]).is_set("app"));
        assert!(!parsed(&["--app=False"]).is_set("app"));
        assert!(!parsed(&["--app=0"]).is_set("app"));
        assert!(parsed(&["-a"]).is_set("a"));
        assert!(parsed(&["--all"]).is_set("a"));
        assert_eq!(
            run(&["--app=maybe"]).err(),
            Some("invalid value \"maybe\" for option --app: strconv.ParseBool: parsing \"maybe\": invalid syntax".into())
        );
    }

    #[test]
    fn short_groups_and_interspersed_positionals() {
        let p = parsed(&["one", "-ar", "7", "two", "--", "--app", "-r"]);
        assert!(p.is_set("a"));
        assert!(!p.is_set("app"));
        assert_eq!(p.value("r"), Some("7"));
        assert_eq!(p.positionals, ["one", "two", "--app", "-r"]);
        assert_eq!(parsed(&["-", ""]).positionals, ["-", ""]);
    }

    #[test]
    fn errors_use_juju_wording() {
        assert_eq!(
            run(&["--bogus"]).err(),
            Some("option provided but not defined: --bogus".into())
        );
        assert_eq!(
            run(&["-x"]).err(),
            Some("option provided but not defined: -x".into())
        );
        assert_eq!(
            run(&["-r"]).err(),
            Some("option needs an argument: -r".into())
        );
        assert_eq!(
            run(&["--relation=bad"]).err(),
            Some("invalid value \"bad\" for option --relation: nope".into())
        );
        assert_eq!(
            run(&["--=x"]).err(),
            Some("empty flag in argument \"--=x\"".into())
        );
    }

    #[test]
    fn help_is_recognised_anywhere_before_double_dash() {
        assert!(matches!(run(&["x", "--help"]), Ok(Outcome::Help)));
        assert!(matches!(run(&["-h"]), Ok(Outcome::Help)));
        assert!(matches!(run(&["--", "--help"]), Ok(Outcome::Parsed(_))));
    }
}
