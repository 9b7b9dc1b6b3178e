//! Organisations and their workspaces.

use entity::{organization, workspace};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

pub use entity::organization::Model as OrgRow;

/// Creates an organisation with its first workspace, `default`.
pub async fn insert(conn: &impl ConnectionTrait, slug: &str, name: &str) -> Result<OrgRow, DbErr> {
    let now = super::now_ms();
    let org = organization::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        slug: Set(slug.to_string()),
        name: Set(name.to_string()),
        created_at: Set(now),
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
