//! MySQL version strings as the emulator needs them: ordering (is this a downgrade?), the
//! numeric id MySQL prints in its error log (`8.0.34` -> `80034`), and which in-place
//! downgrades and clones MySQL accepts between two versions.

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

/// Whether a server of version `to` starts on a data directory last written by `from`
/// (older than `from`). MySQL 8.0 downgrades in place only within 8.0 and only to 8.0.35 or
/// later ("Attempting to downgrade below MySQL 8.0.35 yields" MY-013171); the 8.4 LTS
/// series downgrades in place within itself; nothing else does (5.7, Innovation
/// releases, across series).
pub(crate) fn in_place_downgrade_supported(from: &str, to: &str) -> bool {
    match (numbers(from).as_deref(), numbers(to).as_deref()) {
        (Some([8, 0, _, ..]), Some([8, 0, patch, ..])) => *patch >= 35,
        (Some([8, 4, _, ..]), Some([8, 4, _, ..])) => true,
        _ => false,
    }
}

/// Whether MySQL's clone plugin copies `donor`'s data to a recipient of version
/// `recipient`: the same version, or (from 8.0.37, and in the 8.4 LTS series) the same
/// series.
pub(crate) fn clone_supported(donor: &str, recipient: &str) -> bool {
    if compare(donor, recipient) == Ordering::Equal {
        return true;
    }
    match (numbers(donor).as_deref(), numbers(recipient).as_deref()) {
        (Some([8, 0, a, ..]), Some([8, 0, b, ..])) => *a >= 37 && *b >= 37,
        (Some([8, 4, _, ..]), Some([8, 4, _, ..])) => true,
        _ => false,
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
    fn in_place_downgrades_follow_mysqls_rules() {
        assert!(!in_place_downgrade_supported("8.0.34", "8.0.33"));
        assert!(!in_place_downgrade_supported("8.0.35", "8.0.34"));
        assert!(in_place_downgrade_supported("8.0.36", "8.0.35"));
        assert!(in_place_downgrade_supported("8.0.40", "8.0.35-0ubuntu1"));
        assert!(in_place_downgrade_supported("8.4.3", "8.4.0"));
        assert!(!in_place_downgrade_supported("8.4.0", "8.0.40"));
        assert!(!in_place_downgrade_supported("9.1.0", "9.0.1"));
        assert!(!in_place_downgrade_supported("beta", "alpha"));
    }

    #[test]
    fn clones_need_the_same_version_before_8_0_37() {
        assert!(clone_supported("8.0.34", "8.0.34-0ubuntu1"));
        assert!(!clone_supported("8.0.34", "8.0.33"));
        assert!(!clone_supported("8.0.37", "8.0.36"));
        assert!(clone_supported("8.0.38", "8.0.37"));
        assert!(clone_supported("8.4.1", "8.4.3"));
        assert!(!clone_supported("8.4.0", "8.0.40"));
    }

    #[test]
    fn prints_mysql_version_ids() {
        assert_eq!(version_id("8.0.34"), "80034");
        assert_eq!(version_id("8.4.2-0ubuntu1"), "80402");
        assert_eq!(version_id("8.0"), "8.0");
    }
}
