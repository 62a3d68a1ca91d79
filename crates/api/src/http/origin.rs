//! Cross-site request forgery on the refresh cookie: a cookie-authenticated `POST /auth/refresh` or
//! `/auth/logout` must come from the app's own origin or one of `CORS_ALLOWED_ORIGINS`.
//!
//! `SameSite=Strict` already keeps the cookie off cross-site requests in current browsers; this is
//! the second layer (older browsers, same-site sibling hosts, a cookie set without it). The rule:
//! an `Origin` header decides when present (`null` and anything unlisted are refused); without
//! one, `Sec-Fetch-Site: cross-site` is refused; a request with neither (curl, a server-side
//! client) is allowed. Requests that carry the token in the body are never checked: a forged
//! request cannot know the token.

use axum::http::{HeaderMap, HeaderValue, header};

/// Whether a request with these headers may use the refresh cookie. `allowed` are the normalised
/// `CORS_ALLOWED_ORIGINS`; the api's own origin is the one whose authority is the `Host` header.
pub fn cookie_request_allowed(headers: &HeaderMap, allowed: &[HeaderValue]) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim();
        return allowed
            .iter()
            .filter_map(|a| a.to_str().ok())
            .any(|a| a.eq_ignore_ascii_case(origin))
            || is_own(origin, headers);
    }
    !headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cross-site"))
}

/// `origin` (`scheme://host[:port]`) names the host the request was sent to.
fn is_own(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(url) = reqwest::Url::parse(origin) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
        return false;
    }
    let Some(origin_host) = url.host_str() else {
        return false;
    };
    let authority = match url.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_owned(),
    };
    let host = host.trim();
    // A Host header may spell out the scheme's default port, which an Origin never does.
    let host_without_default = match url.scheme() {
        "https" => host.strip_suffix(":443"),
        _ => host.strip_suffix(":80"),
    }
    .unwrap_or(host);
    authority.eq_ignore_ascii_case(host) || authority.eq_ignore_ascii_case(host_without_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_static(value));
        }
        h
    }

    fn allowed() -> Vec<HeaderValue> {
        vec![HeaderValue::from_static("http://localhost:5173")]
    }

    #[test]
    fn listed_and_own_origins_are_allowed() {
        assert!(cookie_request_allowed(
            &headers(&[("origin", "http://localhost:5173")]),
            &allowed()
        ));
        assert!(cookie_request_allowed(
            &headers(&[("origin", "https://clinic.example"), ("host", "clinic.example")]),
            &allowed()
        ));
        assert!(cookie_request_allowed(
            &headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]),
            &allowed()
        ));
        assert!(cookie_request_allowed(
            &headers(&[("origin", "https://clinic.example"), ("host", "clinic.example:443")]),
            &allowed()
        ));
        // A listed origin decides even when the browser calls it cross-site (app and api on different sites).
        assert!(cookie_request_allowed(
            &headers(&[("origin", "http://localhost:5173"), ("sec-fetch-site", "cross-site")]),
            &allowed()
        ));
    }

    #[test]
    fn foreign_null_and_lookalike_origins_are_refused() {
        for origin in [
            "https://evil.example",
            "null",
            "http://localhost:5174",
            "https://localhost:5173",
            "http://clinic.example.evil.example",
        ] {
            let h = {
                let mut h = headers(&[("host", "clinic.example")]);
                h.insert("origin", HeaderValue::from_static(origin));
                h
            };
            assert!(!cookie_request_allowed(&h, &allowed()), "{origin}");
        }
        // Same host on another port is another origin.
        assert!(!cookie_request_allowed(
            &headers(&[
                ("origin", "http://clinic.example:8081"),
                ("host", "clinic.example:8080")
            ]),
            &allowed()
        ));
    }

    #[test]
    fn without_origin_only_cross_site_fetch_metadata_is_refused() {
        assert!(!cookie_request_allowed(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &allowed()
        ));
        for site in ["same-origin", "same-site", "none"] {
            let mut h = HeaderMap::new();
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert!(cookie_request_allowed(&h, &allowed()), "{site}");
        }
        assert!(cookie_request_allowed(&HeaderMap::new(), &allowed()));
    }
}
