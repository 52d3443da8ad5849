//! [`RedisBackend`]: session records and the deny-list in Redis, shared by every instance,
//! with a pub/sub change feed (feature `redis`).
//!
//! One concept per file: `scripts` (the Lua of every write), `keys` (key naming and the
//! prefix), `backend` (the backend and its writes), `feed` (the change feed and the `SCAN`
//! walks of load and purge), `builder` (settings and connecting), `listing` (the index of
//! sessions by subject and the listing), `replay` (the DPoP replay cache), `connection` (one Redis or a Redis Cluster).
//!
//! # On a Redis Cluster
//!
//! Every script names keys of one hash slot only: the keys of one session (record,
//! revocation) share the session id as hash tag, and every other entry is one key. The one
//! write over two tags, a start (the session's record and its subject's index), stays two
//! steps rather than a new layout: a rotation knows the session id alone, so the record
//! cannot move under the subject's tag. The record comes first, the index second; a start
//! whose second step fails fails as a whole (no tokens are issued, and the record no one
//! holds a token of is forgotten at its forget-after time), and a retry runs both steps
//! again, each of which leaves what it finds in place. So the key layout is the one of a
//! single Redis, and data written before cluster support needs no migration.
//!
//! Reads over many keys (a warm start's and a purge's values, a listing's records) are one
//! pipeline on one Redis and one command per key on a cluster, a bounded number in flight.
//! A walk (`SCAN`) visits every primary, and fails while a resharding is under way or when
//! the slot map changed meanwhile.
//! The change feed subscribes on one node, heartbeats are published by every primary and
//! passed on once all copies arrived (see `feed`).

mod backend;
mod builder;
mod connection;
mod feed;
mod keys;
mod listing;
mod replay;
mod scripts;

pub use backend::RedisBackend;
pub use builder::RedisBackendBuilder;
