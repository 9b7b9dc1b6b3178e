//! `POST /Users/.search`, `POST /Groups/.search`, `POST /.search` (RFC 7644 §3.4.3).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;

use super::extract::{ScimAuth, ScimBody};
use super::respond;
use crate::error::AppResult;
use crate::service::AppState;
use crate::service::search::{self, SearchRequest};

pub async fn users_search(
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let request = SearchRequest::from_body(&body.json().await?)?;
    let page = search::users(&state, &scope, &request).await?;
    Ok(respond::scim_json(StatusCode::OK, &page.into_response()))
}

pub async fn groups_search(
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let request = SearchRequest::from_body(&body.json().await?)?;
    let page = search::groups(&state, &scope, &request).await?;
    Ok(respond::scim_json(StatusCode::OK, &page.into_response()))
}

pub async fn root_search(
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let request = SearchRequest::from_body(&body.json().await?)?;
    let page = search::root(&state, &scope, &request).await?;
    Ok(respond::scim_json(StatusCode::OK, &page.into_response()))
}
