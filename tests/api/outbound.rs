//! Outgoing requests refuse internal addresses (server-side request
//! forgery): an issuer written as an internal address, or a name that
//! resolves to one, is refused with a 400 that says why, before anything is
//! sent; a sign-in through such a provider gets the "cannot be reached" page.
//! Loopback providers keep working, and `SCIMLINK_OUTBOUND_ALLOW_PRIVATE`
//! allows the private ranges but never link-local (cloud metadata).
//!
//! Nothing here connects to a non-loopback address: names resolve through
//! the settings' fixed answers, and every refusal comes before a connection.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use scimlink::service::outbound::fixed_answers;
use scimlink::settings::Settings;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::oidc_idp::{Browser, OidcIdp, connect, patch_connection, refusal};

/// A provider name that resolves (through the settings, not DNS) to a
/// private address.
const INTERNAL_NAME: &str = "idp.internal.test";

/// Far less than any connection attempt to an unreachable address takes (the
/// connect timeout is 5 s): the refusal came before connecting.
const IMMEDIATE: Duration = Duration::from_secs(2);

fn internal_name(settings: &mut Settings) {
    settings.outbound.resolve = fixed_answers(&[(INTERNAL_NAME, "10.0.0.1".parse().unwrap())]);
}

/// Creates an OIDC connection; the answer and how long it took.
async fn create(app: &TestApp, issuer: &str, enabled: bool) -> (StatusCode, Value, Duration) {
    let body = json!({"type": "oidc", "display_name": "Internal", "issuer": issuer,
                      "client_id": "c1", "enabled": enabled});
    let started = Instant::now();
    let (status, body) = app
        .admin(Method::POST, "/api/v1/connections", Some(&body))
        .await;
    (status, body, started.elapsed())
}

async fn connection_count(app: &TestApp) -> usize {
    let (_, listed) = app.admin(Method::GET, "/api/v1/connections", None).await;
    listed["connections"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_issuer_at_an_internal_address_is_refused_before_anything_is_sent() {
    let app = spawn_app().await;
    let cases = [
        ("https://10.0.0.1/", "10.0.0.1 (private, 10.0.0.0/8)"),
        (
            "http://169.254.169.254/",
            "169.254.169.254 (link-local, 169.254.0.0/16, cloud metadata)",
        ),
        ("https://169.254.169.254/", "169.254.169.254 (link-local"),
        // The same address in other spellings.
        ("https://2852039166/", "169.254.169.254 (link-local"),
        (
            "https://[::ffff:a9fe:a9fe]/",
            "::ffff:169.254.169.254 (link-local",
        ),
        ("https://[fd00:ec2::254]/", "fd00:ec2::254 (unique local"),
        ("https://0.0.0.0/", "0.0.0.0 (unspecified"),
        ("https://192.168.1.1:8443/", "192.168.1.1 (private"),
    ];
    for (issuer, why) in cases {
        for enabled in [false, true] {
            let (status, body, took) = create(&app, issuer, enabled).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{issuer}: {body}");
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(why), "{issuer}: {detail}");
            assert!(
                detail.contains("scimlink does not connect to such an address"),
                "{detail}"
            );
            assert!(took < IMMEDIATE, "{issuer} took {took:?}");
        }
    }
    assert_eq!(connection_count(&app).await, 0);
    // Changing a connection's issuer to one is refused the same way.
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let id = connection["id"].as_str().unwrap();
    let (status, body) =
        patch_connection(&app, id, &json!({"issuer": "https://172.16.0.1/"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("172.16.0.1 (private, 172.16.0.0/12)"),
        "{body}"
    );
}

#[tokio::test]
async fn an_issuer_whose_name_resolves_to_an_internal_address_is_refused() {
    let app = spawn_app_with(internal_name).await;
    let issuer = format!("https://{INTERNAL_NAME}");
    // Enabling reads the discovery document: the resolved address is
    // refused before a connection is tried.
    let (status, body, took) = create(&app, &issuer, true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("an enabled OIDC connection must reach its provider"),
        "{detail}"
    );
    assert!(
        detail.contains(
            "idp.internal.test resolves to 10.0.0.1 (private, 10.0.0.0/8): scimlink does not connect to such an address unless SCIMLINK_OUTBOUND_ALLOW_PRIVATE"
        ),
        "{detail}"
    );
    assert!(took < IMMEDIATE, "took {took:?}");
    assert_eq!(connection_count(&app).await, 0);
    // A name is resolved when used, not when saved: a disabled connection
    // is kept, and enabling it is refused the same way.
    let (status, created, _) = create(&app, &issuer, false).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, body) = patch_connection(&app, id, &json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("resolves to 10.0.0.1"), "{body}");
}

#[tokio::test]
async fn a_sign_in_through_a_provider_that_now_resolves_inside_is_refused() {
    let app = spawn_app_with(internal_name).await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let id = connection["id"].as_str().unwrap();
    // The provider's name later resolves to an internal address (a DNS
    // rebinding, or a record changed): here the stored issuer is moved to
    // such a name behind the admin API's back.
    let txn = app.db.begin().await.unwrap();
    txn.execute_unprepared(&format!(
        "UPDATE sso_connections SET issuer = 'https://{INTERNAL_NAME}' WHERE id = '{id}'"
    ))
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let started = Instant::now();
    let response = Browser::new()
        .get(&app.url(&format!("/sso/{id}/start")))
        .await;
    let (status, page) = refusal(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("cannot be reached"), "{page}");
    assert!(started.elapsed() < IMMEDIATE);
}

#[tokio::test]
async fn the_allow_setting_admits_private_ranges_but_not_cloud_metadata() {
    let app = spawn_app_with(|settings| {
        internal_name(settings);
        settings.outbound.allow_private = true;
    })
    .await;
    // Saved (disabled, so nothing is fetched: this test sends nothing to a
    // private address).
    for issuer in ["https://10.0.0.1/", "https://[fd12::1]/"] {
        let (status, body, _) = create(&app, issuer, false).await;
        assert_eq!(status, StatusCode::CREATED, "{issuer}: {body}");
    }
    for issuer in [
        "http://169.254.169.254/",
        "https://[fe80::1]/",
        "https://[::]/",
    ] {
        let (status, body, _) = create(&app, issuer, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{issuer}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            !detail.contains("SCIMLINK_OUTBOUND_ALLOW_PRIVATE"),
            "{detail}"
        );
    }
    // A provider on loopback works as before: enabled (discovery read), and
    // a sign-in starts at it.
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    assert_eq!(connection["enabled"], true, "{connection}");
    let id = connection["id"].as_str().unwrap();
    let response = Browser::new()
        .get(&app.url(&format!("/sso/{id}/start")))
        .await;
    let to = response.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with(&idp.issuer), "{to}");
}
