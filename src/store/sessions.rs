//! Sessions (tokens stored hashed) and password reset links (likewise).

use chrono::{DateTime, Utc};
use entity::{password_reset, session};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use entity::password_reset::Model as ResetRow;
pub use entity::session::Model as SessionRow;

pub struct NewSession<'a> {
    pub org_id: &'a str,
    pub account_id: &'a str,
    pub token_hash: &'a str,
    pub method: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<&'a str>,
}

pub async fn insert(conn: &impl ConnectionTrait, new: NewSession<'_>) -> Result<SessionRow, DbErr> {
    session::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(new.org_id.to_string()),
        account_id: Set(new.account_id.to_string()),
        token_hash: Set(new.token_hash.to_string()),
        method: Set(new.method.to_string()),
        created_at: Set(new.now),
        expires_at: Set(new.expires_at),
        last_seen_at: Set(new.now),
        ended_at: Set(None),
        end_reason: Set(None),
        client_address: Set(new.client_address.map(str::to_string)),
    }
    .insert(conn)
    .await
}

/// The session with this token hash that has not ended.
pub async fn find_live_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<SessionRow>, DbErr> {
    session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::EndedAt.is_null())
        .one(conn)
        .await
}

pub async fn touch(conn: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(at))
        .filter(session::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends one session; returns whether it was live.
pub async fn end(
    conn: &impl ConnectionTrait,
    id: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::EndedAt, Expr::value(at))
        .col_expr(session::Column::EndReason, Expr::value(reason))
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::EndedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Ends the live session whose token has this hash; the session, if it was live.
pub async fn end_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<Option<SessionRow>, DbErr> {
    let Some(row) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::EndedAt.is_null())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(end(conn, &row.id, reason, at).await?.then_some(row))
}

/// Ends every live session of these accounts (all of them, or only those
/// opened with `method`), except `keep`; returns how many ended.
pub async fn end_for_accounts(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_ids: &[String],
    method: Option<&str>,
    keep: Option<&str>,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut ended = 0;
    for chunk in account_ids.chunks(500) {
        let mut query = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(at))
            .col_expr(session::Column::EndReason, Expr::value(reason))
            .filter(session::Column::OrgId.eq(org_id))
            .filter(session::Column::AccountId.is_in(chunk.iter().map(String::as_str)))
            .filter(session::Column::EndedAt.is_null());
        if let Some(method) = method {
            query = query.filter(session::Column::Method.eq(method));
        }
        if let Some(keep) = keep {
            query = query.filter(session::Column::Id.ne(keep));
        }
        ended += query.exec(conn).await?.rows_affected;
    }
    Ok(ended)
}

/// Live sessions of one account, newest first.
pub async fn live_for_account(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
) -> Result<Vec<SessionRow>, DbErr> {
    session::Entity::find()
        .filter(session::Column::OrgId.eq(org_id))
        .filter(session::Column::AccountId.eq(account_id))
        .filter(session::Column::EndedAt.is_null())
        .order_by_desc(session::Column::CreatedAt)
        .all(conn)
        .await
}

pub struct NewReset<'a> {
    pub org_id: &'a str,
    pub account_id: &'a str,
    pub token_hash: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_reset(
    conn: &impl ConnectionTrait,
    new: NewReset<'_>,
) -> Result<ResetRow, DbErr> {
    password_reset::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(new.org_id.to_string()),
        account_id: Set(new.account_id.to_string()),
        token_hash: Set(new.token_hash.to_string()),
        created_at: Set(new.now),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
    }
    .insert(conn)
    .await
}

pub async fn find_reset_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<ResetRow>, DbErr> {
    password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await
}

/// Consumes a link; false if it was used already (a lost race).
pub async fn mark_reset_used(
    conn: &impl ConnectionTrait,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(at))
        .filter(password_reset::Column::Id.eq(id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Deletes the unused links of these accounts; returns their ids.
pub async fn delete_unused_resets(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_ids: &[String],
) -> Result<Vec<String>, DbErr> {
    let mut deleted = Vec::new();
    for chunk in account_ids.chunks(500) {
        let scope = || {
            sea_orm::Condition::all()
                .add(password_reset::Column::OrgId.eq(org_id))
                .add(password_reset::Column::AccountId.is_in(chunk.iter().map(String::as_str)))
                .add(password_reset::Column::UsedAt.is_null())
        };
        let ids: Vec<String> = password_reset::Entity::find()
            .filter(scope())
            .all(conn)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        password_reset::Entity::delete_many()
            .filter(scope())
            .exec(conn)
            .await?;
        deleted.extend(ids);
    }
    Ok(deleted)
}

pub async fn resets_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<ResetRow>, DbErr> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            password_reset::Entity::find()
                .filter(password_reset::Column::Id.is_in(chunk.iter().map(String::as_str)))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}
