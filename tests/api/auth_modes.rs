//! Accounts that sign in: auth modes and their purges, reset links, password
//! sign-in, sessions, break-glass and `sso_required`, SCIM's part in them,
//! and the audit events each leaves. Over real HTTP and a real database.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, patch_op, spawn_app};

const PASSWORD: &str = "correct horse battery staple";

/// Creates a password account through the admin API and gives it a password
/// through a reset link; returns its id.
async fn account_with_password(app: &TestApp, user_name: &str) -> String {
    let id = app.new_account(user_name).await;
    let token = reset_token(app, &id).await;
    set_password(app, &token, PASSWORD).await;
    id
}

/// Like `account_with_password`, for an account SCIM provisioned (which
/// SCIM may then deactivate and delete).
async fn scim_account_with_password(app: &TestApp, user_name: &str) -> String {
    let user = app.create_user(&json!({"userName": user_name})).await;
    let id = user["id"].as_str().unwrap().to_string();
    let token = reset_token(app, &id).await;
    set_password(app, &token, PASSWORD).await;
    id
}

/// Issues a reset link and returns the token in it.
async fn reset_token(app: &TestApp, id: &str) -> String {
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{id}/password-reset"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    token_of(body["reset_url"].as_str().unwrap())
}

fn token_of(url: &str) -> String {
    url.split("token=").nth(1).unwrap().to_string()
}

async fn set_password(app: &TestApp, token: &str, password: &str) {
    let (status, body) = reset(app, token, password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn reset(app: &TestApp, token: &str, password: &str) -> (StatusCode, Value) {
    app.api(
        "",
        Method::POST,
        "/auth/password/reset",
        Some(&json!({"token": token, "new_password": password})),
    )
    .await
}

/// Signs in; on success returns the session cookie's value.
async fn login(
    app: &TestApp,
    user_name: &str,
    password: &str,
) -> (StatusCode, Value, Option<String>) {
    let response = app
        .client
        .post(app.url("/auth/password/login"))
        .json(&json!({"org": "acme", "user_name": user_name, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("scimlink_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string());
    let body: Value = response.json().await.unwrap();
    (status, body, cookie)
}

async fn session(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url("/auth/session"))
        .header("cookie", format!("scimlink_session={cookie}"))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn set_mode(app: &TestApp, token: &str, id: &str, mode: &str) -> (StatusCode, Value) {
    app.api(
        token,
        Method::PUT,
        &format!("/api/v1/accounts/{id}/auth-mode"),
        Some(&json!({"mode": mode})),
    )
    .await
}

async fn row_counts(app: &TestApp, id: &str) -> (i64, i64, i64) {
    let count = |sql: String| async move {
        app.db
            .write
            .query_one_raw(Statement::from_string(app.db.backend(), sql))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
    };
    (
        count(format!(
            "SELECT COUNT(*) AS n FROM accounts WHERE id = '{id}' AND password_hash IS NOT NULL"
        ))
        .await,
        count(format!(
            "SELECT COUNT(*) AS n FROM password_resets WHERE account_id = '{id}' AND used_at IS NULL"
        ))
        .await,
        count(format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE account_id = '{id}' AND ended_at IS NULL"
        ))
        .await,
    )
}

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app
        .admin(Method::GET, &format!("/api/v1/audit-events?{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn password_sign_in_opens_a_session_that_says_who_is_signed_in() {
    let app = spawn_app().await;
    let id = account_with_password(&app, "ada").await;
    let (status, body, cookie) = login(&app, "ADA", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account_id"], id.as_str());
    assert!(body["expires_at"].is_string());
    let cookie = cookie.expect("a session cookie");

    let (status, me) = session(&app, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["account_id"], id.as_str());
    assert_eq!(me["org"]["slug"], "acme");
    assert_eq!(me["auth_mode"], "password");
    assert_eq!(me["method"], "password");

    let logout = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", format!("scimlink_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(session(&app, &cookie).await.0, StatusCode::UNAUTHORIZED);
    let actions: Vec<Value> = events(&app, &format!("target_id={id}"))
        .await
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert!(actions.contains(&json!("auth.sign_in")), "{actions:?}");
    assert!(actions.contains(&json!("auth.sign_out")), "{actions:?}");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    account_with_password(&app, "ada").await;
    let response = app
        .client
        .post(app.url("/auth/password/login"))
        .json(&json!({"org": "acme", "user_name": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let header = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    // The test server is plain http, so the cookie cannot be Secure here.
    assert!(!header.contains("Secure"), "{header}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    account_with_password(&app, "ada").await;
    let (s1, b1, c1) = login(&app, "ada", "not the password at all").await;
    let (s2, b2, c2) = login(&app, "nobody", "not the password at all").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(b1["error"], "invalid_credentials");
    assert!(c1.is_none() && c2.is_none());
    let failed = events(&app, "action=auth.sign_in_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|e| !e["summary"].to_string().contains("not the password"))
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account() {
    let app = spawn_app().await;
    account_with_password(&app, "ada").await;
    for _ in 0..5 {
        assert_eq!(
            login(&app, "ada", "wrong password!!").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let response = app
        .client
        .post(app.url("/auth/password/login"))
        .json(&json!({"org": "acme", "user_name": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    // The window passes: the right password works again.
    app.clock.advance(TimeDelta::minutes(16));
    assert_eq!(login(&app, "ada", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn switching_to_sso_purges_the_password_reset_links_and_sessions_in_one_go() {
    let app = spawn_app().await;
    let id = account_with_password(&app, "ada").await;
    let (_, _, cookie) = login(&app, "ada", PASSWORD).await;
    let cookie = cookie.unwrap();
    // A pending reset link too.
    let pending = reset_token(&app, &id).await;
    assert_eq!(row_counts(&app, &id).await, (1, 1, 1));

    let (status, body) = set_mode(&app, &app.support_token, &id, "sso").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["sessions_ended"], 1);
    assert_eq!(body["account"]["auth_mode"], "sso");
    assert_eq!(body["account"]["has_password"], false);
    // No hash, no unused reset link, no live session.
    assert_eq!(row_counts(&app, &id).await, (0, 0, 0));
    assert_eq!(session(&app, &cookie).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reset(&app, &pending, "another long password").await.0,
        StatusCode::BAD_REQUEST
    );
    // Password sign-in now points at SSO.
    let (status, body, _) = login(&app, "ada", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "sso_required");
    assert!(
        body["sso_url"].as_str().unwrap().ends_with("/login/acme"),
        "{body}"
    );

    let changes = events(&app, "action=account.auth_mode_changed").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["actor_type"], "admin_token");
    assert_eq!(changes[0]["actor_label"], "support");
    assert_eq!(changes[0]["summary"]["from"], "password");
    assert_eq!(changes[0]["summary"]["to"], "sso");
    assert_eq!(changes[0]["summary"]["password_purged"], true);
    assert!(changes[0]["request_id"].is_string());
}

#[tokio::test]
async fn switching_back_to_password_restores_no_password_and_issues_a_reset_link() {
    let app = spawn_app().await;
    let id = account_with_password(&app, "ada").await;
    set_mode(&app, &app.admin_token, &id, "sso").await;
    let (status, body) = set_mode(&app, &app.admin_token, &id, "password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account"]["auth_mode"], "password");
    assert_eq!(body["account"]["has_password"], false);
    let url = body["reset_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/reset-password?token=", app.address)),
        "{url}"
    );
    // The old password does not come back.
    assert_eq!(
        login(&app, "ada", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Support staff can read the link in the outbox (no SMTP configured).
    let (status, outbox) = app
        .api(
            &app.support_token,
            Method::GET,
            &format!("/api/v1/outbox?account_id={id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    let newest = &outbox["messages"][0];
    assert_eq!(newest["reset_url"], url.as_str());
    assert_eq!(newest["recipient"], "ada@example.com");
    assert_eq!(newest["status"], "not_sent");
    assert!(newest["body"].as_str().unwrap().contains(&url));

    set_password(&app, &token_of(&url), "a brand new password").await;
    assert_eq!(
        login(&app, "ada", "a brand new password").await.0,
        StatusCode::OK
    );
    // Used: the outbox no longer shows it.
    let (_, outbox) = app
        .admin(
            Method::GET,
            &format!("/api/v1/outbox?account_id={id}"),
            None,
        )
        .await;
    assert!(outbox["messages"][0]["reset_url"].is_null(), "{outbox}");
    assert!(
        !outbox["messages"][0]["body"]
            .as_str()
            .unwrap()
            .contains("token=")
    );
}

#[tokio::test]
async fn a_reset_link_works_once_and_not_after_it_expires() {
    let app = spawn_app().await;
    let id = account_with_password(&app, "ada").await;
    let token = reset_token(&app, &id).await;
    set_password(&app, &token, "first new password").await;
    let (status, body) = reset(&app, &token, "second new password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_token");

    let late = reset_token(&app, &id).await;
    app.clock
        .advance(TimeDelta::hours(24) + TimeDelta::seconds(1));
    let (status, body) = reset(&app, &late, "third new password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        login(&app, "ada", "first new password").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_new_password_must_be_long_and_not_the_user_name() {
    let app = spawn_app().await;
    // 12 characters, so only the user-name rule refuses it.
    let id = account_with_password(&app, "ada.lovelace").await;
    let token = reset_token(&app, &id).await;
    for bad in ["short", "ADA.LOVELACE"] {
        let (status, body) = reset(&app, &token, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "invalid_request", "{body}");
    }
    // Refusals do not consume the link.
    set_password(&app, &token, "long enough password").await;
}

#[tokio::test]
async fn a_password_reset_ends_the_other_sessions() {
    let app = spawn_app().await;
    let id = account_with_password(&app, "ada").await;
    let (_, _, cookie) = login(&app, "ada", PASSWORD).await;
    let token = reset_token(&app, &id).await;
    set_password(&app, &token, "another long password").await;
    assert_eq!(
        session(&app, &cookie.unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_database_itself_refuses_an_sso_account_with_a_password_hash() {
    let app = spawn_app().await;
    let id = account_with_password(&app, "ada").await;
    set_mode(&app, &app.admin_token, &id, "sso").await;
    let result = app
        .db
        .write
        .execute_raw(Statement::from_string(
            app.db.backend(),
            format!("UPDATE accounts SET password_hash = '$argon2id$x' WHERE id = '{id}'"),
        ))
        .await;
    assert!(result.is_err(), "the CHECK constraint must refuse it");
    assert_eq!(row_counts(&app, &id).await.0, 0);
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database() {
    let app = spawn_app().await;
    account_with_password(&app, "ada").await;
    for sql in [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
    ] {
        let result = app
            .db
            .write
            .execute_raw(Statement::from_string(app.db.backend(), sql.to_string()))
            .await;
        assert!(result.is_err(), "{sql} must be refused");
    }
}

#[tokio::test]
async fn sessions_expire_and_go_idle_on_their_own_clock() {
    let app = spawn_app().await;
    account_with_password(&app, "ada").await;
    let (_, _, cookie) = login(&app, "ada", PASSWORD).await;
    let cookie = cookie.unwrap();
    // Default idle time is an hour.
    app.clock.advance(TimeDelta::minutes(59));
    assert_eq!(session(&app, &cookie).await.0, StatusCode::OK);
    app.clock.advance(TimeDelta::minutes(61));
    assert_eq!(session(&app, &cookie).await.0, StatusCode::UNAUTHORIZED);

    // An organisation's lifetime: 2 minutes, used within the idle time.
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/org",
            Some(&json!({"session_ttl_seconds": 120})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, cookie) = login(&app, "ada", PASSWORD).await;
    let cookie = cookie.unwrap();
    // Ten seconds of margin: a loaded machine spends real time in between.
    app.clock.advance(TimeDelta::seconds(110));
    let (status, body) = session(&app, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.clock.advance(TimeDelta::seconds(11));
    assert_eq!(session(&app, &cookie).await.0, StatusCode::UNAUTHORIZED);
    let ended = events(&app, "action=session.ended").await;
    let reasons: Vec<&Value> = ended.iter().map(|e| &e["summary"]["reason"]).collect();
    assert_eq!(reasons, vec![&json!("expired"), &json!("idle")]);
}

#[tokio::test]
async fn scim_deactivation_ends_sessions_at_once_and_reactivation_does_not_restore_them() {
    let app = spawn_app().await;
    let id = scim_account_with_password(&app, "ada").await;
    let (_, _, cookie) = login(&app, "ada", PASSWORD).await;
    let cookie = cookie.unwrap();
    let response = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(session(&app, &cookie).await.0, StatusCode::UNAUTHORIZED);
    let (status, body, _) = login(&app, "ada", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "account_disabled");

    app.patch(
        &format!("/scim/v2/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
    )
    .await;
    assert_eq!(session(&app, &cookie).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "ada", PASSWORD).await.0, StatusCode::OK);
    let deactivated = events(&app, "action=account.deactivated").await;
    assert_eq!(deactivated[0]["actor_type"], "scim_token");
    assert_eq!(deactivated[0]["summary"]["sessions_ended"], 1);
    assert_eq!(events(&app, "action=account.reactivated").await.len(), 1);
}

#[tokio::test]
async fn scim_delete_ends_sessions_and_removes_identity_links() {
    let app = spawn_app().await;
    let id = scim_account_with_password(&app, "ada").await;
    let (_, _, cookie) = login(&app, "ada", PASSWORD).await;
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{id}/identities"),
            Some(&json!({"issuer": "https://idp.example.com", "subject": "ada"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let response = app.delete(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        session(&app, &cookie.unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let links = app
        .db
        .write
        .query_one_raw(Statement::from_string(
            app.db.backend(),
            "SELECT COUNT(*) AS n FROM identity_links".to_string(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(links, 0);
    assert_eq!(events(&app, "action=account.deleted").await.len(), 1);
}

#[tokio::test]
async fn a_scim_password_is_refused_on_an_sso_account_and_set_on_a_password_account() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "grace", "password": "initial password 1"}))
        .await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        login(&app, "grace", "initial password 1").await.0,
        StatusCode::OK
    );

    set_mode(&app, &app.admin_token, id, "sso").await;
    let response = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "password", "value": "p4ssw0rd-again"}])),
        )
        .await;
    let body = assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    assert!(body["detail"].as_str().unwrap().contains("SSO"), "{body}");
    assert_eq!(row_counts(&app, id).await.0, 0);
}

#[tokio::test]
async fn with_sso_enabled_new_accounts_start_in_sso_unless_break_glass() {
    let app = spawn_app().await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/org",
            Some(&json!({"sso_enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let scim = app.create_user(&json!({"userName": "from-scim"})).await;
    let (_, scim_account) = app
        .admin(
            Method::GET,
            &format!("/api/v1/accounts/{}", scim["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(scim_account["auth_mode"], "sso");
    assert_eq!(scim_account["source"], "scim");
    let (_, admin_made) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "from-admin"})),
        )
        .await;
    assert_eq!(admin_made["auth_mode"], "sso");
    let (_, glass) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "glass", "break_glass": true})),
        )
        .await;
    assert_eq!(glass["auth_mode"], "password");
    assert_eq!(glass["break_glass"], true);
    // A SCIM password on a new account of an SSO organisation is refused.
    let response = app
        .post(
            "/scim/v2/Users",
            &json!({"userName": "with-password", "password": "p4ssw0rd-long-enough"}),
        )
        .await;
    assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
}

#[tokio::test]
async fn requiring_sso_has_a_dry_run_then_switches_every_non_break_glass_account() {
    let app = spawn_app().await;
    let ada = account_with_password(&app, "ada").await;
    let bob = account_with_password(&app, "bob").await;
    let (_, glass) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "glass", "break_glass": true})),
        )
        .await;
    let glass = glass["id"].as_str().unwrap().to_string();
    set_password(&app, &reset_token(&app, &glass).await, PASSWORD).await;
    let (_, _, ada_cookie) = login(&app, "ada", PASSWORD).await;

    // Requiring SSO needs SSO enabled.
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/org",
            Some(&json!({"sso_required": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, preview) = app
        .api(
            &app.support_token,
            Method::GET,
            "/api/v1/org/require-sso-preview",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["count"], 2);
    assert_eq!(preview["truncated"], false);
    let names: Vec<&str> = preview["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "bob"]);
    // The preview changed nothing.
    assert_eq!(row_counts(&app, &ada).await.0, 1);

    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/org",
            Some(&json!({"sso_enabled": true, "sso_required": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["switched_to_sso"], 2);
    assert_eq!(body["org"]["sso_required"], true);
    for id in [&ada, &bob] {
        assert_eq!(row_counts(&app, id).await, (0, 0, 0));
    }
    assert_eq!(
        session(&app, &ada_cookie.unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&app, "ada", PASSWORD).await.0, StatusCode::FORBIDDEN);
    // The break-glass account still signs in with its password.
    assert_eq!(login(&app, "glass", PASSWORD).await.0, StatusCode::OK);
    // Switching a non-break-glass account back to password is refused now.
    let (status, body) = set_mode(&app, &app.admin_token, &ada, "password").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Clearing break-glass moves that account to SSO too.
    let (status, body) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{glass}/break-glass"),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["auth_mode"], "sso");
    assert_eq!(
        login(&app, "glass", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );

    let switched: Vec<Value> = events(&app, "action=account.auth_mode_changed").await;
    assert_eq!(switched.len(), 2);
    assert!(switched.iter().all(|e| e["actor_type"] == "system"));
    let settings = events(&app, "action=org.settings_changed").await;
    assert_eq!(settings[0]["summary"]["switched_to_sso"], 2);
}

#[tokio::test]
async fn the_external_user_id_defaults_to_external_id_then_email_then_user_name() {
    let app = spawn_app().await;
    let with_external = app
        .create_user(
            &json!({"userName": "a", "externalId": "00u1", "emails": [{"value": "a@example.com"}]}),
        )
        .await;
    let with_email = app
        .create_user(
            &json!({"userName": "b", "emails": [{"value": "B@Example.com", "primary": true}]}),
        )
        .await;
    let bare = app.create_user(&json!({"userName": "c"})).await;
    let get = |id: Value| {
        let app = &app;
        async move {
            app.admin(
                Method::GET,
                &format!("/api/v1/accounts/{}", id.as_str().unwrap()),
                None,
            )
            .await
            .1
        }
    };
    let a = get(with_external["id"].clone()).await;
    assert_eq!(
        (&a["external_user_id"], &a["external_user_id_source"]),
        (&json!("00u1"), &json!("external_id"))
    );
    let b = get(with_email["id"].clone()).await;
    assert_eq!(
        (&b["external_user_id"], &b["external_user_id_source"]),
        (&json!("B@Example.com"), &json!("email"))
    );
    let c = get(bare["id"].clone()).await;
    assert_eq!(
        (&c["external_user_id"], &c["external_user_id_source"]),
        (&json!("c"), &json!("user_name"))
    );

    let id = bare["id"].as_str().unwrap();
    let (status, body) = app
        .api(
            &app.support_token,
            Method::PUT,
            &format!("/api/v1/accounts/{id}/external-user-id"),
            Some(&json!({"value": "EMP-42"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["external_user_id"], "EMP-42");
    assert_eq!(body["external_user_id_source"], "explicit");
    let (_, body) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{id}/external-user-id"),
            Some(&json!({"value": null})),
        )
        .await;
    assert_eq!(body["external_user_id"], "c");

    // The matcher finds accounts by it: an email case-insensitively.
    let state_match = scimlink::service::linking::resolve(
        &app.db.read,
        &app.org.id,
        "https://idp.example.com",
        "b@example.COM",
        &scimlink::domain::linking::Asserted {
            rule: scimlink::domain::sso::MatchOn::ExternalUserId,
            value: "b@example.COM",
            subject_kind: scimlink::domain::linking::SubjectKind::Stable,
            email: None,
            claims: &json!({}),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        state_match,
        scimlink::domain::linking::Match::LinkTo {
            account_id: with_email["id"].as_str().unwrap().to_string()
        }
    );
}

/// An application state over the test app's database, to call services directly.
fn app_state(app: &TestApp) -> scimlink::service::AppState {
    scimlink::service::AppState {
        db: app.db.clone(),
        settings: std::sync::Arc::new(scimlink::settings::Settings::new("unused")),
        base_url: app.address.clone(),
        oidc_providers: Default::default(),
        metrics: Default::default(),
        outbound: scimlink::service::outbound::Outbound::new(&Default::default()).unwrap(),
    }
}

#[tokio::test]
async fn scim_does_not_take_over_an_admin_made_account_unless_the_organisation_allows_it() {
    let app = spawn_app().await;
    let (_, made) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "ada@example.com", "email": "ada@example.com"})),
        )
        .await;
    let id = made["id"].as_str().unwrap().to_string();
    let scim_user = json!({"userName": "ada@example.com", "externalId": "00u-ada", "name": {"givenName": "Ada"}});
    let response = app.post("/scim/v2/Users", &scim_user).await;
    let body = assert_scim_error(response, StatusCode::CONFLICT, Some("uniqueness")).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("scim_adopt_existing"),
        "{body}"
    );
    // By email too, with another userName.
    let response = app
        .post(
            "/scim/v2/Users",
            &json!({"userName": "ada.l", "emails": [{"value": "ADA@example.com"}]}),
        )
        .await;
    assert_scim_error(response, StatusCode::CONFLICT, Some("uniqueness")).await;

    app.admin(
        Method::PATCH,
        "/api/v1/org",
        Some(&json!({"scim_adopt_existing": true})),
    )
    .await;
    let adopted = app.create_user(&scim_user).await;
    assert_eq!(adopted["id"], id.as_str(), "SCIM keeps the account's id");
    assert_eq!(adopted["externalId"], "00u-ada");
    let (_, account) = app
        .admin(Method::GET, &format!("/api/v1/accounts/{id}"), None)
        .await;
    assert_eq!(account["source"], "scim");
    let adoptions = events(&app, "action=account.adopted").await;
    assert_eq!(adoptions.len(), 1);
    assert_eq!(adoptions[0]["target_id"], id.as_str());
}

#[tokio::test]
async fn identity_links_are_unique_and_never_moved() {
    let app = spawn_app().await;
    let a = account_with_password(&app, "ada").await;
    let b = account_with_password(&app, "bob").await;
    let link = json!({"issuer": "https://idp.example.com", "subject": "S-1"});
    let (status, created) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{a}/identities"),
            Some(&link),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{b}/identities"),
            Some(&link),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{a}/identities"),
            Some(&json!({"issuer": "https://idp.example.com", "subject": "S-2"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one subject per IdP per account"
    );
    let link_id = created["id"].as_str().unwrap();
    let (status, listed) = app
        .api(
            &app.support_token,
            Method::GET,
            &format!("/api/v1/accounts/{a}/identities"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["identities"][0]["id"], link_id);
    let (status, _) = app
        .admin(
            Method::GET,
            &format!("/api/v1/accounts/{b}/identities/{link_id}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a link is read through its own account"
    );
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/accounts/{a}/identities/{link_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let unlinked = events(&app, "action=identity.unlinked").await;
    assert_eq!(unlinked[0]["summary"]["subject"], "S-1");
}

#[tokio::test]
async fn the_cli_creates_a_break_glass_account_with_a_reset_link() {
    let app = spawn_app().await;
    app.admin(
        Method::PATCH,
        "/api/v1/org",
        Some(&json!({"sso_enabled": true})),
    )
    .await;
    let state = app_state(&app);
    let created = scimlink::service::accounts::create_from_cli(
        &state,
        &app.org,
        scimlink::service::accounts::NewAccountInput {
            user_name: "root".into(),
            display_name: None,
            email: None,
            active: None,
            break_glass: true,
            external_user_id: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(created.account.auth_mode, "password");
    let url = created.reset.expect("a reset link").reset_url;
    set_password(&app, &token_of(&url), PASSWORD).await;
    assert_eq!(login(&app, "root", PASSWORD).await.0, StatusCode::OK);
    let made = events(&app, "action=account.created").await;
    assert_eq!(made[0]["actor_type"], "cli");
}
