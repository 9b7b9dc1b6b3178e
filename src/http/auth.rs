//! `/auth`: password sign-in, password reset, the current session, sign-out.
//! The session travels in an HttpOnly cookie.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::extract::{ScimBody, request_meta};
use crate::error::{ApiResult, AppError};
use crate::service::{AppState, signin};

pub const SESSION_COOKIE: &str = "scimlink_session";

/// Marks a browser that signed in to an account with a password before: its
/// sign-ins have a throttle of their own (`service::signin::login`).
pub const DEVICE_COOKIE: &str = "scimlink_device";

pub(super) fn session_cookie(
    state: &AppState,
    value: String,
    max_age_seconds: i64,
) -> Cookie<'static> {
    cookie(state, SESSION_COOKIE, "/", value, max_age_seconds)
}

/// The device cookie of a password sign-in, when it set one.
pub(super) fn device_cookie(
    state: &AppState,
    session: &signin::NewSession,
) -> Option<Cookie<'static>> {
    session.device_secret.clone().map(|value| {
        cookie(
            state,
            DEVICE_COOKIE,
            "/",
            value,
            signin::DEVICE_COOKIE_SECONDS,
        )
    })
}

/// An HttpOnly, SameSite=Lax cookie of this server.
pub(super) fn cookie(
    state: &AppState,
    name: &'static str,
    path: &'static str,
    value: String,
    max_age_seconds: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        // Secure unless the server is reached over plain http (local runs, tests).
        .secure(!state.base_url.starts_with("http://"))
        .max_age(CookieDuration::seconds(max_age_seconds))
        .finish()
}

fn json_body<T: serde::Serialize>(body: &T) -> Result<String, AppError> {
    serde_json::to_string(body)
        .map_err(|e| AppError::Internal(format!("cannot serialise a response: {e}")))
}

pub async fn auth_password_login(
    req: HttpRequest,
    state: Data<AppState>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    let request = body.typed()?.parse().await?;
    let session = signin::login(&state, request, &request_meta(&req)).await?;
    let mut response = HttpResponse::Ok();
    if let Some(device) = device_cookie(&state, &session) {
        response.cookie(device);
    }
    let cookie = session_cookie(&state, session.secret, session.max_age_seconds);
    Ok(response
        .cookie(cookie)
        .content_type("application/json")
        .body(json_body(&session.body)?))
}

pub async fn auth_password_reset(
    req: HttpRequest,
    state: Data<AppState>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    let request = body.typed()?.parse().await?;
    let done = signin::reset_password(&state, request, &request_meta(&req)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(json_body(&done)?))
}

fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

pub async fn auth_session_get(req: HttpRequest, state: Data<AppState>) -> ApiResult<HttpResponse> {
    let view = signin::current(&state, cookie_value(&req).as_deref(), &request_meta(&req)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(json_body(&view)?))
}

pub async fn auth_logout(req: HttpRequest, state: Data<AppState>) -> ApiResult<HttpResponse> {
    signin::logout(&state, cookie_value(&req).as_deref(), &request_meta(&req)).await?;
    let mut gone = session_cookie(&state, String::new(), 0);
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}
