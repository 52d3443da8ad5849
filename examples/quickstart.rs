//! The token life cycle in one process: issue, verify, refresh (rotation), reuse detection,
//! logout, log out everywhere and single-token revocation.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

#![allow(clippy::print_stdout)]

use std::error::Error;

use serde::{Deserialize, Serialize};
use tower_jwt_auth::{Claims, Issuer, KeySet, RefreshError, Sessions, SigningKey};

/// The application's own claims, carried in every token of the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    name: String,
}

fn check(issuer: &Issuer, label: &str, token: &str) {
    match issuer.verifier().verify_access::<Profile>(token) {
        Ok(claims) => println!(
            "  {label}: accepted (sub={}, sid={})",
            claims.sub, claims.sid
        ),
        Err(err) => println!("  {label}: rejected ({err})"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let key = SigningKey::generate_ed25519()?;
    println!("generated an Ed25519 signing key, kid {}", key.kid());
    let issuer = Issuer::builder(KeySet::new(key))
        .with_issuer("quickstart")
        .with_audience("quickstart-api")
        .build()?;
    let sessions: Sessions<Profile> = Sessions::new(issuer.clone());
    let profile = Profile {
        name: "Alice".into(),
    };

    println!("\n1. login: a new session with an access and a refresh token");
    let login = issuer.issue_with_scope("alice", "read write", &profile)?;
    // The token response as a client receives it (tokens shortened here).
    let mut response = serde_json::to_value(&login)?;
    for field in ["access_token", "refresh_token"] {
        if let Some(token) = response[field].as_str() {
            response[field] = format!("{}… ({} bytes)", &token[..16], token.len()).into();
        }
    }
    println!("{}", serde_json::to_string_pretty(&response)?);

    println!("\n2. verify the access token, as every request does");
    let claims: Claims<Profile> = issuer.verifier().verify_access(login.access_token())?;
    println!(
        "  sub={} name={} scope={:?} has_scope(write)={} exp={}",
        claims.sub,
        claims.custom.name,
        claims.scope,
        claims.has_scope("write"),
        claims.exp
    );
    check(
        &issuer,
        "refresh token used as an access token",
        login.refresh_token(),
    );

    println!("\n3. refresh: the refresh token is exchanged for a new pair (rotation)");
    let second = sessions.refresh(login.refresh_token()).await?;
    println!(
        "  new pair in the same session: {}",
        second.session_id() == login.session_id()
    );
    check(&issuer, "new access token", second.access_token());

    println!("\n4. replaying the first refresh token is reuse: the whole session is revoked");
    match sessions.refresh(login.refresh_token()).await {
        Err(RefreshError::Reused) => println!("  refresh rejected: {}", RefreshError::Reused),
        other => println!("  unexpected: {other:?}"),
    }
    check(
        &issuer,
        "newest access token of that session",
        second.access_token(),
    );
    match sessions.refresh(second.refresh_token()).await {
        Err(err) => println!("  newest refresh token: rejected ({err})"),
        Ok(_) => println!("  newest refresh token: unexpectedly accepted"),
    }

    println!("\n5. logout: one device");
    let phone = issuer.issue("alice", &profile)?;
    let laptop = issuer.issue("alice", &profile)?;
    sessions.logout(phone.session_id()).await?;
    check(&issuer, "phone (logged out)", phone.access_token());
    check(&issuer, "laptop", laptop.access_token());

    println!("\n6. log out everywhere, then log in again at once");
    sessions.logout_all("alice").await?;
    check(
        &issuer,
        "laptop (before the cut-off)",
        laptop.access_token(),
    );
    let fresh = issuer.issue("alice", &profile)?;
    check(&issuer, "login right after", fresh.access_token());

    println!("\n7. revoke one token (RFC 7009)");
    let revoked = sessions.revoke(fresh.access_token()).await?;
    println!("  revoked: {revoked:?}");
    check(&issuer, "revoked access token", fresh.access_token());

    println!("\n8. the public key set (JWKS)");
    println!("{}", serde_json::to_string_pretty(&issuer.keys().jwks())?);
    Ok(())
}
