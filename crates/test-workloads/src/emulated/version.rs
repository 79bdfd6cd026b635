//! MySQL version strings as the emulator needs them: ordering (is this a downgrade?) and
//! the numeric id MySQL prints in its error log (`8.0.34` -> `80034`).

use std::cmp::Ordering;

/// The leading `major.minor.patch` numbers of a version such as `8.0.34-0ubuntu0.22.04.1`.
fn numbers(version: &str) -> Option<Vec<u64>> {
    let core = version
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or_default();
    let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// Orders two versions numerically; versions without numbers fall back to text order.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (numbers(a), numbers(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// MySQL's numeric version id (`8.0.34` -> `80034`), or the version itself when it has
/// not three numbers.
pub(crate) fn version_id(version: &str) -> String {
    match numbers(version).as_deref() {
        Some([major, minor, patch, ..]) => format!("{major}{minor:02}{patch:02}"),
        _ => version.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_numerically_and_ignores_packaging_suffixes() {
        assert_eq!(compare("8.0.9", "8.0.34"), Ordering::Less);
        assert_eq!(
            compare("8.0.34-0ubuntu0.22.04.1", "8.0.34"),
            Ordering::Equal
        );
        assert_eq!(compare("8.4.0", "8.0.36"), Ordering::Greater);
        assert_eq!(compare("beta", "alpha"), Ordering::Greater);
    }

    #[test]
    fn prints_mysql_version_ids() {
        assert_eq!(version_id("8.0.34"), "80034");
        assert_eq!(version_id("8.4.2-0ubuntu1"), "80402");
        assert_eq!(version_id("8.0"), "8.0");
    }
}
