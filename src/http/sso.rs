//! Sign-in pages and SSO redirects: `/login/{org_slug}` (the organisation's
//! own sign-in page, its password form), `/sso/{id}/start` (to the IdP),
//! `/sso/oidc/{id}/callback` and `/sso/saml/{id}/acs` (back from it), and
//! `/sso/saml/{id}/metadata` (scimlink as a SAML service provider). Handlers are thin: the
//! decisions are in `service::sso` and `service::signin`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::auth::{cookie, device_cookie, session_cookie};
use super::extract::request_meta;
use super::html::{self, escape, form_map, holds_nul, query_map, query_value};
use crate::domain::sso::safe_return_to;
use crate::error::AppError;
use crate::service::saml_slo::{self, SloOutcome};
use crate::service::signin::NewSession;
use crate::service::sso::{self, LoginPage, OidcCallback, Outcome, Refusal, SamlPost};
use crate::service::{AppState, signin};

/// The cookie that ties an IdP's answer to the browser that started the
/// sign-in; it is sent only to `/sso/`. Over https it is `SameSite=None`:
/// SAML's answer is a form the IdP's page posts across sites, which a `Lax`
/// cookie would not ride. Over plain http (local runs, where browsers drop
/// `None` without `Secure`) it stays `Lax`, which still rides OIDC's
/// redirect and a post between two loopback ports (the same site).
const SSO_BROWSER_COOKIE: &str = "scimlink_sso";

pub(super) fn browser_cookie(
    state: &AppState,
    value: String,
    max_age_seconds: i64,
) -> Cookie<'static> {
    let mut c = cookie(state, SSO_BROWSER_COOKIE, "/sso/", value, max_age_seconds);
    if c.secure() == Some(true) {
        c.set_same_site(SameSite::None);
    }
    c
}

/// The sign-in is over either way: the browser cookie goes.
fn forget_browser(state: &AppState, response: &mut HttpResponse) {
    let mut gone = browser_cookie(state, String::new(), 0);
    gone.make_removal();
    let _ = response.add_cookie(&gone);
}

pub(super) fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Signed in: the session cookie, and on to `return_to`.
fn signed_in(state: &AppState, session: NewSession, return_to: &str) -> HttpResponse {
    let mut response = html::see_other(return_to);
    if let Some(device) = device_cookie(state, &session) {
        let _ = response.add_cookie(&device);
    }
    let _ = response.add_cookie(&session_cookie(
        state,
        session.secret,
        session.max_age_seconds,
    ));
    response
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

fn refused(refusal: &Refusal) -> HttpResponse {
    html::message(
        status_of(refusal.status),
        refusal.title,
        &refusal.message,
        None,
    )
}

/// The page after an IdP's answer: signed in, refused, or a test's report.
fn answer(state: &AppState, outcome: Result<Outcome, AppError>) -> HttpResponse {
    match outcome {
        Ok(Outcome::SignedIn { session, return_to }) => signed_in(state, session, &return_to),
        Ok(Outcome::Refused(refusal)) => refused(&refusal),
        Ok(Outcome::Tested(report)) => super::dashboard::test_report_page(&report),
        Err(e) => broken(e),
    }
}

/// A failure of scimlink itself (the database): logged, and a page that
/// says so without details.
fn broken(e: AppError) -> HttpResponse {
    log::error!("sign-in page failed: {e}");
    html::message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "scimlink could not finish this request. Try again in a moment.",
        None,
    )
}

/// A sign-in form or address with a NUL (see [`holds_nul`]).
fn nul_refused(back: Option<&str>) -> HttpResponse {
    html::message(
        StatusCode::BAD_REQUEST,
        "Sign-in refused",
        "The form or address holds a NUL character.",
        back,
    )
}

fn not_found() -> HttpResponse {
    html::message(
        StatusCode::NOT_FOUND,
        "No such organisation",
        "Check the sign-in address you were given.",
        None,
    )
}

fn login_body(
    page: &LoginPage,
    show_password: bool,
    return_to: &str,
    notice: Option<&str>,
) -> String {
    let mut body = format!("<h1>Sign in to {}</h1>", escape(&page.org_name));
    if let Some(n) = notice {
        body.push_str(&format!("<p role=\"alert\">{}</p>", escape(n)));
    }
    let rt = query_value(return_to);
    for (id, name, _) in &page.connections {
        body.push_str(&format!(
            "<a class=\"button\" href=\"/sso/{}/start?return_to={rt}\">Sign in with {}</a>",
            escape(id),
            escape(name)
        ));
    }
    if page.connections.iter().any(|(_, _, d)| !d.is_empty()) {
        body.push_str(&format!(
            "<form method=\"get\" action=\"/login/{slug}\"><label for=\"email\">Work email</label>\
             <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required>\
             <input type=\"hidden\" name=\"return_to\" value=\"{rt_attr}\">\
             <button type=\"submit\">Continue</button></form>",
            slug = escape(&page.org_slug),
            rt_attr = escape(return_to),
        ));
    }
    if show_password {
        if !page.connections.is_empty() {
            body.push_str("<hr>");
        }
        body.push_str(&format!(
            "<form method=\"post\" action=\"/login/{slug}/password\">\
             <label for=\"user_name\">User name</label>\
             <input id=\"user_name\" name=\"user_name\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <input type=\"hidden\" name=\"return_to\" value=\"{rt_attr}\">\
             <button type=\"submit\">Sign in with a password</button></form>",
            slug = escape(&page.org_slug),
            rt_attr = escape(return_to),
        ));
    } else {
        body.push_str(&format!(
            "<p class=\"note\">Administrators with a break-glass account: <a href=\"/login/{}?password=1\">sign in with a password</a>.</p>",
            escape(&page.org_slug)
        ));
    }
    if page.connections.is_empty() && !show_password {
        body.push_str(
            "<p>This organisation has no sign-in method turned on yet. Ask your administrator.</p>",
        );
    }
    body
}

/// `GET /login/{org_slug}`: buttons, the email box, the password form where
/// some account may use one (always with `?password=1`).
pub async fn login_page(
    req: HttpRequest,
    state: Data<AppState>,
    slug: Path<String>,
) -> HttpResponse {
    let query = query_map(&req);
    if holds_nul(&query) {
        return nul_refused(None);
    }
    let page = match sso::login_page(&state, &slug).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(),
        Err(e) => return broken(e),
    };
    let return_to =
        safe_return_to(query.get("return_to").map(String::as_str)).unwrap_or_else(|_| "/".into());
    let show_password = page.password_in_use || query.contains_key("password");
    if let Some(email) = query
        .get("email")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
    {
        return match page.connection_for_email(email) {
            Some(id) => html::see_other(&format!(
                "/sso/{}/start?return_to={}",
                query_value(id),
                query_value(&return_to)
            )),
            None => html::page(
                StatusCode::OK,
                &format!("Sign in to {}", page.org_name),
                &login_body(
                    &page,
                    show_password,
                    &return_to,
                    Some(
                        "No single sign-in connection owns that email's domain; choose one below.",
                    ),
                ),
            ),
        };
    }
    html::page(
        StatusCode::OK,
        &format!("Sign in to {}", page.org_name),
        &login_body(&page, show_password, &return_to, None),
    )
}

/// Whether a form post comes from this server's own pages (login CSRF and
/// every other state-changing form): browsers send `Origin` with every POST
/// (RFC 6454 §7; the Fetch standard), and it must be this server's public
/// origin. Without `Origin`, the `Referer` (which the pages' `same-origin`
/// referrer policy keeps on their own posts) must come from that origin; a
/// post with neither cannot be told from a forged one and is refused.
/// `Origin: null` (a privacy setting, or a page whose referrer policy hides
/// it) counts as ours only when the browser's own `Sec-Fetch-Site`, which no
/// page can set, says the post is same-origin.
pub(super) fn same_origin(req: &HttpRequest, base_url: &str) -> bool {
    let header_text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let ours = url::Url::parse(base_url)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    let is_ours = |origin: &str| ours.as_deref() == Some(origin);
    match header_text("origin") {
        Some("null") => header_text("sec-fetch-site") == Some("same-origin"),
        Some(origin) => is_ours(origin),
        None => header_text("referer")
            .and_then(|r| url::Url::parse(r).ok())
            .is_some_and(|r| is_ours(&r.origin().ascii_serialization())),
    }
}

/// `POST /login/{org_slug}/password`: the password form.
pub async fn login_password(
    req: HttpRequest,
    state: Data<AppState>,
    slug: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let back = format!("/login/{}?password=1", query_value(&slug));
    if !same_origin(&req, &state.base_url) {
        return html::message(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "This form was sent from another site.",
            Some(&back),
        );
    }
    if !is_form(&req) {
        return html::message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Sign-in refused",
            "The form must be sent as application/x-www-form-urlencoded.",
            Some(&back),
        );
    }
    let form = form_map(&body);
    if holds_nul(&form) {
        return nul_refused(Some(&back));
    }
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let return_to =
        safe_return_to(form.get("return_to").map(String::as_str)).unwrap_or_else(|_| "/".into());
    let request = signin::LoginRequest {
        org: slug.into_inner(),
        user_name: field("user_name"),
        password: field("password"),
    };
    match signin::login(&state, request, &request_meta(&req)).await {
        Ok(session) => signed_in(&state, session, &return_to),
        Err(AppError::SsoRequired { detail, sso_url }) => html::message(
            StatusCode::FORBIDDEN,
            "Sign in with SSO",
            &detail,
            Some(&sso_url),
        ),
        Err(
            e @ (AppError::InvalidCredentials
            | AppError::AccountDisabled
            | AppError::TooManyAttempts { .. }),
        ) => html::message(
            StatusCode::UNAUTHORIZED,
            "Sign-in refused",
            &e.to_string(),
            Some(&back),
        ),
        Err(e @ AppError::BadRequest { .. }) => html::message(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            &e.to_string(),
            Some(&back),
        ),
        Err(e) => broken(e),
    }
}

/// `GET /sso/{id}/start?return_to=/path`: to the IdP.
pub async fn sso_start(req: HttpRequest, state: Data<AppState>, id: Path<String>) -> HttpResponse {
    let query = query_map(&req);
    let meta = request_meta(&req);
    let from = sso::StartedFrom {
        client_address: meta.client_address,
        browser_secret: req
            .cookie(SSO_BROWSER_COOKIE)
            .map(|c| c.value().to_string()),
        session_hash: meta.browser.session_hash,
    };
    let return_to = query.get("return_to").map(String::as_str);
    match sso::start(&state, &id, return_to, &from).await {
        Ok(Ok(started)) => {
            let mut response = html::see_other(&started.redirect_to);
            let _ = response.add_cookie(&browser_cookie(&state, started.browser_secret, 600));
            response
        }
        Ok(Err(refusal)) => refused(&refusal),
        Err(e) => broken(e),
    }
}

/// `GET /sso/oidc/{id}/callback`: back from the OpenID provider.
pub async fn oidc_callback(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
) -> HttpResponse {
    let mut query = query_map(&req);
    let callback = OidcCallback {
        code: query.remove("code"),
        state: query.remove("state"),
        iss: query.remove("iss"),
        error: query.remove("error"),
        error_description: query.remove("error_description"),
    };
    let browser = req
        .cookie(SSO_BROWSER_COOKIE)
        .map(|c| c.value().to_string());
    let outcome = sso::oidc_callback(
        &state,
        &id,
        callback,
        browser.as_deref(),
        &request_meta(&req),
    )
    .await;
    let mut response = answer(&state, outcome);
    forget_browser(&state, &mut response);
    response
}

/// `GET /sso/saml/{id}/metadata`: the SP metadata to give the IdP.
pub async fn saml_metadata(state: Data<AppState>, id: Path<String>) -> HttpResponse {
    match sso::saml_metadata(&state, &id).await {
        Ok(Some(xml)) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .body(xml),
        Ok(None) => html::message(
            StatusCode::NOT_FOUND,
            "No such SAML connection",
            "Check the connection's metadata URL in scimlink's admin API.",
            None,
        ),
        // No key to keep the connection's SAML keys with (a setting).
        Err(AppError::Conflict(detail)) => {
            log::error!("SAML metadata of connection {id}: {detail}");
            html::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "SAML is not set up on this server",
                &detail,
                None,
            )
        }
        Err(e) => broken(e),
    }
}

/// `POST /sso/saml/{id}/acs`: the IdP's answer, posted by the browser.
pub async fn saml_acs(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    if !is_form(&req) {
        return html::message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Sign-in refused",
            "A SAML answer is posted as application/x-www-form-urlencoded.",
            None,
        );
    }
    let mut form = form_map(&body);
    let post = SamlPost {
        saml_response: form.remove("SAMLResponse"),
        relay_state: form.remove("RelayState"),
    };
    let browser = req
        .cookie(SSO_BROWSER_COOKIE)
        .map(|c| c.value().to_string());
    let outcome = sso::saml_acs(&state, &id, post, browser.as_deref(), &request_meta(&req)).await;
    let mut response = answer(&state, outcome);
    forget_browser(&state, &mut response);
    response
}

/// `GET /sso/saml/{id}/slo`: single logout over the HTTP-Redirect binding
/// (an IdP's LogoutRequest, or its LogoutResponse to scimlink's). The raw
/// query goes on as sent: its signature covers those bytes.
pub async fn saml_slo(req: HttpRequest, state: Data<AppState>, id: Path<String>) -> HttpResponse {
    slo_page(saml_slo::slo_redirect(&state, &id, req.query_string(), &request_meta(&req)).await)
}

/// `POST /sso/saml/{id}/slo`: single logout over the HTTP-POST binding.
pub async fn saml_slo_post(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    if !is_form(&req) {
        return html::message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Logout refused",
            "A SAML logout message is posted as application/x-www-form-urlencoded.",
            None,
        );
    }
    let mut form = form_map(&body);
    let post = saml_slo::SloPost {
        saml_request: form.remove("SAMLRequest"),
        saml_response: form.remove("SAMLResponse"),
        relay_state: form.remove("RelayState"),
    };
    slo_page(saml_slo::slo_post(&state, &id, post, &request_meta(&req)).await)
}

fn slo_page(outcome: Result<SloOutcome, AppError>) -> HttpResponse {
    match outcome {
        Ok(SloOutcome::Redirect(url)) => html::see_other(&url),
        Ok(SloOutcome::Page {
            status,
            title,
            message,
        }) => html::message(status_of(status), title, &message, None),
        Err(e) => broken(e),
    }
}
