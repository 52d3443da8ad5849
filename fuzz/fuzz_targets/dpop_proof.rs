//! The `dpop_proof` target: see `tower_jwt_auth_fuzz::targets::dpop_proof`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::targets::dpop_proof;

fuzz_target!(|data: &[u8]| {
    let _ = dpop_proof::run(data);
});
