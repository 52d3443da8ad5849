//! Writes the seed corpora of `verify_token` and `jwk_import` under `corpus/` (the other
//! targets' seeds are written by hand):
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::{fs, path::Path};

use serde_json::{Value, json};
use tower_jwt_auth::token::{NoCustomClaims, TokenKind};
use tower_jwt_auth_fuzz::{
    CUT_SUB, Env, Key, REVOKED_JTI, T0, WATERMARK_SEQ, WATERMARK_SID, header, key_set, valid_parts,
};

/// A seed's name, header and change to the valid claims.
type NearMiss<'a> = (&'a str, Value, &'a dyn Fn(&mut Value));

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("corpus dir");
    fs::write(dir.join(name), bytes).expect("seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let signer = &Env::shared().signer;
    let sign = |kind, key: Key, header: &Value, change: &dyn Fn(&mut Value)| {
        let (_, mut claims) = valid_parts(kind);
        change(&mut claims);
        signer.token(
            key,
            &serde_json::to_vec(header).expect("header"),
            &serde_json::to_vec(&claims).expect("claims"),
        )
    };

    let dir = root.join("verify_token");
    let verifier = Env::shared().issuer.verifier();
    for key in Key::ALL {
        let access = sign(
            TokenKind::Access,
            key,
            &header(TokenKind::Access, key),
            &|_| {},
        );
        verifier
            .verify_access::<NoCustomClaims>(&access)
            .expect("a valid seed verifies");
        write(&dir, &format!("access-{}", key.kid()), access.as_bytes());
        let refresh = sign(
            TokenKind::Refresh,
            key,
            &header(TokenKind::Refresh, key),
            &|_| {},
        );
        verifier
            .verify_refresh::<Value>(&refresh)
            .expect("a valid seed verifies");
        write(&dir, &format!("refresh-{}", key.kid()), refresh.as_bytes());
    }
    let ed = header(TokenKind::Access, Key::Ed);
    let near: [NearMiss<'_>; 8] = [
        ("revoked", ed.clone(), &|c| c["jti"] = REVOKED_JTI.into()),
        ("watermarked", ed.clone(), &|c| {
            c["sid"] = WATERMARK_SID.into();
            c["seq"] = WATERMARK_SEQ.into();
        }),
        ("no-seq", ed.clone(), &|c| {
            c.as_object_mut().expect("claims").remove("seq");
        }),
        ("cut-off", ed.clone(), &|c| c["sub"] = CUT_SUB.into()),
        ("expired", ed.clone(), &|c| c["exp"] = T0.into()),
        ("wrong-aud", ed.clone(), &|c| c["aud"] = json!(["other"])),
        (
            "alg-none",
            json!({"alg": "none", "kid": "ed", "typ": "at+jwt"}),
            &|_| {},
        ),
        (
            "crit",
            json!({"alg": "EdDSA", "kid": "ed", "typ": "at+jwt", "crit": ["exp"]}),
            &|_| {},
        ),
    ];
    for (name, header, change) in near {
        write(
            &dir,
            name,
            sign(TokenKind::Access, Key::Ed, &header, change).as_bytes(),
        );
    }
    // HS256 header, signed with the Ed25519 key: a signature of the wrong key.
    let hs = header(TokenKind::Access, Key::Hs);
    write(
        &dir,
        "wrong-key",
        sign(TokenKind::Access, Key::Ed, &hs, &|_| {}).as_bytes(),
    );

    let dir = root.join("jwk_import");
    let jwks = serde_json::to_vec(&key_set().jwks()).expect("jwks");
    write(&dir, "jwks", &[[0].as_slice(), &jwks].concat());
    for jwk in key_set().jwks().keys {
        let text = serde_json::to_vec(&jwk).expect("jwk");
        let kid = jwk.kid.clone().unwrap_or_default();
        write(
            &dir,
            &format!("jwk-{kid}"),
            &[[1].as_slice(), &text].concat(),
        );
    }
    let oct = br#"{"kty":"oct","alg":"HS256","kid":"hs","k":"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo"}"#;
    write(&dir, "jwk-oct", &[[1].as_slice(), oct].concat());
    let pem = b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";
    write(&dir, "pem-ed25519", &[[2].as_slice(), pem].concat());
    let der = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g",
    )
    .expect("der");
    write(&dir, "der-ed25519", &[[3].as_slice(), &der].concat());
}
