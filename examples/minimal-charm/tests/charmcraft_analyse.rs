//! `charmcraft analyse` (PyPI charmcraft, Canonical's charm linter) on the example charm as
//! `cargo xtask pack --charm minimal` packs it: no linter warns or errs.

use std::path::Path;

use xtask::minimal::{pack, MinimalOverrides, CHARM_FILE_NAME};

#[test]
fn charmcraft_analyse_finds_no_warning_or_error_in_the_example_charm() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let charm = scratch.path().join(CHARM_FILE_NAME);
    let binary = Path::new(env!("CARGO_BIN_EXE_minimal-charm"));
    pack(binary, &MinimalOverrides::default(), &charm).expect("pack the example charm");
    xtask::lint::assert_clean(&charm);
}
