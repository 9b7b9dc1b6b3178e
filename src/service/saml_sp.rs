//! scimlink as a SAML service provider with keys: each connection's key
//! pairs (made on first need and kept), the SP metadata publishing them,
//! and the signed AuthnRequest the HTTP-Redirect binding carries.

use chrono::{DateTime, Utc};
use samael::metadata::{HTTP_POST_BINDING, HTTP_REDIRECT_BINDING};
use samael::schema::{AuthnRequest, Issuer};
use samael::traits::ToXml;

use super::saml_keys::{self, KeyPair};
use super::{AppState, saml, secrets};
use crate::error::{AppError, AppResult};
use crate::store::{self, connections::ConnectionRow, is_unique_violation};

pub const USE_SIGNING: &str = "signing";
pub const USE_ENCRYPTION: &str = "encryption";

/// Where an IdP sends logout messages for a connection (both bindings).
pub fn slo_url(base_url: &str, connection_id: &str) -> String {
    format!("{base_url}/sso/saml/{connection_id}/slo")
}

/// A connection's two key pairs: one signs what scimlink sends, the other
/// receives encrypted assertions (two keys, so neither use weakens the
/// other, as SAML metadata §2.4.1.1 allows by `use`).
pub struct SpKeys {
    pub signing: KeyPair,
    pub encryption: KeyPair,
}

/// The stored pair of one use, its private key opened (it is kept sealed).
fn pair_of(
    state: &AppState,
    rows: &[store::saml::SpKeyRow],
    key_use: &str,
) -> AppResult<Option<KeyPair>> {
    rows.iter()
        .find(|r| r.key_use == key_use)
        .map(|r| {
            let opened = secrets::open_sp_key(
                &state.settings,
                &r.connection_id,
                key_use,
                &r.private_key_pem,
            )?;
            Ok(KeyPair {
                private_key_pem: opened.expose().to_string(),
                certificate_der: r.certificate_der.clone(),
            })
        })
        .transpose()
}

/// The connection's key pairs, made the first time they are needed (the
/// metadata, a sign-in). Two first requests may race: the unique index
/// keeps the first key stored and the other reads it back.
pub async fn keys(state: &AppState, connection: &ConnectionRow) -> AppResult<SpKeys> {
    let rows = store::saml::keys(&state.db.read, &connection.id).await?;
    if let (Some(signing), Some(encryption)) = (
        pair_of(state, &rows, USE_SIGNING)?,
        pair_of(state, &rows, USE_ENCRYPTION)?,
    ) {
        return Ok(SpKeys {
            signing,
            encryption,
        });
    }
    let now = state.settings.clock.now();
    for key_use in [USE_SIGNING, USE_ENCRYPTION] {
        if rows.iter().any(|r| r.key_use == key_use) {
            continue;
        }
        let name = format!("scimlink SAML {key_use} {}", connection.id);
        let pair = super::blocking(move || saml_keys::generate_key_pair(&name, now))
            .await?
            .map_err(AppError::Internal)?;
        let sealed = secrets::seal_sp_key(
            &state.settings,
            &connection.id,
            key_use,
            &pair.private_key_pem,
        )?;
        let stored = store::saml::insert_key(
            &state.db.write,
            store::saml::NewKey {
                org_id: &connection.org_id,
                connection_id: &connection.id,
                key_use,
                private_key_pem: &sealed,
                certificate_der: &pair.certificate_der,
                now,
            },
        )
        .await;
        match stored {
            Ok(()) => log::info!(
                "made the SAML {key_use} key of connection {}",
                connection.id
            ),
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let rows = store::saml::keys(&state.db.write, &connection.id).await?;
    match (
        pair_of(state, &rows, USE_SIGNING)?,
        pair_of(state, &rows, USE_ENCRYPTION)?,
    ) {
        (Some(signing), Some(encryption)) => Ok(SpKeys {
            signing,
            encryption,
        }),
        _ => Err(AppError::Internal(format!(
            "connection {} has no SAML keys after making them",
            connection.id
        ))),
    }
}

/// Text for an XML attribute or element that scimlink writes (SP metadata,
/// logout messages).
pub(super) fn escape_xml(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn key_descriptor(key_use: &str, certificate_der: &str) -> String {
    format!(
        r#"    <md:KeyDescriptor use="{key_use}">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
"#,
        escape_xml(certificate_der)
    )
}

/// What the SP metadata of a connection says.
pub struct SpMetadata<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// The SingleLogoutService (both bindings), when offered.
    pub slo_url: Option<&'a str>,
    pub signing_certificate: &'a str,
    /// The key IdPs encrypt assertions to, when offered.
    pub encryption_certificate: Option<&'a str>,
}

/// scimlink's SP metadata for a connection (SAML metadata §2.4.4): its
/// entity id, its keys (signing, encryption), the ACS (HTTP-POST), the
/// single logout service; signed requests, signed assertions wanted.
pub fn sp_metadata_xml(m: &SpMetadata<'_>) -> String {
    let slo = m
        .slo_url
        .map(|url| {
            let url = escape_xml(url);
            format!(
                "    <md:SingleLogoutService Binding=\"{HTTP_REDIRECT_BINDING}\" Location=\"{url}\"/>\n    <md:SingleLogoutService Binding=\"{HTTP_POST_BINDING}\" Location=\"{url}\"/>\n"
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
{signing}{encryption}{slo}    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{HTTP_POST_BINDING}" Location="{acs_url}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity_id = escape_xml(m.entity_id),
        acs_url = escape_xml(m.acs_url),
        signing = key_descriptor(USE_SIGNING, m.signing_certificate),
        encryption = m
            .encryption_certificate
            .map(|c| key_descriptor(USE_ENCRYPTION, c))
            .unwrap_or_default(),
    )
}

/// The SP metadata of a SAML connection, its keys made if need be.
pub async fn metadata(state: &AppState, connection: &ConnectionRow) -> AppResult<String> {
    let keys = keys(state, connection).await?;
    Ok(sp_metadata_xml(&SpMetadata {
        entity_id: &saml::sp_entity_id(&state.base_url, &connection.id),
        acs_url: &saml::acs_url(&state.base_url, &connection.id),
        slo_url: Some(&slo_url(&state.base_url, &connection.id)),
        signing_certificate: &keys.signing.certificate_der,
        encryption_certificate: Some(&keys.encryption.certificate_der),
    }))
}

/// A decoded response with its `EncryptedAssertion` decrypted by the
/// connection's encryption key (unchanged when it has none). `Err`: why it
/// cannot be read, for the audit log. What comes out is then surveyed and
/// checked like any response: see `saml_keys::decrypt_response`.
pub async fn decrypt_response(
    state: &AppState,
    connection: &ConnectionRow,
    xml: String,
) -> AppResult<Result<String, String>> {
    // No element of that name without these bytes.
    if !xml.contains("EncryptedAssertion") {
        return Ok(Ok(xml));
    }
    let key = keys(state, connection).await?.encryption.private_key_pem;
    // RSA private-key work: off the async workers.
    super::blocking(move || {
        saml_keys::decrypt_response(&xml, &key).map(|plain| plain.unwrap_or(xml))
    })
    .await
}

/// What an AuthnRequest says.
pub struct AuthnRequestParts<'a> {
    pub idp_sso_url: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub request_id: &'a str,
    pub now: DateTime<Utc>,
    /// The IdP asks for credentials even in a signed-in browser (a test
    /// sign-in as someone else).
    pub force_authn: bool,
}

/// The IdP URL carrying a signed AuthnRequest over the HTTP-Redirect
/// binding (SAML bindings §3.4.4.1: the signature is in the query, not in
/// the XML).
pub fn signed_authn_request_url(
    parts: &AuthnRequestParts<'_>,
    signing_key_pem: &str,
) -> Result<String, String> {
    let request = AuthnRequest {
        force_authn: parts.force_authn.then_some(true),
        id: parts.request_id.to_string(),
        issue_instant: parts.now,
        version: "2.0".into(),
        destination: Some(parts.idp_sso_url.to_string()),
        assertion_consumer_service_url: Some(parts.acs_url.to_string()),
        protocol_binding: Some(HTTP_POST_BINDING.to_string()),
        issuer: Some(Issuer {
            value: Some(parts.sp_entity_id.to_string()),
            ..Issuer::default()
        }),
        ..AuthnRequest::default()
    };
    let xml = request
        .to_string()
        .map_err(|e| format!("cannot build the AuthnRequest: {e}"))?;
    saml_keys::signed_redirect_url(
        parts.idp_sso_url,
        "SAMLRequest",
        &xml,
        None,
        signing_key_pem,
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::str::FromStr;

    use base64::Engine;
    use samael::metadata::EntityDescriptor;

    use super::*;

    #[test]
    fn sp_metadata_escapes_and_publishes_keys_acs_and_slo() {
        let xml = sp_metadata_xml(&SpMetadata {
            entity_id: "https://sp.example/m?a=1&b=2",
            acs_url: "https://sp.example/acs",
            slo_url: Some("https://sp.example/slo"),
            signing_certificate: "U0lHTg==",
            encryption_certificate: Some("RU5D"),
        });
        assert!(xml.contains("entityID=\"https://sp.example/m?a=1&amp;b=2\""));
        let parsed = EntityDescriptor::from_str(&xml).expect("metadata parses");
        assert_eq!(
            parsed.entity_id.as_deref(),
            Some("https://sp.example/m?a=1&b=2")
        );
        let sp = &parsed.sp_sso_descriptors.expect("an SP")[0];
        assert_eq!(sp.authn_requests_signed, Some(true));
        let uses: Vec<_> = sp
            .key_descriptors
            .iter()
            .flatten()
            .map(|k| k.key_use.clone().unwrap_or_default())
            .collect();
        assert_eq!(uses, ["signing", "encryption"]);
        assert_eq!(sp.single_logout_services.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn the_authn_request_url_carries_a_signed_deflated_request() {
        let pair = saml_keys::generate_key_pair("t", Utc::now()).expect("pair");
        let url = signed_authn_request_url(
            &AuthnRequestParts {
                idp_sso_url: "https://idp.example/sso?app=1",
                sp_entity_id: "https://sp.example/sso/saml/c/metadata",
                acs_url: "https://sp.example/sso/saml/c/acs",
                request_id: "_id123",
                now: Utc::now(),
                force_authn: true,
            },
            &pair.private_key_pem,
        )
        .expect("url");
        let parsed = url::Url::parse(&url).expect("a URL");
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("app".into(), "1".into()));
        let names: Vec<_> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["app", "SAMLRequest", "SigAlg", "Signature"]);
        let query = url.split_once("app=1&").expect("query").1;
        let cert = saml::certificate(&pair.certificate_der).expect("cert");
        let read = saml_keys::read_signed_redirect(query, "SAMLRequest", &[cert])
            .expect("the signature verifies");
        assert!(read.xml.contains("ID=\"_id123\""), "{}", read.xml);
        assert!(read.xml.contains("ForceAuthn=\"true\""), "{}", read.xml);
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(&pairs[1].1)
            .expect("base64");
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut xml)
            .expect("deflate");
        assert!(xml.contains("https://sp.example/sso/saml/c/acs"), "{xml}");
    }
}
