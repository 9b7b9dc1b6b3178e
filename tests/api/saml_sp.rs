//! scimlink as a SAML service provider with keys, against real IdPs on
//! loopback (pysaml2 and samlify, both configured to require signed
//! AuthnRequests): the keys its SP metadata publishes, signed
//! AuthnRequests the IdPs accept and tampered ones they refuse, and
//! encrypted assertions decrypted and then checked like any other.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::oidc_idp::{Browser, assert_signed_in, location};
use crate::saml_idp::{SamlIdp, SamlIdpKind, connect_saml, post_answer};
use crate::sso_oidc::scim_user;

const KINDS: [SamlIdpKind; 2] = [SamlIdpKind::Pysaml2, SamlIdpKind::Samlify];

fn id_of(connection: &Value) -> String {
    connection["id"].as_str().expect("id").to_string()
}

async fn sp_metadata(connection: &Value) -> String {
    let response = reqwest::get(connection["metadata_url"].as_str().expect("metadata_url"))
        .await
        .expect("metadata");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("text")
}

/// The certificate (base64) of the KeyDescriptor with this use.
fn certificate(metadata: &str, key_use: &str) -> String {
    let start = metadata
        .find(&format!("<md:KeyDescriptor use=\"{key_use}\">"))
        .unwrap_or_else(|| panic!("a {key_use} key in {metadata}"));
    let rest = &metadata[start..];
    let from = rest.find("<ds:X509Certificate>").expect("a certificate") + 20;
    let to = rest.find("</ds:X509Certificate>").expect("its end");
    rest[from..to].to_string()
}

/// Where scimlink sends this browser to sign in (the IdP URL with the signed request).
async fn start_url(browser: &Browser, app: &TestApp, cid: &str) -> String {
    let start = browser
        .get(&app.url(&format!("/sso/{cid}/start?return_to=/after")))
        .await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "start");
    location(&start, &app.address)
}

/// The raw (still URL-encoded) value of a query parameter.
fn raw_param<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').expect("a query").1;
    query
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

/// The IdP's status for this (possibly tampered) sign-in URL.
async fn idp_status(browser: &Browser, url: &str) -> (StatusCode, String) {
    let response = browser.get(&format!("{url}&subject=00u-alice")).await;
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn idps_requiring_signed_authn_requests_take_ours_and_refuse_tampered_ones() {
    let app = spawn_app().await;
    for kind in KINDS {
        let idp = SamlIdp::start(kind).await;
        let connection = connect_saml(&app, &idp, &format!("{kind:?}"), "trusted", json!({})).await;
        let cid = id_of(&connection);
        if kind == SamlIdpKind::Pysaml2 {
            scim_user(&app, "alice@example.com", "00u-alice").await;
        }
        let metadata = sp_metadata(&connection).await;
        assert!(
            metadata.contains("AuthnRequestsSigned=\"true\""),
            "{metadata}"
        );
        let signing = certificate(&metadata, "signing");
        assert!(signing.len() > 500, "{signing}");
        // The key is made once and kept.
        assert_eq!(
            certificate(&sp_metadata(&connection).await, "signing"),
            signing
        );

        let browser = Browser::new();
        let url = start_url(&browser, &app, &cid).await;
        assert_eq!(
            raw_param(&url, "SigAlg"),
            "http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"
        );
        let (status, body) = idp_status(&browser, &url).await;
        assert_eq!(status, StatusCode::OK, "{kind:?}: {body}");
        let answer: Value = serde_json::from_str(&body).expect("JSON");
        assert_signed_in(&post_answer(&browser, &answer).await);

        // Another request's SAMLRequest under this one's signature.
        let url = start_url(&browser, &app, &cid).await;
        let other = start_url(&Browser::new(), &app, &cid).await;
        let swapped = url.replace(
            raw_param(&url, "SAMLRequest"),
            raw_param(&other, "SAMLRequest"),
        );
        assert_ne!(swapped, url);
        let (status, body) = idp_status(&browser, &swapped).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{kind:?} took a swapped request: {body}"
        );
        // No signature at all.
        let unsigned = url.split("&SigAlg=").next().expect("a prefix").to_string();
        let (status, body) = idp_status(&browser, &unsigned).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{kind:?} took an unsigned request: {body}"
        );
        // The untouched one still goes through.
        let (status, body) = idp_status(&browser, &url).await;
        assert_eq!(status, StatusCode::OK, "{kind:?}: {body}");
    }
}
