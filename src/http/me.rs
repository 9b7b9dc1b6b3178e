//! `/scim/v2/Me` (RFC 7644 §3.11). `/Me` is the resource of the person who
//! is signed in; a SCIM token acts for an organisation, not a person, so with
//! one every method answers 501 (RFC 7644 §3.11 allows a service provider
//! that cannot map the caller to a User to do so). Sign-in sessions, when
//! they come, make `GET /Me` answer with the person's User.

use actix_web::HttpResponse;

use super::extract::ScimAuth;
use crate::error::AppError;

fn not_for_tokens() -> AppError {
    AppError::NotImplemented(
        "/Me answers for a signed-in person; a SCIM bearer token acts for an organisation, not a person".into(),
    )
}

pub async fn me_get(_: ScimAuth) -> Result<HttpResponse, AppError> {
    Err(not_for_tokens())
}

pub async fn me_create(_: ScimAuth) -> Result<HttpResponse, AppError> {
    Err(not_for_tokens())
}

pub async fn me_replace(_: ScimAuth) -> Result<HttpResponse, AppError> {
    Err(not_for_tokens())
}

pub async fn me_patch(_: ScimAuth) -> Result<HttpResponse, AppError> {
    Err(not_for_tokens())
}

pub async fn me_delete(_: ScimAuth) -> Result<HttpResponse, AppError> {
    Err(not_for_tokens())
}
