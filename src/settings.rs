//! Typed settings, read once (from flags and environment by `main`, or built
//! by tests) and passed down.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::sealing::{HOW_TO_GENERATE, SecretKeys};
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
    /// How many days product events are kept (`--event-retention-days`).
    pub event_retention_days: u32,
    /// The keys that seal stored secrets (OIDC client secrets). `None`: no
    /// key (PostgreSQL without `SCIMLINK_SECRET_KEY`), and a client secret
    /// cannot be stored.
    pub secret_keys: Option<Arc<SecretKeys>>,
    /// The bearer token `GET /metrics` takes on the main address. `None`:
    /// there it answers 404.
    pub metrics_token: Option<ConfiguredSecret>,
    /// A second address, serving only `GET /metrics`, without a token.
    pub metrics_bind: Option<String>,
    /// How long a stopping server lets requests in flight finish, in seconds.
    pub shutdown_timeout_seconds: u64,
    /// What outgoing requests may connect to (`service::outbound`).
    pub outbound: OutboundSettings,
    /// The time source (tests move it forward).
    pub clock: Clock,
}

/// What outgoing requests (an OpenID provider's documents and token
/// endpoint, webhooks) may connect to.
#[derive(Debug, Clone, Default)]
pub struct OutboundSettings {
    /// Allow private ranges (RFC 1918, RFC 6598 shared, IPv6 unique local):
    /// a provider on an internal network. Link-local (cloud metadata),
    /// unspecified, multicast and reserved addresses stay refused.
    pub allow_private: bool,
    /// Fixed addresses for names, looked up before DNS and checked like
    /// DNS answers (lowercase names; tests set it, there is no flag).
    pub resolve: HashMap<String, Vec<IpAddr>>,
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
            event_retention_days: 30,
            secret_keys: None,
            metrics_token: None,
            metrics_bind: None,
            shutdown_timeout_seconds: 30,
            outbound: OutboundSettings::default(),
            clock: Clock::default(),
        }
    }
}

/// Where the key that seals stored secrets came from (for the start log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SCIMLINK_SECRET_KEY`.
    Environment,
    /// The key file beside a SQLite database; `created` on this start.
    File { path: PathBuf, created: bool },
    /// An in-memory database: a key for this process only.
    Ephemeral,
    /// No key: PostgreSQL without `SCIMLINK_SECRET_KEY`.
    Missing,
}

/// The sealing keys: `SCIMLINK_SECRET_KEY` (and the old keys of
/// `SCIMLINK_SECRET_KEY_PREVIOUS`, comma-separated) when set. Without it, a
/// SQLite database keeps its key in a file beside it (`<database>.key`,
/// created with mode 0600 on first start), so `serve` works out of the box;
/// a PostgreSQL database, which several servers share, gets no key (a file
/// on one machine would not reach the others).
pub fn secret_keys(
    database_url: &str,
    current: Option<&str>,
    previous: Option<&str>,
) -> Result<(Option<SecretKeys>, KeySource), String> {
    if let Some(current) = current.filter(|c| !c.trim().is_empty()) {
        return Ok((
            Some(SecretKeys::parse(current, previous)?),
            KeySource::Environment,
        ));
    }
    let has_previous = previous.is_some_and(|p| !p.trim().is_empty());
    match sqlite_file(database_url) {
        Some(SqliteFile::Memory) => Ok((
            Some(SecretKeys::parse(&SecretKeys::generate(), previous)?),
            KeySource::Ephemeral,
        )),
        Some(SqliteFile::Path(db)) => {
            let mut path = db.into_os_string();
            path.push(".key");
            let path = PathBuf::from(path);
            let (key, created) = read_or_create_key_file(&path)?;
            let keys = SecretKeys::parse(&key, previous)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((Some(keys), KeySource::File { path, created }))
        }
        None if has_previous => Err(format!(
            "SCIMLINK_SECRET_KEY_PREVIOUS is set but SCIMLINK_SECRET_KEY is not: set the current key too ({HOW_TO_GENERATE})"
        )),
        None => Ok((None, KeySource::Missing)),
    }
}

enum SqliteFile {
    Memory,
    Path(PathBuf),
}

/// The file of a `sqlite:` URL (`sqlite://scimlink.db?mode=rwc`,
/// `sqlite:///var/lib/scimlink.db`, `sqlite::memory:`); `None`: not SQLite.
fn sqlite_file(database_url: &str) -> Option<SqliteFile> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return Some(SqliteFile::Memory);
    }
    Some(SqliteFile::Path(PathBuf::from(path)))
}

/// Reads the key file, or creates it (readable by its owner only) with a
/// fresh key. `true`: created now.
fn read_or_create_key_file(path: &Path) -> Result<(String, bool), String> {
    use std::io::Write;
    match std::fs::read_to_string(path) {
        Ok(key) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(path)
                    && meta.permissions().mode() & 0o077 != 0
                {
                    log::warn!(
                        "{} can be read by others than its owner; chmod 600 it",
                        path.display()
                    );
                }
            }
            return Ok((key.trim().to_string(), false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read the key file {}: {e}", path.display())),
    }
    let key = SecretKeys::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(path)
        .and_then(|mut file| file.write_all(format!("{key}\n").as_bytes()));
    match written {
        Ok(()) => Ok((key, true)),
        // Another process created it first: read theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create_key_file(path),
        Err(e) => Err(format!(
            "cannot create the key file {}: {e} (or set SCIMLINK_SECRET_KEY: {HOW_TO_GENERATE})",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let path = |url: &str| match sqlite_file(url) {
            Some(SqliteFile::Path(p)) => Some(p.display().to_string()),
            Some(SqliteFile::Memory) => Some(":memory:".into()),
            None => None,
        };
        assert_eq!(
            path("sqlite://scimlink.db?mode=rwc").as_deref(),
            Some("scimlink.db")
        );
        assert_eq!(
            path("sqlite:///var/lib/s.db").as_deref(),
            Some("/var/lib/s.db")
        );
        assert_eq!(path("sqlite:s.db").as_deref(), Some("s.db"));
        assert_eq!(path("sqlite::memory:").as_deref(), Some(":memory:"));
        assert_eq!(
            path("sqlite://x.db?mode=memory").as_deref(),
            Some(":memory:")
        );
        assert_eq!(path("postgres://u@h/db"), None);
    }

    #[test]
    fn a_sqlite_database_gets_a_private_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
        let (keys, source) = secret_keys(&url, None, None).unwrap();
        let path = dir.path().join("s.db.key");
        assert_eq!(
            source,
            KeySource::File {
                path: path.clone(),
                created: true
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = secret_keys(&url, None, None).unwrap();
        assert_eq!(
            source,
            KeySource::File {
                path,
                created: false
            }
        );
        assert_eq!(keys.unwrap().current_id(), again.unwrap().current_id());
        // The environment wins over the file.
        let env = SecretKeys::generate();
        let (keys, source) = secret_keys(&url, Some(&env), None).unwrap();
        assert_eq!(source, KeySource::Environment);
        assert_eq!(
            keys.unwrap().current_id(),
            SecretKeys::parse(&env, None).unwrap().current_id()
        );
    }

    #[test]
    fn postgres_without_a_key_has_none_and_a_bad_key_is_an_error() {
        let url = "postgres://u@h/db";
        assert_eq!(secret_keys(url, None, None).unwrap().1, KeySource::Missing);
        assert!(secret_keys(url, None, Some(&SecretKeys::generate())).is_err());
        assert!(
            secret_keys(url, Some("short"), None)
                .unwrap_err()
                .contains("openssl rand")
        );
    }
}
