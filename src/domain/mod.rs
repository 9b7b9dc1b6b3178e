//! Validated values of the domain, built once at the edge and trusted after.

pub mod linking;
pub mod password;
pub mod sealing;
pub mod secret;
pub mod sso;
pub mod webhook;

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

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "password" => Ok(AuthMode::Password),
            "sso" => Ok(AuthMode::Sso),
            other => Err(format!(
                "auth mode must be \"sso\" or \"password\", not {other:?}"
            )),
        }
    }
}

/// What an admin token may do: `support` reads accounts and the audit log,
/// switches auth modes, sends resets and edits External user IDs; `admin`
/// also changes settings, workspaces, roles, break-glass flags and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    Admin,
    Support,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::Support => "support",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "admin" => Ok(AdminRole::Admin),
            "support" => Ok(AdminRole::Support),
            other => Err(format!(
                "role must be \"admin\" or \"support\", not {other:?}"
            )),
        }
    }
}

/// An account's role in its organisation: `admin` and `support` people use
/// the dashboard with the powers of an admin or support token; `none`
/// (everyone else) does not reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgRole {
    None,
    Support,
    Admin,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::None => "none",
            OrgRole::Support => "support",
            OrgRole::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "none" => Ok(OrgRole::None),
            "support" => Ok(OrgRole::Support),
            "admin" => Ok(OrgRole::Admin),
            other => Err(format!(
                "org_role must be \"none\", \"support\" or \"admin\", not {other:?}"
            )),
        }
    }

    /// The dashboard powers of this role, if any.
    pub fn staff(self) -> Option<AdminRole> {
        match self {
            OrgRole::None => None,
            OrgRole::Support => Some(AdminRole::Support),
            OrgRole::Admin => Some(AdminRole::Admin),
        }
    }
}

/// An account's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceRole {
    Admin,
    Member,
    Viewer,
}

impl WorkspaceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceRole::Admin => "admin",
            WorkspaceRole::Member => "member",
            WorkspaceRole::Viewer => "viewer",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "admin" => Ok(WorkspaceRole::Admin),
            "member" => Ok(WorkspaceRole::Member),
            "viewer" => Ok(WorkspaceRole::Viewer),
            other => Err(format!(
                "role must be \"admin\", \"member\" or \"viewer\", not {other:?}"
            )),
        }
    }
}

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in bytes (argon2 hashes any length; a bound
/// keeps a request from spending the server's memory).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The password rules a new password must pass.
pub fn check_new_password(password: &str, user_name: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the new password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the new password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    if password.trim().to_lowercase() == user_name.trim().to_lowercase() {
        return Err("the new password must not be the user name".into());
    }
    Ok(())
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

    #[test]
    fn password_rules() {
        assert!(check_new_password("correct horse battery", "bob").is_ok());
        assert!(check_new_password("short", "bob").is_err());
        assert!(check_new_password("bob@example.com", "Bob@Example.com").is_err());
        assert!(check_new_password(&"x".repeat(2000), "bob").is_err());
        // Characters, not bytes: twelve accented letters pass.
        assert!(check_new_password(&"é".repeat(12), "bob").is_ok());
    }
}
