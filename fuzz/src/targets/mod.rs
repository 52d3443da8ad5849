//! The fuzz targets' code, one module per target: each `run` takes one input and reports
//! whether it reached the path that accepts. The binaries under `fuzz_targets/` hand
//! libFuzzer's inputs to these; the seed check (`tests/seeds.rs`) hands them the committed
//! seeds.

pub mod bearer_request;
pub mod dpop_proof;
pub mod jwk_import;
pub mod token_endpoints;
pub mod verify_resigned;
pub mod verify_token;
