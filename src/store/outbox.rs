//! The mail outbox: every message scimlink sends or would have sent.

use chrono::{DateTime, Utc};
use entity::outbox_message;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use entity::outbox_message::Model as OutboxRow;

pub struct NewMessage<'a> {
    pub org_id: &'a str,
    pub account_id: &'a str,
    pub reset_id: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &impl ConnectionTrait, new: NewMessage<'_>) -> Result<OutboxRow, DbErr> {
    outbox_message::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(new.org_id.to_string()),
        account_id: Set(new.account_id.to_string()),
        reset_id: Set(new.reset_id.map(str::to_string)),
        recipient: Set(new.recipient.map(str::to_string)),
        subject: Set(new.subject.to_string()),
        body: Set(new.body.to_string()),
        status: Set("not_sent".into()),
        error: Set(None),
        created_at: Set(new.now),
    }
    .insert(conn)
    .await
}

pub async fn set_status(
    conn: &impl ConnectionTrait,
    id: &str,
    status: &str,
    error: Option<&str>,
) -> Result<(), DbErr> {
    outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::Status, Expr::value(status))
        .col_expr(
            outbox_message::Column::Error,
            Expr::value(error.map(str::to_string)),
        )
        .filter(outbox_message::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Replaces the body of the messages that carry these reset links: once a
/// link is used, replaced or purged, the outbox no longer holds it.
pub async fn redact_resets(
    conn: &impl ConnectionTrait,
    reset_ids: &[String],
    body: &str,
) -> Result<(), DbErr> {
    for chunk in reset_ids.chunks(500) {
        outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::Body, Expr::value(body))
            .filter(outbox_message::Column::ResetId.is_in(chunk.iter().map(String::as_str)))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Newest first, at most `limit`.
pub async fn list(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: Option<&str>,
    limit: u64,
) -> Result<Vec<OutboxRow>, DbErr> {
    let mut query = outbox_message::Entity::find().filter(outbox_message::Column::OrgId.eq(org_id));
    if let Some(account) = account_id {
        query = query.filter(outbox_message::Column::AccountId.eq(account));
    }
    query
        .order_by_desc(outbox_message::Column::CreatedAt)
        .order_by_desc(outbox_message::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}
