//! The `verify_token` target: see `tower_jwt_auth_fuzz::targets::verify_token`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::targets::verify_token;

fuzz_target!(|data: &[u8]| {
    let _ = verify_token::run(data);
});
