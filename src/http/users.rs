//! `/scim/v2/Users` (RFC 7644 §3.3-§3.6).

use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::extract::{ScimAuth, ScimBody, ScimQuery, header_text};
use super::respond;
use crate::error::AppResult;
use crate::scim::schema::USER_RESOURCE_TYPE;
use crate::service::{self, AppState, Conditional};

pub async fn users_create(
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    query: ScimQuery,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let projection = query.projection(&USER_RESOURCE_TYPE)?;
    let body = body.json().await?;
    let user = service::users::create(&state, &scope, &body, &projection).await?;
    Ok(respond::resource(StatusCode::CREATED, &user))
}

pub async fn users_get(
    req: HttpRequest,
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    query: ScimQuery,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let projection = query.projection(&USER_RESOURCE_TYPE)?;
    let if_none_match = header_text(&req, header::IF_NONE_MATCH);
    Ok(
        match service::users::get(&state, &scope, &id, &projection, if_none_match).await? {
            Conditional::Modified(user) => respond::resource(StatusCode::OK, &user),
            Conditional::NotModified { etag } => respond::not_modified(etag),
        },
    )
}

pub async fn users_list(
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    query: ScimQuery,
) -> AppResult<HttpResponse> {
    let params = query.list_params(&USER_RESOURCE_TYPE)?;
    let page = service::users::list(&state, &scope, &params).await?;
    Ok(respond::scim_json(StatusCode::OK, &page.into_response()))
}

pub async fn users_replace(
    req: HttpRequest,
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    query: ScimQuery,
    id: Path<String>,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let projection = query.projection(&USER_RESOURCE_TYPE)?;
    let if_match = header_text(&req, header::IF_MATCH);
    let body = body.json().await?;
    let user = service::users::replace(&state, &scope, &id, &body, if_match, &projection).await?;
    Ok(respond::resource(StatusCode::OK, &user))
}

pub async fn users_patch(
    req: HttpRequest,
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    query: ScimQuery,
    id: Path<String>,
    body: ScimBody,
) -> AppResult<HttpResponse> {
    let projection = query.projection(&USER_RESOURCE_TYPE)?;
    let if_match = header_text(&req, header::IF_MATCH);
    let body = body.json().await?;
    let user = service::users::patch(&state, &scope, &id, &body, if_match, &projection).await?;
    Ok(respond::resource(StatusCode::OK, &user))
}

pub async fn users_delete(
    req: HttpRequest,
    state: Data<AppState>,
    ScimAuth(scope): ScimAuth,
    id: Path<String>,
) -> AppResult<HttpResponse> {
    let if_match = header_text(&req, header::IF_MATCH);
    service::users::delete(&state, &scope, &id, if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}
