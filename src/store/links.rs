//! Identity links: (organisation, issuer, subject) -> account.

use chrono::{DateTime, Utc};
use entity::identity_link;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

pub use entity::identity_link::Model as LinkRow;

pub async fn insert(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
    issuer: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<LinkRow, DbErr> {
    identity_link::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(org_id.to_string()),
        account_id: Set(account_id.to_string()),
        issuer: Set(issuer.to_string()),
        subject: Set(subject.to_string()),
        created_at: Set(now),
    }
    .insert(conn)
    .await
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
