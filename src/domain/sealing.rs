//! Secrets scimlink must read back (an OIDC connection's client secret),
//! sealed at rest with AES-256-GCM under a 32-byte key of the operator's
//! (`SCIMLINK_SECRET_KEY`). A sealed value is text: `v1:<key id>:<base64 of
//! nonce, ciphertext and tag>`. The key id names which key sealed it, so old
//! keys kept for reading (`SCIMLINK_SECRET_KEY_PREVIOUS`) can open values
//! sealed before a rotation, and the rotation knows what is left to redo.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

/// The format of a sealed value; a later format gets `v2`.
const VERSION: &str = "v1";
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// How an operator makes a key (in messages and `--help`).
pub const HOW_TO_GENERATE: &str = "generate one with `openssl rand -base64 32`";

/// One 32-byte key and its id (the first 8 hex digits of its SHA-256: it
/// names the key without revealing it).
struct Key {
    id: String,
    key: LessSafeKey,
}

impl Key {
    fn parse(what: &str, text: &str) -> Result<Key, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| format!("{what} is not base64 of 32 bytes ({HOW_TO_GENERATE})"))?;
        if bytes.len() != KEY_LEN {
            return Err(format!(
                "{what} is {} bytes, not 32 ({HOW_TO_GENERATE})",
                bytes.len()
            ));
        }
        let digest = Sha256::digest(&bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| format!("{what} is not a usable AES-256 key"))?;
        Ok(Key {
            id,
            key: LessSafeKey::new(key),
        })
    }
}

/// The current key (sealing and opening) and the previous ones (opening
/// only). `Debug` shows the key ids, never a key.
pub struct SecretKeys {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeys")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A secret opened for use. `Debug` prints nothing of it.
pub struct Opened(String);

impl Opened {
    /// A secret that was stored in clear (before sealing), to seal it.
    pub fn from_clear(value: &str) -> Opened {
        Opened(value.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Opened(..)")
    }
}

/// Why a stored value does not open. The messages name key ids, never a
/// key or the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the value is not sealed (it is stored in clear)")]
    NotSealed,
    #[error(
        "the value was sealed with key {0}, which is neither SCIMLINK_SECRET_KEY nor among SCIMLINK_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    #[error("the value sealed with key {0} does not open: it was altered or belongs elsewhere")]
    Corrupt(String),
}

impl SecretKeys {
    /// The current key and a comma-separated list of previous ones, each
    /// base64 of 32 bytes.
    pub fn parse(current: &str, previous: Option<&str>) -> Result<SecretKeys, String> {
        let current = Key::parse("SCIMLINK_SECRET_KEY", current)?;
        let previous = previous
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .enumerate()
            .map(|(i, p)| Key::parse(&format!("key {} of SCIMLINK_SECRET_KEY_PREVIOUS", i + 1), p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SecretKeys { current, previous })
    }

    /// A fresh random key, as base64 (what `SCIMLINK_SECRET_KEY` holds).
    pub fn generate() -> String {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plain` for the place `context` names (the connection and the
    /// field): a value copied to another row does not open there.
    pub fn seal(&self, plain: &str, context: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_LEN];
        // A random 96-bit nonce per value (NIST SP 800-38D §8.2.2): far
        // below the 2^32 values one key may seal that way.
        rand::rng().fill_bytes(&mut nonce);
        let mut data = plain.as_bytes().to_vec();
        // Fails only for inputs over GCM's limit (64 GiB).
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| "the value is too long to seal".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!(
            "{VERSION}:{}:{}",
            self.current.id,
            STANDARD.encode(out)
        ))
    }

    /// The key id a sealed value names; `None`: not a sealed value.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let mut parts = stored.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(VERSION), Some(id), Some(_)) => Some(id),
            _ => None,
        }
    }

    /// Whether `stored` is sealed with the current key (nothing to rotate).
    pub fn is_current(&self, stored: &str) -> bool {
        Self::key_id_of(stored) == Some(self.current.id.as_str())
    }

    pub fn open(&self, stored: &str, context: &str) -> Result<Opened, OpenError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::NotSealed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let corrupt = || OpenError::Corrupt(id.to_string());
        let bytes = STANDARD.decode(body).map_err(|_| corrupt())?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| corrupt())?;
        String::from_utf8(plain.to_vec())
            .map(Opened)
            .map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, previous: &[&str]) -> SecretKeys {
        SecretKeys::parse(current, Some(&previous.join(","))).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_and_does_not_show_the_secret() {
        let k = SecretKeys::generate();
        let keys = keys(&k, &[]);
        let sealed = keys.seal("top-secret-value", "conn-1").unwrap();
        assert!(sealed.starts_with(&format!("v1:{}:", keys.current_id())));
        assert!(!sealed.contains("top-secret-value"));
        assert_ne!(
            sealed,
            keys.seal("top-secret-value", "conn-1").unwrap(),
            "a nonce per value"
        );
        assert_eq!(
            keys.open(&sealed, "conn-1").unwrap().expose(),
            "top-secret-value"
        );
        assert!(keys.is_current(&sealed));
        assert_eq!(
            format!("{:?}", keys.open(&sealed, "conn-1").unwrap()),
            "Opened(..)"
        );
        assert!(!format!("{keys:?}").contains(&k));
    }

    #[test]
    fn a_value_opens_only_in_its_place_and_unaltered() {
        let keys = keys(&SecretKeys::generate(), &[]);
        let sealed = keys.seal("s", "conn-1").unwrap();
        assert!(matches!(
            keys.open(&sealed, "conn-2"),
            Err(OpenError::Corrupt(_))
        ));
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(
            keys.open(&altered, "conn-1"),
            Err(OpenError::Corrupt(_))
        ));
        assert_eq!(
            keys.open("plain", "conn-1").unwrap_err(),
            OpenError::NotSealed
        );
        let short = format!("v1:{}:AAAA", keys.current_id());
        assert!(matches!(
            keys.open(&short, "conn-1"),
            Err(OpenError::Corrupt(_))
        ));
    }

    #[test]
    fn previous_keys_open_and_unknown_keys_are_named() {
        let (old, new) = (SecretKeys::generate(), SecretKeys::generate());
        let before = keys(&old, &[]);
        let sealed = before.seal("s", "c").unwrap();
        let after = keys(&new, &[&old]);
        assert_eq!(after.open(&sealed, "c").unwrap().expose(), "s");
        assert!(!after.is_current(&sealed));
        let without = keys(&new, &[]);
        assert_eq!(
            without.open(&sealed, "c").unwrap_err(),
            OpenError::UnknownKey(before.current_id().to_string())
        );
    }

    #[test]
    fn keys_must_be_base64_of_32_bytes() {
        assert!(
            SecretKeys::parse("not base64!", None)
                .unwrap_err()
                .contains("openssl rand")
        );
        let short = STANDARD.encode([0u8; 16]);
        assert!(
            SecretKeys::parse(&short, None)
                .unwrap_err()
                .contains("16 bytes")
        );
        let good = SecretKeys::generate();
        assert!(
            SecretKeys::parse(&good, Some("x"))
                .unwrap_err()
                .contains("SCIMLINK_SECRET_KEY_PREVIOUS")
        );
        assert!(SecretKeys::parse(&format!(" {good}\n"), Some(" ,")).is_ok());
    }
}
