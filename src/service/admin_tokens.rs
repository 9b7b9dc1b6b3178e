//! Admin tokens: the admin API's bearer tokens, with a role (`admin` or
//! `support`). Issued on the server's command line, shown once.

use super::tokens::{check_bearer, revoke_in};
use super::{Actor, OrgScope, RequestMeta};
use crate::domain::{AdminRole, secret};
use crate::error::{AppError, AppResult};
use crate::store::{self, Db, orgs::OrgRow, tokens::AdminTokenRow};

type Table = entity::admin_token::Entity;

pub async fn create(
    db: &Db,
    org: &OrgRow,
    role: AdminRole,
    label: &str,
) -> AppResult<(AdminTokenRow, String)> {
    let new = secret::generate("adm");
    let row =
        store::tokens::insert_admin(&db.write, &org.id, label, role.as_str(), &new.hash).await?;
    log::info!(
        "issued {} token {} ({label}) for organisation {}",
        role.as_str(),
        row.id,
        org.slug
    );
    Ok((row, new.secret))
}

pub async fn list(db: &Db, org: &OrgRow) -> AppResult<Vec<AdminTokenRow>> {
    Ok(store::tokens::list_for_org::<Table>(&db.read, &org.id).await?)
}

pub async fn revoke(db: &Db, id: &str) -> AppResult<AdminTokenRow> {
    revoke_in::<Table>(db, None, id, "admin token").await
}

/// The organisation and role of an admin bearer secret; 401 otherwise.
pub async fn authenticate(
    db: &Db,
    bearer: Option<&str>,
    request: RequestMeta,
) -> AppResult<OrgScope> {
    let token = check_bearer::<Table>(db, bearer, || {
        AppError::Unauthorized("a valid admin bearer token is required".into())
    })
    .await?;
    let role = AdminRole::parse(&token.role).map_err(AppError::Internal)?;
    Ok(OrgScope {
        org_id: token.org_id,
        actor: Actor::AdminToken {
            id: token.id,
            label: token.label,
            role,
        },
        request,
    })
}
