//! The refresh-token cookie of the browser app: `HttpOnly; Secure; SameSite=Strict`, scoped to the
//! auth routes so it is never sent anywhere else.

use axum::http::{HeaderMap, HeaderValue, header};

pub const NAME: &str = "refresh_token";
pub const PATH: &str = "/api/v1/auth";

pub fn set(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{NAME}={token}; HttpOnly{secure}; SameSite=Strict; Path={PATH}; Max-Age={max_age_secs}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("refresh_token=; Path=/api/v1/auth; Max-Age=0"))
}

pub fn clear(secure: bool) -> HeaderValue {
    set("", 0, secure)
}

/// The refresh token from the request's cookies, if any.
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == NAME && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; refresh_token=abc; b=2"));
        assert_eq!(read(&headers).as_deref(), Some("abc"));
    }

    #[test]
    fn the_cookie_has_the_contract_attributes() {
        let v = set("tok", 60, true);
        assert_eq!(
            v.to_str().ok(),
            Some("refresh_token=tok; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age=60")
        );
    }
}
