//! Use cases. Each opens one transaction, calls `store` and `scim`, returns.

pub mod discovery;
pub mod orgs;
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
