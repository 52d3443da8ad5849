//! Sessions: the refresh exchange with rotation and reuse detection, logout, "log out
//! everywhere" and single-token revocation. No HTTP here; the endpoints build on this.

mod error;
mod hook;
mod sessions;

pub use error::RefreshError;
pub use hook::{RefreshDecision, RefreshHook};
pub use sessions::{Sessions, SessionsBuilder};
