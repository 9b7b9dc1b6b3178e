//! Browsers known to an account: each signed in to it with a password once.
//! The device cookie is stored as its SHA-256 only.

use chrono::{DateTime, Utc};
use entity::known_device;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Expr,
};

/// Whether this browser has signed in to this account before.
pub async fn is_known(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
    token_hash: &str,
) -> Result<bool, DbErr> {
    Ok(known_device::Entity::find()
        .filter(known_device::Column::OrgId.eq(org_id))
        .filter(known_device::Column::AccountId.eq(account_id))
        .filter(known_device::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?
        .is_some())
}

/// Remembers (or refreshes) this browser for this account, keeping the
/// account's `keep` most recently used browsers.
pub async fn remember(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
    token_hash: &str,
    now: DateTime<Utc>,
    keep: u64,
) -> Result<(), DbErr> {
    let touched = known_device::Entity::update_many()
        .col_expr(known_device::Column::LastUsedAt, Expr::value(now))
        .filter(known_device::Column::AccountId.eq(account_id))
        .filter(known_device::Column::TokenHash.eq(token_hash))
        .exec(conn)
        .await?;
    if touched.rows_affected == 0 {
        known_device::ActiveModel {
            token_hash: Set(token_hash.to_string()),
            account_id: Set(account_id.to_string()),
            org_id: Set(org_id.to_string()),
            created_at: Set(now),
            last_used_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    let stale: Vec<String> = known_device::Entity::find()
        .select_only()
        .column(known_device::Column::TokenHash)
        .filter(known_device::Column::AccountId.eq(account_id))
        .order_by_desc(known_device::Column::LastUsedAt)
        .offset(keep)
        // SQLite takes OFFSET only after a LIMIT.
        .limit(10_000)
        .into_tuple()
        .all(conn)
        .await?;
    if !stale.is_empty() {
        known_device::Entity::delete_many()
            .filter(known_device::Column::AccountId.eq(account_id))
            .filter(known_device::Column::TokenHash.is_in(stale))
            .exec(conn)
            .await?;
    }
    Ok(())
}
