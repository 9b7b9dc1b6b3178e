//! Matching an SSO subject to an account: the External user ID and the pure
//! decision the sign-in code acts on. Nothing here reads the database; the
//! store hands in what it found for (organisation, issuer, subject).

use serde_json::Value;

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
    /// No account: provision just in time or refuse (the organisation decides).
    NoAccount,
    /// More than one account matches: refuse, never guess.
    Ambiguous { account_ids: Vec<String> },
    /// The matching (or linked) account is deactivated: refuse, never link.
    Deactivated { account_id: String },
    /// The one matching account is linked to another subject of this IdP:
    /// refuse rather than move or add a link silently.
    LinkedElsewhere { account_id: String },
    /// The subject is an email the IdP itself says it has not verified.
    UnverifiedEmail,
}

/// Matches (issuer, subject, claims) against what the organisation holds.
///
/// Rules: an existing link wins and is never moved to another account; else
/// the subject is compared with External user IDs (emails case-insensitively);
/// a subject that is an email counts only when the IdP did not mark it
/// unverified (`email_verified: false` for that same address); an email found
/// only on the account side, or only in other claims, is never used.
pub fn match_subject(directory: &Directory, subject: &str, claims: &Value) -> Match {
    if let Some(link) = &directory.link {
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
    if is_email(subject.trim()) && email_marked_unverified(subject, claims) {
        return Match::UnverifiedEmail;
    }
    match directory.candidates.as_slice() {
        [] => Match::NoAccount,
        [one] if !one.active => Match::Deactivated {
            account_id: one.account_id.clone(),
        },
        [one] if one.linked_subject_at_issuer.is_some() => Match::LinkedElsewhere {
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
            match_subject(&directory, "s", &json!({})),
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
            match_subject(&directory, "s", &json!({})),
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
            match_subject(
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
            match_subject(&Directory::default(), "s", &json!({})),
            Match::NoAccount
        );
    }

    #[test]
    fn several_candidates_are_ambiguous() {
        let directory = Directory {
            link: None,
            candidates: vec![candidate("a1", true, None), candidate("a2", false, None)],
        };
        assert_eq!(
            match_subject(&directory, "s", &json!({})),
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
            match_subject(&directory, "s", &json!({})),
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
            match_subject(&directory, "s", &json!({})),
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
                match_subject(&directory, "bob@example.com", &claims),
                Match::UnverifiedEmail,
                "{claims}"
            );
        }
        // SAML has no email_verified: absent is not "unverified".
        assert_eq!(
            match_subject(&directory, "bob@example.com", &json!({})),
            Match::LinkTo {
                account_id: "a1".into()
            }
        );
        // An opaque subject is not an email, whatever the email claim says.
        assert_eq!(
            match_subject(&directory, "00u1", &json!({"email_verified": false})),
            Match::LinkTo {
                account_id: "a1".into()
            }
        );
    }
}
