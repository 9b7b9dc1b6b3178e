//! The command line: flags, each also read from an environment variable.

use clap::{Args, Parser, Subcommand};

use crate::domain::secret::ConfiguredSecret;

#[derive(Debug, Parser)]
#[command(
    name = "scimlink",
    version,
    about = "SCIM 2.0 provisioning server with SSO account linking",
    long_about = "scimlink receives users from identity providers (Okta, Entra ID, OneLogin, JumpCloud) over SCIM 2.0 \
and keeps one account per person per organisation.\n\nStart it with `scimlink serve`; on an empty database it creates the \
organisation `default` and prints a SCIM bearer token for it once."
)]
pub struct Cli {
    /// Database to use: a SQLite file (created if missing) or a PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://scimlink.db?mode=rwc",
        global = true
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (runs pending migrations first).
    Serve(ServeArgs),
    /// Run pending database migrations and exit.
    Migrate,
    /// Manage organisations (tenants).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage the SCIM bearer tokens identity providers use.
    #[command(subcommand, name = "scim-token")]
    ScimToken(ScimTokenCommand),
    /// Manage the admin API's bearer tokens (roles `admin` and `support`).
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// Manage accounts from the server's shell (break-glass accounts, first admins).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage the key that seals stored secrets (OIDC client secrets).
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIMLINK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Base URL clients use to reach this server (for meta.location and Location headers).
    /// Default: http://<bind>.
    #[arg(long, env = "SCIMLINK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "SCIMLINK_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Page size of a list request without `count`.
    #[arg(long, env = "SCIMLINK_DEFAULT_PAGE_SIZE", default_value_t = 100)]
    pub default_page_size: u64,
    /// Largest page a list request returns (advertised as filter.maxResults).
    #[arg(long, env = "SCIMLINK_MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: u64,
    /// Most Users one request may examine for a filter on attributes without an index, before it answers 400 tooMany.
    #[arg(long, env = "SCIMLINK_MAX_FILTER_SCAN", default_value_t = 200_000)]
    pub max_filter_scan: u64,
    /// Most operations one /Bulk request may carry; more get 413 (the body limit applies too).
    #[arg(long, env = "SCIMLINK_MAX_BULK_OPERATIONS", default_value_t = 1000)]
    pub max_bulk_operations: usize,
    /// How long a password reset link stays valid, in seconds.
    #[arg(long, env = "SCIMLINK_RESET_LINK_TTL", default_value_t = 24 * 3600)]
    pub reset_link_ttl: u64,
    /// How far, in seconds, an identity provider's clock may differ from this
    /// server's when ID token and assertion times are checked.
    #[arg(long, env = "SCIMLINK_SSO_CLOCK_SKEW", default_value_t = 60)]
    pub sso_clock_skew: i64,
    /// Let outgoing requests (an OpenID provider's discovery document, keys
    /// and token endpoint) reach private addresses (10/8, 172.16/12,
    /// 192.168/16, 100.64/10, fc00::/7): for an identity provider on an
    /// internal network. Without it they are refused. Loopback is always
    /// allowed; link-local (169.254.169.254, cloud metadata), unspecified,
    /// multicast and reserved addresses never are.
    #[arg(long, env = "SCIMLINK_OUTBOUND_ALLOW_PRIVATE")]
    pub outbound_allow_private: bool,
    /// How many days product events (`GET /api/v1/events`) are kept; a
    /// cursor older than that answers 410.
    #[arg(long, env = "SCIMLINK_EVENT_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,
    /// SMTP server for mail (reset links), e.g. smtp://mail.example.com:587 or
    /// smtps://user:password@mail.example.com. Without it, mail only goes to the
    /// outbox that admins read at GET /api/v1/outbox.
    #[arg(long, env = "SCIMLINK_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of mail.
    #[arg(
        long,
        env = "SCIMLINK_MAIL_FROM",
        default_value = "scimlink <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Serve GET /metrics (Prometheus text format) on the main address to
    /// requests with `Authorization: Bearer <this token>` (at least 16
    /// characters; others get 401). Without it the main address answers 404
    /// there (see --metrics-bind).
    #[arg(long, env = "SCIMLINK_METRICS_TOKEN", hide_env_values = true, value_parser = ConfiguredSecret::parse)]
    pub metrics_token: Option<ConfiguredSecret>,
    /// A second address, e.g. 127.0.0.1:9090, serving only GET /metrics,
    /// without a token: bind it where only the metrics scraper reaches.
    #[arg(long, env = "SCIMLINK_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// On SIGTERM or SIGINT the server stops accepting connections and lets
    /// requests in flight finish for up to this many seconds, then exits.
    #[arg(long, env = "SCIMLINK_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,
    #[command(flatten)]
    pub keys: SecretKeyArgs,
}

/// The keys that seal stored secrets.
#[derive(Args)]
pub struct SecretKeyArgs {
    /// Key that seals stored OIDC client secrets (AES-256-GCM): base64 of 32
    /// bytes; generate one with `openssl rand -base64 32`. Without it, a SQLite
    /// database keeps its key in a file beside it (<database file>.key, created
    /// with mode 0600 on first start); a PostgreSQL database then cannot store
    /// client secrets. Prefer the environment variable to the flag.
    #[arg(long, env = "SCIMLINK_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Old keys, comma-separated, still accepted for opening secrets sealed
    /// before a rotation; `scimlink secrets rotate` re-seals them with the
    /// current key, after which they can go.
    #[arg(long, env = "SCIMLINK_SECRET_KEY_PREVIOUS", hide_env_values = true)]
    pub secret_key_previous: Option<String>,
}

/// Never prints a key.
impl std::fmt::Debug for SecretKeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeyArgs")
            .field("secret_key", &self.secret_key.as_ref().map(|_| ".."))
            .field(
                "secret_key_previous",
                &self.secret_key_previous.as_ref().map(|_| ".."),
            )
            .finish()
    }
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-seal every stored client secret with the current key
    /// (SCIMLINK_SECRET_KEY), opening them with it or one of
    /// SCIMLINK_SECRET_KEY_PREVIOUS; secrets still in clear are sealed too.
    /// All or nothing. To rotate: set SCIMLINK_SECRET_KEY to a new key and
    /// SCIMLINK_SECRET_KEY_PREVIOUS to the old one, restart the servers, run
    /// this, then drop the old key.
    Rotate {
        #[command(flatten)]
        keys: SecretKeyArgs,
    },
}

/// Where a printed one-time link points, and how long it lasts.
#[derive(Debug, Args)]
pub struct ResetLinkArgs {
    /// Base URL people reach the server at, for the one-time link.
    #[arg(
        long,
        env = "SCIMLINK_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// How long the one-time link stays valid, in seconds.
    #[arg(long, env = "SCIMLINK_RESET_LINK_TTL", default_value_t = 24 * 3600)]
    pub reset_link_ttl: u64,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation (with its `default` workspace). With
    /// --owner-email it also gets its first administrator: a break-glass
    /// password account with the organisation role `admin`, and a one-time
    /// link, printed here, to set its password and sign in to /admin.
    Create {
        /// URL-safe identifier: lower-case letters, digits and hyphens.
        #[arg(long)]
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// The owner's email (also their user name).
        #[arg(long)]
        owner_email: Option<String>,
        #[command(flatten)]
        link: ResetLinkArgs,
    },
    /// List organisations.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Issue a token; prints the secret alone on stdout, once.
    Create {
        /// Slug of the organisation the token reaches.
        #[arg(long)]
        org: String,
        /// What the token is for, e.g. "Okta production".
        #[arg(long, default_value = "SCIM token")]
        label: String,
    },
    /// List an organisation's tokens (never their secrets).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a token by id; requests using it get 401 from then on.
    Revoke {
        /// The token id, as `scim-token list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Issue an admin API token; prints the secret alone on stdout, once.
    Create {
        /// Slug of the organisation the token reaches.
        #[arg(long)]
        org: String,
        /// `admin` (everything) or `support` (read accounts and the audit log,
        /// switch auth modes, send resets, edit External user IDs).
        #[arg(long, value_parser = ["admin", "support"])]
        role: String,
        /// Who or what the token is for, e.g. "support desk".
        #[arg(long, default_value = "admin token")]
        label: String,
    },
    /// List an organisation's admin tokens (never their secrets).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke an admin token by id.
    Revoke {
        /// The token id, as `admin-token list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account. In an organisation with SSO it signs in through SSO,
    /// unless --break-glass; a password account gets a one-time reset link,
    /// printed here, to set its password.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user_name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// May sign in with a password even when the organisation requires SSO.
        #[arg(long)]
        break_glass: bool,
        #[command(flatten)]
        link: ResetLinkArgs,
    },
}
