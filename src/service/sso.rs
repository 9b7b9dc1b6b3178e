//! SSO sign-in, whatever the protocol: start a sign-in at a connection,
//! and, once the protocol module has verified what the IdP asserted, decide
//! which account that is (the matching function), link it, provision it
//! just in time, or refuse — clearly, and in the audit log — then open a
//! session of the organisation's lifetime.

use chrono::TimeDelta;
use serde_json::{Map, Value, json};

use super::audit::{self, Event};
use super::signin::{self, NewSession};
use super::users::{self, CreateOptions};
use super::{
    Actor, AppState, OrgScope, RequestMeta, connections, oidc, saml, saml_slo, saml_sp, secrets,
};
use crate::domain::linking::{Asserted, Jit, Match, SubjectKind};
use crate::domain::sso::{
    ConnectionKind, JitSetting, MatchOn, SamlAttribute, email_in_domains, safe_return_to,
};
use crate::domain::{AdminRole, AuthMode, OrgRole, secret};
use crate::error::{AppError, AppResult};
use crate::scim::resource::normalize;
use crate::scim::schema::USER_RESOURCE_TYPE;
use crate::store::{self, connections::ConnectionRow, is_unique_violation, orgs::OrgRow};

/// How long a started sign-in waits for the IdP's answer.
pub const REQUEST_TTL: TimeDelta = TimeDelta::minutes(10);

/// What the IdP asserted about the person, after the protocol's checks.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Assertion {
    /// The OIDC issuer or SAML IdP entity id (the connection's).
    pub issuer: String,
    /// `sub` or NameID.
    pub subject: String,
    /// Whether the subject names the person for good (a SAML transient
    /// NameID does not).
    #[serde(skip)]
    pub subject_kind: SubjectKind,
    /// An email the IdP vouches for (OIDC: only with `email_verified: true`).
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Every claim, for the matching rules (`email_verified`).
    pub claims: Value,
}

/// A sign-in that did not happen: the page the person sees, and for the
/// audit log what exactly failed (a protocol check's finding is for the
/// administrator, not the page).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub detail: String,
}

pub enum Outcome {
    SignedIn {
        session: NewSession,
        return_to: String,
    },
    Refused(Refusal),
    /// A test sign-in's answer, for the administrator who started it.
    Tested(Box<TestReport>),
}

/// Where a checked answer goes: the page after sign-in, and whether it was
/// an administrator's test (their account id).
pub struct Pending {
    return_to: String,
    test_by: Option<String>,
    /// The session the browser had when it started the sign-in: it ends when
    /// this one opens (a SAML answer is a cross-site post, which the session
    /// cookie does not ride).
    previous_session_hash: Option<String>,
}

fn refusal(status: u16, title: &'static str, message: impl Into<String>) -> Refusal {
    let message = message.into();
    Refusal {
        status,
        title,
        detail: message.clone(),
        message,
    }
}

/// A protocol check failed: the page says so in general, the audit log says
/// which. The detail may echo what an unauthenticated post sent, so it is
/// cut short before it reaches the append-only log.
fn protocol_failure(detail: String) -> Refusal {
    const MAX_DETAIL_CHARS: usize = 300;
    let detail = if detail.chars().count() > MAX_DETAIL_CHARS {
        let cut: String = detail.chars().take(MAX_DETAIL_CHARS).collect();
        format!("{cut}…")
    } else {
        detail
    };
    Refusal {
        status: 401,
        title: "The identity provider's answer was refused",
        message: "The answer failed a security check and was refused; your administrator can see which in the audit log. Start the sign-in again.".into(),
        detail,
    }
}

/// Records a refused SSO sign-in and builds the page saying why.
#[allow(clippy::too_many_arguments)]
async fn refuse(
    state: &AppState,
    connection: &ConnectionRow,
    account_id: Option<&str>,
    reason: &str,
    subject: Option<&str>,
    page: Refusal,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let now = state.settings.clock.now();
    // Nobody proved who they are: scimlink records the refusal, about the
    // account it concerns.
    let txn = state.db.begin().await?;
    audit::record_refusal(
        &txn,
        &OrgScope::new(&connection.org_id, Actor::System, meta),
        now,
        Event {
            action: "auth.sign_in_failed",
            target_type: "account",
            target_id: account_id,
            summary: json!({
                "method": "sso",
                "connection_id": connection.id,
                "reason": reason,
                "issuer": connection.issuer,
                "subject": subject,
                "detail": page.detail,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    state.metrics.sign_in(&connection.kind, Err(reason));
    log::info!(
        "SSO sign-in through connection {} refused: {reason}",
        connection.id
    );
    Ok(Outcome::Refused(page))
}

fn inactive_link() -> Refusal {
    refusal(
        404,
        "This sign-in link is not active",
        "The SSO connection does not exist or is turned off. Start again from your organisation's sign-in page.",
    )
}

/// A started sign-in: where the browser goes, and the secret of the cookie
/// that ties the IdP's answer to this browser (a callback URL alone, stolen
/// or planted, cannot finish it).
pub struct Started {
    pub redirect_to: String,
    pub browser_secret: String,
}

/// `GET /sso/{id}/start`: the URL to send the browser to at the IdP, or why not.
pub async fn start(
    state: &AppState,
    connection_id: &str,
    return_to: Option<&str>,
    from: &StartedFrom,
) -> AppResult<Result<Started, Refusal>> {
    let Some(connection) = store::connections::find_any(&state.db.read, connection_id)
        .await?
        .filter(|c| c.enabled)
    else {
        return Ok(Err(inactive_link()));
    };
    let sso_on = store::orgs::find(&state.db.read, &connection.org_id)
        .await?
        .is_some_and(|o| o.sso_enabled);
    if !sso_on {
        return Ok(Err(sso_disabled()));
    }
    let return_to = match safe_return_to(return_to) {
        Ok(r) => r,
        Err(e) => return Ok(Err(refusal(400, "This sign-in link is not valid", e))),
    };
    send_to_idp(state, &connection, &return_to, None, from).await
}

/// A test sign-in an administrator starts from the dashboard: the same
/// request to the IdP, on a connection enabled or not (it is tested before
/// it is turned on), whose answer is shown instead of signing anyone in.
pub async fn start_test(
    state: &AppState,
    scope: &OrgScope,
    connection_id: &str,
    from: &StartedFrom,
) -> AppResult<Result<Started, Refusal>> {
    scope.require_admin()?;
    let connection = store::connections::find(&state.db.read, &scope.org_id, connection_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no SSO connection {connection_id}")))?;
    let tester = scope
        .actor
        .id()
        .ok_or_else(|| AppError::Forbidden("a test sign-in is started by a person".into()))?;
    let back = format!("/admin/connections/{}", connection.id);
    send_to_idp(state, &connection, &back, Some(tester), from).await
}

/// Sign-ins started but not answered, at most, per client address (beyond,
/// a start is refused until some are answered or expire) and per browser
/// (beyond, its oldest is dropped: a person with many tabs is never refused).
pub const MAX_PENDING_PER_ADDRESS: u64 = 100;
pub const MAX_PENDING_PER_BROWSER: u64 = 10;

/// Who starts a sign-in: the client address, and the browser's SSO cookie
/// if it already has one (kept, so its pending sign-ins can be capped).
#[derive(Default)]
pub struct StartedFrom {
    pub client_address: Option<String>,
    pub browser_secret: Option<String>,
    /// The hash of the session cookie the browser has now, if any.
    pub session_hash: Option<String>,
}

fn too_many_pending() -> Refusal {
    refusal(
        429,
        "Too many sign-ins started",
        "Too many sign-ins were started from your network and not finished. Wait a few minutes, then start again.",
    )
}

/// Records the pending request and says where the browser goes.
async fn send_to_idp(
    state: &AppState,
    connection: &ConnectionRow,
    return_to: &str,
    test_by: Option<&str>,
    from: &StartedFrom,
) -> AppResult<Result<Started, Refusal>> {
    let now = state.settings.clock.now();
    // Checked before anything is fetched or stored.
    if let Some(address) = &from.client_address
        && store::connections::pending_from_address(&state.db.read, address, now).await?
            >= MAX_PENDING_PER_ADDRESS
    {
        log::warn!("SSO sign-in start refused: too many pending from {address}");
        return Ok(Err(too_many_pending()));
    }
    let force_login = test_by.is_some();
    let prepared = match ConnectionKind::parse(&connection.kind) {
        Ok(ConnectionKind::Oidc) => prepare_oidc(state, connection, force_login).await,
        Ok(ConnectionKind::Saml) => prepare_saml(state, connection, now, force_login).await,
        Err(_) => return Ok(Err(inactive_link())),
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(refusal) => return Ok(Err(refusal)),
    };
    // A browser's cookie is a 256-bit secret of ours; anything else is replaced.
    let browser = match from.browser_secret.as_deref() {
        Some(s) if s.starts_with("ssob_") && s.len() <= 100 => secret::NewSecret {
            hash: secret::hash(s),
            secret: s.to_string(),
        },
        _ => secret::generate("ssob"),
    };
    let txn = state.db.begin().await?;
    store::connections::purge_expired(&txn, now).await?;
    if let Some(address) = &from.client_address {
        // Again under the write lock, so racing starts cannot all pass.
        store::advisory_lock(&txn, &format!("scimlink.sso_start:{address}")).await?;
        if store::connections::pending_from_address(&txn, address, now).await?
            >= MAX_PENDING_PER_ADDRESS
        {
            return Ok(Err(too_many_pending()));
        }
    }
    store::connections::trim_browser_requests(&txn, &browser.hash, MAX_PENDING_PER_BROWSER - 1)
        .await?;
    store::connections::insert_request(
        &txn,
        store::connections::NewRequest {
            state_hash: &secret::hash(&prepared.answer_key),
            browser_hash: &browser.hash,
            org_id: &connection.org_id,
            connection_id: &connection.id,
            nonce: prepared.nonce.as_deref(),
            pkce_verifier: prepared.pkce_verifier.as_deref(),
            return_to,
            test_by,
            client_address: from.client_address.as_deref(),
            previous_session_hash: from.session_hash.as_deref(),
            now,
            expires_at: now + REQUEST_TTL,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(Started {
        redirect_to: prepared.redirect_to,
        browser_secret: browser.secret,
    }))
}

/// A sign-in request about to go to the IdP: where the browser goes, and
/// what the answer will carry to find it again (the OIDC state, the SAML
/// request ID), stored hashed.
struct Prepared {
    redirect_to: String,
    answer_key: String,
    nonce: Option<String>,
    pkce_verifier: Option<String>,
}

async fn prepare_oidc(
    state: &AppState,
    connection: &ConnectionRow,
    force_login: bool,
) -> Result<Prepared, Refusal> {
    let discovery = match state
        .oidc_providers
        .discovery(
            &state.outbound,
            &connection.issuer,
            state.settings.clock.now(),
        )
        .await
    {
        Ok(d) => d,
        Err(e) => {
            log::warn!("connection {}: {e}", connection.id);
            return Err(refusal(
                502,
                "Your identity provider cannot be reached",
                "scimlink could not read the identity provider's configuration. Try again in a moment; if it persists, tell your administrator.",
            ));
        }
    };
    // State, nonce and PKCE verifier: 256 random bits each.
    let state_value = secret::random_token();
    let nonce = secret::random_token();
    let verifier = secret::random_token();
    let redirect_uri = connections::redirect_uri(&state.base_url, &connection.id);
    let scopes = connections::scopes_of(connection);
    let url = match oidc::authorize_url(
        &discovery,
        &oidc::AuthorizeRequest {
            client_id: connection.oidc_client_id.as_deref().unwrap_or_default(),
            redirect_uri: &redirect_uri,
            scopes: &scopes,
            state: &state_value,
            nonce: &nonce,
            pkce_verifier: &verifier,
            force_login,
        },
    ) {
        Ok(u) => u,
        Err(e) => {
            log::warn!("connection {}: {e}", connection.id);
            return Err(refusal(502, "Your identity provider is misconfigured", e));
        }
    };
    Ok(Prepared {
        redirect_to: url,
        answer_key: state_value,
        nonce: Some(nonce),
        pkce_verifier: Some(verifier),
    })
}

async fn prepare_saml(
    state: &AppState,
    connection: &ConnectionRow,
    now: chrono::DateTime<chrono::Utc>,
    force_authn: bool,
) -> Result<Prepared, Refusal> {
    let misconfigured = |e: String| {
        log::warn!("connection {}: {e}", connection.id);
        refusal(502, "Your identity provider is misconfigured", e)
    };
    let keys = match saml_sp::keys(state, connection).await {
        Ok(k) => k,
        Err(AppError::Conflict(detail)) => {
            log::error!("connection {}: {detail}", connection.id);
            return Err(refusal(
                503,
                "SAML sign-in is not set up on this server",
                "scimlink has no key to keep this connection's SAML keys with. Tell your administrator.",
            ));
        }
        Err(e) => {
            log::error!("connection {}: {e}", connection.id);
            return Err(refusal(
                500,
                "Something went wrong",
                "scimlink could not prepare the sign-in. Try again in a moment.",
            ));
        }
    };
    let request_id = saml::new_request_id();
    let url = saml_sp::signed_authn_request_url(
        &saml_sp::AuthnRequestParts {
            idp_sso_url: connection.saml_idp_sso_url.as_deref().unwrap_or_default(),
            sp_entity_id: &saml::sp_entity_id(&state.base_url, &connection.id),
            acs_url: &saml::acs_url(&state.base_url, &connection.id),
            request_id: &request_id,
            now,
            force_authn,
        },
        &keys.signing.private_key_pem,
    )
    .map_err(misconfigured)?;
    Ok(Prepared {
        redirect_to: url,
        answer_key: request_id,
        nonce: None,
        pkce_verifier: None,
    })
}

/// scimlink cannot use the connection's stored settings (its client secret
/// does not open with the configured keys): the administrator's to fix.
fn unusable_connection(detail: String) -> Refusal {
    let mut page = refusal(
        503,
        "SSO sign-in through this connection is not available",
        "scimlink cannot use this connection's settings. Tell your administrator; the audit log says why.",
    );
    page.detail = detail;
    page
}

fn sso_disabled() -> Refusal {
    refusal(
        403,
        "SSO sign-in is turned off",
        "Your organisation has turned SSO sign-in off. Ask your administrator.",
    )
}

/// The query of `GET /sso/oidc/{id}/callback`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct OidcCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Why a callback stops before `complete`: a refusal (its audit reason and
/// page), or scimlink itself failing (the database).
enum Stop {
    Refused(&'static str, Refusal),
    Broken(AppError),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        Stop::Broken(e)
    }
}

impl From<sea_orm::DbErr> for Stop {
    fn from(e: sea_orm::DbErr) -> Self {
        Stop::Broken(e.into())
    }
}

fn stop(reason: &'static str, page: Refusal) -> Stop {
    Stop::Refused(reason, page)
}

/// `GET /sso/oidc/{id}/callback`: every check, then `complete`.
pub async fn oidc_callback(
    state: &AppState,
    connection_id: &str,
    callback: OidcCallback,
    browser_secret: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let Some(connection) = connection_of_kind(state, connection_id, ConnectionKind::Oidc).await?
    else {
        return Ok(Outcome::Refused(inactive_link()));
    };
    let checked = check_oidc_answer(state, &connection, callback, browser_secret).await;
    finish(state, &connection, checked, meta).await
}

/// The connection an answer is for, of the kind it came by: an enabled one,
/// or a disabled one while an administrator's test sign-in through it waits
/// for its answer (`finish` still refuses any answer that is not the test's).
/// Otherwise a disabled connection's endpoints are not there at all.
async fn connection_of_kind(
    state: &AppState,
    connection_id: &str,
    kind: ConnectionKind,
) -> AppResult<Option<ConnectionRow>> {
    let Some(connection) = store::connections::find_any(&state.db.read, connection_id)
        .await?
        .filter(|c| c.kind == kind.as_str())
    else {
        return Ok(None);
    };
    if connection.enabled {
        return Ok(Some(connection));
    }
    let now = state.settings.clock.now();
    let testing = store::connections::has_pending_test(&state.db.read, &connection.id, now).await?;
    Ok(testing.then_some(connection))
}

/// After the protocol's checks: the account decision, or the refusal
/// recorded.
async fn finish(
    state: &AppState,
    connection: &ConnectionRow,
    checked: Result<(Assertion, Pending), Stop>,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    match checked {
        Ok((assertion, pending)) => match pending.test_by {
            Some(tester) => test_report(state, connection, assertion, &tester, meta).await,
            // A real sign-in needs the connection on; a test does not.
            None if !connection.enabled => Ok(Outcome::Refused(inactive_link())),
            None => {
                let mut meta = meta.clone();
                if meta.browser.session_hash.is_none() {
                    meta.browser.session_hash = pending.previous_session_hash;
                }
                complete(state, connection, assertion, pending.return_to, &meta).await
            }
        },
        Err(Stop::Refused(reason, page)) => {
            refuse(state, connection, None, reason, None, page, meta).await
        }
        Err(Stop::Broken(e)) => Err(e),
    }
}

fn start_again(why: &str) -> Refusal {
    refusal(
        400,
        "This sign-in cannot be finished",
        format!("{why}. Start the sign-in again."),
    )
}

/// Takes the pending request an answer names (the OIDC state, the SAML
/// InResponseTo) before anything else is checked, so it answers once; then
/// checks it is this connection's, still live, and this browser's.
async fn take_pending(
    state: &AppState,
    connection: &ConnectionRow,
    key: &str,
    unknown_reason: &'static str,
    browser_secret: Option<&str>,
) -> Result<store::connections::RequestRow, Stop> {
    let now = state.settings.clock.now();
    // Taken before anything else is checked: a state answers once.
    let request = {
        let txn = state.db.begin().await?;
        let request = store::connections::take_request(&txn, &secret::hash(key)).await?;
        txn.commit().await?;
        request
    };
    let request = match request {
        Some(r) if r.connection_id == connection.id && now < r.expires_at => r,
        Some(r) if r.connection_id != connection.id => {
            return Err(stop(
                unknown_reason,
                start_again("The answer is for another connection"),
            ));
        }
        Some(_) => {
            return Err(stop(
                "request_expired",
                start_again("The sign-in took longer than 10 minutes"),
            ));
        }
        None => {
            return Err(stop(
                unknown_reason,
                start_again(
                    "This answer does not belong to a sign-in started here, or it was used already",
                ),
            ));
        }
    };
    let same_browser = browser_secret
        .is_some_and(|b| secret::hashes_match(&secret::hash(b), &request.browser_hash));
    if !same_browser {
        return Err(stop(
            "wrong_browser",
            start_again("This sign-in was started in another browser"),
        ));
    }
    Ok(request)
}

/// The OIDC checks, in order; the verified assertion and where to go after.
async fn check_oidc_answer(
    state: &AppState,
    connection: &ConnectionRow,
    callback: OidcCallback,
    browser_secret: Option<&str>,
) -> Result<(Assertion, Pending), Stop> {
    let state_value = callback
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(|| {
            stop(
                "missing_state",
                start_again("The identity provider's answer has no state"),
            )
        })?;
    let request = take_pending(
        state,
        connection,
        state_value,
        "wrong_state",
        browser_secret,
    )
    .await?;
    let discovery = state
        .oidc_providers
        .discovery(
            &state.outbound,
            &connection.issuer,
            state.settings.clock.now(),
        )
        .await
        .map_err(|e| stop("idp_unreachable", protocol_failure(e)))?;
    // RFC 9207 §2.4: an error answer carries iss too, and is checked first.
    oidc::check_iss_parameter(&discovery, callback.iss.as_deref())
        .map_err(|e| stop("wrong_iss", protocol_failure(e)))?;
    if let Some(error) = &callback.error {
        let description = callback.error_description.as_deref().unwrap_or_default();
        let mut page = refusal(
            401,
            "Your identity provider did not sign you in",
            "Your identity provider ended the sign-in without signing you in. Start the sign-in again, or ask your administrator.",
        );
        let shown: String = format!("{error} {description}").chars().take(300).collect();
        page.detail = format!("the provider answered {shown:?}");
        return Err(stop("idp_error", page));
    }
    let code = callback
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            stop(
                "missing_code",
                protocol_failure("the answer has no code".into()),
            )
        })?;
    let redirect_uri = connections::redirect_uri(&state.base_url, &connection.id);
    let client_id = connection.oidc_client_id.clone().unwrap_or_default();
    let verifier = request.pkce_verifier.clone().unwrap_or_default();
    let client_secret = secrets::client_secret(&state.settings, connection)
        .map_err(|e| stop("client_secret_unusable", unusable_connection(e)))?;
    let id_token = oidc::exchange_code(
        &state.outbound,
        &discovery,
        &oidc::CodeExchange {
            code,
            redirect_uri: &redirect_uri,
            client_id: &client_id,
            client_secret: client_secret.as_ref().map(|s| s.expose()),
            pkce_verifier: &verifier,
        },
    )
    .await
    .map_err(|e| stop("code_exchange_failed", protocol_failure(e)))?;
    let keys = state
        .oidc_providers
        .keys_for(
            &state.outbound,
            &discovery,
            &id_token,
            state.settings.clock.now(),
        )
        .await
        .map_err(|e| stop("idp_unreachable", protocol_failure(e)))?;
    let claims = oidc::verify_id_token(
        &id_token,
        &keys,
        &oidc::Expected {
            issuer: &connection.issuer,
            client_id: &client_id,
            nonce: request.nonce.as_deref().unwrap_or_default(),
            now: state.settings.clock.now(),
            skew_seconds: state.settings.sso_clock_skew_seconds,
        },
    )
    .map_err(|e| stop("id_token_invalid", protocol_failure(e)))?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let email_verified = claims.get("email_verified").and_then(Value::as_bool) == Some(true);
    let assertion = Assertion {
        issuer: connection.issuer.clone(),
        subject: text("sub").unwrap_or_default(),
        subject_kind: SubjectKind::Stable,
        // OIDC Core §5.7: an email is the person's only when verified.
        email: text("email").filter(|_| email_verified),
        display_name: text("name"),
        given_name: text("given_name"),
        family_name: text("family_name"),
        claims: claims.clone(),
    };
    Ok((
        assertion,
        Pending {
            return_to: request.return_to,
            test_by: request.test_by,
            previous_session_hash: request.previous_session_hash,
        },
    ))
}

/// `GET /sso/saml/{id}/metadata`: scimlink's SP metadata for a SAML
/// connection, enabled or not (an admin gives it to the IdP before turning
/// the connection on). `None`: no such SAML connection.
pub async fn saml_metadata(state: &AppState, connection_id: &str) -> AppResult<Option<String>> {
    let connection = store::connections::find_any(&state.db.read, connection_id)
        .await?
        .filter(|c| c.kind == ConnectionKind::Saml.as_str());
    match connection {
        Some(c) => Ok(Some(saml_sp::metadata(state, &c).await?)),
        None => Ok(None),
    }
}

/// The form of `POST /sso/saml/{id}/acs` (HTTP-POST binding).
#[derive(Debug, Default)]
pub struct SamlPost {
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
}

/// `POST /sso/saml/{id}/acs`: every check, then `complete`.
pub async fn saml_acs(
    state: &AppState,
    connection_id: &str,
    post: SamlPost,
    browser_secret: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let Some(connection) = connection_of_kind(state, connection_id, ConnectionKind::Saml).await?
    else {
        return Ok(Outcome::Refused(inactive_link()));
    };
    let checked = check_saml_answer(state, &connection, post, browser_secret).await;
    finish(state, &connection, checked, meta).await
}

/// The SAML checks, in order; the verified assertion and where to go after.
async fn check_saml_answer(
    state: &AppState,
    connection: &ConnectionRow,
    post: SamlPost,
    browser_secret: Option<&str>,
) -> Result<(Assertion, Pending), Stop> {
    let malformed = |detail: String| stop("response_malformed", protocol_failure(detail));
    let encoded: String = post
        .saml_response
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if encoded.is_empty() {
        return Err(malformed("the post has no SAMLResponse".into()));
    }
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &encoded)
        .map_err(|e| malformed(format!("SAMLResponse is not base64: {e}")))?;
    if decoded.len() > saml::MAX_XML_BYTES {
        return Err(malformed(format!(
            "the response is larger than {} bytes",
            saml::MAX_XML_BYTES
        )));
    }
    let xml =
        String::from_utf8(decoded).map_err(|_| malformed("the response is not UTF-8".into()))?;
    let xml = saml_sp::decrypt_response(state, connection, xml)
        .await?
        .map_err(|e| stop("decryption_failed", protocol_failure(e)))?;
    let survey = saml::survey(&xml).map_err(malformed)?;
    let (request_id, pending) = match survey.in_response_to.as_deref() {
        Some(id) => {
            if id.is_empty() || id.len() > 256 {
                return Err(stop(
                    "unknown_in_response_to",
                    start_again("This answer does not belong to a sign-in started here"),
                ));
            }
            let request = take_pending(
                state,
                connection,
                id,
                "unknown_in_response_to",
                browser_secret,
            )
            .await?;
            (
                Some(id.to_string()),
                Pending {
                    return_to: request.return_to,
                    test_by: request.test_by,
                    previous_session_hash: request.previous_session_hash,
                },
            )
        }
        None if connection.saml_allow_idp_initiated && connection.enabled => {
            // Unsolicited: RelayState, where IdPs put the place to land, is
            // taken only as a path on this server.
            let return_to =
                safe_return_to(post.relay_state.as_deref()).unwrap_or_else(|_| "/".into());
            (
                None,
                Pending {
                    return_to,
                    test_by: None,
                    previous_session_hash: None,
                },
            )
        }
        None => {
            return Err(stop(
                "idp_initiated_refused",
                refusal(
                    403,
                    "Start the sign-in from your organisation's sign-in page",
                    "This connection accepts only sign-ins started at scimlink, not from the identity provider's dashboard. Start from your organisation's sign-in page.",
                ),
            ));
        }
    };
    let now = state.settings.clock.now();
    let sp_entity_id = saml::sp_entity_id(&state.base_url, &connection.id);
    let acs_url = saml::acs_url(&state.base_url, &connection.id);
    // libxmlsec1 works synchronously: off the async workers.
    let metadata = connection.saml_idp_metadata_xml.clone().unwrap_or_default();
    let skew_seconds = state.settings.sso_clock_skew_seconds;
    let verified = super::blocking(move || {
        saml::verify_response(
            &xml,
            &survey,
            &saml::Expected {
                idp_metadata_xml: &metadata,
                sp_entity_id: &sp_entity_id,
                acs_url: &acs_url,
                request_id: request_id.as_deref(),
                now,
                skew_seconds,
            },
        )
    })
    .await?
    .map_err(|r| stop(r.reason, protocol_failure(r.detail)))?;
    // The replay cache: an assertion signs someone in once.
    store::connections::purge_expired_assertions(&state.db.write, now).await?;
    let first_time = store::connections::remember_assertion(
        &state.db.write,
        &connection.id,
        &secret::hash(&verified.assertion_id),
        now,
        verified.remember_until,
    )
    .await?;
    if !first_time {
        return Err(stop(
            "replayed",
            protocol_failure(format!(
                "assertion {:?} was accepted before",
                verified.assertion_id.chars().take(100).collect::<String>()
            )),
        ));
    }
    let attributes: Map<String, Value> = verified
        .attributes
        .iter()
        .map(|(name, values)| (name.clone(), json!(values)))
        .collect();
    let assertion = Assertion {
        issuer: connection.issuer.clone(),
        subject: verified.name_id.clone(),
        subject_kind: SubjectKind::of_name_id_format(verified.name_id_format.as_deref()),
        email: verified.email(),
        display_name: verified.attribute(SamlAttribute::DisplayName.names()),
        given_name: verified.attribute(SamlAttribute::GivenName.names()),
        family_name: verified.attribute(SamlAttribute::FamilyName.names()),
        claims: json!({
            "name_id": verified.name_id,
            "name_id_format": verified.name_id_format,
            "session_index": verified.session_index,
            "attributes": attributes,
        }),
    };
    Ok((assertion, pending))
}

/// The value the connection's rule compares, or why there is none.
fn match_value(rule: MatchOn, assertion: &Assertion) -> Result<String, Refusal> {
    match rule {
        MatchOn::ExternalUserId => Ok(assertion.subject.clone()),
        MatchOn::Email => assertion.email.clone().ok_or_else(|| {
            refusal(
                403,
                "Your identity provider did not send a verified email",
                "This connection finds your account by email, and the identity provider sent none it has verified. Ask your administrator.",
            )
        }),
        // The subject, not `preferred_username`: OIDC Core §5.7 says that
        // claim is neither stable nor unique, and people can often edit it.
        MatchOn::UserName => Ok(assertion.subject.clone()),
    }
}

/// What a verified assertion leads to, decided without changing anything:
/// `complete` acts on it; a test sign-in only shows it.
#[derive(Debug)]
pub enum Decision {
    /// An existing account, reached `via` its link, a new link or the rule.
    SignIn { account_id: String, via: Via },
    /// Nobody matches, and JIT makes an account.
    Provision,
    Refuse {
        reason: &'static str,
        account_id: Option<String>,
        page: Refusal,
    },
}

/// How a sign-in reaches an existing account.
#[derive(Debug)]
pub enum Via {
    /// Its identity link (the id).
    Link(String),
    /// The connection's rule found it; this first sign-in makes the link.
    NewLink,
    /// The connection's rule found it by an attribute; the subject is
    /// transient, so nothing is linked.
    Rule,
}

fn refuse_with(reason: &'static str, account_id: Option<String>, page: Refusal) -> Decision {
    Decision::Refuse {
        reason,
        account_id,
        page,
    }
}

/// The matching function over a verified assertion: the organisation's SSO
/// switch, the connection's email domains and rule, then the identity link,
/// a match, JIT or a refusal.
pub async fn decide(
    state: &AppState,
    org: &OrgRow,
    connection: &ConnectionRow,
    assertion: &Assertion,
) -> AppResult<Decision> {
    if !org.sso_enabled {
        return Ok(refuse_with("sso_disabled", None, sso_disabled()));
    }
    let domains = connections::email_domains_of(connection);
    if !domains.is_empty() {
        // Only an email the IdP vouches for counts, never an email-shaped subject.
        let inside = assertion
            .email
            .as_deref()
            .is_some_and(|e| email_in_domains(e, &domains));
        if !inside {
            let page = refusal(
                403,
                "This email is not accepted here",
                format!(
                    "This connection accepts people with an email at {}. Sign in with another connection, or ask your administrator.",
                    domains.join(", ")
                ),
            );
            return Ok(refuse_with("email_domain", None, page));
        }
    }
    let rule = MatchOn::parse(&connection.match_on).unwrap_or(MatchOn::ExternalUserId);
    let value = match match_value(rule, assertion) {
        Ok(v) => v,
        Err(page) => return Ok(refuse_with("no_verified_email", None, page)),
    };
    let asserted = Asserted {
        rule,
        value: &value,
        subject_kind: assertion.subject_kind,
        email: assertion.email.as_deref(),
        claims: &assertion.claims,
    };
    let found = super::linking::resolve(
        &state.db.read,
        &org.id,
        &assertion.issuer,
        &assertion.subject,
        &asserted,
    )
    .await?;
    let ask = "Ask your administrator.";
    Ok(match found {
        Match::Linked {
            link_id,
            account_id,
        } => Decision::SignIn {
            account_id,
            via: Via::Link(link_id),
        },
        Match::LinkTo { account_id } => Decision::SignIn {
            account_id,
            via: Via::NewLink,
        },
        Match::Unlinked { account_id } => Decision::SignIn {
            account_id,
            via: Via::Rule,
        },
        Match::NoAccount { jit: allowed } => {
            let jit = JitSetting::parse(&connection.jit)
                .unwrap_or(JitSetting::Inherit)
                .enabled(org.jit_provisioning);
            match (jit, allowed) {
                (false, _) => {
                    let page = refusal(
                        403,
                        "There is no account for you here",
                        format!("{} has no account for this person. {ask}", org.name),
                    );
                    refuse_with("no_account", None, page)
                }
                (true, Jit::Allowed) => Decision::Provision,
                (true, Jit::TransientSubject) => {
                    refuse_with("transient_name_id", None, transient_name_id(rule))
                }
                (true, Jit::NoEmail) => {
                    let page = refusal(
                        403,
                        "Your account cannot be created",
                        format!(
                            "{} creates accounts only for people whose identity provider sends a verified email, and yours sent none. Ask your administrator to have the identity provider send your email (OpenID Connect: the email scope, with email_verified; SAML: an email attribute).",
                            org.name
                        ),
                    );
                    refuse_with("jit_without_email", None, page)
                }
            }
        }
        Match::Ambiguous { account_ids } => {
            let page = refusal(
                409,
                "More than one account matches you",
                format!(
                    "{} accounts match this person, and scimlink never guesses. {ask}",
                    account_ids.len()
                ),
            );
            refuse_with("ambiguous", None, page)
        }
        Match::Deactivated { account_id } => {
            let page = refusal(
                403,
                "This account is deactivated",
                format!("Your account is deactivated. {ask}"),
            );
            refuse_with("deactivated", Some(account_id), page)
        }
        Match::LinkedElsewhere { account_id } => {
            let page = refusal(
                409,
                "This account is linked to someone else",
                format!(
                    "The matching account is already linked to another identity at this provider. {ask}"
                ),
            );
            refuse_with("linked_elsewhere", Some(account_id), page)
        }
        Match::UnverifiedEmail => {
            let page = refusal(
                403,
                "Your email is not verified",
                "Your identity provider says this email is not verified, so it cannot identify you.",
            );
            refuse_with("unverified_email", None, page)
        }
        Match::TransientSubject => refuse_with("transient_name_id", None, transient_name_id(rule)),
    })
}

/// The page refusing a transient NameID where a lasting identifier is
/// needed: what the IdP must send instead.
fn transient_name_id(rule: MatchOn) -> Refusal {
    let why = match rule {
        MatchOn::Email => "so scimlink cannot make an account from it",
        MatchOn::ExternalUserId | MatchOn::UserName => {
            "so scimlink cannot find or link your account by it"
        }
    };
    refusal(
        403,
        "Your identity provider sent a one-time identifier",
        format!(
            "Your identity provider identified you with a transient NameID, which changes at every sign-in, {why}. Ask your administrator to have the identity provider send a persistent NameID (or the id its SCIM sends as externalId, or your email), or to match this connection on email with an email attribute."
        ),
    )
}

/// What a test sign-in shows its administrator: what the IdP asserted, and
/// what scimlink would do with it.
#[derive(Debug, serde::Serialize)]
pub struct TestReport {
    pub connection_id: String,
    pub connection_name: String,
    pub connection_enabled: bool,
    /// What the IdP sent, after every check.
    pub sent: Assertion,
    /// Its claims or attributes, as readable JSON.
    pub claims: String,
    /// `sign_in`, `link_and_sign_in`, `provision` or `refuse`.
    pub outcome: &'static str,
    pub verdict: String,
    pub account_id: Option<String>,
    pub account_user_name: Option<String>,
}

/// Decides as a real sign-in would, changes nothing, and reports (audited
/// as `connection.tested`).
async fn test_report(
    state: &AppState,
    connection: &ConnectionRow,
    assertion: Assertion,
    tester: &str,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let Some(mut org) = store::orgs::find(&state.db.read, &connection.org_id).await? else {
        return Ok(Outcome::Refused(inactive_link()));
    };
    // The tester must still be an admin when the answer comes back.
    let tester = store::users::find(&state.db.read, &org.id, tester)
        .await?
        .filter(|a| a.active && OrgRole::parse(&a.org_role) == Ok(OrgRole::Admin));
    let Some(tester) = tester else {
        return Ok(Outcome::Refused(refusal(
            403,
            "Not allowed",
            "Only an administrator of the organisation can test a connection.",
        )));
    };
    // Testing comes before SSO is on (enabling the first connection turns it
    // on): decide as if it were, and say so.
    let sso_off = !org.sso_enabled;
    org.sso_enabled = true;
    let decision = decide(state, &org, connection, &assertion).await?;
    let user_name_of = |id: String| async move {
        store::users::find(&state.db.read, &org.id, &id)
            .await
            .map(|row| row.map(|r| (r.id, r.user_name, r.active, r.auth_mode)))
    };
    let (outcome, verdict, reason, account) = match decision {
        Decision::SignIn { account_id, via } => match user_name_of(account_id).await? {
            Some((id, user_name, active, auth_mode)) => {
                if !active {
                    let v = format!("Refused: {user_name} is deactivated.");
                    ("refuse", v, Some("deactivated"), Some((id, user_name)))
                } else if auth_mode != AuthMode::Sso.as_str() {
                    let v = format!(
                        "Refused: {user_name} signs in with a password; switch it to SSO first."
                    );
                    ("refuse", v, Some("password_mode"), Some((id, user_name)))
                } else if let Via::Link(_) = via {
                    let v = format!("Signs in to {user_name}, through its identity link.");
                    ("sign_in", v, None, Some((id, user_name)))
                } else if let Via::Rule = via {
                    let v = format!(
                        "Signs in to {user_name} (the connection's match rule found it by email) without linking: the NameID is transient."
                    );
                    ("sign_in", v, None, Some((id, user_name)))
                } else {
                    let v = format!(
                        "Links this identity to {user_name} (the connection's match rule found it) and signs in."
                    );
                    ("link_and_sign_in", v, None, Some((id, user_name)))
                }
            }
            None => (
                "refuse",
                "Refused: the account was removed.".to_string(),
                Some("no_account"),
                None,
            ),
        },
        Decision::Provision => (
            "provision",
            "Creates a new account for this person (JIT) and signs in.".to_string(),
            None,
            None,
        ),
        Decision::Refuse {
            reason,
            page,
            account_id,
        } => {
            let account = match account_id {
                Some(id) => user_name_of(id).await?.map(|(id, n, _, _)| (id, n)),
                None => None,
            };
            (
                "refuse",
                format!("Refused ({reason}): {}", page.message),
                Some(reason),
                account,
            )
        }
    };
    let verdict = if sso_off {
        format!(
            "{verdict} (Once SSO is on for the organisation: it is off now, and enabling this connection turns it on.)"
        )
    } else {
        verdict
    };
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    audit::record(
        &txn,
        &OrgScope::new(
            &connection.org_id,
            Actor::Staff {
                id: tester.id.clone(),
                user_name: tester.user_name.clone(),
                role: AdminRole::Admin,
            },
            meta,
        ),
        now,
        Event {
            action: "connection.tested",
            target_type: "connection",
            target_id: Some(&connection.id),
            summary: json!({
                "issuer": assertion.issuer,
                "subject": assertion.subject,
                "outcome": outcome,
                "reason": reason,
                "account_id": account.as_ref().map(|(id, _)| id),
            }),
        },
    )
    .await?;
    txn.commit().await?;
    let (account_id, account_user_name) = account.unzip();
    Ok(Outcome::Tested(Box::new(TestReport {
        connection_id: connection.id.clone(),
        connection_name: connection.display_name.clone(),
        connection_enabled: connection.enabled,
        claims: serde_json::to_string_pretty(&assertion.claims).unwrap_or_default(),
        sent: assertion,
        outcome,
        verdict,
        account_id,
        account_user_name,
    })))
}

/// Decides the account for a verified assertion and signs the person in, or refuses.
pub async fn complete(
    state: &AppState,
    connection: &ConnectionRow,
    assertion: Assertion,
    return_to: String,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let subject = Some(assertion.subject.as_str());
    let Some(org) = store::orgs::find(&state.db.read, &connection.org_id).await? else {
        return Ok(Outcome::Refused(inactive_link()));
    };
    match decide(state, &org, connection, &assertion).await? {
        Decision::SignIn { account_id, via } => {
            sign_in(
                state,
                &org,
                connection,
                &assertion,
                &account_id,
                via,
                return_to,
                meta,
            )
            .await
        }
        Decision::Provision => {
            provision(state, &org, connection, &assertion, return_to, meta).await
        }
        Decision::Refuse {
            reason,
            account_id,
            page,
        } => {
            refuse(
                state,
                connection,
                account_id.as_deref(),
                reason,
                subject,
                page,
                meta,
            )
            .await
        }
    }
}

/// Signs in to an existing account: through its link, making the link, or
/// (a transient subject) without one.
#[allow(clippy::too_many_arguments)]
async fn sign_in(
    state: &AppState,
    org: &OrgRow,
    connection: &ConnectionRow,
    assertion: &Assertion,
    account_id: &str,
    via: Via,
    return_to: String,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let subject = Some(assertion.subject.as_str());
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    // Read in the transaction that signs in (and held, on PostgreSQL): a
    // deactivation or a switch to password mode meanwhile is seen here.
    let Some(account) = store::users::find_for_update(&txn, &org.id, account_id).await? else {
        drop(txn);
        let page = refusal(
            403,
            "There is no account for you here",
            "The account was removed. Ask your administrator.",
        );
        return refuse(state, connection, None, "no_account", subject, page, meta).await;
    };
    if !account.active {
        drop(txn);
        let page = refusal(
            403,
            "This account is deactivated",
            "Your account is deactivated. Ask your administrator.",
        );
        return refuse(
            state,
            connection,
            Some(account_id),
            "deactivated",
            subject,
            page,
            meta,
        )
        .await;
    }
    if account.auth_mode != AuthMode::Sso.as_str() {
        drop(txn);
        let page = refusal(
            403,
            "This account signs in with a password",
            "This account signs in with a password; ask your administrator to switch it to SSO.",
        );
        return refuse(
            state,
            connection,
            Some(account_id),
            "password_mode",
            subject,
            page,
            meta,
        )
        .await;
    }
    let made_link = match &via {
        Via::Link(id) => {
            store::links::touch(&txn, id, now).await?;
            None
        }
        Via::NewLink => Some(link(&txn, org, connection, assertion, account_id, meta, now).await?),
        Via::Rule => None,
    };
    if let Some(Err(page)) = made_link {
        drop(txn);
        return refuse(
            state,
            connection,
            Some(account_id),
            "link_race",
            subject,
            page,
            meta,
        )
        .await;
    }
    let session = open_sso_session(
        &txn, org, connection, assertion, account_id, false, meta, now,
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "account {account_id} signed in through SSO connection {}",
        connection.id
    );
    state.metrics.sign_in(&connection.kind, Ok(()));
    Ok(Outcome::SignedIn { session, return_to })
}

/// The SSO session and the account's last sign-in time, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn open_sso_session(
    txn: &impl sea_orm::ConnectionTrait,
    org: &OrgRow,
    connection: &ConnectionRow,
    assertion: &Assertion,
    account_id: &str,
    jit: bool,
    meta: &RequestMeta,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<NewSession> {
    store::accounts::touch_account(txn, account_id, now).await?;
    let session = signin::open_session(
        txn,
        org,
        account_id,
        AuthMode::Sso,
        json!({"connection_id": connection.id, "issuer": assertion.issuer, "jit": jit}),
        meta,
        now,
    )
    .await?;
    saml_slo::record_session(
        txn,
        connection,
        account_id,
        &session.secret,
        &assertion.subject,
        &assertion.claims,
        now,
    )
    .await?;
    Ok(session)
}

/// Makes the identity link of a first sign-in (audited). `Err`: another
/// sign-in made a conflicting link at the same moment.
async fn link(
    txn: &impl sea_orm::ConnectionTrait,
    org: &OrgRow,
    connection: &ConnectionRow,
    assertion: &Assertion,
    account_id: &str,
    meta: &RequestMeta,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Result<(), Refusal>> {
    let row = match store::links::insert(
        txn,
        store::links::NewLink {
            org_id: &org.id,
            account_id,
            issuer: &assertion.issuer,
            subject: &assertion.subject,
            connection_id: Some(&connection.id),
            now,
        },
    )
    .await
    {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => {
            return Ok(Err(refusal(
                409,
                "This sign-in collided with another",
                "Another sign-in linked this identity at the same moment. Start the sign-in again.",
            )));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        txn,
        &OrgScope::new(&org.id, Actor::System, meta),
        now,
        Event {
            action: "identity.linked",
            target_type: "account",
            target_id: Some(account_id),
            summary: json!({
                "link_id": row.id,
                "issuer": row.issuer,
                "subject": row.subject,
                "connection_id": connection.id,
                "match_on": connection.match_on,
                "reason": "first_sign_in",
            }),
        },
    )
    .await?;
    Ok(Ok(()))
}

/// The SCIM attributes of a just-in-time account, from the assertion.
fn jit_attributes(assertion: &Assertion) -> Value {
    let mut body = Map::new();
    let user_name = assertion
        .email
        .clone()
        .unwrap_or_else(|| assertion.subject.clone());
    body.insert("userName".into(), json!(user_name));
    if let Some(v) = &assertion.display_name {
        body.insert("displayName".into(), json!(v));
    }
    let mut name = Map::new();
    if let Some(v) = &assertion.given_name {
        name.insert("givenName".into(), json!(v));
    }
    if let Some(v) = &assertion.family_name {
        name.insert("familyName".into(), json!(v));
    }
    if !name.is_empty() {
        body.insert("name".into(), Value::Object(name));
    }
    if let Some(email) = &assertion.email {
        body.insert(
            "emails".into(),
            json!([{"value": email, "type": "work", "primary": true}]),
        );
    }
    body.insert("active".into(), json!(true));
    Value::Object(body)
}

/// Just-in-time provisioning: a new SSO account from the assertion, in the
/// connection's workspace and role, linked and signed in, in one transaction.
async fn provision(
    state: &AppState,
    org: &OrgRow,
    connection: &ConnectionRow,
    assertion: &Assertion,
    return_to: String,
    meta: &RequestMeta,
) -> AppResult<Outcome> {
    let subject = Some(assertion.subject.as_str());
    let normalized = match normalize(&USER_RESOURCE_TYPE, &jit_attributes(assertion)) {
        Ok(n) => n,
        Err(e) => {
            let page = refusal(
                403,
                "Your account cannot be created",
                format!("What your identity provider sent cannot make an account: {e}"),
            );
            return refuse(state, connection, None, "jit_invalid", subject, page, meta).await;
        }
    };
    let now = state.settings.clock.now();
    let scope = OrgScope::new(&org.id, Actor::System, meta);
    let txn = state.db.begin().await?;
    let options = CreateOptions {
        break_glass: false,
        source: "jit",
        external_user_id: None,
    };
    let account = match users::create_in(
        &txn,
        &scope,
        AuthMode::Sso,
        &normalized.attributes,
        None,
        &options,
        now,
    )
    .await
    {
        Ok(a) => a,
        Err(e @ (crate::error::AppError::Uniqueness(_) | crate::error::AppError::Conflict(_))) => {
            drop(txn);
            let page = refusal(
                409,
                "Your account cannot be created",
                format!("{e}. Ask your administrator to link your existing account."),
            );
            return refuse(state, connection, None, "jit_conflict", subject, page, meta).await;
        }
        Err(e) => return Err(e),
    };
    if let Some(workspace_id) = &connection.workspace_id {
        store::workspaces::set_member(
            &txn,
            &org.id,
            workspace_id,
            &account.id,
            &connection.role,
            now,
        )
        .await?;
    }
    audit::record(
        &txn,
        &scope,
        now,
        Event {
            action: "account.jit_provisioned",
            target_type: "account",
            target_id: Some(&account.id),
            summary: json!({
                "connection_id": connection.id,
                "issuer": assertion.issuer,
                "subject": assertion.subject,
                "workspace_id": connection.workspace_id,
                "role": connection.role,
            }),
        },
    )
    .await?;
    if let Err(page) = link(&txn, org, connection, assertion, &account.id, meta, now).await? {
        drop(txn);
        return refuse(state, connection, None, "link_race", subject, page, meta).await;
    }
    let session = open_sso_session(
        &txn,
        org,
        connection,
        assertion,
        &account.id,
        true,
        meta,
        now,
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "account {} provisioned just in time through SSO connection {}",
        account.id,
        connection.id
    );
    state.metrics.sign_in(&connection.kind, Ok(()));
    Ok(Outcome::SignedIn { session, return_to })
}

/// What the sign-in page of an organisation shows.
pub struct LoginPage {
    pub org_name: String,
    pub org_slug: String,
    /// Enabled connections: id, display name, email domains.
    pub connections: Vec<(String, String, Vec<String>)>,
    /// Whether some account may still sign in with a password.
    pub password_in_use: bool,
}

pub async fn login_page(state: &AppState, slug: &str) -> AppResult<Option<LoginPage>> {
    if slug.len() > 63 {
        return Ok(None);
    }
    let conn = &state.db.read;
    let Some(org) = store::orgs::find_by_slug(conn, slug).await? else {
        return Ok(None);
    };
    let connections = if org.sso_enabled {
        store::connections::list(conn, &org.id)
            .await?
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| {
                let domains = connections::email_domains_of(&c);
                (c.id, c.display_name, domains)
            })
            .collect()
    } else {
        Vec::new()
    };
    let password_in_use =
        store::accounts::any_password_account(conn, &org.id, org.sso_required).await?;
    Ok(Some(LoginPage {
        org_name: org.name,
        org_slug: org.slug,
        connections,
        password_in_use,
    }))
}

impl LoginPage {
    /// The connection that owns an email's domain, when exactly one does.
    pub fn connection_for_email(&self, email: &str) -> Option<&str> {
        let domain = crate::domain::sso::email_domain(email)?;
        let mut owners = self
            .connections
            .iter()
            .filter(|(_, _, domains)| domains.contains(&domain));
        match (owners.next(), owners.next()) {
            (Some((id, _, _)), None) => Some(id),
            _ => None,
        }
    }
}
