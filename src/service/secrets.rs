//! Secrets kept at rest that scimlink reads back (the OIDC client secrets of
//! connections): sealed with the key of `SCIMLINK_SECRET_KEY` before they
//! are stored, opened only for the code exchange, sealed on start when an
//! older version left them in clear, and re-sealed with the current key by
//! `scimlink secrets rotate`.

use crate::domain::sealing::{HOW_TO_GENERATE, OpenError, Opened, SecretKeys};
use crate::error::{AppError, AppResult};
use crate::settings::Settings;
use crate::store::{self, Db, connections::ConnectionRow};

/// What a sealed client secret is bound to: its connection and field, so a
/// value copied to another connection's row does not open there.
fn context(connection_id: &str) -> String {
    format!("sso_connections.oidc_client_secret:{connection_id}")
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
    let stored = store::connections::client_secrets(&txn)
        .await
        .map_err(|e| e.to_string())?;
    let mut check = StartCheck::default();
    let mut in_clear = 0;
    for (id, value) in &stored {
        match (keys, SecretKeys::key_id_of(value)) {
            (Some(keys), None) => {
                let sealed = keys.seal(value, &context(id))?;
                if store::connections::replace_client_secret(&txn, id, value, &sealed)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    check.sealed += 1;
                }
            }
            (None, None) => in_clear += 1,
            (Some(keys), Some(_)) => {
                if let Err(e) = keys.open(value, &context(id)) {
                    check.unreadable.push((id.clone(), e.to_string()));
                }
            }
            (None, Some(key)) => check.unreadable.push((
                id.clone(),
                format!("it is sealed with key {key}, and SCIMLINK_SECRET_KEY is not set"),
            )),
        }
    }
    if in_clear > 0 {
        return Err(format!(
            "the database holds {in_clear} OIDC client secret(s) in clear, and SCIMLINK_SECRET_KEY is not set: set it ({HOW_TO_GENERATE}) and start again, and scimlink seals them"
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
    let stored = store::connections::client_secrets(&txn)
        .await
        .map_err(|e| e.to_string())?;
    let mut rotation = Rotation::default();
    for (id, value) in &stored {
        if keys.is_current(value) {
            rotation.current += 1;
            continue;
        }
        let plain = match keys.open(value, &context(id)) {
            Ok(opened) => opened,
            Err(OpenError::NotSealed) => Opened::from_clear(value),
            Err(e) => {
                return Err(format!(
                    "connection {id}: {e}; nothing was changed (add the key it was sealed with to SCIMLINK_SECRET_KEY_PREVIOUS)"
                ));
            }
        };
        let sealed = keys.seal(plain.expose(), &context(id))?;
        if store::connections::replace_client_secret(&txn, id, value, &sealed)
            .await
            .map_err(|e| e.to_string())?
        {
            rotation.resealed += 1;
        }
    }
    txn.commit().await.map_err(|e| e.to_string())?;
    Ok(rotation)
}
