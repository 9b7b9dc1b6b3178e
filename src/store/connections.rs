//! SSO connections and the sign-in requests waiting on them.

use chrono::{DateTime, Utc};
use entity::{saml_assertion_id, sso_connection, sso_request};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use entity::sso_connection::Model as ConnectionRow;
pub use entity::sso_request::Model as RequestRow;

pub async fn list(conn: &impl ConnectionTrait, org_id: &str) -> Result<Vec<ConnectionRow>, DbErr> {
    sso_connection::Entity::find()
        .filter(sso_connection::Column::OrgId.eq(org_id))
        .order_by_asc(sso_connection::Column::CreatedAt)
        .order_by_asc(sso_connection::Column::Id)
        .all(conn)
        .await
}

pub async fn find(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<ConnectionRow>, DbErr> {
    sso_connection::Entity::find()
        .filter(sso_connection::Column::OrgId.eq(org_id))
        .filter(sso_connection::Column::Id.eq(id))
        .one(conn)
        .await
}

/// A connection by id alone: the sign-in routes know only the id in the URL,
/// and the connection then names its organisation.
pub async fn find_any(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ConnectionRow>, DbErr> {
    sso_connection::Entity::find_by_id(id.to_string())
        .one(conn)
        .await
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    row: ConnectionRow,
) -> Result<ConnectionRow, DbErr> {
    sso_connection::ActiveModel::from(row)
        .reset_all()
        .insert(conn)
        .await
}

/// Writes every column of `row` (its id and organisation stay).
pub async fn save(conn: &impl ConnectionTrait, row: ConnectionRow) -> Result<ConnectionRow, DbErr> {
    let mut active = sso_connection::ActiveModel::from(row).reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(active.id.take().unwrap_or_default());
    active.update(conn).await
}

pub async fn delete(conn: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    let result = sso_connection::Entity::delete_many()
        .filter(sso_connection::Column::OrgId.eq(org_id))
        .filter(sso_connection::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Every stored OIDC client secret as stored (sealed, or in clear from
/// before sealing), with its connection's id: for sealing them and for a
/// key rotation, which cover the whole server, not one organisation.
pub async fn client_secrets(conn: &impl ConnectionTrait) -> Result<Vec<(String, String)>, DbErr> {
    sso_connection::Entity::find()
        .select_only()
        .column(sso_connection::Column::Id)
        .column(sso_connection::Column::OidcClientSecret)
        .filter(sso_connection::Column::OidcClientSecret.is_not_null())
        .order_by_asc(sso_connection::Column::Id)
        .into_tuple()
        .all(conn)
        .await
}

/// Replaces a connection's stored client secret if it is still `old` (an
/// admin's change since it was read wins). `true`: replaced.
pub async fn replace_client_secret(
    conn: &impl ConnectionTrait,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let result = sso_connection::Entity::update_many()
        .col_expr(
            sso_connection::Column::OidcClientSecret,
            sea_orm::sea_query::Expr::value(new),
        )
        .filter(sso_connection::Column::Id.eq(id))
        .filter(sso_connection::Column::OidcClientSecret.eq(old))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn count_enabled(conn: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    sso_connection::Entity::find()
        .filter(sso_connection::Column::OrgId.eq(org_id))
        .filter(sso_connection::Column::Enabled.eq(true))
        .count(conn)
        .await
}

pub struct NewRequest<'a> {
    pub state_hash: &'a str,
    pub browser_hash: &'a str,
    pub org_id: &'a str,
    pub connection_id: &'a str,
    pub nonce: Option<&'a str>,
    pub pkce_verifier: Option<&'a str>,
    pub return_to: &'a str,
    pub test_by: Option<&'a str>,
    pub client_address: Option<&'a str>,
    pub previous_session_hash: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_request(conn: &impl ConnectionTrait, new: NewRequest<'_>) -> Result<(), DbErr> {
    sso_request::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        state_hash: Set(new.state_hash.to_string()),
        browser_hash: Set(new.browser_hash.to_string()),
        org_id: Set(new.org_id.to_string()),
        connection_id: Set(new.connection_id.to_string()),
        nonce: Set(new.nonce.map(str::to_string)),
        pkce_verifier: Set(new.pkce_verifier.map(str::to_string)),
        return_to: Set(new.return_to.to_string()),
        test_by: Set(new.test_by.map(str::to_string)),
        client_address: Set(new.client_address.map(str::to_string)),
        previous_session_hash: Set(new.previous_session_hash.map(str::to_string)),
        created_at: Set(new.now),
        expires_at: Set(new.expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// How many sign-ins started from this address are still waiting for an answer.
pub async fn pending_from_address(
    conn: &impl ConnectionTrait,
    address: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    sso_request::Entity::find()
        .filter(sso_request::Column::ClientAddress.eq(address))
        .filter(sso_request::Column::ExpiresAt.gt(now))
        .count(conn)
        .await
}

/// Deletes the oldest pending sign-ins of one browser beyond the newest `keep`.
pub async fn trim_browser_requests(
    conn: &impl ConnectionTrait,
    browser_hash: &str,
    keep: u64,
) -> Result<(), DbErr> {
    let stale: Vec<String> = sso_request::Entity::find()
        .select_only()
        .column(sso_request::Column::Id)
        .filter(sso_request::Column::BrowserHash.eq(browser_hash))
        .order_by_desc(sso_request::Column::CreatedAt)
        .offset(keep)
        // SQLite takes OFFSET only after a LIMIT.
        .limit(10_000)
        .into_tuple()
        .all(conn)
        .await?;
    if !stale.is_empty() {
        sso_request::Entity::delete_many()
            .filter(sso_request::Column::Id.is_in(stale))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Takes the pending request with this state hash: it is deleted whether or
/// not it is still live, so it answers once. `None`: unknown or used.
pub async fn take_request(
    conn: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<RequestRow>, DbErr> {
    let Some(row) = sso_request::Entity::find()
        .filter(sso_request::Column::StateHash.eq(state_hash))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    // Two callbacks racing for one request: only the delete that removed the
    // row wins it.
    let deleted = sso_request::Entity::delete_many()
        .filter(sso_request::Column::Id.eq(row.id.clone()))
        .exec(conn)
        .await?;
    Ok((deleted.rows_affected == 1).then_some(row))
}

/// Whether an administrator's test sign-in through this connection is
/// waiting for its answer (the only answers a disabled connection takes).
pub async fn has_pending_test(
    conn: &impl ConnectionTrait,
    connection_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let pending = sso_request::Entity::find()
        .filter(sso_request::Column::ConnectionId.eq(connection_id))
        .filter(sso_request::Column::TestBy.is_not_null())
        .filter(sso_request::Column::ExpiresAt.gt(now))
        .count(conn)
        .await?;
    Ok(pending > 0)
}

/// Deletes requests that expired before `now`; returns how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = sso_request::Entity::delete_many()
        .filter(sso_request::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Records that `connection_id` accepted the assertion whose ID hashes to
/// `assertion_id_hash`. `false`: it had been accepted already (a replay);
/// the unique index decides, so two racing posts cannot both pass.
pub async fn remember_assertion(
    conn: &impl ConnectionTrait,
    connection_id: &str,
    assertion_id_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let inserted = saml_assertion_id::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        connection_id: Set(connection_id.to_string()),
        assertion_id_hash: Set(assertion_id_hash.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(conn)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Forgets assertion IDs that could not be accepted any more anyway.
pub async fn purge_expired_assertions(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = saml_assertion_id::Entity::delete_many()
        .filter(saml_assertion_id::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
