//! Workspaces of an organisation (production, sandbox ...) and the roles
//! accounts hold in them: one account reaches several workspaces.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Event};
use super::{AppState, OrgScope, users};
use crate::domain::{OrgSlug, WorkspaceRole};
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::{self, is_unique_violation, workspaces::WorkspaceRow};

#[derive(Debug, Serialize)]
pub struct WorkspaceView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
    pub member_count: u64,
}

async fn view(conn: &impl sea_orm::ConnectionTrait, row: WorkspaceRow) -> AppResult<WorkspaceView> {
    let member_count = store::workspaces::member_count(conn, &row.id).await?;
    Ok(WorkspaceView {
        created_at: format_datetime(row.created_at),
        id: row.id,
        slug: row.slug,
        name: row.name,
        member_count,
    })
}

#[derive(Debug, Serialize)]
pub struct WorkspaceList {
    pub workspaces: Vec<WorkspaceView>,
}

pub async fn list(state: &AppState, scope: &OrgScope) -> AppResult<WorkspaceList> {
    let mut workspaces = Vec::new();
    for row in store::workspaces::list(&state.db.read, &scope.org_id).await? {
        workspaces.push(view(&state.db.read, row).await?);
    }
    Ok(WorkspaceList { workspaces })
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no workspace {id}"))
}

async fn find(
    conn: &impl sea_orm::ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> AppResult<WorkspaceRow> {
    store::workspaces::find(conn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn get(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<WorkspaceView> {
    let row = find(&state.db.read, scope, id).await?;
    view(&state.db.read, row).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub slug: String,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUpdate {
    pub slug: Option<String>,
    pub name: Option<String>,
}

fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::invalid_value(
            "name must be 1 to 200 bytes and not blank",
        ));
    }
    Ok(name.to_string())
}

fn taken(slug: &str) -> AppError {
    AppError::Uniqueness(format!("a workspace with slug {slug:?} already exists"))
}

pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    new: NewWorkspace,
) -> AppResult<WorkspaceView> {
    scope.require_admin()?;
    let slug = OrgSlug::parse(&new.slug).map_err(AppError::invalid_value)?;
    let name = check_name(new.name.as_deref().unwrap_or(slug.as_str()))?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    if store::workspaces::find_by_slug(&txn, &scope.org_id, slug.as_str())
        .await?
        .is_some()
    {
        return Err(taken(slug.as_str()));
    }
    let row = match store::workspaces::insert(&txn, &scope.org_id, slug.as_str(), &name, now).await
    {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Err(taken(slug.as_str())),
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "workspace.created",
            target_type: "workspace",
            target_id: Some(&row.id),
            summary: json!({"slug": row.slug, "name": row.name}),
        },
    )
    .await?;
    txn.commit().await?;
    view(&state.db.read, row).await
}

pub async fn update(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    update: WorkspaceUpdate,
) -> AppResult<WorkspaceView> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let current = find(&txn, scope, id).await?;
    let slug = match &update.slug {
        Some(s) => OrgSlug::parse(s)
            .map_err(AppError::invalid_value)?
            .to_string(),
        None => current.slug.clone(),
    };
    let name = match &update.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    if slug != current.slug
        && store::workspaces::find_by_slug(&txn, &scope.org_id, &slug)
            .await?
            .is_some()
    {
        return Err(taken(&slug));
    }
    let row = match store::workspaces::update(&txn, &current, &slug, &name).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Err(taken(&slug)),
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "workspace.updated",
            target_type: "workspace",
            target_id: Some(id),
            summary: json!({"slug": row.slug, "name": row.name}),
        },
    )
    .await?;
    txn.commit().await?;
    view(&state.db.read, row).await
}

pub async fn delete(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<()> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let current = find(&txn, scope, id).await?;
    if store::workspaces::count(&txn, &scope.org_id).await? <= 1 {
        return Err(AppError::Conflict(
            "this is the organisation's last workspace; create another before deleting it".into(),
        ));
    }
    // Its member roles go with it by foreign key.
    store::workspaces::delete(&txn, &scope.org_id, id).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "workspace.deleted",
            target_type: "workspace",
            target_id: Some(id),
            summary: json!({"slug": current.slug}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct MemberView {
    pub account_id: String,
    pub user_name: String,
    pub role: String,
    pub added_at: String,
}

#[derive(Debug, Serialize)]
pub struct MemberList {
    pub members: Vec<MemberView>,
}

pub async fn members(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<MemberList> {
    find(&state.db.read, scope, id).await?;
    let rows = store::workspaces::members(&state.db.read, &scope.org_id, id).await?;
    Ok(MemberList {
        members: rows
            .into_iter()
            .map(|(m, user_name)| MemberView {
                account_id: m.account_id,
                user_name,
                role: m.role,
                added_at: format_datetime(m.created_at),
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    pub role: String,
}

pub async fn set_member(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    account_id: &str,
    role: MemberRole,
) -> AppResult<MemberView> {
    scope.require_admin()?;
    let role = WorkspaceRole::parse(&role.role).map_err(AppError::invalid_value)?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    find(&txn, scope, id).await?;
    let account = users::find_existing(&txn, scope, account_id).await?;
    let previous = store::workspaces::role_of(&txn, id, account_id).await?;
    let member =
        store::workspaces::set_member(&txn, &scope.org_id, id, account_id, role.as_str(), now)
            .await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "workspace.member_set",
            target_type: "account",
            target_id: Some(account_id),
            summary: json!({"workspace_id": id, "role": role.as_str(), "previous_role": previous}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(MemberView {
        account_id: member.account_id,
        user_name: account.user_name,
        role: member.role,
        added_at: format_datetime(member.created_at),
    })
}

pub async fn remove_member(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    account_id: &str,
) -> AppResult<()> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    find(&txn, scope, id).await?;
    if !store::workspaces::remove_member(&txn, &scope.org_id, id, account_id).await? {
        return Err(AppError::NotFound(format!(
            "account {account_id} is not a member of workspace {id}"
        )));
    }
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "workspace.member_removed",
            target_type: "account",
            target_id: Some(account_id),
            summary: json!({"workspace_id": id}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
