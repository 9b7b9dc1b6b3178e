//! Secrets kept at rest that scimlink reads back (the OIDC client secrets of
//! connections, the private keys of SAML connections, webhook signing
//! secrets): sealed with the key
//! of `SCIMLINK_SECRET_KEY` before they are stored, opened only where they
//! are used, sealed on start when an older version left them in clear, and
//! re-sealed with the current key by `scimlink secrets rotate`.

use crate::domain::sealing::{HOW_TO_GENERATE, OpenError, Opened, SecretKeys};
use crate::error::{AppError, AppResult};
use crate::settings::Settings;
use crate::store::{self, Db, connections::ConnectionRow};

/// What a sealed client secret is bound to: its connection and field, so a
/// value copied to another connection's row does not open there.
fn context(connection_id: &str) -> String {
    format!("sso_connections.oidc_client_secret:{connection_id}")
}

/// What a sealed SAML private key is bound to: its connection and use.
fn sp_key_context(connection_id: &str, key_use: &str) -> String {
    format!("saml_sp_keys.private_key:{connection_id}:{key_use}")
}

/// What a sealed webhook secret is bound to: its webhook, and whether it is
/// the current secret or the previous one (still signing after a rotation).
fn webhook_context(webhook_id: &str, previous: bool) -> String {
    let field = if previous {
        "previous_secret"
    } else {
        "secret"
    };
    format!("webhooks.{field}:{webhook_id}")
}

/// Seals a webhook's signing secret.
pub(crate) fn seal_webhook_secret(
    settings: &Settings,
    webhook_id: &str,
    previous: bool,
    secret: &str,
) -> AppResult<String> {
    let keys = settings.secret_keys.as_deref().ok_or_else(|| {
        AppError::Conflict(format!(
            "this server has no key to store webhook secrets with: set SCIMLINK_SECRET_KEY ({HOW_TO_GENERATE}) and restart it"
        ))
    })?;
    keys.seal(secret, &webhook_context(webhook_id, previous))
        .map_err(AppError::Internal)
}

/// Opens a webhook's stored signing secret.
pub(crate) fn open_webhook_secret(
    settings: &Settings,
    webhook_id: &str,
    previous: bool,
    stored: &str,
) -> Result<Opened, String> {
    let keys = settings.secret_keys.as_deref().ok_or_else(|| {
        format!("no SCIMLINK_SECRET_KEY to open webhook {webhook_id}'s secret with")
    })?;
    keys.open(stored, &webhook_context(webhook_id, previous))
        .map_err(|e| format!("webhook {webhook_id}'s secret cannot be opened: {e}"))
}

/// Seals a SAML connection's new private key.
pub(crate) fn seal_sp_key(
    settings: &Settings,
    connection_id: &str,
    key_use: &str,
    pem: &str,
) -> AppResult<String> {
    let keys = settings.secret_keys.as_deref().ok_or_else(|| {
        AppError::Conflict(format!(
            "this server has no key to store SAML keys with: set SCIMLINK_SECRET_KEY ({HOW_TO_GENERATE}) and restart it"
        ))
    })?;
    keys.seal(pem, &sp_key_context(connection_id, key_use))
        .map_err(AppError::Internal)
}

/// Opens a stored SAML private key.
pub(crate) fn open_sp_key(
    settings: &Settings,
    connection_id: &str,
    key_use: &str,
    stored: &str,
) -> AppResult<Opened> {
    let keys = settings.secret_keys.as_deref().ok_or_else(|| {
        AppError::Internal(format!(
            "no SCIMLINK_SECRET_KEY to open connection {connection_id}'s SAML {key_use} key with"
        ))
    })?;
    keys.open(stored, &sp_key_context(connection_id, key_use))
        .map_err(|e| {
            AppError::Internal(format!(
                "connection {connection_id}'s SAML {key_use} key cannot be opened: {e}"
            ))
        })
}

/// A value kept sealed at rest, wherever it lives.
struct AtRest {
    kind: Kind,
    /// What a message names it as.
    what: String,
    /// What its seal is bound to.
    context: String,
    value: String,
}

enum Kind {
    ClientSecret { connection_id: String },
    SamlKey { id: String },
    WebhookSecret { id: String, previous: bool },
}

async fn all_at_rest(conn: &impl sea_orm::ConnectionTrait) -> Result<Vec<AtRest>, String> {
    let mut all: Vec<AtRest> = store::connections::client_secrets(conn)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(id, value)| AtRest {
            what: format!("connection {id}'s client secret"),
            context: context(&id),
            kind: Kind::ClientSecret { connection_id: id },
            value,
        })
        .collect();
    for (id, connection_id, key_use, value) in store::saml::private_keys(conn)
        .await
        .map_err(|e| e.to_string())?
    {
        all.push(AtRest {
            what: format!("connection {connection_id}'s SAML {key_use} key"),
            context: sp_key_context(&connection_id, &key_use),
            kind: Kind::SamlKey { id },
            value,
        });
    }
    for (id, previous, value) in store::webhooks::secrets(conn)
        .await
        .map_err(|e| e.to_string())?
    {
        all.push(AtRest {
            what: format!(
                "webhook {id}'s {}secret",
                if previous { "previous " } else { "" }
            ),
            context: webhook_context(&id, previous),
            kind: Kind::WebhookSecret { id, previous },
            value,
        });
    }
    Ok(all)
}

/// Replaces a value at rest if it is still what was read. `true`: replaced.
async fn replace(
    conn: &impl sea_orm::ConnectionTrait,
    item: &AtRest,
    sealed: &str,
) -> Result<bool, String> {
    match &item.kind {
        Kind::ClientSecret { connection_id } => {
            store::connections::replace_client_secret(conn, connection_id, &item.value, sealed)
                .await
        }
        Kind::SamlKey { id } => {
            store::saml::replace_private_key(conn, id, &item.value, sealed).await
        }
        Kind::WebhookSecret { id, previous } => {
            store::webhooks::replace_secret(conn, id, *previous, &item.value, sealed).await
        }
    }
    .map_err(|e| e.to_string())
}

/// Seals the client secret an admin gives for a connection.
pub(crate) fn seal_client_secret(
    settings: &Settings,
    connection_id: &str,
    plain: &str,
) -> AppResult<String> {
    let keys = settings.secret_keys.as_deref().ok_or_else(|| {
        AppError::invalid_value(format!(
            "this server has no key to store client secrets with: set SCIMLINK_SECRET_KEY ({HOW_TO_GENERATE}) and restart it"
        ))
    })?;
    keys.seal(plain, &context(connection_id))
        .map_err(AppError::invalid_value)
}

/// Opens a stored client secret.
pub fn open(settings: &Settings, connection_id: &str, stored: &str) -> Result<Opened, String> {
    let keys = settings.secret_keys.as_deref().ok_or_else(|| {
        format!("this server has no SCIMLINK_SECRET_KEY to open connection {connection_id}'s client secret with")
    })?;
    keys.open(stored, &context(connection_id))
        .map_err(|e| format!("connection {connection_id}'s client secret cannot be used: {e}"))
}

/// A connection's client secret for the code exchange; `None`: it has none
/// (a public client, PKCE only).
pub(crate) fn client_secret(
    settings: &Settings,
    connection: &ConnectionRow,
) -> Result<Option<Opened>, String> {
    connection
        .oidc_client_secret
        .as_deref()
        .map(|stored| open(settings, &connection.id, stored))
        .transpose()
}

/// What `seal_at_start` found.
#[derive(Debug, Default)]
pub struct StartCheck {
    /// Secrets that were in clear and are sealed now.
    pub sealed: usize,
    /// Connections whose secret the configured keys cannot open, and why.
    pub unreadable: Vec<(String, String)>,
}

/// On start: seals the client secrets an older version stored in clear (in
/// one transaction), and lists those the keys cannot open, for the log.
/// Secrets in clear without a key are an error: scimlink does not run with
/// them left readable.
pub async fn seal_at_start(db: &Db, keys: Option<&SecretKeys>) -> Result<StartCheck, String> {
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    let stored = all_at_rest(&txn).await?;
    let mut check = StartCheck::default();
    let mut in_clear = 0;
    for item in &stored {
        match (keys, SecretKeys::key_id_of(&item.value)) {
            (Some(keys), None) => {
                let sealed = keys.seal(&item.value, &item.context)?;
                if replace(&txn, item, &sealed).await? {
                    check.sealed += 1;
                }
            }
            (None, None) => in_clear += 1,
            (Some(keys), Some(_)) => {
                if let Err(e) = keys.open(&item.value, &item.context) {
                    check.unreadable.push((item.what.clone(), e.to_string()));
                }
            }
            (None, Some(key)) => check.unreadable.push((
                item.what.clone(),
                format!("it is sealed with key {key}, and SCIMLINK_SECRET_KEY is not set"),
            )),
        }
    }
    if in_clear > 0 {
        return Err(format!(
            "the database holds {in_clear} secret(s) (OIDC client secrets, SAML keys, webhook secrets) in clear, and SCIMLINK_SECRET_KEY is not set: set it ({HOW_TO_GENERATE}) and start again, and scimlink seals them"
        ));
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    Ok(check)
}

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Re-sealed with the current key (or sealed, when in clear).
    pub resealed: usize,
    /// Already under the current key.
    pub current: usize,
}

/// Re-seals every stored client secret with the current key, in one
/// transaction: all or nothing. A secret no configured key opens stops it,
/// naming the connection and the key it needs.
pub async fn rotate(db: &Db, keys: &SecretKeys) -> Result<Rotation, String> {
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    let stored = all_at_rest(&txn).await?;
    let mut rotation = Rotation::default();
    for item in &stored {
        if keys.is_current(&item.value) {
            rotation.current += 1;
            continue;
        }
        let plain = match keys.open(&item.value, &item.context) {
            Ok(opened) => opened,
            Err(OpenError::NotSealed) => Opened::from_clear(&item.value),
            Err(e) => {
                return Err(format!(
                    "{}: {e}; nothing was changed (add the key it was sealed with to SCIMLINK_SECRET_KEY_PREVIOUS)",
                    item.what
                ));
            }
        };
        let sealed = keys.seal(plain.expose(), &item.context)?;
        if replace(&txn, item, &sealed).await? {
            rotation.resealed += 1;
        }
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    Ok(rotation)
}
