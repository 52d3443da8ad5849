//! gRPC integration (feature `tonic`): rejections that gRPC clients understand.
//!
//! A gRPC client reads the outcome of a call from `grpc-status`, not from the HTTP status: a
//! plain `401` reaches a tonic client as "grpc-status header missing". [`GrpcRejection`] makes
//! the bearer middleware answer a trailers-only gRPC response instead, with the RFC 6750
//! challenge kept in the `www-authenticate` metadata.
//!
//! Put the layer in front of a tonic server with `Server::builder().layer(…)`: it then guards
//! every service of that server, health and reflection included. A method that needs scopes
//! wraps its handler in [`require_scope`](crate::BearerAuthLayer::require_scope) of the same
//! layer, which then answers `PERMISSION_DENIED` (`examples/grpc.rs` has a hand-written
//! service that does this). The handler finds the verified claims, an
//! `Arc<`[`Claims`](crate::Claims)`<T>>`, in the extensions of its `tonic::Request`.
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use tonic::{service::Routes, transport::Server};
//! use tower_jwt_auth::{BearerAuthLayer, Issuer, grpc::GrpcRejection};
//!
//! async fn serve(issuer: &Issuer, routes: Routes, addr: SocketAddr) -> Result<(), tonic::transport::Error> {
//!     let auth = BearerAuthLayer::new(issuer).with_realm("api").on_rejection(GrpcRejection);
//!     Server::builder().layer(auth).add_routes(routes).serve(addr).await
//! }
//! ```

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};
use tonic::{Code, Status, metadata::MetadataMap};

use crate::bearer::{AuthError, OnRejection};

/// Answers rejections as gRPC statuses: a trailers-only response (HTTP 200,
/// `content-type: application/grpc`, empty body) whose `grpc-status` and `grpc-message` say
/// why, with the RFC 6750 `WWW-Authenticate` challenge as `www-authenticate` metadata.
///
/// | [`AuthError`] | `grpc-status` | challenge |
/// | --- | --- | --- |
/// | `MissingToken` | 16 `UNAUTHENTICATED` | `Bearer` (with the realm) |
/// | `InvalidToken` | 16 `UNAUTHENTICATED` | `error="invalid_token"` |
/// | `InvalidRequest` | 16 `UNAUTHENTICATED` | `error="invalid_request"` |
/// | `InsufficientScope` | 7 `PERMISSION_DENIED` | `error="insufficient_scope"`, `scope` |
/// | `Csrf`, `Denied` | 7 `PERMISSION_DENIED` | none |
/// | `Unavailable` | 14 `UNAVAILABLE` | none |
/// | `InvalidDpopProof`, `UseDpopNonce`, `DpopBinding` | 16 `UNAUTHENTICATED` | `DPoP …` |
///
/// With [DPoP](crate::BearerAuthLayer::with_dpop), a call carries `authorization: DPoP <token>`
/// and a `dpop` proof in its metadata; the proof's `htu` is the verifier's origin and the
/// call's path (`https://api.example.com/pkg.Service/Method`), its `htm` `POST`. A nonce to
/// retry with comes back as `dpop-nonce` metadata.
///
/// A malformed credential (two tokens, a `Bearer` header without a well-formed token) is
/// `UNAUTHENTICATED` rather than `INVALID_ARGUMENT`: gRPC keeps `INVALID_ARGUMENT` for the
/// arguments of the call, and what the client must fix is its credentials; the challenge's
/// `error="invalid_request"` still tells the two cases apart.
///
/// `grpc-message` is the error's [`description`](AuthError::description) ("a bearer token is
/// required" when there is none), percent-encoded by tonic; it never contains the token.
///
/// ```
/// use tonic::{Code, Status};
/// use tower_jwt_auth::{
///     BearerAuthLayer, Issuer, KeySet, SigningKey,
///     bearer::{AuthError, OnRejection},
///     grpc::GrpcRejection,
///     token::TokenError,
/// };
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let auth = BearerAuthLayer::new(&issuer).with_realm("api").on_rejection(GrpcRejection);
/// // A scope requirement answers with the same rejection: PERMISSION_DENIED.
/// let admin_only = auth.require_scope(["admin"]);
/// # let _ = admin_only;
///
/// let response = GrpcRejection.on_rejection(&AuthError::InvalidToken(TokenError::Expired), Some("api"));
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "application/grpc");
/// assert_eq!(response.headers()["grpc-status"], "16");
/// assert_eq!(response.headers()["grpc-message"], "token%20expired");
///
/// // What a tonic client makes of it:
/// let status = Status::from_header_map(response.headers()).ok_or("no grpc-status")?;
/// assert_eq!(status.code(), Code::Unauthenticated);
/// assert_eq!(status.message(), "token expired");
/// assert_eq!(
///     status.metadata().get("www-authenticate").ok_or("no challenge")?,
///     r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcRejection;

impl GrpcRejection {
    /// The gRPC status for `error`, with the challenge for `realm` in its metadata: what the
    /// response of [`on_rejection`](OnRejection::on_rejection) carries, for code that
    /// authenticates outside the middleware (an interceptor, a streaming handler).
    ///
    /// ```
    /// use tonic::Code;
    /// use tower_jwt_auth::{bearer::AuthError, grpc::GrpcRejection};
    ///
    /// let status = GrpcRejection::status(&AuthError::InsufficientScope("admin".into()), None);
    /// assert_eq!(status.code(), Code::PermissionDenied);
    /// assert_eq!(status.message(), "the token lacks a required scope");
    /// assert!(
    ///     status.metadata().get("www-authenticate").ok_or("no challenge")?
    ///         .to_str()?
    ///         .ends_with(r#"scope="admin""#)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(error: &AuthError, realm: Option<&str>) -> Status {
        let code = match error {
            AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::InvalidRequest(_)
            | AuthError::InvalidDpopProof(_)
            | AuthError::UseDpopNonce
            | AuthError::DpopBinding(_) => Code::Unauthenticated,
            AuthError::InsufficientScope(_) | AuthError::Csrf(_) | AuthError::Denied(_) => {
                Code::PermissionDenied
            }
            AuthError::Unavailable => Code::Unavailable,
        };
        let message = error.description().unwrap_or("a bearer token is required");
        let mut metadata = HeaderMap::new();
        if let Some(challenge) = error.www_authenticate(realm) {
            metadata.insert(header::WWW_AUTHENTICATE, challenge);
        }
        Status::with_metadata(code, message, MetadataMap::from_headers(metadata))
    }
}

impl OnRejection for GrpcRejection {
    fn on_rejection(&self, error: &AuthError, realm: Option<&str>) -> Response<Bytes> {
        let status = Self::status(error, realm);
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        if status.add_header(headers).is_err() {
            // Unreachable: tonic percent-encodes the message into a valid header value. Should
            // it ever fail, the code and the challenge still reach the client.
            let bare = Status::with_metadata(status.code(), "", status.metadata().clone());
            let _ = bare.add_header(headers);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::token::TokenError;

    fn reject(error: &AuthError) -> Response<Bytes> {
        GrpcRejection.on_rejection(error, Some("api"))
    }

    fn client_view(response: &Response<Bytes>) -> Status {
        Status::from_header_map(response.headers()).unwrap()
    }

    fn challenge(status: &Status) -> Option<String> {
        status
            .metadata()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn responses_are_trailers_only_grpc() {
        for error in [
            AuthError::MissingToken,
            AuthError::InvalidRequest("two tokens"),
            AuthError::InvalidToken(TokenError::Expired),
            AuthError::InsufficientScope("admin".into()),
            AuthError::Unavailable,
        ] {
            let response = reject(&error);
            assert_eq!(response.status(), StatusCode::OK, "{error}");
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/grpc",
                "{error}"
            );
            assert!(response.headers().contains_key("grpc-status"), "{error}");
            assert!(response.body().is_empty(), "{error}");
        }
    }

    #[test]
    fn codes_follow_the_table() {
        let code = |e: AuthError| client_view(&reject(&e)).code();
        assert_eq!(code(AuthError::MissingToken), Code::Unauthenticated);
        assert_eq!(
            code(AuthError::InvalidToken(TokenError::Revoked)),
            Code::Unauthenticated
        );
        assert_eq!(code(AuthError::InvalidRequest("x")), Code::Unauthenticated);
        assert_eq!(
            code(AuthError::InsufficientScope("a".into())),
            Code::PermissionDenied
        );
        assert_eq!(code(AuthError::Unavailable), Code::Unavailable);
        assert_eq!(
            reject(&AuthError::MissingToken).headers()["grpc-status"],
            "16"
        );
        assert_eq!(
            reject(&AuthError::InsufficientScope("a".into())).headers()["grpc-status"],
            "7"
        );
        assert_eq!(
            reject(&AuthError::Unavailable).headers()["grpc-status"],
            "14"
        );
    }

    #[test]
    fn the_challenge_is_metadata() {
        let status = client_view(&reject(&AuthError::MissingToken));
        assert_eq!(challenge(&status).unwrap(), r#"Bearer realm="api""#);
        assert_eq!(status.message(), "a bearer token is required");

        let status = client_view(&reject(&AuthError::InsufficientScope("admin write".into())));
        assert_eq!(
            challenge(&status).unwrap(),
            r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="admin write""#
        );

        let status = client_view(&reject(&AuthError::InvalidRequest("two tokens")));
        assert_eq!(
            challenge(&status).unwrap(),
            r#"Bearer realm="api", error="invalid_request", error_description="two tokens""#
        );

        // 503 has no challenge: retrying with another token would not help.
        let status = client_view(&reject(&AuthError::Unavailable));
        assert_eq!(challenge(&status), None);
        assert_eq!(
            status.message(),
            "authentication is temporarily unavailable"
        );

        let status = client_view(&GrpcRejection.on_rejection(&AuthError::MissingToken, None));
        assert_eq!(challenge(&status).unwrap(), "Bearer");
    }

    #[test]
    fn messages_are_percent_encoded() {
        let response = reject(&AuthError::InvalidRequest("two tokens: 100% wrong\n"));
        assert_eq!(
            response.headers()["grpc-message"],
            "two%20tokens:%20100%25%20wrong%0A"
        );
        assert_eq!(client_view(&response).message(), "two tokens: 100% wrong\n");
    }

    #[test]
    fn status_matches_the_response() {
        let error = AuthError::InvalidToken(TokenError::Expired);
        let status = GrpcRejection::status(&error, Some("api"));
        let seen = client_view(&reject(&error));
        assert_eq!(status.code(), seen.code());
        assert_eq!(status.message(), seen.message());
        assert_eq!(challenge(&status), challenge(&seen));
    }
}
