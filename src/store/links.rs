//! Identity links: (organisation, issuer, subject) -> account.

use chrono::{DateTime, Utc};
use entity::identity_link;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use entity::identity_link::Model as LinkRow;

/// A new link; `connection_id` names the SSO connection that made it at a
/// sign-in (`None`: an admin made it ahead of one).
pub struct NewLink<'a> {
    pub org_id: &'a str,
    pub account_id: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub connection_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &impl ConnectionTrait, new: NewLink<'_>) -> Result<LinkRow, DbErr> {
    // A link made at a sign-in is used by it.
    let last_used_at = new.connection_id.map(|_| new.now);
    identity_link::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(new.org_id.to_string()),
        account_id: Set(new.account_id.to_string()),
        issuer: Set(new.issuer.to_string()),
        subject: Set(new.subject.to_string()),
        created_at: Set(new.now),
        connection_id: Set(new.connection_id.map(str::to_string)),
        last_used_at: Set(last_used_at),
    }
    .insert(conn)
    .await
}

/// Records a sign-in through the link.
pub async fn touch(conn: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    identity_link::Entity::update_many()
        .col_expr(
            identity_link::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(identity_link::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn list_for_account(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
) -> Result<Vec<LinkRow>, DbErr> {
    identity_link::Entity::find()
        .filter(identity_link::Column::OrgId.eq(org_id))
        .filter(identity_link::Column::AccountId.eq(account_id))
        .order_by_asc(identity_link::Column::CreatedAt)
        .order_by_asc(identity_link::Column::Id)
        .all(conn)
        .await
}

pub async fn find(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
    id: &str,
) -> Result<Option<LinkRow>, DbErr> {
    identity_link::Entity::find()
        .filter(identity_link::Column::OrgId.eq(org_id))
        .filter(identity_link::Column::AccountId.eq(account_id))
        .filter(identity_link::Column::Id.eq(id))
        .one(conn)
        .await
}

/// The link of (organisation, issuer, subject), if any.
pub async fn find_by_subject(
    conn: &impl ConnectionTrait,
    org_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<Option<LinkRow>, DbErr> {
    identity_link::Entity::find()
        .filter(identity_link::Column::OrgId.eq(org_id))
        .filter(identity_link::Column::Issuer.eq(issuer))
        .filter(identity_link::Column::Subject.eq(subject))
        .one(conn)
        .await
}

/// The subject an account is linked to at `issuer`, if any.
pub async fn subject_at_issuer(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
    issuer: &str,
) -> Result<Option<String>, DbErr> {
    Ok(identity_link::Entity::find()
        .filter(identity_link::Column::OrgId.eq(org_id))
        .filter(identity_link::Column::AccountId.eq(account_id))
        .filter(identity_link::Column::Issuer.eq(issuer))
        .one(conn)
        .await?
        .map(|l| l.subject))
}

pub async fn delete(conn: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    let result = identity_link::Entity::delete_many()
        .filter(identity_link::Column::OrgId.eq(org_id))
        .filter(identity_link::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}
