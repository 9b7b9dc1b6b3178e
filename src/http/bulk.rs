//! `POST /scim/v2/Bulk` (RFC 7644 §3.7).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;

use super::extract::{ScimAuth, ScimBody};
use super::respond;
use crate::error::AppResult;
use crate::service::{self, AppState};

pub async fn bulk_post(
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let body = body.json().await?;
    let response =
        service::bulk::run(&state, &scope, &body, state.settings.max_bulk_operations).await?;
    Ok(respond::scim_json(StatusCode::OK, &response))
}
