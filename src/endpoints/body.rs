//! Reading a small request body as JSON or as an HTML form, whichever the client sent.

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use super::ErrorResponse;
use crate::store::BoxError;

/// The default limit on the body of a token endpoint request: 16 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// How a request body was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(unreachable_pub)]
pub enum BodyKind {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// No body and no `Content-Type` (a cookie-transport refresh).
    Empty,
}

/// Reads at most `limit` bytes and parses them by `Content-Type`: `application/json` or
/// `application/x-www-form-urlencoded`. Every failure is a 4xx, never a 5xx.
pub(crate) async fn parse<B, T>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<(T, BodyKind), ErrorResponse>
where
    B: Body,
    B::Error: Into<BoxError>,
    T: DeserializeOwned,
{
    use BodyKind as Kind;
    let kind = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("application/json") => Kind::Json,
        Some("application/x-www-form-urlencoded") => Kind::Form,
        _ => {
            return Err(ErrorResponse::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "send application/json or application/x-www-form-urlencoded",
            ));
        }
    };
    let bytes: Bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            return Err(if err.is::<http_body_util::LengthLimitError>() {
                ErrorResponse::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "request body too large",
                )
            } else {
                ErrorResponse::invalid_request("request body could not be read")
            });
        }
    };
    let parsed = match kind {
        Kind::Json => serde_json::from_slice(&bytes)
            .map_err(|_| ErrorResponse::invalid_request("body is not the expected JSON object")),
        // Duplicate parameters are refused (RFC 6749 §3.2) by the derived deserialiser.
        Kind::Form => serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ErrorResponse::invalid_request("body is not the expected form")),
        // Never chosen above: a content type was required.
        Kind::Empty => Err(ErrorResponse::invalid_request("no request body")),
    }?;
    Ok((parsed, kind))
}
