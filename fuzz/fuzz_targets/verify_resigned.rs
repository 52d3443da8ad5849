//! The `verify_resigned` target: see `tower_jwt_auth_fuzz::targets::verify_resigned`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::targets::verify_resigned::{self, Input};

fuzz_target!(|input: Input| {
    let _ = verify_resigned::run(&input);
});
