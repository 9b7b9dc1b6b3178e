//! The SCIM User use cases: create, read, list, replace, patch, delete.

use sea_orm::sea_query::{Order, SimpleExpr};
use serde_json::{Map, Value, json};

use super::{AppState, Conditional, OrgScope, blocking};
use crate::domain::password;
use crate::error::{AppError, AppResult};
use crate::scim::filter::{self, Cond};
use crate::scim::projection::Projection;
use crate::scim::resource::{Normalized, format_datetime, normalize};
use crate::scim::schema::{LIST_RESPONSE_URN, USER_RESOURCE_TYPE, USER_URN};
use crate::scim::{self, etag, etag_matches, patch};
use crate::store::filter_sql::{Table, prefilter, sort_expr, sort_order, translate};
use crate::store::users::{AccountRow, Clash, NewAccount};
use crate::store::{self, is_unique_violation, now_ms};

/// A User as a response carries it.
pub struct UserResource {
    pub body: Value,
    pub etag: String,
    pub location: String,
}

/// Rows read per batch when a filter must be evaluated in memory.
const SCAN_BATCH: u64 = 500;

fn location(state: &AppState, id: &str) -> String {
    format!("{}/scim/v2/Users/{id}", state.base_url)
}

/// The wire form of a stored row (RFC 7643 §4.1), before projection.
fn to_wire(state: &AppState, row: &AccountRow) -> AppResult<Map<String, Value>> {
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

fn respond(state: &AppState, row: &AccountRow, projection: &Projection) -> AppResult<UserResource> {
    let mut body = to_wire(state, row)?;
    projection.apply(&USER_RESOURCE_TYPE, &mut body);
    Ok(UserResource {
        body: Value::Object(body),
        etag: etag(row.version),
        location: location(state, &row.id),
    })
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

async fn hash_password(password: Option<String>) -> AppResult<Option<String>> {
    match password {
        None => Ok(None),
        Some(p) => blocking(move || password::hash(&p))
            .await?
            .map(Some)
            .map_err(AppError::Internal),
    }
}

pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    body: &Value,
    projection: &Projection,
) -> AppResult<UserResource> {
    let Normalized {
        attributes,
        password,
    } = normalize(&USER_RESOURCE_TYPE, body)?;
    let password_hash = hash_password(password).await?;
    let txn = state.db.begin().await?;
    if let Some(clash) = store::users::find_clash(&txn, &scope.org_id, &attributes, None).await? {
        return Err(clash_error(clash, &attributes));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let new = NewAccount {
        id: &id,
        org_id: &scope.org_id,
        attributes: &attributes,
        password_hash,
        now: now_ms(),
    };
    let row = match store::users::insert(&txn, new).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Err(unique_race_error()),
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    log::info!("created User {id} in organisation {}", scope.org_id);
    respond(state, &row, projection)
}

pub async fn get(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    projection: &Projection,
    if_none_match: Option<&str>,
) -> AppResult<Conditional<UserResource>> {
    let row = find_existing(&state.db.read, scope, id).await?;
    let current = etag(row.version);
    if if_none_match.is_some_and(|h| etag_matches(h, &current)) {
        return Ok(Conditional::NotModified { etag: current });
    }
    Ok(Conditional::Modified(respond(state, &row, projection)?))
}

/// Load, apply, validate, save, in one write transaction that holds the row
/// (RFC 7644 §3.5.2: a PATCH applies whole or not at all). Concurrent writers
/// to one User queue on the row instead of losing updates or failing.
async fn write_locked(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    if_match: Option<&str>,
    projection: &Projection,
    change: impl Fn(&Map<String, Value>) -> AppResult<Normalized>,
) -> AppResult<UserResource> {
    // A new password comes from the request, not from the stored user: hash
    // it (tens of milliseconds of argon2) before taking the row and, on
    // SQLite, the one write connection.
    let snapshot = find_existing(&state.db.read, scope, id).await?;
    let password_hash = hash_password(change(&attributes_of(&snapshot)?)?.password).await?;

    let txn = state.db.begin().await?;
    let current = store::users::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if let Some(header) = if_match
        && !etag_matches(header, &etag(current.version))
    {
        return Err(AppError::PreconditionFailed(format!(
            "If-Match {header} does not match the current version {}",
            etag(current.version)
        )));
    }
    let current_attrs = attributes_of(&current)?;
    let Normalized { attributes, .. } = change(&current_attrs)?;
    if attributes == current_attrs && password_hash.is_none() {
        // Nothing changes: no write, and the version stays as it is.
        return respond(state, &current, projection);
    }
    if let Some(clash) =
        store::users::find_clash(&txn, &scope.org_id, &attributes, Some(id)).await?
    {
        return Err(clash_error(clash, &attributes));
    }
    let row = match store::users::update(&txn, &current, &attributes, password_hash, now_ms()).await
    {
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
    txn.commit().await?;
    log::info!("updated User {id} to version {}", row.version);
    respond(state, &row, projection)
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

/// The User `id` of the organisation, or 404. An id that is not a UUID
/// cannot exist (ids are minted here) and never reaches the database.
async fn find_existing(
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

pub async fn replace(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    projection: &Projection,
) -> AppResult<UserResource> {
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
) -> AppResult<UserResource> {
    write_locked(state, scope, id, if_match, projection, |current| {
        Ok(patch::apply(&USER_RESOURCE_TYPE, current, body)?)
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
    let current = find_existing(&txn, scope, id).await?;
    if let Some(header) = if_match
        && !etag_matches(header, &etag(current.version))
    {
        return Err(AppError::PreconditionFailed(format!(
            "If-Match {header} does not match the current version {}",
            etag(current.version)
        )));
    }
    store::users::delete(&txn, &scope.org_id, id).await?;
    txn.commit().await?;
    log::info!("deleted User {id} from organisation {}", scope.org_id);
    Ok(())
}

/// The parameters of a list or search request (RFC 7644 §3.4.2).
#[derive(Debug, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub projection: Projection,
}

pub async fn list(state: &AppState, scope: &OrgScope, params: &ListParams) -> AppResult<Value> {
    let settings = &state.settings;
    let cond: Option<Cond> = match params
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        Some(text) => Some(filter::parse(&USER_RESOURCE_TYPE, text)?),
        None => None,
    };
    let mut order = Vec::new();
    if let Some(sort_by) = params
        .sort_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let target = crate::scim::projection::resolve_sort_by(&USER_RESOURCE_TYPE, sort_by)?;
        let expr = sort_expr(Table::Users, &target, state.db.backend()).ok_or_else(|| {
            AppError::invalid_value(format!(
                "sortBy {sort_by} names an attribute that cannot be sorted on"
            ))
        })?;
        order.push((expr, sort_order(params.descending)));
    }
    // RFC 7644 §3.4.2.4: startIndex below 1 is read as 1; count below 0 as 0.
    let start_index = params.start_index.unwrap_or(1).max(1) as u64;
    let count = params
        .count
        .map_or(settings.default_page_size, |c| c.max(0) as u64)
        .min(settings.max_page_size);

    let (total, rows) = match cond
        .as_ref()
        .map(|c| (c, translate(Table::Users, &scope.org_id, c)))
    {
        // The whole filter runs in SQL on indexed columns.
        None | Some((_, Some(_))) => {
            let sql = cond
                .as_ref()
                .and_then(|c| translate(Table::Users, &scope.org_id, c));
            let total = store::users::count(&state.db.read, &scope.org_id, sql.clone()).await?;
            let rows = if count == 0 || start_index > total {
                Vec::new()
            } else {
                store::users::page(
                    &state.db.read,
                    &scope.org_id,
                    sql,
                    &order,
                    start_index - 1,
                    count,
                )
                .await?
            };
            (total, rows)
        }
        // Part of it names unindexed attributes: evaluate in memory, batch by batch.
        Some((cond, None)) => scan(state, scope, cond, &order, start_index, count).await?,
    };
    let mut resources = Vec::with_capacity(rows.len());
    for row in &rows {
        resources.push(respond(state, row, &params.projection)?.body);
    }
    Ok(json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
}

/// Reads the organisation's accounts in batches, narrowed by the indexed
/// parts of the filter, and keeps those the whole filter matches. Holds one
/// batch and one result page in memory, never the organisation. Without
/// `sortBy` the batches are keyset pages (creation time, id), so each costs
/// the same wherever it falls; with `sortBy` they are offset pages.
async fn scan(
    state: &AppState,
    scope: &OrgScope,
    cond: &Cond,
    order: &[(SimpleExpr, Order)],
    start_index: u64,
    count: u64,
) -> AppResult<(u64, Vec<AccountRow>)> {
    let narrowing = prefilter(Table::Users, &scope.org_id, cond);
    let txn = state.db.begin_read().await?;
    let (mut matched, mut scanned) = (0u64, 0u64);
    let mut after = None;
    let mut rows = Vec::new();
    loop {
        let batch = if order.is_empty() {
            store::users::page_after(
                &txn,
                &scope.org_id,
                narrowing.clone(),
                after.take(),
                SCAN_BATCH,
            )
            .await?
        } else {
            store::users::page(
                &txn,
                &scope.org_id,
                narrowing.clone(),
                order,
                scanned,
                SCAN_BATCH,
            )
            .await?
        };
        let batch_len = batch.len() as u64;
        after = batch.last().map(|r| (r.created_at, r.id.clone()));
        for row in batch {
            if filter::matches(cond, &Value::Object(to_wire(state, &row)?)) {
                matched += 1;
                if matched >= start_index && (rows.len() as u64) < count {
                    rows.push(row);
                }
            }
        }
        scanned += batch_len;
        if scanned > state.settings.max_filter_scan {
            return Err(AppError::bad(
                scim::ScimType::TooMany,
                format!(
                    "this filter names attributes without an index and would examine more than {} Users; add userName, externalId, emails or displayName to narrow it",
                    state.settings.max_filter_scan
                ),
            ));
        }
        if batch_len < SCAN_BATCH {
            break;
        }
    }
    txn.commit().await?;
    Ok((matched, rows))
}
