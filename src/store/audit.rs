//! The audit log: append-only rows (the database refuses UPDATE and DELETE).

use chrono::{DateTime, Utc};
use entity::audit_event;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use entity::audit_event::Model as AuditRow;

use super::{LikeAt, like};

/// One event to append.
pub struct NewEvent<'a> {
    pub org_id: &'a str,
    pub at: DateTime<Utc>,
    pub actor_type: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_label: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub summary: String,
    pub request_id: Option<&'a str>,
    pub client_address: Option<&'a str>,
}

pub async fn append(conn: &impl ConnectionTrait, event: NewEvent<'_>) -> Result<(), DbErr> {
    let owned = |v: Option<&str>| v.map(str::to_string);
    audit_event::ActiveModel {
        org_id: Set(event.org_id.to_string()),
        occurred_at: Set(event.at),
        actor_type: Set(event.actor_type.to_string()),
        actor_id: Set(owned(event.actor_id)),
        actor_label: Set(owned(event.actor_label)),
        action: Set(event.action.to_string()),
        target_type: Set(event.target_type.to_string()),
        target_id: Set(owned(event.target_id)),
        summary: Set(event.summary),
        request_id: Set(owned(event.request_id)),
        client_address: Set(owned(event.client_address)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// What a listing narrows to.
#[derive(Debug, Default)]
pub struct EventFilter {
    /// Exact action, or a prefix when it ends with `*` (`scim.user.*`).
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub actor_id: Option<String>,
    /// Only events older than this id (the cursor).
    pub before_id: Option<i64>,
    /// Only events at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events before this time.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// Newest first, at most `limit`.
pub async fn list(
    conn: &impl ConnectionTrait,
    org_id: &str,
    filter: &EventFilter,
    limit: u64,
) -> Result<Vec<AuditRow>, DbErr> {
    let mut query = audit_event::Entity::find().filter(audit_event::Column::OrgId.eq(org_id));
    if let Some(action) = &filter.action {
        query = match action.strip_suffix('*') {
            Some(prefix) => query.filter(like(
                Expr::col(audit_event::Column::Action),
                LikeAt::Start,
                prefix,
            )),
            None => query.filter(audit_event::Column::Action.eq(action.as_str())),
        };
    }
    if let Some(target) = &filter.target_id {
        query = query.filter(audit_event::Column::TargetId.eq(target.as_str()));
    }
    if let Some(actor) = &filter.actor_id {
        query = query.filter(audit_event::Column::ActorId.eq(actor.as_str()));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_event::Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_event::Column::OccurredAt.lt(until));
    }
    query
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// For each of `target_ids`, the label of the newest actor of `actor_type`
/// that acted on it (the SCIM token that provisions an account).
pub async fn latest_actor_labels(
    conn: &impl ConnectionTrait,
    org_id: &str,
    target_ids: &[String],
    actor_type: &str,
) -> Result<std::collections::HashMap<String, String>, DbErr> {
    let mut labels = std::collections::HashMap::new();
    if target_ids.is_empty() {
        return Ok(labels);
    }
    let rows: Vec<(Option<String>, Option<String>)> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::TargetId)
        .column(audit_event::Column::ActorLabel)
        .filter(audit_event::Column::OrgId.eq(org_id))
        .filter(audit_event::Column::ActorType.eq(actor_type))
        .filter(audit_event::Column::TargetId.is_in(target_ids.iter().map(String::as_str)))
        .order_by_asc(audit_event::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    for (target, label) in rows {
        if let (Some(target), Some(label)) = (target, label) {
            labels.insert(target, label);
        }
    }
    Ok(labels)
}

/// Counts one refused sign-in from `address` in the window starting at
/// `window_start`, and answers how many the window has now.
pub async fn count_refusal(
    conn: &impl ConnectionTrait,
    org_id: &str,
    address: &str,
    window_start: DateTime<Utc>,
) -> Result<i64, DbErr> {
    use entity::audit_suppression as s;
    super::advisory_lock(conn, &format!("scimlink.audit_budget:{org_id}:{address}")).await?;
    let existing = s::Entity::find_by_id((org_id.to_string(), address.to_string(), window_start))
        .one(conn)
        .await?;
    let count = existing.as_ref().map_or(0, |r| r.count) + 1;
    let mut row = match existing {
        Some(r) => s::ActiveModel::from(r),
        None => s::ActiveModel {
            org_id: Set(org_id.to_string()),
            client_address: Set(address.to_string()),
            window_start: Set(window_start),
            count: Set(0),
        },
    };
    row.count = Set(count);
    if count == 1 {
        row.insert(conn).await?;
    } else {
        row.update(conn).await?;
    }
    Ok(count)
}

/// The organisation's refusal counters of windows that started before `before`.
pub async fn ended_refusal_windows(
    conn: &impl ConnectionTrait,
    org_id: &str,
    before: DateTime<Utc>,
) -> Result<Vec<entity::audit_suppression::Model>, DbErr> {
    use entity::audit_suppression as s;
    s::Entity::find()
        .filter(s::Column::OrgId.eq(org_id))
        .filter(s::Column::WindowStart.lt(before))
        .all(conn)
        .await
}

/// Removes one refusal counter; whether this call removed it (of two
/// flushes racing, only one writes the window's summary).
pub async fn take_refusal_window(
    conn: &impl ConnectionTrait,
    row: &entity::audit_suppression::Model,
) -> Result<bool, DbErr> {
    use entity::audit_suppression as s;
    let deleted = s::Entity::delete_many()
        .filter(s::Column::OrgId.eq(row.org_id.as_str()))
        .filter(s::Column::ClientAddress.eq(row.client_address.as_str()))
        .filter(s::Column::WindowStart.eq(row.window_start))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected == 1)
}
