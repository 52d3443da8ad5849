//! The `token_endpoints` target: see `tower_jwt_auth_fuzz::targets::token_endpoints`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::targets::token_endpoints;

fuzz_target!(|data: &[u8]| {
    let _ = token_endpoints::run(data);
});
