//! Accounts as admins and support staff handle them: list, add, edit, remove;
//! and the auth-mode state machine (DESIGN invariants 1 to 4) with its
//! purges, reset links, break-glass flag and External user ID.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::audit::{self, Event, page_limit, search_text};
use super::users::{self, CreateOptions};
use super::{AppState, OrgScope, mail};
use crate::domain::{AuthMode, OrgRole, secret};
use crate::error::{AppError, AppResult};
use crate::scim::resource::{format_datetime, normalize};
use crate::scim::schema::USER_RESOURCE_TYPE;
use crate::store::{self, now_ms, outbox::OutboxRow, users::AccountRow};

/// One workspace of an account, with the account's role there.
#[derive(Debug, Serialize)]
pub struct WorkspaceRoleView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub role: String,
}

/// An account as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub auth_mode: String,
    pub has_password: bool,
    pub break_glass: bool,
    /// `none`, `support` or `admin`: who may use the dashboard.
    pub org_role: String,
    pub external_user_id: String,
    pub external_user_id_source: &'static str,
    pub source: String,
    /// The last SSO sign-in, if any.
    pub last_sign_in_at: Option<String>,
    pub workspaces: Vec<WorkspaceRoleView>,
    pub created_at: String,
    pub updated_at: String,
}

async fn views(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    rows: Vec<AccountRow>,
) -> AppResult<Vec<AccountView>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut roles: std::collections::HashMap<String, Vec<WorkspaceRoleView>> = Default::default();
    for (member, workspace) in store::workspaces::of_accounts(conn, org_id, &ids).await? {
        roles
            .entry(member.account_id)
            .or_default()
            .push(WorkspaceRoleView {
                id: workspace.id,
                slug: workspace.slug,
                name: workspace.name,
                role: member.role,
            });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let (external_user_id, source) = store::accounts::effective_external_user_id(&row);
            AccountView {
                workspaces: roles.remove(&row.id).unwrap_or_default(),
                external_user_id,
                external_user_id_source: source.as_str(),
                has_password: row.password_hash.is_some(),
                last_sign_in_at: row.last_sign_in_at.map(format_datetime),
                created_at: format_datetime(row.created_at),
                updated_at: format_datetime(row.updated_at),
                id: row.id,
                user_name: row.user_name,
                display_name: row.display_name,
                email: row.primary_email,
                active: row.active,
                auth_mode: row.auth_mode,
                break_glass: row.break_glass,
                org_role: row.org_role,
                source: row.source,
            }
        })
        .collect())
}

/// The account as it is now (read after the change committed).
pub async fn view(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<AccountView> {
    let row = users::find_existing(&state.db.read, scope, id).await?;
    let mut list = views(&state.db.read, &scope.org_id, vec![row]).await?;
    list.pop()
        .ok_or_else(|| AppError::Internal("an account view went missing".into()))
}

/// The account as the admin API shows it, plus its SCIM `externalId` and
/// `emails`, read in the caller's transaction (product events carry it);
/// `None` when it does not exist (deleted in this transaction).
pub(crate) async fn view_in(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    id: &str,
) -> AppResult<Option<Value>> {
    let Some(row) = store::users::find(conn, org_id, id).await? else {
        return Ok(None);
    };
    let external_id = row.external_id.clone();
    let emails = serde_json::from_str::<Value>(&row.resource)
        .ok()
        .and_then(|r| r.get("emails").cloned())
        .unwrap_or_else(|| json!([]));
    let Some(view) = views(conn, org_id, vec![row]).await?.pop() else {
        return Ok(None);
    };
    let mut value = serde_json::to_value(view)
        .map_err(|e| AppError::Internal(format!("cannot serialise an account: {e}")))?;
    value["external_id"] = json!(external_id);
    value["emails"] = emails;
    Ok(Some(value))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    pub query: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
    /// `sso` or `password`.
    pub auth_mode: Option<String>,
    pub active: Option<bool>,
    /// `scim` (provisioned by an identity provider) or `other`.
    pub managed_by: Option<String>,
    /// Members of this workspace only.
    pub workspace_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountPage {
    pub accounts: Vec<AccountView>,
    pub next_cursor: Option<String>,
}

fn encode_cursor(row: &AccountRow) -> String {
    URL_SAFE_NO_PAD.encode(json!([row.user_name_lower, row.id]).to_string())
}

fn decode_cursor(cursor: &str) -> AppResult<(String, String)> {
    let bad = || {
        AppError::invalid_value(format!(
            "cursor {} is not one this API handed out",
            crate::scim::quoted(cursor)
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let (name, id): (String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((name, id))
}

/// The admin page's listing, by user name.
pub async fn list(
    state: &AppState,
    scope: &OrgScope,
    query: AccountQuery,
) -> AppResult<AccountPage> {
    let limit = page_limit(query.limit, 50, 200)?;
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(decode_cursor(c)?),
        None => None,
    };
    let auth_mode = match query.auth_mode.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => Some(
            AuthMode::parse(m)
                .map_err(AppError::invalid_value)?
                .as_str(),
        ),
        None => None,
    };
    let scim_managed = match query.managed_by.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some("scim") => Some(true),
        Some("other") => Some(false),
        Some(other) => {
            return Err(AppError::invalid_value(format!(
                "managed_by must be \"scim\" or \"other\", not {}",
                crate::scim::quoted(other)
            )));
        }
    };
    let text = search_text("query", query.query)?;
    let filter = store::accounts::ListFilter {
        query: text.as_deref(),
        auth_mode,
        active: query.active,
        scim_managed,
        workspace_id: query.workspace_id.as_deref().filter(|w| !w.is_empty()),
    };
    let mut rows = store::accounts::list(
        &state.db.read,
        &scope.org_id,
        filter,
        after.as_ref().map(|(n, i)| (n.as_str(), i.as_str())),
        limit + 1,
    )
    .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(encode_cursor)
    } else {
        None
    };
    Ok(AccountPage {
        accounts: views(&state.db.read, &scope.org_id, rows).await?,
        next_cursor,
    })
}

/// The id of the account with this user name (compared as sign-in does).
pub async fn id_of_user_name(
    state: &AppState,
    scope: &OrgScope,
    user_name: &str,
) -> AppResult<Option<String>> {
    let key = crate::domain::user_name_key(user_name.trim());
    Ok(
        store::accounts::find_by_user_name_key(&state.db.read, &scope.org_id, &key)
            .await?
            .map(|a| a.id),
    )
}

/// `POST /api/v1/accounts` and `scimlink account create`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccountInput {
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
    #[serde(default)]
    pub break_glass: bool,
    pub external_user_id: Option<String>,
}

fn check_email(email: &str) -> AppResult<()> {
    if crate::domain::linking::is_email(email.trim()) {
        Ok(())
    } else {
        Err(AppError::invalid_value(format!(
            "email {email:?} is not an email address"
        )))
    }
}

fn check_external_user_id(value: &str) -> AppResult<()> {
    if value.trim().is_empty() || value.len() > 1024 {
        return Err(AppError::invalid_value(
            "external_user_id must be 1 to 1024 bytes and not blank",
        ));
    }
    Ok(())
}

/// Adds an account. `source`: `admin` (the API) or `cli`.
pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    input: NewAccountInput,
    source: &str,
) -> AppResult<AccountView> {
    scope.require_admin()?;
    let mut body = Map::new();
    body.insert("userName".into(), json!(input.user_name));
    if let Some(name) = &input.display_name {
        body.insert("displayName".into(), json!(name));
    }
    if let Some(email) = &input.email {
        check_email(email)?;
        body.insert(
            "emails".into(),
            json!([{"value": email.trim(), "type": "work", "primary": true}]),
        );
    }
    body.insert("active".into(), json!(input.active.unwrap_or(true)));
    if let Some(v) = &input.external_user_id {
        check_external_user_id(v)?;
    }
    // The same validation as a SCIM POST: one set of rules for a User.
    let normalized = normalize(&USER_RESOURCE_TYPE, &Value::Object(body))?;
    let options = CreateOptions {
        break_glass: input.break_glass,
        source,
        external_user_id: input.external_user_id.as_deref().map(str::trim),
    };
    let row = users::insert_account(state, scope, normalized, options).await?;
    view(state, scope, &row.id).await
}

/// What `scimlink account create` made: the account and, for a password
/// account, the link that sets its first password.
pub struct CliCreated {
    pub account: AccountView,
    pub reset: Option<ResetIssued>,
}

pub async fn create_from_cli(
    state: &AppState,
    org: &store::orgs::OrgRow,
    input: NewAccountInput,
) -> AppResult<CliCreated> {
    let scope = OrgScope {
        org_id: org.id.clone(),
        actor: super::Actor::Cli,
        request: Default::default(),
    };
    let account = create(state, &scope, input, "cli").await?;
    let reset = if account.auth_mode == AuthMode::Password.as_str() {
        Some(send_password_reset(state, &scope, &account.id).await?)
    } else {
        None
    };
    Ok(CliCreated { account, reset })
}

/// Checks an owner's email as creating the account would, before anything
/// is written: `scimlink org create --owner-email` makes no organisation for
/// an owner it could not then make.
pub fn check_owner_email(email: &str) -> AppResult<()> {
    let email = email.trim();
    check_email(email)?;
    normalize(
        &USER_RESOURCE_TYPE,
        &json!({
            "userName": email,
            "emails": [{"value": email, "primary": true}],
        }),
    )?;
    Ok(())
}

/// `scimlink org create --owner-email`: the organisation's first
/// administrator, a break-glass password account with the role `admin`,
/// and the one-time link that sets its password (issued last, so a link is
/// only ever printed for an account that has its role).
pub async fn create_owner(
    state: &AppState,
    org: &store::orgs::OrgRow,
    email: &str,
) -> AppResult<CliCreated> {
    let scope = OrgScope::new(&org.id, super::Actor::Cli, &Default::default());
    let email = email.trim().to_string();
    let created = create(
        state,
        &scope,
        NewAccountInput {
            user_name: email.clone(),
            display_name: None,
            email: Some(email),
            active: None,
            break_glass: true,
            external_user_id: None,
        },
        "cli",
    )
    .await?;
    let account = set_org_role(state, &scope, &created.id, OrgRole::Admin).await?;
    let reset = send_password_reset(state, &scope, &account.id).await?;
    Ok(CliCreated {
        account,
        reset: Some(reset),
    })
}

/// `PATCH /api/v1/accounts/{id}`: `null` clears display name or email.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    pub user_name: Option<String>,
    #[serde(default, with = "double_option")]
    pub display_name: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub email: Option<Option<String>>,
    pub active: Option<bool>,
}

/// Tells a field that is absent (`None`) from one that is `null` (`Some(None)`).
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

fn apply_update(current: &Map<String, Value>, update: &AccountUpdate) -> Map<String, Value> {
    let mut next = current.clone();
    if let Some(name) = &update.user_name {
        next.insert("userName".into(), json!(name));
    }
    match &update.display_name {
        Some(Some(name)) => {
            next.insert("displayName".into(), json!(name));
        }
        Some(None) => {
            next.remove("displayName");
        }
        None => {}
    }
    if let Some(email) = &update.email {
        let mut emails: Vec<Value> = next
            .get("emails")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let primary = emails
            .iter()
            .position(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or(if emails.is_empty() { None } else { Some(0) });
        match (email, primary) {
            (Some(value), Some(i)) => emails[i]["value"] = json!(value.trim()),
            (Some(value), None) => {
                emails.push(json!({"value": value.trim(), "type": "work", "primary": true}));
            }
            (None, Some(i)) => {
                emails.remove(i);
            }
            (None, None) => {}
        }
        if emails.is_empty() {
            next.remove("emails");
        } else {
            next.insert("emails".into(), Value::Array(emails));
        }
    }
    if let Some(active) = update.active {
        next.insert("active".into(), json!(active));
    }
    next
}

pub async fn update(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    update: AccountUpdate,
) -> AppResult<AccountView> {
    scope.require_admin()?;
    if let Some(Some(email)) = &update.email {
        check_email(email)?;
    }
    users::update_row(state, scope, id, None, |current| {
        Ok(normalize(
            &USER_RESOURCE_TYPE,
            &Value::Object(apply_update(current, &update)),
        )?)
    })
    .await?;
    view(state, scope, id).await
}

pub async fn delete(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<()> {
    scope.require_admin()?;
    users::delete(state, scope, id, None).await
}

/// Ends every live session of these accounts, in the caller's transaction.
pub(crate) async fn end_sessions(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    account_ids: &[String],
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    Ok(
        store::sessions::end_for_accounts(
            conn,
            &scope.org_id,
            account_ids,
            None,
            None,
            reason,
            now,
        )
        .await?,
    )
}

/// DESIGN invariant 1, in the caller's transaction: these accounts sign in
/// through SSO from now on; their password hashes, unused reset links (and
/// the outbox text that carries them) and sessions are gone.
pub(crate) async fn purge_to_sso(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    account_ids: &[String],
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    store::accounts::switch_to_sso(conn, &scope.org_id, account_ids).await?;
    withdraw_resets(conn, scope, account_ids).await?;
    end_sessions(conn, scope, account_ids, reason, now).await
}

/// Deletes the accounts' unused reset links and redacts their outbox text.
async fn withdraw_resets(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    account_ids: &[String],
) -> AppResult<()> {
    let withdrawn = store::sessions::delete_unused_resets(conn, &scope.org_id, account_ids).await?;
    store::outbox::redact_resets(conn, &withdrawn, mail::REDACTED_BODY).await?;
    Ok(())
}

/// A reset link as the admin API returns it (the token is in the URL, once).
#[derive(Debug, Serialize)]
pub struct ResetIssued {
    pub reset_url: String,
    pub expires_at: String,
}

/// Issues a new one-time reset link (earlier unused ones are withdrawn) and
/// queues its message, in the caller's transaction. The caller delivers the
/// message after commit.
async fn issue_reset(
    conn: &impl sea_orm::ConnectionTrait,
    state: &AppState,
    scope: &OrgScope,
    account: &AccountRow,
    now: DateTime<Utc>,
) -> AppResult<(ResetIssued, OutboxRow)> {
    withdraw_resets(conn, scope, std::slice::from_ref(&account.id)).await?;
    let token = secret::generate("reset");
    let ttl = i64::try_from(state.settings.reset_link_ttl_seconds).unwrap_or(i64::MAX);
    let expires_at = now + TimeDelta::try_seconds(ttl).unwrap_or(TimeDelta::days(1));
    let reset = store::sessions::insert_reset(
        conn,
        store::sessions::NewReset {
            org_id: &scope.org_id,
            account_id: &account.id,
            token_hash: &token.hash,
            now,
            expires_at,
        },
    )
    .await?;
    let url = mail::reset_url(&state.base_url, &token.secret);
    let message = mail::queue_reset(conn, account, &reset.id, &url, expires_at, now).await?;
    Ok((
        ResetIssued {
            reset_url: url,
            expires_at: format_datetime(expires_at),
        },
        message,
    ))
}

/// What `PUT /api/v1/accounts/{id}/auth-mode` answers.
#[derive(Debug, Serialize)]
pub struct AuthModeChange {
    pub account: AccountView,
    pub changed: bool,
    pub sessions_ended: u64,
    pub reset_url: Option<String>,
    pub reset_expires_at: Option<String>,
}

/// The auth-mode state machine. password -> sso purges (invariant 1);
/// sso -> password leaves no password and issues a reset link (invariant 2).
pub async fn set_auth_mode(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    mode: AuthMode,
) -> AppResult<AuthModeChange> {
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let org = store::orgs::find(&txn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal("the organisation is gone".into()))?;
    let current = find_locked(&txn, scope, id).await?;
    require_admin_for_staff_account(scope, &current)?;
    let from = AuthMode::parse(&current.auth_mode).map_err(AppError::Internal)?;
    if from == mode {
        drop(txn);
        return Ok(AuthModeChange {
            account: view(state, scope, id).await?,
            changed: false,
            sessions_ended: 0,
            reset_url: None,
            reset_expires_at: None,
        });
    }
    let ids = [current.id.clone()];
    let (sessions_ended, reset) = match mode {
        AuthMode::Sso => (
            purge_to_sso(&txn, scope, &ids, "auth_mode_changed", now).await?,
            None,
        ),
        AuthMode::Password => {
            if org.sso_required && !current.break_glass {
                return Err(AppError::Conflict(
                    "the organisation requires SSO: only break-glass accounts may sign in with a \
                     password; make this account break-glass first"
                        .into(),
                ));
            }
            store::accounts::set_auth_mode(&txn, &scope.org_id, id, AuthMode::Password).await?;
            let ended = end_sessions(&txn, scope, &ids, "auth_mode_changed", now).await?;
            (
                ended,
                Some(issue_reset(&txn, state, scope, &current, now).await?),
            )
        }
    };
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.auth_mode_changed",
            target_type: "account",
            target_id: Some(id),
            summary: json!({
                "from": from.as_str(),
                "to": mode.as_str(),
                "password_purged": current.password_hash.is_some(),
                "sessions_ended": sessions_ended,
                "reset_link_issued": reset.is_some(),
            }),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "account {id} switched from {} to {} sign-in",
        from.as_str(),
        mode.as_str()
    );
    let (reset_url, reset_expires_at) = match reset {
        Some((issued, message)) => {
            mail::deliver(state, &message).await;
            (Some(issued.reset_url), Some(issued.expires_at))
        }
        None => (None, None),
    };
    Ok(AuthModeChange {
        account: view(state, scope, id).await?,
        changed: true,
        sessions_ended,
        reset_url,
        reset_expires_at,
    })
}

async fn find_locked(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> AppResult<AccountRow> {
    users::find_existing(conn, scope, id).await?;
    store::users::find_for_update(conn, &scope.org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("User {id} not found")))
}

/// Support may switch, reset and re-point ordinary accounts, but not those
/// of the dashboard's staff: a reset link or a new External user ID for an
/// admin's account would hand support that admin's powers.
pub(crate) fn require_admin_for_staff_account(
    scope: &OrgScope,
    account: &AccountRow,
) -> AppResult<()> {
    if account.org_role == OrgRole::None.as_str() {
        return Ok(());
    }
    scope.require_admin().map_err(|_| {
        AppError::Forbidden(format!(
            "{} has the organisation role {}; only an admin may change how it signs in",
            account.user_name, account.org_role
        ))
    })
}

/// `POST /api/v1/accounts/{id}/password-reset`.
pub async fn send_password_reset(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
) -> AppResult<ResetIssued> {
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let account = find_locked(&txn, scope, id).await?;
    require_admin_for_staff_account(scope, &account)?;
    if account.auth_mode != AuthMode::Password.as_str() {
        return Err(AppError::Conflict(
            "this account signs in with SSO and has no password to reset; switch it to password \
             sign-in first (that sends a reset link)"
                .into(),
        ));
    }
    let (issued, message) = issue_reset(&txn, state, scope, &account, now).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.password_reset_issued",
            target_type: "account",
            target_id: Some(id),
            summary: json!({"expires_at": issued.expires_at, "recipient": account.primary_email}),
        },
    )
    .await?;
    txn.commit().await?;
    mail::deliver(state, &message).await;
    Ok(issued)
}

/// `PUT /api/v1/accounts/{id}/break-glass`. Clearing the flag while the
/// organisation requires SSO moves a password account to SSO (invariant 4).
pub async fn set_break_glass(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    enabled: bool,
) -> AppResult<AccountView> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let org = store::orgs::find(&txn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal("the organisation is gone".into()))?;
    let current = find_locked(&txn, scope, id).await?;
    if current.break_glass == enabled {
        drop(txn);
        return view(state, scope, id).await;
    }
    store::accounts::set_break_glass(&txn, &scope.org_id, id, enabled).await?;
    let switch = !enabled && org.sso_required && current.auth_mode == AuthMode::Password.as_str();
    let sessions_ended = if switch {
        purge_to_sso(
            &txn,
            scope,
            std::slice::from_ref(&current.id),
            "sso_required",
            now,
        )
        .await?
    } else {
        0
    };
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.break_glass_changed",
            target_type: "account",
            target_id: Some(id),
            summary: json!({
                "enabled": enabled,
                "switched_to_sso": switch,
                "sessions_ended": sessions_ended,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    view(state, scope, id).await
}

/// `PUT /api/v1/accounts/{id}/org-role` (admin only): who may use the
/// dashboard, and with which powers.
pub async fn set_org_role(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    role: OrgRole,
) -> AppResult<AccountView> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let current = find_locked(&txn, scope, id).await?;
    if current.org_role == role.as_str() {
        drop(txn);
        return view(state, scope, id).await;
    }
    if role != OrgRole::Admin {
        users::keep_an_admin(&txn, scope, &current).await?;
    }
    store::accounts::set_org_role(&txn, &scope.org_id, id, role.as_str()).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.org_role_changed",
            target_type: "account",
            target_id: Some(id),
            summary: json!({"from": current.org_role, "to": role.as_str()}),
        },
    )
    .await?;
    txn.commit().await?;
    view(state, scope, id).await
}

/// `PUT /api/v1/accounts/{id}/external-user-id`; `None` goes back to the default.
pub async fn set_external_user_id(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    value: Option<String>,
) -> AppResult<AccountView> {
    let value = value.map(|v| v.trim().to_string());
    if let Some(v) = &value {
        check_external_user_id(v)?;
    }
    let now = now_ms();
    let txn = state.db.begin().await?;
    let current = find_locked(&txn, scope, id).await?;
    require_admin_for_staff_account(scope, &current)?;
    let (before, _) = store::accounts::effective_external_user_id(&current);
    store::accounts::set_external_user_id(&txn, &current, value.as_deref()).await?;
    let (after, source) = store::accounts::effective_external_user_id(&AccountRow {
        external_user_id: value.clone(),
        ..current
    });
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.external_user_id_changed",
            target_type: "account",
            target_id: Some(id),
            summary: json!({"from": before, "to": after, "source": source.as_str()}),
        },
    )
    .await?;
    txn.commit().await?;
    view(state, scope, id).await
}
