//! The dependency model: which versions a charm revision ships and which it can upgrade from.
//!
//! Each charm revision carries a model (for MySQL: components `charm` and `snap`). The leader
//! stores the deployed model in the app bag (`dependencies`) and, on `upgrade-charm`, checks that
//! every deployed component version satisfies the new revision's `upgrade_supported` range.
//!
//! Ranges follow v0's `verify_requirements`, which delegates to Poetry's version constraints:
//! `^1.2`, `~1.2`, `1.*`, `*`, `>1`, `>=1.2`, `<2`, `<=1.2.3`, `=1.2`/`==1.2`/bare `1.2` (exact),
//! `!=1.2`, joined by `,` or spaces (all must hold) and `||` (either may hold). Partial versions
//! are padded with zeros for comparisons, so `>1` accepts `1.8` and `=1.2` means exactly
//! `1.2.0` — unlike Cargo, where `>1` means `>=2.0.0` and `=1.2` means `1.2.x`. The comparisons
//! themselves are the [`semver`] crate's.

use std::collections::BTreeMap;
use std::fmt;

use semver::{BuildMetadata, Comparator, Op, Prerelease, Version};
use serde::{Deserialize, Serialize};

use crate::error::{DependencyError, RequirementError, VersionIncompatible, VersionParseError};

/// A version or range term split into its parts, before deciding what it means.
#[derive(Debug)]
struct PartialVersion {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    /// A trailing `*`/`x` part was given (`1.*`, `1.2.x`, `*`).
    wildcard: bool,
    pre: Prerelease,
    build: BuildMetadata,
}

/// Reads `[v]major[.minor[.patch]][-pre][+build]`, where the last given numeric part may be a
/// wildcard (`*`, `x`, `X`).
fn parse_partial(text: &str) -> Result<PartialVersion, String> {
    let text = text.trim();
    let body = text
        .strip_prefix('v')
        .or_else(|| text.strip_prefix('V'))
        .unwrap_or(text);
    if body.is_empty() {
        return Err("no version given".to_owned());
    }
    let (body, build) = match body.split_once('+') {
        Some((core, build)) => (core, build),
        None => (body, ""),
    };
    let (core, pre) = match body.split_once('-') {
        Some((core, pre)) => (core, pre),
        None => (body, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err("more than three numeric parts".to_owned());
    }
    let mut numbers = [None; 3];
    let mut wildcard = false;
    for (index, part) in parts.iter().enumerate() {
        if wildcard {
            return Err("nothing may follow a wildcard".to_owned());
        }
        if matches!(*part, "*" | "x" | "X") {
            wildcard = true;
            continue;
        }
        if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!("{part:?} is not a number"));
        }
        let number = part
            .parse::<u64>()
            .map_err(|_| format!("{part:?} is too large"))?;
        numbers[index] = Some(number);
    }
    if (!pre.is_empty() || !build.is_empty()) && (wildcard || numbers[2].is_none()) {
        return Err("a pre-release or build suffix needs a full major.minor.patch".to_owned());
    }
    let pre = Prerelease::new(pre).map_err(|err| format!("pre-release {pre:?}: {err}"))?;
    let build = BuildMetadata::new(build).map_err(|err| format!("build {build:?}: {err}"))?;
    Ok(PartialVersion {
        major: numbers[0],
        minor: numbers[1],
        patch: numbers[2],
        wildcard,
        pre,
        build,
    })
}

/// Parses a component version; missing minor and patch parts are zero (`8` is `8.0.0`).
pub fn parse_version(text: &str) -> Result<Version, VersionParseError> {
    let error = |reason: String| VersionParseError {
        text: text.to_owned(),
        reason,
    };
    let partial = parse_partial(text).map_err(error)?;
    if partial.wildcard {
        return Err(error("a version cannot contain a wildcard".to_owned()));
    }
    let major = partial
        .major
        .ok_or_else(|| error("no major version".to_owned()))?;
    Ok(Version {
        major,
        minor: partial.minor.unwrap_or(0),
        patch: partial.patch.unwrap_or(0),
        pre: partial.pre,
        build: partial.build,
    })
}

/// One condition of a conjunction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// `*`: every version.
    Any,
    /// The version must satisfy the comparator.
    Is(Comparator),
    /// The version must not satisfy the comparator (`!=`).
    IsNot(Comparator),
}

impl Term {
    fn matches(&self, version: &Version) -> bool {
        match self {
            Term::Any => true,
            Term::Is(comparator) => comparator.matches(version),
            Term::IsNot(comparator) => !comparator.matches(version),
        }
    }
}

/// Operators in the order they must be tried (longest first).
const OPERATORS: [&str; 11] = [">=", "<=", "==", "!=", "~=", ">", "<", "=", "^", "~", ""];

fn split_operator(token: &str) -> (&'static str, &str) {
    for operator in OPERATORS {
        if let Some(rest) = token.strip_prefix(operator) {
            return (operator, rest);
        }
    }
    ("", token)
}

fn parse_term(token: &str) -> Result<Term, String> {
    let (operator, rest) = split_operator(token);
    if operator == "~=" {
        return Err("operator ~= is not supported; use ~ or ^".to_owned());
    }
    let partial = parse_partial(rest)?;
    let pre = partial.pre.clone();
    if partial.wildcard {
        let Some(major) = partial.major else {
            return match operator {
                "" | "=" | "==" => Ok(Term::Any),
                _ => Err(format!("operator {operator} cannot take a bare wildcard")),
            };
        };
        let comparator = Comparator {
            op: Op::Wildcard,
            major,
            minor: partial.minor,
            patch: None,
            pre,
        };
        return match operator {
            "" | "=" | "==" => Ok(Term::Is(comparator)),
            "!=" => Ok(Term::IsNot(comparator)),
            _ => Err(format!("operator {operator} cannot take a wildcard")),
        };
    }
    let major = partial.major.ok_or_else(|| "no major version".to_owned())?;
    let ranged = |op: Op| Comparator {
        op,
        major,
        minor: partial.minor,
        patch: partial.patch,
        pre: pre.clone(),
    };
    // Inequalities and exact matches compare against the zero-padded version, as Poetry does.
    let padded = |op: Op| Comparator {
        op,
        major,
        minor: Some(partial.minor.unwrap_or(0)),
        patch: Some(partial.patch.unwrap_or(0)),
        pre: pre.clone(),
    };
    Ok(match operator {
        "^" => Term::Is(ranged(Op::Caret)),
        "~" => Term::Is(ranged(Op::Tilde)),
        ">=" => Term::Is(padded(Op::GreaterEq)),
        ">" => Term::Is(padded(Op::Greater)),
        "<=" => Term::Is(padded(Op::LessEq)),
        "<" => Term::Is(padded(Op::Less)),
        "!=" => Term::IsNot(padded(Op::Exact)),
        _ => Term::Is(padded(Op::Exact)),
    })
}

/// Splits one alternative into terms: commas and spaces both separate terms, and an operator
/// written apart from its version (`>= 1.2`) is joined back to it.
fn parse_conjunction(alternative: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    for piece in alternative.split(',') {
        let mut pending_operator: Option<&str> = None;
        let mut words = piece.split_whitespace().peekable();
        if words.peek().is_none() {
            return Err("empty term".to_owned());
        }
        for word in words {
            if let Some(operator) = pending_operator.take() {
                terms.push(parse_term(&format!("{operator}{word}"))?);
            } else if OPERATORS.contains(&word) {
                pending_operator = Some(word);
            } else {
                terms.push(parse_term(word)?);
            }
        }
        if let Some(operator) = pending_operator {
            return Err(format!("operator {operator} has no version"));
        }
    }
    Ok(terms)
}

/// A version range, as written in `upgrade_supported` and `dependencies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    text: String,
    /// Any alternative may hold; every term of an alternative must hold.
    alternatives: Vec<Vec<Term>>,
}

impl Requirement {
    /// Parses a range; the error keeps the text.
    pub fn parse(text: &str) -> Result<Self, RequirementError> {
        let error = |reason: String| RequirementError {
            text: text.to_owned(),
            reason,
        };
        if text.trim().is_empty() {
            return Err(error("empty requirement".to_owned()));
        }
        let alternatives = text
            .replace("||", "|")
            .split('|')
            .map(parse_conjunction)
            .collect::<Result<Vec<_>, _>>()
            .map_err(error)?;
        Ok(Requirement {
            text: text.to_owned(),
            alternatives,
        })
    }

    /// Whether `version` satisfies the range.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|terms| terms.iter().all(|term| term.matches(version)))
    }

    /// Whether the version written as `version` satisfies the range.
    pub fn allows(&self, version: &str) -> Result<bool, VersionParseError> {
        Ok(self.matches(&parse_version(version)?))
    }

    /// The range as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why [`verify_requirements`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeCheckError {
    /// The range does not parse.
    #[error(transparent)]
    Requirement(#[from] RequirementError),
    /// The version does not parse.
    #[error(transparent)]
    Version(#[from] VersionParseError),
}

/// v0's `verify_requirements(version, requirement)`: whether `version` meets `requirement`.
pub fn verify_requirements(version: &str, requirement: &str) -> Result<bool, RangeCheckError> {
    Ok(Requirement::parse(requirement)?.allows(version)?)
}

/// One component of a dependency model (v0's pydantic `DependencyModel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// Ranges of other applications this component needs, by application name.
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    /// The component's name, e.g. `charmed-mysql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Versions this revision can be upgraded from in place.
    pub upgrade_supported: String,
    /// The version this revision ships.
    pub version: String,
}

impl Dependency {
    /// Checks every range and the version, and that the version is inside its own
    /// `upgrade_supported` (as v0's validators do).
    pub fn validate(&self, component: &str) -> Result<(), DependencyError> {
        let version = parse_version(&self.version).map_err(|source| DependencyError::Version {
            component: component.to_owned(),
            source,
        })?;
        let requirement_error = |field: String, source| DependencyError::Requirement {
            component: component.to_owned(),
            field,
            source,
        };
        let upgrade_supported = Requirement::parse(&self.upgrade_supported)
            .map_err(|source| requirement_error("upgrade_supported".to_owned(), source))?;
        for (name, range) in &self.dependencies {
            Requirement::parse(range)
                .map_err(|source| requirement_error(format!("dependencies.{name}"), source))?;
        }
        if !upgrade_supported.matches(&version) {
            return Err(DependencyError::VersionOutsideOwnRange {
                component: component.to_owned(),
                version: self.version.clone(),
                upgrade_supported: self.upgrade_supported.clone(),
            });
        }
        Ok(())
    }

    /// v0's `can_upgrade`: whether this (deployed) version satisfies `new`'s
    /// `upgrade_supported`. Anything that does not parse counts as "no".
    pub fn can_upgrade_to(&self, new: &Dependency) -> bool {
        verify_requirements(&self.version, &new.upgrade_supported).unwrap_or(false)
    }
}

/// Every component of a charm revision, by component name (v0's model of `DependencyModel`s).
///
/// Serialises as the JSON object v0 stores, e.g.
/// `{"charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "1"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DependencyModel {
    /// Components by name, e.g. `charm` and `snap`.
    pub components: BTreeMap<String, Dependency>,
}

impl DependencyModel {
    /// Parses and validates a model (the charm's shipped JSON or the app bag's `dependencies`).
    pub fn from_json(text: &str) -> Result<Self, DependencyError> {
        let model: DependencyModel =
            serde_json::from_str(text).map_err(|err| DependencyError::Malformed {
                text: text.to_owned(),
                reason: err.to_string(),
            })?;
        model.validate()?;
        Ok(model)
    }

    /// The JSON stored in the app bag: compact, keys in alphabetical order (the order v0's
    /// models use), a component's `name` left out when it has none.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (index, (component, dependency)) in self.components.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(&json_string(component));
            out.push(':');
            out.push_str(&dependency_json(dependency));
        }
        out.push('}');
        out
    }

    /// Validates every component.
    pub fn validate(&self) -> Result<(), DependencyError> {
        self.components
            .iter()
            .try_for_each(|(component, dependency)| dependency.validate(component))
    }

    /// One component.
    pub fn get(&self, component: &str) -> Option<&Dependency> {
        self.components.get(component)
    }
}

/// A JSON string literal; serialising a `&str` cannot fail.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn dependency_json(dependency: &Dependency) -> String {
    let dependencies: serde_json::Map<String, serde_json::Value> = dependency
        .dependencies
        .iter()
        .map(|(name, range)| (name.clone(), serde_json::Value::from(range.as_str())))
        .collect();
    let mut object = serde_json::Map::new();
    object.insert(
        "dependencies".to_owned(),
        serde_json::Value::Object(dependencies),
    );
    if let Some(name) = &dependency.name {
        object.insert("name".to_owned(), serde_json::Value::from(name.as_str()));
    }
    object.insert(
        "upgrade_supported".to_owned(),
        serde_json::Value::from(dependency.upgrade_supported.as_str()),
    );
    object.insert(
        "version".to_owned(),
        serde_json::Value::from(dependency.version.as_str()),
    );
    serde_json::Value::Object(object).to_string()
}

/// v0's `_upgrade_supported_check`: every component of the `new` model must accept the
/// `old` (deployed) version of that component.
///
/// A component the deployed model does not have cannot be checked and counts as incompatible.
pub fn check_upgrade(
    old: &DependencyModel,
    new: &DependencyModel,
) -> Result<(), VersionIncompatible> {
    let mut message = String::from("Versions incompatible");
    let mut cause = String::from("Upgrades only supported for specific versions");
    let mut compatible = true;
    for (component, new_dependency) in &new.components {
        let old_version = match old.get(component) {
            Some(old_dependency) if old_dependency.can_upgrade_to(new_dependency) => continue,
            Some(old_dependency) => old_dependency.version.clone(),
            None => "(not deployed)".to_owned(),
        };
        compatible = false;
        message.push_str(&format!(
            ", {component} {old_version} can not be upgraded to {}",
            new_dependency.version
        ));
        cause.push_str(&format!(
            ", {component} versions satisfying requirement {}",
            new_dependency.upgrade_supported
        ));
    }
    if compatible {
        Ok(())
    } else {
        Err(VersionIncompatible { message, cause })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(requirement: &str, version: &str) -> bool {
        match verify_requirements(version, requirement) {
            Ok(answer) => answer,
            Err(err) => panic!("{requirement} / {version}: {err}"),
        }
    }

    fn check_table(table: &[(&str, &str, bool)]) {
        for &(requirement, version, expected) in table {
            assert_eq!(
                allows(requirement, version),
                expected,
                "requirement {requirement} with version {version}"
            );
        }
    }

    // The rows of v0's test_verify_caret_requirements that use a caret.
    #[test]
    fn caret_ranges_follow_v0() {
        check_table(&[
            ("^1.2.3", "1.2.2", false),
            ("^1.2.3", "1.3", true),
            ("^1.2.3", "2.2.5", false),
            ("^1.2", "1.2.2", true),
            ("^1.2.3", "1.2", false),
            ("^1", "1.2.2", true),
            ("^1", "1.6", true),
            ("^1", "1.7.9", true),
            ("^1", "0.6", false),
            ("^1", "2", false),
            ("^1", "2.3", false),
            ("^0.2.3", "0.2.2", false),
            ("^0.2.3", "0.2.5", true),
            ("^0.2.3", "1.2.5", false),
            ("^0.2.3", "0.3.6", false),
            ("^0.0.3", "0.0.4", false),
            ("^0.0.3", "0.0.2", false),
            ("^0.0.3", "0.0", false),
            ("^0.0.3", "0.3.6", false),
            ("^0.0", "0.0.3", true),
            ("^0.0", "0.1.0", false),
            ("^0", "0.1.0", true),
            ("^0", "0.3.6", true),
            ("^0", "1.0.0", false),
        ]);
    }

    // The rows of v0's test_verify_tilde_requirements that use a tilde.
    #[test]
    fn tilde_ranges_follow_v0() {
        check_table(&[
            ("~1.2.3", "1.2.2", false),
            ("~1.2.3", "1.3.2", false),
            ("~1.2.3", "1.3.5", false),
            ("~1.2.3", "1.2.5", true),
            ("~1.2.3", "1.2", false),
            ("~1.2", "1.2", true),
            ("~1.2", "1.6", false),
            ("~1.2", "1.2.4", true),
            ("~1.2", "1.1", false),
            ("~1.2", "1.0.5", false),
            ("~0.2", "0.2", true),
            ("~0.2", "0.2.3", true),
            ("~0.2", "0.3", false),
            ("~1", "0.3", false),
            ("~1", "1.3", true),
            ("~1", "0.0.9", false),
            ("~1", "0.9.9", false),
            ("~1", "1.9.9", true),
            ("~1", "1.7", true),
            ("~1", "1", true),
            ("~0", "1", false),
            ("~0", "0.1", true),
            ("~0", "0.5.9", true),
            ("~8.0.31", "8.0.32", true),
            ("~8.0.31", "8.1.0", false),
        ]);
    }

    // The rows of v0's test_verify_wildcard_requirements that use a wildcard.
    #[test]
    fn wildcard_ranges_follow_v0() {
        check_table(&[
            ("*", "1.5.6", true),
            ("*", "0.0.1", true),
            ("*", "0.2.0", true),
            ("*", "1.0.0", true),
            ("1.*", "1.0.0", true),
            ("1.*", "2.0.0", false),
            ("1.*", "0.6.2", false),
            ("1.2.*", "0.6.2", false),
            ("1.2.*", "1.6.2", false),
            ("1.2.*", "1.2.2", true),
            ("1.2.*", "1.2.0", true),
            ("1.2.*", "1.1.6", false),
            ("1.2.*", "1.1.0", false),
            ("0.2.*", "1.1.0", false),
            ("0.2.*", "0.1.0", false),
            ("0.2.*", "0.2.9", true),
            ("0.2.*", "0.6.0", false),
            ("1.x", "1.9.0", true),
        ]);
    }

    // The rows of v0's test_verify_inequality_requirements that use an inequality. Note `>1`
    // accepts 1.8: partial versions are zero-padded, unlike Cargo's `>1` (which means >=2).
    #[test]
    fn greater_than_ranges_follow_v0() {
        check_table(&[
            (">1", "1.8", true),
            (">1", "8.8.0", true),
            (">0", "8.8.0", true),
            (">0", "0.0", false),
            (">0", "0.0.0", false),
            (">0", "0.0.1", true),
            (">1.0", "1.0.0", false),
            (">1.0", "1.0", false),
            (">1.0", "1.5.6", true),
            (">1.0", "2.0", true),
            (">1.0", "0.0.4", false),
            (">1.6", "1.3", false),
            (">1.6", "1.3.8", false),
            (">1.6", "1.35.8", true),
            (">1.6", "1.6.1", true),
            (">1.6.3", "1.7.8", true),
            (">1.22.3", "1.7.8", false),
            (">0.22.3", "1.7.8", true),
            (">=1.0", "1.0.0", true),
            (">=1.0", "1.0", true),
            (">=0.2", "0.2", true),
            (">=0.2.7", "0.2.7", true),
            (">=1.0", "1.5.6", true),
            (">=1", "1", true),
            (">=1", "1.0", true),
            (">=1", "1.0.0", true),
            (">=1", "1.0.6", true),
            (">=1", "0.0", false),
            (">=1", "0.0.1", false),
            (">=1.0", "2.0", true),
            (">=1.0", "0.0.4", false),
            (">=1.6", "1.3", false),
            (">=1.6", "1.3.8", false),
            (">=1.6", "1.35.8", true),
            (">=1.6.3", "1.7.8", true),
            (">=1.22.3", "1.7.8", false),
            (">=0.22.3", "1.7.8", true),
        ]);
    }

    // Poetry's meaning of the other operators (what v0 delegates to), including where it
    // differs from Cargo's.
    #[test]
    fn less_than_exact_and_negated_ranges_compare_zero_padded_versions() {
        check_table(&[
            ("<2", "1.9.9", true),
            ("<2", "2.0.0", false),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            ("<=1.2", "1.2.0", true),
            ("<=1.2", "1.2.5", false),
            ("<=1.2.3", "1.2.3", true),
            ("=1.2", "1.2.0", true),
            ("=1.2", "1.2.5", false),
            ("==1.2.3", "1.2.3", true),
            ("1.2", "1.2", true),
            ("1.2", "1.2.1", false),
            ("0", "0.1", false),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.*", "1.5.0", false),
            ("!=1.*", "2.0.0", true),
        ]);
    }

    #[test]
    fn conjunctions_and_alternatives_combine_terms() {
        check_table(&[
            (">=1.2,<2", "1.5", true),
            (">=1.2,<2", "2.0", false),
            (">=1.2, <2", "1.1", false),
            (">=1.2 <2", "1.5", true),
            (">= 1.2, < 2", "2.1", false),
            (">=8.0.31,<8.1,!=8.0.33", "8.0.33", false),
            (">=8.0.31,<8.1,!=8.0.33", "8.0.34", true),
            ("^1 || ^3", "3.2", true),
            ("^1 || ^3", "2.2", false),
            ("^1|^3", "1.0.1", true),
        ]);
    }

    #[test]
    fn bad_ranges_are_typed_errors_keeping_the_text() {
        for bad in [
            "",
            " ",
            "saruman",
            ">",
            ">=",
            "^",
            "1.2.3.4",
            "^*",
            ">1.*",
            "1.*.2",
            "~=1.2",
            ">=1.2,",
            ",<2",
            "1.2-alpha",
            "01x",
            "||",
            "99999999999999999999999",
        ] {
            match Requirement::parse(bad) {
                Err(err) => assert_eq!(err.text, bad),
                Ok(parsed) => panic!("{bad:?} parsed as {parsed:?}"),
            }
        }
    }

    #[test]
    fn versions_pad_partials_and_reject_junk() {
        assert_eq!(parse_version("8").expect("valid"), Version::new(8, 0, 0));
        assert_eq!(parse_version("8.0").expect("valid"), Version::new(8, 0, 0));
        assert_eq!(
            parse_version("v8.0.34").expect("valid"),
            Version::new(8, 0, 34)
        );
        let pre = parse_version("8.0.34-rc1+build.5").expect("valid");
        assert_eq!(pre.pre.as_str(), "rc1");
        for bad in ["", "x", "8.*", "8.0.34.1", "8.0-rc1", "eight", "8..1", "-1"] {
            let err = parse_version(bad).unwrap_err();
            assert_eq!(err.text, bad);
        }
    }

    fn model(json: &str) -> DependencyModel {
        DependencyModel::from_json(json).expect("valid model")
    }

    const MYSQL: &str = r#"{
        "charm": {"dependencies": {}, "name": "mysql", "upgrade_supported": ">0", "version": "1"},
        "snap": {"dependencies": {}, "name": "charmed-mysql", "upgrade_supported": "~8.0.31", "version": "8.0.32"}
    }"#;

    #[test]
    fn dependency_model_round_trips_in_v0_layout() {
        let parsed = model(MYSQL);
        assert_eq!(parsed.components.len(), 2);
        assert_eq!(
            parsed.get("snap").map(|snap| snap.version.as_str()),
            Some("8.0.32")
        );
        let json = parsed.to_json();
        assert!(json.starts_with(
            r#"{"charm":{"dependencies":{},"name":"mysql","upgrade_supported":">0","version":"1"}"#
        ));
        assert_eq!(model(&json), parsed);
    }

    #[test]
    fn dependency_model_rejects_what_v0_rejects() {
        // v0's test_dependency_model_raises_for_incompatible_version.
        let outside = r#"{"w": {"dependencies": {"g": ">5"}, "name": "g", "upgrade_supported": ">5", "version": "4"}}"#;
        assert!(matches!(
            DependencyModel::from_json(outside),
            Err(DependencyError::VersionOutsideOwnRange { .. })
        ));
        // v0's bad dependency / bad upgrade_supported values.
        for bad in ["saruman", ""] {
            let in_dependencies = format!(
                r#"{{"w": {{"dependencies": {{"g": "~1.0", "durin": "{bad}"}}, "upgrade_supported": ">6", "version": "7"}}}}"#
            );
            match DependencyModel::from_json(&in_dependencies) {
                Err(DependencyError::Requirement { field, source, .. }) => {
                    assert_eq!(field, "dependencies.durin");
                    assert_eq!(source.text, bad);
                }
                other => panic!("{other:?}"),
            }
            let in_upgrade_supported = format!(
                r#"{{"w": {{"dependencies": {{}}, "upgrade_supported": "{bad}", "version": "7"}}}}"#
            );
            assert!(matches!(
                DependencyModel::from_json(&in_upgrade_supported),
                Err(DependencyError::Requirement { .. })
            ));
        }
        for malformed in ["", "[]", "{\"w\": 1}", "{\"w\": {\"version\": \"1\"}}", "{"] {
            match DependencyModel::from_json(malformed) {
                Err(DependencyError::Malformed { text, .. }) => assert_eq!(text, malformed),
                other => panic!("{malformed:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn upgrade_supported_check_passes_when_new_range_accepts_old_version() {
        // v0's test_upgrade_supported_check_succeeds: deployed 1.3, new accepts >1.2.
        let old =
            model(r#"{"w": {"dependencies": {}, "upgrade_supported": ">0.2", "version": "1.3"}}"#);
        let new =
            model(r#"{"w": {"dependencies": {}, "upgrade_supported": ">1.2", "version": "7"}}"#);
        assert_eq!(check_upgrade(&old, &new), Ok(()));
        assert_eq!(check_upgrade(&model(MYSQL), &model(MYSQL)), Ok(()));
    }

    #[test]
    fn upgrade_supported_check_fails_with_v0_message_and_cause() {
        // v0's test_upgrade_supported_check_fails: deployed 0.2.1, new accepts only >1.2.
        let old = model(
            r#"{"w": {"dependencies": {}, "upgrade_supported": "~0.2", "version": "0.2.1"}}"#,
        );
        let new =
            model(r#"{"w": {"dependencies": {}, "upgrade_supported": ">1.2", "version": "7"}}"#);
        let err = check_upgrade(&old, &new).unwrap_err();
        assert_eq!(
            err.message,
            "Versions incompatible, w 0.2.1 can not be upgraded to 7"
        );
        assert_eq!(
            err.cause,
            "Upgrades only supported for specific versions, w versions satisfying requirement >1.2"
        );
    }

    #[test]
    fn upgrade_supported_check_lists_every_incompatible_component_and_unknown_ones() {
        let old = model(
            r#"{"a": {"upgrade_supported": "^1", "version": "1.0"},
                "b": {"upgrade_supported": "^1", "version": "1.0"}}"#,
        );
        let new = model(
            r#"{"a": {"upgrade_supported": "^2", "version": "2.0"},
                "b": {"upgrade_supported": "^1", "version": "1.1"},
                "c": {"upgrade_supported": "*", "version": "1"}}"#,
        );
        let err = check_upgrade(&old, &new).unwrap_err();
        assert_eq!(
            err.message,
            "Versions incompatible, a 1.0 can not be upgraded to 2.0, c (not deployed) can not be upgraded to 1"
        );
        assert_eq!(
            err.cause,
            "Upgrades only supported for specific versions, a versions satisfying requirement ^2, c versions satisfying requirement *"
        );
    }
}
