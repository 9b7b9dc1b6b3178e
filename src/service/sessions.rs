//! An account's sessions as support staff see them: which are live, and
//! ending one or all (a lost laptop, a person leaving). Ending is audited
//! with who did it; the person's next request needs a new sign-in.

use serde::Serialize;
use serde_json::json;

use super::audit::{self, Event};
use super::{AppState, OrgScope, users};
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::{self, sessions::SessionRow};

/// A live session, without anything that could resume it.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: String,
    /// `password` or `sso`.
    pub method: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub client_address: Option<String>,
}

impl From<SessionRow> for SessionView {
    fn from(s: SessionRow) -> Self {
        SessionView {
            id: s.id,
            method: s.method,
            created_at: format_datetime(s.created_at),
            last_seen_at: format_datetime(s.last_seen_at),
            expires_at: format_datetime(s.expires_at),
            client_address: s.client_address,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// `GET /api/v1/accounts/{id}/sessions`: the live ones, newest first.
pub async fn list(state: &AppState, scope: &OrgScope, account_id: &str) -> AppResult<SessionList> {
    users::find_existing(&state.db.read, scope, account_id).await?;
    let now = state.settings.clock.now();
    let rows = store::sessions::live_for_account(&state.db.read, &scope.org_id, account_id).await?;
    Ok(SessionList {
        sessions: rows
            .into_iter()
            .filter(|s| s.expires_at > now)
            .map(SessionView::from)
            .collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct Ended {
    pub sessions_ended: u64,
}

/// `DELETE /api/v1/accounts/{id}/sessions[/{session_id}]`: ends one live
/// session of the account, or (`None`) all of them.
pub async fn end(
    state: &AppState,
    scope: &OrgScope,
    account_id: &str,
    session_id: Option<&str>,
) -> AppResult<Ended> {
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let account = users::find_existing(&txn, scope, account_id).await?;
    super::accounts::require_admin_for_staff_account(scope, &account)?;
    let live = store::sessions::live_for_account(&txn, &scope.org_id, account_id).await?;
    let chosen: Vec<&SessionRow> = match session_id {
        Some(id) => {
            let one: Vec<&SessionRow> = live.iter().filter(|s| s.id == id).collect();
            if one.is_empty() {
                return Err(AppError::NotFound(format!(
                    "no live session {id} of this account"
                )));
            }
            one
        }
        None => live.iter().collect(),
    };
    let mut ended = 0;
    for session in &chosen {
        if store::sessions::end(&txn, &session.id, "ended_by_staff", now).await? {
            ended += 1;
        }
    }
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "session.ended",
            target_type: "account",
            target_id: Some(account_id),
            summary: json!({
                "reason": "ended_by_staff",
                "session_id": session_id,
                "sessions_ended": ended,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Ended {
        sessions_ended: ended,
    })
}
