//! Use cases. Each opens one transaction, calls `store` and `scim`, returns.

pub mod bulk;
pub mod discovery;
pub mod groups;
pub mod listing;
pub mod orgs;
pub mod search;
pub mod tokens;
pub mod users;

use std::sync::Arc;

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

/// The organisation a request acts for, decided by its bearer token.
#[derive(Debug, Clone)]
pub struct OrgScope {
    pub org_id: String,
    pub token_id: String,
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
