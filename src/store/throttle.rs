//! Sign-in attempts, counted per key in a sliding window. Kept in the
//! database so every instance behind a load balancer counts the same.
//!
//! An attempt is counted *before* its password is checked, under a lock on
//! its key (`reserve`), so concurrent guesses cannot all pass a check made
//! before any of them was recorded. A refused attempt writes nothing, so a
//! flood of them cannot grow the table.

use chrono::{DateTime, Utc};
use entity::sign_in_failure;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

/// What `reserve` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Counted; the row's id, to release it if the attempt succeeds.
    Counted(i64),
    /// The key has `limit` attempts in the window; the oldest of them.
    Full { oldest: Option<DateTime<Utc>> },
}

/// Counts one attempt for `key` unless it already has `limit` since `since`.
/// Call it in a write transaction: the key's lock holds until it ends.
pub async fn reserve(
    conn: &impl ConnectionTrait,
    key: &str,
    limit: u64,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<Reservation, DbErr> {
    super::advisory_lock(conn, &format!("scimlink.throttle:{key}")).await?;
    let (count, oldest) = recent(conn, key, since).await?;
    if count >= limit {
        return Ok(Reservation::Full { oldest });
    }
    let row = sign_in_failure::ActiveModel {
        key: Set(key.to_string()),
        at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(Reservation::Counted(row.id))
}

/// Gives back one counted attempt (it succeeded).
pub async fn release(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    sign_in_failure::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// How many attempts `key` has since `since`, and the oldest of them.
async fn recent(
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

/// Forgets the attempts of `key` (after a successful sign-in) and any older than `before`.
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
