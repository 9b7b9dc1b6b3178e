//! SCIM bearer tokens: issue, list, revoke (CLI and admin API), and
//! authenticate a request. Bearer checking is shared with admin tokens.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Event};
use super::{Actor, AppState, OrgScope, RequestMeta};
use crate::domain::secret;
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::tokens::TokenTable;
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
    Ok(store::tokens::list_for_org::<entity::scim_token::Entity>(&db.read, &org.id).await?)
}

/// Revokes a token of any organisation (the CLI, run on the server).
pub async fn revoke(db: &Db, id: &str) -> AppResult<TokenRow> {
    revoke_in::<entity::scim_token::Entity>(db, None, id, "SCIM token").await
}

/// Revokes a token by id, within `org_id` when given.
pub(crate) async fn revoke_in<T: TokenTable>(
    db: &Db,
    org_id: Option<&str>,
    id: &str,
    what: &str,
) -> AppResult<T::Model> {
    let token = store::tokens::find::<T>(&db.read, org_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no {what} with id {id}")))?;
    if !store::tokens::revoke::<T>(&db.write, id, store::now_ms()).await? {
        return Err(AppError::NotFound(format!(
            "{what} {id} is already revoked"
        )));
    }
    log::info!("revoked {what} {id}");
    Ok(token)
}

/// The live token a bearer secret is, or `unauthorized()`. Records use at
/// most once a minute, so authentication does not write on every request.
pub(crate) async fn check_bearer<T: TokenTable>(
    db: &Db,
    bearer: Option<&str>,
    unauthorized: impl Fn() -> AppError,
) -> AppResult<T::Model> {
    let presented = bearer.filter(|s| !s.is_empty()).ok_or_else(&unauthorized)?;
    let presented_hash = secret::hash(presented);
    let token = store::tokens::find_active_by_hash::<T>(&db.read, &presented_hash)
        .await?
        .ok_or_else(&unauthorized)?;
    if !secret::hashes_match(T::token_hash(&token), &presented_hash) {
        return Err(unauthorized());
    }
    let now = store::now_ms();
    if T::last_used_at(&token).is_none_or(|t| now - t > TimeDelta::minutes(1)) {
        let write = db.write.clone();
        let id = T::id(&token).to_string();
        tokio::spawn(async move {
            if let Err(e) = store::tokens::touch::<T>(&write, &id, now).await {
                log::warn!("could not record use of token {id}: {e}");
            }
        });
    }
    Ok(token)
}

/// The organisation a SCIM bearer secret belongs to; 401 for anything else.
pub async fn authenticate(
    db: &Db,
    bearer: Option<&str>,
    request: RequestMeta,
) -> AppResult<OrgScope> {
    let token = check_bearer::<entity::scim_token::Entity>(db, bearer, || {
        AppError::Unauthorized("a valid SCIM bearer token is required".into())
    })
    .await?;
    Ok(OrgScope {
        org_id: token.org_id,
        actor: Actor::ScimToken {
            id: token.id,
            label: token.label,
        },
        request,
    })
}

/// A SCIM token as the admin API shows it (never its secret, but once).
#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> Self {
        TokenView {
            id: t.id,
            label: t.label,
            created_at: format_datetime(t.created_at),
            last_used_at: t.last_used_at.map(format_datetime),
            revoked_at: t.revoked_at.map(format_datetime),
            secret: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TokenList {
    pub scim_tokens: Vec<TokenView>,
}

pub async fn api_list(state: &AppState, scope: &OrgScope) -> AppResult<TokenList> {
    scope.require_admin()?;
    let rows =
        store::tokens::list_for_org::<entity::scim_token::Entity>(&state.db.read, &scope.org_id)
            .await?;
    Ok(TokenList {
        scim_tokens: rows.into_iter().map(TokenView::from).collect(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub label: String,
}

pub async fn api_create(state: &AppState, scope: &OrgScope, new: NewToken) -> AppResult<TokenView> {
    scope.require_admin()?;
    let label = new.label.trim();
    if label.is_empty() || label.len() > 200 {
        return Err(AppError::invalid_value(
            "label must be 1 to 200 bytes and not blank",
        ));
    }
    let secret = secret::generate("scim");
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let row = store::tokens::insert(&txn, &scope.org_id, label, &secret.hash).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "scim_token.created",
            target_type: "scim_token",
            target_id: Some(&row.id),
            summary: json!({"label": row.label}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(TokenView {
        secret: Some(secret.secret),
        ..TokenView::from(row)
    })
}

pub async fn api_revoke(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<()> {
    scope.require_admin()?;
    let token =
        revoke_in::<entity::scim_token::Entity>(&state.db, Some(&scope.org_id), id, "SCIM token")
            .await?;
    audit::record(
        &state.db.write,
        scope,
        state.settings.clock.now(),
        Event {
            action: "scim_token.revoked",
            target_type: "scim_token",
            target_id: Some(id),
            summary: json!({"label": token.label}),
        },
    )
    .await
}
