//! The testing kit (`tower_jwt_auth::testing`) drives an application as its users' tests do:
//! expiry on the mock clock, refresh, reuse, logout, and a browser's cookies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::Value;
use tower_jwt_auth::{
    Claims, Sessions,
    axum::cookie_token_routes,
    endpoints::RefreshService,
    testing::{TestClient, TestEnv},
    token_routes,
    transport::CookieTransport,
};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// An API: `/me` behind the layer, the token routes under `/auth`.
fn api(env: &TestEnv) -> Router {
    let auth = env.layer();
    Router::new()
        .route("/me", get(|claims: Claims| async move { claims.sub }))
        .route_layer(auth.clone())
        .nest("/auth", token_routes(env.sessions().clone(), &auth))
}

#[tokio::test]
async fn an_access_token_expires_at_exactly_its_lifetime() -> Result {
    let env = TestEnv::new()?;
    let client = env.client(api(&env));
    let pair = env.login("alice").await?;

    env.advance(env.access_ttl() - Duration::from_secs(1));
    let me = client.get("/me").bearer(pair.access_token()).send().await?;
    assert_eq!((me.status(), me.text().as_str()), (StatusCode::OK, "alice"));

    env.advance(Duration::from_secs(1));
    let expired = client.get("/me").bearer(pair.access_token()).send().await?;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(
        expired.headers()["www-authenticate"]
            .to_str()?
            .contains("token expired")
    );
    assert_eq!(expired.json::<Value>()?["error"], "invalid_token");
    Ok(())
}

#[tokio::test]
async fn refresh_reuse_and_logout_through_the_routes() -> Result {
    let env = TestEnv::new()?;
    let client = env.client(api(&env));
    let first = env.login("alice").await?;
    env.advance(env.access_ttl());

    let refreshed = client
        .post("/auth/refresh")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first.refresh_token()),
        ])
        .send()
        .await?;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let next: Value = refreshed.json()?;
    let access = next["access_token"].as_str().unwrap();
    assert_eq!(
        client.get("/me").bearer(access).send().await?.status(),
        StatusCode::OK
    );

    // The first refresh token again: reuse, and the whole session ends.
    let reused = client
        .post("/auth/refresh")
        .json(&serde_json::json!({ "refresh_token": first.refresh_token() }))
        .send()
        .await?;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reused.json::<Value>()?["error"], "invalid_grant");
    let me = client.get("/me").bearer(access).send().await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // Logout ends another session at once.
    let other = env.login("alice").await?;
    let logout = client
        .post("/auth/logout")
        .bearer(other.access_token())
        .send()
        .await?;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = client
        .get("/me")
        .bearer(other.access_token())
        .send()
        .await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(env.refresh(other.refresh_token()).await.is_err());
    Ok(())
}

/// A browser app: login answers with cookies, `/me` reads the access cookie, `/echo` shows
/// what a request carried.
fn browser_app(env: &TestEnv, transport: &CookieTransport) -> Router {
    let auth = env.layer().with_cookie_transport(transport);
    let login = {
        let (sessions, transport): (Sessions, _) = (env.sessions().clone(), transport.clone());
        move || async move {
            let pair = sessions.start("alice").await?;
            Ok::<_, tower_jwt_auth::session::StartError>(
                transport
                    .token_response(StatusCode::OK, &pair)
                    .into_response(),
            )
        }
    };
    let echo = |headers: HeaderMap| async move {
        let value = |name: &str| {
            headers
                .get(name)
                .map_or("", |v| v.to_str().unwrap())
                .to_owned()
        };
        format!(
            "cookie: {}\ncsrf: {}",
            value("cookie"),
            value("x-csrf-token")
        )
    };
    Router::new()
        .route("/me", get(|claims: Claims| async move { claims.sub }))
        .route_layer(auth.clone())
        .route("/login", post(login))
        .route("/echo", get(echo).post(echo))
        .merge(cookie_token_routes(
            env.sessions().clone(),
            &auth,
            transport,
        ))
}

#[tokio::test]
async fn the_jar_honours_path_and_sends_the_csrf_header() -> Result {
    let env = TestEnv::new()?;
    let transport = CookieTransport::mounted_at("/auth").build()?;
    let client = env
        .client(browser_app(&env, &transport))
        .with_cookie_transport(&transport);
    let refresh_cookie = transport.refresh_cookie_name();
    let access_cookie = transport.access_cookie_name().unwrap();

    assert_eq!(client.post("/login").send().await?.status(), StatusCode::OK);
    let csrf = client.cookie(transport.csrf_cookie_name(), "/").unwrap();

    // The refresh cookie's Path is the refresh route: never sent to /me or /echo.
    let echo = client.get("/echo").send().await?.text();
    assert!(echo.contains(access_cookie), "{echo}");
    assert!(!echo.contains(refresh_cookie), "{echo}");
    assert!(
        echo.ends_with("csrf: "),
        "no CSRF header on a safe method: {echo}"
    );
    assert!(
        client
            .cookie_names("/auth/refresh")
            .iter()
            .any(|n| n == refresh_cookie)
    );
    assert_eq!(client.get("/me").send().await?.text(), "alice");

    // A request that changes state carries the CSRF value in the header.
    let echo = client.post("/echo").send().await?.text();
    assert!(echo.ends_with(&format!("csrf: {csrf}")), "{echo}");

    // The refresh from the cookie alone, which needs the CSRF header, rotates the cookies.
    env.advance(env.access_ttl());
    assert_eq!(
        client.get("/me").send().await?.status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = client.post("/auth/refresh").send().await?;
    assert_eq!(refreshed.status(), StatusCode::OK, "{}", refreshed.text());
    assert_eq!(client.get("/me").send().await?.text(), "alice");

    // Logout deletes the cookies (Max-Age=0): nothing is sent any more.
    let logout = client.post("/auth/logout").send().await?;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(client.cookie_names("/auth/refresh").is_empty());
    assert_eq!(
        client.get("/me").send().await?.status(),
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn without_the_csrf_header_a_cookie_request_that_changes_state_is_refused() -> Result {
    let env = TestEnv::new()?;
    let transport = CookieTransport::mounted_at("/auth").build()?;
    // A client that looks for another CSRF cookie sends no header.
    let client = TestClient::new(browser_app(&env, &transport)).with_cookie_transport(
        &CookieTransport::mounted_at("/auth")
            .with_cookie_names("a", "r", "other")
            .build()?,
    );
    assert_eq!(client.post("/login").send().await?.status(), StatusCode::OK);
    let logout = client.post("/auth/logout").send().await?;
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
    assert_eq!(logout.json::<Value>()?["error"], "invalid_csrf_token");
    Ok(())
}

#[tokio::test]
async fn an_expired_cookie_is_no_longer_sent() -> Result {
    let env = TestEnv::new()?;
    let transport = CookieTransport::mounted_at("/auth").build()?;
    let client = env.client(browser_app(&env, &transport));
    client.post("/login").send().await?;
    let access = transport.access_cookie_name().unwrap().to_owned();
    env.advance(env.access_ttl() - Duration::from_secs(1));
    assert!(client.cookie_names("/me").contains(&access));
    env.advance(Duration::from_secs(1));
    assert!(!client.cookie_names("/me").contains(&access));
    Ok(())
}

#[tokio::test]
async fn any_tower_service_is_a_client_target() -> Result {
    let env = TestEnv::new()?;
    let client = TestClient::new(RefreshService::new(env.sessions().clone()));
    let pair = env.login("alice").await?;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", pair.refresh_token()),
    ];
    let refreshed = client.post("/token").form(&form).send().await?;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(refreshed.headers()["cache-control"], "no-store");
    let reused = client.post("/token").form(&form).send().await?;
    assert_eq!(reused.json::<Value>()?["error"], "invalid_grant");
    Ok(())
}
