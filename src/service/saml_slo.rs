//! SAML single logout (SAML profiles §4.4), HTTP-Redirect and HTTP-POST:
//! which SAML subject each session a connection opened belongs to; a
//! person signing out sends a signed LogoutRequest to the IdP, whose
//! LogoutResponse comes back to the connection's SLO endpoint; an IdP's
//! signed LogoutRequest there ends that subject's sessions and gets a
//! signed LogoutResponse.

use chrono::TimeDelta;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
use serde_json::{Value, json};

use super::audit::{self, Event};
use super::saml_logout::{self, LogoutMessage};
use super::{Actor, AppState, OrgScope, RequestMeta, saml, saml_keys, saml_sp};
use crate::domain::secret;
use crate::domain::sso::ConnectionKind;
use crate::error::AppResult;
use crate::store::{self, connections::ConnectionRow};

/// How long a LogoutRequest scimlink sent waits for its LogoutResponse.
pub const LOGOUT_TTL: TimeDelta = TimeDelta::minutes(10);

/// Records, in the transaction that opens an SSO session, the SAML subject
/// it was opened for (a SAML connection's only): single logout finds the
/// session by it. `claims` are those `sso::check_saml_answer` made.
pub async fn record_session(
    txn: &impl sea_orm::ConnectionTrait,
    connection: &ConnectionRow,
    account_id: &str,
    session_secret: &str,
    subject: &str,
    claims: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    if connection.kind != ConnectionKind::Saml.as_str() {
        return Ok(());
    }
    let Some(session) =
        store::sessions::find_live_by_hash(txn, &secret::hash(session_secret)).await?
    else {
        return Ok(());
    };
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    store::saml::insert_session(
        txn,
        store::saml::NewSamlSession {
            session_id: &session.id,
            org_id: &connection.org_id,
            connection_id: &connection.id,
            account_id,
            name_id: subject,
            name_id_format: text("name_id_format"),
            session_index: text("session_index"),
            now,
        },
    )
    .await?;
    Ok(())
}

/// SP-initiated logout: where the browser goes after its session ends
/// here, when a SAML connection opened it and the IdP has a
/// SingleLogoutService: a signed LogoutRequest for that subject. `None`:
/// nothing to tell an IdP.
pub async fn start_logout(
    state: &AppState,
    session_secret: Option<&str>,
) -> AppResult<Option<String>> {
    let Some(session_secret) = session_secret.filter(|s| !s.is_empty() && s.len() <= 200) else {
        return Ok(None);
    };
    let Some(session) =
        store::sessions::find_live_by_hash(&state.db.read, &secret::hash(session_secret)).await?
    else {
        return Ok(None);
    };
    let Some(subject) = store::saml::session_subject(&state.db.read, &session.id).await? else {
        return Ok(None);
    };
    let Some(connection) =
        store::connections::find(&state.db.read, &subject.org_id, &subject.connection_id).await?
    else {
        return Ok(None);
    };
    let Some(idp_slo) = connection
        .saml_idp_metadata_xml
        .as_deref()
        .and_then(saml_logout::idp_slo_url)
    else {
        return Ok(None);
    };
    let keys = saml_sp::keys(state, &connection).await?;
    let now = state.settings.clock.now();
    let id = saml::new_request_id();
    let xml = saml_logout::logout_request_xml(&saml_logout::LogoutRequestOut {
        id: &id,
        now,
        destination: &idp_slo,
        issuer: &saml::sp_entity_id(&state.base_url, &connection.id),
        name_id: &subject.name_id,
        name_id_format: subject.name_id_format.as_deref(),
        session_index: subject.session_index.as_deref(),
    });
    let url = match saml_keys::signed_redirect_url(
        &idp_slo,
        "SAMLRequest",
        &xml,
        None,
        &keys.signing.private_key_pem,
    ) {
        Ok(url) => url,
        Err(e) => {
            log::warn!("connection {}: no LogoutRequest: {e}", connection.id);
            return Ok(None);
        }
    };
    let txn = state.db.begin().await?;
    store::saml::insert_logout_request(
        &txn,
        &secret::hash(&id),
        &connection.org_id,
        &connection.id,
        now,
        now + LOGOUT_TTL,
    )
    .await?;
    txn.commit().await?;
    Ok(Some(url))
}

/// What the SLO endpoint answers.
pub enum SloOutcome {
    /// The browser goes on to the IdP with this scimlink LogoutResponse.
    Redirect(String),
    /// A page: signed out, or refused.
    Page {
        status: u16,
        title: &'static str,
        message: String,
    },
}

fn page(status: u16, title: &'static str, message: &str) -> SloOutcome {
    SloOutcome::Page {
        status,
        title,
        message: message.to_string(),
    }
}

/// A refused logout message: audited like a refused sign-in (what failed
/// is for the administrator), a plain page for the person.
async fn refuse(
    state: &AppState,
    connection: &ConnectionRow,
    reason: &str,
    detail: String,
    meta: &RequestMeta,
) -> AppResult<SloOutcome> {
    let now = state.settings.clock.now();
    let detail: String = detail.chars().take(300).collect();
    let txn = state.db.begin().await?;
    audit::record(
        &txn,
        &OrgScope::new(&connection.org_id, Actor::System, meta),
        now,
        Event {
            action: "auth.logout_refused",
            target_type: "sso_connection",
            target_id: Some(&connection.id),
            summary: json!({"connection_id": connection.id, "reason": reason, "detail": detail}),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "SAML logout through connection {} refused: {reason}",
        connection.id
    );
    Ok(page(
        400,
        "The logout message was refused",
        "The identity provider's logout message failed a security check; your administrator can see which in the audit log.",
    ))
}

/// The checks every logout message from the IdP meets after its signature:
/// from this connection's IdP, to this endpoint, issued just now.
fn check_message(
    state: &AppState,
    connection: &ConnectionRow,
    message: &LogoutMessage,
) -> Result<(), (&'static str, String)> {
    if message.issuer.as_deref() != Some(connection.issuer.as_str()) {
        return Err((
            "wrong_issuer",
            format!(
                "the Issuer {:?} is not the connection's IdP",
                message.issuer
            ),
        ));
    }
    let ours = saml_sp::slo_url(&state.base_url, &connection.id);
    if message.destination.as_deref().is_some_and(|d| d != ours) {
        return Err((
            "wrong_destination",
            format!("the Destination is not {ours}"),
        ));
    }
    let now = state.settings.clock.now();
    let skew = TimeDelta::seconds(state.settings.sso_clock_skew_seconds);
    let fresh = message
        .issue_instant
        .is_some_and(|t| t <= now + skew && now <= t + saml::MAX_ISSUE_DELAY + skew);
    if !fresh {
        return Err((
            "expired",
            "the IssueInstant is missing, in the future or too old".into(),
        ));
    }
    if message.id.is_empty() || message.id.len() > 256 {
        return Err(("message_invalid", "the message has no usable ID".into()));
    }
    Ok(())
}

/// `GET /sso/saml/{id}/slo` (HTTP-Redirect binding): an IdP's
/// LogoutRequest (IdP-initiated logout) or its LogoutResponse (to one
/// scimlink sent). `raw_query` is the query as the browser sent it: the
/// signature covers it byte for byte.
pub async fn slo_redirect(
    state: &AppState,
    connection_id: &str,
    raw_query: &str,
    meta: &RequestMeta,
) -> AppResult<SloOutcome> {
    let Some(connection) = store::connections::find_any(&state.db.read, connection_id)
        .await?
        .filter(|c| c.kind == ConnectionKind::Saml.as_str())
    else {
        return Ok(page(404, "No such SAML connection", "Check the address."));
    };
    let parameter = if raw_query.split('&').any(|p| p.starts_with("SAMLRequest=")) {
        "SAMLRequest"
    } else {
        "SAMLResponse"
    };
    let certificates = connection
        .saml_idp_metadata_xml
        .as_deref()
        .and_then(|m| saml::parse_idp_metadata(m).ok())
        .map(|m| m.certificates)
        .unwrap_or_default();
    let read = match saml_keys::read_signed_redirect(raw_query, parameter, &certificates) {
        Ok(read) => read,
        Err(e) => return refuse(state, &connection, "signature_invalid", e, meta).await,
    };
    let message = match saml_logout::read_logout_message(&read.xml) {
        Ok(m) => m,
        Err(e) => return refuse(state, &connection, "message_malformed", e, meta).await,
    };
    answer(
        state,
        &connection,
        parameter,
        &message,
        read.relay_state.as_deref(),
        meta,
    )
    .await
}

/// A logout message whose signature verified: every other check, then its effect.
async fn answer(
    state: &AppState,
    connection: &ConnectionRow,
    parameter: &str,
    message: &LogoutMessage,
    relay_state: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<SloOutcome> {
    let expected = if parameter == "SAMLRequest" {
        "LogoutRequest"
    } else {
        "LogoutResponse"
    };
    if message.kind != expected {
        let detail = format!("{parameter} carries a {}", message.kind);
        return refuse(state, connection, "message_malformed", detail, meta).await;
    }
    if let Err((reason, detail)) = check_message(state, connection, message) {
        return refuse(state, connection, reason, detail, meta).await;
    }
    if parameter == "SAMLResponse" {
        return logout_response(state, connection, message, meta).await;
    }
    // The replay cache of sign-ins serves logout too: a captured request
    // ends sessions once, not again within its freshness window.
    let now = state.settings.clock.now();
    let skew = TimeDelta::seconds(state.settings.sso_clock_skew_seconds);
    let issued = message.issue_instant.unwrap_or(now);
    let first_time = store::connections::remember_assertion(
        &state.db.write,
        &connection.id,
        &secret::hash(&format!("logout-request:{}", message.id)),
        now,
        issued + saml::MAX_ISSUE_DELAY + skew,
    )
    .await?;
    if !first_time {
        let detail = "this LogoutRequest was answered before".to_string();
        return refuse(state, connection, "replayed", detail, meta).await;
    }
    logout_request(state, connection, message, relay_state, meta).await
}

/// The form of `POST /sso/saml/{id}/slo` (HTTP-POST binding).
#[derive(Debug, Default)]
pub struct SloPost {
    pub saml_request: Option<String>,
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
}

/// `POST /sso/saml/{id}/slo` (HTTP-POST binding, SAML bindings §3.5): the
/// same messages, signed inside the XML (an enveloped signature over the
/// message's root), which libxmlsec1 checks through samael, reading only
/// what the signature covers afterwards.
pub async fn slo_post(
    state: &AppState,
    connection_id: &str,
    post: SloPost,
    meta: &RequestMeta,
) -> AppResult<SloOutcome> {
    let Some(connection) = store::connections::find_any(&state.db.read, connection_id)
        .await?
        .filter(|c| c.kind == ConnectionKind::Saml.as_str())
    else {
        return Ok(page(404, "No such SAML connection", "Check the address."));
    };
    let (parameter, encoded) = match (post.saml_request, post.saml_response) {
        (Some(r), None) => ("SAMLRequest", r),
        (None, Some(r)) => ("SAMLResponse", r),
        _ => {
            let detail =
                "the post carries neither or both of SAMLRequest and SAMLResponse".to_string();
            return refuse(state, &connection, "message_malformed", detail, meta).await;
        }
    };
    let decoded = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        encoded.replace(char::is_whitespace, ""),
    )
    .ok()
    .filter(|d| d.len() <= saml::MAX_XML_BYTES)
    .and_then(|d| String::from_utf8(d).ok());
    let Some(xml) = decoded else {
        let detail = format!(
            "{parameter} is not base64 of UTF-8 XML of at most {} bytes",
            saml::MAX_XML_BYTES
        );
        return refuse(state, &connection, "message_malformed", detail, meta).await;
    };
    // First the shape (no DOCTYPE, signatures naming only elements by ID),
    // then libxmlsec1.
    let surveyed = match saml_logout::read_logout_message(&xml) {
        Ok(m) => m,
        Err(e) => return refuse(state, &connection, "message_malformed", e, meta).await,
    };
    let certificates: Vec<CertificateDer> = connection
        .saml_idp_metadata_xml
        .as_deref()
        .and_then(|m| saml::parse_idp_metadata(m).ok())
        .map(|m| m.certificates)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &c.der_base64).ok()
        })
        .map(CertificateDer::from)
        .collect();
    if certificates.is_empty() {
        let detail = "the connection has no signing certificate".to_string();
        return refuse(state, &connection, "signature_invalid", detail, meta).await;
    }
    let reduced = super::blocking(move || {
        Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &xml,
            &certificates,
            ReduceMode::default(),
            Some(&saml::SIGNATURE_ALGORITHMS),
        )
    })
    .await?;
    let signed = reduced
        .map_err(|_| "no signature over the message verifies with the connection's certificates (SHA-256 or stronger)".to_string())
        .and_then(|x| saml_logout::read_logout_message(&x));
    let message = match signed {
        // The signature must cover the message itself, not a part of it.
        Ok(m) if m.kind == surveyed.kind && m.id == surveyed.id => m,
        Ok(_) => {
            let detail = "the signature does not cover the whole message".to_string();
            return refuse(state, &connection, "signature_invalid", detail, meta).await;
        }
        Err(e) => return refuse(state, &connection, "signature_invalid", e, meta).await,
    };
    answer(
        state,
        &connection,
        parameter,
        &message,
        post.relay_state.as_deref(),
        meta,
    )
    .await
}

/// The IdP's answer to a LogoutRequest scimlink sent: the session ended
/// here already; this says whether the IdP ended its own.
async fn logout_response(
    state: &AppState,
    connection: &ConnectionRow,
    message: &LogoutMessage,
    meta: &RequestMeta,
) -> AppResult<SloOutcome> {
    let now = state.settings.clock.now();
    let Some(request_id) = message.in_response_to.as_deref().filter(|i| i.len() <= 256) else {
        let detail = "the LogoutResponse names no request".to_string();
        return refuse(state, connection, "unknown_in_response_to", detail, meta).await;
    };
    let taken = {
        let txn = state.db.begin().await?;
        let taken =
            store::saml::take_logout_request(&txn, &connection.id, &secret::hash(request_id), now)
                .await?;
        txn.commit().await?;
        taken
    };
    if !taken {
        let detail =
            "the LogoutResponse answers no pending LogoutRequest of this connection".to_string();
        return refuse(state, connection, "unknown_in_response_to", detail, meta).await;
    }
    if message.status.as_deref() != Some(saml_logout::STATUS_SUCCESS) {
        return Ok(page(
            200,
            "Signed out of scimlink",
            "You are signed out of scimlink, but your identity provider did not confirm that it signed you out too. Close the browser to be sure.",
        ));
    }
    Ok(page(
        200,
        "Signed out",
        "You are signed out of scimlink and of your identity provider.",
    ))
}

/// An IdP-initiated logout: every live session this connection opened for
/// the NameID (and, when named, those SessionIndexes) ends, audited; the
/// answer is a signed LogoutResponse back to the IdP.
async fn logout_request(
    state: &AppState,
    connection: &ConnectionRow,
    message: &LogoutMessage,
    relay_state: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<SloOutcome> {
    let Some(name_id) = message
        .name_id
        .as_deref()
        .filter(|n| !n.is_empty() && n.len() <= 512)
    else {
        let detail = "the LogoutRequest has no NameID".to_string();
        return refuse(state, connection, "message_invalid", detail, meta).await;
    };
    let Some(idp_slo) = connection
        .saml_idp_metadata_xml
        .as_deref()
        .and_then(saml_logout::idp_slo_url)
    else {
        let detail =
            "the IdP's metadata has no HTTP-Redirect SingleLogoutService to answer".to_string();
        return refuse(state, connection, "no_idp_slo", detail, meta).await;
    };
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let sessions = store::saml::live_sessions_of_subject(
        &txn,
        &connection.org_id,
        &connection.id,
        name_id,
        &message.session_indexes,
    )
    .await?;
    for row in &sessions {
        if store::sessions::end(&txn, &row.session_id, "idp_logout", now).await? {
            audit::record(
                &txn,
                &OrgScope::new(&connection.org_id, Actor::System, meta),
                now,
                Event {
                    action: "auth.sign_out",
                    target_type: "account",
                    target_id: Some(&row.account_id),
                    summary: json!({
                        "session_id": row.session_id,
                        "connection_id": connection.id,
                        "initiated_by": "idp",
                    }),
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    log::info!(
        "IdP-initiated logout through connection {} ended {} session(s)",
        connection.id,
        sessions.len()
    );
    let keys = saml_sp::keys(state, connection).await?;
    let xml = saml_logout::logout_response_xml(
        &saml::new_request_id(),
        now,
        &idp_slo,
        &saml::sp_entity_id(&state.base_url, &connection.id),
        &message.id,
        saml_logout::STATUS_SUCCESS,
    );
    match saml_keys::signed_redirect_url(
        &idp_slo,
        "SAMLResponse",
        &xml,
        relay_state,
        &keys.signing.private_key_pem,
    ) {
        Ok(url) => Ok(SloOutcome::Redirect(url)),
        Err(e) => Err(crate::error::AppError::Internal(format!(
            "connection {}: no LogoutResponse: {e}",
            connection.id
        ))),
    }
}
