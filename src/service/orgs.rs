//! Organisations: create, list, and the first-start bootstrap.

use crate::domain::OrgSlug;
use crate::error::{AppError, AppResult};
use crate::store::{self, Db, orgs::OrgRow};

pub async fn create(db: &Db, slug: &OrgSlug, name: &str) -> AppResult<OrgRow> {
    let txn = db.begin().await?;
    if store::orgs::find_by_slug(&txn, slug.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::Uniqueness(format!(
            "an organisation with slug {slug} already exists"
        )));
    }
    let org = store::orgs::insert(&txn, slug.as_str(), name).await?;
    txn.commit().await?;
    log::info!("created organisation {slug}");
    Ok(org)
}

pub async fn list(db: &Db) -> AppResult<Vec<OrgRow>> {
    Ok(store::orgs::list(&db.read).await?)
}

pub async fn find(db: &Db, slug: &str) -> AppResult<OrgRow> {
    store::orgs::find_by_slug(&db.read, slug)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no organisation with slug {slug:?}")))
}

/// On a database with no organisation, creates `default` with a SCIM token
/// and returns the token's secret, to be shown once.
pub async fn bootstrap(db: &Db) -> AppResult<Option<String>> {
    if store::orgs::count(&db.read).await? > 0 {
        return Ok(None);
    }
    let slug = OrgSlug::parse("default").map_err(AppError::Internal)?;
    let org = create(db, &slug, "Default organisation").await?;
    let (_, secret) = super::tokens::create(db, &org, "bootstrap").await?;
    Ok(Some(secret))
}
