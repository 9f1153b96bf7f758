//! `GET /`: one self-contained page (inline CSS and script, nothing fetched but
//! `/status.json` and `/history.json`) that shows what `baton status` shows, per server the
//! counters HAProxy's stats page shows, and refreshes itself every second; the recent
//! history is drawn as inline SVG by the page's own script.
//!
//! The page builds its tables with `textContent` only, so no name or address from the
//! configuration can become markup; the Content-Security-Policy below enforces that no
//! other script or resource can load either.

use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderValue};
use http_body_util::Full;

const PAGE: &str = include_str!("status.html");

/// Inline script and style only; the one request the page makes is to this listener.
const POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
                      style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

pub(super) fn response() -> Response<Full<Bytes>> {
    let mut response = super::body(PAGE, "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained_and_never_parses_data_as_html() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "src=\"http",
            "href=\"http",
            "@import",
            "url(",
        ] {
            assert!(!PAGE.contains(forbidden), "status.html uses {forbidden}");
        }
        assert!(PAGE.contains("fetch(\"status.json\""));
        assert!(PAGE.contains("fetch(\"history.json\""));
        assert!(PAGE.contains("createElementNS(SVG"));
        assert!(PAGE.contains("textContent"));
        let response = response();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }
}
