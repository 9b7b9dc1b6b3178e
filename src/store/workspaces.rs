//! Workspaces of an organisation and the accounts' roles in them.

use chrono::{DateTime, Utc};
use entity::{account, workspace, workspace_member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

pub use entity::workspace::Model as WorkspaceRow;
pub use entity::workspace_member::Model as MemberRow;

pub async fn list(conn: &impl ConnectionTrait, org_id: &str) -> Result<Vec<WorkspaceRow>, DbErr> {
    workspace::Entity::find()
        .filter(workspace::Column::OrgId.eq(org_id))
        .order_by_asc(workspace::Column::Slug)
        .all(conn)
        .await
}

pub async fn find(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<WorkspaceRow>, DbErr> {
    workspace::Entity::find()
        .filter(workspace::Column::OrgId.eq(org_id))
        .filter(workspace::Column::Id.eq(id))
        .one(conn)
        .await
}

pub async fn find_by_slug(
    conn: &impl ConnectionTrait,
    org_id: &str,
    slug: &str,
) -> Result<Option<WorkspaceRow>, DbErr> {
    workspace::Entity::find()
        .filter(workspace::Column::OrgId.eq(org_id))
        .filter(workspace::Column::Slug.eq(slug))
        .one(conn)
        .await
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    org_id: &str,
    slug: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<WorkspaceRow, DbErr> {
    workspace::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        org_id: Set(org_id.to_string()),
        slug: Set(slug.to_string()),
        name: Set(name.to_string()),
        created_at: Set(now),
    }
    .insert(conn)
    .await
}

pub async fn update(
    conn: &impl ConnectionTrait,
    current: &WorkspaceRow,
    slug: &str,
    name: &str,
) -> Result<WorkspaceRow, DbErr> {
    let mut row: workspace::ActiveModel = current.clone().into();
    row.slug = Set(slug.to_string());
    row.name = Set(name.to_string());
    row.update(conn).await
}

pub async fn delete(conn: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    let result = workspace::Entity::delete_many()
        .filter(workspace::Column::OrgId.eq(org_id))
        .filter(workspace::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

pub async fn count(conn: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    workspace::Entity::find()
        .filter(workspace::Column::OrgId.eq(org_id))
        .count(conn)
        .await
}

pub async fn member_count(conn: &impl ConnectionTrait, workspace_id: &str) -> Result<u64, DbErr> {
    workspace_member::Entity::find()
        .filter(workspace_member::Column::WorkspaceId.eq(workspace_id))
        .count(conn)
        .await
}

/// A workspace's members with their user names, by user name.
pub async fn members(
    conn: &impl ConnectionTrait,
    org_id: &str,
    workspace_id: &str,
) -> Result<Vec<(MemberRow, String)>, DbErr> {
    let rows = workspace_member::Entity::find()
        .filter(workspace_member::Column::OrgId.eq(org_id))
        .filter(workspace_member::Column::WorkspaceId.eq(workspace_id))
        .all(conn)
        .await?;
    let ids: Vec<&str> = rows.iter().map(|m| m.account_id.as_str()).collect();
    let mut names = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        for a in account::Entity::find()
            .filter(account::Column::OrgId.eq(org_id))
            .filter(account::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            names.insert(a.id, a.user_name);
        }
    }
    let mut out: Vec<(MemberRow, String)> = rows
        .into_iter()
        .map(|m| {
            let name = names.get(&m.account_id).cloned().unwrap_or_default();
            (m, name)
        })
        .collect();
    out.sort_by_key(|(_, name)| name.to_lowercase());
    Ok(out)
}

/// The account's role in the workspace, if it is a member.
pub async fn role_of(
    conn: &impl ConnectionTrait,
    workspace_id: &str,
    account_id: &str,
) -> Result<Option<String>, DbErr> {
    Ok(workspace_member::Entity::find()
        .filter(workspace_member::Column::WorkspaceId.eq(workspace_id))
        .filter(workspace_member::Column::AccountId.eq(account_id))
        .one(conn)
        .await?
        .map(|m| m.role))
}

/// Sets an account's role in a workspace (adding it if needed).
pub async fn set_member(
    conn: &impl ConnectionTrait,
    org_id: &str,
    workspace_id: &str,
    account_id: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<MemberRow, DbErr> {
    let existing = workspace_member::Entity::find()
        .filter(workspace_member::Column::WorkspaceId.eq(workspace_id))
        .filter(workspace_member::Column::AccountId.eq(account_id))
        .one(conn)
        .await?;
    match existing {
        Some(current) => {
            let mut row: workspace_member::ActiveModel = current.into();
            row.role = Set(role.to_string());
            row.update(conn).await
        }
        None => {
            workspace_member::ActiveModel {
                workspace_id: Set(workspace_id.to_string()),
                account_id: Set(account_id.to_string()),
                org_id: Set(org_id.to_string()),
                role: Set(role.to_string()),
                created_at: Set(now),
            }
            .insert(conn)
            .await
        }
    }
}

pub async fn remove_member(
    conn: &impl ConnectionTrait,
    org_id: &str,
    workspace_id: &str,
    account_id: &str,
) -> Result<bool, DbErr> {
    let result = workspace_member::Entity::delete_many()
        .filter(workspace_member::Column::OrgId.eq(org_id))
        .filter(workspace_member::Column::WorkspaceId.eq(workspace_id))
        .filter(workspace_member::Column::AccountId.eq(account_id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The workspaces of these accounts with the role in each, by workspace slug.
pub async fn of_accounts(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_ids: &[String],
) -> Result<Vec<(MemberRow, WorkspaceRow)>, DbErr> {
    let mut members = Vec::new();
    for chunk in account_ids.chunks(500) {
        members.extend(
            workspace_member::Entity::find()
                .filter(workspace_member::Column::OrgId.eq(org_id))
                .filter(workspace_member::Column::AccountId.is_in(chunk.iter().map(String::as_str)))
                .all(conn)
                .await?,
        );
    }
    if members.is_empty() {
        return Ok(Vec::new());
    }
    // An organisation has a handful of workspaces: read them all once.
    let workspaces: std::collections::HashMap<String, WorkspaceRow> = list(conn, org_id)
        .await?
        .into_iter()
        .map(|w| (w.id.clone(), w))
        .collect();
    let mut out: Vec<(MemberRow, WorkspaceRow)> = members
        .into_iter()
        .filter_map(|m| {
            let w = workspaces.get(&m.workspace_id)?.clone();
            Some((m, w))
        })
        .collect();
    out.sort_by(|a, b| a.1.slug.cmp(&b.1.slug));
    Ok(out)
}
