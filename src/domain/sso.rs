//! SSO connections as values: their kind, how a subject is matched, the JIT
//! setting, the email domains they accept, the SAML attribute names read,
//! and where a sign-in may return to. Pure: nothing here reads the database
//! or the network.

/// SAML 2.0 or OpenID Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionKind {
    Saml,
    Oidc,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Saml => "saml",
            ConnectionKind::Oidc => "oidc",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "saml" => Ok(ConnectionKind::Saml),
            "oidc" => Ok(ConnectionKind::Oidc),
            other => Err(format!("type must be \"saml\" or \"oidc\", not {other:?}")),
        }
    }
}

/// Which value of the assertion is compared with which value of an account
/// when the subject has no identity link yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOn {
    /// The subject (NameID, `sub`) against the account's External user ID.
    ExternalUserId,
    /// The asserted (and, for OIDC, verified) email against the account's primary email.
    Email,
    /// The subject against the userName (case-insensitively).
    UserName,
}

impl MatchOn {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOn::ExternalUserId => "external_user_id",
            MatchOn::Email => "email",
            MatchOn::UserName => "user_name",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "external_user_id" => Ok(MatchOn::ExternalUserId),
            "email" => Ok(MatchOn::Email),
            "user_name" => Ok(MatchOn::UserName),
            other => Err(format!(
                "match_on must be \"external_user_id\", \"email\" or \"user_name\", not {other:?}"
            )),
        }
    }
}

/// Just-in-time provisioning for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitSetting {
    /// The organisation's `jit_provisioning` decides.
    Inherit,
    On,
    Off,
}

impl JitSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            JitSetting::Inherit => "inherit",
            JitSetting::On => "on",
            JitSetting::Off => "off",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "inherit" => Ok(JitSetting::Inherit),
            "on" => Ok(JitSetting::On),
            "off" => Ok(JitSetting::Off),
            other => Err(format!(
                "jit must be \"inherit\", \"on\" or \"off\", not {other:?}"
            )),
        }
    }

    pub fn enabled(self, organisation_default: bool) -> bool {
        match self {
            JitSetting::Inherit => organisation_default,
            JitSetting::On => true,
            JitSetting::Off => false,
        }
    }
}

/// What scimlink reads of a person from a SAML assertion's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlAttribute {
    Email,
    GivenName,
    FamilyName,
    DisplayName,
}

impl SamlAttribute {
    /// The attribute names IdPs send it under, in order of preference
    /// (compared case-insensitively): the plain names Okta, OneLogin and
    /// JumpCloud use, Entra's claim URIs, the SAML V2.0 X.500/LDAP attribute
    /// profile's `urn:oid:` names (NameFormat uri: mail RFC 4524 §2.16,
    /// givenName RFC 4519 §2.12, sn RFC 4519 §2.32, displayName RFC 2798
    /// §2.3) and the MACE-Dir `urn:mace:dir:attribute-def:` names
    /// (Shibboleth, pysaml2). The one table of them.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            SamlAttribute::Email => &[
                "email",
                "mail",
                "emailaddress",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                "urn:oid:0.9.2342.19200300.100.1.3",
                "urn:mace:dir:attribute-def:mail",
            ],
            SamlAttribute::GivenName => &[
                "firstName",
                "givenName",
                "given_name",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                "urn:oid:2.5.4.42",
                "urn:mace:dir:attribute-def:givenName",
            ],
            SamlAttribute::FamilyName => &[
                "lastName",
                "surname",
                "sn",
                "family_name",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                "urn:oid:2.5.4.4",
                "urn:mace:dir:attribute-def:sn",
            ],
            SamlAttribute::DisplayName => &[
                "displayName",
                "name",
                "http://schemas.microsoft.com/identity/claims/displayname",
                "urn:oid:2.16.840.1.113730.3.1.241",
                "urn:mace:dir:attribute-def:displayName",
            ],
        }
    }
}

/// Lower-cases and checks a list of email domains (`example.com`, no `@`).
pub fn parse_email_domains(raw: &[String]) -> Result<Vec<String>, String> {
    let mut domains: Vec<String> = Vec::new();
    for d in raw {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.contains('.')
            && !d.starts_with('.')
            && !d.ends_with('.')
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(format!("{d:?} is not an email domain such as example.com"));
        }
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    Ok(domains)
}

/// Whether `email` belongs to one of `domains` (exactly, not a subdomain);
/// an empty list accepts every email.
pub fn email_in_domains(email: &str, domains: &[String]) -> bool {
    if domains.is_empty() {
        return true;
    }
    match email.trim().rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let domain = domain.to_ascii_lowercase();
            domains.contains(&domain)
        }
        _ => false,
    }
}

/// The domain part of an email, lower-cased.
pub fn email_domain(email: &str) -> Option<String> {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
            Some(domain.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// Where a sign-in may send the browser afterwards: a path on this server,
/// never another host (no open redirect). `None` or a refused value is `/`.
pub fn safe_return_to(raw: Option<&str>) -> Result<String, String> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok("/".into());
    };
    let refused = |why: &str| Err(format!("return_to {raw:?} {why}"));
    if raw.len() > 2048 {
        return refused("is longer than 2048 bytes");
    }
    if !raw.starts_with('/') {
        return refused("must be a path on this server, starting with /");
    }
    // `//host` and `/\host` are read by browsers as another host.
    if raw.starts_with("//") || raw.starts_with("/\\") {
        return refused("must not name another host");
    }
    // A Location header holds visible ASCII only; anything else arrives
    // percent-encoded.
    if !raw.chars().all(|c| c.is_ascii_graphic()) || raw.contains('\\') {
        return refused("must be visible ASCII (percent-encode the rest), without backslashes");
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_server() {
        assert_eq!(safe_return_to(None).unwrap(), "/");
        assert_eq!(safe_return_to(Some("")).unwrap(), "/");
        assert_eq!(safe_return_to(Some("/admin?x=1")).unwrap(), "/admin?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "evil",
            "/a\r\nLocation: x",
            "/caf\u{e9}",
            "/a b",
            "javascript:alert(1)",
        ] {
            assert!(safe_return_to(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_exact_and_lower_cased() {
        let d = parse_email_domains(&["Example.com".into(), "@corp.example.org".into()]).unwrap();
        assert_eq!(d, vec!["example.com", "corp.example.org"]);
        assert!(email_in_domains("A@EXAMPLE.COM", &d));
        assert!(!email_in_domains("a@sub.example.com", &d));
        assert!(!email_in_domains("a@example.com.evil.org", &d));
        assert!(!email_in_domains("example.com", &d));
        assert!(email_in_domains("anyone@anywhere.org", &[]));
        assert!(parse_email_domains(&["not a domain".into()]).is_err());
        assert!(parse_email_domains(&["localhost".into()]).is_err());
    }

    #[test]
    fn settings_parse_and_print_the_same_words() {
        for word in ["external_user_id", "email", "user_name"] {
            assert_eq!(MatchOn::parse(word).unwrap().as_str(), word);
        }
        for word in ["inherit", "on", "off"] {
            assert_eq!(JitSetting::parse(word).unwrap().as_str(), word);
        }
        assert!(JitSetting::Inherit.enabled(true));
        assert!(!JitSetting::Inherit.enabled(false));
        assert!(JitSetting::On.enabled(false));
        assert!(!JitSetting::Off.enabled(true));
        assert!(ConnectionKind::parse("ldap").is_err());
    }
}
