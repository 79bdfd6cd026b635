//! The charm binaries `cargo xtask` packs: the production charm, or the same charm on the
//! test workloads, which is what runs under `juju-sim`.

use anyhow::{bail, Result};

/// Which charm binary goes into a `.charm` archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharmBinary {
    /// `mysql-charm`: the production charm, on the `charmed-mysql` snap.
    Production,
    /// `mysql-test-charm` (package `mysql-test-workloads`): the charm on the emulated
    /// server, or a real MariaDB server per unit, as `juju-sim` selects.
    TestWorkloads,
}

impl CharmBinary {
    /// The value of `--workloads`: `production` (the default) or `test`.
    pub fn from_option(value: Option<&str>) -> Result<Self> {
        match value {
            None | Some("production") => Ok(Self::Production),
            Some("test") => Ok(Self::TestWorkloads),
            Some(other) => bail!("--workloads must be production or test, not {other:?}"),
        }
    }

    /// The cargo package that builds the binary.
    pub fn package(self) -> &'static str {
        match self {
            Self::Production => "mysql-charm",
            Self::TestWorkloads => "mysql-test-workloads",
        }
    }

    /// The binary's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Production => "mysql-charm",
            Self::TestWorkloads => "mysql-test-charm",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_unless_the_test_workloads_are_asked_for() {
        let default = CharmBinary::from_option(None).expect("default");
        assert_eq!(default, CharmBinary::Production);
        assert_eq!(
            (default.package(), default.name()),
            ("mysql-charm", "mysql-charm")
        );
        let test = CharmBinary::from_option(Some("test")).expect("test");
        assert_eq!(
            (test.package(), test.name()),
            ("mysql-test-workloads", "mysql-test-charm")
        );
        assert!(CharmBinary::from_option(Some("emulated")).is_err());
    }
}
