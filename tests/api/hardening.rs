//! What an independent attack found, closed: support cannot reach a staff
//! account's secrets, SCIM cannot take over or remove the accounts it does
//! not manage, the organisation keeps an admin, the password throttle holds
//! under concurrency and cannot lock a known browser out, and what
//! unauthenticated requests can make the server store is bounded. Over real
//! HTTP and a real database; each test fails without its fix.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, patch_op, spawn_app};
use crate::oidc_idp::{Browser, location};
use crate::saml_idp::{SamlIdp, SamlIdpKind, connect_saml, saml_sign_in};
use crate::sso_oidc::scim_user;

const PASSWORD: &str = "correct horse battery staple";

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db
        .write
        .query_one_raw(Statement::from_string(app.db.backend(), sql.to_string()))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

/// An account made through the admin API, with an organisation role.
async fn staff_account(app: &TestApp, user_name: &str, role: &str) -> String {
    let id = app.new_account(user_name).await;
    let (status, body) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{id}/org-role"),
            Some(&json!({"role": role})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

async fn reset_url(app: &TestApp, id: &str) -> String {
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{id}/password-reset"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["reset_url"].as_str().unwrap().to_string()
}

async fn set_password(app: &TestApp, url: &str) {
    let token = url.split("token=").nth(1).unwrap();
    let (status, body) = app
        .api(
            "",
            Method::POST,
            "/auth/password/reset",
            Some(&json!({"token": token, "new_password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A password sign-in with these cookies: the status, and the cookies it set.
async fn login_with(
    app: &TestApp,
    user_name: &str,
    password: &str,
    cookies: &str,
) -> (StatusCode, Vec<(String, String)>) {
    let mut request = app
        .client
        .post(app.url("/auth/password/login"))
        .json(&json!({"org": "acme", "user_name": user_name, "password": password}));
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    let response = request.send().await.unwrap();
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let pair = v.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    (response.status(), set)
}

fn cookie<'a>(set: &'a [(String, String)], name: &str) -> &'a str {
    set.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} cookie in {set:?}"))
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/api/v1/audit-events?action={action}&limit=500"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn support_cannot_read_a_staff_accounts_reset_link_from_the_outbox() {
    let app = spawn_app().await;
    let admin = staff_account(&app, "owner", "admin").await;
    let link = reset_url(&app, &admin).await;
    let token = link.split("token=").nth(1).unwrap().to_string();
    let plain = app.new_account("plain").await;
    let plain_link = reset_url(&app, &plain).await;

    let (status, body) = app
        .api(
            &app.support_token,
            Method::GET,
            &format!("/api/v1/outbox?account_id={admin}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(&token),
        "support saw an admin's link: {text}"
    );
    assert!(body["messages"][0]["reset_url"].is_null(), "{body}");
    // The whole outbox neither, but an ordinary account's link is still there.
    let (_, all) = app
        .api(&app.support_token, Method::GET, "/api/v1/outbox", None)
        .await;
    assert!(!all.to_string().contains(&token), "{all}");
    assert!(all.to_string().contains(&plain_link), "{all}");
    // An admin sees the admin's link.
    let (_, body) = app
        .admin(
            Method::GET,
            &format!("/api/v1/outbox?account_id={admin}"),
            None,
        )
        .await;
    assert_eq!(body["messages"][0]["reset_url"], link.as_str(), "{body}");
}

#[tokio::test]
async fn scim_cannot_set_a_password_on_deactivate_or_delete_an_account_it_does_not_manage() {
    let app = spawn_app().await;
    let owner = staff_account(&app, "owner", "admin").await;
    let path = format!("/scim/v2/Users/{owner}");
    for op in [
        json!({"op": "replace", "path": "password", "value": "an IdP set this password 1"}),
        json!({"op": "replace", "value": {"active": false}}),
        json!({"op": "replace", "path": "displayName", "value": "Owned by the IdP"}),
    ] {
        let response = app.patch(&path, &patch_op(json!([op.clone()]))).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{op}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "403", "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("not provisioned by SCIM"),
            "{body}"
        );
    }
    assert_eq!(app.delete(&path).await.status(), StatusCode::FORBIDDEN);
    let mut put = app.get(&path).await.json::<Value>().await.unwrap();
    put["password"] = json!("an IdP set this password 2");
    assert_eq!(app.put(&path, &put).await.status(), StatusCode::FORBIDDEN);
    // Nothing changed, and every attempt is in the audit log.
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM accounts WHERE id = '{owner}' AND active = true \
                 AND password_hash IS NULL AND display_name IS NULL"
            )
        )
        .await,
        1
    );
    assert_eq!(audit(&app, "scim.write_refused").await.len(), 5);
}

#[tokio::test]
async fn scim_never_takes_the_break_glass_or_staff_accounts_even_when_it_may_adopt() {
    let app = spawn_app().await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/org",
            Some(&json!({"scim_adopt_existing": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let owner = staff_account(&app, "owner", "admin").await;
    let path = format!("/scim/v2/Users/{owner}");
    let password =
        json!({"op": "replace", "path": "password", "value": "an IdP set this password 1"});
    let response = app.patch(&path, &patch_op(json!([password]))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("organisation role admin"),
        "{body}"
    );
    let deactivate = json!({"op": "replace", "value": {"active": false}});
    assert_eq!(
        app.patch(&path, &patch_op(json!([deactivate])))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.delete(&path).await.status(), StatusCode::FORBIDDEN);
    // A POST that would adopt it with a password is refused too.
    let response = app
        .post(
            "/scim/v2/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "owner", "password": "an IdP set this password 3"
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Other attributes of it follow the IdP, which now owns it.
    let rename = json!({"op": "replace", "path": "displayName", "value": "The Owner"});
    let response = app.patch(&path, &patch_op(json!([rename]))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(audit(&app, "account.adopted").await.len(), 1);
    // A break-glass account without a role likewise.
    let (status, glass) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "glass", "email": "glass@example.com", "break_glass": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{glass}");
    let glass = glass["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{glass}"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // An ordinary admin-made account may be adopted and deactivated.
    let plain = app.new_account("plain").await;
    let deactivate = json!({"op": "replace", "value": {"active": false}});
    let response = app
        .patch(
            &format!("/scim/v2/Users/{plain}"),
            &patch_op(json!([deactivate])),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_deleted() {
    let app = spawn_app().await;
    let first = staff_account(&app, "first", "admin").await;
    let demote = |id: String| {
        let app = &app;
        async move {
            app.admin(
                Method::PUT,
                &format!("/api/v1/accounts/{id}/org-role"),
                Some(&json!({"role": "support"})),
            )
            .await
        }
    };
    let (status, body) = demote(first.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("last active admin")
    );
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/accounts/{first}"),
            Some(&json!({"active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/accounts/{first}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // With a second admin, one of them may go; then the other is the last.
    let second = staff_account(&app, "second", "admin").await;
    let (a, b) = tokio::join!(demote(first.clone()), demote(second.clone()));
    let statuses = [a.0, b.0];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "racing demotions: {statuses:?}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM accounts WHERE org_role = 'admin' AND active = true"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn concurrent_guesses_check_no_more_passwords_than_the_limit() {
    let app = spawn_app().await;
    let id = app.new_account("ada").await;
    set_password(&app, &reset_url(&app, &id).await).await;
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move {
            // The right password is among them.
            let password = if i == 39 {
                PASSWORD
            } else {
                "wrong password!!"
            };
            login_with(app, "ada", password, "").await.0
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked; the limit is 5: {statuses:?}"
    );
    // The limit holds afterwards for the right password too.
    assert_eq!(
        login_with(&app, "ada", PASSWORD, "").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_browser_that_signed_in_before_is_not_locked_out_by_strangers() {
    let app = spawn_app().await;
    let id = app.new_account("ada").await;
    set_password(&app, &reset_url(&app, &id).await).await;
    let (status, set) = login_with(&app, "ada", PASSWORD, "").await;
    assert_eq!(status, StatusCode::OK);
    let device = cookie(&set, "scimlink_device").to_string();
    // Strangers lock the account.
    for _ in 0..5 {
        assert_eq!(
            login_with(&app, "ada", "wrong password!!", "").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_with(&app, "ada", PASSWORD, "").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Its owner's browser still signs in.
    let (status, _) = login_with(&app, "ada", PASSWORD, &format!("scimlink_device={device}")).await;
    assert_eq!(status, StatusCode::OK);
    // A made-up device cookie is no way around the lock.
    let (status, _) = login_with(
        &app,
        "ada",
        PASSWORD,
        "scimlink_device=dev_made_up_by_a_stranger",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The known browser has a limit of its own.
    for _ in 0..5 {
        login_with(
            &app,
            "ada",
            "wrong password!!",
            &format!("scimlink_device={device}"),
        )
        .await;
    }
    assert_eq!(
        login_with(&app, "ada", PASSWORD, &format!("scimlink_device={device}"))
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_new_sign_in_ends_the_browsers_previous_session() {
    let app = spawn_app().await;
    for name in ["ada", "bob"] {
        let id = app.new_account(name).await;
        set_password(&app, &reset_url(&app, &id).await).await;
    }
    let (_, first) = login_with(&app, "ada", PASSWORD, "").await;
    let old = cookie(&first, "scimlink_session").to_string();
    let (status, second) =
        login_with(&app, "bob", PASSWORD, &format!("scimlink_session={old}")).await;
    assert_eq!(status, StatusCode::OK);
    let new = cookie(&second, "scimlink_session").to_string();
    let me = |value: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/auth/session"))
                .header("cookie", format!("scimlink_session={value}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(new).await, StatusCode::OK);
    let signed_in = audit(&app, "auth.sign_in").await;
    assert!(
        signed_in
            .iter()
            .any(|e| e["summary"]["replaced_session_id"].is_string()),
        "{signed_in:?}"
    );
}

#[tokio::test]
async fn an_oversized_user_name_is_refused_before_anything_is_stored() {
    let app = spawn_app().await;
    let huge = "a".repeat(1_000_000);
    let (status, _) = login_with(&app, &huge, "whatever password", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let form = app
        .client
        .post(app.url("/login/acme/password"))
        .header("origin", app.address.as_str())
        .form(&[("user_name", huge.as_str()), ("password", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'auth.sign_in_failed'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM sign_in_failures").await,
        0
    );
}

#[tokio::test]
async fn refused_sign_ins_from_one_address_write_a_bounded_number_of_audit_rows() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "Okta", "trusted", json!({})).await;
    let acs = connection["acs_url"].as_str().unwrap().to_string();
    for i in 0..100 {
        let response = app
            .client
            .post(&acs)
            .form(&[("SAMLResponse", format!("garbage {i}"))])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let rows = count(
        &app,
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'auth.sign_in_failed'",
    )
    .await;
    assert_eq!(rows, 30, "the first 30 of a window are recorded in full");
    // Once the window is over, the rest are one counted row.
    app.clock.advance(TimeDelta::minutes(16));
    let summary = audit(&app, "auth.refusals_suppressed").await;
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0]["summary"]["refused"], 100);
    assert_eq!(summary[0]["summary"]["suppressed"], 70);
    assert_eq!(summary[0]["client_address"], "127.0.0.1");
    // Read again: written once.
    assert_eq!(audit(&app, "auth.refusals_suppressed").await.len(), 1);
}

#[tokio::test]
async fn pending_sso_sign_ins_are_capped_per_address_and_per_browser() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "Okta", "trusted", json!({})).await;
    let start = app.url(&format!(
        "/sso/{}/start",
        connection["id"].as_str().unwrap()
    ));
    // One browser starting again and again keeps its newest few.
    let browser = Browser::new();
    for _ in 0..15 {
        let response = browser.get(&start).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM sso_requests").await,
        10
    );
    // A client that keeps no cookies is capped per address.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut refused = 0;
    for _ in 0..120 {
        let response = plain.get(&start).send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        } else {
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
        }
    }
    assert_eq!(refused, 30, "100 pending at most from one address");
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM sso_requests").await,
        100
    );
    // They expire, and the address may start again.
    app.clock.advance(TimeDelta::minutes(11));
    assert_eq!(
        plain.get(&start).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_saml_sign_in_ends_the_session_the_browser_had_when_it_started() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "Okta", "trusted", json!({})).await;
    let cid = connection["id"].as_str().unwrap().to_string();
    scim_user(&app, "alice@example.com", "00u-alice").await;
    let bob = scim_user(&app, "bob@example.com", "00u-bob").await;
    let browser = Browser::new();
    let answer = saml_sign_in(&browser, &app, &idp, &cid, &[("subject", "00u-alice")]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.me(&app).await.0, StatusCode::OK);

    // Bob signs in from the same browser. The IdP's answer is a cross-site
    // post, which a SameSite=Lax session cookie does not ride: only the SSO
    // cookie reaches the ACS.
    let start = browser
        .get(&app.url(&format!("/sso/{cid}/start?return_to=/after")))
        .await;
    let sso_cookie = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("scimlink_sso="))
        .and_then(|c| c.split(';').next())
        .expect("the SSO cookie")
        .to_string();
    let mut to_idp = url::Url::parse(&location(&start, &app.address)).unwrap();
    to_idp.query_pairs_mut().append_pair("subject", "00u-bob");
    let idp_answer: Value = browser.get(to_idp.as_str()).await.json().await.unwrap();
    let posted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(idp_answer["acs_url"].as_str().unwrap())
        .header("cookie", format!("scimlink_sso={sso_cookie}"))
        .form(&[("SAMLResponse", idp_answer["SAMLResponse"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    // Alice's session, still in the browser's cookie jar, is over.
    assert_eq!(browser.me(&app).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NULL AND account_id = '{bob}'"
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_saml_connections_private_keys_are_sealed_at_rest() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(SamlIdpKind::Pysaml2).await;
    let connection = connect_saml(&app, &idp, "Okta", "trusted", json!({})).await;
    // The IdP read the metadata (keys made); a sign-in signs with them.
    let browser = Browser::new();
    let cid = connection["id"].as_str().unwrap();
    let start = browser.get(&app.url(&format!("/sso/{cid}/start"))).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM saml_sp_keys").await,
        2
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM saml_sp_keys WHERE private_key_pem LIKE '%PRIVATE KEY%' \
             OR private_key_pem NOT LIKE 'v1:%'"
        )
        .await,
        0
    );
}
