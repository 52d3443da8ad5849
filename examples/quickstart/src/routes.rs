//! The routes' handlers: signup, login, `/me`, `/admin`, `/health`, and the log line of
//! every request.

use axum::{
    Json,
    extract::{OriginalUri, Request, State, rejection::JsonRejection as BodyRejection},
    http::{
        HeaderMap, HeaderValue, Method, StatusCode,
        header::{RETRY_AFTER, USER_AGENT},
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_jwt_auth::{
    Claims,
    bearer::AuthError,
    dpop::DpopProof,
    endpoints::{ErrorResponse, token_response, verify_dpop},
    session::{Login, StartError},
    transport::CookieTransport,
};

use crate::{
    AppState, BUSY_RETRY_AFTER_SECS, MAX_LABEL_BYTES, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS,
    USER_SCOPE,
    hashing::HashError,
    usernames::normalise_username,
    users::{StoreError, new_user_id},
};

/// One `info` line per request: method, path (never the query, which may hold a token),
/// status and time taken, and why a request was refused: the reason the bearer layer, or the
/// error a token endpoint, put in the response's extensions.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let extensions = response.extensions();
    if let Some(refused) = extensions.get::<AuthError>() {
        let reason = refused.reason();
        tracing::info!(target: "quickstart", %method, path, status, micros, reason, "request refused");
    } else if let Some(error) = extensions.get::<ErrorResponse>() {
        let (error, why) = (error.error(), error.description());
        tracing::info!(target: "quickstart", %method, path, status, micros, error, why, "request failed");
    } else {
        tracing::info!(target: "quickstart", %method, path, status, micros, "request");
    }
    response
}

// ----- handlers -----

pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Signup and login take an optional `DPoP` header (RFC 9449): with a valid proof, the
/// session is bound to its key; a bad proof is refused before the password is looked at.
pub(crate) async fn signup(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    match verify_dpop(&state.dpop, &method, &uri, &headers).await {
        Ok(proof) => sign_up(&state, &headers, body, None, proof.as_ref()).await,
        Err(refused) => refused.into_response(),
    }
}

pub(crate) async fn login(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    match verify_dpop(&state.dpop, &method, &uri, &headers).await {
        Ok(proof) => log_in(&state, &headers, body, None, proof.as_ref()).await,
        Err(refused) => refused.into_response(),
    }
}

/// Signup, answered with the tokens in the body, or in the cookies of `transport`; bound to
/// the key of `proof`, if any.
pub(crate) async fn sign_up(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<Credentials>, BodyRejection>,
    transport: Option<&CookieTransport>,
    proof: Option<&DpopProof>,
) -> Response {
    let Credentials { username, password } = match body {
        Ok(Json(credentials)) => credentials,
        Err(rejection) => return body_error(&rejection),
    };
    let checked = normalise_username(&username).and_then(|username| {
        check_password(&password)?;
        Ok(username)
    });
    let username = match checked {
        Ok(username) => username,
        Err(why) => return error(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    // A cheap early answer; `create` below makes the decision.
    match state.users.account(&username).await {
        Ok(Some(_)) => return username_taken(),
        Ok(None) => {}
        Err(StoreError) => return ErrorResponse::unavailable().into_response(),
    }
    let password_hash = match state
        .hashers
        .run(move |hasher| hasher.hash(password.as_bytes()))
        .await
    {
        Ok(Ok(hash)) => hash,
        Err(HashError::Busy) => return busy(),
        Ok(Err(_)) | Err(HashError::Failed) => return server_error(),
    };
    let user_id = new_user_id();
    match state.users.create(&username, &user_id, password_hash).await {
        Ok(true) => {}
        Ok(false) => return username_taken(),
        Err(StoreError) => return ErrorResponse::unavailable().into_response(),
    }
    let user = User {
        id: &user_id,
        name: &username,
        scope: USER_SCOPE,
    };
    issue(state, &user, headers, StatusCode::CREATED, transport, proof).await
}

/// Login, answered with the tokens in the body, or in the cookies of `transport`; bound to
/// the key of `proof`, if any.
pub(crate) async fn log_in(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<Credentials>, BodyRejection>,
    transport: Option<&CookieTransport>,
    proof: Option<&DpopProof>,
) -> Response {
    let Credentials { username, password } = match body {
        Ok(Json(credentials)) => credentials,
        Err(rejection) => return body_error(&rejection),
    };
    // A name that cannot be a username names no account.
    let known = match normalise_username(&username) {
        Ok(username) => match state.users.account(&username).await {
            Ok(account) => account.map(|account| (username, account)),
            Err(StoreError) => return ErrorResponse::unavailable().into_response(),
        },
        Err(_) => None,
    };
    let (account, hash) = match known {
        Some((username, account)) => (Some((username, account.user_id)), account.password_hash),
        // Unknown user: the same work as for a wrong password, then the same answer.
        None => (None, state.dummy_hash.to_string()),
    };
    let matches = state
        .hashers
        .run(move |hasher| hasher.verify(password.as_bytes(), &hash))
        .await;
    match (matches, account) {
        (Ok(true), Some((username, user_id))) => {
            let user_id = match user_id {
                Some(user_id) => user_id,
                // An account stored before the user ids gets one now.
                None => match state.users.user_id(&username, &new_user_id()).await {
                    Ok(user_id) => user_id,
                    Err(StoreError) => return ErrorResponse::unavailable().into_response(),
                },
            };
            let user = User {
                id: &user_id,
                name: &username,
                scope: USER_SCOPE,
            };
            issue(state, &user, headers, StatusCode::OK, transport, proof).await
        }
        (Ok(_), _) => error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "unknown username or wrong password",
        ),
        (Err(HashError::Busy), _) => busy(),
        (Err(HashError::Failed), _) => server_error(),
    }
}

pub(crate) async fn me(claims: Claims<Profile>) -> Json<Value> {
    Json(json!({
        "sub": claims.sub,
        "preferred_username": claims.custom.preferred_username,
        "sid": claims.sid,
        "scope": claims.scope,
        "exp": claims.exp,
    }))
}

pub(crate) async fn admin(claims: Claims<Profile>) -> Json<Value> {
    let name = claims.custom.preferred_username.unwrap_or(claims.sub);
    Json(json!({ "message": format!("hello, administrator {name}") }))
}

/// The request body of signup and login.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

pub(crate) fn check_password(password: &str) -> Result<(), &'static str> {
    let password_chars = password.chars().count();
    if password_chars < MIN_PASSWORD_CHARS {
        return Err("password must be at least 8 characters");
    }
    if password_chars > MAX_PASSWORD_CHARS {
        return Err("password must be at most 1024 characters");
    }
    Ok(())
}

/// The account a session is started for.
pub(crate) struct User<'a> {
    /// The user id: the tokens' `sub`.
    id: &'a str,
    /// The normalised username: the tokens' `preferred_username`.
    name: &'a str,
    scope: &'a str,
}

/// The application's claims of every token: the username, for display. The account is the
/// `sub`, a user id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// The normalised username (absent from tokens minted without it, such as an operator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

/// The session label a request's `User-Agent` gives: trimmed, cut to [`MAX_LABEL_BYTES`]
/// (a header value that is text is ASCII, so bytes are characters); none if empty.
pub(crate) fn session_label(headers: &HeaderMap) -> Option<&str> {
    let agent = headers.get(USER_AGENT)?.to_str().ok()?.trim();
    let agent = agent.get(..agent.len().min(MAX_LABEL_BYTES))?.trim_end();
    (!agent.is_empty()).then_some(agent)
}

/// A new session for `user`, labelled by the request's `User-Agent` and bound to the key of
/// `proof` if any: the token response with `status`, or the cookies of `transport`.
pub(crate) async fn issue(
    state: &AppState,
    user: &User<'_>,
    headers: &HeaderMap,
    status: StatusCode,
    transport: Option<&CookieTransport>,
    proof: Option<&DpopProof>,
) -> Response {
    let profile = Profile {
        preferred_username: Some(user.name.to_owned()),
    };
    let mut login = Login::new(user.id)
        .with_scope(user.scope)
        .with_claims(&profile);
    if let Some(label) = session_label(headers) {
        login = login.with_label(label);
    }
    if let Some(proof) = proof {
        login = login.with_dpop(proof);
    }
    match state.sessions.start_with(login).await {
        Ok(pair) => match transport {
            Some(transport) => transport.token_response(status, &pair).into_response(),
            None => token_response(status, &pair).into_response(),
        },
        Err(StartError::Store(_)) => ErrorResponse::unavailable().into_response(),
        Err(_) => server_error(),
    }
}

/// An OAuth-style JSON error `{"error", "error_description"}`.
pub(crate) fn error(status: StatusCode, code: &'static str, description: &'static str) -> Response {
    ErrorResponse::new(status, code, description).into_response()
}

pub(crate) fn username_taken() -> Response {
    error(
        StatusCode::CONFLICT,
        "username_taken",
        "that username is already registered",
    )
}

pub(crate) fn server_error() -> Response {
    ErrorResponse::server_error().into_response()
}

/// 503 `temporarily_unavailable` with `Retry-After`: every hasher stayed busy.
pub(crate) fn busy() -> Response {
    let mut response = ErrorResponse::unavailable().into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_SECS));
    response
}

/// The JSON error for a body the `Json` extractor refused (always a 4xx).
pub(crate) fn body_error(rejection: &BodyRejection) -> Response {
    let status = rejection.status();
    let description = match rejection {
        BodyRejection::JsonDataError(_) => {
            "body must be a JSON object with the string fields username and password"
        }
        BodyRejection::JsonSyntaxError(_) => "body is not valid JSON",
        BodyRejection::MissingJsonContentType(_) => "send Content-Type: application/json",
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        _ => "request body could not be read",
    };
    error(status, "invalid_request", description)
}
