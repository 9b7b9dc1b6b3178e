//! Webhooks and their deliveries: endpoints per organisation, delivery rows
//! created from the events feed, and the leased claim the delivery worker
//! takes them with.

use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
    sea_query::{LockBehavior, LockType},
};

pub use entity::webhook::Model as WebhookRow;
pub use entity::webhook_delivery::Model as DeliveryRow;

pub async fn insert(conn: &impl ConnectionTrait, row: WebhookRow) -> Result<WebhookRow, DbErr> {
    webhook::ActiveModel {
        id: Set(row.id),
        org_id: Set(row.org_id),
        url: Set(row.url),
        description: Set(row.description),
        event_types: Set(row.event_types),
        enabled: Set(row.enabled),
        secret: Set(row.secret),
        previous_secret: Set(row.previous_secret),
        previous_secret_until: Set(row.previous_secret_until),
        cursor: Set(row.cursor),
        failing_since: Set(row.failing_since),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    }
    .insert(conn)
    .await
}

/// Saves every field of a webhook read in this transaction.
pub async fn save(conn: &impl ConnectionTrait, row: WebhookRow) -> Result<(), DbErr> {
    let mut active: webhook::ActiveModel = row.into();
    for column in [
        webhook::Column::Url,
        webhook::Column::Description,
        webhook::Column::EventTypes,
        webhook::Column::Enabled,
        webhook::Column::Secret,
        webhook::Column::PreviousSecret,
        webhook::Column::PreviousSecretUntil,
        webhook::Column::Cursor,
        webhook::Column::FailingSince,
        webhook::Column::UpdatedAt,
    ] {
        active.reset(column);
    }
    active.update(conn).await?;
    Ok(())
}

pub async fn list(conn: &impl ConnectionTrait, org_id: &str) -> Result<Vec<WebhookRow>, DbErr> {
    webhook::Entity::find()
        .filter(webhook::Column::OrgId.eq(org_id))
        .order_by_asc(webhook::Column::CreatedAt)
        .order_by_asc(webhook::Column::Id)
        .all(conn)
        .await
}

/// The organisation's webhook, locked for this transaction's change.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<WebhookRow>, DbErr> {
    webhook::Entity::find_by_id(id.to_string())
        .filter(webhook::Column::OrgId.eq(org_id))
        .lock_exclusive()
        .one(conn)
        .await
}

pub async fn find(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<WebhookRow>, DbErr> {
    webhook::Entity::find_by_id(id.to_string())
        .filter(webhook::Column::OrgId.eq(org_id))
        .one(conn)
        .await
}

pub async fn delete(conn: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    Ok(webhook::Entity::delete_many()
        .filter(webhook::Column::Id.eq(id))
        .filter(webhook::Column::OrgId.eq(org_id))
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

/// Every webhook's stored secrets: (id, previous?, sealed value).
pub async fn secrets(conn: &impl ConnectionTrait) -> Result<Vec<(String, bool, String)>, DbErr> {
    let mut out = Vec::new();
    for row in webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(conn)
        .await?
    {
        if let Some(previous) = row.previous_secret {
            out.push((row.id.clone(), true, previous));
        }
        out.push((row.id, false, row.secret));
    }
    Ok(out)
}

/// Replaces a stored secret if it is still `old`. `true`: replaced.
pub async fn replace_secret(
    conn: &impl ConnectionTrait,
    id: &str,
    previous: bool,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let column = if previous {
        webhook::Column::PreviousSecret
    } else {
        webhook::Column::Secret
    };
    let result = webhook::Entity::update_many()
        .col_expr(column, Expr::value(new))
        .filter(webhook::Column::Id.eq(id))
        .filter(column.eq(old))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The enabled webhooks (every organisation), for the worker: id,
/// organisation id, cursor.
pub async fn enabled_ids(conn: &impl ConnectionTrait) -> Result<Vec<(String, String, i64)>, DbErr> {
    webhook::Entity::find()
        .select_only()
        .column(webhook::Column::Id)
        .column(webhook::Column::OrgId)
        .column(webhook::Column::Cursor)
        .filter(webhook::Column::Enabled.eq(true))
        .into_tuple()
        .all(conn)
        .await
}

/// Enabled webhooks failing since before `before`: (org id, id).
pub async fn failing_before(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<Vec<(String, String)>, DbErr> {
    webhook::Entity::find()
        .select_only()
        .column(webhook::Column::OrgId)
        .column(webhook::Column::Id)
        .filter(webhook::Column::Enabled.eq(true))
        .filter(webhook::Column::FailingSince.lte(before))
        .into_tuple()
        .all(conn)
        .await
}

/// An enabled webhook locked for feeding, or `None` when another instance
/// holds it (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite has one writer).
pub async fn lock_for_feed(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<WebhookRow>, DbErr> {
    webhook::Entity::find_by_id(id.to_string())
        .filter(webhook::Column::Enabled.eq(true))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(conn)
        .await
}

/// One delivery to create from the feed.
pub struct NewDelivery {
    pub webhook_id: String,
    pub org_id: String,
    pub event_id: String,
    pub event_type: String,
    pub position: i64,
    pub subject: Option<String>,
    pub body: String,
    pub now: DateTime<Utc>,
}

/// Creates a delivery unless the webhook has one for the event already.
pub async fn insert_delivery(conn: &impl ConnectionTrait, new: NewDelivery) -> Result<(), DbErr> {
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        webhook_id: Set(new.webhook_id),
        org_id: Set(new.org_id),
        event_id: Set(new.event_id),
        event_type: Set(new.event_type),
        position: Set(new.position),
        subject: Set(new.subject),
        body: Set(new.body),
        status: Set("pending".into()),
        attempts: Set(0),
        last_status: Set(None),
        last_error: Set(None),
        next_attempt_at: Set(new.now),
        lease_until: Set(None),
        lease_token: Set(None),
        created_at: Set(new.now),
        updated_at: Set(new.now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            webhook_delivery::Column::WebhookId,
            webhook_delivery::Column::EventId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Claims up to `limit` due deliveries for `lease_until`, under `token`: a
/// pending row whose time has come, not leased (or its lease expired), of an
/// enabled webhook, and with no earlier pending delivery of the same subject
/// to the same webhook (so one account's or group's events go out one at a
/// time, in order). On PostgreSQL, rows another instance is claiming at the
/// same moment are skipped (`FOR UPDATE SKIP LOCKED`), never taken twice.
pub async fn claim(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: &str,
    limit: u64,
) -> Result<Vec<DeliveryRow>, DbErr> {
    let backend = conn.get_database_backend();
    let (p1, p2, lock) = match backend {
        DbBackend::Postgres => ("$1", "$2", " FOR UPDATE OF d SKIP LOCKED"),
        _ => ("?", "?", ""),
    };
    let sql = format!(
        "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.status = 'pending' AND w.enabled = {p2} AND d.next_attempt_at <= {p1} \
           AND (d.lease_until IS NULL OR d.lease_until <= {p1}) \
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
             WHERE e.webhook_id = d.webhook_id AND e.subject = d.subject \
               AND e.status = 'pending' AND e.id < d.id) \
         ORDER BY d.id LIMIT {limit}{lock}"
    );
    // SQLite binds `?` in order of appearance: enabled, then `now` twice.
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![now.into(), true.into()],
        _ => vec![true.into(), now.into(), now.into()],
    };
    let ids: Vec<i64> = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .iter()
        .filter_map(|row| row.try_get_by_index::<i64>(0).ok())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::LeaseUntil,
            Expr::value(Some(lease_until)),
        )
        .col_expr(
            webhook_delivery::Column::LeaseToken,
            Expr::value(Some(token.to_string())),
        )
        .filter(webhook_delivery::Column::Id.is_in(ids.clone()))
        .exec(conn)
        .await?;
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Id.is_in(ids))
        .order_by_asc(webhook_delivery::Column::Id)
        .all(conn)
        .await
}

/// What one attempt came to.
pub struct Attempted<'a> {
    pub status: &'a str,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// Records an attempt if the lease `token` still holds the row (an
/// instance whose lease expired and was taken over records nothing).
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    id: i64,
    token: &str,
    attempt: Attempted<'_>,
) -> Result<bool, DbErr> {
    let result = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(attempt.status),
        )
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::col(webhook_delivery::Column::Attempts).add(1),
        )
        .col_expr(
            webhook_delivery::Column::LastStatus,
            Expr::value(attempt.last_status),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(attempt.last_error),
        )
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(attempt.next_attempt_at),
        )
        .col_expr(
            webhook_delivery::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_delivery::Column::LeaseToken,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            webhook_delivery::Column::UpdatedAt,
            Expr::value(attempt.now),
        )
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::LeaseToken.eq(token))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Whether the webhook delivered anything since `since`.
pub async fn delivered_since(
    conn: &impl ConnectionTrait,
    webhook_id: &str,
    since: DateTime<Utc>,
) -> Result<bool, DbErr> {
    Ok(webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
        .filter(webhook_delivery::Column::Status.eq("delivered"))
        .filter(webhook_delivery::Column::UpdatedAt.gte(since))
        .limit(1)
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

/// The webhook's deliveries, newest first, at most `limit`.
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    org_id: &str,
    webhook_id: &str,
    limit: u64,
) -> Result<Vec<DeliveryRow>, DbErr> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::OrgId.eq(org_id))
        .filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Forgets the finished deliveries after `after`, so a replay sends them
/// again (pending ones are still on their way).
pub async fn forget_finished_after(
    conn: &impl ConnectionTrait,
    webhook_id: &str,
    after: i64,
) -> Result<u64, DbErr> {
    Ok(webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
        .filter(webhook_delivery::Column::Position.gt(after))
        .filter(webhook_delivery::Column::Status.ne("pending"))
        .exec(conn)
        .await?
        .rows_affected)
}
