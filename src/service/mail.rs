//! Mail: every message goes into the outbox table (so support staff can hand
//! a link over when mail is not set up) and, when SMTP is configured, out by
//! SMTP after the change that wrote it has committed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use super::{AppState, OrgScope};
use crate::error::AppResult;
use crate::scim::resource::format_datetime;
use crate::store::{self, outbox::OutboxRow, users::AccountRow};

/// What replaces a reset link in the outbox once the link is no longer valid.
pub const REDACTED_BODY: &str =
    "This message carried a password reset link that has since been used, replaced or withdrawn.";

/// What support sees instead of a live reset link of a staff account.
pub const STAFF_LINK_HIDDEN: &str = "This message carries a password reset link for an account with an organisation role; only an admin may see it.";

/// The reset URL a person opens: `<public-url>/reset-password?token=<token>`.
pub fn reset_url(base_url: &str, token: &str) -> String {
    format!("{base_url}/reset-password?token={token}")
}

/// Writes a reset-link message to the outbox (in the caller's transaction).
pub async fn queue_reset(
    conn: &impl sea_orm::ConnectionTrait,
    account: &AccountRow,
    reset_id: &str,
    url: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<OutboxRow> {
    let body = format!(
        "Hello {name},\n\nset a password for your account {user} by opening this link:\n\n{url}\n\n\
         The link works once and until {expires}. If you did not expect it, ignore this message.\n",
        name = account
            .display_name
            .as_deref()
            .unwrap_or(&account.user_name),
        user = account.user_name,
        expires = format_datetime(expires_at),
    );
    Ok(store::outbox::insert(
        conn,
        store::outbox::NewMessage {
            org_id: &account.org_id,
            account_id: &account.id,
            reset_id: Some(reset_id),
            recipient: account.primary_email.as_deref(),
            subject: "Set your password",
            body: &body,
            now,
        },
    )
    .await?)
}

/// Sends a queued message when SMTP is configured and records the outcome.
/// Never fails the request: the message stays readable in the outbox.
pub async fn deliver(state: &AppState, message: &OutboxRow) {
    let Some(smtp_url) = state.settings.smtp_url.as_deref() else {
        return;
    };
    let outcome = match &message.recipient {
        None => Err("the account has no email address".to_string()),
        Some(to) => send(smtp_url, &state.settings.mail_from, to, message).await,
    };
    let (status, error) = match &outcome {
        Ok(()) => ("sent", None),
        Err(e) => ("failed", Some(e.as_str())),
    };
    match &outcome {
        Ok(()) => log::info!("mailed outbox message {}", message.id),
        Err(e) => log::warn!("could not mail outbox message {}: {e}", message.id),
    }
    if let Err(e) = store::outbox::set_status(&state.db.write, &message.id, status, error).await {
        log::warn!("could not record the mail status of {}: {e}", message.id);
    }
}

async fn send(smtp_url: &str, from: &str, to: &str, message: &OutboxRow) -> Result<(), String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("SCIMLINK_MAIL_FROM is not an address: {e}"))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("the recipient is not an address: {e}"))?;
    let email = Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(message.body.clone())
        .map_err(|e| format!("cannot build the message: {e}"))?;
    // The URL may hold credentials: errors below name the failure, never the URL.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
        .map_err(|e| format!("SCIMLINK_SMTP_URL is not usable: {e}"))?
        .timeout(Some(Duration::from_secs(15)))
        .build();
    transport
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP: {e}"))
}

/// A message as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: String,
    pub account_id: String,
    pub recipient: Option<String>,
    pub subject: String,
    pub body: String,
    /// The link the message carries while it is still valid.
    pub reset_url: Option<String>,
    pub status: String,
    pub created_at: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
}

/// The organisation's messages, newest first (the latest 200).
pub async fn outbox(
    state: &AppState,
    scope: &OrgScope,
    account_id: Option<&str>,
) -> AppResult<MessagePage> {
    let rows = store::outbox::list(
        &state.db.read,
        &scope.org_id,
        account_id.filter(|a| !a.is_empty()),
        200,
    )
    .await?;
    let reset_ids: Vec<String> = rows.iter().filter_map(|r| r.reset_id.clone()).collect();
    let now = state.settings.clock.now();
    // A live link of a staff account would hand its powers to whoever reads
    // it: only an admin may (support may not act on staff accounts at all).
    let hidden = if scope.is_admin() {
        std::collections::HashSet::new()
    } else {
        let accounts: Vec<String> = rows.iter().map(|r| r.account_id.clone()).collect();
        store::accounts::staff_among(&state.db.read, &scope.org_id, &accounts).await?
    };
    let live: std::collections::HashSet<String> =
        store::sessions::resets_by_ids(&state.db.read, &reset_ids)
            .await?
            .into_iter()
            .filter(|r| r.used_at.is_none() && r.expires_at > now)
            .map(|r| r.id)
            .collect();
    let messages = rows
        .into_iter()
        .map(|row| {
            let carries_live_link = row.reset_id.as_ref().is_some_and(|id| live.contains(id));
            let (body, reset_url) = match (&row.reset_id, carries_live_link) {
                (Some(_), true) if hidden.contains(&row.account_id) => {
                    (STAFF_LINK_HIDDEN.to_string(), None)
                }
                (Some(_), true) => (row.body.clone(), find_url(&row.body)),
                (Some(_), false) => (REDACTED_BODY.to_string(), None),
                (None, _) => (row.body.clone(), None),
            };
            MessageView {
                id: row.id,
                account_id: row.account_id,
                recipient: row.recipient,
                subject: row.subject,
                body,
                reset_url,
                status: row.status,
                created_at: format_datetime(row.created_at),
                error: row.error,
            }
        })
        .collect();
    Ok(MessagePage { messages })
}

fn find_url(body: &str) -> Option<String> {
    body.split_whitespace()
        .find(|w| w.contains("/reset-password?token="))
        .map(str::to_string)
}
