//! [`RedisBackend`]: session records and the deny-list in Redis, shared by every instance,
//! with a pub/sub change feed (feature `redis`).
//!
//! One concept per file: `scripts` (the Lua of every write), `keys` (key naming and the
//! prefix), `backend` (the backend and its writes), `feed` (the change feed and the `SCAN`
//! walks of load and purge), `builder` (settings and connecting), `listing` (the index of
//! sessions by subject and the listing).

mod backend;
mod builder;
mod connection;
mod feed;
mod keys;
mod listing;
mod scripts;

pub use backend::RedisBackend;
pub use builder::RedisBackendBuilder;
