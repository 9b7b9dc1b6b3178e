//! Use cases. Each opens one transaction, calls `store` and `scim`, returns.

pub mod accounts;
pub mod admin_tokens;
pub mod audit;
pub mod bulk;
pub mod connections;
pub mod discovery;
pub mod groups;
pub mod linking;
pub mod listing;
pub mod mail;
pub mod oidc;
pub mod orgs;
pub mod saml;
pub mod saml_keys;
pub mod saml_logout;
pub mod saml_slo;
pub mod saml_sp;
pub mod search;
pub mod sessions;
pub mod signin;
pub mod sso;
pub mod staff;
pub mod tokens;
pub mod users;
pub mod workspaces;

use std::sync::Arc;

use crate::domain::AdminRole;
use crate::error::AppError;
use crate::settings::Settings;
use crate::store::Db;

/// What every use case can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Public base URL without a trailing slash, for `meta.location`.
    pub base_url: String,
}

/// Who acts, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An identity provider, through a SCIM token.
    ScimToken { id: String, label: String },
    /// An admin or support person, through an admin token.
    AdminToken {
        id: String,
        label: String,
        role: AdminRole,
    },
    /// A signed-in (or signing-in) person.
    Account { id: String },
    /// A signed-in person using the dashboard with their organisation role.
    Staff {
        id: String,
        user_name: String,
        role: AdminRole,
    },
    /// scimlink itself (a policy, a sign-in check).
    System,
    /// The command line on the server.
    Cli,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ScimToken { .. } => "scim_token",
            Actor::AdminToken { .. } => "admin_token",
            Actor::Account { .. } | Actor::Staff { .. } => "account",
            Actor::System => "system",
            Actor::Cli => "cli",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::ScimToken { id, .. }
            | Actor::AdminToken { id, .. }
            | Actor::Account { id }
            | Actor::Staff { id, .. } => Some(id),
            Actor::System | Actor::Cli => None,
        }
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            Actor::ScimToken { label, .. } | Actor::AdminToken { label, .. } => Some(label),
            Actor::Staff { user_name, .. } => Some(user_name),
            Actor::Account { .. } | Actor::System | Actor::Cli => None,
        }
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_address: Option<String>,
}

/// The organisation a request acts for and who acts, decided by its
/// credentials. Every query of a use case is scoped by `org_id`.
#[derive(Debug, Clone)]
pub struct OrgScope {
    pub org_id: String,
    pub actor: Actor,
    pub request: RequestMeta,
}

impl OrgScope {
    pub fn new(org_id: &str, actor: Actor, request: &RequestMeta) -> OrgScope {
        OrgScope {
            org_id: org_id.to_string(),
            actor,
            request: request.clone(),
        }
    }

    /// The same organisation, acted on by scimlink itself (policy).
    pub fn system(&self) -> OrgScope {
        OrgScope {
            actor: Actor::System,
            ..self.clone()
        }
    }

    /// Admin-only use cases start with this: a support token gets 403.
    pub fn require_admin(&self) -> Result<(), AppError> {
        match &self.actor {
            Actor::AdminToken {
                role: AdminRole::Support,
                ..
            } => Err(AppError::Forbidden(
                "this needs an admin token; a support token may not do it".into(),
            )),
            Actor::Staff {
                role: AdminRole::Support,
                ..
            } => Err(AppError::Forbidden(
                "this needs the organisation role admin; support may not do it".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// The outcome of a conditional GET (`If-None-Match`).
pub enum Conditional<T> {
    Modified(T),
    NotModified { etag: String },
}

/// Runs CPU-heavy work (argon2) off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))
}

/// A resource as a response carries it.
pub struct Resource {
    pub body: serde_json::Value,
    pub etag: String,
    pub location: String,
}

/// RFC 7644 §3.14: a write with `If-Match` applies only to the version it names.
pub fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), AppError> {
    let current = crate::scim::etag(version);
    match if_match {
        Some(header) if !crate::scim::etag_matches(header, &current) => {
            Err(AppError::PreconditionFailed(format!(
                "If-Match {header} does not match the current version {current}"
            )))
        }
        _ => Ok(()),
    }
}
