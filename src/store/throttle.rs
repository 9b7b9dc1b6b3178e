//! Failed sign-in attempts, counted per key in a sliding window. Kept in the
//! database so every instance behind a load balancer counts the same.

use chrono::{DateTime, Utc};
use entity::sign_in_failure;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

pub async fn record(
    conn: &impl ConnectionTrait,
    key: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    sign_in_failure::ActiveModel {
        key: Set(key.to_string()),
        at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// How many failures `key` has since `since`, and the oldest of them.
pub async fn recent(
    conn: &impl ConnectionTrait,
    key: &str,
    since: DateTime<Utc>,
) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
    let query = || {
        sign_in_failure::Entity::find()
            .filter(sign_in_failure::Column::Key.eq(key))
            .filter(sign_in_failure::Column::At.gt(since))
    };
    let count = query().count(conn).await?;
    if count == 0 {
        return Ok((0, None));
    }
    let oldest = query()
        .order_by_asc(sign_in_failure::Column::At)
        .one(conn)
        .await?
        .map(|r| r.at);
    Ok((count, oldest))
}

/// Forgets the failures of `key` (after a successful sign-in) and any older than `before`.
pub async fn clear(
    conn: &impl ConnectionTrait,
    key: &str,
    before: DateTime<Utc>,
) -> Result<(), DbErr> {
    sign_in_failure::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(sign_in_failure::Column::Key.eq(key))
                .add(sign_in_failure::Column::At.lt(before)),
        )
        .exec(conn)
        .await?;
    Ok(())
}
