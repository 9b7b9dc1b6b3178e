//! SSO connections as admins manage them (`/api/v1/connections`): an
//! organisation's OIDC providers and SAML IdPs, each with the
//! rule that matches a person to an account, its JIT setting, and the values
//! to paste into the IdP.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Event};
use super::{AppState, OrgScope, oidc, saml, secrets};
use crate::domain::WorkspaceRole;
use crate::domain::sso::{ConnectionKind, JitSetting, MatchOn, parse_email_domains};
use crate::error::{AppError, AppResult};
use crate::scim::resource::format_datetime;
use crate::store::{self, connections::ConnectionRow, orgs::OrgPolicy};

/// A connection as the API shows it: never its client secret. OIDC fields
/// appear on OIDC connections, SAML fields on SAML ones.
#[derive(Debug, Serialize)]
pub struct ConnectionView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub display_name: String,
    pub enabled: bool,
    pub match_on: String,
    pub jit: String,
    pub email_domains: Vec<String>,
    pub workspace_id: Option<String>,
    pub role: String,
    /// The OIDC issuer, or the SAML IdP's entity id.
    pub issuer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_client_secret: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// OIDC: where the IdP sends the browser back (register it at the IdP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// SAML: the values to give the IdP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// SAML: what scimlink read from the IdP's metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_sso_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_certificates: Option<Vec<saml::IdpCertificate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_idp_initiated: Option<bool>,
    /// Where a sign-in through this connection starts (a button's link).
    pub start_url: String,
    pub created_at: String,
    pub updated_at: String,
}

pub fn redirect_uri(base_url: &str, id: &str) -> String {
    format!("{base_url}/sso/oidc/{id}/callback")
}

pub fn start_url(base_url: &str, id: &str) -> String {
    format!("{base_url}/sso/{id}/start")
}

pub(crate) fn email_domains_of(row: &ConnectionRow) -> Vec<String> {
    serde_json::from_str(&row.email_domains).unwrap_or_default()
}

pub(crate) fn scopes_of(row: &ConnectionRow) -> Vec<String> {
    row.oidc_scopes
        .as_deref()
        .unwrap_or("openid")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A SAML connection's signing certificates (base64 DER), as stored.
pub(crate) fn certificates_of(row: &ConnectionRow) -> Vec<String> {
    row.saml_idp_certificates
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default()
}

fn certificate_views(row: &ConnectionRow) -> Vec<saml::IdpCertificate> {
    certificates_of(row)
        .iter()
        .filter_map(|c| saml::certificate(c).ok())
        .collect()
}

pub fn view(base_url: &str, row: ConnectionRow) -> ConnectionView {
    let is_saml = row.kind == ConnectionKind::Saml.as_str();
    let is_oidc = !is_saml;
    ConnectionView {
        email_domains: email_domains_of(&row),
        scopes: is_oidc.then(|| scopes_of(&row)),
        redirect_uri: is_oidc.then(|| redirect_uri(base_url, &row.id)),
        has_client_secret: is_oidc.then_some(row.oidc_client_secret.is_some()),
        sp_entity_id: is_saml.then(|| saml::sp_entity_id(base_url, &row.id)),
        acs_url: is_saml.then(|| saml::acs_url(base_url, &row.id)),
        metadata_url: is_saml.then(|| saml::metadata_url(base_url, &row.id)),
        idp_sso_url: row.saml_idp_sso_url.clone().filter(|_| is_saml),
        idp_certificates: is_saml.then(|| certificate_views(&row)),
        allow_idp_initiated: is_saml.then_some(row.saml_allow_idp_initiated),
        start_url: start_url(base_url, &row.id),
        created_at: format_datetime(row.created_at),
        updated_at: format_datetime(row.updated_at),
        id: row.id,
        kind: row.kind,
        display_name: row.display_name,
        enabled: row.enabled,
        match_on: row.match_on,
        jit: row.jit,
        workspace_id: row.workspace_id,
        role: row.role,
        issuer: row.issuer,
        client_id: row.oidc_client_id.filter(|_| is_oidc),
    }
}

#[derive(Debug, Serialize)]
pub struct ConnectionList {
    pub connections: Vec<ConnectionView>,
}

pub async fn list(state: &AppState, scope: &OrgScope) -> AppResult<ConnectionList> {
    let rows = store::connections::list(&state.db.read, &scope.org_id).await?;
    Ok(ConnectionList {
        connections: rows.into_iter().map(|r| view(&state.base_url, r)).collect(),
    })
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no SSO connection {id}"))
}

pub async fn get(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<ConnectionView> {
    let row = store::connections::find(&state.db.read, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(view(&state.base_url, row))
}

/// `POST /api/v1/connections` and, every field optional, `PATCH`.
/// No `Debug`: it holds the client secret.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
    pub match_on: Option<String>,
    pub jit: Option<String>,
    pub email_domains: Option<Vec<String>>,
    #[serde(default, with = "super::accounts::double_option")]
    pub workspace_id: Option<Option<String>>,
    pub role: Option<String>,
    // OIDC
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    // SAML
    pub idp_metadata_xml: Option<String>,
    pub allow_idp_initiated: Option<bool>,
}

fn bounded(name: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(AppError::invalid_value(format!(
            "{name} must be 1 to {max} bytes, not blank, without control characters"
        )));
    }
    Ok(value.to_string())
}

/// Applies `input` to `row` and checks the result as a whole.
async fn apply(
    state: &AppState,
    scope: &OrgScope,
    mut row: ConnectionRow,
    input: ConnectionInput,
) -> AppResult<ConnectionRow> {
    let conn = &state.db.read;
    let is_saml = row.kind == ConnectionKind::Saml.as_str();
    let misplaced = if is_saml {
        [
            ("issuer", input.issuer.is_some()),
            ("client_id", input.client_id.is_some()),
            ("client_secret", input.client_secret.is_some()),
            ("scopes", input.scopes.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(name, _)| format!("{name} is for OIDC connections; a SAML connection reads its IdP from idp_metadata_xml"))
    } else {
        [
            ("idp_metadata_xml", input.idp_metadata_xml.is_some()),
            ("allow_idp_initiated", input.allow_idp_initiated.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(name, _)| format!("{name} is for SAML connections"))
    };
    if let Some(detail) = misplaced {
        return Err(AppError::invalid_value(detail));
    }
    if let Some(v) = &input.display_name {
        row.display_name = bounded("display_name", v, 200)?;
    }
    if let Some(v) = input.enabled {
        row.enabled = v;
    }
    if let Some(v) = &input.match_on {
        row.match_on = MatchOn::parse(v)
            .map_err(AppError::invalid_value)?
            .as_str()
            .into();
    }
    if let Some(v) = &input.jit {
        row.jit = JitSetting::parse(v)
            .map_err(AppError::invalid_value)?
            .as_str()
            .into();
    }
    if let Some(v) = &input.email_domains {
        let domains = parse_email_domains(v).map_err(AppError::invalid_value)?;
        row.email_domains = Value::from(domains).to_string();
    }
    if let Some(v) = &input.workspace_id {
        if let Some(id) = v {
            store::workspaces::find(conn, &scope.org_id, id)
                .await?
                .ok_or_else(|| AppError::invalid_value(format!("no workspace {id}")))?;
        }
        row.workspace_id = v.clone();
    }
    if let Some(v) = &input.role {
        row.role = WorkspaceRole::parse(v)
            .map_err(AppError::invalid_value)?
            .as_str()
            .into();
    }
    if is_saml {
        apply_saml(&mut row, &input)?;
    } else {
        apply_oidc(state, &mut row, &input).await?;
    }
    Ok(row)
}

async fn apply_oidc(
    state: &AppState,
    row: &mut ConnectionRow,
    input: &ConnectionInput,
) -> AppResult<()> {
    if let Some(v) = &input.issuer {
        // An internal address is refused when saved, before any other check
        // (it is the reason that matters), and before anything is sent; a
        // name is checked each time it is resolved.
        if let Ok(url) = url::Url::parse(v.trim()) {
            state
                .outbound
                .check_url(&url)
                .map_err(|e| AppError::invalid_value(format!("issuer {:?}: {e}", v.trim())))?;
        }
        row.issuer = oidc::check_issuer(v)?;
    }
    if let Some(v) = &input.client_id {
        row.oidc_client_id = Some(bounded("client_id", v, 1024)?);
    }
    if let Some(v) = &input.client_secret {
        let plain = bounded("client_secret", v, 4096)?;
        // Stored sealed, never in clear. The same secret again keeps its
        // sealed value: nothing changed.
        let same = row
            .oidc_client_secret
            .as_deref()
            .and_then(|stored| secrets::open(&state.settings, &row.id, stored).ok())
            .is_some_and(|current| current.expose() == plain);
        if !same {
            row.oidc_client_secret = Some(secrets::seal_client_secret(
                &state.settings,
                &row.id,
                &plain,
            )?);
        }
    }
    if let Some(v) = &input.scopes {
        let mut scopes = vec!["openid".to_string()];
        for s in v {
            let s = bounded("a scope", s, 200)?;
            if s.contains(char::is_whitespace) {
                return Err(AppError::invalid_value("a scope has no spaces"));
            }
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        row.oidc_scopes = Some(scopes.join(" "));
    }
    if row.issuer.is_empty() {
        return Err(AppError::invalid_value("an OIDC connection needs issuer"));
    }
    if row.oidc_client_id.is_none() {
        return Err(AppError::invalid_value(
            "an OIDC connection needs client_id",
        ));
    }
    if row.enabled {
        // An enabled connection must work: its discovery document must be
        // readable now and name the same issuer.
        state
            .oidc_providers
            .refresh_discovery(&state.outbound, &row.issuer, state.settings.clock.now())
            .await
            .map_err(|e| {
                AppError::invalid_value(format!(
                    "an enabled OIDC connection must reach its provider: {e}"
                ))
            })?;
    }
    Ok(())
}

fn apply_saml(row: &mut ConnectionRow, input: &ConnectionInput) -> AppResult<()> {
    if let Some(xml) = &input.idp_metadata_xml {
        let metadata = saml::parse_idp_metadata(xml).map_err(AppError::invalid_value)?;
        let certificates: Vec<&str> = metadata
            .certificates
            .iter()
            .map(|c| c.der_base64.as_str())
            .collect();
        row.issuer = metadata.entity_id;
        row.saml_idp_sso_url = Some(metadata.sso_url);
        row.saml_idp_certificates = Some(Value::from(certificates).to_string());
        row.saml_idp_metadata_xml = Some(xml.clone());
    }
    if let Some(v) = input.allow_idp_initiated {
        row.saml_allow_idp_initiated = v;
    }
    if row.saml_idp_metadata_xml.is_none() {
        return Err(AppError::invalid_value(
            "a SAML connection needs idp_metadata_xml (the IdP's metadata document)",
        ));
    }
    if row.enabled && certificates_of(row).is_empty() {
        return Err(AppError::invalid_value(
            "a SAML connection cannot be enabled without a signing certificate: the IdP's metadata names none",
        ));
    }
    Ok(())
}

/// The first enabled connection of an organisation turns SSO on (an admin
/// can turn it off again afterwards; later connections do not touch it).
async fn enable_sso_on_first(
    state: &AppState,
    scope: &OrgScope,
    txn: &impl sea_orm::ConnectionTrait,
    was_enabled_before: u64,
) -> AppResult<()> {
    if was_enabled_before > 0 {
        return Ok(());
    }
    let now = state.settings.clock.now();
    let org = store::orgs::find_for_update(txn, &scope.org_id)
        .await?
        .ok_or_else(|| AppError::Internal("the organisation is gone".into()))?;
    if org.sso_enabled {
        return Ok(());
    }
    let before = OrgPolicy::from(&org);
    let mut next = before.clone();
    next.sso_enabled = true;
    store::orgs::update_policy(txn, &org, &next).await?;
    let mut summary = super::orgs::policy_diff(&before, &next, 0);
    if let Some(s) = summary.as_object_mut() {
        s.insert("reason".into(), json!("first_connection_enabled"));
    }
    audit::record(
        txn,
        &scope.system(),
        now,
        Event {
            action: "org.settings_changed",
            target_type: "organization",
            target_id: Some(&scope.org_id),
            summary,
        },
    )
    .await?;
    log::info!(
        "organisation {}: SSO turned on by its first enabled connection",
        org.slug
    );
    Ok(())
}

fn audit_summary(row: &ConnectionRow) -> Value {
    let mut summary = json!({
        "type": row.kind,
        "display_name": row.display_name,
        "enabled": row.enabled,
        "issuer": row.issuer,
        "match_on": row.match_on,
        "jit": row.jit,
    });
    if row.kind == ConnectionKind::Saml.as_str() {
        // A certificate rotation shows in the log as a change of fingerprints.
        let fingerprints: Vec<String> = certificate_views(row)
            .into_iter()
            .map(|c| c.sha256_fingerprint)
            .collect();
        if let Some(s) = summary.as_object_mut() {
            s.insert("idp_certificates".into(), json!(fingerprints));
            s.insert(
                "allow_idp_initiated".into(),
                json!(row.saml_allow_idp_initiated),
            );
        }
    }
    summary
}

pub async fn create(
    state: &AppState,
    scope: &OrgScope,
    input: ConnectionInput,
) -> AppResult<ConnectionView> {
    scope.require_admin()?;
    let kind = match input.kind.as_deref() {
        None => {
            return Err(AppError::invalid_value(
                "type is required: \"oidc\" or \"saml\"",
            ));
        }
        Some(k) => ConnectionKind::parse(k).map_err(AppError::invalid_value)?,
    };
    if input.display_name.is_none() {
        return Err(AppError::invalid_value("display_name is required"));
    }
    let now = state.settings.clock.now();
    let blank = ConnectionRow {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: scope.org_id.clone(),
        kind: kind.as_str().into(),
        display_name: String::new(),
        enabled: false,
        match_on: MatchOn::ExternalUserId.as_str().into(),
        jit: JitSetting::Inherit.as_str().into(),
        email_domains: "[]".into(),
        workspace_id: None,
        role: WorkspaceRole::Member.as_str().into(),
        issuer: String::new(),
        oidc_client_id: None,
        oidc_client_secret: None,
        oidc_scopes: (kind == ConnectionKind::Oidc).then(|| "openid email profile".into()),
        saml_idp_metadata_xml: None,
        saml_idp_sso_url: None,
        saml_idp_certificates: None,
        saml_allow_idp_initiated: false,
        created_at: now,
        updated_at: now,
    };
    let row = apply(state, scope, blank, input).await?;
    let txn = state.db.begin().await?;
    let enabled_before = store::connections::count_enabled(&txn, &scope.org_id).await?;
    let row = store::connections::insert(&txn, row).await?;
    if row.enabled {
        enable_sso_on_first(state, scope, &txn, enabled_before).await?;
    }
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "connection.created",
            target_type: "connection",
            target_id: Some(&row.id),
            summary: audit_summary(&row),
        },
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "organisation {}: SSO connection {} ({}) created",
        scope.org_id,
        row.id,
        row.kind
    );
    Ok(view(&state.base_url, row))
}

pub async fn update(
    state: &AppState,
    scope: &OrgScope,
    id: &str,
    input: ConnectionInput,
) -> AppResult<ConnectionView> {
    scope.require_admin()?;
    let current = store::connections::find(&state.db.read, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if input.kind.as_ref().is_some_and(|k| *k != current.kind) {
        return Err(AppError::invalid_value(
            "a connection's type cannot change; create another connection",
        ));
    }
    let before = audit_summary(&current);
    let next = apply(state, scope, current.clone(), input).await?;
    if next == current {
        return Ok(view(&state.base_url, current));
    }
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let enabled_before = store::connections::count_enabled(&txn, &scope.org_id).await?;
    let row = store::connections::save(
        &txn,
        ConnectionRow {
            updated_at: now,
            ..next
        },
    )
    .await?;
    if row.enabled && !current.enabled {
        enable_sso_on_first(state, scope, &txn, enabled_before).await?;
    }
    let secret_changed = row.oidc_client_secret != current.oidc_client_secret;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "connection.updated",
            target_type: "connection",
            target_id: Some(&row.id),
            summary: json!({
                "before": before,
                "after": audit_summary(&row),
                "client_secret_changed": secret_changed,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(&state.base_url, row))
}

pub async fn delete(state: &AppState, scope: &OrgScope, id: &str) -> AppResult<()> {
    scope.require_admin()?;
    let now = state.settings.clock.now();
    let txn = state.db.begin().await?;
    let row = store::connections::find(&txn, &scope.org_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    store::connections::delete(&txn, &scope.org_id, id).await?;
    audit::record(
        &txn,
        scope,
        now,
        Event {
            action: "connection.deleted",
            target_type: "connection",
            target_id: Some(id),
            summary: audit_summary(&row),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
