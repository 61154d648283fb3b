//! `deploy/crds/` holds the CRDs generated from the Rust types; this fails when they drift.
//! Regenerate with `cargo xtask crds`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn deploy_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    for (file, crd) in portal_kube::api::crds::crds() {
        let expected = portal_kube::api::crds::render(&crd).unwrap();
        let path = dir.join(file);
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "{} is out of date with the Rust types: run `cargo xtask crds` and commit the result",
            path.display()
        );
    }
}
