//! What the quickstart's tests share: key material in the forms the server reads, tokens
//! taken apart, and captured logs.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::{
    io,
    sync::{Arc, Mutex},
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde_json::Value;

/// The mock clock's start, in seconds since the epoch.
pub const T0: u64 = 1_800_000_000;

/// The RFC 8037 appendix A.1 Ed25519 private key, as PKCS#8 DER.
pub fn rfc8037_pkcs8() -> Vec<u8> {
    STANDARD
        .decode("MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g")
        .unwrap()
}

/// The public key of [`rfc8037_pkcs8`] (RFC 8037 appendix A.2, `x`).
pub fn rfc8037_public() -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        .unwrap()
}

/// DER in PEM armour with the given label ("PRIVATE KEY", "PUBLIC KEY").
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// An Ed25519 public key as SubjectPublicKeyInfo DER (RFC 8410).
pub fn ed25519_spki(public_key: &[u8]) -> Vec<u8> {
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(public_key);
    spki
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes the header (0) or the payload (1) of a compact JWS.
pub fn jws_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

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

    /// Captures this thread's events here until the guard is dropped, also when other tests
    /// run in parallel (a second registered dispatcher keeps a sibling test's thread from
    /// disabling the callsites for every thread).
    pub fn capture(&self) -> Capture {
        let anchor = tracing::Dispatch::new(self.subscriber());
        let guard = tracing::subscriber::set_default(self.subscriber());
        tracing::callsite::rebuild_interest_cache();
        Capture {
            _guard: guard,
            _anchor: anchor,
        }
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::NEW)
            .with_writer(move || writer.clone())
            .finish()
    }
}

/// Serves a quickstart on 127.0.0.1:0 on the system clock, named by the address it got (as
/// the binary does); its URL.
pub async fn serve_on_loopback() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = quickstart::Config {
        addr: listener.local_addr().unwrap().to_string(),
        hash_queue: std::time::Duration::from_secs(10),
        ..quickstart::Config::default()
    };
    let app = quickstart::app(&config).unwrap();
    tokio::spawn(quickstart::serve(listener, app, std::future::pending()));
    config.issuer_url()
}
