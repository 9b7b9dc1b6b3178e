//! Bearer tokens, stored as hashes: SCIM tokens (an IdP's) and admin tokens
//! (the admin API's). One implementation of lookup, listing, revocation and
//! use-recording serves both tables.

use chrono::{DateTime, Utc};
use entity::{admin_token, scim_token};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use entity::admin_token::Model as AdminTokenRow;
pub use entity::scim_token::Model as TokenRow;

/// A table of bearer tokens.
pub trait TokenTable: EntityTrait<Model: Sync + Send> {
    const ID: Self::Column;
    const ORG: Self::Column;
    const HASH: Self::Column;
    const CREATED: Self::Column;
    const LAST_USED: Self::Column;
    const REVOKED: Self::Column;
    fn token_hash(row: &Self::Model) -> &str;
    fn last_used_at(row: &Self::Model) -> Option<DateTime<Utc>>;
    fn id(row: &Self::Model) -> &str;
}

impl TokenTable for scim_token::Entity {
    const ID: scim_token::Column = scim_token::Column::Id;
    const ORG: scim_token::Column = scim_token::Column::OrgId;
    const HASH: scim_token::Column = scim_token::Column::TokenHash;
    const CREATED: scim_token::Column = scim_token::Column::CreatedAt;
    const LAST_USED: scim_token::Column = scim_token::Column::LastUsedAt;
    const REVOKED: scim_token::Column = scim_token::Column::RevokedAt;
    fn token_hash(row: &TokenRow) -> &str {
        &row.token_hash
    }
    fn last_used_at(row: &TokenRow) -> Option<DateTime<Utc>> {
        row.last_used_at
    }
    fn id(row: &TokenRow) -> &str {
        &row.id
    }
}

impl TokenTable for admin_token::Entity {
    const ID: admin_token::Column = admin_token::Column::Id;
    const ORG: admin_token::Column = admin_token::Column::OrgId;
    const HASH: admin_token::Column = admin_token::Column::TokenHash;
    const CREATED: admin_token::Column = admin_token::Column::CreatedAt;
    const LAST_USED: admin_token::Column = admin_token::Column::LastUsedAt;
    const REVOKED: admin_token::Column = admin_token::Column::RevokedAt;
    fn token_hash(row: &AdminTokenRow) -> &str {
        &row.token_hash
    }
    fn last_used_at(row: &AdminTokenRow) -> Option<DateTime<Utc>> {
        row.last_used_at
    }
    fn id(row: &AdminTokenRow) -> &str {
        &row.id
    }
}

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

pub async fn insert_admin(
    conn: &impl ConnectionTrait,
    org_id: &str,
    label: &str,
    role: &str,
    token_hash: &str,
) -> Result<AdminTokenRow, DbErr> {
    admin_token::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(org_id.to_string()),
        label: Set(label.to_string()),
        role: Set(role.to_string()),
        token_hash: Set(token_hash.to_string()),
        created_at: Set(super::now_ms()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await
}

/// The unrevoked token with this hash, if any.
pub async fn find_active_by_hash<T: TokenTable>(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<T::Model>, DbErr> {
    T::find()
        .filter(T::HASH.eq(token_hash))
        .filter(T::REVOKED.is_null())
        .one(conn)
        .await
}

pub async fn list_for_org<T: TokenTable>(
    conn: &impl ConnectionTrait,
    org_id: &str,
) -> Result<Vec<T::Model>, DbErr> {
    T::find()
        .filter(T::ORG.eq(org_id))
        .order_by_asc(T::CREATED)
        .all(conn)
        .await
}

/// A token by id, within `org_id` when given (the CLI acts across organisations).
pub async fn find<T: TokenTable>(
    conn: &impl ConnectionTrait,
    org_id: Option<&str>,
    id: &str,
) -> Result<Option<T::Model>, DbErr> {
    let mut query = T::find().filter(T::ID.eq(id));
    if let Some(org) = org_id {
        query = query.filter(T::ORG.eq(org));
    }
    query.one(conn).await
}

/// Marks a token revoked; returns whether one was.
pub async fn revoke<T: TokenTable>(
    conn: &impl ConnectionTrait,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = T::update_many()
        .col_expr(T::REVOKED, Expr::value(at))
        .filter(T::ID.eq(id))
        .filter(T::REVOKED.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

pub async fn touch<T: TokenTable>(
    conn: &impl ConnectionTrait,
    id: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    T::update_many()
        .col_expr(T::LAST_USED, Expr::value(at))
        .filter(T::ID.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
