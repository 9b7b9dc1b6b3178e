//! Request middleware: path normalisation before routing, and one log line
//! per request (method, path, status, duration; never headers or query,
//! which may carry secrets or personal data), counted into the metrics.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, Uri};
use actix_web::middleware::Next;
use actix_web::web::Data;

use crate::metrics::UNMATCHED_ROUTE;
use crate::service::{Actor, AppState};

/// SCIM endpoint names as the router knows them. Entra sends `/users`, some
/// clients add a trailing slash: both reach the same handler.
const CANONICAL_SEGMENTS: &[&str] = &[
    "scim",
    "v2",
    "Users",
    "Groups",
    "Me",
    "Bulk",
    ".search",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
];

/// The path the router should see for `path`.
pub fn normalize_path(path: &str) -> String {
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let segments: Vec<&str> = trimmed.split('/').collect();
    // ["", "scim", "v2", resource, ...]: canonicalise the prefix and the
    // resource name (or `.search` after it), never ids.
    let is_scim = segments.len() >= 3
        && segments[1].eq_ignore_ascii_case("scim")
        && segments[2].eq_ignore_ascii_case("v2");
    if !is_scim {
        return trimmed.to_string();
    }
    segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let canonical = (i <= 3 || (i == 4 && seg.eq_ignore_ascii_case(".search")))
                .then(|| {
                    CANONICAL_SEGMENTS
                        .iter()
                        .find(|c| c.eq_ignore_ascii_case(seg))
                })
                .flatten();
            canonical.copied().unwrap_or(seg)
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub async fn normalize_and_log(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = new_request_id();
    req.extensions_mut()
        .insert(super::extract::RequestId(request_id.clone()));
    let method = req.method().clone();
    let original = req.path().to_string();
    let normalized = normalize_path(&original);
    if normalized != original {
        let path_and_query = match req.query_string() {
            "" => normalized.clone(),
            q => format!("{normalized}?{q}"),
        };
        let mut parts = req.head().uri.clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    // A NUL can only arrive percent-encoded, and no id or slug holds one:
    // such a path names nothing (404) and never reaches the database, which
    // PostgreSQL would refuse. SCIM's routes answer it their own way. (A
    // query value with one is refused where the query is read.)
    let nul_in_path =
        !req.path().starts_with("/scim/") && req.path().as_bytes().windows(3).any(|w| w == b"%00");
    // The router's template (`/scim/v2/Users/{id}`), never the path itself:
    // the metrics' series stay as few as the routes.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_string());
    let state = req.app_data::<Data<AppState>>().cloned();
    if nul_in_path {
        let refused = super::not_found_here(req.request());
        log::info!("{request_id} {method} {original} 404 (NUL in the path)");
        count(state, &method, &route, 404, started, None);
        return Ok(req.into_response(refused).map_into_right_body());
    }
    let mut response = next.call(req).await.map(|r| r.map_into_left_body());
    let mut actor = None;
    let status = match &mut response {
        Ok(r) => {
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                r.headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), value);
            }
            actor = r.request().extensions().get::<Actor>().cloned();
            r.status().as_u16()
        }
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    log::info!(
        "{request_id} {method} {original} {status} {:.1}ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    count(state, &method, &route, status, started, actor);
    response
}

/// Counts an answered request, and a SCIM write by the token that made it
/// (the `ScimAuth` extractor leaves the token's actor on the request).
fn count(
    state: Option<Data<AppState>>,
    method: &Method,
    route: &str,
    status: u16,
    started: Instant,
    actor: Option<Actor>,
) {
    let Some(state) = state else {
        return;
    };
    let method = method.as_str();
    state
        .metrics
        .http_request(route, method, status, started.elapsed());
    let is_write = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
    // RFC 7644 §3.4.3: a POST to `.search` reads.
    if !is_write || !route.starts_with("/scim/v2/") || route.ends_with("/.search") {
        return;
    }
    if let Some(Actor::ScimToken { id, label }) = actor {
        state.metrics.scim_write(&id, &label, method, status);
    }
}

/// A short random id, logged with the request and recorded in its audit events.
fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::normalize_path;

    #[test]
    fn normalises_case_and_trailing_slashes_but_not_ids() {
        assert_eq!(normalize_path("/scim/v2/users/"), "/scim/v2/Users");
        assert_eq!(
            normalize_path("/SCIM/V2/Users/AbC-1"),
            "/scim/v2/Users/AbC-1"
        );
        assert_eq!(
            normalize_path("/scim/v2/users/.SEARCH"),
            "/scim/v2/Users/.search"
        );
        assert_eq!(
            normalize_path("/scim/v2/serviceproviderconfig"),
            "/scim/v2/ServiceProviderConfig"
        );
        assert_eq!(
            normalize_path("/scim/v2/Users/users"),
            "/scim/v2/Users/users"
        );
        assert_eq!(normalize_path("/healthz/"), "/healthz");
        assert_eq!(normalize_path("/"), "/");
    }
}
