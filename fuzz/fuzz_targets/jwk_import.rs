//! The `jwk_import` target: see `tower_jwt_auth_fuzz::targets::jwk_import`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::targets::jwk_import;

fuzz_target!(|data: &[u8]| {
    let _ = jwk_import::run(data);
});
