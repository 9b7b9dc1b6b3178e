//! HTTP: the only module that imports actix-web. Extractors, middleware,
//! thin handlers, and the route table.

pub mod admin;
pub mod auth;
pub mod bulk;
pub mod dashboard;
pub mod discovery;
pub mod extract;
pub mod groups;
pub mod html;
pub mod me;
pub mod metrics;
pub mod middleware;
pub mod respond;
pub mod search;
pub mod sso;
pub mod users;

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, Route};

use crate::error::AppError;

/// One served route: method, path (in the router's and OpenAPI's `{id}` form)
/// and how to build its handler (without a method guard; `configure` adds
/// it). `configure` serves exactly these, plus HEAD wherever GET is served,
/// and a test checks them against `openapi.yaml`.
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub handler: fn() -> Route,
}

pub fn routes() -> Vec<RouteDef> {
    fn r(method: Method, path: &'static str, handler: fn() -> Route) -> RouteDef {
        RouteDef {
            method,
            path,
            handler,
        }
    }
    vec![
        r(Method::GET, "/healthz", || {
            web::route().to(discovery::healthz)
        }),
        r(Method::GET, "/readyz", || {
            web::route().to(discovery::readyz)
        }),
        r(Method::GET, "/openapi.yaml", || {
            web::route().to(discovery::openapi_get)
        }),
        r(Method::GET, "/metrics", || {
            web::route().to(metrics::metrics_get)
        }),
        r(Method::GET, "/scim/v2/ServiceProviderConfig", || {
            web::route().to(discovery::service_provider_config_get)
        }),
        r(Method::GET, "/scim/v2/ResourceTypes", || {
            web::route().to(discovery::resource_types_list)
        }),
        r(Method::GET, "/scim/v2/ResourceTypes/{id}", || {
            web::route().to(discovery::resource_types_get)
        }),
        r(Method::GET, "/scim/v2/Schemas", || {
            web::route().to(discovery::schemas_list)
        }),
        r(Method::GET, "/scim/v2/Schemas/{id}", || {
            web::route().to(discovery::schemas_get)
        }),
        r(Method::POST, "/scim/v2/Bulk", || {
            web::route().to(bulk::bulk_post)
        }),
        r(Method::GET, "/scim/v2/Me", || web::route().to(me::me_get)),
        r(Method::POST, "/scim/v2/Me", || {
            web::route().to(me::me_create)
        }),
        r(Method::PUT, "/scim/v2/Me", || {
            web::route().to(me::me_replace)
        }),
        r(Method::PATCH, "/scim/v2/Me", || {
            web::route().to(me::me_patch)
        }),
        r(Method::DELETE, "/scim/v2/Me", || {
            web::route().to(me::me_delete)
        }),
        // `.search` before `{id}`: the router takes the first resource whose path matches.
        r(Method::POST, "/scim/v2/.search", || {
            web::route().to(search::root_search)
        }),
        r(Method::POST, "/scim/v2/Users/.search", || {
            web::route().to(search::users_search)
        }),
        r(Method::POST, "/scim/v2/Groups/.search", || {
            web::route().to(search::groups_search)
        }),
        r(Method::GET, "/scim/v2/Users", || {
            web::route().to(users::users_list)
        }),
        r(Method::POST, "/scim/v2/Users", || {
            web::route().to(users::users_create)
        }),
        r(Method::GET, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_get)
        }),
        r(Method::PUT, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_replace)
        }),
        r(Method::PATCH, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_patch)
        }),
        r(Method::DELETE, "/scim/v2/Users/{id}", || {
            web::route().to(users::users_delete)
        }),
        r(Method::GET, "/scim/v2/Groups", || {
            web::route().to(groups::groups_list)
        }),
        r(Method::POST, "/scim/v2/Groups", || {
            web::route().to(groups::groups_create)
        }),
        r(Method::GET, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_get)
        }),
        r(Method::PUT, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_replace)
        }),
        r(Method::PATCH, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_patch)
        }),
        r(Method::DELETE, "/scim/v2/Groups/{id}", || {
            web::route().to(groups::groups_delete)
        }),
        r(Method::GET, "/api/v1/org", || {
            web::route().to(admin::admin_org_get)
        }),
        r(Method::PATCH, "/api/v1/org", || {
            web::route().to(admin::admin_org_update)
        }),
        r(Method::GET, "/api/v1/org/require-sso-preview", || {
            web::route().to(admin::admin_org_require_sso_preview)
        }),
        r(Method::GET, "/api/v1/accounts", || {
            web::route().to(admin::admin_accounts_list)
        }),
        r(Method::POST, "/api/v1/accounts", || {
            web::route().to(admin::admin_accounts_create)
        }),
        r(Method::GET, "/api/v1/accounts/{id}", || {
            web::route().to(admin::admin_accounts_get)
        }),
        r(Method::PATCH, "/api/v1/accounts/{id}", || {
            web::route().to(admin::admin_accounts_update)
        }),
        r(Method::DELETE, "/api/v1/accounts/{id}", || {
            web::route().to(admin::admin_accounts_delete)
        }),
        r(Method::PUT, "/api/v1/accounts/{id}/auth-mode", || {
            web::route().to(admin::admin_accounts_auth_mode_set)
        }),
        r(Method::POST, "/api/v1/accounts/{id}/password-reset", || {
            web::route().to(admin::admin_accounts_password_reset)
        }),
        r(Method::PUT, "/api/v1/accounts/{id}/break-glass", || {
            web::route().to(admin::admin_accounts_break_glass_set)
        }),
        r(Method::PUT, "/api/v1/accounts/{id}/org-role", || {
            web::route().to(admin::admin_accounts_org_role_set)
        }),
        r(
            Method::PUT,
            "/api/v1/accounts/{id}/external-user-id",
            || web::route().to(admin::admin_accounts_external_user_id_set),
        ),
        r(Method::GET, "/api/v1/accounts/{id}/sessions", || {
            web::route().to(admin::admin_sessions_list)
        }),
        r(Method::DELETE, "/api/v1/accounts/{id}/sessions", || {
            web::route().to(admin::admin_sessions_end_all)
        }),
        r(
            Method::DELETE,
            "/api/v1/accounts/{id}/sessions/{session_id}",
            || web::route().to(admin::admin_sessions_end),
        ),
        r(Method::GET, "/api/v1/accounts/{id}/identities", || {
            web::route().to(admin::admin_identities_list)
        }),
        r(Method::POST, "/api/v1/accounts/{id}/identities", || {
            web::route().to(admin::admin_identities_create)
        }),
        r(
            Method::GET,
            "/api/v1/accounts/{id}/identities/{link_id}",
            || web::route().to(admin::admin_identities_get),
        ),
        r(
            Method::DELETE,
            "/api/v1/accounts/{id}/identities/{link_id}",
            || web::route().to(admin::admin_identities_delete),
        ),
        r(Method::GET, "/api/v1/workspaces", || {
            web::route().to(admin::admin_workspaces_list)
        }),
        r(Method::POST, "/api/v1/workspaces", || {
            web::route().to(admin::admin_workspaces_create)
        }),
        r(Method::GET, "/api/v1/workspaces/{id}", || {
            web::route().to(admin::admin_workspaces_get)
        }),
        r(Method::PATCH, "/api/v1/workspaces/{id}", || {
            web::route().to(admin::admin_workspaces_update)
        }),
        r(Method::DELETE, "/api/v1/workspaces/{id}", || {
            web::route().to(admin::admin_workspaces_delete)
        }),
        r(Method::GET, "/api/v1/workspaces/{id}/members", || {
            web::route().to(admin::admin_workspace_members_list)
        }),
        r(
            Method::PUT,
            "/api/v1/workspaces/{id}/members/{account_id}",
            || web::route().to(admin::admin_workspace_members_set),
        ),
        r(
            Method::DELETE,
            "/api/v1/workspaces/{id}/members/{account_id}",
            || web::route().to(admin::admin_workspace_members_delete),
        ),
        r(Method::GET, "/api/v1/scim-tokens", || {
            web::route().to(admin::admin_scim_tokens_list)
        }),
        r(Method::POST, "/api/v1/scim-tokens", || {
            web::route().to(admin::admin_scim_tokens_create)
        }),
        r(Method::DELETE, "/api/v1/scim-tokens/{id}", || {
            web::route().to(admin::admin_scim_tokens_delete)
        }),
        r(Method::GET, "/api/v1/outbox", || {
            web::route().to(admin::admin_outbox_list)
        }),
        r(Method::GET, "/api/v1/audit-events", || {
            web::route().to(admin::admin_audit_events_list)
        }),
        r(Method::GET, "/api/v1/events", || {
            web::route().to(admin::admin_events_list)
        }),
        r(Method::GET, "/api/v1/webhooks", || {
            web::route().to(admin::admin_webhooks_list)
        }),
        r(Method::POST, "/api/v1/webhooks", || {
            web::route().to(admin::admin_webhooks_create)
        }),
        r(Method::GET, "/api/v1/webhooks/{id}", || {
            web::route().to(admin::admin_webhooks_get)
        }),
        r(Method::PATCH, "/api/v1/webhooks/{id}", || {
            web::route().to(admin::admin_webhooks_update)
        }),
        r(Method::DELETE, "/api/v1/webhooks/{id}", || {
            web::route().to(admin::admin_webhooks_delete)
        }),
        r(Method::POST, "/api/v1/webhooks/{id}/rotate-secret", || {
            web::route().to(admin::admin_webhooks_rotate_secret)
        }),
        r(Method::GET, "/api/v1/webhooks/{id}/deliveries", || {
            web::route().to(admin::admin_webhooks_deliveries)
        }),
        r(Method::POST, "/api/v1/webhooks/{id}/replay", || {
            web::route().to(admin::admin_webhooks_replay)
        }),
        r(Method::GET, "/api/v1/connections", || {
            web::route().to(admin::admin_connections_list)
        }),
        r(Method::POST, "/api/v1/connections", || {
            web::route().to(admin::admin_connections_create)
        }),
        r(Method::GET, "/api/v1/connections/{id}", || {
            web::route().to(admin::admin_connections_get)
        }),
        r(Method::PATCH, "/api/v1/connections/{id}", || {
            web::route().to(admin::admin_connections_update)
        }),
        r(Method::DELETE, "/api/v1/connections/{id}", || {
            web::route().to(admin::admin_connections_delete)
        }),
        r(Method::GET, "/login/{org_slug}", || {
            web::route().to(sso::login_page)
        }),
        r(Method::POST, "/login/{org_slug}/password", || {
            web::route().to(sso::login_password)
        }),
        r(Method::GET, "/sso/{id}/start", || {
            web::route().to(sso::sso_start)
        }),
        r(Method::GET, "/sso/oidc/{id}/callback", || {
            web::route().to(sso::oidc_callback)
        }),
        r(Method::GET, "/sso/saml/{id}/metadata", || {
            web::route().to(sso::saml_metadata)
        }),
        r(Method::POST, "/sso/saml/{id}/acs", || {
            web::route().to(sso::saml_acs)
        }),
        r(Method::GET, "/sso/saml/{id}/slo", || {
            web::route().to(sso::saml_slo)
        }),
        r(Method::POST, "/sso/saml/{id}/slo", || {
            web::route().to(sso::saml_slo_post)
        }),
        r(Method::GET, "/", || web::route().to(dashboard::home)),
        r(Method::POST, "/sign-out", || {
            web::route().to(dashboard::sign_out)
        }),
        r(Method::GET, "/reset-password", || {
            web::route().to(dashboard::reset_password_page)
        }),
        r(Method::POST, "/reset-password", || {
            web::route().to(dashboard::reset_password)
        }),
        r(Method::GET, "/admin", || {
            web::route().to(dashboard::admin_root)
        }),
        r(Method::GET, "/admin/static/{name}", || {
            web::route().to(dashboard::asset)
        }),
        r(Method::GET, "/admin/sign-in", || {
            web::route().to(dashboard::admin_sign_in)
        }),
        r(Method::GET, "/admin/users", || {
            web::route().to(dashboard::users)
        }),
        r(Method::POST, "/admin/users", || {
            web::route().to(dashboard::user_create)
        }),
        r(Method::GET, "/admin/users/new", || {
            web::route().to(dashboard::user_new)
        }),
        r(Method::GET, "/admin/users/{id}", || {
            web::route().to(dashboard::user_show)
        }),
        r(Method::GET, "/admin/users/{id}/auth-mode", || {
            web::route().to(dashboard::auth_mode_confirm)
        }),
        r(Method::POST, "/admin/users/{id}/auth-mode", || {
            web::route().to(dashboard::auth_mode_set)
        }),
        r(Method::POST, "/admin/users/{id}/reset-link", || {
            web::route().to(dashboard::reset_link)
        }),
        r(Method::POST, "/admin/users/{id}/break-glass", || {
            web::route().to(dashboard::break_glass)
        }),
        r(Method::POST, "/admin/users/{id}/org-role", || {
            web::route().to(dashboard::org_role)
        }),
        r(Method::POST, "/admin/users/{id}/external-user-id", || {
            web::route().to(dashboard::external_user_id)
        }),
        r(Method::POST, "/admin/users/{id}/sessions/end", || {
            web::route().to(dashboard::sessions_end)
        }),
        r(
            Method::POST,
            "/admin/users/{id}/identities/{link_id}/unlink",
            || web::route().to(dashboard::unlink),
        ),
        r(Method::POST, "/admin/users/{id}/profile", || {
            web::route().to(dashboard::profile)
        }),
        r(Method::POST, "/admin/users/{id}/delete", || {
            web::route().to(dashboard::user_delete)
        }),
        r(Method::GET, "/admin/workspaces", || {
            web::route().to(dashboard::workspaces_list)
        }),
        r(Method::POST, "/admin/workspaces", || {
            web::route().to(dashboard::workspace_create)
        }),
        r(Method::GET, "/admin/workspaces/{id}", || {
            web::route().to(dashboard::workspace_show)
        }),
        r(Method::POST, "/admin/workspaces/{id}/members", || {
            web::route().to(dashboard::workspace_member_set)
        }),
        r(
            Method::POST,
            "/admin/workspaces/{id}/members/{account_id}/remove",
            || web::route().to(dashboard::workspace_member_remove),
        ),
        r(Method::GET, "/admin/audit", || {
            web::route().to(dashboard::audit_log)
        }),
        r(Method::GET, "/admin/connections", || {
            web::route().to(dashboard::connections_list)
        }),
        r(Method::POST, "/admin/connections", || {
            web::route().to(dashboard::connection_create)
        }),
        r(Method::GET, "/admin/connections/new", || {
            web::route().to(dashboard::connection_new)
        }),
        r(Method::GET, "/admin/connections/{id}", || {
            web::route().to(dashboard::connection_show)
        }),
        r(Method::POST, "/admin/connections/{id}", || {
            web::route().to(dashboard::connection_update)
        }),
        r(Method::POST, "/admin/connections/{id}/test", || {
            web::route().to(dashboard::connection_test)
        }),
        r(Method::POST, "/admin/connections/{id}/delete", || {
            web::route().to(dashboard::connection_delete)
        }),
        r(Method::GET, "/admin/organisation", || {
            web::route().to(dashboard::organisation)
        }),
        r(Method::POST, "/admin/organisation", || {
            web::route().to(dashboard::organisation_save)
        }),
        r(Method::GET, "/admin/organisation/require-sso", || {
            web::route().to(dashboard::require_sso_preview)
        }),
        r(Method::POST, "/admin/organisation/require-sso", || {
            web::route().to(dashboard::require_sso_set)
        }),
        r(Method::GET, "/admin/scim-tokens", || {
            web::route().to(dashboard::scim_tokens)
        }),
        r(Method::POST, "/admin/scim-tokens", || {
            web::route().to(dashboard::scim_token_create)
        }),
        r(Method::POST, "/admin/scim-tokens/{id}/revoke", || {
            web::route().to(dashboard::scim_token_revoke)
        }),
        r(Method::POST, "/auth/password/login", || {
            web::route().to(auth::auth_password_login)
        }),
        r(Method::POST, "/auth/password/reset", || {
            web::route().to(auth::auth_password_reset)
        }),
        r(Method::GET, "/auth/session", || {
            web::route().to(auth::auth_session_get)
        }),
        r(Method::POST, "/auth/logout", || {
            web::route().to(auth::auth_logout)
        }),
    ]
}

/// Mounts every route; a known path with an unserved method answers 405
/// with an `Allow` header (RFC 9110 §15.5.6).
pub fn configure(cfg: &mut ServiceConfig) {
    mount(cfg, routes());
}

/// The `--metrics-bind` listener's routes: `/metrics` alone.
pub fn configure_metrics_listener(cfg: &mut ServiceConfig) {
    let only_metrics = routes().into_iter().filter(|r| r.path == "/metrics");
    mount(cfg, only_metrics.collect());
}

fn mount(cfg: &mut ServiceConfig, table: Vec<RouteDef>) {
    let mut paths: Vec<&'static str> = Vec::new();
    for def in &table {
        if !paths.contains(&def.path) {
            paths.push(def.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        let mut allowed: Vec<String> = Vec::new();
        for def in table.iter().filter(|d| d.path == path) {
            resource = resource.route((def.handler)().method(def.method.clone()));
            allowed.push(def.method.to_string());
            if def.method == Method::GET {
                // HEAD is GET without the body; actix drops the body for HEAD.
                resource = resource.route((def.handler)().method(Method::HEAD));
                allowed.push("HEAD".into());
            }
        }
        let allow = allowed.join(", ");
        cfg.service(resource.default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move { render(&req, AppError::MethodNotAllowed { allow }) }
        })));
    }
}

/// The answer for a path no route serves.
pub async fn not_found(req: HttpRequest) -> actix_web::HttpResponse {
    let error = AppError::NotFound(format!("no route for {} {}", req.method(), req.path()));
    render(&req, error)
}

/// A path that can name nothing (it holds a NUL): 404 in the body family of
/// the path (a page for the browser's pages).
pub(crate) fn not_found_here(req: &HttpRequest) -> actix_web::HttpResponse {
    let path = req.path();
    let is_page = path == "/"
        || path == "/admin"
        || [
            "/admin/",
            "/login/",
            "/sso/",
            "/reset-password",
            "/sign-out",
        ]
        .iter()
        .any(|p| path.starts_with(p));
    if is_page {
        return html::message(
            actix_web::http::StatusCode::NOT_FOUND,
            "Not found",
            "Nothing is at this address.",
            None,
        );
    }
    render(
        req,
        AppError::NotFound(format!("no resource at {path}: it holds a NUL character")),
    )
}

/// An error in the body family of its path: the admin API's and sign-in
/// routes' JSON, or SCIM's §3.12 body everywhere else.
fn render(req: &HttpRequest, error: AppError) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    let path = req.path();
    if path.starts_with("/api/") || path.starts_with("/auth/") {
        crate::error::ApiError(error).error_response()
    } else {
        error.error_response()
    }
}
