//! SAML 2.0 for SSO connections: the IdP metadata an admin pastes, the
//! AuthnRequest IDs, and every check on a Response posted to the ACS (the SP
//! metadata and the signed AuthnRequest are `service::saml_sp`'s).
//!
//! samael (over libxmlsec1) verifies signatures and reduces a response to
//! what the signatures cover, which is what defeats signature wrapping. It
//! leaves the rest to its caller, and this module does it:
//! - it would skip signature checks when the metadata has no certificate:
//!   `verify_response` refuses before calling it;
//! - its `allow_idp_initiated` turns InResponseTo checking off for every
//!   response: it is set only for a response that names no request at all,
//!   on a connection that allows IdP-initiated sign-in, and the verified
//!   assertion is then checked to name none either;
//! - it keeps no replay cache: `service::sso` records every assertion ID;
//! - its AuthnRequest IDs are 32 bits: scimlink makes its own, 256;
//! - it accepts SHA-1 unless told: it is given `SIGNATURE_ALGORITHMS`;
//! - it reads the system clock: the times are checked again here, on
//!   scimlink's clock with the configured skew;
//! - it checks the audience only when the assertion names one: here an
//!   assertion without this SP in its AudienceRestriction is refused.

use std::str::FromStr;

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use quick_xml::events::{BytesStart, Event};
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::service_provider::{Error as SamlError, ServiceProvider};
use serde::{Deserialize, Serialize};

use super::oidc::check_https_url;

/// The signature methods accepted: RSA and ECDSA with SHA-256 or stronger.
/// SHA-1 (and the digests of the same family) is refused.
pub const SIGNATURE_ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// The largest metadata document or decoded response scimlink reads.
pub const MAX_XML_BYTES: usize = 256 * 1024;

/// How long after its IssueInstant a response is still taken (plus the
/// skew): the browser posts it the moment the IdP makes it.
pub const MAX_ISSUE_DELAY: TimeDelta = TimeDelta::minutes(3);

const SUBJECT_CONFIRMATION_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// scimlink's entity id for a connection: its metadata URL, which is both
/// unique and where an IdP can read the rest.
pub fn sp_entity_id(base_url: &str, connection_id: &str) -> String {
    metadata_url(base_url, connection_id)
}

pub fn metadata_url(base_url: &str, connection_id: &str) -> String {
    format!("{base_url}/sso/saml/{connection_id}/metadata")
}

pub fn acs_url(base_url: &str, connection_id: &str) -> String {
    format!("{base_url}/sso/saml/{connection_id}/acs")
}

/// One IdP signing certificate, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpCertificate {
    /// Base64 DER, as in the metadata.
    #[serde(skip_serializing)]
    pub der_base64: String,
    pub sha256_fingerprint: String,
    pub subject: String,
    pub not_after: String,
}

/// What scimlink keeps of an IdP's metadata.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<IdpCertificate>,
}

pub fn certificate(der_base64: &str) -> Result<IdpCertificate, String> {
    let compact: String = der_base64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| format!("a signing certificate is not base64: {e}"))?;
    let cert = openssl::x509::X509::from_der(&der)
        .map_err(|e| format!("a signing certificate is not X.509 DER: {e}"))?;
    let fingerprint = cert
        .digest(openssl::hash::MessageDigest::sha256())
        .map_err(|e| format!("cannot fingerprint a certificate: {e}"))?;
    let subject = cert
        .subject_name()
        .entries()
        .filter_map(|entry| {
            let key = entry.object().nid().short_name().ok()?;
            let value = entry.data().to_string().ok()?;
            Some(format!("{key}={value}"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(IdpCertificate {
        der_base64: compact,
        sha256_fingerprint: fingerprint
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        subject,
        not_after: cert.not_after().to_string(),
    })
}

/// Reads an IdP's metadata: its entity id, its SSO URL (HTTP-Redirect, the
/// binding scimlink sends requests with) and its signing certificates, all
/// of them, so a certificate can be rotated by publishing both for a while.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, String> {
    if xml.len() > MAX_XML_BYTES {
        return Err(format!(
            "idp_metadata_xml is larger than {MAX_XML_BYTES} bytes"
        ));
    }
    refuse_doctype(xml).map_err(|e| format!("idp_metadata_xml: {e}"))?;
    let descriptor = EntityDescriptor::from_str(xml)
        .map_err(|e| format!("idp_metadata_xml is not SAML metadata: {e}"))?;
    let entity_id = descriptor
        .entity_id
        .clone()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty() && e.len() <= 1024)
        .ok_or("idp_metadata_xml has no entityID")?;
    // samael trusts the keys of every IDPSSODescriptor: with exactly one,
    // the certificates shown and audited here are the ones it trusts.
    let idp = match descriptor.idp_sso_descriptors.as_deref() {
        Some([one]) => one,
        Some([]) | None => return Err("idp_metadata_xml has no IDPSSODescriptor".into()),
        Some(_) => {
            return Err("idp_metadata_xml has more than one IDPSSODescriptor".into());
        }
    };
    let sso_url = idp
        .single_sign_on_services
        .iter()
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.trim().to_string())
        .ok_or("idp_metadata_xml has no SingleSignOnService with the HTTP-Redirect binding")?;
    check_https_url("the SingleSignOnService", &sso_url)?;
    // samael's rule: the signing keys; only when there are none, the keys
    // of unspecified use. Never encryption-only keys.
    let signing: Vec<_> = idp
        .key_descriptors
        .iter()
        .filter(|k| k.key_use.as_deref() == Some("signing"))
        .collect();
    let keys = if signing.is_empty() {
        idp.key_descriptors
            .iter()
            .filter(|k| matches!(k.key_use.as_deref(), None | Some("")))
            .collect()
    } else {
        signing
    };
    let mut certificates = Vec::new();
    for data in keys.iter().filter_map(|k| k.key_info.x509_data.as_ref()) {
        for raw in &data.certificates {
            let cert = certificate(raw)?;
            if !certificates.contains(&cert) {
                certificates.push(cert);
            }
        }
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// A fresh AuthnRequest ID: 256 random bits; `_` first, as an xs:ID must
/// not start with a digit (base64url's other characters are NCName ones).
pub fn new_request_id() -> String {
    format!("_{}", crate::domain::secret::random_token())
}

fn refuse_doctype(xml: &str) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::DocType(_)) => {
                return Err("a DOCTYPE is not allowed (entity expansion)".into());
            }
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("not well-formed XML: {e}")),
        }
    }
}

/// A first look at a response before anything in it is trusted: enough to
/// find the request it answers, and to refuse shapes no honest IdP sends.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Survey {
    /// The request it claims to answer (the Response's InResponseTo, or its
    /// SubjectConfirmationData's).
    pub in_response_to: Option<String>,
    /// `Assertion` and `EncryptedAssertion` elements, at any depth.
    pub assertions: usize,
    /// The SignatureMethod and DigestMethod algorithms named anywhere.
    pub algorithms: Vec<String>,
}

fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| format!("a malformed attribute: {e}"))?;
        if attr.key.local_name().as_ref() == name {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("a malformed attribute value: {e}"))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The transforms and canonicalisations a signature may name: none of them
/// fetches anything or evaluates an expression.
pub(super) const SAFE_TRANSFORMS: [&str; 7] = [
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];

/// A same-document reference to an element by its ID (`#` and an NCName):
/// the only kind a SAML signature needs. Anything else (another URL, a file,
/// an XPointer expression) libxmlsec1 would act on before it checks the
/// signature value, which an unsigned post must never make it do.
pub(super) fn is_id_reference(uri: &str) -> bool {
    let Some(id) = uri.strip_prefix('#') else {
        return false;
    };
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Surveys a decoded response: it must be one `Response` in UTF-8 with no
/// DOCTYPE, at most one InResponseTo value, signatures that reference
/// elements of this document by ID with harmless transforms only, and no
/// KeyInfo retrieval. What passes is what libxmlsec1 may then read.
pub fn survey(xml: &str) -> Result<Survey, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut found = Survey::default();
    let mut request_ids: Vec<String> = Vec::new();
    let mut root_seen = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the response is not well-formed XML: {e}"))?;
        let element = match &event {
            Event::DocType(_) => {
                return Err("the response has a DOCTYPE, which is not allowed".into());
            }
            // libxml2 obeys a declared encoding, this reader reads UTF-8:
            // both must read the same document.
            Event::Decl(decl) => {
                let encoding = decl
                    .encoding()
                    .transpose()
                    .map_err(|e| format!("a malformed XML declaration: {e}"))?;
                let utf8 = encoding.is_none_or(|e| {
                    let e = String::from_utf8_lossy(&e).to_ascii_lowercase();
                    e == "utf-8" || e == "utf8"
                });
                if !utf8 {
                    return Err("the response must be UTF-8".into());
                }
                continue;
            }
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => e,
            _ => continue,
        };
        let local = element.local_name();
        let local = local.as_ref();
        if let Some(id) = attribute(element, b"InResponseTo")? {
            request_ids.push(id);
        }
        if !root_seen {
            root_seen = true;
            if local != b"Response" {
                return Err("the document is not a SAML Response".into());
            }
            continue;
        }
        match local {
            b"Response" => return Err("a Response inside the Response".into()),
            b"Assertion" | b"EncryptedAssertion" => found.assertions += 1,
            b"SignatureMethod" | b"DigestMethod" => {
                if let Some(alg) = attribute(element, b"Algorithm")? {
                    found.algorithms.push(alg);
                }
            }
            b"Reference" => {
                let uri = attribute(element, b"URI")?.unwrap_or_default();
                if !is_id_reference(&uri) {
                    return Err(format!(
                        "a signature references {:?}; only elements of the response, by ID, are accepted",
                        uri.chars().take(100).collect::<String>()
                    ));
                }
            }
            b"Transform" | b"CanonicalizationMethod" => {
                let alg = attribute(element, b"Algorithm")?.unwrap_or_default();
                if !SAFE_TRANSFORMS.contains(&alg.as_str()) {
                    return Err(format!(
                        "a signature uses the transform {:?}, which is not accepted",
                        alg.chars().take(100).collect::<String>()
                    ));
                }
            }
            b"RetrievalMethod" => {
                return Err(
                    "a signature's KeyInfo asks to fetch a key, which is not accepted".into(),
                );
            }
            _ => {}
        }
    }
    if !root_seen {
        return Err("the response is empty".into());
    }
    request_ids.dedup();
    if request_ids.len() > 1 {
        return Err("the response names more than one InResponseTo".into());
    }
    found.in_response_to = request_ids.pop();
    Ok(found)
}

/// Whether every algorithm a response names is one scimlink accepts (or a
/// canonicalisation/transform, which are not hash algorithms).
fn weak_algorithm(algorithms: &[String]) -> Option<&str> {
    algorithms
        .iter()
        .find(|alg| {
            let strong = SIGNATURE_ALGORITHMS
                .iter()
                .any(|a| a.signature_uri() == *alg || a.digest_uri() == *alg);
            !strong
        })
        .map(String::as_str)
}

/// What the ACS expects of a response.
pub struct Expected<'a> {
    pub idp_metadata_xml: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    /// The pending request it must answer; `None`: IdP-initiated, which the
    /// connection allows, and then nothing in it may name a request.
    pub request_id: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub skew_seconds: i64,
}

/// A response that failed a check: the audit reason and what exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: &'static str,
    pub detail: String,
}

fn reject(reason: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        detail: detail.into(),
    }
}

/// The verified assertion's data scimlink uses.
#[derive(Debug, Clone)]
pub struct Verified {
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The AuthnStatement's SessionIndex (single logout names it).
    pub session_index: Option<String>,
    /// Attribute name -> its values, in order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Until when the replay cache must remember the assertion ID.
    pub remember_until: DateTime<Utc>,
}

impl Verified {
    /// The first non-blank value of the first attribute named one of `names`
    /// (compared case-insensitively: IdPs spell them every way).
    pub fn attribute(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|wanted| {
            self.attributes
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .flat_map(|(_, values)| values.iter())
                .map(|v| v.trim())
                .find(|v| !v.is_empty())
                .map(str::to_string)
        })
    }

    /// The email the IdP asserts: an email attribute, else an
    /// emailAddress-format NameID.
    pub fn email(&self) -> Option<String> {
        self.attribute(crate::domain::sso::SamlAttribute::Email.names())
            .or_else(|| {
                (self.name_id_format.as_deref() == Some(NAME_ID_EMAIL))
                    .then(|| self.name_id.clone())
            })
            .filter(|e| e.contains('@'))
    }
}

fn samael_rejection(e: &SamlError, survey: &Survey) -> Rejection {
    let detail = e.to_string();
    match e {
        SamlError::FailedToValidateSignature => match weak_algorithm(&survey.algorithms) {
            Some(alg) => reject(
                "weak_algorithm",
                format!("the response is signed with {alg}; SHA-256 or stronger is required"),
            ),
            None => reject(
                "signature_invalid",
                "no signature over the response or its assertion verifies with the connection's certificates",
            ),
        },
        SamlError::DestinationValidationError { .. }
        | SamlError::AssertionRecipientMismatch { .. } => reject("wrong_destination", detail),
        SamlError::AssertionConditionAudienceRestrictionFailed { .. } => {
            reject("wrong_audience", detail)
        }
        SamlError::AssertionExpired { .. }
        | SamlError::ResponseExpired { .. }
        | SamlError::AssertionConditionExpired { .. }
        | SamlError::AssertionConditionExpiredBefore { .. }
        | SamlError::AssertionSubjectConfirmationExpired { .. }
        | SamlError::AssertionSubjectConfirmationExpiredBefore { .. } => reject("expired", detail),
        SamlError::AssertionInResponseToInvalid { .. }
        | SamlError::ResponseInResponseToInvalid { .. } => reject("wrong_in_response_to", detail),
        SamlError::AssertionIssuerMismatch { .. } | SamlError::ResponseIssuerMismatch { .. } => {
            reject("wrong_issuer", detail)
        }
        SamlError::ResponseBadStatusCode { .. } => reject("idp_error", detail),
        _ => reject("response_invalid", detail),
    }
}

/// Every check on a decoded response (surveyed already); the verified data.
pub fn verify_response(
    xml: &str,
    survey: &Survey,
    expected: &Expected<'_>,
) -> Result<Verified, Rejection> {
    if survey.assertions != 1 {
        return Err(reject(
            "assertion_count",
            format!(
                "the response carries {} assertions; exactly one is accepted",
                survey.assertions
            ),
        ));
    }
    let idp_metadata = EntityDescriptor::from_str(expected.idp_metadata_xml)
        .map_err(|e| reject("connection_invalid", format!("the stored metadata: {e}")))?;
    let skew = TimeDelta::seconds(expected.skew_seconds);
    let sp = ServiceProvider {
        entity_id: Some(expected.sp_entity_id.to_string()),
        metadata_url: Some(expected.sp_entity_id.to_string()),
        acs_url: Some(expected.acs_url.to_string()),
        slo_url: None,
        idp_metadata,
        allow_idp_initiated: expected.request_id.is_none(),
        max_issue_delay: MAX_ISSUE_DELAY + skew,
        max_clock_skew: skew,
        allowed_signature_algorithms: Some(SIGNATURE_ALGORITHMS.to_vec()),
        ..ServiceProvider::default()
    };
    // samael would take an unsigned response from metadata without keys.
    let has_keys = sp
        .idp_signing_certs()
        .map_err(|e| reject("connection_invalid", e.to_string()))?
        .is_some_and(|certs| !certs.is_empty());
    if !has_keys {
        return Err(reject(
            "connection_invalid",
            "the connection has no signing certificate",
        ));
    }
    let request_ids = expected.request_id.map(|id| [id]);
    let assertion = sp
        .parse_xml_response(xml, request_ids.as_ref().map(|ids| &ids[..]))
        .map_err(|e| samael_rejection(&e, survey))?;
    check_assertion(&assertion, expected)
}

/// The checks samael leaves out or makes on another clock, on the verified
/// assertion alone.
fn check_assertion(
    assertion: &samael::schema::Assertion,
    expected: &Expected<'_>,
) -> Result<Verified, Rejection> {
    let now = expected.now;
    let skew = TimeDelta::seconds(expected.skew_seconds);
    if assertion.issue_instant > now + skew {
        return Err(reject("expired", "the assertion is issued in the future"));
    }
    if assertion.issue_instant + MAX_ISSUE_DELAY + skew < now {
        return Err(reject("expired", "the assertion was issued too long ago"));
    }
    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or_else(|| reject("wrong_audience", "the assertion has no Conditions"))?;
    if conditions.not_before.is_some_and(|t| now + skew < t) {
        return Err(reject(
            "expired",
            "the assertion is not valid yet (NotBefore)",
        ));
    }
    if conditions.not_on_or_after.is_some_and(|t| t + skew <= now) {
        return Err(reject(
            "expired",
            "the assertion has expired (NotOnOrAfter)",
        ));
    }
    let for_us = conditions
        .audience_restrictions
        .iter()
        .flatten()
        .any(|r| r.audience.iter().any(|a| a == expected.sp_entity_id));
    if !for_us {
        return Err(reject(
            "wrong_audience",
            format!(
                "the assertion's AudienceRestriction does not name {}",
                expected.sp_entity_id
            ),
        ));
    }
    let subject = assertion
        .subject
        .as_ref()
        .ok_or_else(|| reject("response_invalid", "the assertion has no Subject"))?;
    let bearer_ok = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(SUBJECT_CONFIRMATION_BEARER))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .any(|data| {
            data.recipient.as_deref() == Some(expected.acs_url)
                && data.not_on_or_after.is_some_and(|t| now < t + skew)
                && data.in_response_to.as_deref() == expected.request_id
        });
    if !bearer_ok {
        return Err(reject(
            "wrong_in_response_to",
            "no bearer SubjectConfirmation names this ACS, the pending request and a live NotOnOrAfter",
        ));
    }
    let name_id = subject
        .name_id
        .as_ref()
        .map(|n| n.value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 512 && !v.chars().any(char::is_control))
        .ok_or_else(|| reject("response_invalid", "the assertion has no usable NameID"))?;
    if assertion.id.is_empty() || assertion.id.len() > 256 {
        return Err(reject("response_invalid", "the assertion has no usable ID"));
    }
    let attributes = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter_map(|a| {
            let name = a.name.clone().or_else(|| a.friendly_name.clone())?;
            let values = a.values.iter().filter_map(|v| v.value.clone()).collect();
            Some((name, values))
        })
        .collect();
    Ok(Verified {
        assertion_id: assertion.id.clone(),
        name_id_format: subject.name_id.as_ref().and_then(|n| n.format.clone()),
        session_index: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|s| s.session_index.clone())
            .filter(|s| !s.is_empty() && s.len() <= 256),
        name_id,
        attributes,
        // After this the assertion fails the issue-time check anyway.
        remember_until: assertion.issue_instant.max(now) + MAX_ISSUE_DELAY + skew * 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_abc" Version="2.0">
  <saml:Issuer>https://idp.example</saml:Issuer>
  <saml:Assertion ID="_a"><saml:Subject><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="_abc"/></saml:SubjectConfirmation></saml:Subject>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/></ds:SignedInfo></ds:Signature>
  </saml:Assertion>
</samlp:Response>"#;

    #[test]
    fn survey_finds_the_request_the_assertions_and_the_algorithms() {
        let found = survey(RESPONSE).expect("survey");
        assert_eq!(found.in_response_to.as_deref(), Some("_abc"));
        assert_eq!(found.assertions, 1);
        assert_eq!(
            weak_algorithm(&found.algorithms),
            Some("http://www.w3.org/2000/09/xmldsig#rsa-sha1")
        );
    }

    #[test]
    fn survey_refuses_doctypes_other_roots_and_two_request_ids() {
        let doctype = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{RESPONSE}");
        assert!(survey(&doctype).unwrap_err().contains("DOCTYPE"));
        assert!(
            survey("<Assertion/>")
                .unwrap_err()
                .contains("not a SAML Response")
        );
        let two = RESPONSE.replacen("InResponseTo=\"_abc\"/>", "InResponseTo=\"_other\"/>", 1);
        assert!(survey(&two).unwrap_err().contains("more than one"));
        assert!(survey("").is_err());
        assert!(survey("<Response><unclosed></Response>").is_err());
    }

    #[test]
    fn survey_refuses_what_libxmlsec1_would_act_on_before_checking() {
        let with_reference = |uri: &str| {
            RESPONSE.replace(
                "<ds:SignedInfo>",
                &format!("<ds:SignedInfo><ds:Reference URI=\"{uri}\"/>"),
            )
        };
        assert!(survey(&with_reference("#_a")).is_ok());
        for uri in [
            "",
            "http://127.0.0.1:1/ssrf",
            "file:///dev/zero",
            "#xpointer(//*)",
            "#1digit",
        ] {
            assert!(
                survey(&with_reference(uri))
                    .unwrap_err()
                    .contains("references"),
                "{uri}"
            );
        }
        let transform = |alg: &str| {
            RESPONSE.replace(
                "<ds:SignedInfo>",
                &format!("<ds:SignedInfo><ds:Transform Algorithm=\"{alg}\"/>"),
            )
        };
        assert!(survey(&transform("http://www.w3.org/2001/10/xml-exc-c14n#")).is_ok());
        assert!(
            survey(&transform("http://www.w3.org/TR/1999/REC-xslt-19991116"))
                .unwrap_err()
                .contains("transform")
        );
        let retrieval = RESPONSE.replace(
            "<ds:SignedInfo>",
            "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://x\"/></ds:KeyInfo><ds:SignedInfo>",
        );
        assert!(survey(&retrieval).unwrap_err().contains("fetch"));
    }

    #[test]
    fn survey_reads_only_utf8_and_one_response() {
        let utf7 = format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{RESPONSE}");
        assert!(survey(&utf7).unwrap_err().contains("UTF-8"));
        let utf8 = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{RESPONSE}");
        assert!(survey(&utf8).is_ok());
        let wrapped = format!("<x:Response xmlns:x=\"urn:x\">{}</x:Response>", RESPONSE);
        assert!(survey(&wrapped).unwrap_err().contains("inside"));
    }

    #[test]
    fn survey_counts_nested_assertions() {
        let wrapped = RESPONSE.replace(
            "<saml:Subject>",
            "<saml:Subject><saml:Assertion ID=\"_evil\"/>",
        );
        assert_eq!(survey(&wrapped).expect("survey").assertions, 2);
        let unsolicited = RESPONSE.replace(" InResponseTo=\"_abc\"", "");
        assert_eq!(survey(&unsolicited).expect("survey").in_response_to, None);
    }

    #[test]
    fn sha256_algorithms_are_strong() {
        let strong = vec![
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256".to_string(),
            "http://www.w3.org/2001/04/xmlenc#sha256".to_string(),
        ];
        assert_eq!(weak_algorithm(&strong), None);
    }

    #[test]
    fn request_ids_are_long_and_xml_ids() {
        let id = new_request_id();
        assert!(id.starts_with('_'));
        // 256 bits in base64url: 43 characters.
        assert!(id.len() >= 44, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn idp_metadata_needs_an_entity_id_and_a_redirect_sso_url() {
        let no_sso = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>"#;
        assert!(
            parse_idp_metadata(no_sso)
                .unwrap_err()
                .contains("HTTP-Redirect")
        );
        let http = no_sso.replace(
            "protocol\"/>",
            "protocol\"><md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"http://idp.example/sso\"/></md:IDPSSODescriptor>",
        );
        assert!(parse_idp_metadata(&http).unwrap_err().contains("https"));
        let ok = http.replace("http://idp.example", "https://idp.example");
        let parsed = parse_idp_metadata(&ok).expect("parses");
        assert_eq!(parsed.entity_id, "https://idp.example");
        assert!(parsed.certificates.is_empty());
        assert!(
            parse_idp_metadata("<!DOCTYPE x><x/>")
                .unwrap_err()
                .contains("DOCTYPE")
        );
        assert!(parse_idp_metadata("not xml").is_err());
    }
}
