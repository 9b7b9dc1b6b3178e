//! SCIM bearer tokens: issue, list, revoke, and authenticate a request.

use chrono::TimeDelta;

use super::OrgScope;
use crate::domain::secret;
use crate::error::{AppError, AppResult};
use crate::store::{self, Db, orgs::OrgRow, tokens::TokenRow};

/// Issues a token; the secret is returned here once and never again.
pub async fn create(db: &Db, org: &OrgRow, label: &str) -> AppResult<(TokenRow, String)> {
    let new = secret::generate("scim");
    let row = store::tokens::insert(&db.write, &org.id, label, &new.hash).await?;
    log::info!(
        "issued SCIM token {} ({label}) for organisation {}",
        row.id,
        org.slug
    );
    Ok((row, new.secret))
}

pub async fn list(db: &Db, org: &OrgRow) -> AppResult<Vec<TokenRow>> {
    Ok(store::tokens::list_for_org(&db.read, &org.id).await?)
}

pub async fn revoke(db: &Db, id: &str) -> AppResult<TokenRow> {
    let token = store::tokens::find(&db.read, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no SCIM token with id {id}")))?;
    if !store::tokens::revoke(&db.write, id).await? {
        return Err(AppError::NotFound(format!(
            "SCIM token {id} is already revoked"
        )));
    }
    log::info!("revoked SCIM token {id}");
    Ok(token)
}

/// The organisation a bearer secret belongs to; 401 for anything else.
pub async fn authenticate(db: &Db, bearer: Option<&str>) -> AppResult<OrgScope> {
    let unauthorized = || AppError::Unauthorized("a valid SCIM bearer token is required".into());
    let presented = bearer.filter(|s| !s.is_empty()).ok_or_else(unauthorized)?;
    let presented_hash = secret::hash(presented);
    let token = store::tokens::find_active_by_hash(&db.read, &presented_hash)
        .await?
        .ok_or_else(unauthorized)?;
    if !secret::hashes_match(&token.token_hash, &presented_hash) {
        return Err(unauthorized());
    }
    // Record use at most once a minute, so auth does not write on every request.
    let now = store::now_ms();
    if token
        .last_used_at
        .is_none_or(|t| now - t > TimeDelta::minutes(1))
    {
        let write = db.write.clone();
        let id = token.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store::tokens::touch(&write, &id, now).await {
                log::warn!("could not record use of SCIM token {id}: {e}");
            }
        });
    }
    Ok(OrgScope {
        org_id: token.org_id,
        token_id: token.id,
    })
}
