//! What the fuzz targets share: fixed keys of four algorithms, a key set and an issuer on a
//! mock clock with some revocations in place, a signer for arbitrary headers and payloads, and
//! the checks every accepted token must pass whatever the input was; and the targets
//! themselves, in [`targets`].

use std::{future::Future, sync::OnceLock, time::Duration};

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    },
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde_json::Value;
use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey,
    clock::MockClock,
    keys::{Algorithm, VerifyingKey},
    store::RevocationEntry,
    token::TokenKind,
};

pub mod targets;

/// What a target made of one input: it reached the path that accepts (a token verified, a
/// request got through, a refresh was answered 200, a key loaded), or it was refused there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
}

/// An input of a structured target, decoded from its bytes as `fuzz_target!` does
/// (`None` where libFuzzer's target would return early).
pub fn decode<T: for<'a> arbitrary::Arbitrary<'a>>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < T::size_hint(0).0 {
        return None;
    }
    T::arbitrary_take_rest(arbitrary::Unstructured::new(bytes)).ok()
}

/// The fuzzing "now": 2027-01-15T08:00:00Z.
pub const T0: u64 = 1_800_000_000;
pub const ISS: &str = "https://issuer.test";
pub const AUD: &str = "api";
/// A token `jti` revoked by its own entry (which the crate no longer writes, but honours).
pub const REVOKED_JTI: &str = "revoked-jti";
/// A session whose access tokens numbered up to `WATERMARK_SEQ` were revoked (RFC 7009).
pub const WATERMARK_SID: &str = "watermarked-sid";
/// The highest revoked access-token number of `WATERMARK_SID`.
pub const WATERMARK_SEQ: u64 = 5;
/// A session that was logged out.
pub const REVOKED_SID: &str = "revoked-sid";
/// A subject that logged out everywhere at `T0` (every session started at or before it).
pub const CUT_SUB: &str = "carol";

/// The RFC 8037 appendix A.1 Ed25519 private key, PKCS#8.
const ED25519_PKCS8: &str = "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
/// A P-256 private key made for these targets, PKCS#8.
const P256_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXu0LmoOL2+xOLUXnDS0IFScXFvBfj04y02uszAarfwKhRANCAASCgEI4YVDjBlVKqiykNg4ATTrP4ZjowEYCPgE8pb3wAICB+Ve4lOPwnZpGmAQ4aJaTFyqxUoAwJCSHLBlL+VM3";
/// A 2048-bit RSA private key made for these targets, PKCS#8.
const RSA_PKCS8: &[&str] = &[
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCr6oWkDU4Aq/zWOkS2nBGTMDxMRIn5+yYZzIri",
    "Oi0S8Gje2K8Zb8sdphgKXz8/wWv7mhR8dmpAerg55kl2dfRHSwVv0JcrU0Sf8gTO9tOv5XapKOp33N8vhle6yRtC",
    "rrMHi+SSMi2DLYVvk+SFMQQBx2qXHbuj9emtR+em6IZ4Ks54hkZKmtfvI8tLqxX6s2E/zuIz79gCpfe4LQW/2Mq3",
    "EkEvyfi5VrXp0sxnkAGJs/9VbrGf2oKTqB/oH/Q1kCCJmqD3ILQQ2CjPl4WB796gpncvUq/87euAyoyIBbDBpKAZ",
    "m+lTCjaSoa+cJ3CmQgwXR3S3kQ1F0dJqv4yOo1NdAgMBAAECggEAFK4P6GWPUgZeUjjNJjhM5utA/Z2rCU6cTTMt",
    "K7x6ypHv04q2OXWYtdbSgoDln1o5jpkAyN4HtvzsJ07b3Gug+Gh+XW52mMgZ87GNwYWwfjK4nO2mkseXc2SSLg5e",
    "AJ36PDioRKvTjLmPmRXtwdXdGQeve0Eg3r7InscNBydmcZLluz99XtVXRtC4SwJ4QnQgTmdJ8SxXndO8QriaMAsi",
    "rtnYHPV6o0msahcQT1mCIbtZKOKLpT6+Dxp6KakILKyPOqm+5aZFhGv5568SofMyDzat8m6gxWLwcinNhMXQAQ0s",
    "ZfEn4cQUeKBE3jOOBBbPG9n0pBTMg5a8pYPv9eJZ8wKBgQDvnjwMJkhl/GWnEyTtN52GpDRrEPVKxawvqqJV3BhF",
    "1f14La1gUdHMjey7Q7E3MA7NB5ElK0rhEvxOruLoyaP9L/lOFWmRaH2QUM3LjmOp4pxskJXP+bvG+UBOhwwfYX/m",
    "G/zNtGsWE/QpLzMS8HqANT3LCeCDYBuWS/K3P1k34wKBgQC3q2AsyPgNomeppPmXcsib1ja/BEAIxpnBm8LePW6A",
    "Xa3EIKIavetfiRXeyzFWTO7MwP3LEeEtOON/6DIwE6dMeETnaoSmnwSlRKVhAePZnDHZGGUgcC8tRw6YhP+2ZilS",
    "tPpYn1p8354qZf3beQ+UwlNs2wYRs9uafpvQ8qqrvwKBgQDuPG3JSpq6w3ox5efV7nCxODtho+etouFyNv3VzdFY",
    "Rc0QGqIBXPfxn74Z5dChZSeiE/7sbKGzK9QtStYRysE/7t25E7L1PmVxAdXKp9RRSRxrGEnLEKnwx0p3iO+1l5O5",
    "LmRoBRRfTBF6jRIDp5K0O7snTrepBvoGsZYtOU+0LwKBgB5tVKR2sqlHk1bGTtbpHBS8+xrP8G/DvusVC8ZXdPvt",
    "CQFpypEVj22nPylGjijW2+StwB2pG52rQ/0HkXDngJqpffi8a7dStqlOYvtcHcwKFTP61531F8uvbtqThe1IpWXf",
    "N24BEDOJtCEf/lsihhNF0h5BdpLuMd45RUTrPpzvAoGBAMyF49qBFSSCCjViqzcKqvUDMNnwy0OPYAu4D3jDYydR",
    "e2B1PmB1oDwX8Qr4o+tki00E8911GvRtTmsDZ+fjaO5/mja2DJAOjWT7cphcsfew1NPHif8zTf/uKLSl8+psDiWw",
    "Ai0/2ShV5CPewRIpupUgvXd3+pClK0Y/5eH61iYX",
];
/// The HS256 secret.
const HS256_SECRET: [u8; 32] = [0x5a; 32];

/// One of the fixed keys, by the `kid` it is published under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, arbitrary::Arbitrary)]
pub enum Key {
    /// EdDSA, `kid` "ed": the issuer's signing key.
    Ed,
    /// HS256, `kid` "hs".
    Hs,
    /// ES256, `kid` "es".
    Es,
    /// RS256, `kid` "rs".
    Rs,
}

impl Key {
    pub const ALL: [Key; 4] = [Key::Ed, Key::Hs, Key::Es, Key::Rs];

    pub fn kid(self) -> &'static str {
        match self {
            Key::Ed => "ed",
            Key::Hs => "hs",
            Key::Es => "es",
            Key::Rs => "rs",
        }
    }

    pub fn alg(self) -> &'static str {
        match self {
            Key::Ed => "EdDSA",
            Key::Hs => "HS256",
            Key::Es => "ES256",
            Key::Rs => "RS256",
        }
    }

    pub fn by_kid(kid: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.kid() == kid)
    }
}

fn der(b64: &str) -> Vec<u8> {
    STANDARD.decode(b64).expect("fixed key")
}

/// Signs any header and payload with one of the fixed keys, whatever they say.
pub struct Signer {
    ed: Ed25519KeyPair,
    hs: hmac::Key,
    es: EcdsaKeyPair,
    rs: RsaKeyPair,
}

impl Signer {
    fn new() -> Self {
        Self {
            ed: Ed25519KeyPair::from_pkcs8(&der(ED25519_PKCS8)).expect("ed"),
            hs: hmac::Key::new(hmac::HMAC_SHA256, &HS256_SECRET),
            es: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der(P256_PKCS8))
                .expect("es"),
            rs: RsaKeyPair::from_pkcs8(&der(&RSA_PKCS8.concat())).expect("rs"),
        }
    }

    /// The signature of `input` with `key`, base64url.
    pub fn signature(&self, key: Key, input: &[u8]) -> String {
        let raw = match key {
            Key::Ed => self.ed.sign(input).as_ref().to_vec(),
            Key::Hs => hmac::sign(&self.hs, input).as_ref().to_vec(),
            Key::Es => self
                .es
                .sign(&SystemRandom::new(), input)
                .expect("sign")
                .as_ref()
                .to_vec(),
            Key::Rs => {
                let mut sig = vec![0; self.rs.public_modulus_len()];
                self.rs
                    .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut sig)
                    .expect("sign");
                sig
            }
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// A compact JWS of `header` and `payload` (bytes, signed as they are) with `key`.
    pub fn token(&self, key: Key, header: &[u8], payload: &[u8]) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.signature(key, token.as_bytes());
        token.push('.');
        token.push_str(&signature);
        token
    }
}

/// The shared, read-only set-up: an issuer (signing with `Ed`) whose key set verifies all four
/// keys, on a mock clock at `T0`, with `REVOKED_JTI`, `REVOKED_SID`, the access tokens of
/// `WATERMARK_SID` up to `WATERMARK_SEQ` and `CUT_SUB` revoked.
pub struct Env {
    pub clock: MockClock,
    pub issuer: Issuer,
    pub sessions: Sessions,
    pub signer: Signer,
}

/// `bytes` with each placeholder of `tokens` (say `$A`) replaced by its token: the fuzz inputs
/// name tokens that the fuzzer could not forge.
pub fn expand<T: AsRef<str>>(bytes: &[u8], tokens: &[(&[u8], T)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    'outer: while let Some((&first, tail)) = rest.split_first() {
        for (placeholder, token) in tokens {
            if let Some(after) = rest.strip_prefix(*placeholder) {
                out.extend_from_slice(token.as_ref().as_bytes());
                rest = after;
                continue 'outer;
            }
        }
        out.push(first);
        rest = tail;
    }
    out
}

/// A current-thread runtime to drive the crate's futures.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
    .block_on(future)
}

/// The key set: `Ed` signs, all four verify.
pub fn key_set() -> KeySet {
    let ed = SigningKey::from_der(Algorithm::EdDSA, &der(ED25519_PKCS8))
        .and_then(|k| k.with_kid("ed"))
        .expect("ed");
    let hs = VerifyingKey::from_secret(Algorithm::HS256, &HS256_SECRET)
        .and_then(|k| k.with_kid("hs"))
        .expect("hs");
    let es = SigningKey::from_der(Algorithm::ES256, &der(P256_PKCS8))
        .and_then(|k| k.verifying_key().with_kid("es"))
        .expect("es");
    let rs = SigningKey::from_der(Algorithm::RS256, &der(&RSA_PKCS8.concat()))
        .and_then(|k| k.verifying_key().with_kid("rs"))
        .expect("rs");
    KeySet::new(ed)
        .with_verifying_key(hs)
        .and_then(|s| s.with_verifying_key(es))
        .and_then(|s| s.with_verifying_key(rs))
        .expect("key set")
}

impl Env {
    /// A fresh set-up (its own clock, store and sessions).
    pub fn new() -> Self {
        let clock = MockClock::at_secs(T0 - 3600);
        let issuer = Issuer::builder(key_set())
            .with_issuer(ISS)
            .with_audience(AUD)
            .with_clock(clock.clone())
            .build()
            .expect("issuer");
        let sessions = Sessions::new(issuer.clone());
        // Carol's sessions all started before her "log out everywhere" at T0.
        clock.advance(Duration::from_secs(3600));
        block_on(async {
            let store = sessions.store();
            store
                .revoke(RevocationEntry::Token {
                    jti: REVOKED_JTI.into(),
                    expires_at: T0 + 86_400,
                })
                .await?;
            store
                .revoke(RevocationEntry::Access {
                    sid: WATERMARK_SID.into(),
                    seq: WATERMARK_SEQ,
                    expires_at: T0 + 86_400,
                })
                .await?;
            sessions.logout(REVOKED_SID).await?;
            sessions.logout_all(CUT_SUB).await
        })
        .expect("revocations");
        Self {
            clock,
            issuer,
            sessions,
            signer: Signer::new(),
        }
    }

    /// The one shared set-up of the read-only targets.
    pub fn shared() -> &'static Env {
        static ENV: OnceLock<Env> = OnceLock::new();
        ENV.get_or_init(Env::new)
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

/// The header and claims of a valid token of `kind`, as the issuer writes them, with a fixed
/// `jti` and `sid`.
pub fn valid_parts(kind: TokenKind) -> (Value, Value) {
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    let (access, refresh) = PAIR.get_or_init(|| {
        let pair = block_on(
            Env::shared()
                .sessions
                .start_with_scope("alice", "read write"),
        )
        .expect("issue");
        (
            pair.access_token().to_owned(),
            pair.refresh_token().to_owned(),
        )
    });
    let token = if kind == TokenKind::Access {
        access
    } else {
        refresh
    };
    let mut parts = token.split('.').map(|part| {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    });
    let header = parts.next().expect("header");
    let mut claims = parts.next().expect("claims");
    claims["jti"] = "jti-1".into();
    claims["sid"] = "sid-1".into();
    (header, claims)
}

/// The header of a token of `kind` signed by `key`.
pub fn header(kind: TokenKind, key: Key) -> Value {
    let typ = match kind {
        TokenKind::Access => "at+jwt",
        _ => "refresh+jwt",
    };
    serde_json::json!({ "alg": key.alg(), "kid": key.kid(), "typ": typ })
}

/// The header of a compact token, decoded (`None` when it is not one).
pub fn decoded_header(token: &str) -> Option<Value> {
    let part = token.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// What must hold of every token the verifier accepts as `kind` at `now`, signed, as far as
/// the caller knows, by `signed_by` (`None`: unknown): the header names a key of ours with its
/// own algorithm and the right `typ`, no `crit`; the times are right; the issuer, the audience
/// and the revocations are respected.
pub fn check_accepted<T>(
    token: &str,
    kind: TokenKind,
    claims: &Claims<T>,
    now: u64,
    signed_by: Option<Key>,
) {
    let header = decoded_header(token).expect("an accepted token has a JSON header");
    let kid = header["kid"].as_str().expect("kid");
    let key = Key::by_kid(kid).expect("a kid of ours");
    assert_eq!(
        header["alg"].as_str(),
        Some(key.alg()),
        "alg pinned to the key"
    );
    if let Some(signer) = signed_by {
        assert_eq!(signer, key, "signed by the key its kid names");
    }
    let typ = header["typ"].as_str().expect("typ").to_ascii_lowercase();
    let want = match kind {
        TokenKind::Access => "at+jwt",
        _ => "refresh+jwt",
    };
    assert!(
        typ == want || typ.strip_prefix("application/") == Some(want),
        "typ {typ}"
    );
    assert!(header.get("crit").is_none(), "crit");
    assert!(now < claims.exp, "expired");
    assert!(claims.iat <= now, "issued in the future");
    assert!(claims.nbf.is_none_or(|nbf| nbf <= now), "not yet valid");
    assert_eq!(claims.iss.as_deref(), Some(ISS));
    assert!(claims.aud.iter().any(|a| a == AUD), "audience");
    assert!(!claims.jti.is_empty() && !claims.sub.is_empty());
    assert_ne!(claims.jti, REVOKED_JTI, "revoked token");
    assert_ne!(claims.sid, REVOKED_SID, "revoked session");
    if kind == TokenKind::Access {
        let seq = claims
            .sequence()
            .expect("an access token without `seq` is refused");
        if claims.sid == WATERMARK_SID {
            assert!(
                seq > WATERMARK_SEQ,
                "access token under its session's watermark"
            );
        }
    }
    if claims.sub == CUT_SUB {
        assert!(claims.auth_time.is_some_and(|t| t >= T0), "cut-off subject");
    }
}
