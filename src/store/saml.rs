//! SAML service-provider state: each connection's key pairs, the SAML
//! subject of each session a connection opened, and the LogoutRequests
//! sent to IdPs that wait for their answer.

use chrono::{DateTime, Utc};
use entity::{saml_logout_request, saml_session, saml_sp_key, session};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use entity::saml_session::Model as SamlSessionRow;
pub use entity::saml_sp_key::Model as SpKeyRow;

/// A connection's key pairs (`signing`, `encryption`).
pub async fn keys(
    conn: &impl ConnectionTrait,
    connection_id: &str,
) -> Result<Vec<SpKeyRow>, DbErr> {
    saml_sp_key::Entity::find()
        .filter(saml_sp_key::Column::ConnectionId.eq(connection_id))
        .all(conn)
        .await
}

pub struct NewKey<'a> {
    pub org_id: &'a str,
    pub connection_id: &'a str,
    pub key_use: &'a str,
    pub private_key_pem: &'a str,
    pub certificate_der: &'a str,
    pub now: DateTime<Utc>,
}

/// Stores a key pair; fails with a unique violation when the connection has
/// one for that use already (another request made it first).
pub async fn insert_key(conn: &impl ConnectionTrait, new: NewKey<'_>) -> Result<(), DbErr> {
    saml_sp_key::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(new.org_id.to_string()),
        connection_id: Set(new.connection_id.to_string()),
        key_use: Set(new.key_use.to_string()),
        private_key_pem: Set(new.private_key_pem.to_string()),
        certificate_der: Set(new.certificate_der.to_string()),
        created_at: Set(new.now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub struct NewSamlSession<'a> {
    pub session_id: &'a str,
    pub org_id: &'a str,
    pub connection_id: &'a str,
    pub account_id: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub async fn insert_session(
    conn: &impl ConnectionTrait,
    new: NewSamlSession<'_>,
) -> Result<(), DbErr> {
    saml_session::ActiveModel {
        session_id: Set(new.session_id.to_string()),
        org_id: Set(new.org_id.to_string()),
        connection_id: Set(new.connection_id.to_string()),
        account_id: Set(new.account_id.to_string()),
        name_id: Set(new.name_id.to_string()),
        name_id_format: Set(new.name_id_format.map(str::to_string)),
        session_index: Set(new.session_index.map(str::to_string)),
        created_at: Set(new.now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The SAML subject of a session, if a SAML connection opened it.
pub async fn session_subject(
    conn: &impl ConnectionTrait,
    session_id: &str,
) -> Result<Option<SamlSessionRow>, DbErr> {
    saml_session::Entity::find_by_id(session_id.to_string())
        .one(conn)
        .await
}

/// The live sessions this connection opened for this NameID (and, when
/// the IdP names them, only those of these SessionIndexes).
pub async fn live_sessions_of_subject(
    conn: &impl ConnectionTrait,
    org_id: &str,
    connection_id: &str,
    name_id: &str,
    session_indexes: &[String],
) -> Result<Vec<SamlSessionRow>, DbErr> {
    let rows = saml_session::Entity::find()
        .filter(saml_session::Column::OrgId.eq(org_id))
        .filter(saml_session::Column::ConnectionId.eq(connection_id))
        .filter(saml_session::Column::NameId.eq(name_id))
        .all(conn)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.session_id.clone()).collect();
    let live: Vec<String> = session::Entity::find()
        .filter(session::Column::OrgId.eq(org_id))
        .filter(session::Column::Id.is_in(ids))
        .filter(session::Column::EndedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    Ok(rows
        .into_iter()
        .filter(|r| live.contains(&r.session_id))
        .filter(|r| {
            session_indexes.is_empty()
                || r.session_index
                    .as_ref()
                    .is_some_and(|i| session_indexes.contains(i))
        })
        .collect())
}

pub async fn insert_logout_request(
    conn: &impl ConnectionTrait,
    request_id_hash: &str,
    org_id: &str,
    connection_id: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    saml_logout_request::Entity::delete_many()
        .filter(saml_logout_request::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?;
    saml_logout_request::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        request_id_hash: Set(request_id_hash.to_string()),
        org_id: Set(org_id.to_string()),
        connection_id: Set(connection_id.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Takes (deletes) the LogoutRequest this connection sent with this ID
/// hash: `true` when it was there and live, so a LogoutResponse answers once.
pub async fn take_logout_request(
    conn: &impl ConnectionTrait,
    connection_id: &str,
    request_id_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(row) = saml_logout_request::Entity::find()
        .filter(saml_logout_request::Column::RequestIdHash.eq(request_id_hash))
        .filter(saml_logout_request::Column::ConnectionId.eq(connection_id))
        .one(conn)
        .await?
    else {
        return Ok(false);
    };
    let taken = saml_logout_request::Entity::delete_by_id(row.id)
        .exec(conn)
        .await?
        .rows_affected
        > 0;
    Ok(taken && now < row.expires_at)
}

/// Every stored SP private key: (row id, connection id, use, stored value).
pub async fn private_keys(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(String, String, String, String)>, DbErr> {
    saml_sp_key::Entity::find()
        .select_only()
        .column(saml_sp_key::Column::Id)
        .column(saml_sp_key::Column::ConnectionId)
        .column(saml_sp_key::Column::KeyUse)
        .column(saml_sp_key::Column::PrivateKeyPem)
        .order_by_asc(saml_sp_key::Column::Id)
        .into_tuple()
        .all(conn)
        .await
}

/// Replaces a stored private key if it is still `old`. `true`: replaced.
pub async fn replace_private_key(
    conn: &impl ConnectionTrait,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let result = saml_sp_key::Entity::update_many()
        .col_expr(
            saml_sp_key::Column::PrivateKeyPem,
            sea_orm::sea_query::Expr::value(new),
        )
        .filter(saml_sp_key::Column::Id.eq(id))
        .filter(saml_sp_key::Column::PrivateKeyPem.eq(old))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
