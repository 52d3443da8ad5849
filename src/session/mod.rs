//! Sessions: the life cycle of a login — start (signup or login), the refresh exchange with
//! rotation and reuse detection, logout, "log out everywhere" and single-token revocation.
//! No HTTP here; the endpoints build on this.

mod builder;
mod error;
mod hook;
mod listing;
mod sessions;

pub use builder::SessionsBuilder;
pub use error::{RefreshError, StartError};
pub use hook::{RefreshDecision, RefreshHook};
pub use listing::{Login, SessionInfo};
pub use sessions::Sessions;
