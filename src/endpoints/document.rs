//! The answer of the endpoints that serve one public document: the JWKS, the issuer's
//! RFC 8414 metadata and a resource's RFC 9728 metadata.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;

/// `GET` (the document) or `HEAD` (its headers) with `content_type` and `cache_control`; any
/// other method is 405 with `Allow: GET, HEAD`. `body` is only read for a `GET`.
pub(super) fn document_response(
    method: &Method,
    body: impl FnOnce() -> Bytes,
    content_type: &'static str,
    cache_control: HeaderValue,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    if method != Method::GET && method != Method::HEAD {
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if method == Method::GET {
        *response.body_mut() = Full::new(body());
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, cache_control);
    response
}
