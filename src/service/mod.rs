//! Use cases. Each opens one transaction, calls `store` and `scim`, returns.

pub mod accounts;
pub mod admin_tokens;
pub mod audit;
pub mod bulk;
pub mod connections;
pub mod discovery;
pub mod events;
pub mod groups;
pub mod linking;
pub mod listing;
pub mod mail;
pub mod oidc;
pub mod oidc_cache;
pub mod orgs;
pub mod outbound;
pub mod saml;
pub mod saml_keys;
pub mod saml_logout;
pub mod saml_slo;
pub mod saml_sp;
pub mod search;
pub mod secrets;
pub mod sessions;
pub mod signin;
pub mod sso;
pub mod staff;
pub mod tokens;
pub mod users;
pub mod webhook_worker;
pub mod webhooks;
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
    /// The OpenID providers' discovery documents and keys, shared by all
    /// requests of this process.
    pub oidc_providers: Arc<oidc_cache::ProviderCache>,
    /// What `GET /metrics` shows (sign-ins are counted from here).
    pub metrics: crate::metrics::Metrics,
    /// The client of every outgoing request (`outbound`): it refuses
    /// internal addresses.
    pub outbound: outbound::Outbound,
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
    /// The browser's own cookies that a sign-in reads.
    pub browser: Browser,
}

/// What a browser carries that a sign-in needs: the session a new sign-in
/// replaces (it ends; by the hash of its cookie), and the device cookie that
/// says this browser signed in to an account before (a secret). `Debug` says
/// only whether each is set.
#[derive(Clone, Default)]
pub struct Browser {
    pub session_hash: Option<String>,
    pub device: Option<String>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<none>" };
        f.debug_struct("Browser")
            .field("session", &set(&self.session_hash))
            .field("device", &set(&self.device))
            .finish()
    }
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

    /// Whether the actor has an organisation's admin powers: an allow-list
    /// (an admin token, a person with the organisation role admin, or the
    /// server's own command line); anything else, now or added later, is not.
    pub fn is_admin(&self) -> bool {
        match &self.actor {
            Actor::AdminToken { role, .. } | Actor::Staff { role, .. } => *role == AdminRole::Admin,
            Actor::Cli => true,
            Actor::ScimToken { .. } | Actor::Account { .. } | Actor::System => false,
        }
    }

    /// Admin-only use cases start with this: anyone but an admin gets 403.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            return Ok(());
        }
        Err(AppError::Forbidden(match &self.actor {
            Actor::AdminToken { .. } => {
                "this needs an admin token; a support token may not do it".into()
            }
            Actor::Staff { .. } => {
                "this needs the organisation role admin; support may not do it".into()
            }
            other => format!(
                "this needs an administrator; a {} may not do it",
                other.kind()
            ),
        }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(actor: Actor) -> OrgScope {
        OrgScope::new("org", actor, &RequestMeta::default())
    }

    #[test]
    fn only_admins_pass_require_admin() {
        let admins = [
            Actor::AdminToken {
                id: "t".into(),
                label: "l".into(),
                role: AdminRole::Admin,
            },
            Actor::Staff {
                id: "a".into(),
                user_name: "u".into(),
                role: AdminRole::Admin,
            },
            Actor::Cli,
        ];
        for actor in admins {
            assert!(scope(actor.clone()).require_admin().is_ok(), "{actor:?}");
        }
        let others = [
            Actor::AdminToken {
                id: "t".into(),
                label: "l".into(),
                role: AdminRole::Support,
            },
            Actor::Staff {
                id: "a".into(),
                user_name: "u".into(),
                role: AdminRole::Support,
            },
            Actor::ScimToken {
                id: "s".into(),
                label: "okta".into(),
            },
            Actor::Account { id: "a".into() },
            Actor::System,
        ];
        for actor in others {
            assert!(
                matches!(
                    scope(actor.clone()).require_admin(),
                    Err(AppError::Forbidden(_))
                ),
                "{actor:?}"
            );
        }
    }

    #[test]
    fn a_browsers_secrets_never_reach_a_log() {
        let meta = RequestMeta {
            browser: Browser {
                session_hash: Some("sess_secret_value".into()),
                device: Some("dev_secret_value".into()),
            },
            ..Default::default()
        };
        let printed = format!("{meta:?}");
        assert!(!printed.contains("secret_value"), "{printed}");
        assert!(printed.contains("<set>"), "{printed}");
    }
}
