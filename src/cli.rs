//! The command line: flags, each also read from an environment variable.

use clap::{Args, Parser, Subcommand};

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
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation (with its `default` workspace).
    Create {
        /// URL-safe identifier: lower-case letters, digits and hyphens.
        #[arg(long)]
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
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
