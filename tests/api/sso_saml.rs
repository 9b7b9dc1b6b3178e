//! SSO sign-in through SAML 2.0 against real IdPs on loopback (PyPI's
//! pysaml2 over xmlsec1, and npm's samlify over xml-crypto): SAML
//! connections in the admin API, SP metadata the IdPs read, SP- and
//! IdP-initiated sign-in, linking, JIT, and every refusal a tampered,
//! replayed, stale or misdirected response must meet, each leaving its
//! audit event. Over real HTTP and a real database.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::oidc_idp::{Browser, assert_signed_in, audit_events, patch_connection, refusal};
use crate::saml_idp::{SamlIdp, SamlIdpKind, connect_saml, post_answer, saml_answer, saml_sign_in};
use crate::sso_oidc::{failures, identities, scim_user};

fn id_of(connection: &Value) -> String {
    connection["id"].as_str().expect("id").to_string()
}

/// The reason of the newest refused sign-in.
async fn last_failure(app: &TestApp) -> String {
    failures(app).await.first().cloned().unwrap_or_default()
}

/// A sign-in as `subject` with these IdP options must be refused with this
/// status and audit reason, and leave no session and no link.
async fn assert_refused(
    app: &TestApp,
    idp: &SamlIdp,
    cid: &str,
    options: &[(&str, &str)],
    status: StatusCode,
    reason: &str,
) {
    let browser = Browser::new();
    let (got, page) = refusal(saml_sign_in(&browser, app, idp, cid, options).await).await;
    assert_eq!(got, status, "{options:?}: {page}");
    assert_eq!(last_failure(app).await, reason, "{options:?}");
    assert_eq!(browser.me(app).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sp_initiated_sign_in_links_the_account_and_later_ones_use_the_link() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "Okta production", "trusted", json!({})).await;
    let cid = id_of(&connection);
    assert_eq!(connection["type"], "saml");
    assert_eq!(connection["issuer"], idp.entity_id.as_str());
    assert_eq!(
        connection["acs_url"],
        app.url(&format!("/sso/saml/{cid}/acs"))
    );
    assert_eq!(
        connection["sp_entity_id"],
        app.url(&format!("/sso/saml/{cid}/metadata"))
    );
    assert_eq!(connection["allow_idp_initiated"], false);
    assert_eq!(
        connection["idp_certificates"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(connection.get("client_id").is_none(), "{connection}");
    let (_, org) = app.admin(Method::GET, "/api/v1/org", None).await;
    assert_eq!(org["sso_enabled"], true, "{org}");

    // NameID is the value SCIM sends as externalId (Okta's set-up).
    let alice = scim_user(&app, "alice@example.com", "00u-alice").await;
    let browser = Browser::new();
    let start = browser
        .get(&app.url(&format!("/sso/{cid}/start?return_to=/after")))
        .await;
    let cookie = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("scimlink_sso="))
        .expect("the browser cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let answer = saml_sign_in(
        &browser,
        &app,
        &idp,
        &cid,
        &[("subject", "00u-alice"), ("email", "alice@example.com")],
    )
    .await;
    assert_signed_in(&answer);
    let (status, me) = browser.me(&app).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], alice);
    let links = identities(&app, &alice).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["issuer"], idp.entity_id.as_str());
    assert_eq!(links[0]["subject"], "00u-alice");
    let linked = audit_events(&app, "identity.linked").await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["summary"]["connection_id"], cid.as_str());

    // Later: the link, even after the External user ID changed.
    let (status, body) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{alice}/external-user-id"),
            Some(&json!({"value": "someone-else"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = Browser::new();
    assert_signed_in(&saml_sign_in(&again, &app, &idp, &cid, &[("subject", "00u-alice")]).await);
    assert_eq!(again.me(&app).await.1["id"], alice);
    assert_eq!(identities(&app, &alice).await.len(), 1);
    assert_eq!(audit_events(&app, "auth.sign_in").await.len(), 2);
}

#[tokio::test]
async fn tampered_stale_and_misdirected_responses_are_refused() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let cid = id_of(&connect_saml(&app, &idp, "Okta", "trusted", json!({})).await);
    let alice = scim_user(&app, "alice@example.com", "00u-alice").await;
    scim_user(&app, "mallory@example.com", "attacker").await;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let person = ("subject", "00u-alice");
    for (options, status, reason) in [
        // The NameID changed after signing.
        (
            vec![person, ("tamper", "nameid")],
            unauthorized,
            "signature_invalid",
        ),
        (
            vec![person, ("sign", "none")],
            unauthorized,
            "signature_invalid",
        ),
        (
            vec![person, ("key", "untrusted")],
            unauthorized,
            "signature_invalid",
        ),
        (
            vec![person, ("alg", "sha1")],
            unauthorized,
            "weak_algorithm",
        ),
        (vec![person, ("expired", "1")], unauthorized, "expired"),
        (
            vec![person, ("audience", "https://other.example/sp")],
            unauthorized,
            "wrong_audience",
        ),
        (
            vec![person, ("destination", "http://127.0.0.1:9/sso/saml/x/acs")],
            unauthorized,
            "wrong_destination",
        ),
        // XML signature wrapping: an unsigned assertion for someone else
        // beside, or around, the signed one.
        (
            vec![person, ("sign", "assertion"), ("tamper", "wrap")],
            unauthorized,
            "assertion_count",
        ),
        (
            vec![person, ("sign", "assertion"), ("tamper", "wrap_inside")],
            unauthorized,
            "assertion_count",
        ),
        // An answer to a request scimlink never sent.
        (
            vec![person, ("in_response_to", "_never-sent-by-scimlink")],
            StatusCode::BAD_REQUEST,
            "unknown_in_response_to",
        ),
    ] {
        assert_refused(&app, &idp, &cid, &options, status, reason).await;
    }
    assert!(identities(&app, &alice).await.is_empty());
    assert!(audit_events(&app, "auth.sign_in").await.is_empty());
    // The refusals name the connection and say exactly what failed.
    let refused = audit_events(&app, "auth.sign_in_failed").await;
    assert_eq!(refused.len(), 10);
    assert!(
        refused
            .iter()
            .all(|e| e["summary"]["connection_id"] == cid.as_str())
    );
    assert!(
        refused.iter().any(|e| e["summary"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("rsa-sha1")),
        "{refused:?}"
    );
    // After all that, an honest answer still works.
    assert_signed_in(&saml_sign_in(&Browser::new(), &app, &idp, &cid, &[person]).await);
}

#[tokio::test]
async fn a_response_signs_in_once_in_the_browser_that_asked() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let cid = id_of(
        &connect_saml(
            &app,
            &idp,
            "Okta",
            "trusted",
            json!({"allow_idp_initiated": true}),
        )
        .await,
    );
    scim_user(&app, "alice@example.com", "00u-alice").await;

    // SP-initiated, posted twice: the request is consumed by the first.
    let browser = Browser::new();
    let answer = saml_answer(&browser, &app, &idp, &cid, &[("subject", "00u-alice")]).await;
    assert_signed_in(&post_answer(&browser, &answer).await);
    let (status, _) = refusal(post_answer(&browser, &answer).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(last_failure(&app).await, "unknown_in_response_to");

    // Posted from another browser than the one that started it.
    let starter = Browser::new();
    let answer = saml_answer(&starter, &app, &idp, &cid, &[("subject", "00u-alice")]).await;
    let (status, page) = refusal(post_answer(&Browser::new(), &answer).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("another browser"), "{page}");
    assert_eq!(last_failure(&app).await, "wrong_browser");

    // IdP-initiated (no request to consume): the replay cache stops the
    // second post of one assertion.
    let unsolicited = idp
        .idp_initiated(json!({
            "sp_entity_id": app.url(&format!("/sso/saml/{cid}/metadata")),
            "subject": "00u-alice",
            "relay_state": "/after",
        }))
        .await;
    let browser = Browser::new();
    assert_signed_in(&post_answer(&browser, &unsolicited).await);
    let (status, _) = refusal(post_answer(&Browser::new(), &unsolicited).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(last_failure(&app).await, "replayed");

    // A signature whose reference points off the document: refused before
    // libxmlsec1 would fetch it.
    let fresh = idp
        .idp_initiated(json!({
            "sp_entity_id": app.url(&format!("/sso/saml/{cid}/metadata")),
            "subject": "00u-alice",
        }))
        .await;
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(
        engine
            .decode(fresh["SAMLResponse"].as_str().expect("SAMLResponse"))
            .expect("base64"),
    )
    .expect("UTF-8");
    let at = xml.find("URI=\"#").expect("a same-document reference");
    let end = at + xml[at + 6..].find('"').expect("its end") + 7;
    let pointed = format!(
        "{}URI=\"http://127.0.0.1:9/ssrf\"{}",
        &xml[..at],
        &xml[end..]
    );
    let mut forged = fresh.clone();
    forged["SAMLResponse"] = json!(engine.encode(pointed));
    let (status, _) = refusal(post_answer(&Browser::new(), &forged).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(last_failure(&app).await, "response_malformed");
    let refused = audit_events(&app, "auth.sign_in_failed").await;
    assert!(
        refused[0]["summary"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("only elements of the response, by ID"),
        "{}",
        refused[0]
    );
}

#[tokio::test]
async fn idp_initiated_sign_in_is_off_unless_the_connection_allows_it() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "Okta", "trusted", json!({})).await;
    let cid = id_of(&connection);
    scim_user(&app, "alice@example.com", "00u-alice").await;
    let sp = app.url(&format!("/sso/saml/{cid}/metadata"));
    let unsolicited = || async {
        idp.idp_initiated(
            json!({"sp_entity_id": sp, "subject": "00u-alice", "relay_state": "/after"}),
        )
        .await
    };
    let (status, page) = refusal(post_answer(&Browser::new(), &unsolicited().await).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_eq!(last_failure(&app).await, "idp_initiated_refused");

    let (status, body) = patch_connection(&app, &cid, &json!({"allow_idp_initiated": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["allow_idp_initiated"], true);
    assert_signed_in(&post_answer(&Browser::new(), &unsolicited().await).await);

    // Allowing IdP-initiated sign-in does not loosen SP-initiated answers:
    // one naming a request scimlink never sent is still refused.
    let forged = idp
        .idp_initiated(
            json!({"sp_entity_id": sp, "subject": "00u-alice", "in_response_to": "_forged"}),
        )
        .await;
    let (status, _) = refusal(post_answer(&Browser::new(), &forged).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(last_failure(&app).await, "unknown_in_response_to");
    // A RelayState that leaves this server lands on / instead.
    let away = idp
        .idp_initiated(json!({"sp_entity_id": sp, "subject": "00u-alice", "relay_state": "https://evil.example/"}))
        .await;
    let landed = post_answer(&Browser::new(), &away).await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        landed
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/")
    );
    // scimlink's clock decides whether an assertion is still good, not the
    // system clock samael reads: seven minutes on, one valid for five (plus
    // a minute of skew) is refused.
    let later = idp
        .idp_initiated(json!({"sp_entity_id": sp, "subject": "00u-alice"}))
        .await;
    app.clock.advance(chrono::TimeDelta::minutes(7));
    let (status, _) = refusal(post_answer(&Browser::new(), &later).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(last_failure(&app).await, "expired");
}

#[tokio::test]
async fn any_signature_placement_and_a_rotated_certificate_are_accepted() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    // The IdP publishes its current and its next certificate.
    let connection = connect_saml(&app, &idp, "Okta", "trusted,second", json!({})).await;
    let cid = id_of(&connection);
    assert_eq!(
        connection["idp_certificates"].as_array().map(Vec::len),
        Some(2)
    );
    scim_user(&app, "alice@example.com", "00u-alice").await;
    for options in [
        vec![("sign", "both")],
        vec![("sign", "assertion")],
        vec![("sign", "response")],
        vec![("key", "second")],
    ] {
        let mut options = options;
        options.push(("subject", "00u-alice"));
        let browser = Browser::new();
        let answer = saml_sign_in(&browser, &app, &idp, &cid, &options).await;
        assert_eq!(
            answer.status(),
            StatusCode::SEE_OTHER,
            "{options:?}: {:?}",
            failures(&app).await
        );
        assert_signed_in(&answer);
    }
    // The rotation is done: the old certificate is dropped.
    let (status, body) = patch_connection(
        &app,
        &cid,
        &json!({"idp_metadata_xml": idp.metadata("second").await}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = audit_events(&app, "connection.updated").await;
    assert_ne!(
        updated[0]["summary"]["before"]["idp_certificates"],
        updated[0]["summary"]["after"]["idp_certificates"]
    );
    assert_refused(
        &app,
        &idp,
        &cid,
        &[("subject", "00u-alice"), ("key", "trusted")],
        StatusCode::UNAUTHORIZED,
        "signature_invalid",
    )
    .await;
}

#[tokio::test]
async fn jit_password_mode_and_deactivated_accounts_through_saml() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let cid = id_of(
        &connect_saml(
            &app,
            &idp,
            "Okta",
            "trusted",
            json!({"match_on": "email", "email_domains": ["example.com"]}),
        )
        .await,
    );
    // JIT inherits the organisation's setting (off): nobody is made.
    let person = [
        ("subject", "00u-new"),
        ("email", "new@example.com"),
        ("given_name", "Nina"),
        ("family_name", "New"),
    ];
    assert_refused(
        &app,
        &idp,
        &cid,
        &person,
        StatusCode::FORBIDDEN,
        "no_account",
    )
    .await;
    let (status, body) = patch_connection(&app, &cid, &json!({"jit": "on"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let browser = Browser::new();
    assert_signed_in(&saml_sign_in(&browser, &app, &idp, &cid, &person).await);
    let (_, me) = browser.me(&app).await;
    assert_eq!(me["userName"], "new@example.com", "{me}");
    assert_eq!(me["name"]["givenName"], "Nina", "{me}");
    assert_eq!(audit_events(&app, "account.jit_provisioned").await.len(), 1);

    // An email-format NameID is the email when no attribute names one.
    scim_user(&app, "bob@example.com", "00u-bob").await;
    let email_name_id = [
        ("subject", "bob@example.com"),
        (
            "name_id_format",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        ),
    ];
    assert_signed_in(&saml_sign_in(&Browser::new(), &app, &idp, &cid, &email_name_id).await);

    // An email outside the connection's domains.
    assert_refused(
        &app,
        &idp,
        &cid,
        &[("subject", "00u-m"), ("email", "m@elsewhere.org")],
        StatusCode::FORBIDDEN,
        "email_domain",
    )
    .await;

    // A password-mode (break-glass) account.
    let (status, admin) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "root@example.com", "email": "root@example.com", "break_glass": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    let browser = Browser::new();
    let (status, page) = refusal(
        saml_sign_in(
            &browser,
            &app,
            &idp,
            &cid,
            &[("subject", "00u-root"), ("email", "root@example.com")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("signs in with a password"), "{page}");

    // A deactivated account.
    let gone = scim_user(&app, "gone@example.com", "00u-gone").await;
    let response = app
        .patch(
            &format!("/scim/v2/Users/{gone}"),
            &crate::helpers::patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert!(response.status().is_success());
    assert_refused(
        &app,
        &idp,
        &cid,
        &[("subject", "00u-gone"), ("email", "gone@example.com")],
        StatusCode::FORBIDDEN,
        "deactivated",
    )
    .await;
}

#[tokio::test]
async fn samlify_signs_people_in_sp_and_idp_initiated() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Samlify).await;
    let cid = id_of(
        &connect_saml(
            &app,
            &idp,
            "Okta sandbox",
            "trusted",
            json!({"allow_idp_initiated": true}),
        )
        .await,
    );
    let alice = scim_user(&app, "alice@example.com", "00u-alice").await;
    for sign in ["both", "assertion", "response"] {
        let browser = Browser::new();
        let answer = saml_sign_in(
            &browser,
            &app,
            &idp,
            &cid,
            &[("subject", "00u-alice"), ("sign", sign)],
        )
        .await;
        assert_eq!(
            answer.status(),
            StatusCode::SEE_OTHER,
            "{sign}: {:?}",
            failures(&app).await
        );
        assert_eq!(browser.me(&app).await.1["id"], alice);
    }
    let unsolicited = idp
        .idp_initiated(json!({
            "sp_entity_id": app.url(&format!("/sso/saml/{cid}/metadata")),
            "subject": "00u-alice",
            "relay_state": "/after",
        }))
        .await;
    assert_signed_in(&post_answer(&Browser::new(), &unsolicited).await);
    for (options, status, reason) in [
        (
            vec![("tamper", "nameid")],
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
        ),
        (
            vec![("alg", "sha1")],
            StatusCode::UNAUTHORIZED,
            "weak_algorithm",
        ),
        (
            vec![("key", "untrusted")],
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
        ),
        (vec![("expired", "1")], StatusCode::UNAUTHORIZED, "expired"),
        (
            vec![("audience", "urn:other")],
            StatusCode::UNAUTHORIZED,
            "wrong_audience",
        ),
        (
            vec![("sign", "none")],
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
        ),
    ] {
        let mut options = options;
        options.push(("subject", "00u-alice"));
        assert_refused(&app, &idp, &cid, &options, status, reason).await;
    }
}

/// The metadata without its KeyDescriptor elements (an IdP that publishes
/// no signing certificate).
fn without_keys(metadata: &str) -> String {
    let mut out = metadata.to_string();
    while let Some(start) = out.find("KeyDescriptor").and_then(|i| out[..i].rfind('<')) {
        let open_end = start + out[start..].find('>').expect("an opening tag");
        let close = out[open_end..]
            .find("KeyDescriptor>")
            .map(|i| open_end + i + "KeyDescriptor>".len())
            .expect("a closed KeyDescriptor");
        out.replace_range(start..close, "");
    }
    out
}

#[tokio::test]
async fn saml_connections_in_the_admin_api_and_on_the_sign_in_page() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let keyless = without_keys(&idp.metadata("trusted").await);
    assert!(!keyless.contains("X509Certificate"), "{keyless}");
    // Without a signing certificate it cannot be enabled, now or later.
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/connections",
            Some(&json!({"type": "saml", "display_name": "Okta", "idp_metadata_xml": keyless, "enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("signing certificate"),
        "{body}"
    );
    let (status, created) = app
        .admin(
            Method::POST,
            "/api/v1/connections",
            Some(&json!({"type": "saml", "display_name": "Okta", "idp_metadata_xml": keyless})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let cid = id_of(&created);
    let (status, body) = patch_connection(&app, &cid, &json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Its SP metadata is served before it is enabled; its ACS is not live.
    let metadata = Browser::new()
        .get(created["metadata_url"].as_str().expect("metadata_url"))
        .await;
    assert_eq!(metadata.status(), StatusCode::OK);
    assert_eq!(
        metadata
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/samlmetadata+xml")
    );
    let xml = metadata.text().await.unwrap_or_default();
    assert!(
        xml.contains(created["acs_url"].as_str().unwrap_or("?")),
        "{xml}"
    );
    let acs = Browser::new()
        .client
        .post(created["acs_url"].as_str().expect("acs_url"))
        .form(&[("SAMLResponse", "PHg+")])
        .send()
        .await
        .expect("POST");
    assert_eq!(acs.status(), StatusCode::NOT_FOUND);

    for bad in [
        json!({"client_id": "x"}),
        json!({"issuer": "https://idp.example"}),
        json!({"idp_metadata_xml": "<not metadata"}),
        json!({"idp_metadata_xml": "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>"}),
        json!({"type": "oidc"}),
    ] {
        let (status, body) = patch_connection(&app, &cid, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/connections",
            Some(&json!({"type": "oidc", "display_name": "x", "idp_metadata_xml": "<x/>"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A working connection appears on the organisation's sign-in page.
    let production = connect_saml(&app, &idp, "Okta production", "trusted", json!({})).await;
    let (_, org) = app.admin(Method::GET, "/api/v1/org", None).await;
    let page = Browser::new()
        .get(&app.url(&format!(
            "/login/{}",
            org["slug"].as_str().unwrap_or_default()
        )))
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("Sign in with Okta production"), "{page}");
    assert!(
        page.contains(&format!("/sso/{}/start", id_of(&production))),
        "{page}"
    );
    assert!(!page.contains(&format!("/sso/{cid}/start")), "{page}");
    // Malformed posts to a live ACS are refused pages, never errors.
    let live_acs = production["acs_url"].as_str().expect("acs_url");
    for body in [
        "SAMLResponse=%%%",
        "SAMLResponse=PHg%2B",
        "RelayState=/x",
        "",
    ] {
        let response = Browser::new()
            .client
            .post(live_acs)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{body}");
    }
    let json_post = Browser::new()
        .client
        .post(live_acs)
        .json(&json!({"SAMLResponse": "x"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(json_post.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_test_sign_in_shows_the_saml_assertion_and_signs_nobody_in() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Samlify).await;
    let cid = id_of(&connect_saml(&app, &idp, "Okta", "trusted", json!({})).await);
    let alice = scim_user(&app, "alice@example.com", "00u-alice").await;
    let browser = Browser::new();
    crate::dashboard::sign_in_staff(&app, "ada", "admin", &browser.client).await;
    let to_idp = crate::dashboard::start_test_sign_in(&app, &browser.client, &cid).await;
    let mut to_idp = url::Url::parse(&to_idp).expect("a URL");
    assert!(to_idp.as_str().starts_with(&idp.base_url), "{to_idp}");
    to_idp
        .query_pairs_mut()
        .extend_pairs([("subject", "00u-alice"), ("email", "alice@example.com")]);
    let answer: Value = browser
        .get(to_idp.as_str())
        .await
        .json()
        .await
        .expect("the IdP's answer");
    let report = post_answer(&browser, &answer).await;
    assert_eq!(report.status(), StatusCode::OK);
    let report = report.text().await.unwrap_or_default();
    assert!(
        report.contains("Links this identity to alice@example.com"),
        "{report}"
    );
    assert!(report.contains("00u-alice"), "{report}");
    assert!(identities(&app, &alice).await.is_empty());
    let tested = audit_events(&app, "connection.tested").await;
    assert_eq!(tested.len(), 1);
    assert_eq!(tested[0]["summary"]["outcome"], "link_and_sign_in");
    // The same answer cannot be used again, for a test or a sign-in.
    let (status, _) = refusal(post_answer(&browser, &answer).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

/// How many accounts the organisation has.
async fn account_count(app: &TestApp) -> usize {
    let (_, accounts) = app.admin(Method::GET, "/api/v1/accounts", None).await;
    accounts["accounts"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_transient_name_id_is_never_linked_nor_provisioned() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    // The default rule compares the NameID, and JIT is on.
    let cid = id_of(&connect_saml(&app, &idp, "Shibboleth", "trusted", json!({"jit": "on"})).await);
    // An External user ID that happens to equal a one-time value.
    let alice = scim_user(&app, "alice@example.com", "_t-alice").await;
    let transient = |value: &'static str, email: &'static str| {
        [
            ("subject", value),
            ("name_id_format", TRANSIENT),
            ("email", email),
        ]
    };
    let browser = Browser::new();
    let (status, page) = refusal(
        saml_sign_in(
            &browser,
            &app,
            &idp,
            &cid,
            &transient("_t-alice", "alice@example.com"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(
        page.contains("transient NameID") && page.contains("persistent NameID"),
        "{page}"
    );
    assert_eq!(last_failure(&app).await, "transient_name_id");
    assert_eq!(browser.me(&app).await.0, StatusCode::UNAUTHORIZED);
    // Nor does it make an account, JIT or not.
    assert_refused(
        &app,
        &idp,
        &cid,
        &transient("_t-new", "new@example.com"),
        StatusCode::FORBIDDEN,
        "transient_name_id",
    )
    .await;
    // A lasting NameID without an email makes no account either (JIT needs one).
    assert_refused(
        &app,
        &idp,
        &cid,
        &[("subject", "00u-no-email")],
        StatusCode::FORBIDDEN,
        "jit_without_email",
    )
    .await;
    assert!(identities(&app, &alice).await.is_empty());
    assert_eq!(account_count(&app).await, 1);

    // Matching on email: the email attribute finds the account at every
    // sign-in, each with another NameID, and nothing is linked.
    let (status, body) = patch_connection(&app, &cid, &json!({"match_on": "email"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for value in ["_t-1", "_t-2"] {
        let browser = Browser::new();
        let answer = saml_sign_in(
            &browser,
            &app,
            &idp,
            &cid,
            &transient(value, "alice@example.com"),
        )
        .await;
        assert_eq!(
            answer.status(),
            StatusCode::SEE_OTHER,
            "{value}: {:?}",
            failures(&app).await
        );
        assert_eq!(browser.me(&app).await.1["id"], alice, "{value}");
    }
    assert!(identities(&app, &alice).await.is_empty());
    assert!(audit_events(&app, "identity.linked").await.is_empty());
    // Someone unknown is still refused rather than provisioned.
    assert_refused(
        &app,
        &idp,
        &cid,
        &transient("_t-3", "stranger@example.com"),
        StatusCode::FORBIDDEN,
        "transient_name_id",
    )
    .await;
    assert_eq!(account_count(&app).await, 1);
    assert!(
        audit_events(&app, "account.jit_provisioned")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_standard_attribute_names_are_read() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let cid = id_of(
        &connect_saml(
            &app,
            &idp,
            "Shibboleth",
            "trusted",
            json!({"match_on": "email", "jit": "on"}),
        )
        .await,
    );
    use base64::Engine;
    for (naming, who, mail_name, display_name) in [
        (
            "mace",
            "maria",
            "urn:mace:dir:attribute-def:mail",
            "urn:mace:dir:attribute-def:displayName",
        ),
        (
            "oid",
            "oscar",
            "urn:oid:0.9.2342.19200300.100.1.3",
            "urn:oid:2.16.840.1.113730.3.1.241",
        ),
    ] {
        let email = format!("{who}@example.com");
        let (given, family, display) = (format!("{who} G"), format!("{who} F"), format!("{who} D"));
        let browser = Browser::new();
        let subject = format!("00u-{who}");
        let answer = saml_answer(
            &browser,
            &app,
            &idp,
            &cid,
            &[
                ("subject", subject.as_str()),
                ("attribute_names", naming),
                ("email", email.as_str()),
                ("given_name", given.as_str()),
                ("family_name", family.as_str()),
                ("display_name", display.as_str()),
            ],
        )
        .await;
        // pysaml2's own attribute maps named them.
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(answer["SAMLResponse"].as_str().expect("SAMLResponse"))
                .expect("base64"),
        )
        .expect("UTF-8");
        assert!(
            xml.contains(&format!("Name=\"{mail_name}\""))
                && xml.contains(&format!("Name=\"{display_name}\"")),
            "{xml}"
        );
        let signed_in = post_answer(&browser, &answer).await;
        assert_eq!(
            signed_in.status(),
            StatusCode::SEE_OTHER,
            "{naming}: {:?}",
            failures(&app).await
        );
        let (_, me) = browser.me(&app).await;
        assert_eq!(me["userName"], email.as_str(), "{me}");
        assert_eq!(me["emails"][0]["value"], email.as_str(), "{me}");
        assert_eq!(me["name"]["givenName"], given.as_str(), "{me}");
        assert_eq!(me["name"]["familyName"], family.as_str(), "{me}");
        assert_eq!(me["displayName"], display.as_str(), "{me}");
    }
    assert_eq!(audit_events(&app, "account.jit_provisioned").await.len(), 2);
}
