//! Juju's rules for application and unit names (from `juju/names`), which
//! relation-get uses to tell a unit target from an application target.

/// An application name: lowercase letters, digits and single hyphens,
/// starting with a letter, and every hyphen-separated part after the first
/// containing a letter (`mysql`, `mysql-k8s`, `pg-14a`; not `pg-14`).
pub(crate) fn is_valid_application(name: &str) -> bool {
    let mut parts = name.split('-');
    let Some(first) = parts.next() else {
        return false;
    };
    let lower_alnum = |part: &str| {
        part.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if !first.starts_with(|c: char| c.is_ascii_lowercase()) || !lower_alnum(first) {
        return false;
    }
    parts.all(|part| lower_alnum(part) && part.chars().any(|c| c.is_ascii_lowercase()))
}

/// A unit name: `<application>/<number>` without leading zeros.
pub(crate) fn is_valid_unit(name: &str) -> bool {
    let Some((app, number)) = name.split_once('/') else {
        return false;
    };
    let number_ok = number == "0"
        || (!number.is_empty()
            && !number.starts_with('0')
            && number.chars().all(|c| c.is_ascii_digit()));
    is_valid_application(app) && number_ok
}

/// The application part of a unit name.
pub(crate) fn unit_application(unit: &str) -> &str {
    crate::model::app_of(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_names() {
        for good in ["mysql", "mysql-k8s", "a1", "pg-14a", "ops-test"] {
            assert!(is_valid_application(good), "{good}");
        }
        for bad in [
            "", "1abc", "MySQL", "pg-14", "a--b", "a-", "my_sql", "mysql/0",
        ] {
            assert!(!is_valid_application(bad), "{bad}");
        }
    }

    #[test]
    fn unit_names() {
        for good in ["mysql/0", "mysql/10", "ops-test/3"] {
            assert!(is_valid_unit(good), "{good}");
        }
        for bad in [
            "mysql",
            "mysql/",
            "mysql/01",
            "mysql/x",
            "/0",
            "mysql/0/1",
            "x",
        ] {
            assert!(!is_valid_unit(bad), "{bad}");
        }
        assert_eq!(unit_application("mysql/3"), "mysql");
    }
}
