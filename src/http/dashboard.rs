//! The dashboard (`/admin`): server-rendered pages for the organisation's
//! admins and support staff, signed in with a session like anyone else.
//! Handlers are thin: every action calls the same `service` use case as the
//! admin API (so the same rules and the same audit events), as the signed-in
//! person (`service::staff`). Forms carry a per-session token and must come
//! from this server's own pages; templates escape every value; the only
//! script is a copy button, served from here, under a CSP without inline
//! script.

use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::auth::{SESSION_COOKIE, session_cookie};
use super::extract::request_meta;
use super::html::{Form, form_map, holds_nul, query_map, query_value, see_other};
use super::sso::{browser_cookie, is_form, same_origin};
use crate::domain::{AuthMode, OrgRole};
use crate::error::AppError;
use crate::service::staff::{self, Refused, Staff};
use crate::service::{
    AppState, accounts, audit, connections, linking, orgs, sessions, signin, sso, tokens,
    workspaces,
};

/// The dashboard's templates, compiled into the binary.
macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/dashboard/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 19] = template_files![
    "layout.html",
    "message.html",
    "sign_in.html",
    "home.html",
    "reset_password.html",
    "users.html",
    "user_new.html",
    "user.html",
    "confirm_mode.html",
    "org.html",
    "require_sso.html",
    "tokens.html",
    "workspaces.html",
    "workspace.html",
    "audit.html",
    "connections.html",
    "connection.html",
    "test_result.html",
    "test_start.html",
];

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names turn on HTML auto-escaping for every value.
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // A template that does not parse is a build defect; the unit
                // test below parses every one, so it cannot ship.
                log::error!("dashboard template {name}: {e}");
            }
        }
        env
    })
}

/// The value of a `Result<T, HttpResponse>`, or, from the handler, the page
/// it holds instead (signed out, not allowed, a refused form).
macro_rules! or_page {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(page) => return page,
        }
    };
}

/// Scripts and styles only from this server; nothing inline, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn render(status: StatusCode, template: &str, ctx: Value) -> HttpResponse {
    let html = match templates()
        .get_template(template)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => html,
        Err(e) => {
            log::error!("dashboard page {template} failed to render: {e:#}");
            return HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The page could not be shown.");
        }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Not `no-referrer`: with it Chromium sends `Origin: null` on form
        // posts, and the origin check would refuse the dashboard's own forms.
        // `same-origin` still keeps a reset link's token from other sites.
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

/// What every signed-in page knows of its viewer.
#[derive(Serialize)]
struct Viewer<'a> {
    user_name: &'a str,
    role: &'static str,
    org_name: &'a str,
    is_admin: bool,
    csrf: &'a str,
}

fn viewer(staff: &Staff) -> Viewer<'_> {
    Viewer {
        user_name: &staff.user_name,
        role: staff.role.as_str(),
        org_name: &staff.org_name,
        is_admin: staff.is_admin(),
        csrf: &staff.csrf,
    }
}

fn message(
    status: StatusCode,
    staff: Option<&Staff>,
    title: &str,
    text: &str,
    back: Option<&str>,
) -> HttpResponse {
    render(
        status,
        "message.html",
        context! {
            title => title,
            text => text,
            back => back,
            staff => staff.map(viewer),
        },
    )
}

/// scimlink itself failed (the database): logged, a page without details.
fn broken(e: AppError) -> HttpResponse {
    log::error!("dashboard request failed: {e}");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "Something went wrong",
        "scimlink could not finish this request. Try again in a moment.",
        None,
    )
}

/// A use case said no: its own words, with the status the API would use.
fn refused(staff: &Staff, e: AppError, back: &str) -> HttpResponse {
    let status = e.status_code();
    if status.is_server_error() {
        return broken(e);
    }
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        _ => "That did not work",
    };
    message(
        status,
        Some(staff),
        title,
        &sentence(&e.to_string()),
        Some(back),
    )
}

/// A use case's message as a sentence on a page.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.is_empty() && !out.ends_with('.') {
        out.push('.');
    }
    out
}

fn session_secret(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

fn nul_refused(back: Option<&str>) -> HttpResponse {
    message(
        StatusCode::BAD_REQUEST,
        None,
        "That did not work",
        "The form or address holds a NUL character.",
        back,
    )
}

/// The person behind the request, or the page to show instead.
async fn signed_in(req: &HttpRequest, state: &AppState) -> Result<Staff, HttpResponse> {
    let secret = session_secret(req);
    match staff::authenticate(state, secret.as_deref(), &request_meta(req)).await {
        Ok(Ok(staff)) => Ok(staff),
        Ok(Err(Refused::SignIn)) => Err(see_other("/admin/sign-in")),
        Ok(Err(Refused::NotStaff {
            user_name,
            org_slug,
        })) => Err(message(
            StatusCode::FORBIDDEN,
            None,
            "Not allowed",
            &format!(
                "You are signed in as {user_name} in {org_slug}, an account without a dashboard role. Ask an administrator of your organisation."
            ),
            Some("/"),
        )),
        Err(e) => Err(broken(e)),
    }
}

/// The dashboard's admin-only pages check on the server, not by hiding
/// links: the page to show instead when `staff` is not an admin.
fn unless_admin(staff: &Staff) -> Option<HttpResponse> {
    staff
        .scope
        .require_admin()
        .err()
        .map(|e| refused(staff, e, "/admin/users"))
}

/// A form another site's page sent (its `Origin` is not ours).
fn from_another_site(back: &str) -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        None,
        "Not allowed",
        "This form was sent from another site.",
        Some(back),
    )
}

/// Whether a form carries the form token of the session `secret` opens;
/// if not, the page saying the form expired.
fn without_token(
    secret: &str,
    form: &Form,
    staff: Option<&Staff>,
    back: &str,
) -> Option<HttpResponse> {
    let token = form.get("csrf").map(String::as_str).unwrap_or_default();
    (!staff::csrf_matches(secret, token)).then(|| {
        message(
            StatusCode::FORBIDDEN,
            staff,
            "This form has expired",
            "Reload the page and try again.",
            Some(back),
        )
    })
}

/// A posted dashboard form: from this server's pages, by a signed-in staff
/// member, carrying their session's form token.
async fn posted(
    req: &HttpRequest,
    state: &AppState,
    body: &Bytes,
) -> Result<(Staff, Form), HttpResponse> {
    if !same_origin(req, &state.base_url) {
        return Err(from_another_site("/admin"));
    }
    if !is_form(req) {
        return Err(message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "Not a form",
            "Dashboard forms are sent as application/x-www-form-urlencoded.",
            Some("/admin"),
        ));
    }
    let staff = signed_in(req, state).await?;
    let form: Form = form_map(body);
    if holds_nul(&form) {
        return Err(nul_refused(Some("/admin")));
    }
    let secret = session_secret(req).unwrap_or_default();
    if let Some(page) = without_token(&secret, &form, Some(&staff), "/admin") {
        return Err(page);
    }
    Ok((staff, form))
}

/// A destructive form whose "I understand" box is not ticked: the page
/// asking to confirm the `what`.
fn unconfirmed(staff: &Staff, form: &Form, what: &str, back: &str) -> Option<HttpResponse> {
    (!checked(form, "confirm")).then(|| {
        refused(
            staff,
            AppError::invalid_value(format!("tick the box to confirm the {what}")),
            back,
        )
    })
}

fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn checked(form: &Form, name: &str) -> bool {
    matches!(field(form, name), Some("1" | "on" | "true"))
}

/// The query, or the page refusing a NUL in it (for the pages whose query
/// reaches the database: the users list and the audit log).
fn filters_of(req: &HttpRequest, staff: &Staff) -> Result<Form, Box<HttpResponse>> {
    let query = query_map(req);
    if holds_nul(&query) {
        return Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            Some(staff),
            "That did not work",
            "A filter holds a NUL character.",
            Some("/admin"),
        )));
    }
    Ok(query)
}

/// `GET /admin`.
pub async fn admin_root() -> HttpResponse {
    see_other("/admin/users")
}

/// `GET /admin/sign-in[?org=slug]`: to the organisation's sign-in page.
pub async fn admin_sign_in(req: HttpRequest) -> HttpResponse {
    let query = query_map(&req);
    match field(&query, "org") {
        Some(slug) => see_other(&format!("/login/{}?return_to=/admin", query_value(slug))),
        None => render(
            StatusCode::OK,
            "sign_in.html",
            context! { title => "Sign in" },
        ),
    }
}

/// `POST /sign-out` (the dashboard's button and `/`'s).
pub async fn sign_out(req: HttpRequest, state: Data<AppState>, body: Bytes) -> HttpResponse {
    if !same_origin(&req, &state.base_url) {
        return from_another_site("/");
    }
    let secret = session_secret(&req);
    // Signed in: the form must carry the session's token (a page elsewhere
    // cannot sign the person out).
    if let Some(secret) = secret.as_deref()
        && let Some(page) = without_token(secret, &form_map(&body), None, "/")
    {
        return page;
    }
    // A SAML session: on to the IdP with a LogoutRequest once it ends here.
    let to_idp = match crate::service::saml_slo::start_logout(&state, secret.as_deref()).await {
        Ok(url) => url,
        Err(e) => return broken(e),
    };
    if let Err(e) = signin::logout(&state, secret.as_deref(), &request_meta(&req)).await {
        return broken(e);
    }
    let mut response = see_other(to_idp.as_deref().unwrap_or("/"));
    let mut gone = session_cookie(&state, String::new(), 0);
    gone.make_removal();
    let _ = response.add_cookie(&gone);
    response
}

/// `GET /`: who is signed in, if anyone.
pub async fn home(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let secret = session_secret(&req);
    let meta = request_meta(&req);
    // One look at the session: who it is, and whether they are staff.
    let live = match signin::live(&state, secret.as_deref(), &meta).await {
        Ok(live) => Some(live),
        Err(AppError::Unauthorized(_)) => None,
        Err(e) => return broken(e),
    };
    let dashboard = live.as_ref().is_some_and(|live| {
        staff::of_session(live, secret.as_deref().unwrap_or_default(), &meta).is_ok()
    });
    let session = live.map(|live| live.view);
    let csrf = secret.as_deref().map(staff::csrf_token);
    render(
        StatusCode::OK,
        "home.html",
        context! { title => "scimlink", session => session, dashboard => dashboard, csrf => csrf },
    )
}

/// `GET /admin/users`: search, filters, cursor pages.
pub async fn users(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    let query = or_page!(filters_of(&req, &staff).map_err(|page| *page));
    let text = |k: &str| field(&query, k).map(str::to_string);
    let status = text("status");
    let listing = accounts::AccountQuery {
        query: text("q"),
        cursor: text("cursor"),
        limit: Some(50),
        auth_mode: text("auth_mode"),
        active: match status.as_deref() {
            Some("active") => Some(true),
            Some("deactivated") => Some(false),
            _ => None,
        },
        managed_by: text("source"),
        workspace_id: text("workspace"),
    };
    let page = match accounts::list(&state, &staff.scope, listing).await {
        Ok(p) => p,
        Err(e) => return refused(&staff, e, "/admin/users"),
    };
    let scim_ids: Vec<String> = page
        .accounts
        .iter()
        .filter(|a| a.source == "scim")
        .map(|a| a.id.clone())
        .collect();
    let managers = match audit::scim_managers(&state, &staff.scope, &scim_ids).await {
        Ok(m) => m,
        Err(e) => return broken(e),
    };
    let workspaces = match workspaces::list(&state, &staff.scope).await {
        Ok(list) => list.workspaces,
        Err(e) => return broken(e),
    };
    let next_url = page
        .next_cursor
        .as_deref()
        .map(|c| next_page_url("/admin/users", &query, c));
    render(
        StatusCode::OK,
        "users.html",
        context! {
            title => "Users",
            section => "users",
            staff => viewer(&staff),
            accounts => page.accounts,
            managers => managers,
            workspaces => workspaces,
            workspace => text("workspace"),
            next_url => next_url,
            q => text("q").unwrap_or_default(),
            auth_mode => text("auth_mode"),
            status => status,
            source => text("source"),
        },
    )
}

/// `GET /admin/users/new`.
pub async fn user_new(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    let sso_enabled = match orgs::settings(&state, &staff.scope).await {
        Ok(org) => org.sso_enabled,
        Err(e) => return broken(e),
    };
    let workspaces = match workspaces::list(&state, &staff.scope).await {
        Ok(list) => list.workspaces,
        Err(e) => return broken(e),
    };
    render(
        StatusCode::OK,
        "user_new.html",
        context! {
            title => "Add user",
            section => "new",
            staff => viewer(&staff),
            sso_enabled => sso_enabled,
            workspaces => workspaces,
            form => Form::new(),
        },
    )
}

/// `POST /admin/users`: add a user, then show them (with their reset link
/// when they sign in with a password).
pub async fn user_create(req: HttpRequest, state: Data<AppState>, body: Bytes) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let input = accounts::NewAccountInput {
        user_name: field(&form, "user_name").unwrap_or_default().to_string(),
        display_name: field(&form, "display_name").map(str::to_string),
        email: field(&form, "email").map(str::to_string),
        active: None,
        break_glass: checked(&form, "break_glass"),
        external_user_id: None,
    };
    let created = match accounts::create(&state, &staff.scope, input, "admin").await {
        Ok(a) => a,
        Err(e) => return refused(&staff, e, "/admin/users/new"),
    };
    if let Some(workspace) = field(&form, "workspace_id") {
        let role = workspaces::MemberRole {
            role: field(&form, "workspace_role")
                .unwrap_or("member")
                .to_string(),
        };
        let joined = workspaces::set_member(&state, &staff.scope, workspace, &created.id, role);
        if let Err(e) = joined.await {
            // The account exists; say why it is not in the workspace.
            return refused(&staff, e, &format!("/admin/users/{}", created.id));
        }
    }
    if created.auth_mode == AuthMode::Password.as_str() {
        return match accounts::send_password_reset(&state, &staff.scope, &created.id).await {
            Ok(issued) => {
                user_page(
                    &state,
                    &staff,
                    &created.id,
                    Some(issued),
                    Some("User added."),
                )
                .await
            }
            Err(e) => refused(&staff, e, &format!("/admin/users/{}", created.id)),
        };
    }
    user_page(&state, &staff, &created.id, None, Some("User added.")).await
}

/// The user page; `reset` shows a just-issued link once.
async fn user_page(
    state: &AppState,
    staff: &Staff,
    id: &str,
    reset: Option<accounts::ResetIssued>,
    notice: Option<&str>,
) -> HttpResponse {
    let account = match accounts::view(state, &staff.scope, id).await {
        Ok(a) => a,
        Err(e) => return refused(staff, e, "/admin/users"),
    };
    let links = match linking::list(state, &staff.scope, id).await {
        Ok(l) => l.identities,
        Err(e) => return refused(staff, e, "/admin/users"),
    };
    let manager = match audit::scim_managers(state, &staff.scope, &[id.to_string()]).await {
        Ok(mut m) => m.remove(id),
        Err(e) => return broken(e),
    };
    let sessions = match sessions::list(state, &staff.scope, id).await {
        Ok(l) => l.sessions,
        Err(e) => return refused(staff, e, "/admin/users"),
    };
    let events = match audit::list(
        state,
        &staff.scope,
        audit::EventQuery {
            target_id: Some(id.to_string()),
            limit: Some(50),
            ..Default::default()
        },
    )
    .await
    {
        Ok(page) => page.events,
        Err(e) => return refused(staff, e, "/admin/users"),
    };
    let events: Vec<Value> = events.into_iter().map(event_context).collect();
    render(
        StatusCode::OK,
        "user.html",
        context! {
            title => account.user_name.clone(),
            section => "users",
            staff => viewer(staff),
            notice => notice,
            reset_url => reset.as_ref().map(|r| r.reset_url.clone()),
            reset_expires_at => reset.as_ref().map(|r| r.expires_at.clone()),
            links => links,
            manager => manager,
            sessions => sessions,
            events => events,
            a => account,
        },
    )
}

/// After an action on a user: their page with `notice`, or why it failed.
async fn after_user_action<T>(
    state: &AppState,
    staff: &Staff,
    id: &str,
    result: crate::error::AppResult<T>,
    notice: &str,
) -> HttpResponse {
    match result {
        Ok(_) => user_page(state, staff, id, None, Some(notice)).await,
        Err(e) => refused(staff, e, &format!("/admin/users/{}", query_value(id))),
    }
}

/// `GET /admin/users/{id}`.
pub async fn user_show(req: HttpRequest, state: Data<AppState>, id: Path<String>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    user_page(&state, &staff, &id, None, None).await
}

/// `GET /admin/users/{id}/auth-mode?to=sso|password`: what the switch does,
/// before it is done.
pub async fn auth_mode_confirm(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    let query = query_map(&req);
    let to = match field(&query, "to").map(AuthMode::parse) {
        Some(Ok(mode)) => mode,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                Some(&staff),
                "That did not work",
                "Choose SSO or password.",
                Some(&format!("/admin/users/{}", query_value(&id))),
            );
        }
    };
    let account = match accounts::view(&state, &staff.scope, &id).await {
        Ok(a) => a,
        Err(e) => return refused(&staff, e, "/admin/users"),
    };
    render(
        StatusCode::OK,
        "confirm_mode.html",
        context! {
            title => "Switch sign-in",
            section => "users",
            staff => viewer(&staff),
            to => to.as_str(),
            a => account,
        },
    )
}

/// `POST /admin/users/{id}/auth-mode`.
pub async fn auth_mode_set(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/users/{}", query_value(&id));
    let mode = match field(&form, "mode").map(AuthMode::parse) {
        Some(Ok(m)) => m,
        _ => {
            return refused(
                &staff,
                AppError::invalid_value("choose sso or password"),
                &back,
            );
        }
    };
    match accounts::set_auth_mode(&state, &staff.scope, &id, mode).await {
        Ok(change) => {
            let reset = match (change.reset_url, change.reset_expires_at) {
                (Some(reset_url), Some(expires_at)) => Some(accounts::ResetIssued {
                    reset_url,
                    expires_at,
                }),
                _ => None,
            };
            let notice = match mode {
                AuthMode::Sso => {
                    "Switched to SSO: the password is deleted and the person is signed out."
                }
                AuthMode::Password => {
                    "Switched to password: the person sets one with the reset link."
                }
            };
            user_page(&state, &staff, &id, reset, Some(notice)).await
        }
        Err(e) => refused(&staff, e, &back),
    }
}

/// `POST /admin/users/{id}/reset-link`: a new one-time link, shown once.
pub async fn reset_link(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, _) = or_page!(posted(&req, &state, &body).await);
    match accounts::send_password_reset(&state, &staff.scope, &id).await {
        Ok(issued) => {
            user_page(
                &state,
                &staff,
                &id,
                Some(issued),
                Some("A new reset link was issued; earlier ones no longer work."),
            )
            .await
        }
        Err(e) => refused(&staff, e, &format!("/admin/users/{}", query_value(&id))),
    }
}

/// `POST /admin/users/{id}/break-glass` (admin only).
pub async fn break_glass(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let enabled = checked(&form, "enabled");
    let result = accounts::set_break_glass(&state, &staff.scope, &id, enabled).await;
    after_user_action(&state, &staff, &id, result, "Break-glass changed.").await
}

/// `POST /admin/users/{id}/org-role` (admin only).
pub async fn org_role(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/users/{}", query_value(&id));
    let role = match OrgRole::parse(field(&form, "role").unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return refused(&staff, AppError::invalid_value(e), &back),
    };
    let result = accounts::set_org_role(&state, &staff.scope, &id, role).await;
    after_user_action(&state, &staff, &id, result, "Organisation role saved.").await
}

/// `POST /admin/users/{id}/external-user-id`: blank goes back to the default.
pub async fn external_user_id(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let value = field(&form, "value").map(str::to_string);
    let result = accounts::set_external_user_id(&state, &staff.scope, &id, value).await;
    after_user_action(&state, &staff, &id, result, "External user ID saved.").await
}

/// `POST /admin/users/{id}/sessions/end`: one (`session_id`) or all.
pub async fn sessions_end(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let one = field(&form, "session_id");
    match sessions::end(&state, &staff.scope, &id, one).await {
        Ok(ended) => {
            let notice = format!(
                "{} session{} ended.",
                ended.sessions_ended,
                if ended.sessions_ended == 1 { "" } else { "s" }
            );
            user_page(&state, &staff, &id, None, Some(&notice)).await
        }
        Err(e) => refused(&staff, e, &format!("/admin/users/{}", query_value(&id))),
    }
}

/// `POST /admin/users/{id}/identities/{link_id}/unlink` (admin only).
pub async fn unlink(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    body: Bytes,
) -> HttpResponse {
    let (staff, _) = or_page!(posted(&req, &state, &body).await);
    let (id, link_id) = path.into_inner();
    let result = linking::delete(&state, &staff.scope, &id, &link_id).await;
    let notice = "Identity link removed; the next SSO sign-in matches afresh.";
    after_user_action(&state, &staff, &id, result, notice).await
}

/// `POST /admin/users/{id}/profile` (admin only): user name, name, email,
/// active. For an account an IdP provisions, the IdP's next push wins, so
/// the page offers this only for accounts scimlink manages.
pub async fn profile(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let update = accounts::AccountUpdate {
        user_name: field(&form, "user_name").map(str::to_string),
        display_name: Some(field(&form, "display_name").map(str::to_string)),
        email: Some(field(&form, "email").map(str::to_string)),
        active: Some(checked(&form, "active")),
    };
    let result = accounts::update(&state, &staff.scope, &id, update).await;
    after_user_action(&state, &staff, &id, result, "Profile saved.").await
}

/// `POST /admin/users/{id}/delete` (admin only; the form asks to confirm).
pub async fn user_delete(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/users/{}", query_value(&id));
    if let Some(page) = unconfirmed(&staff, &form, "removal", &back) {
        return page;
    }
    match accounts::delete(&state, &staff.scope, &id).await {
        Ok(()) => see_other("/admin/users"),
        Err(e) => refused(&staff, e, &back),
    }
}

fn shown_hours(seconds: i64) -> i64 {
    (seconds / 3600).max(1)
}

fn shown_minutes(seconds: i64) -> i64 {
    (seconds / 60).max(1)
}

fn org_form(staff: &Staff, org: orgs::OrgView, notice: Option<&str>) -> HttpResponse {
    render(
        StatusCode::OK,
        "org.html",
        context! {
            title => "Organisation",
            section => "org",
            staff => viewer(staff),
            notice => notice,
            session_ttl_hours => shown_hours(org.session_ttl_seconds),
            session_idle_minutes => shown_minutes(org.session_idle_seconds),
            org => org,
        },
    )
}

/// `GET /admin/organisation` (admin only).
pub async fn organisation(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    match orgs::settings(&state, &staff.scope).await {
        Ok(org) => org_form(&staff, org, None),
        Err(e) => broken(e),
    }
}

/// `POST /admin/organisation` (admin only): the settings but SSO required.
pub async fn organisation_save(
    req: HttpRequest,
    state: Data<AppState>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let current = match orgs::settings(&state, &staff.scope).await {
        Ok(org) => org,
        Err(e) => return broken(e),
    };
    // The form shows lifetimes in whole hours and minutes: a value left as
    // shown keeps the exact seconds an API client may have set.
    let number = |k: &str| field(&form, k).and_then(|v| v.parse::<i64>().ok());
    let ttl = number("session_ttl_hours")
        .filter(|h| *h != shown_hours(current.session_ttl_seconds))
        .map(|h| h.saturating_mul(3600));
    let idle = number("session_idle_minutes")
        .filter(|m| *m != shown_minutes(current.session_idle_seconds))
        .map(|m| m.saturating_mul(60));
    let update = orgs::OrgUpdate {
        name: field(&form, "name").map(str::to_string),
        sso_enabled: Some(checked(&form, "sso_enabled")),
        jit_provisioning: Some(checked(&form, "jit_provisioning")),
        scim_adopt_existing: Some(checked(&form, "scim_adopt_existing")),
        session_ttl_seconds: ttl,
        session_idle_seconds: idle,
        ..Default::default()
    };
    match orgs::update_settings(&state, &staff.scope, update).await {
        Ok(updated) => org_form(&staff, updated.org, Some("Settings saved.")),
        Err(e) => refused(&staff, e, "/admin/organisation"),
    }
}

/// `GET /admin/organisation/require-sso` (admin only): the preview.
pub async fn require_sso_preview(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    match orgs::require_sso_preview(&state, &staff.scope).await {
        Ok(preview) => render(
            StatusCode::OK,
            "require_sso.html",
            context! {
                title => "Require SSO",
                section => "org",
                staff => viewer(&staff),
                preview => preview,
            },
        ),
        Err(e) => refused(&staff, e, "/admin/organisation"),
    }
}

/// `POST /admin/organisation/require-sso` (admin only): require it, or stop.
pub async fn require_sso_set(req: HttpRequest, state: Data<AppState>, body: Bytes) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let required = checked(&form, "required");
    let update = orgs::OrgUpdate {
        sso_required: Some(required),
        ..Default::default()
    };
    match orgs::update_settings(&state, &staff.scope, update).await {
        Ok(updated) => {
            let notice = if required {
                format!(
                    "SSO is now required; {} account{} moved to SSO.",
                    updated.switched_to_sso,
                    if updated.switched_to_sso == 1 {
                        ""
                    } else {
                        "s"
                    }
                )
            } else {
                "SSO is no longer required.".to_string()
            };
            org_form(&staff, updated.org, Some(&notice))
        }
        Err(e) => refused(&staff, e, "/admin/organisation"),
    }
}

async fn tokens_page(
    state: &AppState,
    staff: &Staff,
    created: Option<tokens::TokenView>,
) -> HttpResponse {
    match tokens::api_list(state, &staff.scope).await {
        Ok(list) => render(
            StatusCode::OK,
            "tokens.html",
            context! {
                title => "SCIM tokens",
                section => "tokens",
                staff => viewer(staff),
                scim_base => format!("{}/scim/v2", state.base_url),
                tokens => list.scim_tokens,
                created => created,
            },
        ),
        Err(e) => refused(staff, e, "/admin/users"),
    }
}

/// `GET /admin/scim-tokens` (admin only).
pub async fn scim_tokens(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    tokens_page(&state, &staff, None).await
}

/// `POST /admin/scim-tokens` (admin only): the secret is shown this once.
pub async fn scim_token_create(
    req: HttpRequest,
    state: Data<AppState>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let new = tokens::NewToken {
        label: field(&form, "label").unwrap_or_default().to_string(),
    };
    match tokens::api_create(&state, &staff.scope, new).await {
        Ok(created) => tokens_page(&state, &staff, Some(created)).await,
        Err(e) => refused(&staff, e, "/admin/scim-tokens"),
    }
}

/// `POST /admin/scim-tokens/{id}/revoke` (admin only).
pub async fn scim_token_revoke(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, _) = or_page!(posted(&req, &state, &body).await);
    match tokens::api_revoke(&state, &staff.scope, &id).await {
        Ok(()) => see_other("/admin/scim-tokens"),
        Err(e) => refused(&staff, e, "/admin/scim-tokens"),
    }
}

/// The query string again, with `cursor` replaced (a "next page" link).
fn next_page_url(path: &str, query: &Form, cursor: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "cursor")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort();
    pairs.push(("cursor", cursor));
    let qs: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{qs}")
}

/// `GET /admin/workspaces`.
pub async fn workspaces_list(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    workspaces_page(&state, &staff, None).await
}

async fn workspaces_page(state: &AppState, staff: &Staff, notice: Option<&str>) -> HttpResponse {
    match workspaces::list(state, &staff.scope).await {
        Ok(list) => render(
            StatusCode::OK,
            "workspaces.html",
            context! {
                title => "Workspaces",
                section => "workspaces",
                staff => viewer(staff),
                notice => notice,
                workspaces => list.workspaces,
            },
        ),
        Err(e) => refused(staff, e, "/admin/users"),
    }
}

/// `POST /admin/workspaces` (admin only).
pub async fn workspace_create(
    req: HttpRequest,
    state: Data<AppState>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let new = workspaces::NewWorkspace {
        slug: field(&form, "slug").unwrap_or_default().to_string(),
        name: field(&form, "name").map(str::to_string),
    };
    match workspaces::create(&state, &staff.scope, new).await {
        Ok(w) => see_other(&format!("/admin/workspaces/{}", query_value(&w.id))),
        Err(e) => refused(&staff, e, "/admin/workspaces"),
    }
}

async fn workspace_page(
    state: &AppState,
    staff: &Staff,
    id: &str,
    notice: Option<&str>,
) -> HttpResponse {
    let workspace = match workspaces::get(state, &staff.scope, id).await {
        Ok(w) => w,
        Err(e) => return refused(staff, e, "/admin/workspaces"),
    };
    match workspaces::members(state, &staff.scope, id).await {
        Ok(list) => render(
            StatusCode::OK,
            "workspace.html",
            context! {
                title => workspace.name.clone(),
                section => "workspaces",
                staff => viewer(staff),
                notice => notice,
                members => list.members,
                w => workspace,
            },
        ),
        Err(e) => refused(staff, e, "/admin/workspaces"),
    }
}

/// `GET /admin/workspaces/{id}`: its members and their roles.
pub async fn workspace_show(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    workspace_page(&state, &staff, &id, None).await
}

/// `POST /admin/workspaces/{id}/members` (admin only): adds the account of
/// this user name, or changes its role.
pub async fn workspace_member_set(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/workspaces/{}", query_value(&id));
    let user_name = field(&form, "user_name").unwrap_or_default();
    let account_id = match accounts::id_of_user_name(&state, &staff.scope, user_name).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return refused(
                &staff,
                AppError::invalid_value(format!("no account has the user name {user_name:?}")),
                &back,
            );
        }
        Err(e) => return refused(&staff, e, &back),
    };
    let role = workspaces::MemberRole {
        role: field(&form, "role").unwrap_or("member").to_string(),
    };
    match workspaces::set_member(&state, &staff.scope, &id, &account_id, role).await {
        Ok(_) => workspace_page(&state, &staff, &id, Some("Member saved.")).await,
        Err(e) => refused(&staff, e, &back),
    }
}

/// `POST /admin/workspaces/{id}/members/{account_id}/remove` (admin only).
pub async fn workspace_member_remove(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<(String, String)>,
    body: Bytes,
) -> HttpResponse {
    let (staff, _) = or_page!(posted(&req, &state, &body).await);
    let (id, account_id) = path.into_inner();
    match workspaces::remove_member(&state, &staff.scope, &id, &account_id).await {
        Ok(()) => workspace_page(&state, &staff, &id, Some("Member removed.")).await,
        Err(e) => refused(
            &staff,
            e,
            &format!("/admin/workspaces/{}", query_value(&id)),
        ),
    }
}

/// `GET /admin/audit`: filtered by action, actor, target and time.
pub async fn audit_log(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    let query = or_page!(filters_of(&req, &staff).map_err(|page| *page));
    let text = |k: &str| field(&query, k).map(str::to_string);
    let listing = audit::EventQuery {
        cursor: text("cursor"),
        limit: Some(100),
        action: text("action"),
        target_id: text("target"),
        actor: text("actor"),
        since: text("since"),
        until: text("until"),
    };
    let page = match audit::list(&state, &staff.scope, listing).await {
        Ok(p) => p,
        Err(e) => return refused(&staff, e, "/admin/audit"),
    };
    let next_url = page
        .next_cursor
        .as_deref()
        .map(|c| next_page_url("/admin/audit", &query, c));
    let events: Vec<Value> = page.events.into_iter().map(event_context).collect();
    render(
        StatusCode::OK,
        "audit.html",
        context! {
            title => "Audit log",
            section => "audit",
            staff => viewer(&staff),
            events => events,
            next_url => next_url,
            f => context! {
                action => text("action"),
                actor => text("actor"),
                target => text("target"),
                since => text("since"),
                until => text("until"),
            },
        },
    )
}

/// An audit event for a page: its summary as readable JSON.
fn event_context(e: audit::EventView) -> Value {
    let summary_text = serde_json::to_string_pretty(&e.summary).unwrap_or_default();
    context! {
        occurred_at => e.occurred_at,
        action => e.action,
        actor_type => e.actor_type,
        actor_id => e.actor_id,
        actor_label => e.actor_label,
        target_type => e.target_type,
        target_id => e.target_id,
        request_id => e.request_id,
        client_address => e.client_address,
        summary_text => summary_text,
    }
}

/// `GET /admin/connections` (admin only).
pub async fn connections_list(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    match connections::list(&state, &staff.scope).await {
        Ok(list) => render(
            StatusCode::OK,
            "connections.html",
            context! {
                title => "SSO connections",
                section => "connections",
                staff => viewer(&staff),
                login_url => format!("{}/login/{}", state.base_url, staff.org_slug),
                connections => list.connections,
            },
        ),
        Err(e) => refused(&staff, e, "/admin/users"),
    }
}

async fn connection_page(
    state: &AppState,
    staff: &Staff,
    kind: &str,
    connection: Option<connections::ConnectionView>,
    notice: Option<&str>,
) -> HttpResponse {
    let workspaces = match workspaces::list(state, &staff.scope).await {
        Ok(list) => list.workspaces,
        Err(e) => return refused(staff, e, "/admin/connections"),
    };
    let title = connection
        .as_ref()
        .map(|c| c.display_name.clone())
        .unwrap_or_else(|| "New connection".into());
    render(
        StatusCode::OK,
        "connection.html",
        context! {
            title => title,
            section => "connections",
            staff => viewer(staff),
            notice => notice,
            kind => kind,
            workspaces => workspaces,
            c => connection,
        },
    )
}

/// `GET /admin/connections/new?type=saml|oidc` (admin only).
pub async fn connection_new(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    let query = query_map(&req);
    let kind = if field(&query, "type") == Some("oidc") {
        "oidc"
    } else {
        "saml"
    };
    connection_page(&state, &staff, kind, None, None).await
}

/// `GET /admin/connections/{id}` (admin only): the values for the IdP and the form.
pub async fn connection_show(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
) -> HttpResponse {
    let staff = or_page!(signed_in(&req, &state).await);
    if let Some(page) = unless_admin(&staff) {
        return page;
    }
    match connections::get(&state, &staff.scope, &id).await {
        Ok(c) => {
            let kind = c.kind.clone();
            connection_page(&state, &staff, &kind, Some(c), None).await
        }
        Err(e) => refused(&staff, e, "/admin/connections"),
    }
}

/// The admin API's body, from the form: empty fields are left as they are
/// (a secret or metadata is kept unless a new one is given).
fn connection_input(form: &Form, creating: bool) -> connections::ConnectionInput {
    let text = |k: &str| field(form, k).map(str::to_string);
    let kind = text("type");
    let is_saml = kind.as_deref() == Some("saml");
    connections::ConnectionInput {
        kind: creating.then_some(kind).flatten(),
        display_name: text("display_name"),
        enabled: Some(checked(form, "enabled")),
        match_on: text("match_on"),
        jit: text("jit"),
        email_domains: Some(
            form.get("email_domains")
                .map(|d| {
                    d.split([',', ' ', '\n'])
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        workspace_id: Some(text("workspace_id")),
        role: text("role"),
        issuer: text("issuer").filter(|_| !is_saml),
        client_id: text("client_id").filter(|_| !is_saml),
        client_secret: text("client_secret").filter(|_| !is_saml),
        scopes: (!is_saml).then(|| {
            form.get("scopes")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        }),
        idp_metadata_xml: text("idp_metadata_xml").filter(|_| is_saml),
        allow_idp_initiated: is_saml.then(|| checked(form, "allow_idp_initiated")),
    }
}

/// `POST /admin/connections` (admin only).
pub async fn connection_create(
    req: HttpRequest,
    state: Data<AppState>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    match connections::create(&state, &staff.scope, connection_input(&form, true)).await {
        Ok(c) => {
            let kind = c.kind.clone();
            connection_page(
                &state,
                &staff,
                &kind,
                Some(c),
                Some("Connection added. Give your identity provider the values above."),
            )
            .await
        }
        Err(e) => refused(&staff, e, "/admin/connections"),
    }
}

/// `POST /admin/connections/{id}` (admin only).
pub async fn connection_update(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/connections/{}", query_value(&id));
    match connections::update(&state, &staff.scope, &id, connection_input(&form, false)).await {
        Ok(c) => {
            let kind = c.kind.clone();
            connection_page(&state, &staff, &kind, Some(c), Some("Connection saved.")).await
        }
        Err(e) => refused(&staff, e, &back),
    }
}

/// `POST /admin/connections/{id}/delete` (admin only).
pub async fn connection_delete(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, form) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/connections/{}", query_value(&id));
    if let Some(page) = unconfirmed(&staff, &form, "deletion", &back) {
        return page;
    }
    match connections::delete(&state, &staff.scope, &id).await {
        Ok(()) => see_other("/admin/connections"),
        Err(e) => refused(&staff, e, &back),
    }
}

/// `POST /admin/connections/{id}/test` (admin only): an SP-initiated
/// sign-in whose answer is shown, not acted on.
pub async fn connection_test(
    req: HttpRequest,
    state: Data<AppState>,
    id: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let (staff, _) = or_page!(posted(&req, &state, &body).await);
    let back = format!("/admin/connections/{}", query_value(&id));
    let name = match connections::get(&state, &staff.scope, &id).await {
        Ok(c) => c.display_name,
        Err(e) => return refused(&staff, e, &back),
    };
    let from = sso::StartedFrom {
        client_address: staff.scope.request.client_address.clone(),
        ..Default::default()
    };
    match sso::start_test(&state, &staff.scope, &id, &from).await {
        // A page with a link, not a redirect: browsers hold a form's
        // redirect to `form-action`, which names only this server.
        Ok(Ok(started)) => {
            let mut response = render(
                StatusCode::OK,
                "test_start.html",
                context! {
                    title => "Test sign-in",
                    section => "connections",
                    staff => viewer(&staff),
                    name => name,
                    id => id.as_str(),
                    url => started.redirect_to,
                },
            );
            let _ = response.add_cookie(&browser_cookie(&state, started.browser_secret, 600));
            response
        }
        Ok(Err(refusal)) => message(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_GATEWAY),
            Some(&staff),
            refusal.title,
            &refusal.message,
            Some(&back),
        ),
        Err(e) => refused(&staff, e, &back),
    }
}

/// What a test sign-in brought back. Shown without the dashboard's header:
/// a SAML answer arrives as a cross-site post, without the session cookie.
pub fn test_report_page(report: &sso::TestReport) -> HttpResponse {
    render(
        StatusCode::OK,
        "test_result.html",
        context! { title => "Test sign-in", r => report },
    )
}

fn reset_form(status: StatusCode, token: &str, error: Option<&str>) -> HttpResponse {
    render(
        status,
        "reset_password.html",
        context! { title => "Set your password", token => token, error => error },
    )
}

/// `GET /reset-password?token=...`: the page behind a reset link.
pub async fn reset_password_page(req: HttpRequest) -> HttpResponse {
    let query = query_map(&req);
    if holds_nul(&query) {
        return nul_refused(None);
    }
    reset_form(
        StatusCode::OK,
        field(&query, "token").unwrap_or_default(),
        None,
    )
}

/// `POST /reset-password`: sets the password, once per link.
pub async fn reset_password(req: HttpRequest, state: Data<AppState>, body: Bytes) -> HttpResponse {
    if !same_origin(&req, &state.base_url) || !is_form(&req) {
        return message(
            StatusCode::FORBIDDEN,
            None,
            "Not allowed",
            "This form must be sent from this server's page.",
            None,
        );
    }
    let form: Form = form_map(&body);
    if holds_nul(&form) {
        return nul_refused(None);
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if form.get("password2") != Some(&password) {
        return reset_form(
            StatusCode::BAD_REQUEST,
            &token,
            Some("The two passwords differ."),
        );
    }
    let request = signin::ResetRequest {
        token: token.clone(),
        new_password: password,
    };
    match signin::reset_password(&state, request, &request_meta(&req)).await {
        Ok(_) => message(
            StatusCode::OK,
            None,
            "Password set",
            "Your password is set. Sign in with your user name and this password on your organisation's sign-in page.",
            None,
        ),
        Err(e) if !e.status_code().is_server_error() => {
            reset_form(e.status_code(), &token, Some(&e.to_string()))
        }
        Err(e) => broken(e),
    }
}

/// `GET /admin/static/app.css` and `app.js`: the one stylesheet and script.
pub async fn asset(name: Path<String>) -> HttpResponse {
    let (body, kind) = match name.as_str() {
        "app.css" => (
            include_str!("../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        "app.js" => (
            include_str!("../../static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                None,
                "Not found",
                "The dashboard has no such file.",
                None,
            );
        }
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_compiled_in_and_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/dashboard");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("the templates folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut compiled: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        compiled.sort();
        assert_eq!(on_disk, compiled);
        for (name, _) in TEMPLATES {
            templates()
                .get_template(name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn a_use_case_message_reads_as_a_sentence() {
        assert_eq!(sentence("no such thing"), "No such thing.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
