//! Webhooks as admins manage them (`/api/v1/webhooks`): endpoints that get
//! the organisation's product events, signed per Standard Webhooks. The
//! secret is shown once, when created or rotated, and kept sealed at rest
//! (it is read back to sign). Delivery is `webhook_worker`'s.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Event};
use super::{AppState, OrgScope, secrets};
use crate::domain::webhook;
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::{self, webhooks::DeliveryRow, webhooks::WebhookRow};

/// After a rotation, the previous secret signs too for this long, so
/// receivers can switch without losing a delivery.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);
/// The most deliveries `GET …/deliveries` lists.
const DELIVERIES_PAGE: u64 = 100;
const MAX_URL: usize = 2000;
const MAX_DESCRIPTION: usize = 500;
const MAX_TYPES: usize = 100;

/// A webhook as the API shows it: never its secret.
#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// The position in the events feed the webhook has reached.
    pub cursor: String,
    pub failing_since: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What creating a webhook or rotating its secret answers: the only time
/// the secret is shown.
#[derive(Debug, Serialize)]
pub struct WithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    pub secret: String,
}

fn view(row: &WebhookRow, now: DateTime<Utc>) -> WebhookView {
    WebhookView {
        id: row.id.clone(),
        url: row.url.clone(),
        description: row.description.clone(),
        event_types: types_of(row),
        enabled: row.enabled,
        cursor: row.cursor.to_string(),
        failing_since: row.failing_since.map(format_datetime),
        previous_secret_expires_at: row
            .previous_secret_until
            .filter(|until| *until > now && row.previous_secret.is_some())
            .map(format_datetime),
        created_at: format_datetime(row.created_at),
        updated_at: format_datetime(row.updated_at),
    }
}

pub(crate) fn types_of(row: &WebhookRow) -> Vec<String> {
    serde_json::from_str(&row.event_types).unwrap_or_default()
}

/// Whether a webhook with these types wants an event of `event_type`.
pub(crate) fn wants(types: &[String], event_type: &str) -> bool {
    types.is_empty()
        || types.iter().any(|t| match t.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => t == event_type,
        })
}

fn parse_types(types: Option<Vec<String>>) -> AppResult<Vec<String>> {
    let types = types.unwrap_or_default();
    if types.len() > MAX_TYPES {
        return Err(AppError::invalid_value(format!(
            "event_types holds at most {MAX_TYPES} entries"
        )));
    }
    for t in &types {
        let name = t.strip_suffix('*').unwrap_or(t);
        let valid = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            && (t.ends_with('*') || !name.is_empty())
            && t.len() <= 100;
        if !valid {
            return Err(AppError::invalid_value(format!(
                "event_types: {:?} is not an event type such as account.created or a prefix such as account.*",
                t.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(types)
}

fn parse_url(state: &AppState, raw: &str) -> AppResult<String> {
    if raw.len() > MAX_URL {
        return Err(AppError::invalid_value(format!(
            "url is longer than {MAX_URL} characters"
        )));
    }
    let url = webhook::check_url(raw).map_err(AppError::invalid_value)?;
    // An address written in the URL is refused now; a name is checked on
    // every connection, against the address it resolves to then.
    state
        .outbound
        .check_url(&url)
        .map_err(|e| AppError::invalid_value(format!("url: {e}")))?;
    Ok(url.to_string())
}

fn parse_description(raw: Option<String>) -> AppResult<String> {
    let description = raw.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid_value(format!(
            "description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(description)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
}

/// `POST /api/v1/webhooks`. It starts at the head of the feed: events from
/// now on (`replay` sends older ones).
pub async fn create(state: &AppState, scope: &OrgScope, new: NewWebhook) -> AppResult<WithSecret> {
    scope.require_admin()?;
    let url = parse_url(state, &new.url)?;
    let description = parse_description(new.description)?;
    let types = parse_types(new.event_types)?;
    let id = uuid::Uuid::new_v4().to_string();
    let secret = webhook::new_secret();
    let sealed = secrets::seal_webhook_secret(&state.settings, &id, false, &secret)?;
    let now = state.settings.clock.now();
    super::events::sequence(&state.db, &scope.org_id).await?;
    let txn = state.db.begin().await?;
    let head = store::events::head(&txn, &scope.org_id).await?;
    let row = store::webhooks::insert(
        &txn,
        WebhookRow {
            id: id.clone(),
            org_id: scope.org_id.clone(),
            url: url.clone(),
            description,
            event_types: json!(types).to_string(),
            enabled: true,
            secret: sealed,
            previous_secret: None,
            previous_secret_until: None,
            cursor: head,
            failing_since: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "webhook.created",
            target_type: "webhook",
            target_id: Some(&id),
            summary: json!({"url": url, "event_types": types}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(WithSecret {
        webhook: view(&row, now),
        secret,
    })
}

pub async fn list(state: &AppState, scope: &OrgScope) -> AppResult<Value> {
    let now = state.settings.clock.now();
    let rows = store::webhooks::list(&state.db.read, &scope.org_id).await?;
    Ok(json!({"data": rows.iter().map(|r| view(r, now)).collect::<Vec<_>>()}))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!(
        "webhook {:?} not found",
        id.chars().take(100).collect::<String>()
    ))
}

pub async fn get(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<WebhookView> {
    let row = store::webhooks::find(&state.db.read, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(view(&row, state.settings.clock.now()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// `PATCH /api/v1/webhooks/{id}`. Enabling a webhook clears its failing
/// streak, so it gets three more days.
pub async fn update(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    update: WebhookUpdate,
) -> AppResult<WebhookView> {
    scope.require_admin()?;
    let url = update
        .url
        .as_deref()
        .map(|u| parse_url(state, u))
        .transpose()?;
    let description = update
        .description
        .map(Some)
        .map(parse_description)
        .transpose()?;
    let types = update.event_types.map(Some).map(parse_types).transpose()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let mut row = store::webhooks::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let mut changed = Vec::new();
    if let Some(url) = url.filter(|u| *u != row.url) {
        row.url = url;
        changed.push("url");
    }
    if let Some(description) = description.filter(|d| *d != row.description) {
        row.description = description;
        changed.push("description");
    }
    if let Some(types) = types {
        let types = json!(types).to_string();
        if types != row.event_types {
            row.event_types = types;
            changed.push("event_types");
        }
    }
    if let Some(enabled) = update.enabled.filter(|e| *e != row.enabled) {
        row.enabled = enabled;
        if enabled {
            row.failing_since = None;
        }
        changed.push("enabled");
    }
    if !changed.is_empty() {
        row.updated_at = now;
        store::webhooks::save(&txn, row.clone()).await?;
        audit::record(
            &txn,
            scope,
            now,
            Event {
                action: "webhook.updated",
                target_type: "webhook",
                target_id: Some(id),
                summary: json!({"changed": changed, "url": row.url, "enabled": row.enabled}),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(view(&row, now))
}

pub async fn delete(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<()> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let row = store::webhooks::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    store::webhooks::delete(&txn, &scope.org_id, id).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "webhook.deleted",
            target_type: "webhook",
            target_id: Some(id),
            summary: json!({"url": row.url}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `POST …/rotate-secret`: a new secret, shown once; the current one keeps
/// signing beside it for `ROTATION_OVERLAP`.
pub async fn rotate_secret(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<WithSecret> {
    scope.require_admin()?;
    let secret = webhook::new_secret();
    let sealed = secrets::seal_webhook_secret(&state.settings, id, false, &secret)?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let mut row = store::webhooks::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    // Re-sealed under its new field's context (the seal names the field).
    let current = secrets::open_webhook_secret(&state.settings, id, false, &row.secret)
        .map_err(AppError::Internal)?;
    row.previous_secret = Some(secrets::seal_webhook_secret(
        &state.settings,
        id,
        true,
        current.expose(),
    )?);
    row.previous_secret_until = Some(now + ROTATION_OVERLAP);
    row.secret = sealed;
    row.updated_at = now;
    store::webhooks::save(&txn, row.clone()).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "webhook.secret_rotated",
            target_type: "webhook",
            target_id: Some(id),
            summary: json!({"previous_secret_expires_at": format_datetime(now + ROTATION_OVERLAP)}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(WithSecret {
        webhook: view(&row, now),
        secret,
    })
}

/// One delivery as `GET …/deliveries` lists it.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_http_status: Option<i32>,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn delivery_view(row: DeliveryRow) -> DeliveryView {
    DeliveryView {
        next_attempt_at: (row.status == "pending").then(|| format_datetime(row.next_attempt_at)),
        event_id: row.event_id,
        event_type: row.event_type,
        status: row.status,
        attempts: row.attempts,
        last_http_status: row.last_status,
        last_error: row.last_error,
        created_at: format_datetime(row.created_at),
        updated_at: format_datetime(row.updated_at),
    }
}

/// `GET …/deliveries`: the newest deliveries first.
pub async fn deliveries(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<Value> {
    store::webhooks::find(&state.db.read, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let rows =
        store::webhooks::deliveries(&state.db.read, &scope.org_id, id, DELIVERIES_PAGE).await?;
    Ok(json!({"data": rows.into_iter().map(delivery_view).collect::<Vec<_>>()}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// A cursor of `GET /api/v1/events`: events after it are sent again.
    pub after: String,
}

/// `POST …/replay`: sends the events after the cursor again (with their
/// own event ids as `webhook-id`, so a receiver that kept them knows them).
pub async fn replay(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    replay: Replay,
) -> AppResult<WebhookView> {
    scope.require_admin()?;
    let after = replay
        .after
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            AppError::invalid_value(format!(
                "after {:?} is not a cursor of GET /api/v1/events",
                replay.after.chars().take(100).collect::<String>()
            ))
        })?;
    let now = state.settings.clock.now();
    super::events::sequence(&state.db, &scope.org_id).await?;
    let txn = state.db.begin().await?;
    let mut row = store::webhooks::find_for_update(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let head = store::events::head(&txn, &scope.org_id).await?;
    if after > head {
        return Err(AppError::invalid_value(format!(
            "after {after} is not a cursor of GET /api/v1/events"
        )));
    }
    store::webhooks::forget_finished_after(&txn, id, after).await?;
    row.cursor = row.cursor.min(after);
    row.updated_at = now;
    store::webhooks::save(&txn, row.clone()).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "webhook.replayed",
            target_type: "webhook",
            target_id: Some(id),
            summary: json!({"after": after.to_string()}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(&row, now))
}
