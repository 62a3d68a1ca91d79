//! Serves the built web app (`WEB_DIR`) at `/`, with the SPA fallback to `index.html`.

use std::path::Path;

use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

use crate::http::error::ApiError;
use crate::state::AppState;

pub fn router(web_dir: Option<&Path>) -> Router<AppState> {
    match web_dir {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            Router::new().fallback_service(ServeDir::new(dir).fallback(index))
        }
        None => Router::new().fallback(|| async { ApiError::RouteNotFound }),
    }
}
