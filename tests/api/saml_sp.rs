//! scimlink as a SAML service provider with keys, against real IdPs on
//! loopback (pysaml2 and samlify, both configured to require signed
//! AuthnRequests): the keys its SP metadata publishes, signed
//! AuthnRequests the IdPs accept and tampered ones they refuse, and
//! encrypted assertions decrypted and then checked like any other.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::oidc_idp::{
    Browser, assert_signed_in, audit_events, location, patch_connection, refusal,
};
use crate::saml_idp::{SamlIdp, SamlIdpKind, connect_saml, post_answer, saml_answer};
use crate::sso_oidc::{failures, scim_user};

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

/// The Response XML of an IdP's answer.
fn response_xml(answer: &Value) -> String {
    let encoded = answer["SAMLResponse"].as_str().expect("SAMLResponse");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
        .expect("base64");
    String::from_utf8(bytes).expect("UTF-8")
}

/// Posts an answer that must be refused with this status and audit reason.
async fn assert_answer_refused(app: &TestApp, browser: &Browser, answer: &Value, reason: &str) {
    let (status, page) = refusal(post_answer(browser, answer).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason}: {page}");
    assert_eq!(
        failures(app).await.first().map(String::as_str),
        Some(reason)
    );
    assert_eq!(browser.me(app).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn encrypted_assertions_are_decrypted_then_checked_like_any_other() {
    let app = spawn_app().await;
    for kind in KINDS {
        let idp = SamlIdp::start(kind).await;
        let connection = connect_saml(&app, &idp, &format!("{kind:?}"), "trusted", json!({})).await;
        let cid = id_of(&connection);
        if kind == SamlIdpKind::Pysaml2 {
            scim_user(&app, "alice@example.com", "00u-alice").await;
        }
        let metadata = sp_metadata(&connection).await;
        let encryption = certificate(&metadata, "encryption");
        assert_ne!(encryption, certificate(&metadata, "signing"));

        for enc_alg in ["aes256-cbc", "aes128-gcm"] {
            let browser = Browser::new();
            let answer = saml_answer(
                &browser,
                &app,
                &idp,
                &cid,
                &[
                    ("subject", "00u-alice"),
                    ("encrypt", "1"),
                    ("enc_alg", enc_alg),
                ],
            )
            .await;
            let xml = response_xml(&answer);
            assert!(xml.contains("EncryptedAssertion"), "{kind:?}: {xml}");
            assert!(
                !xml.contains("00u-alice"),
                "{kind:?}: the NameID is in clear: {xml}"
            );
            assert!(xml.contains(enc_alg), "{kind:?}: {xml}");
            assert_signed_in(&post_answer(&browser, &answer).await);
        }

        // Each check runs on what was inside the encryption.
        for (options, reason) in [
            (vec![("encrypt_to", "untrusted")], "decryption_failed"),
            // Only the Response signed: its signature covers the ciphertext,
            // nothing the IdP signed covers the assertion itself.
            (vec![("sign", "response")], "signature_invalid"),
            (vec![("key", "untrusted")], "signature_invalid"),
            (vec![("alg", "sha1")], "weak_algorithm"),
            (
                vec![("audience", "https://other.example/sp")],
                "wrong_audience",
            ),
            (vec![("expired", "1")], "expired"),
        ] {
            let browser = Browser::new();
            let mut all = vec![("subject", "00u-alice"), ("encrypt", "1")];
            all.extend(options.iter().copied());
            let answer = saml_answer(&browser, &app, &idp, &cid, &all).await;
            assert_answer_refused(&app, &browser, &answer, reason).await;
        }

        // Unsolicited and encrypted: signs in once, the replay is refused.
        let (status, body) =
            patch_connection(&app, &cid, &json!({"allow_idp_initiated": true})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer = idp
            .idp_initiated(json!({
                "sp_entity_id": connection["sp_entity_id"],
                "subject": "00u-alice",
                "encrypt": "1",
                "relay_state": "/after",
            }))
            .await;
        assert!(response_xml(&answer).contains("EncryptedAssertion"));
        assert_signed_in(&post_answer(&Browser::new(), &answer).await);
        assert_answer_refused(&app, &Browser::new(), &answer, "replayed").await;
    }
}

/// The reason of the newest refused logout message.
async fn last_logout_refusal(app: &TestApp) -> String {
    audit_events(app, "auth.logout_refused")
        .await
        .first()
        .and_then(|e| e["summary"]["reason"].as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Signs this browser out through `/`'s form; the response.
async fn sign_out(browser: &Browser, app: &TestApp) -> reqwest::Response {
    let home = browser.get(&app.url("/")).await.text().await.expect("home");
    let at = home.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    let csrf = home[at..].split('"').next().unwrap_or_default().to_string();
    browser
        .client
        .post(app.url("/sign-out"))
        // As a browser does: forms must come from this server's pages.
        .header("origin", app.address.as_str())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("POST /sign-out")
}

#[tokio::test]
async fn single_logout_sp_and_idp_initiated_over_http_redirect() {
    let app = spawn_app().await;
    for kind in KINDS {
        single_logout_against(&app, kind).await;
    }
}

async fn single_logout_against(app: &TestApp, kind: SamlIdpKind) {
    let idp = SamlIdp::start(kind).await;
    let connection = connect_saml(app, &idp, &format!("{kind:?}"), "trusted", json!({})).await;
    let cid = id_of(&connection);
    let sp_entity_id = connection["sp_entity_id"].as_str().expect("entity id");
    if kind == SamlIdpKind::Pysaml2 {
        scim_user(app, "alice@example.com", "00u-alice").await;
        scim_user(app, "bob@example.com", "00u-bob").await;
    }
    let slo = app.url(&format!("/sso/saml/{cid}/slo"));
    assert!(
        sp_metadata(&connection)
            .await
            .contains(&format!("Location=\"{slo}\"")),
    );
    let signed_in = |who: &'static str| {
        let idp = &idp;
        let cid = cid.clone();
        async move {
            let browser = Browser::new();
            let answer = saml_answer(&browser, app, idp, &cid, &[("subject", who)]).await;
            assert_signed_in(&post_answer(&browser, &answer).await);
            assert_eq!(browser.me(app).await.0, StatusCode::OK);
            browser
        }
    };

    // SP-initiated: the session ends here, the browser goes to the IdP with
    // a signed LogoutRequest it accepts, and its LogoutResponse comes back.
    let alice = signed_in("00u-alice").await;
    let out = sign_out(&alice, app).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let to_idp = location(&out, &app.address);
    assert!(
        to_idp.starts_with(&format!("{}/slo?SAMLRequest=", idp.base_url)),
        "{to_idp}"
    );
    assert_eq!(alice.me(app).await.0, StatusCode::UNAUTHORIZED);
    let (status, request) = get_json(&to_idp).await;
    assert_eq!(status, StatusCode::OK, "{request}");
    assert_eq!(request["name_id"], "00u-alice");
    assert_eq!(request["issuer"], sp_entity_id);
    let back = request["response_url"].as_str().expect("response_url");
    assert!(back.starts_with(&slo), "{back}");
    let done = alice.get(back).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap_or_default().contains("Signed out"));
    // A LogoutResponse answers once.
    assert_eq!(alice.get(back).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(last_logout_refusal(app).await, "unknown_in_response_to");

    // IdP-initiated: every session of that NameID through this connection ends.
    let first = signed_in("00u-alice").await;
    let second = signed_in("00u-alice").await;
    let bob = signed_in("00u-bob").await;
    let logout = |extra: Value| {
        let mut body =
            json!({"sp_entity_id": sp_entity_id, "name_id": "00u-alice", "relay_state": "r1"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let url = format!("{}/logout-request", idp.base_url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("logout-request");
            let answer: Value = response.json().await.expect("JSON");
            answer
        }
    };
    let request = logout(json!({})).await;
    let url = request["url"].as_str().expect("url").to_string();
    assert!(url.starts_with(&slo), "{url}");
    // Unsigned, tampered and stale requests end nothing.
    let unsigned = url.split("&SigAlg=").next().expect("a prefix").to_string();
    let other = logout(json!({"name_id": "00u-bob"})).await;
    let other = other["url"].as_str().expect("url");
    let swapped = url.replace(
        raw_param(&url, "SAMLRequest"),
        raw_param(other, "SAMLRequest"),
    );
    let mut bad_ones = vec![
        (unsigned.clone(), "signature_invalid"),
        (swapped.clone(), "signature_invalid"),
    ];
    if kind == SamlIdpKind::Pysaml2 {
        let stale = logout(json!({"expired": true})).await;
        bad_ones.push((stale["url"].as_str().expect("url").to_string(), "expired"));
    }
    for (bad, reason) in &bad_ones {
        let bad = bad.as_str();
        let reason = *reason;
        let (status, page) = refusal(Browser::new().get(bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}: {page}");
        assert_eq!(last_logout_refusal(app).await, reason);
    }
    assert_eq!(first.me(app).await.0, StatusCode::OK);
    assert_eq!(bob.me(app).await.0, StatusCode::OK);

    let answered = Browser::new().get(&url).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    let to_idp = location(&answered, &app.address);
    assert!(
        to_idp.starts_with(&format!("{}/slo?SAMLResponse=", idp.base_url)),
        "{to_idp}"
    );
    assert!(to_idp.contains("RelayState=r1"), "{to_idp}");
    assert_eq!(first.me(app).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(second.me(app).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(bob.me(app).await.0, StatusCode::OK);
    // A captured request, replayed, ends nothing a second time.
    let again = signed_in("00u-alice").await;
    let (status, page) = refusal(Browser::new().get(&url).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(last_logout_refusal(app).await, "replayed");
    assert_eq!(again.me(app).await.0, StatusCode::OK);
    // The IdP takes scimlink's signed LogoutResponse.
    let (status, response) = get_json(&to_idp).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["in_response_to"], request["request_id"]);
    assert_eq!(
        response["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    assert_eq!(response["issuer"], sp_entity_id);
    let ended = audit_events(app, "auth.sign_out").await;
    assert!(
        ended
            .iter()
            .filter(|e| e["summary"]["initiated_by"] == "idp"
                && e["summary"]["connection_id"] == cid.as_str())
            .count()
            == 2,
        "{kind:?}: {ended:?}"
    );
}

#[tokio::test]
async fn an_idp_logout_request_over_http_post_needs_its_signature() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "pysaml2", "trusted", json!({})).await;
    let cid = id_of(&connection);
    let sp_entity_id = connection["sp_entity_id"].as_str().expect("entity id");
    scim_user(&app, "alice@example.com", "00u-alice").await;
    let browser = Browser::new();
    let answer = saml_answer(&browser, &app, &idp, &cid, &[("subject", "00u-alice")]).await;
    assert_signed_in(&post_answer(&browser, &answer).await);
    let request = |extra: Value| {
        let mut body = json!({
            "sp_entity_id": sp_entity_id, "name_id": "00u-alice", "binding": "post", "relay_state": "r2",
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let url = format!("{}/logout-request", idp.base_url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("logout-request");
            let answer: Value = response.json().await.expect("JSON");
            answer
        }
    };
    let post = |message: Value| async move {
        let form = [
            (
                "SAMLRequest",
                message["SAMLRequest"].as_str().expect("SAMLRequest"),
            ),
            (
                "RelayState",
                message["RelayState"].as_str().unwrap_or_default(),
            ),
        ];
        Browser::new()
            .client
            .post(message["slo_url"].as_str().expect("slo_url"))
            .form(&form)
            .send()
            .await
            .expect("POST")
    };
    for (extra, reason) in [
        (json!({"sign": false}), "signature_invalid"),
        (
            json!({"tamper": "nameid", "tamper_value": "00u-alice "}),
            "signature_invalid",
        ),
    ] {
        let message = request(extra).await;
        let (status, page) = refusal(post(message).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}: {page}");
        assert_eq!(last_logout_refusal(&app).await, reason);
        assert_eq!(browser.me(&app).await.0, StatusCode::OK);
    }
    let message = request(json!({})).await;
    let answered = post(message.clone()).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    let to_idp = location(&answered, &app.address);
    assert!(
        to_idp.starts_with(&format!("{}/slo?SAMLResponse=", idp.base_url)),
        "{to_idp}"
    );
    assert_eq!(browser.me(&app).await.0, StatusCode::UNAUTHORIZED);
    let (status, response) = get_json(&to_idp).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["in_response_to"], message["request_id"]);
}
