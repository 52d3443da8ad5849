//! A valid token's header and claims, changed member by member (or its payload replaced by
//! arbitrary bytes), then signed again with one of the four keys: the signature is valid, so
//! the verifier's header and claim checks are what decides. Whatever is accepted must pass
//! `check_accepted`, including "signed by the key its `kid` names, with that key's `alg`".

use crate::{
    AUD, CUT_SUB, Env, ISS, Key, Outcome, REVOKED_JTI, REVOKED_SID, T0, WATERMARK_SID,
    check_accepted, valid_parts,
};
use arbitrary::Arbitrary;
use serde_json::{Map, Value};
use tower_jwt_auth::token::{NoCustomClaims, TokenKind};

/// Member names worth trying: the registered ones, the header's, and near misses.
const NAMES: &[&str] = &[
    "alg",
    "kid",
    "typ",
    "crit",
    "jwk",
    "jku",
    "x5u",
    "cty",
    "b64",
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "scope",
    "auth_time",
    "auth_time_ms",
    "seq",
    "sat",
    "name",
    "Exp",
    "",
];

/// Values worth trying.
const WORDS: &[&str] = &[
    ISS,
    AUD,
    "at+jwt",
    "refresh+jwt",
    "application/at+jwt",
    "AT+JWT",
    "JWT",
    "none",
    "EdDSA",
    "HS256",
    "ES256",
    "RS256",
    "PS256",
    "ed",
    "hs",
    "es",
    "rs",
    REVOKED_JTI,
    REVOKED_SID,
    WATERMARK_SID,
    CUT_SUB,
    "alice",
    "",
    "https://issuer.test/",
    "api ",
    "read",
    "exp",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Other(String),
}

impl Name {
    fn get(&self) -> String {
        match self {
            Name::Known(i) => NAMES[usize::from(*i) % NAMES.len()].to_owned(),
            Name::Other(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Leaf {
    Null,
    Bool(bool),
    Int(i64),
    /// `T0` plus this many seconds.
    Time(i16),
    Float(f64),
    Str(String),
    Word(u8),
}

impl Leaf {
    fn get(&self) -> Value {
        match self {
            Leaf::Null => Value::Null,
            Leaf::Bool(b) => (*b).into(),
            Leaf::Int(i) => (*i).into(),
            Leaf::Time(d) => T0.saturating_add_signed(i64::from(*d)).into(),
            Leaf::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Leaf::Str(s) => s.clone().into(),
            Leaf::Word(i) => WORDS[usize::from(*i) % WORDS.len()].into(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Val {
    Leaf(Leaf),
    Array(Vec<Leaf>),
    Object(Vec<(Name, Leaf)>),
}

impl Val {
    fn get(&self) -> Value {
        match self {
            Val::Leaf(l) => l.get(),
            Val::Array(items) => items.iter().map(Leaf::get).collect(),
            Val::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(n, l)| (n.get(), l.get()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Remove(Name),
    Set(Name, Val),
}

impl Op {
    fn apply(&self, target: &mut Value) {
        let Some(object) = target.as_object_mut() else {
            return;
        };
        match self {
            Op::Remove(name) => {
                object.remove(&name.get());
            }
            Op::Set(name, value) => {
                object.insert(name.get(), value.get());
            }
        }
    }
}

/// One input: which keys, the changes to the header and the claims.
#[derive(Arbitrary, Debug)]
pub struct Input {
    refresh: bool,
    /// The key that signs.
    key: Key,
    /// The key whose `kid` and `alg` the header starts from.
    named: Key,
    header: Vec<Op>,
    claims: Vec<Op>,
    /// Replaces the serialised claims when present.
    raw_payload: Option<Vec<u8>>,
}

/// Runs one input: `Accepted` when the re-signed token verified as an access or a refresh
/// token.
pub fn run(input: &Input) -> Outcome {
    if input.header.len() > 8 || input.claims.len() > 16 {
        return Outcome::Rejected;
    }
    let env = Env::shared();
    let kind = if input.refresh {
        TokenKind::Refresh
    } else {
        TokenKind::Access
    };
    let (mut header, mut claims) = valid_parts(kind);
    header["kid"] = input.named.kid().into();
    header["alg"] = input.named.alg().into();
    input.header.iter().for_each(|op| op.apply(&mut header));
    input.claims.iter().for_each(|op| op.apply(&mut claims));
    let header = serde_json::to_vec(&header).expect("header");
    let payload = match &input.raw_payload {
        Some(raw) => raw.clone(),
        None => serde_json::to_vec(&claims).expect("claims"),
    };
    let token = env.signer.token(input.key, &header, &payload);
    let verifier = env.issuer.verifier();
    let mut outcome = Outcome::Rejected;
    if let Ok(claims) = verifier.verify_access::<NoCustomClaims>(&token) {
        check_accepted(&token, TokenKind::Access, &claims, T0, Some(input.key));
        outcome = Outcome::Accepted;
    }
    if let Ok(claims) = verifier.verify_refresh::<Value>(&token) {
        check_accepted(&token, TokenKind::Refresh, &claims, T0, Some(input.key));
        outcome = Outcome::Accepted;
    }
    outcome
}
