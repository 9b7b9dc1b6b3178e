//! Bearer secrets (SCIM tokens, later admin tokens, sessions and reset links):
//! 32 random bytes shown once, stored only as a SHA-256 hash, compared in
//! constant time. A fast hash is right here because the secret has 256 bits
//! of entropy; passwords, which do not, use argon2id (`password.rs`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A freshly generated secret and the hash to store.
pub struct NewSecret {
    pub secret: String,
    pub hash: String,
}

/// `prefix` makes a leaked secret recognisable (`scim_...`) for secret scanners.
pub fn generate(prefix: &str) -> NewSecret {
    let secret = format!("{prefix}_{}", random_token());
    let hash = hash(&secret);
    NewSecret { secret, hash }
}

/// 32 random bytes, base64url: 256 bits in 43 URL-safe characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two stored-form hashes.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A secret an operator sets (the metrics token): compared in constant time,
/// and never printed (its `Debug` shows nothing of it).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfiguredSecret(String);

impl ConfiguredSecret {
    /// The least length accepted: a short token is guessed.
    pub const MIN_LEN: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() < Self::MIN_LEN || raw.chars().any(char::is_whitespace) {
            return Err(format!(
                "a token needs at least {} characters and no spaces",
                Self::MIN_LEN
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// Whether `presented` is this secret. Both are hashed first, so the
    /// comparison takes the same time whatever their lengths.
    pub fn matches(&self, presented: &str) -> bool {
        hashes_match(&hash(&self.0), &hash(presented))
    }
}

impl std::fmt::Debug for ConfiguredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfiguredSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = generate("scim");
        let b = generate("scim");
        assert!(a.secret.starts_with("scim_") && a.secret.len() >= 48);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert!(!a.hash.contains(&a.secret));
        assert!(hashes_match(&a.hash, &hash(&a.secret)));
        assert!(!hashes_match(&a.hash, &b.hash));
    }

    #[test]
    fn configured_secrets_match_only_themselves_and_never_print() {
        let token = ConfiguredSecret::parse("metrics-0123456789abcdef").unwrap();
        assert!(token.matches("metrics-0123456789abcdef"));
        assert!(!token.matches("metrics-0123456789abcdeF"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("0123"));
        assert!(ConfiguredSecret::parse("short").is_err());
        assert!(ConfiguredSecret::parse("sixteen chars with spaces").is_err());
    }
}
