//! [`TestClient`]: requests to a tower service, as a browser or an API client sends them.

use std::{
    fmt,
    future::poll_fn,
    sync::{Arc, Mutex, PoisonError},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use serde::{Serialize, de::DeserializeOwned};
use tower_service::Service;

use super::jar::Jar;
use crate::{
    clock::{Clock, MockClock},
    store::BoxError,
    transport::{CookieTransport, csrf},
};

/// A client of a tower service (an axum `Router`, a `BearerAuth` stack, one of the crate's
/// endpoints), for tests: requests with a bearer token, JSON or a form; and a cookie jar that
/// keeps the `Set-Cookie`s it receives (honouring `Path`, `Max-Age`, the `__Host-` and
/// `__Secure-` prefixes) and sends them back, with the CSRF header of the crate's cookie
/// transport on every request that changes state.
///
/// Clones share the jar. Responses are read whole. The service is called with a
/// `Request<Full<Bytes>>` (http-body-util), which an axum `Router` and the crate's endpoints
/// take; wrap a service that wants another body type with tower's `MapRequest`.
///
/// ```
/// use axum::{Router, routing::post};
/// use tower_jwt_auth::testing::TestClient;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let app: Router = Router::<()>::new().route("/echo", post(|body: String| async move { body }));
/// let client = TestClient::new(app);
/// let response = client.post("/echo").json(&serde_json::json!({ "a": 1 })).send().await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.json::<serde_json::Value>()?["a"], 1);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Clone)]
pub struct TestClient<S> {
    service: S,
    jar: Arc<Mutex<Jar>>,
    clock: Option<MockClock>,
    csrf_cookie: String,
    csrf_header: HeaderName,
}

impl<S> fmt::Debug for TestClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The jar holds tokens: never printed.
        f.debug_struct("TestClient")
            .field("clock", &self.clock)
            .field("csrf_cookie", &self.csrf_cookie)
            .field("csrf_header", &self.csrf_header)
            .finish_non_exhaustive()
    }
}

impl<S> TestClient<S> {
    /// A client of `service` with an empty jar that sends the value of the cookie
    /// `csrf_token` (whatever its prefix) in `x-csrf-token`, the cookie transport's defaults.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new().route("/", get(|| async { "hi" })));
    /// # let _ = client;
    /// ```
    pub fn new(service: S) -> Self {
        Self {
            service,
            jar: Arc::default(),
            clock: None,
            csrf_cookie: "csrf_token".to_owned(),
            csrf_header: HeaderName::from_static("x-csrf-token"),
        }
    }

    /// Runs the jar on `clock`: a cookie's `Max-Age` counts from when it was received, and
    /// the cookie is no longer sent once it has passed (without a clock, `Max-Age` only
    /// deletes at 0).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::{clock::MockClock, testing::TestClient};
    ///
    /// let client = TestClient::new(Router::<()>::new()).with_clock(MockClock::at_secs(1_800_000_000));
    /// # let _ = client;
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: MockClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sends the CSRF value under `transport`'s cookie and header names.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::{testing::TestClient, transport::CookieTransport};
    ///
    /// let transport = CookieTransport::mounted_at("/auth").with_csrf_header("x-xsrf-token").build()?;
    /// let client = TestClient::new(Router::<()>::new()).with_cookie_transport(&transport);
    /// # let _ = client;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_cookie_transport(mut self, transport: &CookieTransport) -> Self {
        self.csrf_cookie = transport.csrf_cookie_name().to_owned();
        self.csrf_header = transport.csrf_header().clone();
        self
    }

    fn now(&self) -> u64 {
        self.clock.as_ref().map_or(0, Clock::now_millis)
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, Jar> {
        self.jar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of the cookie `name` that a request to `path` would send now, if any.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// assert_eq!(TestClient::new(Router::<()>::new()).cookie("csrf_token", "/"), None);
    /// ```
    pub fn cookie(&self, name: &str, path: &str) -> Option<String> {
        self.jar().get(name, path, self.now()).map(str::to_owned)
    }

    /// The names of the cookies a request to `path` would send now, longest `Path` first.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// assert!(TestClient::new(Router::<()>::new()).cookie_names("/").is_empty());
    /// ```
    pub fn cookie_names(&self, path: &str) -> Vec<String> {
        self.jar().names(path, self.now())
    }

    /// Forgets every cookie (a new browser).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// TestClient::new(Router::<()>::new()).clear_cookies();
    /// ```
    pub fn clear_cookies(&self) {
        *self.jar() = Jar::default();
    }

    /// A request with `method` to `path` (a path and query: `/me?x=1`).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.request(http::Method::PUT, "/items/1");
    /// # let _ = request;
    /// ```
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_, S> {
        TestRequest {
            client: self,
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            cookies: true,
        }
    }

    /// A `GET` request to `path`.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let response = TestClient::new(Router::<()>::new()).get("/nowhere").send().await?;
    /// assert_eq!(response.status(), 404);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn get(&self, path: &str) -> TestRequest<'_, S> {
        self.request(Method::GET, path)
    }

    /// A `POST` request to `path`.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.post("/auth/logout");
    /// # let _ = request;
    /// ```
    pub fn post(&self, path: &str) -> TestRequest<'_, S> {
        self.request(Method::POST, path)
    }

    /// A `DELETE` request to `path`.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.delete("/auth/sessions/1");
    /// # let _ = request;
    /// ```
    pub fn delete(&self, path: &str) -> TestRequest<'_, S> {
        self.request(Method::DELETE, path)
    }
}

/// A request being built by a [`TestClient`]; [`send`](Self::send) sends it.
pub struct TestRequest<'a, S> {
    client: &'a TestClient<S>,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    cookies: bool,
}

impl<S> fmt::Debug for TestRequest<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers and body may hold tokens: never printed.
        f.debug_struct("TestRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<S> TestRequest<'_, S> {
    /// Sets the header `name` (a bad name or value is skipped).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.get("/").header("accept", "application/json");
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(name, value);
        }
        self
    }

    /// `Authorization: Bearer <token>` (marked sensitive).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.get("/me").bearer("eyJ…");
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn bearer(mut self, token: &str) -> Self {
        if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            value.set_sensitive(true);
            self.headers.insert(header::AUTHORIZATION, value);
        }
        self
    }

    /// A JSON body (`Content-Type: application/json`).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.post("/login").json(&serde_json::json!({ "user": "alice" }));
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn json(mut self, value: &impl Serialize) -> Self {
        self.body = serde_json::to_vec(value)
            .map(Bytes::from)
            .unwrap_or_default();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self
    }

    /// A form body (`Content-Type: application/x-www-form-urlencoded`), as the OAuth token
    /// endpoints take it.
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.post("/auth/refresh").form(&[("grant_type", "refresh_token"), ("refresh_token", "eyJ…")]);
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn form(mut self, value: &impl Serialize) -> Self {
        self.body = serde_urlencoded::to_string(value)
            .map(Bytes::from)
            .unwrap_or_default();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self
    }

    /// Sends neither the jar's cookies nor the CSRF header with this request (a request from
    /// another site, or a script that does not know the CSRF value).
    ///
    /// ```
    /// use axum::Router;
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// let client = TestClient::new(Router::<()>::new());
    /// let request = client.post("/auth/logout").without_cookies();
    /// # let _ = request;
    /// ```
    #[must_use]
    pub fn without_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }

    /// Sends the request and reads the whole response; its `Set-Cookie`s go into the jar.
    /// Fails only when the service or the response body does.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::testing::TestClient;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let client = TestClient::new(Router::<()>::new().route("/", get(|| async { "hi" })));
    /// assert_eq!(client.get("/").send().await?.text(), "hi");
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub async fn send<B>(self) -> Result<TestResponse, BoxError>
    where
        S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
        S::Error: Into<BoxError>,
        B: Body,
        B::Error: Into<BoxError>,
    {
        let client = self.client;
        let now = client.now();
        let path = self.path.split('?').next().unwrap_or_default().to_owned();
        let mut request = Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.uri_mut() = self.path.parse()?;
        *request.headers_mut() = self.headers;
        if self.cookies {
            let jar = client.jar();
            if let Some(cookies) = jar.header(&path, now) {
                request.headers_mut().insert(header::COOKIE, cookies);
            }
            let csrf = jar
                .names(&path, now)
                .into_iter()
                .find(|name| strip_prefix(name) == strip_prefix(&client.csrf_cookie))
                .and_then(|name| jar.get(&name, &path, now).map(str::to_owned));
            drop(jar);
            if let Some(value) = csrf
                && !csrf::is_safe(request.method())
                && !request.headers().contains_key(&client.csrf_header)
                && let Ok(value) = HeaderValue::from_str(&value)
            {
                request
                    .headers_mut()
                    .insert(client.csrf_header.clone(), value);
            }
        }
        let mut service = client.service.clone();
        poll_fn(|cx| service.poll_ready(cx))
            .await
            .map_err(Into::into)?;
        let response = service.call(request).await.map_err(Into::into)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(Into::into)?.to_bytes();
        client.jar().store(&parts.headers, &path, client.now());
        Ok(TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A cookie's name without its `__Host-` or `__Secure-` prefix.
fn strip_prefix(name: &str) -> &str {
    name.strip_prefix("__Host-")
        .or_else(|| name.strip_prefix("__Secure-"))
        .unwrap_or(name)
}

/// A response read whole by a [`TestClient`].
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_jwt_auth::testing::TestClient;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let client = TestClient::new(Router::<()>::new().route("/", get(|| async { "hi" })));
/// let response = client.get("/").send().await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
/// assert_eq!(response.bytes().as_ref(), b"hi");
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body and headers may hold tokens: never printed.
        f.debug_struct("TestResponse")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl TestResponse {
    /// The status.
    ///
    /// ```
    /// # use axum::Router;
    /// # use tower_jwt_auth::testing::TestClient;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let response = TestClient::new(Router::<()>::new()).get("/").send().await?;
    /// assert_eq!(response.status(), 404);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    ///
    /// ```
    /// # use axum::Router;
    /// # use tower_jwt_auth::testing::TestClient;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let response = TestClient::new(Router::<()>::new()).get("/").send().await?;
    /// assert!(response.headers().get("www-authenticate").is_none());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    ///
    /// ```
    /// # use axum::Router;
    /// # use tower_jwt_auth::testing::TestClient;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let response = TestClient::new(Router::<()>::new()).get("/").send().await?;
    /// assert!(response.bytes().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```
    /// # use axum::{Router, routing::get};
    /// # use tower_jwt_auth::testing::TestClient;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let client = TestClient::new(Router::<()>::new().route("/", get(|| async { "hi" })));
    /// assert_eq!(client.get("/").send().await?.text(), "hi");
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON of type `T`.
    ///
    /// ```
    /// # use axum::{Json, Router, routing::get};
    /// # use tower_jwt_auth::testing::TestClient;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let client = TestClient::new(Router::<()>::new().route("/", get(|| async { Json([1, 2]) })));
    /// assert_eq!(client.get("/").send().await?.json::<Vec<u8>>()?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}
