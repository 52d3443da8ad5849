//! The `bearer_request` target: see `tower_jwt_auth_fuzz::targets::bearer_request`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::targets::bearer_request;

fuzz_target!(|data: &[u8]| {
    let _ = bearer_request::run(data);
});
