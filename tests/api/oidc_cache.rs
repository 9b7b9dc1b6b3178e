//! The OpenID provider's discovery document and keys are read once and
//! reused, as long as its `Cache-Control` allows, by every sign-in; a new
//! signing key is picked up by one refetch, which no answer can repeat at
//! will. The real provider counts what it serves.

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::oidc_idp::{Browser, OidcIdp, Tamper, assert_signed_in, connect, refusal};
use crate::sso_oidc::{failures, scim_user};

/// `n` sign-ins started at once; each is sent to the provider.
async fn start_many(app: &TestApp, connection_id: &str, n: usize) {
    let starts = (0..n).map(|_| async {
        Browser::new()
            .get(&app.url(&format!("/sso/{connection_id}/start")))
            .await
            .status()
    });
    for status in futures_util::future::join_all(starts).await {
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn a_flood_of_sign_in_starts_reads_the_discovery_document_once() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    // Enabling the connection read the document (and keeps it).
    let (enabled, _) = idp.requests().await;
    assert_eq!(enabled, 1);
    start_many(&app, cid, 25).await;
    assert_eq!(idp.requests().await.0, 1, "the starts reuse the document");

    // Two sign-ins read the keys once.
    scim_user(&app, "alice@example.com", "00u-alice").await;
    idp.account(json!({"sub": "00u-alice", "email": "alice@example.com", "email_verified": true}))
        .await;
    for _ in 0..2 {
        assert_signed_in(
            &Browser::new()
                .sign_in(&app, &idp, cid, "00u-alice", &Tamper::default())
                .await,
        );
    }
    assert_eq!(idp.requests().await, (1, 1));

    // The provider says nothing: five minutes, then one read for all the
    // starts that find it stale at once.
    app.clock.advance(TimeDelta::minutes(6));
    start_many(&app, cid, 25).await;
    assert_eq!(idp.requests().await.0, 2);

    // no-store: read every time.
    idp.cache_control(json!({"discovery": "no-store"})).await;
    app.clock.advance(TimeDelta::minutes(6));
    for _ in 0..3 {
        start_many(&app, cid, 1).await;
    }
    assert_eq!(idp.requests().await.0, 5);

    // max-age: an hour, longer than the default.
    idp.cache_control(json!({"discovery": "public, max-age=3600"}))
        .await;
    start_many(&app, cid, 5).await;
    assert_eq!(idp.requests().await.0, 6);
    app.clock.advance(TimeDelta::minutes(50));
    start_many(&app, cid, 5).await;
    assert_eq!(idp.requests().await.0, 6, "still within max-age");
    app.clock.advance(TimeDelta::minutes(11));
    start_many(&app, cid, 5).await;
    assert_eq!(idp.requests().await.0, 7);
}

#[tokio::test]
async fn a_new_signing_key_is_read_once_and_not_on_every_unknown_kid() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    scim_user(&app, "bob@example.com", "00u-bob").await;
    idp.account(json!({"sub": "00u-bob", "email": "bob@example.com", "email_verified": true}))
        .await;
    let sign_in = || async {
        Browser::new()
            .sign_in(&app, &idp, cid, "00u-bob", &Tamper::default())
            .await
    };
    assert_signed_in(&sign_in().await);
    assert_eq!(idp.requests().await.1, 1);

    // The provider rotates its key: the cached keys lack the new kid, so
    // they are read once more, and then reused.
    idp.rotate_keys().await;
    assert_signed_in(&sign_in().await);
    assert_signed_in(&sign_in().await);
    assert_eq!(idp.requests().await.1, 2);

    // Another unknown kid right after: no second refetch (an answer cannot
    // make scimlink fetch at will); the token is refused.
    idp.rotate_keys().await;
    let (status, _) = refusal(sign_in().await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(failures(&app).await, vec!["id_token_invalid"]);
    assert_eq!(idp.requests().await.1, 2);
    // Half a minute on, a refetch is allowed again.
    app.clock.advance(TimeDelta::seconds(31));
    assert_signed_in(&sign_in().await);
    assert_eq!(idp.requests().await.1, 3);
}
