//! Identity links: list, add and remove them (admin API), and resolve an SSO
//! subject to an account through the pure rules of `domain::linking`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Event};
use super::{AppState, OrgScope, users};
use crate::domain::linking::{
    self, Asserted, CandidateView, Directory, LinkView, Match, SubjectKind,
};
use crate::domain::sso::MatchOn;
use crate::domain::user_name_key;
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::{self, is_unique_violation, links::LinkRow};

#[derive(Debug, Serialize)]
pub struct LinkViewOut {
    pub id: String,
    pub account_id: String,
    pub issuer: String,
    pub subject: String,
    pub created_at: String,
}

impl From<LinkRow> for LinkViewOut {
    fn from(l: LinkRow) -> Self {
        LinkViewOut {
            id: l.id,
            account_id: l.account_id,
            issuer: l.issuer,
            subject: l.subject,
            created_at: format_datetime(l.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LinkList {
    pub identities: Vec<LinkViewOut>,
}

pub async fn list(state: &AppState, scope: &OrgScope, account_id: &str) -> AppResult<LinkList> {
    users::find_existing(&state.db.read, scope, account_id).await?;
    let rows = store::links::list_for_account(&state.db.read, &scope.org_id, account_id).await?;
    Ok(LinkList {
        identities: rows.into_iter().map(LinkViewOut::from).collect(),
    })
}

fn link_not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no identity link {id} on this account"))
}

pub async fn get(
    state: &AppState,
    scope: &OrgScope,
    account_id: &str,
    link_id: &str,
) -> AppResult<LinkViewOut> {
    store::links::find(&state.db.read, &scope.org_id, account_id, link_id)
        .await?
        .map(LinkViewOut::from)
        .ok_or_else(|| link_not_found(link_id))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// The IdP's SAML entity id or OIDC issuer.
    pub issuer: String,
    /// Its NameID or `sub`.
    pub subject: String,
}

fn check_part(name: &str, value: &str) -> AppResult<()> {
    if value.trim().is_empty() || value.len() > 1024 || value.contains('\0') {
        return Err(AppError::invalid_value(format!(
            "{name} must be 1 to 1024 bytes, not blank"
        )));
    }
    Ok(())
}

/// Links (issuer, subject) to the account ahead of its first sign-in. Never
/// moves an existing link: a subject linked elsewhere is a 409.
pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    account_id: &str,
    new: NewLink,
) -> AppResult<LinkViewOut> {
    scope.require_admin()?;
    check_part("issuer", &new.issuer)?;
    check_part("subject", &new.subject)?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    users::find_existing(&txn, scope, account_id).await?;
    if let Some(existing) =
        store::links::find_by_subject(&txn, &scope.org_id, &new.issuer, &new.subject).await?
    {
        return Err(AppError::Conflict(format!(
            "subject {:?} of {:?} is already linked to account {}; remove that link first",
            new.subject, new.issuer, existing.account_id
        )));
    }
    if let Some(subject) =
        store::links::subject_at_issuer(&txn, &scope.org_id, account_id, &new.issuer).await?
    {
        return Err(AppError::Conflict(format!(
            "this account is already linked to subject {subject:?} of {:?}; remove that link first",
            new.issuer
        )));
    }
    let row = match store::links::insert(
        &txn,
        store::links::NewLink {
            org_id: &scope.org_id,
            account_id,
            issuer: &new.issuer,
            subject: &new.subject,
            connection_id: None,
            now,
        },
    )
    .await
    {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict(
                "this subject was linked by another request at the same time".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "identity.linked",
            target_type: "account",
            target_id: Some(account_id),
            summary: json!({"link_id": row.id, "issuer": row.issuer, "subject": row.subject}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}

pub async fn delete(
    state: &AppState,
    scope: &OrgScope,
    account_id: &str,
    link_id: &str,
) -> AppResult<()> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let link = store::links::find(&txn, &scope.org_id, account_id, link_id)
        .await?
        .ok_or_else(|| link_not_found(link_id))?;
    store::links::delete(&txn, &scope.org_id, link_id).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "identity.unlinked",
            target_type: "account",
            target_id: Some(account_id),
            summary: json!({"link_id": link.id, "issuer": link.issuer, "subject": link.subject}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What the organisation holds for (issuer, subject), matched by the pure
/// rules. SSO sign-in acts on the answer (link, JIT or refuse). Without a
/// link, accounts are found by the connection's rule: `asserted.value` (the
/// subject, the verified email or the user name) against the External user
/// ID, the primary email or the userName. A transient subject is never
/// looked up: it names nobody for good.
pub async fn resolve(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    issuer: &str,
    subject: &str,
    asserted: &Asserted<'_>,
) -> AppResult<Match> {
    let found = match asserted.subject_kind {
        SubjectKind::Stable => store::links::find_by_subject(conn, org_id, issuer, subject).await?,
        SubjectKind::Transient => None,
    };
    let link = match found {
        Some(l) => {
            let active = store::users::find(conn, org_id, &l.account_id)
                .await?
                .is_some_and(|a| a.active);
            Some(LinkView {
                link_id: l.id,
                account_id: l.account_id,
                account_active: active,
            })
        }
        None => None,
    };
    let value = asserted.value;
    let mut candidates = Vec::new();
    if link.is_none() {
        let accounts = match asserted.rule {
            MatchOn::ExternalUserId => {
                store::accounts::find_by_external_user_id_key(
                    conn,
                    org_id,
                    &linking::match_key(value),
                )
                .await?
            }
            MatchOn::Email => {
                store::accounts::find_by_email(conn, org_id, &value.trim().to_lowercase()).await?
            }
            MatchOn::UserName => {
                store::accounts::find_by_user_name_key(conn, org_id, &user_name_key(value.trim()))
                    .await?
                    .into_iter()
                    .collect()
            }
        };
        for account in accounts {
            let linked_subject_at_issuer =
                store::links::subject_at_issuer(conn, org_id, &account.id, issuer).await?;
            candidates.push(CandidateView {
                account_id: account.id,
                active: account.active,
                linked_subject_at_issuer,
            });
        }
    }
    Ok(linking::match_subject(
        &Directory { link, candidates },
        asserted,
    ))
}
