//! Discovery endpoints (RFC 7644 §4) and health checks. Discovery needs no
//! token: it describes the server, not an organisation's data.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, http::header};

use super::respond::scim_json;
use crate::error::AppResult;
use crate::service::{AppState, discovery};

pub async fn service_provider_config_get(state: Data<AppState>) -> HttpResponse {
    scim_json(StatusCode::OK, &discovery::service_provider_config(&state))
}

pub async fn resource_types_list(state: Data<AppState>) -> HttpResponse {
    scim_json(StatusCode::OK, &discovery::resource_types(&state))
}

pub async fn resource_types_get(
    state: Data<AppState>,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_type(&state, &id)?,
    ))
}

pub async fn schemas_list(state: Data<AppState>) -> HttpResponse {
    scim_json(StatusCode::OK, &discovery::schemas(&state))
}

pub async fn schemas_get(state: Data<AppState>, id: Path<String>) -> AppResult<HttpResponse> {
    Ok(scim_json(StatusCode::OK, &discovery::schema(&state, &id)?))
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body("ok\n")
}

pub async fn readyz(state: Data<AppState>) -> HttpResponse {
    match discovery::ready(&state).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .body("ready\n"),
        Err(e) => {
            log::warn!("readiness check failed: {e:?}");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::CONTENT_TYPE, "text/plain"))
                .body("database unreachable\n")
        }
    }
}

/// Serves the HTTP contract the server implements.
pub async fn openapi_get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/yaml"))
        .body(include_str!("../../openapi.yaml"))
}
