//! The product events feed: what changed, for products to follow
//! (`GET /api/v1/events`), written as a transactional outbox.
//!
//! Writing: every change that records an audit row also records its product
//! events through [`record_for_audit`], in the same transaction, so a
//! rolled-back change leaves no event and no committed change lacks one.
//! [`plan`] maps an audit action to the event types it means.
//!
//! Ordering without gaps: a row is written with no position. Positions are
//! handed out after commit by a sequencer ([`sequence`]) that takes the
//! organisation's head row lock, gives the committed rows without a position
//! the next numbers in insertion order and commits. A transaction still
//! open is invisible to the sequencer, so its rows get higher positions
//! once it commits: positions become visible in increasing order, and a
//! reader at the head (`position > cursor`) can never skip a row that
//! commits a moment later with an earlier number (the classic outbox gap of
//! numbering at insert time on PostgreSQL). Writers are not serialised:
//! they only insert; the sequencers of one organisation queue on one row.
//! On SQLite the single write connection serialises everything anyway.
//!
//! Reading: a reader runs the sequencer when rows wait, then pages by
//! position. `wait=` polls the cheap "anything new?" query every
//! `WAIT_POLL` until an event arrives or the wait ends, which also sees
//! events committed by other instances on the same database.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Actor, AppState, OrgScope};
use crate::error::{AppError, AppResult};
use crate::store::{self, Db, events::TypeFilter};

/// The longest `wait=` a request may ask for, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 30;
/// How often a waiting request looks for new events.
pub const WAIT_POLL: Duration = Duration::from_millis(250);
/// The most events one page carries.
pub const MAX_PAGE: u64 = 1000;
/// The most member ids one `group.members_*` event carries.
pub const MEMBERS_PER_EVENT: usize = 1000;
/// Rows one sequencer transaction positions.
const SEQUENCE_BATCH: u64 = 5000;
/// How often the retention task runs.
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Whose record an event needs in `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Account,
    Group,
    None,
}

/// One product event an audit action means.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub event_type: &'static str,
    pub subject: Subject,
    /// `data` besides the subject's record.
    pub data: Map<String, Value>,
}

fn planned(event_type: &'static str, subject: Subject, data: Value) -> Planned {
    Planned {
        event_type,
        subject,
        data: match data {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    }
}

/// The product events an audit action means (none for most `auth.*`).
pub fn plan(action: &str, target_id: Option<&str>, summary: &Value) -> Vec<Planned> {
    let field = |name: &str| summary.get(name).cloned().unwrap_or(Value::Null);
    let account = |event_type, data| vec![planned(event_type, Subject::Account, data)];
    match action {
        "account.created" => account("account.created", json!({})),
        "account.deactivated" => account("account.deactivated", json!({})),
        "account.reactivated" => account("account.reactivated", json!({})),
        "account.deleted" => account("account.deleted", json!({})),
        "account.updated" => {
            let changed = summary
                .get("changed")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut out = Vec::new();
            if !changed.is_empty() {
                out.push(planned(
                    "account.updated",
                    Subject::Account,
                    json!({"changed": changed}),
                ));
            }
            if summary.get("password_set") == Some(&Value::Bool(true)) {
                out.push(planned("account.password_set", Subject::Account, json!({})));
            }
            out
        }
        "account.adopted" => account("account.updated", json!({"changed": ["source"]})),
        "account.break_glass_changed" => {
            account("account.updated", json!({"changed": ["break_glass"]}))
        }
        "account.external_user_id_changed" => {
            account("account.updated", json!({"changed": ["external_user_id"]}))
        }
        "account.auth_mode_changed" => account(
            "account.auth_mode_changed",
            json!({"from": field("from"), "to": field("to")}),
        ),
        "account.password_set" => account("account.password_set", json!({})),
        "account.org_role_changed" => account(
            "account.org_role_changed",
            json!({"from": field("from"), "to": field("to")}),
        ),
        // The account itself was written by `account.created`; its workspace
        // role (when the connection gives one) was not.
        "account.jit_provisioned" => match summary.get("workspace_id") {
            Some(Value::String(_)) => account(
                "workspace.member_added",
                json!({"workspace_id": field("workspace_id"), "role": field("role")}),
            ),
            _ => Vec::new(),
        },
        "group.created" => vec![planned("group.created", Subject::Group, json!({}))],
        "group.deleted" => vec![planned("group.deleted", Subject::Group, json!({}))],
        "group.updated" => match summary.get("changed").and_then(Value::as_array) {
            // Membership alone is told by `group.members_*`.
            Some(changed) if !changed.is_empty() => vec![planned(
                "group.updated",
                Subject::Group,
                json!({"changed": changed}),
            )],
            _ => Vec::new(),
        },
        "workspace.member_set" => {
            let workspace = json!({"workspace_id": field("workspace_id"), "role": field("role")});
            match summary.get("previous_role") {
                None | Some(Value::Null) => account("workspace.member_added", workspace),
                Some(previous) if *previous != field("role") => {
                    let mut data = workspace;
                    data["previous_role"] = previous.clone();
                    account("workspace.member_role_changed", data)
                }
                Some(_) => Vec::new(),
            }
        }
        "workspace.member_removed" => account(
            "workspace.member_removed",
            json!({"workspace_id": field("workspace_id")}),
        ),
        "identity.linked" | "identity.unlinked" => account(
            if action == "identity.linked" {
                "identity.linked"
            } else {
                "identity.unlinked"
            },
            json!({"identity": {"id": field("link_id"), "issuer": field("issuer"), "subject": field("subject")}}),
        ),
        "auth.sign_in" => account(
            "session.started",
            json!({
                "session_id": field("session_id"),
                "method": field("method"),
                "connection_id": field("connection_id"),
            }),
        ),
        "session.ended" => account(
            "session.ended",
            json!({"session_id": field("session_id"), "reason": field("reason")}),
        ),
        "auth.sign_out" => account(
            "session.ended",
            json!({"session_id": field("session_id"), "reason": "signed_out"}),
        ),
        "connection.created" | "connection.updated" | "connection.deleted" => {
            let event_type = match action {
                "connection.created" => "connection.created",
                "connection.updated" => "connection.updated",
                _ => "connection.deleted",
            };
            let mut connection = match summary.get("after") {
                Some(after) => after.clone(),
                None => summary.clone(),
            };
            if let Some(map) = connection.as_object_mut() {
                map.insert("id".into(), json!(target_id));
            }
            vec![planned(
                event_type,
                Subject::None,
                json!({"connection": connection}),
            )]
        }
        "scim_token.created" | "scim_token.revoked" => vec![planned(
            if action == "scim_token.created" {
                "scim_token.created"
            } else {
                "scim_token.revoked"
            },
            Subject::None,
            json!({"scim_token": {"id": target_id, "label": field("label")}}),
        )],
        "webhook.disabled" => vec![planned(
            "webhook.disabled",
            Subject::None,
            json!({"webhook": {"id": target_id, "url": field("url"), "reason": field("reason")}}),
        )],
        _ => Vec::new(),
    }
}

/// The `actor` of an event: who made the change.
fn actor_json(actor: &Actor) -> Value {
    match actor {
        Actor::ScimToken { id, label } => json!({"type": "scim_token", "id": id, "label": label}),
        Actor::AdminToken { id, label, .. } => {
            json!({"type": "admin_token", "id": id, "label": label})
        }
        Actor::Account { id } => json!({"type": "account", "id": id, "label": null}),
        Actor::Staff { id, user_name, .. } => {
            json!({"type": "account", "id": id, "label": user_name})
        }
        Actor::System => json!({"type": "system", "id": null, "label": null}),
        Actor::Cli => json!({"type": "system", "id": null, "label": "command line"}),
    }
}

/// Records the product events an audit event means, in the caller's
/// transaction (called by `audit::record`).
pub(crate) async fn record_for_audit(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    at: DateTime<Utc>,
    event: &super::audit::Event<'_>,
) -> AppResult<()> {
    for planned in plan(event.action, event.target_id, &event.summary) {
        let mut data = planned.data;
        match (&planned.subject, event.target_id) {
            (Subject::Account, Some(id)) => {
                let account = match super::accounts::view_in(conn, &scope.org_id, id).await? {
                    Some(view) => view,
                    // Deleted in this transaction: what the audit row kept.
                    None => json!({"id": id, "user_name": event.summary.get("user_name")}),
                };
                data.insert("account".into(), account);
            }
            (Subject::Group, Some(id)) => {
                data.insert(
                    "group".into(),
                    group_json(conn, scope, id, &event.summary).await?,
                );
            }
            _ => {}
        }
        append(conn, scope, at, planned.event_type, data).await?;
    }
    Ok(())
}

/// A group as events carry it: id, display name, external id.
async fn group_json(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    id: &str,
    summary: &Value,
) -> AppResult<Value> {
    Ok(match store::groups::find(conn, &scope.org_id, id).await? {
        Some(g) => {
            json!({"id": g.id, "display_name": g.display_name, "external_id": g.external_id})
        }
        // Deleted in this transaction: what the audit row kept.
        None => json!({
            "id": id,
            "display_name": summary.get("display_name"),
            "external_id": summary.get("external_id"),
        }),
    })
}

/// `group.members_added` / `group.members_removed` for one request, at most
/// `MEMBERS_PER_EVENT` ids each, in the caller's transaction.
pub(crate) async fn record_members_changed(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    at: DateTime<Utc>,
    group_id: &str,
    added: &[String],
    removed: &[String],
) -> AppResult<()> {
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    let group = group_json(conn, scope, group_id, &Value::Null).await?;
    for (event_type, ids) in [
        ("group.members_added", added),
        ("group.members_removed", removed),
    ] {
        for chunk in ids.chunks(MEMBERS_PER_EVENT) {
            let mut data = Map::new();
            data.insert("group".into(), group.clone());
            data.insert("member_ids".into(), json!(chunk));
            append(conn, scope, at, event_type, data).await?;
        }
    }
    Ok(())
}

async fn append(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    at: DateTime<Utc>,
    event_type: &str,
    data: Map<String, Value>,
) -> AppResult<()> {
    let org = store::orgs::find(conn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal("the organisation is gone".into()))?;
    let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "id": event_id,
        "type": event_type,
        "occurred_at": crate::scim::resource::format_datetime(at),
        "organization": {"id": org.id, "slug": org.slug},
        "actor": actor_json(&scope.actor),
        "data": data,
    });
    store::events::append(
        conn,
        store::events::NewEvent {
            event_id: &event_id,
            org_id: &scope.org_id,
            event_type,
            occurred_at: at,
            body: body.to_string(),
        },
    )
    .await?;
    Ok(())
}

/// Positions the organisation's committed events that wait for one (see
/// the module comment); how many. Cheap when none wait.
pub async fn sequence(db: &Db, org_id: &str) -> AppResult<u64> {
    let mut total = 0;
    while store::events::has_unsequenced(&db.read, org_id).await? {
        let txn = db.begin().await?;
        let done = store::events::sequence(&txn, org_id, SEQUENCE_BATCH).await?;
        txn.commit().await?;
        total += done;
        if done < SEQUENCE_BATCH {
            break;
        }
    }
    Ok(total)
}

/// What `GET /api/v1/events` asks for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    pub after: Option<String>,
    pub limit: Option<u64>,
    /// Comma-separated; an entry may end with `*` (`account.*`).
    pub types: Option<String>,
    /// Seconds to hold the request open until an event arrives.
    pub wait: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct EventPage {
    pub data: Vec<Value>,
    /// Where to resume from; present at the head too.
    pub next_cursor: String,
}

fn parse_types(raw: Option<&str>) -> AppResult<Vec<TypeFilter>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (name, prefix) = match t.strip_suffix('*') {
                Some(p) => (p, true),
                None => (t, false),
            };
            let valid = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
            if !valid || (!prefix && name.is_empty()) {
                return Err(AppError::invalid_value(format!(
                    "types: {t:?} is not an event type such as account.created or a prefix such as account.*"
                )));
            }
            Ok(if prefix {
                TypeFilter::Prefix(name.to_string())
            } else {
                TypeFilter::Exact(name.to_string())
            })
        })
        .collect()
}

fn parse_cursor(raw: Option<&str>) -> AppResult<Option<i64>> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid_value(format!("after {c:?} is not a cursor this API handed out"))
            }),
    }
}

/// `GET /api/v1/events`: events after the cursor, in commit order.
pub async fn list(state: &AppState, scope: &OrgScope, query: EventQuery) -> AppResult<EventPage> {
    let limit = super::audit::page_limit(query.limit, 100, MAX_PAGE)?;
    let types = parse_types(query.types.as_deref())?;
    let after = parse_cursor(query.after.as_deref())?;
    let wait = match query.wait {
        None => 0,
        Some(w) if w <= MAX_WAIT_SECONDS => w,
        Some(w) => {
            return Err(AppError::invalid_value(format!(
                "wait must be between 0 and {MAX_WAIT_SECONDS} seconds, not {w}"
            )));
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let page = read_page(state, scope, after, &types, limit).await?;
        if !page.data.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(page);
        }
        tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + WAIT_POLL)).await;
    }
}

async fn read_page(
    state: &AppState,
    scope: &OrgScope,
    after: Option<i64>,
    types: &[TypeFilter],
    limit: u64,
) -> AppResult<EventPage> {
    let db = &state.db;
    sequence(db, &scope.org_id).await?;
    // Read before the rows: every position up to it is final, so a short
    // page may resume from it even when the filter kept nothing.
    let head = store::events::head(&db.read, &scope.org_id).await?;
    let oldest = store::events::oldest_position(&db.read, &scope.org_id).await?;
    let after = match after {
        Some(a) if a > head => {
            return Err(AppError::invalid_value(format!(
                "after {a:?} is not a cursor this API handed out"
            )));
        }
        Some(a) => a,
        // From the oldest event kept.
        None => oldest.map_or(head, |o| o - 1),
    };
    if after < head && oldest.is_none_or(|o| o > after + 1) {
        return Err(AppError::Gone(format!(
            "events after cursor {after} are older than the retention ({} days) and were \
             deleted; start again without `after` (from the oldest event kept)",
            state.settings.event_retention_days
        )));
    }
    let rows = store::events::list(&db.read, &scope.org_id, after, types, limit).await?;
    let last = rows.last().and_then(|r| r.position).unwrap_or(after);
    let next = if rows.len() as u64 == limit {
        last
    } else {
        last.max(head)
    };
    let data = rows
        .into_iter()
        .map(|r| serde_json::from_str(&r.body).unwrap_or(Value::Null))
        .collect();
    Ok(EventPage {
        data,
        next_cursor: next.to_string(),
    })
}

/// Deletes the events older than the retention (sequencing waiting ones
/// first, so none disappears unseen); how many.
pub async fn apply_retention(db: &Db, now: DateTime<Utc>, days: u32) -> AppResult<u64> {
    for org_id in store::events::orgs_with_unsequenced(&db.read).await? {
        sequence(db, &org_id).await?;
    }
    let before = now - TimeDelta::days(i64::from(days));
    let txn = db.begin().await?;
    let deleted = store::events::delete_before(&txn, before).await?;
    txn.commit().await?;
    Ok(deleted)
}

/// Applies the retention every `RETENTION_EVERY` for as long as the server runs.
pub async fn maintain(db: Db, settings: std::sync::Arc<crate::settings::Settings>) {
    loop {
        match apply_retention(&db, settings.clock.now(), settings.event_retention_days).await {
            Ok(0) => {}
            Ok(n) => log::info!("deleted {n} events older than the retention"),
            Err(e) => log::warn!("could not apply the events retention: {e:?}"),
        }
        tokio::time::sleep(RETENTION_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types_of(action: &str, summary: Value) -> Vec<&'static str> {
        plan(action, Some("id"), &summary)
            .into_iter()
            .map(|p| p.event_type)
            .collect()
    }

    #[test]
    fn audit_actions_map_to_event_types() {
        let cases: &[(&str, Value, &[&str])] = &[
            ("account.created", json!({}), &["account.created"]),
            (
                "account.updated",
                json!({"changed": ["displayName"]}),
                &["account.updated"],
            ),
            ("account.updated", json!({"changed": []}), &[]),
            (
                "account.updated",
                json!({"changed": [], "password_set": true}),
                &["account.password_set"],
            ),
            ("account.deactivated", json!({}), &["account.deactivated"]),
            ("account.deleted", json!({}), &["account.deleted"]),
            ("group.updated", json!({"changed": []}), &[]),
            (
                "group.updated",
                json!({"changed": ["displayName"]}),
                &["group.updated"],
            ),
            (
                "workspace.member_set",
                json!({"role": "member", "previous_role": null}),
                &["workspace.member_added"],
            ),
            (
                "workspace.member_set",
                json!({"role": "admin", "previous_role": "member"}),
                &["workspace.member_role_changed"],
            ),
            (
                "workspace.member_set",
                json!({"role": "admin", "previous_role": "admin"}),
                &[],
            ),
            (
                "auth.sign_in",
                json!({"method": "saml"}),
                &["session.started"],
            ),
            ("auth.sign_out", json!({}), &["session.ended"]),
            ("auth.sign_in_failed", json!({}), &[]),
            ("org.settings_changed", json!({}), &[]),
            ("scim_token.revoked", json!({}), &["scim_token.revoked"]),
        ];
        for (action, summary, want) in cases {
            assert_eq!(
                types_of(action, summary.clone()),
                *want,
                "{action} {summary}"
            );
        }
    }

    #[test]
    fn types_filter_takes_names_and_prefixes_only() {
        assert_eq!(
            parse_types(Some("account.*, group.created")).ok(),
            Some(vec![
                TypeFilter::Prefix("account.".into()),
                TypeFilter::Exact("group.created".into())
            ])
        );
        for bad in ["account%", "a b", "*x", "Account.created"] {
            assert!(parse_types(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_cursor(Some("-1")).is_err());
        assert!(parse_cursor(Some("abc")).is_err());
        assert_eq!(parse_cursor(Some("12")).ok(), Some(Some(12)));
    }
}
