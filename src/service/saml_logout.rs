//! SAML single logout messages (SAML core §3.7): the LogoutRequest and
//! LogoutResponse scimlink sends, and a reading of those an IdP sends,
//! which are trusted only after their signature (checked by the caller on
//! the HTTP-Redirect query) and the checks of `service::saml_slo`.

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::events::{BytesStart, Event};
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};

use super::oidc::check_https_url;
use super::saml_sp::escape_xml;

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The IdP's SingleLogoutService for the HTTP-Redirect binding, from the
/// connection's stored metadata; `None` when it offers none (or an http
/// one off loopback), and then scimlink signs people out locally only.
pub fn idp_slo_url(metadata_xml: &str) -> Option<String> {
    let descriptor: EntityDescriptor = metadata_xml.parse().ok()?;
    let idp = descriptor.idp_sso_descriptors?.into_iter().next()?;
    let url = idp
        .single_logout_services
        .iter()
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.trim().to_string())?;
    check_https_url("the SingleLogoutService", &url).ok()?;
    Some(url)
}

/// What a LogoutRequest says of whom to sign out.
pub struct LogoutRequestOut<'a> {
    pub id: &'a str,
    pub now: DateTime<Utc>,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

/// A LogoutRequest (SAML core §3.7.1) for the HTTP-Redirect binding (its
/// signature goes in the query).
pub fn logout_request_xml(r: &LogoutRequestOut<'_>) -> String {
    let format = r
        .name_id_format
        .map(|f| format!(" Format=\"{}\"", escape_xml(f)))
        .unwrap_or_default();
    let session_index = r
        .session_index
        .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape_xml(s)))
        .unwrap_or_default();
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session_index}</samlp:LogoutRequest>"#,
        id = escape_xml(r.id),
        now = instant(r.now),
        destination = escape_xml(r.destination),
        issuer = escape_xml(r.issuer),
        name_id = escape_xml(r.name_id),
    )
}

/// A LogoutResponse (SAML core §3.7.2) answering `in_response_to`.
pub fn logout_response_xml(
    id: &str,
    now: DateTime<Utc>,
    destination: &str,
    issuer: &str,
    in_response_to: &str,
    status: &str,
) -> String {
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}" InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status></samlp:LogoutResponse>"#,
        id = escape_xml(id),
        now = instant(now),
        destination = escape_xml(destination),
        issuer = escape_xml(issuer),
        in_response_to = escape_xml(in_response_to),
        status = escape_xml(status),
    )
}

/// A logout message an IdP sent, as read (not yet checked).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogoutMessage {
    /// `LogoutRequest` or `LogoutResponse`.
    pub kind: String,
    pub id: String,
    pub issue_instant: Option<DateTime<Utc>>,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub issuer: Option<String>,
    pub name_id: Option<String>,
    pub session_indexes: Vec<String>,
    /// The top-level StatusCode of a LogoutResponse.
    pub status: Option<String>,
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

/// What a signature in a posted message may name, as for responses
/// (`saml::survey`): elements of this document by ID, harmless transforms,
/// no key to fetch; libxmlsec1 acts on these before it checks anything.
fn check_signature_part(name: &str, element: &BytesStart<'_>) -> Result<(), String> {
    match name {
        "Reference" => {
            let uri = attribute(element, b"URI")?.unwrap_or_default();
            if !super::saml::is_id_reference(&uri) {
                return Err("a signature references something other than an element by ID".into());
            }
        }
        "Transform" | "CanonicalizationMethod" => {
            let alg = attribute(element, b"Algorithm")?.unwrap_or_default();
            if !super::saml::SAFE_TRANSFORMS.contains(&alg.as_str()) {
                return Err("a signature uses a transform that is not accepted".into());
            }
        }
        "RetrievalMethod" => return Err("a signature's KeyInfo asks to fetch a key".into()),
        _ => {}
    }
    Ok(())
}

/// Reads a LogoutRequest or LogoutResponse: one root of those, no DOCTYPE,
/// UTF-8, an encrypted NameID refused (scimlink never asks for one).
pub fn read_logout_message(xml: &str) -> Result<LogoutMessage, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut found = LogoutMessage::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text_of: Option<&'static str> = None;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the message is not well-formed XML: {e}"))?;
        match &event {
            Event::DocType(_) => return Err("the message has a DOCTYPE".into()),
            Event::Decl(decl) => {
                let encoding = decl
                    .encoding()
                    .transpose()
                    .map_err(|e| format!("a malformed XML declaration: {e}"))?;
                if encoding.is_some_and(|e| {
                    let e = String::from_utf8_lossy(&e).to_ascii_lowercase();
                    e != "utf-8" && e != "utf8"
                }) {
                    return Err("the message must be UTF-8".into());
                }
            }
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let depth = stack.len();
                if depth == 0 {
                    if name != "LogoutRequest" && name != "LogoutResponse" {
                        return Err(format!("the message is a {name}, not a logout message"));
                    }
                    if !found.kind.is_empty() {
                        return Err("the message has two roots".into());
                    }
                    found.kind = name.clone();
                    found.id = attribute(e, b"ID")?.unwrap_or_default();
                    found.destination = attribute(e, b"Destination")?;
                    found.in_response_to = attribute(e, b"InResponseTo")?;
                    found.issue_instant = attribute(e, b"IssueInstant")?
                        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&Utc));
                } else if depth == 1 {
                    match name.as_str() {
                        "Issuer" => text_of = Some("Issuer"),
                        "NameID" => text_of = Some("NameID"),
                        "SessionIndex" => text_of = Some("SessionIndex"),
                        "EncryptedID" | "BaseID" => {
                            return Err(format!("the message names its subject by {name}"));
                        }
                        _ => {}
                    }
                } else if depth > 1 {
                    check_signature_part(&name, e)?;
                }
                if depth == 2
                    && name == "StatusCode"
                    && stack.last().map(String::as_str) == Some("Status")
                {
                    found.status = attribute(e, b"Value")?;
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(name);
                } else {
                    text_of = None;
                }
                text.clear();
            }
            Event::Text(t) if text_of.is_some() => {
                text.push_str(
                    &t.xml10_content()
                        .map_err(|e| format!("malformed text: {e}"))?,
                );
            }
            // A reference is its own event: `&amp;` in a NameID is an `&`.
            Event::GeneralRef(r) if text_of.is_some() => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("an unknown entity &{other};")),
                    },
                    Err(e) => return Err(format!("a malformed character reference: {e}")),
                };
                text.push(resolved);
            }
            Event::End(_) => {
                stack.pop();
                if let Some(which) = text_of.take() {
                    let value = text.trim().to_string();
                    match which {
                        "Issuer" => found.issuer = Some(value),
                        "NameID" => found.name_id = Some(value),
                        _ => found.session_indexes.push(value),
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if found.kind.is_empty() {
        return Err("the message is empty".into());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_request_reads_back() {
        let xml = logout_request_xml(&LogoutRequestOut {
            id: "_1",
            now: Utc::now(),
            destination: "https://idp.example/slo",
            issuer: "https://sp.example/m?a&b",
            name_id: "alice<x>",
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
            session_index: Some("s1"),
        });
        let read = read_logout_message(&xml).expect("reads");
        assert_eq!(read.kind, "LogoutRequest");
        assert_eq!(read.id, "_1");
        assert_eq!(read.issuer.as_deref(), Some("https://sp.example/m?a&b"));
        assert_eq!(read.name_id.as_deref(), Some("alice<x>"));
        assert_eq!(read.session_indexes, ["s1"]);
        assert!(read.issue_instant.is_some());
    }

    #[test]
    fn a_logout_response_reads_its_status() {
        let xml = logout_response_xml(
            "_2",
            Utc::now(),
            "https://idp.example/slo",
            "https://sp.example/m",
            "_1",
            STATUS_SUCCESS,
        );
        let read = read_logout_message(&xml).expect("reads");
        assert_eq!(read.kind, "LogoutResponse");
        assert_eq!(read.in_response_to.as_deref(), Some("_1"));
        assert_eq!(read.status.as_deref(), Some(STATUS_SUCCESS));
    }

    #[test]
    fn other_documents_doctypes_and_encrypted_ids_are_refused() {
        assert!(read_logout_message("<samlp:Response/>").is_err());
        assert!(read_logout_message("<!DOCTYPE x><LogoutRequest/>").is_err());
        assert!(read_logout_message("<LogoutRequest><EncryptedID/></LogoutRequest>").is_err());
        assert!(read_logout_message("").is_err());
    }

    #[test]
    fn the_idp_slo_url_is_the_redirect_one() {
        let metadata = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/post"/><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/slo"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;
        assert_eq!(
            idp_slo_url(metadata).as_deref(),
            Some("https://idp.example/slo")
        );
        let none = metadata.replace(
            "HTTP-Redirect\" Location=\"https://idp.example/slo",
            "x\" Location=\"https://idp.example/slo",
        );
        assert_eq!(idp_slo_url(&none), None);
    }
}
