//! `charmcraft analyse` (PyPI charmcraft, Canonical's charm linter) on the charm as
//! `cargo xtask pack` packs it: every linter answers OK or "not applicable", none warns
//! or errs. The linters read the archive's files (`dispatch` and its entrypoint, the YAML
//! files), which are the same for every binary the pack puts at `bin/mysql-charm`.

use xtask::pack::{pack, CharmSource, CHARM_FILE_NAME};

#[test]
fn charmcraft_analyse_finds_no_warning_or_error_in_the_packed_charm() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let charm = scratch.path().join(CHARM_FILE_NAME);
    let source = CharmSource::from_this_repo(env!("CARGO_BIN_EXE_e2e-mysql-charm"));
    pack(&source, &charm).expect("pack the charm");
    xtask::lint::assert_clean(&charm);
}
