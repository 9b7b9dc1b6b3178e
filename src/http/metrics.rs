//! `GET /metrics`: who may read it, and the handler.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::service::AppState;

/// Marks the app of the `--metrics-bind` listener, which serves `/metrics`
/// without a token (whoever reaches that address may read it).
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// A request that may read the metrics: on the metrics listener, or on the
/// main address with the configured token. Without a token configured the
/// main address answers as for an unknown path (404), so it does not even
/// say the endpoint exists.
pub struct MetricsAccess;

impl FromRequest for MetricsAccess {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req).map(|()| MetricsAccess))
    }
}

fn check(req: &HttpRequest) -> Result<(), AppError> {
    if req.app_data::<MetricsListener>().is_some() {
        return Ok(());
    }
    let token = req
        .app_data::<Data<AppState>>()
        .and_then(|state| state.settings.metrics_token.clone());
    let Some(token) = token else {
        return Err(AppError::NotFound(format!(
            "no route for {} {}",
            req.method(),
            req.path()
        )));
    };
    // Compared in constant time (`ConfiguredSecret::matches`).
    match super::extract::bearer_of(req) {
        Some(presented) if token.matches(&presented) => Ok(()),
        _ => Err(AppError::Unauthorized(
            "GET /metrics needs `Authorization: Bearer` with the metrics token".into(),
        )),
    }
}

/// `GET /metrics`: the Prometheus text format (version 0.0.4).
pub async fn metrics_get(_: MetricsAccess, state: Data<AppState>) -> HttpResponse {
    let text = state.metrics.render(&state.db.pool_stats());
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text)
}
