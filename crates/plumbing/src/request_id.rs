//! `x-request-id` on every response: a client's well-formed id is kept, otherwise a fresh one is made.
//!
//! The id is also held in a task-local for the duration of the request so that errors can put it in
//! their problem body without every handler threading it through.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The request's id, also available as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.0.clone()).ok()
}

/// Accepts 1-128 characters of a conservative alphabet, so an id can be logged and echoed safely.
pub fn is_well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Keeps or makes the id, stores it as an extension and in the task-local while the request runs,
/// and echoes it on the response.
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_well_formed(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), ToOwned::to_owned);
    let header = HeaderValue::from_str(&id).ok();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = REQUEST_ID.scope(RequestId(id), next.run(request)).await;
    if let Some(value) = header {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_well_formed;

    #[test]
    fn request_ids_are_checked() {
        assert!(is_well_formed("abc-123_x.y:z"));
        assert!(is_well_formed(&"a".repeat(128)));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("has space"));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed("line\nbreak"));
    }
}
