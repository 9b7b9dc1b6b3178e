//! SCIM bearer tokens, stored as hashes.

use chrono::{DateTime, Utc};
use entity::scim_token;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use entity::scim_token::Model as TokenRow;

pub async fn insert(
    conn: &impl ConnectionTrait,
    org_id: &str,
    label: &str,
    token_hash: &str,
) -> Result<TokenRow, DbErr> {
    scim_token::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(org_id.to_string()),
        label: Set(label.to_string()),
        token_hash: Set(token_hash.to_string()),
        created_at: Set(super::now_ms()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await
}

/// The unrevoked token with this hash, if any.
pub async fn find_active_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<TokenRow>, DbErr> {
    scim_token::Entity::find()
        .filter(scim_token::Column::TokenHash.eq(token_hash))
        .filter(scim_token::Column::RevokedAt.is_null())
        .one(conn)
        .await
}

pub async fn list_for_org(
    conn: &impl ConnectionTrait,
    org_id: &str,
) -> Result<Vec<TokenRow>, DbErr> {
    scim_token::Entity::find()
        .filter(scim_token::Column::OrgId.eq(org_id))
        .order_by_asc(scim_token::Column::CreatedAt)
        .all(conn)
        .await
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<TokenRow>, DbErr> {
    scim_token::Entity::find_by_id(id.to_string())
        .one(conn)
        .await
}

/// Marks a token revoked; returns whether one was.
pub async fn revoke(conn: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let result = scim_token::Entity::update_many()
        .col_expr(scim_token::Column::RevokedAt, Expr::value(super::now_ms()))
        .filter(scim_token::Column::Id.eq(id))
        .filter(scim_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

pub async fn touch(conn: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    scim_token::Entity::update_many()
        .col_expr(scim_token::Column::LastUsedAt, Expr::value(at))
        .filter(scim_token::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
