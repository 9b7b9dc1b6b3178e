//! Organisations and their workspaces.

use entity::{organization, workspace};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

pub use entity::organization::Model as OrgRow;

/// A session lasts 12 hours from sign-in unless the organisation says otherwise.
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 12 * 3600;
/// ... and ends after an hour without a request.
pub const DEFAULT_SESSION_IDLE_SECONDS: i64 = 3600;

/// The organisation's sign-in policy, as an admin changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPolicy {
    pub name: String,
    pub sso_enabled: bool,
    pub sso_required: bool,
    pub jit_provisioning: bool,
    pub scim_adopt_existing: bool,
    pub session_ttl_seconds: i64,
    pub session_idle_seconds: i64,
}

impl From<&OrgRow> for OrgPolicy {
    fn from(o: &OrgRow) -> Self {
        OrgPolicy {
            name: o.name.clone(),
            sso_enabled: o.sso_enabled,
            sso_required: o.sso_required,
            jit_provisioning: o.jit_provisioning,
            scim_adopt_existing: o.scim_adopt_existing,
            session_ttl_seconds: o.session_ttl_seconds,
            session_idle_seconds: o.session_idle_seconds,
        }
    }
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<OrgRow>, DbErr> {
    organization::Entity::find_by_id(id.to_string())
        .one(conn)
        .await
}

/// The organisation row, locked until the transaction ends (PostgreSQL), so
/// policy changes and the writes that read the policy queue behind each other.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<OrgRow>, DbErr> {
    use sea_orm::QuerySelect;
    organization::Entity::find_by_id(id.to_string())
        .lock_exclusive()
        .one(conn)
        .await
}

pub async fn update_policy(
    conn: &impl ConnectionTrait,
    current: &OrgRow,
    policy: &OrgPolicy,
) -> Result<OrgRow, DbErr> {
    let mut row: organization::ActiveModel = current.clone().into();
    row.name = Set(policy.name.clone());
    row.sso_enabled = Set(policy.sso_enabled);
    row.sso_required = Set(policy.sso_required);
    row.jit_provisioning = Set(policy.jit_provisioning);
    row.scim_adopt_existing = Set(policy.scim_adopt_existing);
    row.session_ttl_seconds = Set(policy.session_ttl_seconds);
    row.session_idle_seconds = Set(policy.session_idle_seconds);
    row.update(conn).await
}

/// Creates an organisation with its first workspace, `default`.
pub async fn insert(conn: &impl ConnectionTrait, slug: &str, name: &str) -> Result<OrgRow, DbErr> {
    let now = super::now_ms();
    let org = organization::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        slug: Set(slug.to_string()),
        name: Set(name.to_string()),
        created_at: Set(now),
        sso_enabled: Set(false),
        sso_required: Set(false),
        jit_provisioning: Set(false),
        scim_adopt_existing: Set(false),
        session_ttl_seconds: Set(DEFAULT_SESSION_TTL_SECONDS),
        session_idle_seconds: Set(DEFAULT_SESSION_IDLE_SECONDS),
    }
    .insert(conn)
    .await?;
    workspace::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(org.id.clone()),
        slug: Set("default".into()),
        name: Set("Default".into()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(org)
}

pub async fn find_by_slug(
    conn: &impl ConnectionTrait,
    slug: &str,
) -> Result<Option<OrgRow>, DbErr> {
    organization::Entity::find()
        .filter(organization::Column::Slug.eq(slug))
        .one(conn)
        .await
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<OrgRow>, DbErr> {
    organization::Entity::find()
        .order_by_asc(organization::Column::Slug)
        .all(conn)
        .await
}

pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    organization::Entity::find().count(conn).await
}
