//! Real SAML identity providers on loopback for the SSO tests: PyPI's
//! `pysaml2` (signing through Debian's xmlsec1) and npm's `samlify`
//! (xml-crypto), run by `tests/idp/saml-idp.py` and
//! `tests/idp/samlify-idp.mjs` (installed by `tests/idp/setup.sh`). Both
//! answer the same test interface: their metadata, registering scimlink's
//! SP metadata, answering an AuthnRequest, or an unsolicited response, with
//! options that make the answers an attacker or a broken IdP would send.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::TestApp;
use crate::oidc_idp::{Browser, idp_dir, location, patch_connection, spawn_idp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlIdpKind {
    Pysaml2,
    Samlify,
}

pub struct SamlIdp {
    pub base_url: String,
    pub entity_id: String,
    http: reqwest::Client,
    _child: Child,
}

impl SamlIdp {
    pub async fn start(kind: SamlIdpKind) -> SamlIdp {
        let dir = idp_dir();
        let (command, name) = match kind {
            SamlIdpKind::Pysaml2 => {
                let mut c = Command::new(format!("{dir}/.venv/bin/python"));
                c.arg(format!("{dir}/saml-idp.py"));
                (c, "pysaml2")
            }
            SamlIdpKind::Samlify => {
                let mut c = Command::new("node");
                c.arg(format!("{dir}/samlify-idp.mjs"));
                (c, "samlify")
            }
        };
        let (child, started) = spawn_idp(command, name, None).await;
        SamlIdp {
            base_url: started["base_url"].as_str().expect("base_url").to_string(),
            entity_id: started["entity_id"]
                .as_str()
                .expect("entity_id")
                .to_string(),
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    /// The IdP's metadata naming these signing certificates
    /// (`trusted`, `second`, `untrusted`; "" for none).
    pub async fn metadata(&self, certs: &str) -> String {
        let response = self
            .http
            .get(format!("{}/metadata?certs={certs}", self.base_url))
            .send()
            .await
            .expect("metadata");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metadata text")
    }

    /// Registers scimlink's SP metadata (read from its metadata URL, as an
    /// IdP admin would paste it): proof the IdP understands it.
    pub async fn register_sp(&self, metadata_url: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/sp", self.base_url))
            .json(&json!({"metadata_url": metadata_url}))
            .send()
            .await
            .expect("register SP");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// An unsolicited response for the SP (IdP-initiated sign-in).
    pub async fn idp_initiated(&self, options: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/idp-initiated", self.base_url))
            .json(&options)
            .send()
            .await
            .expect("idp-initiated");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// Creates a SAML connection from `idp`'s metadata (with the signing
/// certificates `certs`), registers scimlink's SP metadata at the IdP, and
/// enables the connection; returns it as the admin API shows it.
pub async fn connect_saml(
    app: &TestApp,
    idp: &SamlIdp,
    name: &str,
    certs: &str,
    extra: Value,
) -> Value {
    let mut body = json!({
        "type": "saml",
        "display_name": name,
        "idp_metadata_xml": idp.metadata(certs).await,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (status, created) = app
        .admin(Method::POST, "/api/v1/connections", Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let registered = idp
        .register_sp(created["metadata_url"].as_str().expect("metadata_url"))
        .await;
    assert_eq!(registered["sp_entity_id"], created["sp_entity_id"]);
    assert_eq!(registered["acs_url"], created["acs_url"]);
    let id = created["id"].as_str().expect("id");
    let (status, enabled) = patch_connection(app, id, &json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    enabled
}

/// The IdP's answer to a sign-in this browser started at scimlink: its
/// JSON (`acs_url`, `SAMLResponse`, `RelayState`, `request_id`). `options`
/// go to the IdP (the person, and any tampering).
pub async fn saml_answer(
    browser: &Browser,
    app: &TestApp,
    idp: &SamlIdp,
    connection_id: &str,
    options: &[(&str, &str)],
) -> Value {
    let start = browser
        .get(&app.url(&format!("/sso/{connection_id}/start?return_to=/after")))
        .await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "start");
    let mut to_idp = url::Url::parse(&location(&start, &app.address)).expect("a URL");
    assert!(to_idp.as_str().starts_with(&idp.base_url), "{to_idp}");
    to_idp.query_pairs_mut().extend_pairs(options);
    let response = browser.get(to_idp.as_str()).await;
    let status = response.status();
    let body: Value = response.json().await.expect("the IdP's JSON answer");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Posts an IdP answer to its ACS, as the IdP's auto-submitting form does.
pub async fn post_answer(browser: &Browser, answer: &Value) -> reqwest::Response {
    let mut form = vec![(
        "SAMLResponse",
        answer["SAMLResponse"].as_str().expect("SAMLResponse"),
    )];
    if let Some(relay) = answer["RelayState"].as_str() {
        form.push(("RelayState", relay));
    }
    browser
        .client
        .post(answer["acs_url"].as_str().expect("acs_url"))
        .form(&form)
        .send()
        .await
        .expect("POST to the ACS")
}

/// Starts a sign-in, has the IdP answer with `options`, posts the answer.
pub async fn saml_sign_in(
    browser: &Browser,
    app: &TestApp,
    idp: &SamlIdp,
    connection_id: &str,
    options: &[(&str, &str)],
) -> reqwest::Response {
    let answer = saml_answer(browser, app, idp, connection_id, options).await;
    post_answer(browser, &answer).await
}
