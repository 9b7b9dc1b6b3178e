//! Who is using the dashboard: a signed-in person whose account has the
//! organisation role `admin` or `support`. Their actions go through the same
//! use cases as the admin API, with the powers of an admin or a support
//! token, and the audit log names the person.

use super::{Actor, AppState, OrgScope, RequestMeta, signin};
use crate::domain::{AdminRole, OrgRole, secret};
use crate::error::{AppError, AppResult};

/// A person signed in to the dashboard.
#[derive(Debug, Clone)]
pub struct Staff {
    pub scope: OrgScope,
    pub account_id: String,
    pub user_name: String,
    pub role: AdminRole,
    pub org_slug: String,
    pub org_name: String,
    /// Ties the dashboard's forms to this session (see `csrf_token`).
    pub csrf: String,
}

impl Staff {
    pub fn is_admin(&self) -> bool {
        self.role == AdminRole::Admin
    }
}

/// The form token of a session: derived from its secret (which only the
/// browser's HttpOnly cookie holds), so it needs no storage, changes with
/// every sign-in, and a page of another site can neither read nor guess it.
pub fn csrf_token(session_secret: &str) -> String {
    secret::hash(&format!("scimlink-dashboard-form:{session_secret}"))
}

/// Whether a posted form token is this session's (in constant time).
pub fn csrf_matches(session_secret: &str, posted: &str) -> bool {
    secret::hashes_match(&csrf_token(session_secret), posted)
}

/// Why the dashboard is not open to this request.
#[derive(Debug)]
pub enum Refused {
    /// No live session: sign in first.
    SignIn,
    /// Signed in, without an organisation role.
    NotStaff { user_name: String, org_slug: String },
}

/// The person behind a session cookie, if they may use the dashboard.
pub async fn authenticate(
    state: &AppState,
    session_secret: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<Result<Staff, Refused>> {
    match signin::live(state, session_secret, meta).await {
        Ok(live) => Ok(of_session(&live, session_secret.unwrap_or_default(), meta)),
        Err(AppError::Unauthorized(_)) => Ok(Err(Refused::SignIn)),
        Err(e) => Err(e),
    }
}

/// Whether a live session's person may use the dashboard, and as whom.
pub fn of_session(
    live: &signin::Live,
    session_secret: &str,
    meta: &RequestMeta,
) -> Result<Staff, Refused> {
    let account = &live.account;
    let role = OrgRole::parse(&account.org_role)
        .ok()
        .and_then(OrgRole::staff);
    let Some(role) = role else {
        return Err(Refused::NotStaff {
            user_name: account.user_name.clone(),
            org_slug: live.view.org.slug.clone(),
        });
    };
    let actor = Actor::Staff {
        id: account.id.clone(),
        user_name: account.user_name.clone(),
        role,
    };
    Ok(Staff {
        scope: OrgScope::new(&live.view.org.id, actor, meta),
        account_id: account.id.clone(),
        user_name: account.user_name.clone(),
        role,
        org_slug: live.view.org.slug.clone(),
        org_name: live.view.org.name.clone(),
        csrf: csrf_token(session_secret),
    })
}
