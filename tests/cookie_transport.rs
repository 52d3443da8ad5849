//! The cookie transport on a mock clock: the cookies' attributes and lifetimes, the CSRF
//! double-submit check per method, refresh from the cookie, rotation, reuse, logout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    response::IntoResponse,
    routing::{get, post},
};
use common::*;
use cookie::Cookie;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Sessions,
    axum::cookie_token_routes,
    transport::{CookieTransport, SameSite},
};

const ACCESS: &str = "__Host-access_token";
const REFRESH: &str = "__Secure-refresh_token";
const CSRF: &str = "__Host-csrf_token";

struct App {
    env: Env,
    transport: CookieTransport,
    router: Router,
}

fn app_with(transport: CookieTransport) -> App {
    let env = env_with(|b| {
        b.with_access_ttl(Duration::from_secs(60))
            .with_refresh_ttl(Duration::from_secs(3600))
    });
    let sessions = Sessions::new(env.issuer.clone());
    let auth = BearerAuthLayer::new(&env.issuer).with_cookie_transport(&transport);
    let login = {
        let issuer = env.issuer.clone();
        let transport = transport.clone();
        move || async move {
            let pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
            transport
                .token_response(StatusCode::OK, &pair)
                .into_response()
        }
    };
    let router = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub }))
        .route(
            "/items",
            post(|| async { "created" })
                .put(|| async { "replaced" })
                .patch(|| async { "patched" })
                .delete(|| async { "deleted" }),
        )
        .route_layer(auth.clone())
        .route("/login", post(login))
        .merge(cookie_token_routes(sessions, &auth, &transport));
    App {
        env,
        transport,
        router,
    }
}

fn app() -> App {
    app_with(CookieTransport::mounted_at("/auth").build().unwrap())
}

/// What a browser keeps: the cookies last set, by name.
#[derive(Debug, Clone, Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, names: &[&str]) -> String {
        self.0
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn update(&mut self, response: &Response<Body>) {
        for cookie in set_cookies(response) {
            self.0.retain(|(n, _)| n != cookie.name());
            if cookie.max_age() != Some(cookie::time::Duration::ZERO) {
                self.0
                    .push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
    }
}

fn set_cookies(response: &Response<Body>) -> Vec<Cookie<'static>> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| Cookie::parse(v.to_str().unwrap().to_owned()).unwrap())
        .collect()
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&bytes).unwrap()
}

impl App {
    async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn login(&self) -> (Jar, Value) {
        let response = self
            .send(Request::post("/login").body(Body::empty()).unwrap())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let mut jar = Jar::default();
        jar.update(&response);
        (jar, json_body(response).await)
    }

    /// A request with the cookies of `jar` that apply to `path`, and `csrf` in the header.
    async fn call(
        &self,
        method: Method,
        path: &str,
        jar: &Jar,
        csrf: Option<&str>,
    ) -> Response<Body> {
        // The browser sends the refresh cookie to its `Path` only.
        let names: &[&str] = if path == self.transport.refresh_path() {
            &[ACCESS, REFRESH, CSRF]
        } else {
            &[ACCESS, CSRF]
        };
        let mut request = Request::builder().method(method).uri(path);
        let cookies = jar.header(names);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

/// The refresh route is where the browser sends the refresh cookie, wherever the transport
/// mounts the routes: the application gives the path once, and the routes cannot be nested
/// elsewhere (`CookieTokenRoutes` is merged, not nested: see the `compile_fail` example of
/// `cookie_token_routes`).
#[tokio::test]
async fn the_refresh_route_is_where_the_refresh_cookie_is_sent() {
    for (mount, refresh_path) in [
        ("/api/v1/auth", "/api/v1/auth/refresh"),
        ("/api/v1/auth/", "/api/v1/auth/refresh"),
        ("/", "/refresh"),
    ] {
        let app = app_with(CookieTransport::mounted_at(mount).build().unwrap());
        assert_eq!(app.transport.refresh_path(), refresh_path);
        let response = app
            .send(Request::post("/login").body(Body::empty()).unwrap())
            .await;
        // The path the browser will send the refresh cookie to, as the response sets it.
        let cookie_path = set_cookies(&response)
            .iter()
            .find(|c| c.name() == REFRESH)
            .unwrap()
            .path()
            .unwrap()
            .to_owned();
        assert_eq!(cookie_path, refresh_path);
        let mut jar = Jar::default();
        jar.update(&response);
        let csrf = json_body(response).await["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned();

        let response = app
            .call(Method::POST, &cookie_path, &jar, Some(&csrf))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{mount}");
        assert!(
            set_cookies(&response).iter().any(|c| c.name() == REFRESH),
            "{mount}: the next refresh token, in the cookie"
        );
        // Nothing answers where the old hand-made nesting would have put it.
        if refresh_path != "/auth/refresh" {
            let response = app
                .call(Method::POST, "/auth/refresh", &jar, Some(&csrf))
                .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{mount}");
        }
    }
}

#[tokio::test]
async fn login_sets_three_cookies_with_their_attributes_and_lifetimes() {
    let app = app();
    let response = app
        .send(Request::post("/login").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 3);
    let by_name = |name: &str| cookies.iter().find(|c| c.name() == name).unwrap();
    let secs = cookie::time::Duration::seconds;

    let refresh = by_name(REFRESH);
    assert_eq!(refresh.http_only(), Some(true));
    assert_eq!(refresh.secure(), Some(true));
    assert_eq!(refresh.same_site(), Some(cookie::SameSite::Strict));
    assert_eq!(refresh.path(), Some("/auth/refresh"));
    assert_eq!(refresh.domain(), None);
    assert_eq!(refresh.max_age(), Some(secs(3600)));

    let access = by_name(ACCESS);
    assert_eq!(access.http_only(), Some(true));
    assert_eq!(access.secure(), Some(true));
    assert_eq!(access.same_site(), Some(cookie::SameSite::Strict));
    assert_eq!(access.path(), Some("/"));
    assert_eq!(access.max_age(), Some(secs(60)));

    let csrf = by_name(CSRF);
    assert_eq!(csrf.http_only(), None, "the page reads the CSRF cookie");
    assert_eq!(csrf.secure(), Some(true));
    assert_eq!(csrf.path(), Some("/"));
    assert_eq!(csrf.max_age(), Some(secs(3600)));

    // The tokens are real, and the CSRF value is the session's claim.
    let claims: Claims = app
        .env
        .issuer
        .verifier()
        .verify_access(access.value())
        .unwrap();
    assert_eq!(claims.csrf_token(), Some(csrf.value()));
    let refresh_claims: Claims = app
        .env
        .issuer
        .verifier()
        .verify_refresh(refresh.value())
        .unwrap();
    assert_eq!(refresh_claims.csrf_token(), Some(csrf.value()));

    let body = json_body(response).await;
    assert_eq!(body["csrf_token"], csrf.value());
    assert_eq!(body["expires_in"], 60);
    assert_eq!(body["refresh_expires_in"], 3600);
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn the_access_token_can_go_in_the_body_and_attributes_follow_the_configuration() {
    let app = app_with(
        CookieTransport::mounted_at("/auth")
            .with_access_in_body()
            .with_same_site(SameSite::Lax)
            .with_domain("example.test")
            .build()
            .unwrap(),
    );
    let response = app
        .send(Request::post("/login").body(Body::empty()).unwrap())
        .await;
    let cookies = set_cookies(&response);
    let names: Vec<&str> = cookies.iter().map(Cookie::name).collect();
    assert_eq!(names, ["__Secure-refresh_token", "__Secure-csrf_token"]);
    for cookie in &cookies {
        assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(cookie.domain(), Some("example.test"));
    }
    let body = json_body(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        app.env
            .issuer
            .verifier()
            .verify_access::<tower_jwt_auth::token::NoCustomClaims>(
                body["access_token"].as_str().unwrap()
            )
            .is_ok()
    );

    // Plain http for development: no Secure, no prefix, and a warning at start.
    let logs = Logs::default();
    let transport = {
        let _capture = logs.capture();
        CookieTransport::mounted_at("/auth")
            .allow_insecure_http()
            .build()
            .unwrap()
    };
    assert!(logs.text().contains("WARN"), "{}", logs.text());
    assert!(logs.text().contains("without `Secure`"), "{}", logs.text());
    let pair = app.env.sessions.start("alice").await.unwrap();
    let mut headers = http::HeaderMap::new();
    transport.set_cookies(&pair, &mut headers);
    for value in headers.get_all(header::SET_COOKIE) {
        let cookie = Cookie::parse(value.to_str().unwrap()).unwrap();
        assert_eq!(cookie.secure(), None, "{cookie}");
        assert!(!cookie.name().starts_with("__"), "{cookie}");
    }
}

#[tokio::test]
async fn state_changing_methods_need_the_csrf_header_with_a_cookie() {
    let app = app();
    let (jar, body) = app.login().await;
    let csrf = body["csrf_token"].as_str().unwrap();

    // Safe methods need none.
    let response = app.call(Method::GET, "/me", &jar, None).await;
    assert_eq!(response.status(), StatusCode::OK);

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let missing = app.call(method.clone(), "/items", &jar, None).await;
        assert_eq!(missing.status(), StatusCode::FORBIDDEN, "{method}");
        assert!(missing.headers().get(header::WWW_AUTHENTICATE).is_none());
        let body = json_body(missing).await;
        assert_eq!(body["error"], "invalid_csrf_token");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("missing")
        );

        let mut wrong = csrf.to_owned();
        wrong.replace_range(0..1, if csrf.starts_with('A') { "B" } else { "A" });
        let response = app.call(method.clone(), "/items", &jar, Some(&wrong)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
        assert_eq!(
            json_body(response).await["error_description"],
            "the CSRF header does not match the session's CSRF value"
        );

        let response = app.call(method.clone(), "/items", &jar, Some(csrf)).await;
        assert_eq!(response.status(), StatusCode::OK, "{method}");
    }

    // Another session's CSRF value does not do.
    let (_, other) = app.login().await;
    let response = app
        .call(Method::POST, "/items", &jar, other["csrf_token"].as_str())
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The Authorization header is no ambient credential: no CSRF value needed.
    let pair = app.env.sessions.start("alice").await.unwrap();
    let response = app
        .send(
            Request::post("/items")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", pair.access_token()),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // A valid token without a `csrf` claim, from the cookie, fails closed.
    let mut claims = app.env.claims();
    claims["sid"] = json!(pair.session_id());
    let token = app.env.forge("at+jwt", &claims);
    let jar = Jar(vec![(ACCESS.into(), token)]);
    assert_eq!(
        app.call(Method::GET, "/me", &jar, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::POST, "/items", &jar, Some("anything"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn refresh_from_the_cookie_needs_csrf_and_rotates_the_cookies() {
    let app = app();
    let (mut jar, body) = app.login().await;
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let first_refresh = jar.get(REFRESH).unwrap().to_owned();

    // The access cookie expires with its token; the refresh cookie still works.
    app.env.advance(61);
    let response = app.call(Method::GET, "/me", &jar, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Without or with a wrong CSRF value: 403, and the session is untouched.
    let response = app.call(Method::POST, "/auth/refresh", &jar, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&response).is_empty());
    assert_eq!(json_body(response).await["error"], "invalid_csrf_token");
    let response = app
        .call(Method::POST, "/auth/refresh", &jar, Some("not-the-value"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // With it: new cookies, the same CSRF value (bound to the session), no token in the body.
    let response = app
        .call(Method::POST, "/auth/refresh", &jar, Some(&csrf))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    jar.update(&response);
    let body = json_body(response).await;
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["csrf_token"], csrf.as_str());
    assert_eq!(jar.get(CSRF), Some(csrf.as_str()));
    assert_ne!(jar.get(REFRESH), Some(first_refresh.as_str()));
    let response = app.call(Method::GET, "/me", &jar, None).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Max-Age follows each token's lifetime, the session's end included.
    app.env.advance(3000);
    let response = app
        .call(Method::POST, "/auth/refresh", &jar, Some(&csrf))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    let max_age = |name: &str| {
        cookies
            .iter()
            .find(|c| c.name() == name)
            .unwrap()
            .max_age()
            .unwrap()
            .whole_seconds()
    };
    assert_eq!(max_age(ACCESS), 60);
    assert_eq!(max_age(REFRESH), 3600);
    jar.update(&response);

    // Reuse: the first refresh token again revokes the session and deletes the cookies.
    let mut stale = jar.clone();
    stale.0.retain(|(n, _)| n != REFRESH);
    stale.0.push((REFRESH.into(), first_refresh));
    let response = app
        .call(Method::POST, "/auth/refresh", &stale, Some(&csrf))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let cleared = set_cookies(&response);
    assert_eq!(cleared.len(), 3);
    for cookie in &cleared {
        assert_eq!(cookie.value(), "");
        assert_eq!(cookie.max_age(), Some(cookie::time::Duration::ZERO));
    }
    assert_eq!(json_body(response).await["error"], "invalid_grant");
    let response = app.call(Method::GET, "/me", &jar, None).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "session revoked"
    );
}

#[tokio::test]
async fn refresh_takes_the_body_or_the_cookie_never_both() {
    let app = app();
    let (jar, body) = app.login().await;
    let csrf = body["csrf_token"].as_str().unwrap();
    let refresh = jar.get(REFRESH).unwrap();

    let both = Request::post("/auth/refresh")
        .header(header::COOKIE, format!("{REFRESH}={refresh}"))
        .header("x-csrf-token", csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "refresh_token": refresh }).to_string()))
        .unwrap();
    let response = app.send(both).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(response).await["error"], "invalid_request");

    let twice = Request::post("/auth/refresh")
        .header(
            header::COOKIE,
            format!("{REFRESH}={refresh}; {REFRESH}={refresh}"),
        )
        .header("x-csrf-token", csrf)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(twice).await.status(), StatusCode::BAD_REQUEST);

    let none = app
        .call(Method::POST, "/auth/refresh", &Jar::default(), Some(csrf))
        .await;
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);

    // The body alone: the plain OAuth answer, as without the transport.
    let pair = app.env.sessions.start("bob").await.unwrap();
    let response = app
        .send(
            Request::post("/auth/refresh")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({ "refresh_token": pair.refresh_token() }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookies(&response).is_empty());
    assert!(json_body(response).await["refresh_token"].is_string());

    // A forged or expired refresh cookie: invalid_grant, and the cookies go.
    let jar = Jar(vec![(REFRESH.into(), "a.b.c".into())]);
    let response = app
        .call(Method::POST, "/auth/refresh", &jar, Some(csrf))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(set_cookies(&response).len(), 3);
}

#[tokio::test]
async fn logout_and_logout_all_clear_the_cookies() {
    let app = app();
    let (jar, body) = app.login().await;
    let csrf = body["csrf_token"].as_str().unwrap();

    let response = app.call(Method::POST, "/auth/logout", &jar, None).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "CSRF guards logout"
    );
    let response = app
        .call(Method::POST, "/auth/logout", &jar, Some(csrf))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&response);
    let names: Vec<&str> = cleared.iter().map(Cookie::name).collect();
    assert_eq!(names, [REFRESH, ACCESS, CSRF]);
    assert_eq!(cleared[0].path(), Some("/auth/refresh"));
    for cookie in &cleared {
        assert_eq!(cookie.max_age(), Some(cookie::time::Duration::ZERO));
        assert_eq!(cookie.secure(), Some(true));
    }
    assert_eq!(
        app.call(Method::GET, "/me", &jar, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = app
        .call(Method::POST, "/auth/refresh", &jar, Some(csrf))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Two browsers; logging out everywhere from one ends the other too.
    let (one, one_body) = app.login().await;
    app.env.advance(1);
    let (two, _) = app.login().await;
    app.env.advance(1);
    let response = app
        .call(
            Method::POST,
            "/auth/logout-all",
            &one,
            one_body["csrf_token"].as_str(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(set_cookies(&response).len(), 3);
    for jar in [&one, &two] {
        assert_eq!(
            app.call(Method::GET, "/me", jar, None).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let _ = &app.transport;
}

#[tokio::test]
async fn csrf_refusals_are_logged_with_their_reason_and_no_secret() {
    let app = app();
    let (jar, body) = app.login().await;
    let logs = Logs::default();
    let _capture = logs.capture();
    let response = app.call(Method::POST, "/items", &jar, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .call(Method::POST, "/auth/refresh", &jar, Some("wrong"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let text = logs.text();
    assert_eq!(
        text.matches("invalid_csrf_token").count(),
        2,
        "one event per refusal: {text}"
    );
    for secret in [
        jar.get(ACCESS).unwrap(),
        jar.get(REFRESH).unwrap(),
        body["csrf_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn custom_cookie_names_and_csrf_header_are_used_end_to_end() {
    let app = app_with(
        CookieTransport::mounted_at("/auth")
            .with_cookie_names("at", "rt", "xsrf")
            .with_csrf_header("X-XSRF-Token")
            .build()
            .unwrap(),
    );
    let (access, refresh, csrf_cookie) = ("__Host-at", "__Secure-rt", "__Host-xsrf");
    assert_eq!(app.transport.access_cookie_name(), Some(access));
    assert_eq!(app.transport.refresh_cookie_name(), refresh);
    assert_eq!(app.transport.csrf_cookie_name(), csrf_cookie);
    assert_eq!(app.transport.csrf_header(), "x-xsrf-token");

    // Login sets the renamed cookies, and only those.
    let (mut jar, body) = app.login().await;
    let mut names: Vec<&str> = jar.0.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, [access, csrf_cookie, refresh]);
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(jar.get(csrf_cookie), Some(csrf.as_str()));

    // A request with `cookies` of the jar and `headers`.
    let send = |method: Method, path: &str, cookies: String, headers: &[(&str, &str)]| {
        let mut request = Request::builder().method(method).uri(path);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        app.send(request.body(Body::empty()).unwrap())
    };
    let site = |jar: &Jar| jar.header(&[access, csrf_cookie]);

    // The access cookie is read under its new name only.
    let response = send(Method::GET, "/me", site(&jar), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let renamed_back = format!("{ACCESS}={}", jar.get(access).unwrap());
    let response = send(Method::GET, "/me", renamed_back, &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The CSRF value is read from the custom header only: the default one is a missing value.
    let response = send(
        Method::POST,
        "/items",
        site(&jar),
        &[("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(response).await["error"], "invalid_csrf_token");
    let response = send(
        Method::POST,
        "/items",
        site(&jar),
        &[("X-XSRF-Token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Refresh reads the renamed refresh cookie, with the custom header, and rotates the
    // renamed cookies.
    let all = |jar: &Jar| jar.header(&[access, refresh, csrf_cookie]);
    let response = send(
        Method::POST,
        "/auth/refresh",
        all(&jar),
        &[("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&response).is_empty());
    let first_refresh = jar.get(refresh).unwrap().to_owned();
    let response = send(
        Method::POST,
        "/auth/refresh",
        all(&jar),
        &[("x-xsrf-token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut set: Vec<String> = set_cookies(&response)
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    set.sort_unstable();
    assert_eq!(set, [access, csrf_cookie, refresh]);
    jar.update(&response);
    assert_ne!(jar.get(refresh), Some(first_refresh.as_str()));
    let response = send(Method::GET, "/me", site(&jar), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The refresh token under the default cookie name is no refresh token at all.
    let default_name = format!("{REFRESH}={}", jar.get(refresh).unwrap());
    let response = send(
        Method::POST,
        "/auth/refresh",
        default_name,
        &[("x-xsrf-token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(response).await["error"], "invalid_request");
    // ... and that request did not use it up.
    let response = send(
        Method::POST,
        "/auth/refresh",
        all(&jar),
        &[("x-xsrf-token", &csrf)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_session_routes_work_under_the_transport() {
    let app = app();
    let (phone, _) = app.login().await;
    app.env.advance(1);
    let (laptop, laptop_body) = app.login().await;
    let csrf = laptop_body["csrf_token"].as_str();

    let response = app.call(Method::GET, "/auth/sessions", &laptop, None).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a read needs no CSRF header"
    );
    let sessions = json_body(response).await["sessions"].clone();
    let current: Vec<bool> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, true]);
    let phone_id = sessions[0]["id"].as_str().unwrap().to_owned();

    let path = format!("/auth/sessions/{phone_id}");
    let response = app.call(Method::DELETE, &path, &laptop, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "CSRF guards it");
    let response = app.call(Method::DELETE, &path, &laptop, csrf).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookies(&response).is_empty(),
        "not the caller's session"
    );
    assert_eq!(
        app.call(Method::GET, "/me", &phone, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let own = json_body(app.call(Method::GET, "/auth/sessions", &laptop, None).await).await;
    let own_id = own["sessions"][0]["id"].as_str().unwrap().to_owned();
    let response = app
        .call(
            Method::DELETE,
            &format!("/auth/sessions/{own_id}"),
            &laptop,
            csrf,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(set_cookies(&response).len(), 3, "its own: the cookies go");
}
