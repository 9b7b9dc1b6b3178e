//! Matching an SSO subject to an account: the External user ID and the pure
//! decision the sign-in code acts on. Nothing here reads the database; the
//! store hands in what it found for (organisation, issuer, subject).

use serde_json::Value;

use super::sso::MatchOn;

/// Where an account's External user ID comes from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalUserIdSource {
    /// Set by support staff.
    Explicit,
    /// The SCIM `externalId` the IdP sent.
    ExternalId,
    /// The primary (else first) email.
    Email,
    UserName,
}

impl ExternalUserIdSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Explicit => "explicit",
            Self::ExternalId => "external_id",
            Self::Email => "email",
            Self::UserName => "user_name",
        }
    }
}

/// The effective External user ID of an account and where it came from.
pub fn external_user_id<'a>(
    explicit: Option<&'a str>,
    external_id: Option<&'a str>,
    primary_email: Option<&'a str>,
    user_name: &'a str,
) -> (&'a str, ExternalUserIdSource) {
    let present = |v: Option<&'a str>| v.filter(|s| !s.trim().is_empty());
    if let Some(v) = present(explicit) {
        (v, ExternalUserIdSource::Explicit)
    } else if let Some(v) = present(external_id) {
        (v, ExternalUserIdSource::ExternalId)
    } else if let Some(v) = present(primary_email) {
        (v, ExternalUserIdSource::Email)
    } else {
        (user_name, ExternalUserIdSource::UserName)
    }
}

/// Whether a value reads as an email address (then it compares case-insensitively).
pub fn is_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.contains('@'),
        None => false,
    }
}

/// The form an External user ID and a subject are compared in: an email
/// lower-cased (mail hosts treat addresses case-insensitively in practice,
/// and IdPs change the case), anything else exactly as given (an opaque id
/// such as Okta's `00u1ab...` or an Entra object id is case-exact).
pub fn match_key(value: &str) -> String {
    let trimmed = value.trim();
    if is_email(trimmed) {
        trimmed.to_lowercase()
    } else {
        trimmed.to_string()
    }
}

/// SAML 2.0 Core §8.3.8: a transient NameID is an opaque identifier the IdP
/// may change at every sign-in.
pub const NAME_ID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

/// Whether the IdP's subject names the person for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubjectKind {
    /// The same person has the same subject at every sign-in: an OIDC `sub`
    /// (OIDC Core §2: "never reassigned"), a SAML persistent, email or
    /// unspecified NameID.
    #[default]
    Stable,
    /// A SAML transient NameID (SAML 2.0 Core §8.3.8): a value for one
    /// sign-in. It is never linked, never compared with an account, and
    /// never the base of a new account; only an attribute can find one.
    Transient,
}

impl SubjectKind {
    pub fn of_name_id_format(format: Option<&str>) -> Self {
        match format.map(str::trim) {
            Some(NAME_ID_TRANSIENT) => SubjectKind::Transient,
            _ => SubjectKind::Stable,
        }
    }
}

/// What a verified sign-in presents to the rules.
#[derive(Debug, Clone, Copy)]
pub struct Asserted<'a> {
    /// The connection's rule.
    pub rule: MatchOn,
    /// The value the rule compares: the subject, or the asserted email.
    pub value: &'a str,
    pub subject_kind: SubjectKind,
    /// An email the IdP vouches for (OIDC: `email_verified: true`).
    pub email: Option<&'a str>,
    /// Every claim or attribute (`email_verified`).
    pub claims: &'a Value,
}

/// An existing identity link, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub link_id: String,
    pub account_id: String,
    pub account_active: bool,
}

/// An account whose External user ID has the subject's match key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateView {
    pub account_id: String,
    pub active: bool,
    /// The subject this account is already linked to at the same issuer, if any.
    pub linked_subject_at_issuer: Option<String>,
}

/// What the organisation holds for one (issuer, subject).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// The link of (organisation, issuer, subject), if there is one.
    pub link: Option<LinkView>,
    /// Accounts whose External user ID matches the subject.
    pub candidates: Vec<CandidateView>,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The subject is linked already: sign in to this account.
    Linked { link_id: String, account_id: String },
    /// Exactly one active account has this External user ID: link it.
    LinkTo { account_id: String },
    /// Exactly one active account matches an attribute of a sign-in whose
    /// subject is transient: sign in to it without a link (the next sign-in
    /// brings another subject).
    Unlinked { account_id: String },
    /// No account: provision just in time (when the organisation wants it
    /// and `jit` allows it) or refuse.
    NoAccount { jit: Jit },
    /// More than one account matches: refuse, never guess.
    Ambiguous { account_ids: Vec<String> },
    /// The matching (or linked) account is deactivated: refuse, never link.
    Deactivated { account_id: String },
    /// The one matching account is linked to another subject of this IdP:
    /// refuse rather than move or add a link silently.
    LinkedElsewhere { account_id: String },
    /// The subject is an email the IdP itself says it has not verified.
    UnverifiedEmail,
    /// The rule compares the subject, and the subject is transient: it
    /// cannot identify anyone.
    TransientSubject,
}

/// Whether a sign-in that matches no account may make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jit {
    Allowed,
    /// The subject is transient: an account made from it could never be
    /// found again by its link, and the next sign-in would make another.
    TransientSubject,
    /// No email the IdP vouches for: the account would be named after an
    /// opaque subject, with no address to reach the person.
    NoEmail,
}

/// Matches a sign-in against what the organisation holds.
///
/// Rules: an existing link wins and is never moved to another account; else
/// the value is compared by the connection's rule (emails
/// case-insensitively); a value that is an email counts only when the IdP
/// did not mark it unverified (`email_verified: false` for that same
/// address); an email found only on the account side, or only in other
/// claims, is never used. A transient subject is no identity: it is never
/// looked up, compared or linked, so only the email rule can find its
/// account, and it never makes one.
pub fn match_subject(directory: &Directory, asserted: &Asserted<'_>) -> Match {
    let transient = asserted.subject_kind == SubjectKind::Transient;
    if transient && asserted.rule != MatchOn::Email {
        return Match::TransientSubject;
    }
    if let Some(link) = directory.link.as_ref().filter(|_| !transient) {
        return if link.account_active {
            Match::Linked {
                link_id: link.link_id.clone(),
                account_id: link.account_id.clone(),
            }
        } else {
            Match::Deactivated {
                account_id: link.account_id.clone(),
            }
        };
    }
    let value = asserted.value;
    if is_email(value.trim()) && email_marked_unverified(value, asserted.claims) {
        return Match::UnverifiedEmail;
    }
    match directory.candidates.as_slice() {
        [] => Match::NoAccount {
            jit: if transient {
                Jit::TransientSubject
            } else if asserted.email.is_none_or(|e| e.trim().is_empty()) {
                Jit::NoEmail
            } else {
                Jit::Allowed
            },
        },
        [one] if !one.active => Match::Deactivated {
            account_id: one.account_id.clone(),
        },
        [one] if one.linked_subject_at_issuer.is_some() => Match::LinkedElsewhere {
            account_id: one.account_id.clone(),
        },
        [one] if transient => Match::Unlinked {
            account_id: one.account_id.clone(),
        },
        [one] => Match::LinkTo {
            account_id: one.account_id.clone(),
        },
        many => Match::Ambiguous {
            account_ids: many.iter().map(|c| c.account_id.clone()).collect(),
        },
    }
}

/// Whether the claims say this email is not verified. A missing
/// `email_verified` is not a "no": SAML assertions never carry it.
fn email_marked_unverified(subject: &str, claims: &Value) -> bool {
    let verified = claims.get("email_verified").and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse::<bool>().ok(),
        _ => None,
    });
    let about_subject = claims
        .get("email")
        .and_then(Value::as_str)
        .is_none_or(|email| match_key(email) == match_key(subject));
    verified == Some(false) && about_subject
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stable subject under the External user ID rule, with an email.
    fn stable(directory: &Directory, value: &str, claims: &Value) -> Match {
        match_subject(
            directory,
            &Asserted {
                rule: MatchOn::ExternalUserId,
                value,
                subject_kind: SubjectKind::Stable,
                email: Some("bob@example.com"),
                claims,
            },
        )
    }

    fn candidate(id: &str, active: bool, linked: Option<&str>) -> CandidateView {
        CandidateView {
            account_id: id.into(),
            active,
            linked_subject_at_issuer: linked.map(str::to_string),
        }
    }

    #[test]
    fn external_user_id_defaults_in_order() {
        use ExternalUserIdSource::*;
        assert_eq!(
            external_user_id(Some("E1"), Some("x"), Some("a@b.c"), "u"),
            ("E1", Explicit)
        );
        assert_eq!(
            external_user_id(None, Some("00u1"), Some("a@b.c"), "u"),
            ("00u1", ExternalId)
        );
        assert_eq!(
            external_user_id(Some(" "), None, Some("a@b.c"), "u"),
            ("a@b.c", Email)
        );
        assert_eq!(external_user_id(None, None, None, "u"), ("u", UserName));
    }

    #[test]
    fn match_keys_fold_case_only_for_emails() {
        assert_eq!(match_key("Bob@Example.COM"), "bob@example.com");
        assert_eq!(match_key("00uAbC"), "00uAbC");
        assert_eq!(match_key("DOMAIN\\Bob"), "DOMAIN\\Bob");
        assert!(!is_email("bob@localhost"));
        assert!(!is_email("@example.com"));
    }

    #[test]
    fn an_existing_link_wins_and_never_moves() {
        let directory = Directory {
            link: Some(LinkView {
                link_id: "l1".into(),
                account_id: "a1".into(),
                account_active: true,
            }),
            // The External user ID now points at another account: the link stays.
            candidates: vec![candidate("a2", true, None)],
        };
        assert_eq!(
            stable(&directory, "s", &json!({})),
            Match::Linked {
                link_id: "l1".into(),
                account_id: "a1".into()
            }
        );
    }

    #[test]
    fn a_link_to_a_deactivated_account_is_refused() {
        let directory = Directory {
            link: Some(LinkView {
                link_id: "l1".into(),
                account_id: "a1".into(),
                account_active: false,
            }),
            candidates: vec![],
        };
        assert_eq!(
            stable(&directory, "s", &json!({})),
            Match::Deactivated {
                account_id: "a1".into()
            }
        );
    }

    #[test]
    fn one_active_candidate_is_linked() {
        let directory = Directory {
            link: None,
            candidates: vec![candidate("a1", true, None)],
        };
        assert_eq!(
            stable(
                &directory,
                "bob@example.com",
                &json!({"email_verified": true})
            ),
            Match::LinkTo {
                account_id: "a1".into()
            }
        );
    }

    #[test]
    fn no_candidate_is_no_account() {
        assert_eq!(
            stable(&Directory::default(), "s", &json!({})),
            Match::NoAccount { jit: Jit::Allowed }
        );
    }

    #[test]
    fn several_candidates_are_ambiguous() {
        let directory = Directory {
            link: None,
            candidates: vec![candidate("a1", true, None), candidate("a2", false, None)],
        };
        assert_eq!(
            stable(&directory, "s", &json!({})),
            Match::Ambiguous {
                account_ids: vec!["a1".into(), "a2".into()]
            }
        );
    }

    #[test]
    fn a_deactivated_candidate_is_never_linked() {
        let directory = Directory {
            link: None,
            candidates: vec![candidate("a1", false, None)],
        };
        assert_eq!(
            stable(&directory, "s", &json!({})),
            Match::Deactivated {
                account_id: "a1".into()
            }
        );
    }

    #[test]
    fn an_account_linked_to_another_subject_of_the_issuer_is_refused() {
        let directory = Directory {
            link: None,
            candidates: vec![candidate("a1", true, Some("other-subject"))],
        };
        assert_eq!(
            stable(&directory, "s", &json!({})),
            Match::LinkedElsewhere {
                account_id: "a1".into()
            }
        );
    }

    #[test]
    fn an_email_subject_the_idp_marks_unverified_is_not_linked() {
        let directory = Directory {
            link: None,
            candidates: vec![candidate("a1", true, None)],
        };
        for claims in [
            json!({"email_verified": false}),
            json!({"email": "BOB@example.com", "email_verified": "false"}),
        ] {
            assert_eq!(
                stable(&directory, "bob@example.com", &claims),
                Match::UnverifiedEmail,
                "{claims}"
            );
        }
        // SAML has no email_verified: absent is not "unverified".
        assert_eq!(
            stable(&directory, "bob@example.com", &json!({})),
            Match::LinkTo {
                account_id: "a1".into()
            }
        );
        // An opaque subject is not an email, whatever the email claim says.
        assert_eq!(
            stable(&directory, "00u1", &json!({"email_verified": false})),
            Match::LinkTo {
                account_id: "a1".into()
            }
        );
    }

    #[test]
    fn jit_needs_an_email_and_a_stable_subject() {
        let claims = json!({});
        let asserted = |subject_kind, email| Asserted {
            rule: MatchOn::Email,
            value: "bob@example.com",
            subject_kind,
            email,
            claims: &claims,
        };
        let empty = Directory::default();
        for (kind, email, jit) in [
            (SubjectKind::Stable, Some("bob@example.com"), Jit::Allowed),
            (SubjectKind::Stable, None, Jit::NoEmail),
            (SubjectKind::Stable, Some(" "), Jit::NoEmail),
            (
                SubjectKind::Transient,
                Some("bob@example.com"),
                Jit::TransientSubject,
            ),
        ] {
            assert_eq!(
                match_subject(&empty, &asserted(kind, email)),
                Match::NoAccount { jit },
                "{kind:?} {email:?}"
            );
        }
    }

    #[test]
    fn a_transient_subject_is_never_linked_nor_compared() {
        assert_eq!(
            SubjectKind::of_name_id_format(Some(NAME_ID_TRANSIENT)),
            SubjectKind::Transient
        );
        for format in [
            None,
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
        ] {
            assert_eq!(SubjectKind::of_name_id_format(format), SubjectKind::Stable);
        }
        let claims = json!({});
        let transient = |rule, value| Asserted {
            rule,
            value,
            subject_kind: SubjectKind::Transient,
            email: Some("bob@example.com"),
            claims: &claims,
        };
        // A link of that one-time value (made before this rule) is ignored.
        let directory = Directory {
            link: Some(LinkView {
                link_id: "l1".into(),
                account_id: "a1".into(),
                account_active: true,
            }),
            candidates: vec![candidate("a2", true, None)],
        };
        // Only an attribute may find the account, and no link is made.
        assert_eq!(
            match_subject(&directory, &transient(MatchOn::Email, "bob@example.com")),
            Match::Unlinked {
                account_id: "a2".into()
            }
        );
        for rule in [MatchOn::ExternalUserId, MatchOn::UserName] {
            assert_eq!(
                match_subject(&directory, &transient(rule, "_3f1c9a")),
                Match::TransientSubject,
                "{rule:?}"
            );
        }
        // The usual refusals still hold.
        let taken = Directory {
            link: None,
            candidates: vec![candidate("a1", true, Some("persistent-id"))],
        };
        assert_eq!(
            match_subject(&taken, &transient(MatchOn::Email, "bob@example.com")),
            Match::LinkedElsewhere {
                account_id: "a1".into()
            }
        );
    }
}
