//! Typed settings, read once (from flags and environment by `main`, or built
//! by tests) and passed down.

use crate::clock::Clock;
use crate::domain::secret::ConfiguredSecret;

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on, `host:port` (`127.0.0.1:0` picks a free port).
    pub bind: String,
    /// `sqlite://file.db?mode=rwc` or `postgres://user@host/db`.
    pub database_url: String,
    /// Base URL clients reach the server at, for `meta.location` and `Location`.
    /// `None`: `http://<bound address>`.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Page size when a list request gives no `count`.
    pub default_page_size: u64,
    /// Largest page returned (advertised as `filter.maxResults`).
    pub max_page_size: u64,
    /// Most rows one list request may examine for a filter on attributes that
    /// have no index, before it answers 400 `tooMany`.
    pub max_filter_scan: u64,
    /// Most operations one `/Bulk` request may carry (413 above it).
    pub max_bulk_operations: usize,
    /// How long a password reset link stays valid.
    pub reset_link_ttl_seconds: u64,
    /// `smtp://host:port`, `smtps://user:pass@host` ...; `None`: mail goes
    /// only to the outbox table.
    pub smtp_url: Option<String>,
    /// The From address of mail.
    pub mail_from: String,
    /// How far an IdP's clock may be off from scimlink's when assertion and
    /// token times are checked.
    pub sso_clock_skew_seconds: i64,
    /// The bearer token `GET /metrics` takes on the main address. `None`:
    /// there it answers 404.
    pub metrics_token: Option<ConfiguredSecret>,
    /// A second address, serving only `GET /metrics`, without a token.
    pub metrics_bind: Option<String>,
    /// How long a stopping server lets requests in flight finish, in seconds.
    pub shutdown_timeout_seconds: u64,
    /// The time source (tests move it forward).
    pub clock: Clock,
}

impl Settings {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: database_url.into(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            default_page_size: 100,
            max_page_size: 1000,
            max_filter_scan: 200_000,
            max_bulk_operations: 1000,
            reset_link_ttl_seconds: 24 * 3600,
            smtp_url: None,
            mail_from: "scimlink <no-reply@localhost>".into(),
            sso_clock_skew_seconds: 60,
            metrics_token: None,
            metrics_bind: None,
            shutdown_timeout_seconds: 30,
            clock: Clock::default(),
        }
    }
}
