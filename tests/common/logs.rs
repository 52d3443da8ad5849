//! Log events captured in a buffer, to check what was logged (and that no secret was).

use std::{
    io,
    sync::{Arc, Mutex},
};

/// What [`Logs::capture`] holds.
pub struct Capture {
    _guard: tracing::subscriber::DefaultGuard,
    _anchor: tracing::Dispatch,
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The first line that contains `needle`; fails the test, showing every line, when none
    /// does.
    pub fn line(&self, needle: &str) -> String {
        let text = self.text();
        text.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_owned()
    }

    /// The last line that contains `needle`, like [`line`](Self::line).
    pub fn last_line(&self, needle: &str) -> String {
        let text = self.text();
        text.lines()
            .rfind(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_owned()
    }

    /// Captures this thread's events here until the guard is dropped, also when other tests
    /// run in parallel: `tracing` computes a callsite's interest once, for the whole
    /// process, and with a single registered dispatcher it asks the *registering* thread's
    /// default — a sibling test's thread without a subscriber would disable the callsite for
    /// every thread. A second registered dispatcher, interested in everything, keeps that
    /// from happening; the rebuild then re-enables callsites registered before.
    pub fn capture(&self) -> Capture {
        let anchor = tracing::Dispatch::new(self.subscriber());
        let guard = tracing::subscriber::set_default(self.subscriber());
        tracing::callsite::rebuild_interest_cache();
        Capture {
            _guard: guard,
            _anchor: anchor,
        }
    }

    /// A subscriber that writes every event, and every span as it is made, here.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::NEW)
            .with_writer(move || writer.clone())
            .finish()
    }
}
