//! `/api/v1`: the admin REST API. JSON in and out, snake_case, errors as
//! `{"error", "detail"}`; every call is scoped to its admin token's
//! organisation, and each use case checks the token's role.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Path};
use serde::{Deserialize, Serialize};

use super::extract::{AdminAuth, ApiQuery, ScimBody};
use crate::domain::{AuthMode, OrgRole};
use crate::error::{ApiResult, AppError};
use crate::service::{
    AppState, accounts, audit, connections, events, linking, mail, orgs, sessions, tokens,
    webhooks, workspaces,
};

fn ok<T: Serialize>(body: &T) -> ApiResult<HttpResponse> {
    json(StatusCode::OK, body)
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> ApiResult<HttpResponse> {
    let text = serde_json::to_string(body)
        .map_err(|e| AppError::Internal(format!("cannot serialise a response: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(text))
}

fn created<T: Serialize>(location: &str, body: &T) -> ApiResult<HttpResponse> {
    let mut response = json(StatusCode::CREATED, body)?;
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn no_content() -> ApiResult<HttpResponse> {
    Ok(HttpResponse::NoContent().finish())
}

pub async fn admin_org_get(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
) -> ApiResult<HttpResponse> {
    ok(&orgs::settings(&state, &scope).await?)
}

pub async fn admin_org_update(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    let update = body.parse().await?;
    ok(&orgs::update_settings(&state, &scope, update).await?)
}

pub async fn admin_org_require_sso_preview(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
) -> ApiResult<HttpResponse> {
    ok(&orgs::require_sso_preview(&state, &scope).await?)
}

pub async fn admin_accounts_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    ApiQuery(query): ApiQuery<accounts::AccountQuery>,
) -> ApiResult<HttpResponse> {
    ok(&accounts::list(&state, &scope, query).await?)
}

pub async fn admin_accounts_create(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let input = body.parse().await?;
    let account = accounts::create(&state, &scope, input, "admin").await?;
    created(&format!("/api/v1/accounts/{}", account.id), &account)
}

pub async fn admin_accounts_get(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&accounts::view(&state, &scope, &id).await?)
}

pub async fn admin_accounts_update(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let update = body.parse().await?;
    ok(&accounts::update(&state, &scope, &id, update).await?)
}

pub async fn admin_accounts_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    accounts::delete(&state, &scope, &id).await?;
    no_content()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: String,
}

pub async fn admin_accounts_auth_mode_set(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    let ModeBody { mode } = body.parse().await?;
    let mode = AuthMode::parse(&mode).map_err(AppError::invalid_value)?;
    ok(&accounts::set_auth_mode(&state, &scope, &id, mode).await?)
}

pub async fn admin_accounts_password_reset(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    let issued = accounts::send_password_reset(&state, &scope, &id).await?;
    json(StatusCode::CREATED, &issued)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledBody {
    enabled: bool,
}

pub async fn admin_accounts_break_glass_set(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let EnabledBody { enabled } = body.parse().await?;
    ok(&accounts::set_break_glass(&state, &scope, &id, enabled).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

pub async fn admin_accounts_org_role_set(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    let RoleBody { role } = body.parse().await?;
    let role = OrgRole::parse(&role).map_err(AppError::invalid_value)?;
    ok(&accounts::set_org_role(&state, &scope, &id, role).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueBody {
    /// Present and `null` resets to the default; absent is a 400.
    #[serde(default, with = "accounts::double_option")]
    value: Option<Option<String>>,
}

pub async fn admin_accounts_external_user_id_set(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    let ValueBody { value } = body.parse().await?;
    let value = value.ok_or_else(|| {
        AppError::invalid_value("value is required: the External user ID, or null for the default")
    })?;
    ok(&accounts::set_external_user_id(&state, &scope, &id, value).await?)
}

pub async fn admin_identities_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&linking::list(&state, &scope, &id).await?)
}

pub async fn admin_identities_create(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let new = body.parse().await?;
    let link = linking::create(&state, &scope, &id, new).await?;
    created(
        &format!(
            "/api/v1/accounts/{}/identities/{}",
            link.account_id, link.id
        ),
        &link,
    )
}

pub async fn admin_identities_get(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    path: Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, link_id) = path.into_inner();
    ok(&linking::get(&state, &scope, &id, &link_id).await?)
}

pub async fn admin_identities_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    path: Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, link_id) = path.into_inner();
    linking::delete(&state, &scope, &id, &link_id).await?;
    no_content()
}

pub async fn admin_sessions_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&sessions::list(&state, &scope, &id).await?)
}

pub async fn admin_sessions_end_all(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&sessions::end(&state, &scope, &id, None).await?)
}

pub async fn admin_sessions_end(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    path: Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, session_id) = path.into_inner();
    ok(&sessions::end(&state, &scope, &id, Some(&session_id)).await?)
}

pub async fn admin_workspaces_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
) -> ApiResult<HttpResponse> {
    ok(&workspaces::list(&state, &scope).await?)
}

pub async fn admin_workspaces_create(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let new = body.parse().await?;
    let workspace = workspaces::create(&state, &scope, new).await?;
    created(&format!("/api/v1/workspaces/{}", workspace.id), &workspace)
}

pub async fn admin_workspaces_get(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&workspaces::get(&state, &scope, &id).await?)
}

pub async fn admin_workspaces_update(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let update = body.parse().await?;
    ok(&workspaces::update(&state, &scope, &id, update).await?)
}

pub async fn admin_workspaces_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    workspaces::delete(&state, &scope, &id).await?;
    no_content()
}

pub async fn admin_workspace_members_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&workspaces::members(&state, &scope, &id).await?)
}

pub async fn admin_workspace_members_set(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    path: Path<(String, String)>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let (id, account_id) = path.into_inner();
    let role = body.parse().await?;
    ok(&workspaces::set_member(&state, &scope, &id, &account_id, role).await?)
}

pub async fn admin_workspace_members_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    path: Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, account_id) = path.into_inner();
    workspaces::remove_member(&state, &scope, &id, &account_id).await?;
    no_content()
}

pub async fn admin_scim_tokens_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
) -> ApiResult<HttpResponse> {
    ok(&tokens::api_list(&state, &scope).await?)
}

pub async fn admin_scim_tokens_create(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let new = body.parse().await?;
    let token = tokens::api_create(&state, &scope, new).await?;
    created(&format!("/api/v1/scim-tokens/{}", token.id), &token)
}

pub async fn admin_scim_tokens_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    tokens::api_revoke(&state, &scope, &id).await?;
    no_content()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    account_id: Option<String>,
}

pub async fn admin_outbox_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    ApiQuery(query): ApiQuery<OutboxQuery>,
) -> ApiResult<HttpResponse> {
    ok(&mail::outbox(&state, &scope, query.account_id.as_deref()).await?)
}

pub async fn admin_audit_events_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    ApiQuery(query): ApiQuery<audit::EventQuery>,
) -> ApiResult<HttpResponse> {
    ok(&audit::list(&state, &scope, query).await?)
}

pub async fn admin_events_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    ApiQuery(query): ApiQuery<events::EventQuery>,
) -> ApiResult<HttpResponse> {
    ok(&events::list(&state, &scope, query).await?)
}

pub async fn admin_connections_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
) -> ApiResult<HttpResponse> {
    ok(&connections::list(&state, &scope).await?)
}

pub async fn admin_connections_create(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let new = body.parse().await?;
    let connection = connections::create(&state, &scope, new).await?;
    created(
        &format!("/api/v1/connections/{}", connection.id),
        &connection,
    )
}

pub async fn admin_connections_get(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&connections::get(&state, &scope, &id).await?)
}

pub async fn admin_connections_update(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let update = body.parse().await?;
    ok(&connections::update(&state, &scope, &id, update).await?)
}

pub async fn admin_connections_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    connections::delete(&state, &scope, &id).await?;
    no_content()
}

pub async fn admin_webhooks_list(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
) -> ApiResult<HttpResponse> {
    ok(&webhooks::list(&state, &scope).await?)
}

pub async fn admin_webhooks_create(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let new = body.parse().await?;
    let created_hook = webhooks::create(&state, &scope, new).await?;
    let location = format!(
        "{}/api/v1/webhooks/{}",
        state.base_url, created_hook.webhook.id
    );
    created(&location, &created_hook)
}

pub async fn admin_webhooks_get(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&webhooks::get(&state, &scope, &id).await?)
}

pub async fn admin_webhooks_update(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let update = body.parse().await?;
    ok(&webhooks::update(&state, &scope, &id, update).await?)
}

pub async fn admin_webhooks_delete(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    webhooks::delete(&state, &scope, &id).await?;
    no_content()
}

pub async fn admin_webhooks_rotate_secret(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&webhooks::rotate_secret(&state, &scope, &id).await?)
}

pub async fn admin_webhooks_deliveries(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
) -> ApiResult<HttpResponse> {
    ok(&webhooks::deliveries(&state, &scope, &id).await?)
}

pub async fn admin_webhooks_replay(
    state: Data<AppState>,
    AdminAuth(scope): AdminAuth,
    id: Path<String>,
    body: ScimBody,
) -> ApiResult<HttpResponse> {
    scope.require_admin()?;
    let replay = body.parse().await?;
    ok(&webhooks::replay(&state, &scope, &id, replay).await?)
}
