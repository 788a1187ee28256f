//! The one style sheet, compiled into the binary (no external fonts or CDNs: the
//! Content-Security-Policy allows only this origin, and inline styles are blocked).
//!
//! - `GET /static/hearth.css`

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../static/hearth.css");

pub async fn css() -> Response {
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
