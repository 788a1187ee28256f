//! The server-rendered pages people use.

pub mod headers;

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
