//! Redaction of secrets in `Debug` output.

use std::fmt;

/// A write-only wrapper that renders as `[redacted]` in `Debug` and `Display`.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
