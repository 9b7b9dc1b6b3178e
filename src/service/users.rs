//! The SCIM User use cases: create, read, list, replace, patch, delete.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use sea_orm::ConnectionTrait;

use super::audit::{self, Event};
use super::listing::{self, Key, ListParams, Lister, Page};
use super::{Actor, AppState, Conditional, OrgScope, Resource, accounts, blocking, check_if_match};
use crate::domain::{AuthMode, MAX_PASSWORD_BYTES, OrgRole, password};
use crate::error::{AppError, AppResult};
use crate::scim::filter::Cond;
use crate::scim::projection::Projection;
use crate::scim::resource::{Normalized, format_datetime, normalize};
use crate::scim::schema::{USER_RESOURCE_TYPE, USER_URN};
use crate::scim::{etag, patch};
use crate::store::filter_sql::Table;
use crate::store::groups::UserGroup;
use crate::store::orgs::OrgRow;
use crate::store::users::{AccountRow, Clash, NewAccount};
use crate::store::{self, is_unique_violation, now_ms};

fn location(state: &AppState, id: &str) -> String {
    format!("{}/scim/v2/Users/{id}", state.base_url)
}

/// The stored attributes of a row.
fn attributes_of(row: &AccountRow) -> AppResult<Map<String, Value>> {
    serde_json::from_str(&row.resource).map_err(|e| {
        AppError::Internal(format!(
            "account {} holds unreadable attributes: {e}",
            row.id
        ))
    })
}

/// The wire form of a stored row (RFC 7643 §4.1), before projection.
/// `groups`: the user's groups, when the response (or a filter) needs them.
fn to_wire(
    state: &AppState,
    row: &AccountRow,
    groups: Option<&[UserGroup]>,
) -> AppResult<Map<String, Value>> {
    let attributes = attributes_of(row)?;
    let mut schemas = vec![json!(USER_URN)];
    for ext in USER_RESOURCE_TYPE.extensions {
        if attributes.contains_key(ext.id) {
            schemas.push(json!(ext.id));
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(row.id));
    out.extend(attributes);
    if let Some(groups) = groups.filter(|g| !g.is_empty()) {
        // RFC 7643 §4.1.2: read-only, direct or through nested groups.
        let values = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.group_id,
                    "$ref": format!("{}/scim/v2/Groups/{}", state.base_url, g.group_id),
                    "display": g.display,
                    "type": if g.direct { "direct" } else { "indirect" },
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(values));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": format_datetime(row.created_at),
            "lastModified": format_datetime(row.updated_at),
            "location": location(state, &row.id),
            "version": etag(row.version),
        }),
    );
    Ok(out)
}

/// The groups of these users, unless the projection leaves `groups` out.
async fn groups_for(
    conn: &impl sea_orm::ConnectionTrait,
    rows: &[AccountRow],
    needed: bool,
) -> AppResult<HashMap<String, Vec<UserGroup>>> {
    if !needed || rows.is_empty() {
        return Ok(HashMap::new());
    }
    // Rows come from one organisation's scoped query.
    let org_id = &rows[0].org_id;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    Ok(store::groups::groups_of_users(conn, org_id, &ids).await?)
}

fn respond_with(
    state: &AppState,
    row: &AccountRow,
    groups: &HashMap<String, Vec<UserGroup>>,
    projection: &Projection,
) -> AppResult<Resource> {
    let mut body = to_wire(state, row, groups.get(&row.id).map(Vec::as_slice))?;
    projection.apply(&USER_RESOURCE_TYPE, &mut body);
    Ok(Resource {
        body: Value::Object(body),
        etag: etag(row.version),
        location: location(state, &row.id),
    })
}

async fn respond(
    state: &AppState,
    conn: &impl sea_orm::ConnectionTrait,
    row: &AccountRow,
    projection: &Projection,
) -> AppResult<Resource> {
    let rows = std::slice::from_ref(row);
    let groups = groups_for(conn, rows, !projection.excludes("groups")).await?;
    respond_with(state, row, &groups, projection)
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("User {id} not found"))
}

fn clash_error(clash: Clash, attributes: &Map<String, Value>) -> AppError {
    let text = |k: &str| {
        attributes
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match clash {
        Clash::UserName => AppError::Uniqueness(format!(
            "a User with userName {:?} already exists",
            text("userName")
        )),
        Clash::ExternalId => AppError::Uniqueness(format!(
            "a User with externalId {:?} already exists",
            text("externalId")
        )),
    }
}

fn unique_race_error() -> AppError {
    AppError::Uniqueness(
        "another User with this userName or externalId was created at the same time".into(),
    )
}

/// Hashes a password a client sets. One longer than sign-in accepts is
/// refused rather than stored: no one could ever sign in with it.
async fn hash_password(password: Option<String>) -> AppResult<Option<String>> {
    match password {
        None => Ok(None),
        Some(p) if p.len() > MAX_PASSWORD_BYTES => Err(AppError::invalid_value(format!(
            "password is {} bytes long; a password may be at most {MAX_PASSWORD_BYTES} bytes",
            p.len()
        ))),
        Some(p) => blocking(move || password::hash(&p))
            .await?
            .map(Some)
            .map_err(AppError::Internal),
    }
}

/// The User `id` of the organisation, or 404. An id that is not a UUID
/// cannot exist (ids are minted here) and never reaches the database.
pub(crate) async fn find_existing(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> AppResult<AccountRow> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found(id));
    }
    store::users::find(conn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    body: &Value,
    projection: &Projection,
) -> AppResult<Resource> {
    let normalized = normalize(&USER_RESOURCE_TYPE, body)?;
    let row = insert_account(state, scope, normalized, CreateOptions::scim()).await?;
    // A new (or adopted) user's groups are read like any other's.
    respond(state, &state.db.read, &row, projection).await
}

/// How an account comes to exist, beside its SCIM attributes.
pub(crate) struct CreateOptions<'a> {
    pub break_glass: bool,
    /// `scim`, `admin` or `cli`.
    pub source: &'a str,
    pub external_user_id: Option<&'a str>,
}

impl CreateOptions<'static> {
    pub fn scim() -> Self {
        CreateOptions {
            break_glass: false,
            source: "scim",
            external_user_id: None,
        }
    }
}

/// DESIGN invariant 3: in an organisation with SSO, a new account signs in
/// through SSO unless it is created as break-glass.
fn initial_mode(org: &OrgRow, break_glass: bool) -> AuthMode {
    if org.sso_enabled && !break_glass {
        AuthMode::Sso
    } else {
        AuthMode::Password
    }
}

pub(crate) fn sso_password_error() -> AppError {
    AppError::invalid_value(
        "this account signs in with SSO, so it cannot have a password; \
         switch it to password sign-in first (PUT /api/v1/accounts/{id}/auth-mode)",
    )
}

async fn org_of(conn: &impl ConnectionTrait, scope: &OrgScope) -> AppResult<OrgRow> {
    store::orgs::find(conn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("organisation {} is gone", scope.org_id)))
}

/// Creates an account (SCIM, admin API or CLI), or lets SCIM adopt one an
/// admin made before SSO when the organisation allows it.
pub(crate) async fn insert_account(
    state: &AppState,
    scope: &OrgScope,
    normalized: Normalized,
    options: CreateOptions<'_>,
) -> AppResult<AccountRow> {
    let Normalized {
        attributes,
        password,
    } = normalized;
    let org = org_of(&state.db.read, scope).await?;
    if password.is_some() && initial_mode(&org, options.break_glass) == AuthMode::Sso {
        return Err(sso_password_error());
    }
    let password_hash = hash_password(password).await?;
    let now = now_ms();
    let txn = state.db.begin().await?;
    // Read again inside the transaction: the policy may have changed meanwhile.
    let org = org_of(&txn, scope).await?;
    let mode = initial_mode(&org, options.break_glass);
    if password_hash.is_some() && mode == AuthMode::Sso {
        return Err(sso_password_error());
    }
    if options.source == "scim"
        && let Some(existing) = unowned_match(&txn, scope, &attributes).await?
    {
        return adopt(
            state,
            txn,
            scope,
            &org,
            existing,
            &attributes,
            password_hash,
        )
        .await;
    }
    let row = create_in(&txn, scope, mode, &attributes, password_hash, &options, now).await?;
    txn.commit().await?;
    log::info!(
        "created account {} ({}, {}) in organisation {}",
        row.id,
        options.source,
        mode.as_str(),
        scope.org_id
    );
    Ok(row)
}

/// Inserts a new account and its `account.created` event in the caller's
/// transaction (SSO's just-in-time provisioning adds its link and session
/// in the same one).
pub(crate) async fn create_in(
    txn: &impl ConnectionTrait,
    scope: &OrgScope,
    mode: AuthMode,
    attributes: &Map<String, Value>,
    password_hash: Option<String>,
    options: &CreateOptions<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<AccountRow> {
    if let Some(clash) = store::users::find_clash(txn, &scope.org_id, attributes, None).await? {
        return Err(clash_error(clash, attributes));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let new = NewAccount {
        id: &id,
        org_id: &scope.org_id,
        attributes,
        auth_mode: mode,
        password_hash,
        break_glass: options.break_glass,
        source: options.source,
        external_user_id: options.external_user_id,
        now,
    };
    let row = match store::users::insert(txn, new).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Err(unique_race_error()),
        Err(e) => return Err(e.into()),
    };
    audit::record(
        txn,
        scope,
        now,
        Event {
            action: "account.created",
            target_type: "account",
            target_id: Some(&id),
            summary: json!({
                "user_name": row.user_name,
                "source": row.source,
                "auth_mode": row.auth_mode,
                "break_glass": row.break_glass,
            }),
        },
    )
    .await?;
    Ok(row)
}

/// An account of the organisation that no IdP owns (made by an admin or the
/// CLI) and that has the new user's userName or primary email.
async fn unowned_match(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    attributes: &Map<String, Value>,
) -> AppResult<Option<AccountRow>> {
    let user_name = attributes
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(row) = store::accounts::find_by_user_name_key(
        conn,
        &scope.org_id,
        &crate::domain::user_name_key(user_name),
    )
    .await?
    {
        return Ok((row.source != "scim").then_some(row));
    }
    let Some(email) = primary_email(attributes) else {
        return Ok(None);
    };
    let unowned: Vec<AccountRow> =
        store::accounts::find_by_email(conn, &scope.org_id, &email.to_lowercase())
            .await?
            .into_iter()
            .filter(|r| r.source != "scim")
            .collect();
    match unowned.len() {
        0 => Ok(None),
        1 => Ok(unowned.into_iter().next()),
        _ => Err(AppError::Uniqueness(format!(
            "several accounts that were not provisioned by SCIM have the email {email:?}; \
             remove or rename all but one before SCIM creates this user"
        ))),
    }
}

fn primary_email(attributes: &Map<String, Value>) -> Option<String> {
    let emails = attributes.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| emails.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// SCIM takes over an account an admin created (`scim_adopt_existing`): it
/// keeps its id, auth mode, sessions and history; its attributes become the
/// IdP's. Without the setting, a clear 409.
async fn adopt(
    state: &AppState,
    txn: sea_orm::DatabaseTransaction,
    scope: &OrgScope,
    org: &OrgRow,
    existing: AccountRow,
    attributes: &Map<String, Value>,
    password_hash: Option<String>,
) -> AppResult<AccountRow> {
    if !org.scim_adopt_existing {
        return Err(AppError::Uniqueness(format!(
            "account {} ({:?}, created by {}) already has this userName or email and no SCIM owner; \
             an admin can let SCIM take it over with the organisation setting scim_adopt_existing",
            existing.id, existing.user_name, existing.source
        )));
    }
    if password_hash.is_some() && existing.auth_mode == AuthMode::Sso.as_str() {
        return Err(sso_password_error());
    }
    let write = ScimWrite {
        password: password_hash.is_some(),
        deactivate: existing.active && attributes.get("active") == Some(&Value::Bool(false)),
        delete: false,
    };
    if let Some(detail) = scim_write_refusal(&existing, true, write) {
        drop(txn);
        return Err(refuse_scim_write(state, scope, &existing.id, detail).await);
    }
    if let Some(clash) =
        store::users::find_clash(&txn, &scope.org_id, attributes, Some(&existing.id)).await?
    {
        return Err(clash_error(clash, attributes));
    }
    let now = now_ms();
    let row = store::users::update(&txn, &existing, attributes, password_hash, now)
        .await?
        .ok_or_else(|| {
            AppError::PreconditionFailed(format!(
                "account {} changed while SCIM adopted it; retry",
                existing.id
            ))
        })?;
    store::accounts::set_source(&txn, &scope.org_id, &row.id, "scim").await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.adopted",
            target_type: "account",
            target_id: Some(&row.id),
            summary: json!({"user_name": row.user_name, "previous_source": existing.source}),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "SCIM adopted account {} in organisation {}",
        row.id,
        scope.org_id
    );
    Ok(AccountRow {
        source: "scim".into(),
        ..row
    })
}

/// What SCIM asks of an existing account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScimWrite {
    pub password: bool,
    pub deactivate: bool,
    pub delete: bool,
}

/// Why SCIM may not make this write, if it may not. An IdP manages the
/// accounts SCIM made (or adopted, where the organisation allows it); the
/// break-glass accounts and the dashboard's staff are there for when the IdP
/// is wrong or down, so SCIM never sets their password, deactivates or
/// deletes them.
pub(crate) fn scim_write_refusal(
    row: &AccountRow,
    adopt_existing: bool,
    write: ScimWrite,
) -> Option<String> {
    if row.source != "scim" && !adopt_existing {
        return Some(format!(
            "User {} was not provisioned by SCIM (it was made by {}); SCIM may not change or \
             delete it unless an admin lets SCIM adopt existing accounts (scim_adopt_existing)",
            row.id, row.source
        ));
    }
    let protected = if row.break_glass {
        Some("is a break-glass account".to_string())
    } else if row.org_role != OrgRole::None.as_str() {
        Some(format!("has the organisation role {}", row.org_role))
    } else {
        None
    };
    let what = if write.delete {
        Some("delete it")
    } else if write.deactivate {
        Some("deactivate it")
    } else if write.password {
        Some("set its password")
    } else {
        None
    };
    match (protected, what) {
        (Some(why), Some(what)) => Some(format!(
            "User {} {why}; SCIM may not {what} (an admin can, in scimlink's admin API or dashboard)",
            row.id
        )),
        _ => None,
    }
}

/// Records a refused SCIM write (after its transaction rolled back) and
/// returns the 403 the IdP gets.
async fn refuse_scim_write(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    detail: String,
) -> AppError {
    let now = state.settings.clock.now();
    let recorded = async {
        let txn = state.db.begin().await?;
        audit::record(
            &txn,
            scope,
            now,
            Event {
                action: "scim.write_refused",
                target_type: "account",
                target_id: Some(id),
                summary: json!({"detail": detail}),
            },
        )
        .await?;
        txn.commit().await?;
        Ok::<(), AppError>(())
    }
    .await;
    if let Err(e) = recorded {
        log::error!("could not record a refused SCIM write on User {id}: {e}");
    }
    log::info!("SCIM write on User {id} refused: {detail}");
    AppError::Forbidden(detail)
}

/// DESIGN: an organisation keeps an admin. Refuses to take the admin powers
/// of `row` (delete, demote, deactivate) when no other active admin remains.
/// Takes the organisation's admin lock first, so two requests removing the
/// last two admins cannot both pass.
pub(crate) async fn keep_an_admin(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    row: &AccountRow,
) -> AppResult<()> {
    if row.org_role != OrgRole::Admin.as_str() || !row.active {
        return Ok(());
    }
    store::advisory_lock(conn, &format!("scimlink.admins:{}", scope.org_id)).await?;
    if store::accounts::count_active_admins(conn, &scope.org_id, &row.id).await? == 0 {
        return Err(AppError::Conflict(format!(
            "{} is the organisation's last active admin; make another account admin first",
            row.user_name
        )));
    }
    Ok(())
}

pub async fn get(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    projection: &Projection,
    if_none_match: Option<&str>,
) -> AppResult<Conditional<Resource>> {
    let row = find_existing(&state.db.read, scope, id).await?;
    let current = etag(row.version);
    if if_none_match.is_some_and(|h| crate::scim::etag_matches(h, &current)) {
        return Ok(Conditional::NotModified { etag: current });
    }
    Ok(Conditional::Modified(
        respond(state, &state.db.read, &row, projection).await?,
    ))
}

/// Load, apply, validate, save, in one write transaction that holds the row
/// (RFC 7644 §3.5.2: a PATCH applies whole or not at all). Concurrent writers
/// to one User queue on the row instead of losing updates or failing.
/// Deactivation and a new password end the account's sessions in the same
/// transaction (DESIGN invariant 5). Returns the row and whether it changed.
pub(crate) async fn update_row(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    if_match: Option<&str>,
    change: impl Fn(&Map<String, Value>) -> AppResult<Normalized>,
) -> AppResult<AccountRow> {
    // A new password comes from the request, not from the stored user: hash
    // it (tens of milliseconds of argon2) before taking the row and, on
    // SQLite, the one write connection.
    let snapshot = find_existing(&state.db.read, scope, id).await?;
    let password = change(&attributes_of(&snapshot)?)?.password;
    if password.is_some() && snapshot.auth_mode == AuthMode::Sso.as_str() {
        return Err(sso_password_error());
    }
    let password_hash = hash_password(password).await?;

    let txn = state.db.begin().await?;
    let current = store::users::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(if_match, current.version)?;
    if password_hash.is_some() && current.auth_mode == AuthMode::Sso.as_str() {
        return Err(sso_password_error());
    }
    let current_attrs = attributes_of(&current)?;
    let Normalized { attributes, .. } = change(&current_attrs)?;
    if attributes == current_attrs && password_hash.is_none() {
        // Nothing changes: no write, and the version stays as it is.
        return Ok(current);
    }
    let deactivate = current.active && attributes.get("active") == Some(&Value::Bool(false));
    let mut adopted = false;
    if matches!(scope.actor, Actor::ScimToken { .. }) {
        let org = org_of(&txn, scope).await?;
        let write = ScimWrite {
            password: password_hash.is_some(),
            deactivate,
            delete: false,
        };
        if let Some(detail) = scim_write_refusal(&current, org.scim_adopt_existing, write) {
            drop(txn);
            return Err(refuse_scim_write(state, scope, id, detail).await);
        }
        adopted = current.source != "scim";
    }
    if deactivate {
        keep_an_admin(&txn, scope, &current).await?;
    }
    if let Some(clash) =
        store::users::find_clash(&txn, &scope.org_id, &attributes, Some(id)).await?
    {
        return Err(clash_error(clash, &attributes));
    }
    let password_set = password_hash.is_some();
    let now = now_ms();
    let row = match store::users::update(&txn, &current, &attributes, password_hash, now).await {
        Ok(Some(row)) => row,
        // The row is held by this transaction, so this means a bug or a
        // database without row locks; refuse rather than overwrite.
        Ok(None) => {
            return Err(AppError::PreconditionFailed(format!(
                "User {id} changed while this request was applied; retry"
            )));
        }
        Err(e) if is_unique_violation(&e) => return Err(unique_race_error()),
        Err(e) => return Err(e.into()),
    };
    let mut changed: Vec<&str> = attributes
        .iter()
        .filter(|(k, v)| current_attrs.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .chain(
            current_attrs
                .keys()
                .filter(|k| !attributes.contains_key(*k))
                .map(String::as_str),
        )
        .collect();
    changed.sort_unstable();
    if adopted {
        store::accounts::set_source(&txn, &scope.org_id, id, "scim").await?;
        audit::record(
            &txn,
            scope,
            now,
            Event {
                action: "account.adopted",
                target_type: "account",
                target_id: Some(id),
                summary: json!({"user_name": row.user_name, "previous_source": current.source}),
            },
        )
        .await?;
    }
    let mut summary = json!({"changed": changed});
    if password_set {
        summary["password_set"] = json!(true);
    }
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.updated",
            target_type: "account",
            target_id: Some(id),
            summary,
        },
    )
    .await?;
    let ids = [row.id.clone()];
    if current.active && !row.active {
        let ended = accounts::end_sessions(&txn, scope, &ids, "deactivated", now).await?;
        audit::record(
            &txn,
            scope,
            now,
            Event {
                action: "account.deactivated",
                target_type: "account",
                target_id: Some(id),
                summary: json!({"sessions_ended": ended}),
            },
        )
        .await?;
    } else if !current.active && row.active {
        audit::record(
            &txn,
            scope,
            now,
            Event {
                action: "account.reactivated",
                target_type: "account",
                target_id: Some(id),
                summary: json!({}),
            },
        )
        .await?;
    }
    if password_set {
        accounts::end_sessions(&txn, scope, &ids, "password_changed", now).await?;
    }
    txn.commit().await?;
    log::info!("updated User {id} to version {}", row.version);
    Ok(row)
}

/// The SCIM face of [`update_row`].
async fn write_locked(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    if_match: Option<&str>,
    projection: &Projection,
    change: impl Fn(&Map<String, Value>) -> AppResult<Normalized>,
) -> AppResult<Resource> {
    let row = update_row(state, scope, id, if_match, change).await?;
    respond(state, &state.db.read, &row, projection).await
}

pub async fn replace(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    projection: &Projection,
) -> AppResult<Resource> {
    let replacement = normalize(&USER_RESOURCE_TYPE, body)?;
    // RFC 7644 §3.5.1 lets the service provider keep values it defaults;
    // an `active` left out of a PUT keeps its current value rather than
    // silently re-activating or deactivating the account.
    let keeps_active = !replacement.attributes.contains_key("active");
    write_locked(state, scope, id, if_match, projection, move |current| {
        let mut next = replacement.clone();
        if keeps_active && let Some(active) = current.get("active") {
            next.attributes.insert("active".into(), active.clone());
        }
        Ok(next)
    })
    .await
}

pub async fn patch(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    projection: &Projection,
) -> AppResult<Resource> {
    let operations = patch::parse_operations(body)?;
    write_locked(state, scope, id, if_match, projection, |current| {
        Ok(patch::apply_operations(
            &USER_RESOURCE_TYPE,
            current,
            &operations,
        )?)
    })
    .await
}

pub async fn delete(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    if_match: Option<&str>,
) -> AppResult<()> {
    let txn = state.db.begin().await?;
    store::lock_memberships(&txn, &scope.org_id).await?;
    let current = find_existing(&txn, scope, id).await?;
    check_if_match(if_match, current.version)?;
    if matches!(scope.actor, Actor::ScimToken { .. }) {
        let org = org_of(&txn, scope).await?;
        let write = ScimWrite {
            password: false,
            deactivate: false,
            delete: true,
        };
        if let Some(detail) = scim_write_refusal(&current, org.scim_adopt_existing, write) {
            drop(txn);
            return Err(refuse_scim_write(state, scope, id, detail).await);
        }
    }
    keep_an_admin(&txn, scope, &current).await?;
    // Its memberships go with it (by foreign key); the groups it leaves change version.
    let groups = store::groups::parents_of(&txn, &scope.org_id, id).await?;
    // Sessions, identity links, reset links and workspace roles go with it
    // by foreign key (DESIGN invariant 5: its sessions end at once).
    store::users::delete(&txn, &scope.org_id, id).await?;
    let now = now_ms();
    store::groups::bump_versions(&txn, &scope.org_id, &groups, now).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "account.deleted",
            target_type: "account",
            target_id: Some(id),
            summary: json!({"user_name": current.user_name}),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!("deleted User {id} from organisation {}", scope.org_id);
    Ok(())
}

/// Users as the listing engine reads them.
pub struct UserLister<'a> {
    pub state: &'a AppState,
    pub scope: &'a OrgScope,
}

impl Lister for UserLister<'_> {
    type Table = store::users::Table;
    const WHAT: &'static str = "Users";

    fn org_id(&self) -> &str {
        &self.scope.org_id
    }

    fn key(row: &AccountRow) -> Key {
        (row.created_at, row.id.clone())
    }

    async fn for_filter(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<AccountRow>,
        cond: &Cond,
    ) -> AppResult<Vec<(AccountRow, Value)>> {
        let groups = groups_for(conn, &rows, cond.mentions("groups")).await?;
        rows.into_iter()
            .map(|row| {
                let wire = to_wire(self.state, &row, groups.get(&row.id).map(Vec::as_slice))?;
                Ok((row, Value::Object(wire)))
            })
            .collect()
    }

    async fn respond(
        &self,
        conn: &impl ConnectionTrait,
        rows: &[AccountRow],
        projection: &Projection,
    ) -> AppResult<Vec<Value>> {
        let groups = groups_for(conn, rows, !projection.excludes("groups")).await?;
        rows.iter()
            .map(|row| respond_with(self.state, row, &groups, projection).map(|r| r.body))
            .collect()
    }
}

pub async fn list(state: &AppState, scope: &OrgScope, params: &ListParams) -> AppResult<Page> {
    let lister = UserLister { state, scope };
    listing::list(
        state,
        scope,
        &USER_RESOURCE_TYPE,
        Table::Users,
        params,
        &lister,
    )
    .await
}
