//! The committed seeds still reach the paths that accept: each target's seeds under
//! `corpus/<target>/` go through the target's own code, and at least one of them must be
//! accepted (a token verifies, a request gets through, a refresh is answered 200, a key
//! loads). A change of the token format that turns every seed into a rejection fails here;
//! `cargo run --example seeds` writes those of `verify_token` and `jwk_import` again, the
//! others are written by hand (see the README).
//!
//! ```sh
//! cargo test --manifest-path fuzz/Cargo.toml --test seeds
//! ```

use std::{fs, path::Path};

use tower_jwt_auth_fuzz::{
    Outcome, decode,
    targets::{
        bearer_request, dpop_proof, jwk_import, token_endpoints, verify_resigned, verify_token,
    },
};

/// Runs every seed of `target` through `run`; fails unless at least one is accepted.
fn seeds_reach_acceptance(target: &str, run: impl Fn(&[u8]) -> Outcome) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut seeds: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    let mut accepted = Vec::new();
    for path in &seeds {
        let bytes = fs::read(path).expect("seed");
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let outcome = run(&bytes);
        println!("{target}/{name}: {outcome:?}");
        if outcome == Outcome::Accepted {
            accepted.push(name);
        }
    }
    assert!(
        !accepted.is_empty(),
        "none of the {} seeds of {target} is accepted: regenerate or rewrite them",
        seeds.len()
    );
}

#[test]
fn verify_token_seeds_verify() {
    seeds_reach_acceptance("verify_token", verify_token::run);
}

#[test]
fn verify_resigned_seeds_verify() {
    seeds_reach_acceptance("verify_resigned", |bytes| {
        decode::<verify_resigned::Input>(bytes)
            .map_or(Outcome::Rejected, |input| verify_resigned::run(&input))
    });
}

#[test]
fn bearer_request_seeds_get_through() {
    seeds_reach_acceptance("bearer_request", bearer_request::run);
}

#[test]
fn token_endpoints_seeds_refresh() {
    seeds_reach_acceptance("token_endpoints", token_endpoints::run);
}

#[test]
fn jwk_import_seeds_load() {
    seeds_reach_acceptance("jwk_import", jwk_import::run);
}

#[test]
fn dpop_proof_seeds_pass() {
    seeds_reach_acceptance("dpop_proof", dpop_proof::run);
}
