//! SSO sign-in through OpenID Connect against a real provider on loopback
//! (npm's oidc-provider): connections in the admin API, the sign-in page,
//! the code flow with PKCE, linking, JIT, and every refusal, each leaving
//! its audit event. Over real HTTP and a real database.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::oidc_idp::{
    Browser, OidcIdp, Tamper, assert_signed_in, audit_events, connect, connect_many,
    patch_connection, refusal,
};

/// A SCIM-provisioned user (the IdP's own push) with this externalId; its
/// primary email is its userName.
pub(crate) async fn scim_user(app: &TestApp, user_name: &str, external_id: &str) -> String {
    scim_user_with_email(app, user_name, external_id, user_name).await
}

pub(crate) async fn scim_user_with_email(
    app: &TestApp,
    user_name: &str,
    external_id: &str,
    email: &str,
) -> String {
    let user = app
        .create_user(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "externalId": external_id,
            "emails": [{"value": email, "type": "work", "primary": true}],
        }))
        .await;
    user["id"].as_str().expect("id").to_string()
}

pub(crate) async fn failures(app: &TestApp) -> Vec<String> {
    audit_events(app, "auth.sign_in_failed")
        .await
        .iter()
        .map(|e| {
            e["summary"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

pub(crate) async fn identities(app: &TestApp, account: &str) -> Vec<Value> {
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/api/v1/accounts/{account}/identities"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["identities"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn first_sign_in_links_the_account_and_later_ones_use_the_link() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta production", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    // The first enabled connection turned SSO on, so SCIM's users sign in through it.
    let (_, org) = app.admin(Method::GET, "/api/v1/org", None).await;
    assert_eq!(org["sso_enabled"], true, "{org}");
    let alice = scim_user(&app, "alice@example.com", "00u-alice").await;
    idp.account(json!({"sub": "00u-alice", "email": "alice@example.com", "email_verified": true, "name": "Alice From IdP"}))
        .await;

    let browser = Browser::new();
    let answer = browser
        .sign_in(&app, &idp, cid, "00u-alice", &Tamper::default())
        .await;
    assert_signed_in(&answer);
    let cookie = answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // The organisation's session lifetime (12 h), not the IdP's.
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    let (status, me) = browser.me(&app).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], alice);
    assert_eq!(me["userName"], "alice@example.com");
    // Sign-in never overwrites what SCIM manages.
    assert!(me.get("displayName").is_none(), "{me}");

    let links = identities(&app, &alice).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["issuer"], idp.issuer.as_str());
    assert_eq!(links[0]["subject"], "00u-alice");
    let linked = audit_events(&app, "identity.linked").await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["summary"]["connection_id"], cid);
    assert_eq!(linked[0]["summary"]["reason"], "first_sign_in");

    // The second sign-in goes through the link, even once the External user
    // ID no longer matches (the link wins).
    let (status, body) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{alice}/external-user-id"),
            Some(&json!({"value": "someone-else"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = Browser::new();
    assert_signed_in(
        &again
            .sign_in(&app, &idp, cid, "00u-alice", &Tamper::default())
            .await,
    );
    assert_eq!(again.me(&app).await.1["id"], alice);
    assert_eq!(identities(&app, &alice).await.len(), 1);
    let sign_ins = audit_events(&app, "auth.sign_in").await;
    assert_eq!(sign_ins.len(), 2);
    assert!(
        sign_ins
            .iter()
            .all(|e| e["summary"]["method"] == "sso" && e["summary"]["connection_id"] == cid)
    );
    // The last sign-in time is recorded on the account.
    let last: Option<chrono::DateTime<chrono::Utc>> = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = app
            .db
            .read
            .query_one_raw(Statement::from_string(
                app.db.backend(),
                format!("SELECT last_sign_in_at FROM accounts WHERE id = '{alice}'"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "last_sign_in_at").unwrap()
    };
    assert!(last.is_some());
}

#[tokio::test]
async fn jit_provisioning_creates_an_sso_account_in_the_connections_workspace() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let (status, sandbox) = app
        .admin(
            Method::POST,
            "/api/v1/workspaces",
            Some(&json!({"slug": "sandbox"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sandbox}");
    let connection = connect(
        &app,
        &idp,
        "Okta sandbox",
        json!({"jit": "on", "workspace_id": sandbox["id"], "role": "viewer"}),
    )
    .await;
    let cid = connection["id"].as_str().unwrap();
    idp.account(
        json!({"sub": "00u-new", "email": "new@example.com", "email_verified": true,
                       "name": "New Person", "given_name": "New", "family_name": "Person"}),
    )
    .await;
    let browser = Browser::new();
    assert_signed_in(
        &browser
            .sign_in(&app, &idp, cid, "00u-new", &Tamper::default())
            .await,
    );
    let (_, me) = browser.me(&app).await;
    assert_eq!(me["userName"], "new@example.com", "{me}");
    assert_eq!(me["name"]["familyName"], "Person");
    let id = me["id"].as_str().unwrap();
    let (_, account) = app
        .admin(Method::GET, &format!("/api/v1/accounts/{id}"), None)
        .await;
    assert_eq!(account["auth_mode"], "sso", "{account}");
    assert_eq!(account["source"], "jit");
    assert_eq!(account["workspaces"][0]["slug"], "sandbox");
    assert_eq!(account["workspaces"][0]["role"], "viewer");
    let jit = audit_events(&app, "account.jit_provisioned").await;
    assert_eq!(jit.len(), 1);
    assert_eq!(jit[0]["target_id"], id);
    // The next sign-in reaches the same account through its link.
    let again = Browser::new();
    assert_signed_in(
        &again
            .sign_in(&app, &idp, cid, "00u-new", &Tamper::default())
            .await,
    );
    assert_eq!(again.me(&app).await.1["id"], id);
    assert_eq!(audit_events(&app, "account.jit_provisioned").await.len(), 1);
}

#[tokio::test]
async fn without_jit_an_unknown_person_is_told_to_ask_an_administrator() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({"jit": "off"})).await;
    idp.account(
        json!({"sub": "00u-stranger", "email": "stranger@example.com", "email_verified": true}),
    )
    .await;
    let answer = Browser::new()
        .sign_in(
            &app,
            &idp,
            connection["id"].as_str().unwrap(),
            "00u-stranger",
            &Tamper::default(),
        )
        .await;
    let (status, page) = refusal(answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("no account for this person"), "{page}");
    assert!(page.contains("ask") || page.contains("Ask"), "{page}");
    assert_eq!(failures(&app).await, vec!["no_account"]);
    let (_, accounts) = app.admin(Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(
        accounts["accounts"].as_array().map(Vec::len),
        Some(0),
        "{accounts}"
    );
}

#[tokio::test]
async fn jit_without_a_verified_email_makes_no_account() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    // JIT on and no email_domains: only a verified email may make an account.
    let connection = connect(&app, &idp, "Okta", json!({"jit": "on"})).await;
    let cid = connection["id"].as_str().unwrap();
    for (sub, claims) in [
        (
            "00u-unverified",
            json!({"sub": "00u-unverified", "email": "u@example.com", "email_verified": false}),
        ),
        ("00u-no-email", json!({"sub": "00u-no-email"})),
    ] {
        idp.account(claims).await;
        let browser = Browser::new();
        let (status, page) = refusal(
            browser
                .sign_in(&app, &idp, cid, sub, &Tamper::default())
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sub}: {page}");
        assert!(page.contains("verified email"), "{sub}: {page}");
        assert_eq!(browser.me(&app).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        failures(&app).await,
        vec!["jit_without_email", "jit_without_email"]
    );
    let (_, accounts) = app.admin(Method::GET, "/api/v1/accounts", None).await;
    assert_eq!(
        accounts["accounts"].as_array().map(Vec::len),
        Some(0),
        "{accounts}"
    );
    assert!(
        audit_events(&app, "account.jit_provisioned")
            .await
            .is_empty()
    );
    // A verified email still makes one.
    idp.account(json!({"sub": "00u-ok", "email": "ok@example.com", "email_verified": true}))
        .await;
    let browser = Browser::new();
    assert_signed_in(
        &browser
            .sign_in(&app, &idp, cid, "00u-ok", &Tamper::default())
            .await,
    );
    assert_eq!(browser.me(&app).await.1["userName"], "ok@example.com");
}

#[tokio::test]
async fn sandbox_and_production_share_one_sign_in_page() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let made = connect_many(
        &app,
        &idp,
        &[
            ("Okta production", json!({"email_domains": ["example.com"]})),
            ("Okta sandbox", json!({})),
            ("Old IdP", json!({"enabled": false})),
        ],
    )
    .await;
    let page = Browser::new().get(&app.url("/login/acme")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    for (connection, shown) in made.iter().zip([true, true, false]) {
        let link = format!("/sso/{}/start", connection["id"].as_str().unwrap());
        assert_eq!(html.contains(&link), shown, "{link} in {html}");
    }
    assert!(
        html.contains("Sign in with Okta production") && html.contains("Sign in with Okta sandbox")
    );
    // No account uses a password: no password form, but the break-glass link.
    assert!(!html.contains("type=\"password\""), "{html}");
    assert!(html.contains("/login/acme?password=1"));
    let with_password = Browser::new().get(&app.url("/login/acme?password=1")).await;
    assert!(
        with_password
            .text()
            .await
            .unwrap()
            .contains("type=\"password\"")
    );
    // The email box sends a person to the connection that owns the domain
    // (any case), and says so when none does.
    let routed = Browser::new()
        .get(&app.url("/login/acme?email=al%40Example.COM&return_to=%2Fdash"))
        .await;
    assert_eq!(routed.status(), StatusCode::SEE_OTHER);
    let to = routed.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        to,
        format!(
            "/sso/{}/start?return_to=%2Fdash",
            made[0]["id"].as_str().unwrap()
        )
    );
    let unowned = Browser::new()
        .get(&app.url("/login/acme?email=bo%40elsewhere.org"))
        .await;
    assert_eq!(unowned.status(), StatusCode::OK);
    assert!(
        unowned
            .text()
            .await
            .unwrap()
            .contains("No single sign-in connection owns")
    );
    // One person reaches both from that page: one account, one link (one issuer).
    let both = scim_user(&app, "dana@example.com", "00u-dana").await;
    idp.account(json!({"sub": "00u-dana", "email": "dana@example.com", "email_verified": true}))
        .await;
    for connection in &made[..2] {
        let browser = Browser::new();
        assert_signed_in(
            &browser
                .sign_in(
                    &app,
                    &idp,
                    connection["id"].as_str().unwrap(),
                    "00u-dana",
                    &Tamper::default(),
                )
                .await,
        );
        assert_eq!(browser.me(&app).await.1["id"], both);
    }
    let unknown = Browser::new().get(&app.url("/login/nobody")).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_tampered_or_replayed_answer_is_refused() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    scim_user(&app, "erin@example.com", "00u-erin").await;
    idp.account(json!({"sub": "00u-erin", "email": "erin@example.com", "email_verified": true}))
        .await;

    // A good answer, then the same answer replayed: its state was used.
    let browser = Browser::new();
    let ok = browser
        .sign_in(&app, &idp, cid, "00u-erin", &Tamper::default())
        .await;
    assert_signed_in(&ok);
    let callback = browser.last_callback().expect("the callback URL");
    let (status, page) = refusal(Browser::new().get(&callback).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("used already"), "{page}");
    assert_eq!(failures(&app).await, vec!["wrong_state"]);
    assert_eq!(audit_events(&app, "auth.sign_in").await.len(), 1);

    // The delays come last: scimlink's clock only moves forward.
    let cases = [
        (
            "wrong state",
            Tamper {
                state: Some("forged-state".into()),
                ..Default::default()
            },
            "wrong_state",
        ),
        (
            "another browser",
            Tamper {
                other_browser: true,
                ..Default::default()
            },
            "wrong_browser",
        ),
        (
            "wrong nonce",
            Tamper {
                nonce: Some("forged-nonce".into()),
                ..Default::default()
            },
            "id_token_invalid",
        ),
        (
            "wrong iss",
            Tamper {
                iss: Some("https://evil.example".into()),
                ..Default::default()
            },
            "wrong_iss",
        ),
        (
            "missing iss",
            Tamper {
                iss: Some(String::new()),
                ..Default::default()
            },
            "wrong_iss",
        ),
        // The provider's ID tokens live 5 minutes (and 1 minute of skew); 7 pass before the answer.
        (
            "expired ID token",
            Tamper {
                delay: Some(TimeDelta::minutes(7)),
                ..Default::default()
            },
            "id_token_invalid",
        ),
        // The request itself lives 10 minutes.
        (
            "expired request",
            Tamper {
                delay: Some(TimeDelta::minutes(11)),
                ..Default::default()
            },
            "request_expired",
        ),
    ];
    for (i, (name, tamper, reason)) in cases.iter().enumerate() {
        let answer = Browser::new()
            .sign_in(&app, &idp, cid, "00u-erin", tamper)
            .await;
        let (status, page) = refusal(answer).await;
        assert!(status.is_client_error(), "{name}: {status}");
        assert!(
            page.contains("Start the sign-in again") || page.contains("refused"),
            "{name}: {page}"
        );
        let reasons = failures(&app).await;
        assert_eq!(reasons.len(), i + 2, "{name}: {reasons:?}");
        assert_eq!(reasons[0], *reason, "{name}");
    }
    // Newest first: the expired token's and the forged nonce's reasons.
    let events = audit_events(&app, "auth.sign_in_failed").await;
    let detail = |i: usize| {
        events[i]["summary"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(detail(1).contains("expired"), "{}", detail(1));
    assert!(detail(4).contains("nonce"), "{}", detail(4));
    assert!(detail(2).contains("no iss parameter"), "{}", detail(2));
    assert_eq!(audit_events(&app, "auth.sign_in").await.len(), 1);
}

#[tokio::test]
async fn password_mode_deactivated_and_foreign_domain_accounts_are_refused() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(
        &app,
        &idp,
        "Okta",
        json!({"email_domains": ["example.com"]}),
    )
    .await;
    let cid = connection["id"].as_str().unwrap();

    // A password-mode account (break-glass) whose External user ID matches.
    let (status, admin) = app
        .admin(
            Method::POST,
            "/api/v1/accounts",
            Some(&json!({"user_name": "root@example.com", "email": "root@example.com", "break_glass": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    assert_eq!(admin["auth_mode"], "password");
    idp.account(
        json!({"sub": "root@example.com", "email": "root@example.com", "email_verified": true}),
    )
    .await;
    let (status, page) = refusal(
        Browser::new()
            .sign_in(&app, &idp, cid, "root@example.com", &Tamper::default())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains(
            "This account signs in with a password; ask your administrator to switch it to SSO"
        ),
        "{page}"
    );
    assert!(
        identities(&app, admin["id"].as_str().unwrap())
            .await
            .is_empty()
    );

    // A deactivated account.
    let gone = scim_user(&app, "gone@example.com", "00u-gone").await;
    let response = app
        .patch(
            &format!("/scim/v2/Users/{gone}"),
            &crate::helpers::patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert!(response.status().is_success());
    idp.account(json!({"sub": "00u-gone", "email": "gone@example.com", "email_verified": true}))
        .await;
    let (status, page) = refusal(
        Browser::new()
            .sign_in(&app, &idp, cid, "00u-gone", &Tamper::default())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("deactivated"), "{page}");

    // An email outside the connection's domains.
    scim_user(&app, "mallory@elsewhere.org", "00u-mallory").await;
    idp.account(
        json!({"sub": "00u-mallory", "email": "mallory@elsewhere.org", "email_verified": true}),
    )
    .await;
    let (status, page) = refusal(
        Browser::new()
            .sign_in(&app, &idp, cid, "00u-mallory", &Tamper::default())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("example.com"), "{page}");

    assert_eq!(
        failures(&app).await,
        vec!["email_domain", "deactivated", "password_mode"]
    );
}

#[tokio::test]
async fn the_email_rule_needs_a_verified_email_and_never_guesses() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Google", json!({"match_on": "email"})).await;
    let cid = connection["id"].as_str().unwrap();
    let frank = scim_user(&app, "frank@example.com", "frank-1").await;
    // Unverified: refused, not linked.
    idp.account(json!({"sub": "g-frank", "email": "frank@example.com", "email_verified": false}))
        .await;
    let (status, _) = refusal(
        Browser::new()
            .sign_in(&app, &idp, cid, "g-frank", &Tamper::default())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(identities(&app, &frank).await.is_empty());
    // Verified: linked by email, though the subject is opaque.
    idp.account(json!({"sub": "g-frank", "email": "Frank@Example.com", "email_verified": true}))
        .await;
    let browser = Browser::new();
    assert_signed_in(
        &browser
            .sign_in(&app, &idp, cid, "g-frank", &Tamper::default())
            .await,
    );
    assert_eq!(browser.me(&app).await.1["id"], frank);
    // Two accounts with one primary email: refused as ambiguous, never guessed.
    for (name, ext) in [("gina.a@example.com", "g1"), ("gina.b@example.com", "g2")] {
        scim_user_with_email(&app, name, ext, "gina@example.com").await;
    }
    idp.account(json!({"sub": "g-gina", "email": "gina@example.com", "email_verified": true}))
        .await;
    let (status, page) = refusal(
        Browser::new()
            .sign_in(&app, &idp, cid, "g-gina", &Tamper::default())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("never guesses"), "{page}");
    assert_eq!(failures(&app).await, vec!["ambiguous", "no_verified_email"]);
}

#[tokio::test]
async fn start_refuses_open_redirects_and_unknown_connections() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let connection = connect(&app, &idp, "Okta", json!({})).await;
    let cid = connection["id"].as_str().unwrap();
    for target in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let response = Browser::new()
            .get(&app.url(&format!(
                "/sso/{cid}/start?return_to={}",
                crate::oidc_idp::urlencode(target)
            )))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{target}");
    }
    let response = Browser::new()
        .get(&app.url("/sso/no-such-connection/start"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The authorization request carries state, nonce and PKCE S256.
    let response = Browser::new()
        .get(&app.url(&format!("/sso/{cid}/start")))
        .await;
    let to = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let params: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params["state"].len() >= 43 && params["nonce"].len() >= 43);
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["scope"].split(' ').any(|s| s == "openid"));
}

#[tokio::test]
async fn me_answers_for_a_session_and_not_for_a_token() {
    let app = spawn_app().await;
    let with_token = app.get("/scim/v2/Me").await;
    assert_eq!(with_token.status(), StatusCode::NOT_IMPLEMENTED);
    let body: Value = with_token.json().await.unwrap();
    assert_eq!(body["status"], "501");
    let anonymous = reqwest::get(app.url("/scim/v2/Me")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let stale = reqwest::Client::new()
        .get(app.url("/scim/v2/Me"))
        .header("cookie", "scimlink_session=sess_not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn connections_are_managed_by_admins_and_never_show_their_secret() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    let body = json!({"type": "oidc", "display_name": "Okta", "issuer": idp.issuer, "client_id": "c1",
                      "client_secret": "top-secret-value", "scopes": ["email"], "email_domains": ["Example.com"]});
    let (status, _) = app
        .api(
            &app.support_token,
            Method::POST,
            "/api/v1/connections",
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = app
        .admin(Method::POST, "/api/v1/connections", Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(!created.to_string().contains("top-secret-value"));
    assert_eq!(created["has_client_secret"], true);
    assert_eq!(created["enabled"], false);
    assert_eq!(created["match_on"], "external_user_id");
    assert_eq!(created["jit"], "inherit");
    assert_eq!(created["email_domains"], json!(["example.com"]));
    assert_eq!(created["scopes"], json!(["openid", "email"]));
    assert_eq!(
        created["redirect_uri"],
        app.url(&format!("/sso/oidc/{id}/callback"))
    );
    assert_eq!(created["start_url"], app.url(&format!("/sso/{id}/start")));
    let (_, listed) = app
        .api(&app.support_token, Method::GET, "/api/v1/connections", None)
        .await;
    assert_eq!(listed["connections"].as_array().map(Vec::len), Some(1));
    assert!(!listed.to_string().contains("top-secret-value"));
    // Enabling needs a provider that answers; the one here is not set up yet.
    let (status, refused) = patch_connection(&app, id, &json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    for bad in [
        json!({"match_on": "nickname"}),
        json!({"jit": "sometimes"}),
        json!({"email_domains": ["not a domain"]}),
        json!({"type": "saml"}),
        json!({"issuer": "http://idp.example.com"}),
        json!({"workspace_id": "no-such-workspace"}),
        json!({"colour": "blue"}),
    ] {
        let (status, body) = patch_connection(&app, id, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/connections",
            Some(&json!({"type": "saml", "display_name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("idp_metadata_xml"), "{body}");
    let (status, updated) =
        patch_connection(&app, id, &json!({"display_name": "Okta EU", "jit": "on"})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["display_name"], "Okta EU");
    // Another organisation's admin does not see it.
    let (other, _) = app.other_org("globex").await;
    let (_, other_admin) = scimlink::service::admin_tokens::create(
        &app.db,
        &other,
        scimlink::domain::AdminRole::Admin,
        "globex admin",
    )
    .await
    .unwrap();
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = app
            .api(
                &other_admin,
                method,
                &format!("/api/v1/connections/{id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, theirs) = app
        .api(&other_admin, Method::GET, "/api/v1/connections", None)
        .await;
    assert_eq!(theirs["connections"], json!([]));
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/connections/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .admin(Method::GET, &format!("/api/v1/connections/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = audit_events(&app, "")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .filter(|a| a.starts_with("connection."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "connection.deleted",
            "connection.updated",
            "connection.created"
        ]
    );
}

#[tokio::test]
async fn a_test_sign_in_shows_what_the_provider_sent_and_signs_nobody_in() {
    let app = spawn_app().await;
    let idp = OidcIdp::start().await;
    // Tested before it is turned on.
    let connection = connect(&app, &idp, "Okta", json!({"enabled": false})).await;
    let cid = connection["id"].as_str().unwrap();
    assert_eq!(connection["enabled"], false);
    let alice = scim_user(&app, "alice@example.com", "00u-alice").await;
    idp.account(json!({"sub": "00u-alice", "email": "alice@example.com", "email_verified": true, "name": "Alice"}))
        .await;
    idp.account(
        json!({"sub": "00u-stranger", "email": "stranger@example.com", "email_verified": true}),
    )
    .await;
    let browser = Browser::new();
    crate::dashboard::sign_in_staff(&app, "ada", "admin", &browser.client).await;

    // Alice was provisioned before SSO was on, so she still has password
    // mode; and the organisation has not turned SSO on yet: the test says
    // both, deciding as if SSO were on.
    let to_idp = crate::dashboard::start_test_sign_in(&app, &browser.client, cid).await;
    let report = browser
        .at_provider(&app, &idp, to_idp, "00u-alice", &Tamper::default())
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(report.contains("signs in with a password"), "{report}");
    assert!(report.contains("it is off now"), "{report}");
    let (status, org) = app
        .admin(
            Method::PATCH,
            "/api/v1/org",
            Some(&json!({"sso_enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{org}");
    let (status, body) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{alice}/auth-mode"),
            Some(&json!({"mode": "sso"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let to_idp = crate::dashboard::start_test_sign_in(&app, &browser.client, cid).await;
    let answer = browser
        .at_provider(&app, &idp, to_idp, "00u-alice", &Tamper::default())
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers().get_all("set-cookie").iter().all(|c| !c
            .to_str()
            .unwrap_or_default()
            .starts_with("scimlink_session=")),
        "a test sign-in set a session"
    );
    let report = answer.text().await.unwrap_or_default();
    assert!(
        report.contains("Links this identity to alice@example.com"),
        "{report}"
    );
    assert!(
        report.contains("00u-alice") && report.contains("email_verified"),
        "{report}"
    );
    // Nothing changed: no link, no sign-in; the test is audited.
    assert!(identities(&app, &alice).await.is_empty());
    assert!(
        audit_events(&app, "auth.sign_in")
            .await
            .iter()
            .all(|e| e["summary"]["method"] != "sso")
    );
    let tested = audit_events(&app, "connection.tested").await;
    assert_eq!(tested.len(), 2);
    assert_eq!(tested[0]["summary"]["outcome"], "link_and_sign_in");
    assert_eq!(tested[0]["actor_label"], "ada");
    assert_eq!(tested[1]["summary"]["reason"], "password_mode");
    // A real sign-in through the disabled connection does not even start.
    let start = Browser::new()
        .get(&app.url(&format!("/sso/{cid}/start")))
        .await;
    assert_eq!(start.status(), StatusCode::NOT_FOUND);

    // Someone without an account: the refusal a real sign-in would meet.
    // (Another administrator's browser: the provider would first ask to end
    // Alice's session there.)
    let browser = Browser::new();
    crate::dashboard::sign_in_staff(&app, "bea", "admin", &browser.client).await;
    let to_idp = crate::dashboard::start_test_sign_in(&app, &browser.client, cid).await;
    let report = browser
        .at_provider(&app, &idp, to_idp, "00u-stranger", &Tamper::default())
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(report.contains("Refused (no_account)"), "{report}");
}
