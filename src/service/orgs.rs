//! Organisations: create, list, the first-start bootstrap, and the sign-in
//! policy an admin sets.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Event};
use super::{AppState, OrgScope};
use crate::domain::OrgSlug;
use crate::error::{AppError, AppResult};
use crate::store::orgs::OrgPolicy;
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

/// The organisation and its sign-in policy, as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct OrgView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub sso_enabled: bool,
    pub sso_required: bool,
    pub jit_provisioning: bool,
    pub scim_adopt_existing: bool,
    pub session_ttl_seconds: i64,
    pub session_idle_seconds: i64,
    pub created_at: String,
}

impl From<OrgRow> for OrgView {
    fn from(o: OrgRow) -> Self {
        OrgView {
            created_at: crate::scim::resource::format_datetime(o.created_at),
            id: o.id,
            slug: o.slug,
            name: o.name,
            sso_enabled: o.sso_enabled,
            sso_required: o.sso_required,
            jit_provisioning: o.jit_provisioning,
            scim_adopt_existing: o.scim_adopt_existing,
            session_ttl_seconds: o.session_ttl_seconds,
            session_idle_seconds: o.session_idle_seconds,
        }
    }
}

async fn org_row(conn: &impl sea_orm::ConnectionTrait, scope: &OrgScope) -> AppResult<OrgRow> {
    store::orgs::find(conn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("organisation {} is gone", scope.org_id)))
}

pub async fn settings(state: &AppState, scope: &OrgScope) -> AppResult<OrgView> {
    Ok(org_row(&state.db.read, scope).await?.into())
}

/// `PATCH /api/v1/org`: any subset of the settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgUpdate {
    pub name: Option<String>,
    pub sso_enabled: Option<bool>,
    pub sso_required: Option<bool>,
    pub jit_provisioning: Option<bool>,
    pub scim_adopt_existing: Option<bool>,
    pub session_ttl_seconds: Option<i64>,
    pub session_idle_seconds: Option<i64>,
}

/// Session lifetimes an organisation may choose: a minute to 30 days.
const SESSION_SECONDS: std::ops::RangeInclusive<i64> = 60..=30 * 24 * 3600;

#[derive(Debug, Serialize)]
pub struct OrgUpdated {
    pub org: OrgView,
    /// Accounts this change moved to SSO (turning `sso_required` on).
    pub switched_to_sso: u64,
}

/// Changes settings in one transaction. Turning `sso_required` on switches
/// every password account that is not break-glass to SSO, with the purge
/// of invariant 1, in the same transaction (DESIGN invariant 4).
pub async fn update_settings(
    state: &AppState,
    scope: &OrgScope,
    update: OrgUpdate,
) -> AppResult<OrgUpdated> {
    scope.require_admin()?;
    for (field, value) in [
        ("session_ttl_seconds", update.session_ttl_seconds),
        ("session_idle_seconds", update.session_idle_seconds),
    ] {
        if let Some(v) = value
            && !SESSION_SECONDS.contains(&v)
        {
            return Err(AppError::invalid_value(format!(
                "{field} must be between {} and {}, not {v}",
                SESSION_SECONDS.start(),
                SESSION_SECONDS.end()
            )));
        }
    }
    if let Some(name) = &update.name
        && (name.trim().is_empty() || name.len() > 200)
    {
        return Err(AppError::invalid_value(
            "name must be 1 to 200 bytes and not blank",
        ));
    }
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let current = store::orgs::find_for_update(&txn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal("the organisation is gone".into()))?;
    let before = OrgPolicy::from(&current);
    let mut next = before.clone();
    if let Some(v) = update.name {
        next.name = v.trim().to_string();
    }
    next.sso_enabled = update.sso_enabled.unwrap_or(next.sso_enabled);
    next.sso_required = update.sso_required.unwrap_or(next.sso_required);
    next.jit_provisioning = update.jit_provisioning.unwrap_or(next.jit_provisioning);
    next.scim_adopt_existing = update
        .scim_adopt_existing
        .unwrap_or(next.scim_adopt_existing);
    next.session_ttl_seconds = update
        .session_ttl_seconds
        .unwrap_or(next.session_ttl_seconds);
    next.session_idle_seconds = update
        .session_idle_seconds
        .unwrap_or(next.session_idle_seconds);
    if next.sso_required && !next.sso_enabled {
        return Err(AppError::invalid_value(
            "sso_required needs sso_enabled: turn SSO on before requiring it",
        ));
    }
    if next == before {
        drop(txn);
        return Ok(OrgUpdated {
            org: current.into(),
            switched_to_sso: 0,
        });
    }
    let row = store::orgs::update_policy(&txn, &current, &next).await?;
    let mut switched = 0;
    if next.sso_required && !before.sso_required {
        let accounts = store::accounts::switchable_accounts(&txn, &scope.org_id, None).await?;
        let ids: Vec<String> = accounts.iter().map(|(id, _)| id.clone()).collect();
        let system = scope.system();
        super::accounts::purge_to_sso(&txn, scope, &ids, "sso_required", now).await?;
        for id in &ids {
            audit::record(
                &txn,
                &system,
                now,
                Event {
                    action: "account.auth_mode_changed",
                    target_type: "account",
                    target_id: Some(id),
                    summary: json!({"from": "password", "to": "sso", "reason": "sso_required"}),
                },
            )
            .await?;
        }
        switched = ids.len() as u64;
    }
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "org.settings_changed",
            target_type: "organization",
            target_id: Some(&scope.org_id),
            summary: policy_diff(&before, &next, switched),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "organisation {} settings changed ({switched} accounts switched to SSO)",
        row.slug
    );
    Ok(OrgUpdated {
        org: row.into(),
        switched_to_sso: switched,
    })
}

pub(crate) fn policy_diff(before: &OrgPolicy, after: &OrgPolicy, switched: u64) -> Value {
    let mut changes = serde_json::Map::new();
    let mut note = |k: &str, a: Value, b: Value| {
        if a != b {
            changes.insert(k.into(), json!({"from": a, "to": b}));
        }
    };
    note("name", json!(before.name), json!(after.name));
    note(
        "sso_enabled",
        json!(before.sso_enabled),
        json!(after.sso_enabled),
    );
    note(
        "sso_required",
        json!(before.sso_required),
        json!(after.sso_required),
    );
    note(
        "jit_provisioning",
        json!(before.jit_provisioning),
        json!(after.jit_provisioning),
    );
    note(
        "scim_adopt_existing",
        json!(before.scim_adopt_existing),
        json!(after.scim_adopt_existing),
    );
    note(
        "session_ttl_seconds",
        json!(before.session_ttl_seconds),
        json!(after.session_ttl_seconds),
    );
    note(
        "session_idle_seconds",
        json!(before.session_idle_seconds),
        json!(after.session_idle_seconds),
    );
    json!({"changes": changes, "switched_to_sso": switched})
}

/// The dry run of requiring SSO: which accounts would move. Changes nothing.
#[derive(Debug, Serialize)]
pub struct RequireSsoPreview {
    pub count: u64,
    pub accounts: Vec<PreviewAccount>,
    pub truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct PreviewAccount {
    pub id: String,
    pub user_name: String,
}

const PREVIEW_LIMIT: u64 = 1000;

pub async fn require_sso_preview(
    state: &AppState,
    scope: &OrgScope,
) -> AppResult<RequireSsoPreview> {
    let txn = state.db.begin_read().await?;
    let count = store::accounts::count_switchable(&txn, &scope.org_id).await?;
    let accounts =
        store::accounts::switchable_accounts(&txn, &scope.org_id, Some(PREVIEW_LIMIT)).await?;
    Ok(RequireSsoPreview {
        count,
        truncated: count > accounts.len() as u64,
        accounts: accounts
            .into_iter()
            .map(|(id, user_name)| PreviewAccount { id, user_name })
            .collect(),
    })
}
