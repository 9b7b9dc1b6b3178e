//! The audit log: who did what to which object, when and from where.
//! Each use case appends its event in the transaction of its change, so a
//! change and its record land together or not at all.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{AppState, OrgScope};
use crate::error::{AppError, AppResult};
use crate::store::{self, audit::AuditRow};

/// What happened to which object.
pub struct Event<'a> {
    /// `account.created`, `auth.sign_in_failed`, ...
    pub action: &'a str,
    /// `account`, `group`, `organization`, `workspace`, `scim_token`, `identity_link`, `session`.
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    /// What changed; never a secret.
    pub summary: Value,
}

pub async fn record(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    at: DateTime<Utc>,
    event: Event<'_>,
) -> AppResult<()> {
    store::audit::append(
        conn,
        store::audit::NewEvent {
            org_id: &scope.org_id,
            at,
            actor_type: scope.actor.kind(),
            actor_id: scope.actor.id(),
            actor_label: scope.actor.label(),
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            summary: event.summary.to_string(),
            request_id: scope.request.request_id.as_deref(),
            client_address: scope.request.client_address.as_deref(),
        },
    )
    .await?;
    // The product events this change means, in the same transaction.
    super::events::record_for_audit(conn, scope, at, &event).await?;
    Ok(())
}

/// Refused sign-ins come from unauthenticated requests, so what they may
/// write is bounded: per organisation and client address, the first
/// `REFUSALS_RECORDED_PER_WINDOW` of each window are recorded in full; the
/// rest are counted, and the window's count becomes one
/// `auth.refusals_suppressed` event once the window has ended.
pub const REFUSAL_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
pub const REFUSALS_RECORDED_PER_WINDOW: i64 = 30;

fn window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let width = REFUSAL_WINDOW.num_seconds();
    let start = at.timestamp().div_euclid(width) * width;
    DateTime::from_timestamp(start, 0).unwrap_or(at)
}

/// Records a refused sign-in within its client address's budget (see
/// `REFUSAL_WINDOW`); whether it was recorded in full. In the caller's
/// transaction.
pub async fn record_refusal(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    at: DateTime<Utc>,
    event: Event<'_>,
) -> AppResult<bool> {
    let Some(address) = scope.request.client_address.as_deref() else {
        record(conn, scope, at, event).await?;
        return Ok(true);
    };
    let window = window_start(at);
    flush_refusal_windows(conn, &scope.org_id, window).await?;
    let count = store::audit::count_refusal(conn, &scope.org_id, address, window).await?;
    if count > REFUSALS_RECORDED_PER_WINDOW {
        return Ok(false);
    }
    record(conn, scope, at, event).await?;
    Ok(true)
}

/// Turns the organisation's refusal counters of windows before `current`
/// into one `auth.refusals_suppressed` event each (where any was suppressed).
async fn flush_refusal_windows(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    current: DateTime<Utc>,
) -> AppResult<()> {
    for row in store::audit::ended_refusal_windows(conn, org_id, current).await? {
        if !store::audit::take_refusal_window(conn, &row).await? {
            continue;
        }
        let suppressed = row.count - REFUSALS_RECORDED_PER_WINDOW;
        if suppressed <= 0 {
            continue;
        }
        let scope = OrgScope::new(
            org_id,
            super::Actor::System,
            &super::RequestMeta {
                client_address: Some(row.client_address.clone()),
                ..Default::default()
            },
        );
        let ended = row.window_start + REFUSAL_WINDOW;
        record(
            conn,
            &scope,
            ended,
            Event {
                action: "auth.refusals_suppressed",
                target_type: "organization",
                target_id: Some(org_id),
                summary: serde_json::json!({
                    "client_address": row.client_address,
                    "window_start": crate::scim::resource::format_datetime(row.window_start),
                    "window_end": crate::scim::resource::format_datetime(ended),
                    "refused": row.count,
                    "recorded": REFUSALS_RECORDED_PER_WINDOW,
                    "suppressed": suppressed,
                }),
            },
        )
        .await?;
    }
    Ok(())
}

/// Writes the summaries of ended refusal windows before a reader looks, so
/// the audit log is complete when read (a window's count is final only
/// once it has ended).
async fn flush_before_reading(state: &AppState, org_id: &str) -> AppResult<()> {
    let current = window_start(state.settings.clock.now());
    if store::audit::ended_refusal_windows(&state.db.read, org_id, current)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let txn = state.db.begin().await?;
    flush_refusal_windows(&txn, org_id, current).await?;
    txn.commit().await?;
    Ok(())
}

/// An event as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: i64,
    pub occurred_at: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub summary: Value,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
}

impl From<AuditRow> for EventView {
    fn from(row: AuditRow) -> Self {
        EventView {
            id: row.id,
            occurred_at: crate::scim::resource::format_datetime(row.occurred_at),
            actor_type: row.actor_type,
            actor_id: row.actor_id,
            actor_label: row.actor_label,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            summary: serde_json::from_str(&row.summary).unwrap_or(Value::Null),
            request_id: row.request_id,
            client_address: row.client_address,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub next_cursor: Option<String>,
}

/// What `GET /api/v1/audit-events` asks for.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    pub cursor: Option<String>,
    pub limit: Option<u64>,
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub actor: Option<String>,
    /// RFC 3339; events at or after it.
    pub since: Option<String>,
    /// RFC 3339; events before it.
    pub until: Option<String>,
}

fn time_bound(name: &str, raw: Option<&str>) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => crate::scim::resource::parse_datetime(r)
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid_value(format!(
                    "{name} must be an RFC 3339 time such as 2026-11-22T09:00:00Z, not {}",
                    crate::scim::quoted(r)
                ))
            }),
    }
}

pub const MAX_EVENTS_PAGE: u64 = 500;

/// Newest first; the cursor is the id of the last event of the previous page.
pub async fn list(state: &AppState, scope: &OrgScope, query: EventQuery) -> AppResult<EventPage> {
    let limit = page_limit(query.limit, 100, MAX_EVENTS_PAGE)?;
    let before_id = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            AppError::invalid_value(format!(
                "cursor {} is not one this API handed out",
                crate::scim::quoted(c)
            ))
        })?),
    };
    let since = time_bound("since", query.since.as_deref())?;
    let until = time_bound("until", query.until.as_deref())?;
    flush_before_reading(state, &scope.org_id).await?;
    let filter = store::audit::EventFilter {
        since,
        until,
        action: search_text("action", query.action)?,
        target_id: search_text("target_id", query.target_id)?,
        actor_id: search_text("actor", query.actor)?,
        before_id,
    };
    let mut rows = store::audit::list(&state.db.read, &scope.org_id, &filter, limit + 1).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(EventPage {
        events: rows.into_iter().map(EventView::from).collect(),
        next_cursor,
    })
}

/// A text parameter of a listing (`query`, `action`...), without
/// surrounding space, `None` when empty; 400 when longer than a filter value
/// may be (it is compared with identifiers no longer than that, and a long
/// LIKE pattern is one SQLite refuses to run).
pub fn search_text(name: &str, value: Option<String>) -> AppResult<Option<String>> {
    use crate::scim::filter::MAX_VALUE_BYTES;
    let Some(text) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if text.len() > MAX_VALUE_BYTES {
        return Err(AppError::invalid_value(format!(
            "{name} is {} bytes long; it may be at most {MAX_VALUE_BYTES} bytes",
            text.len()
        )));
    }
    Ok(Some(text))
}

/// A page size from `limit`: `default` when absent, 400 outside 1..=`max`.
pub fn page_limit(limit: Option<u64>, default: u64, max: u64) -> AppResult<u64> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(AppError::invalid_value(format!(
            "limit must be between 1 and {max}, not {n}"
        ))),
    }
}

/// The SCIM token (its label) that last provisioned each of these accounts:
/// "managed by Okta production" on the dashboard's list.
pub async fn scim_managers(
    state: &AppState,
    scope: &OrgScope,
    account_ids: &[String],
) -> AppResult<std::collections::HashMap<String, String>> {
    Ok(
        store::audit::latest_actor_labels(&state.db.read, &scope.org_id, account_ids, "scim_token")
            .await?,
    )
}
