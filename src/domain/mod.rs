//! Validated values of the domain, built once at the edge and trusted after.

pub mod password;
pub mod secret;

use std::fmt;

/// An organisation's slug: 1 to 63 lower-case letters, digits and hyphens,
/// starting with a letter or digit. It appears in URLs (`/login/{slug}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(format!(
                "{raw:?} is not a valid organisation slug: use 1-63 lower-case letters, digits and hyphens"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an account signs in (DESIGN: auth modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Password,
    Sso,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Password => "password",
            AuthMode::Sso => "sso",
        }
    }
}

/// The case-insensitive key of a `userName` (RFC 7643 §4.1.1: caseExact false).
pub fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(OrgSlug::parse("acme-prod").is_ok());
        assert!(OrgSlug::parse("default").is_ok());
        for bad in ["", "Acme", "-x", "a b", "a/b", &"x".repeat(64)] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
