//! Password sign-in, password resets, and sessions. A session is a row whose
//! token is stored hashed; it is checked on every use against its expiry,
//! idle time, the account's state and the account's auth mode.

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Event};
use super::{Actor, AppState, OrgScope, RequestMeta, blocking, mail};
use crate::domain::{AuthMode, check_new_password, password, secret, user_name_key};
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::{self, orgs::OrgRow, sessions::SessionRow, users::AccountRow};

/// Failed sign-ins allowed per account, and per client address, in the window.
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u64 = 20;
pub const FAILURE_WINDOW: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub org: String,
    pub user_name: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct LoginOk {
    pub account_id: String,
    pub expires_at: String,
}

/// A signed-in session: what the response says, and the cookie's secret.
pub struct NewSession {
    pub body: LoginOk,
    pub secret: String,
    pub max_age_seconds: i64,
    /// After a password sign-in: the device cookie that marks this browser
    /// as known to the account (set again to renew it).
    pub device_secret: Option<String>,
}

/// The sign-in URL of an organisation's SSO.
pub fn sso_url(base_url: &str, org_slug: &str) -> String {
    format!("{base_url}/login/{org_slug}")
}

/// An argon2id hash of nothing anyone knows, verified against when the user
/// does not exist, so that answer takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password::hash(&secret::generate("decoy").secret).unwrap_or_default())
}

async fn verify(password: String, hash: Option<String>) -> AppResult<bool> {
    blocking(move || match hash {
        Some(h) => password::verify(&password, &h),
        None => {
            // Spend the same time, then fail.
            let _ = password::verify(&password, decoy_hash());
            false
        }
    })
    .await
}

/// The longest user name a sign-in form takes: longer is refused before
/// anything is looked up or stored.
pub const MAX_SIGN_IN_USER_NAME_BYTES: usize = 1024;

/// How many browsers an account remembers (the most recently used).
const KNOWN_DEVICES_PER_ACCOUNT: u64 = 10;

/// How long a device cookie lives.
pub const DEVICE_COOKIE_SECONDS: i64 = 400 * 24 * 3600;

/// Counts one attempt for `key`, before its password is checked, or refuses
/// when the key has `limit` in the window (see `store::throttle`). Its own
/// transaction, committed at once, so the count holds for every request and
/// every instance from then on.
async fn reserve_attempt(
    state: &AppState,
    key: &str,
    limit: u64,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let txn = state.db.begin().await?;
    let reserved = store::throttle::reserve(&txn, key, limit, now - FAILURE_WINDOW, now).await?;
    txn.commit().await?;
    match reserved {
        store::throttle::Reservation::Counted(id) => Ok(id),
        store::throttle::Reservation::Full { oldest } => {
            let retry = oldest
                .map(|t| (t + FAILURE_WINDOW - now).num_seconds().max(1))
                .unwrap_or(FAILURE_WINDOW.num_seconds());
            state.metrics.sign_in("password", Err("throttled"));
            Err(AppError::TooManyAttempts {
                retry_after_secs: u64::try_from(retry).unwrap_or(1),
            })
        }
    }
}

/// Records a refused password sign-in in the audit log (within the client
/// address's budget, see `audit::record_refusal`). The attempt itself was
/// already counted by `reserve_attempt`.
async fn record_failure(
    state: &AppState,
    org: Option<&OrgRow>,
    account: Option<&AccountRow>,
    meta: &RequestMeta,
    reason: &str,
    user_name: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(org) = org {
        let actor = match account {
            Some(a) => Actor::Account { id: a.id.clone() },
            None => Actor::System,
        };
        let txn = state.db.begin().await?;
        audit::record_refusal(
            &txn,
            &OrgScope::new(&org.id, actor, meta),
            now,
            Event {
                action: "auth.sign_in_failed",
                target_type: "account",
                target_id: account.map(|a| a.id.as_str()),
                summary: json!({"method": "password", "reason": reason, "user_name": user_name}),
            },
        )
        .await?;
        txn.commit().await?;
    }
    state.metrics.sign_in("password", Err(reason));
    log::info!("password sign-in refused: {reason}");
    Ok(())
}

/// The throttle key of a sign-in to `account`: the account's own, or, from a
/// browser that signed in to it before, that browser's. Strangers guessing
/// at an account fill its key; its owner's browser still has its own.
async fn account_key(
    state: &AppState,
    account: &AccountRow,
    meta: &RequestMeta,
) -> AppResult<String> {
    if let Some(device) = &meta.browser.device {
        let hash = secret::hash(device);
        if store::devices::is_known(&state.db.read, &account.org_id, &account.id, &hash).await? {
            return Ok(format!("device:{}:{hash}", account.id));
        }
    }
    Ok(format!("account:{}", account.id))
}

/// `POST /auth/password/login`.
pub async fn login(
    state: &AppState,
    request: LoginRequest,
    meta: &RequestMeta,
) -> AppResult<NewSession> {
    let now = state.settings.clock.now();
    // Nothing of an oversized request is looked up or stored.
    if request.user_name.len() > MAX_SIGN_IN_USER_NAME_BYTES {
        return Err(AppError::invalid_value(format!(
            "the user name must be at most {MAX_SIGN_IN_USER_NAME_BYTES} bytes"
        )));
    }
    if request.password.len() > crate::domain::MAX_PASSWORD_BYTES {
        return Err(AppError::invalid_value(format!(
            "the password must be at most {} bytes",
            crate::domain::MAX_PASSWORD_BYTES
        )));
    }
    let address_attempt = match &meta.client_address {
        Some(address) => Some(
            reserve_attempt(
                state,
                &format!("address:{address}"),
                MAX_FAILURES_PER_ADDRESS,
                now,
            )
            .await?,
        ),
        None => None,
    };
    let org = if request.org.len() > 63 {
        None
    } else {
        store::orgs::find_by_slug(&state.db.read, &request.org).await?
    };
    let account = match &org {
        Some(o) => {
            store::accounts::find_by_user_name_key(
                &state.db.read,
                &o.id,
                &user_name_key(&request.user_name),
            )
            .await?
        }
        None => None,
    };
    // An account is looked up only in an organisation that was found.
    let (org, account) = match (org, account) {
        (Some(org), Some(account)) => (org, account),
        (org, _) => {
            verify(request.password, None).await?;
            record_failure(
                state,
                org.as_ref(),
                None,
                meta,
                "unknown_user",
                &request.user_name,
                now,
            )
            .await?;
            return Err(AppError::InvalidCredentials);
        }
    };
    let account_key = account_key(state, &account, meta).await?;
    reserve_attempt(state, &account_key, MAX_FAILURES_PER_ACCOUNT, now).await?;
    // DESIGN: refused for SSO accounts with a message naming the SSO sign-in;
    // invariant 4: under sso_required only break-glass accounts use a password.
    let sso_reason = if account.auth_mode == AuthMode::Sso.as_str() {
        Some("this account signs in through SSO")
    } else if org.sso_required && !account.break_glass {
        Some("your organisation requires SSO sign-in")
    } else {
        None
    };
    if let Some(reason) = sso_reason {
        record_failure(
            state,
            Some(&org),
            Some(&account),
            meta,
            "sso_required",
            &request.user_name,
            now,
        )
        .await?;
        return Err(AppError::SsoRequired {
            detail: format!("{reason}; sign in with SSO instead"),
            sso_url: sso_url(&state.base_url, &org.slug),
        });
    }
    if !verify(request.password, account.password_hash.clone()).await? {
        let reason = if account.password_hash.is_none() {
            "no_password_set"
        } else {
            "wrong_password"
        };
        record_failure(
            state,
            Some(&org),
            Some(&account),
            meta,
            reason,
            &request.user_name,
            now,
        )
        .await?;
        return Err(AppError::InvalidCredentials);
    }
    if !account.active {
        record_failure(
            state,
            Some(&org),
            Some(&account),
            meta,
            "deactivated",
            &request.user_name,
            now,
        )
        .await?;
        return Err(AppError::AccountDisabled);
    }
    // The session starts now, after the (slow) password check.
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let mut session = open_session(
        &txn,
        &org,
        &account.id,
        AuthMode::Password,
        json!({}),
        meta,
        now,
    )
    .await?;
    // The attempt succeeded: it is not a failure of the address, and the
    // account's (or this browser's) count starts again.
    if let Some(id) = address_attempt {
        store::throttle::release(&txn, id).await?;
    }
    store::throttle::clear(&txn, &account_key, now - FAILURE_WINDOW).await?;
    // This browser is now known to the account.
    let device = match &meta.browser.device {
        Some(d) => d.clone(),
        None => secret::generate("dev").secret,
    };
    store::devices::remember(
        &txn,
        &org.id,
        &account.id,
        &secret::hash(&device),
        now,
        KNOWN_DEVICES_PER_ACCOUNT,
    )
    .await?;
    txn.commit().await?;
    session.device_secret = Some(device);
    state.metrics.sign_in("password", Ok(()));
    log::info!("account {} signed in with a password", account.id);
    Ok(session)
}

/// Opens a session for an account that has just proved who it is, in the
/// caller's transaction: the row (its secret stored hashed) and the
/// `auth.sign_in` event, whose summary gets `details` beside the method and
/// the session id. The lifetime is the organisation's, whatever the IdP says.
pub(crate) async fn open_session(
    txn: &impl sea_orm::ConnectionTrait,
    org: &OrgRow,
    account_id: &str,
    method: AuthMode,
    details: serde_json::Value,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> AppResult<NewSession> {
    let token = secret::generate("sess");
    let expires_at = now + TimeDelta::seconds(org.session_ttl_seconds);
    // The browser's previous session (of whichever account) is replaced by
    // this one: its cookie is overwritten, so it ends on the server too.
    let replaced = match &meta.browser.session_hash {
        Some(previous) => store::sessions::end_by_hash(txn, previous, "replaced", now).await?,
        None => None,
    };
    let scope = OrgScope::new(
        &org.id,
        Actor::Account {
            id: account_id.to_string(),
        },
        meta,
    );
    let session = store::sessions::insert(
        txn,
        store::sessions::NewSession {
            org_id: &org.id,
            account_id,
            token_hash: &token.hash,
            method: method.as_str(),
            now,
            expires_at,
            client_address: meta.client_address.as_deref(),
        },
    )
    .await?;
    let mut summary = json!({"method": method.as_str(), "session_id": session.id});
    // Another organisation's session ends too, but is not named here.
    if let Some(replaced) = replaced.filter(|r| r.org_id == org.id) {
        summary["replaced_session_id"] = json!(replaced.id);
    }
    if let (Some(summary), serde_json::Value::Object(details)) = (summary.as_object_mut(), details)
    {
        summary.extend(details);
    }
    audit::record(
        txn,
        &scope,
        now,
        Event {
            action: "auth.sign_in",
            target_type: "account",
            target_id: Some(account_id),
            summary,
        },
    )
    .await?;
    Ok(NewSession {
        body: LoginOk {
            account_id: account_id.to_string(),
            expires_at: format_datetime(expires_at),
        },
        secret: token.secret,
        max_age_seconds: org.session_ttl_seconds,
        device_secret: None,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Serialize)]
pub struct ResetDone {
    pub account_id: String,
}

/// `POST /auth/password/reset`: sets the password, consumes the link, ends
/// the account's sessions.
pub async fn reset_password(
    state: &AppState,
    request: ResetRequest,
    meta: &RequestMeta,
) -> AppResult<ResetDone> {
    let now = state.settings.clock.now();
    if request.token.len() > 200 {
        return Err(AppError::InvalidResetToken);
    }
    let token_hash = secret::hash(&request.token);
    let reset = store::sessions::find_reset_by_hash(&state.db.read, &token_hash)
        .await?
        .filter(|r| secret::hashes_match(&r.token_hash, &token_hash))
        .filter(|r| r.used_at.is_none() && r.expires_at > now)
        .ok_or(AppError::InvalidResetToken)?;
    let account = store::users::find(&state.db.read, &reset.org_id, &reset.account_id)
        .await?
        .ok_or(AppError::InvalidResetToken)?;
    check_new_password(&request.new_password, &account.user_name)
        .map_err(AppError::invalid_value)?;
    let new_password = request.new_password;
    let hash = blocking(move || password::hash(&new_password))
        .await?
        .map_err(AppError::Internal)?;

    let txn = state.db.begin().await?;
    // Consume first: of two requests racing with one link, one wins.
    if !store::sessions::mark_reset_used(&txn, &reset.id, now).await? {
        return Err(AppError::InvalidResetToken);
    }
    let account = store::users::find_for_update(&txn, &reset.org_id, &reset.account_id)
        .await?
        .ok_or(AppError::InvalidResetToken)?;
    if !store::accounts::set_password_hash(&txn, &account.org_id, &account.id, &hash).await? {
        // The account moved to SSO after the link was issued.
        return Err(AppError::InvalidResetToken);
    }
    let ids = [account.id.clone()];
    let scope = OrgScope {
        org_id: account.org_id.clone(),
        actor: Actor::Account {
            id: account.id.clone(),
        },
        request: meta.clone(),
    };
    // The other links of the account are void now; so are its sessions.
    let withdrawn = store::sessions::delete_unused_resets(&txn, &account.org_id, &ids).await?;
    let mut redact = withdrawn;
    redact.push(reset.id.clone());
    store::outbox::redact_resets(&txn, &redact, mail::REDACTED_BODY).await?;
    let ended = super::accounts::end_sessions(&txn, &scope, &ids, "password_changed", now).await?;
    audit::record(
        &txn,
        &scope,
        now,
        Event {
            action: "account.password_set",
            target_type: "account",
            target_id: Some(&account.id),
            summary: json!({"via": "reset_link", "sessions_ended": ended}),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!("account {} set a password through a reset link", account.id);
    Ok(ResetDone {
        account_id: account.id,
    })
}

/// `GET /auth/session`.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub account_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub org: SessionOrg,
    pub auth_mode: String,
    pub break_glass: bool,
    pub method: String,
    pub created_at: String,
    pub expires_at: String,
    pub idle_expires_at: String,
}

#[derive(Debug, Serialize)]
pub struct SessionOrg {
    pub id: String,
    pub slug: String,
    pub name: String,
}

fn no_session() -> AppError {
    AppError::Unauthorized("no live session; sign in again".into())
}

/// Why a session may no longer be used, if it may not.
fn end_reason(
    session: &SessionRow,
    account: &AccountRow,
    org: &OrgRow,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    if now >= session.expires_at {
        Some("expired")
    } else if now - session.last_seen_at >= TimeDelta::seconds(org.session_idle_seconds) {
        Some("idle")
    } else if !account.active {
        Some("deactivated")
    } else if session.method == AuthMode::Password.as_str()
        && (account.auth_mode != AuthMode::Password.as_str()
            || (org.sso_required && !account.break_glass))
    {
        Some("auth_mode_changed")
    } else {
        None
    }
}

/// `GET /auth/session`: the live session, as the API shows it.
pub async fn current(
    state: &AppState,
    secret_value: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<SessionView> {
    Ok(live(state, secret_value, meta).await?.view)
}

/// A live session: its view, and the account row behind it (the dashboard
/// reads the organisation role from it, without reading the account again).
pub struct Live {
    pub view: SessionView,
    pub account: AccountRow,
}

/// The live session of this secret (ending it here if policy says it is
/// over), or 401.
pub async fn live(
    state: &AppState,
    secret_value: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<Live> {
    let now = state.settings.clock.now();
    let secret_value = secret_value.filter(|s| !s.is_empty() && s.len() <= 200);
    let Some(secret_value) = secret_value else {
        return Err(no_session());
    };
    let token_hash = secret::hash(secret_value);
    let session = store::sessions::find_live_by_hash(&state.db.read, &token_hash)
        .await?
        .filter(|s| secret::hashes_match(&s.token_hash, &token_hash))
        .ok_or_else(no_session)?;
    let account = store::users::find(&state.db.read, &session.org_id, &session.account_id).await?;
    let org = store::orgs::find(&state.db.read, &session.org_id).await?;
    let (Some(account), Some(org)) = (account, org) else {
        return Err(no_session());
    };
    if let Some(reason) = end_reason(&session, &account, &org, now) {
        let txn = state.db.begin().await?;
        if store::sessions::end(&txn, &session.id, reason, now).await? {
            audit::record(
                &txn,
                &OrgScope::new(&org.id, Actor::System, meta),
                now,
                Event {
                    action: "session.ended",
                    target_type: "account",
                    target_id: Some(&account.id),
                    summary: json!({"session_id": session.id, "reason": reason}),
                },
            )
            .await?;
        }
        txn.commit().await?;
        return Err(no_session());
    }
    // Idle time is counted in minutes: at most one write a minute per session.
    if now - session.last_seen_at >= TimeDelta::minutes(1) {
        store::sessions::touch(&state.db.write, &session.id, now).await?;
    }
    let last_seen = if now - session.last_seen_at >= TimeDelta::minutes(1) {
        now
    } else {
        session.last_seen_at
    };
    let idle_expires =
        (last_seen + TimeDelta::seconds(org.session_idle_seconds)).min(session.expires_at);
    let view = SessionView {
        account_id: account.id.clone(),
        user_name: account.user_name.clone(),
        display_name: account.display_name.clone(),
        org: SessionOrg {
            id: org.id,
            slug: org.slug,
            name: org.name,
        },
        auth_mode: account.auth_mode.clone(),
        break_glass: account.break_glass,
        method: session.method,
        created_at: format_datetime(session.created_at),
        expires_at: format_datetime(session.expires_at),
        idle_expires_at: format_datetime(idle_expires),
    };
    Ok(Live { view, account })
}

/// `POST /auth/logout`: ends the session if there is one.
pub async fn logout(
    state: &AppState,
    secret_value: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<()> {
    let Some(secret_value) = secret_value.filter(|s| !s.is_empty() && s.len() <= 200) else {
        return Ok(());
    };
    let now = state.settings.clock.now();
    let token_hash = secret::hash(secret_value);
    let Some(session) = store::sessions::find_live_by_hash(&state.db.read, &token_hash).await?
    else {
        return Ok(());
    };
    let Some(org) = store::orgs::find(&state.db.read, &session.org_id).await? else {
        return Ok(());
    };
    let txn = state.db.begin().await?;
    if store::sessions::end(&txn, &session.id, "signed_out", now).await? {
        audit::record(
            &txn,
            &OrgScope::new(
                &org.id,
                Actor::Account {
                    id: session.account_id.clone(),
                },
                meta,
            ),
            now,
            Event {
                action: "auth.sign_out",
                target_type: "account",
                target_id: Some(&session.account_id),
                summary: json!({"session_id": session.id}),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
