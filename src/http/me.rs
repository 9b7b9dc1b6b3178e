//! `/scim/v2/Me` (RFC 7644 §3.11). `/Me` is the resource of the person who
//! is signed in: with a session cookie (password or SSO sign-in), `GET /Me`
//! answers with that person's User. A SCIM token acts for an organisation,
//! not a person, so with one every method answers 501 (RFC 7644 §3.11 allows
//! a service provider that cannot map the caller to a User to do so).
//! Changing oneself through `/Me` is not offered: attributes are the IdP's.

use actix_web::http::{StatusCode, header};
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest, HttpResponse};

use super::auth::SESSION_COOKIE;
use super::extract::{ScimAuth, ScimQuery, header_text, request_meta};
use super::respond;
use crate::error::AppError;
use crate::scim::schema::USER_RESOURCE_TYPE;
use crate::service::{Actor, AppState, Conditional, OrgScope, signin, users};

pub async fn me_get(
    req: HttpRequest,
    state: Data<AppState>,
    query: ScimQuery,
) -> Result<HttpResponse, AppError> {
    let session_cookie = req.cookie(SESSION_COOKIE);
    // A bearer token speaks for an organisation even beside a cookie.
    let Some(cookie) =
        session_cookie.filter(|_| !req.headers().contains_key(header::AUTHORIZATION))
    else {
        ScimAuth::extract(&req).await?;
        return Err(not_for_tokens());
    };
    let meta = request_meta(&req);
    let session = signin::current(&state, Some(cookie.value()), &meta).await?;
    let projection = query.projection(&USER_RESOURCE_TYPE)?;
    let actor = Actor::Account {
        id: session.account_id.clone(),
    };
    let scope = OrgScope::new(&session.org.id, actor, &meta);
    let if_none_match = header_text(&req, header::IF_NONE_MATCH);
    Ok(
        match users::get(
            &state,
            &scope,
            &session.account_id,
            &projection,
            if_none_match,
        )
        .await?
        {
            Conditional::Modified(user) => {
                let mut response = respond::resource(StatusCode::OK, &user);
                // §3.11: the response names the User's own URI.
                if let Ok(value) = header::HeaderValue::from_str(&user.location) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_LOCATION, value);
                }
                response
            }
            Conditional::NotModified { etag } => respond::not_modified(etag),
        },
    )
}

fn not_for_tokens() -> AppError {
    AppError::NotImplemented(
        "/Me answers for a signed-in person; a SCIM bearer token acts for an organisation, not a person".into(),
    )
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
