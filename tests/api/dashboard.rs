//! The dashboard over real HTTP: who may reach it, the form token and the
//! origin check on every form, admin-only pages refused to support staff on
//! the server, escaping, and that its actions are the admin API's use cases
//! (the same audit events, naming the person). tests/browser/dashboard.mjs
//! drives the same pages in Chromium.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery";

/// A browser-like client: keeps cookies, follows no redirect.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A password account with this organisation role, signed in: its id and
/// a client holding its session.
async fn staff(app: &TestApp, user_name: &str, role: &str) -> (String, reqwest::Client) {
    let client = browser();
    let id = sign_in_staff(app, user_name, role, &client).await;
    (id, client)
}

/// Makes a password account with this organisation role and signs it in
/// with `client` (which keeps the session cookie); its id.
pub(crate) async fn sign_in_staff(
    app: &TestApp,
    user_name: &str,
    role: &str,
    client: &reqwest::Client,
) -> String {
    let id = app.new_account(user_name).await;
    if role != "none" {
        let (status, body) = app
            .admin(
                Method::PUT,
                &format!("/api/v1/accounts/{id}/org-role"),
                Some(&json!({"role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["org_role"], role);
    }
    // In an organisation with SSO the account starts in SSO: switching it
    // to password issues its link; otherwise a reset does.
    let (status, switched) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/accounts/{id}/auth-mode"),
            Some(&json!({"mode": "password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    let body = match switched["reset_url"].as_str() {
        Some(_) => switched,
        None => {
            let (status, body) = app
                .admin(
                    Method::POST,
                    &format!("/api/v1/accounts/{id}/password-reset"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body
        }
    };
    let link = body["reset_url"].as_str().expect("reset_url");
    let token = link.split("token=").nth(1).expect("token");
    // The page behind the link, then its form.
    let page = client.get(link).send().await.expect("GET reset page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("Set your password")
    );
    let set = client
        .post(app.url("/reset-password"))
        .header("origin", &app.address)
        .form(&[
            ("token", token),
            ("password", PASSWORD),
            ("password2", PASSWORD),
        ])
        .send()
        .await
        .expect("POST reset");
    assert_eq!(set.status(), StatusCode::OK);
    let signed_in = client
        .post(app.url(&format!("/login/{}/password", app.org.slug)))
        .header("origin", &app.address)
        .form(&[
            ("user_name", user_name),
            ("password", PASSWORD),
            ("return_to", "/admin"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "sign-in of {user_name}"
    );
    id
}

/// Starts a test sign-in of a connection from its dashboard page, as the
/// staff member `client` holds; the redirect to the IdP.
pub(crate) async fn start_test_sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    connection_id: &str,
) -> String {
    let (status, html) = page(client, app, &format!("/admin/connections/{connection_id}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Test sign-in"), "{html}");
    let response = client
        .post(app.url(&format!("/admin/connections/{connection_id}/test")))
        .header("origin", &app.address)
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .expect("POST test");
    // A page with a link on to the IdP (a form's redirect there would meet
    // the dashboard's `form-action 'self'`).
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap_or_default();
    let at = html.find("id=\"continue\" href=\"").expect("the link on") + 20;
    let href = html[at..].split('"').next().unwrap_or_default();
    href.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.expect("GET");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

/// The form token on a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// Posts a form as a browser does from this server's page: with its `Origin`.
async fn post_form(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = client
        .post(app.url(path))
        .header("origin", &app.address)
        .form(form)
        .send()
        .await
        .expect("POST");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn only_people_with_an_organisation_role_reach_the_dashboard() {
    let app = spawn_app().await;
    // Nobody signed in: to the dashboard's sign-in page, then the org's.
    let anonymous = browser();
    let response = anonymous
        .get(app.url("/admin/users"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/admin/sign-in")
    );
    let onward = anonymous
        .get(app.url(&format!("/admin/sign-in?org={}", app.org.slug)))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        onward
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(format!("/login/{}?return_to=/admin", app.org.slug).as_str())
    );
    // Signed in without a role.
    let (_, nobody) = staff(&app, "nobody", "none").await;
    let (status, html) = page(&nobody, &app, "/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("without a dashboard role"), "{html}");
    let (status, home) = page(&nobody, &app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Signed in as nobody"), "{home}");
    assert!(!home.contains("Open the dashboard"), "{home}");

    // Support: the users, not the admin-only pages, whatever the links say.
    let (_, support) = staff(&app, "sam", "support").await;
    let (status, html) = page(&support, &app, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("/admin/scim-tokens"),
        "support sees no SCIM link"
    );
    for path in [
        "/admin/scim-tokens",
        "/admin/organisation",
        "/admin/organisation/require-sso",
        "/admin/users/new",
    ] {
        let (status, html) = page(&support, &app, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("Not allowed"), "{path}: {html}");
    }
    let csrf = csrf_of(&html);
    // Support may not take over a staff account: no reset link, no switch,
    // no new External user ID, no ending sessions of an admin's account.
    let (ada_id, admin) = staff(&app, "ada", "admin").await;
    for (path, form) in [
        (
            format!("/admin/users/{ada_id}/reset-link"),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/admin/users/{ada_id}/auth-mode"),
            vec![("csrf", csrf.as_str()), ("mode", "sso")],
        ),
        (
            format!("/admin/users/{ada_id}/external-user-id"),
            vec![("csrf", csrf.as_str()), ("value", "mine")],
        ),
        (
            format!("/admin/users/{ada_id}/sessions/end"),
            vec![("csrf", csrf.as_str())],
        ),
    ] {
        let (status, html) = post_form(&support, &app, &path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {html}");
        assert!(!html.contains("reset-password?token="), "{path}");
    }
    let (status, body) = app
        .api(
            &app.support_token,
            Method::POST,
            &format!("/api/v1/accounts/{ada_id}/password-reset"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, ada_page) = page(&support, &app, &format!("/admin/users/{ada_id}")).await;
    assert!(
        ada_page.contains("only an admin may change how this account signs in"),
        "{ada_page}"
    );
    let (status, _) = post_form(
        &support,
        &app,
        "/admin/scim-tokens",
        &[("csrf", &csrf), ("label", "sneaky")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, tokens) = app.admin(Method::GET, "/api/v1/scim-tokens", None).await;
    assert!(!tokens.to_string().contains("sneaky"), "{tokens}");

    // Admin: everything.
    for path in [
        "/admin/users",
        "/admin/scim-tokens",
        "/admin/organisation",
        "/admin/organisation/require-sso",
        "/admin/users/new",
    ] {
        let (status, html) = page(&admin, &app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
    }
    let response = admin
        .get(app.url("/admin/users"))
        .send()
        .await
        .expect("GET");
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

#[tokio::test]
async fn every_form_needs_the_session_token_and_this_origin() {
    let app = spawn_app().await;
    let (_, admin) = staff(&app, "ada", "admin").await;
    let (_, html) = page(&admin, &app, "/admin/users/new").await;
    let csrf = csrf_of(&html);
    let add = |token: String| {
        let admin = admin.clone();
        let url = app.url("/admin/users");
        let origin = app.address.clone();
        async move {
            admin
                .post(url)
                .header("origin", origin)
                .form(&[("csrf", token.as_str()), ("user_name", "mallory")])
                .send()
                .await
                .expect("POST")
                .status()
        }
    };
    assert_eq!(add("wrong".into()).await, StatusCode::FORBIDDEN);
    assert_eq!(add(String::new()).await, StatusCode::FORBIDDEN);
    // Another site's page posting with the browser's cookie.
    let foreign = admin
        .post(app.url("/admin/users"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("user_name", "mallory")])
        .send()
        .await
        .expect("POST");
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    // Another person's token is not this session's.
    let (_, other) = staff(&app, "otto", "admin").await;
    let (_, other_html) = page(&other, &app, "/admin/users/new").await;
    assert_ne!(csrf_of(&other_html), csrf);
    assert_eq!(add(csrf_of(&other_html)).await, StatusCode::FORBIDDEN);
    let (_, listed) = app
        .admin(Method::GET, "/api/v1/accounts?query=mallory", None)
        .await;
    assert_eq!(
        listed["accounts"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    // The right token works.
    assert_eq!(add(csrf).await, StatusCode::OK);
    let (_, listed) = app
        .admin(Method::GET, "/api/v1/accounts?query=mallory", None)
        .await;
    assert_eq!(
        listed["accounts"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

#[tokio::test]
async fn dashboard_actions_are_the_admin_apis_and_are_audited_as_the_person() {
    let app = spawn_app().await;
    let (ada_id, admin) = staff(&app, "ada", "admin").await;
    let (_, html) = page(&admin, &app, "/admin/users/new").await;
    let csrf = csrf_of(&html);
    // Values are escaped wherever they appear.
    let (status, created) = post_form(
        &admin,
        &app,
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("user_name", "pat"),
            ("display_name", "<script>alert(1)</script>"),
            ("email", "pat@example.com"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(!created.contains("<script>alert(1)"), "unescaped");
    assert!(created.contains("&lt;script&gt;alert(1)&lt;"), "{created}");
    // No SSO yet: a password user, whose one-time link shows once.
    assert!(created.contains("id=\"reset-link\""), "{created}");
    let (_, listed) = app
        .admin(Method::GET, "/api/v1/accounts?query=pat", None)
        .await;
    let pat: Value = listed["accounts"][0].clone();
    let pat_id = pat["id"].as_str().expect("id").to_string();
    assert_eq!(pat["source"], "admin");

    // Switch to SSO: the confirmation says what happens; the switch purges.
    let (status, confirm) = page(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/auth-mode?to=sso"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("password is deleted"), "{confirm}");
    let (status, after) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/auth-mode"),
        &[("csrf", &csrf), ("mode", "sso")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(
        after.contains("Signs in with SSO.") && after.contains("No password is set."),
        "{after}"
    );
    let (status, after) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/auth-mode"),
        &[("csrf", &csrf), ("mode", "password")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(after.contains("id=\"reset-link\""), "{after}");

    let (status, _) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/org-role"),
        &[("csrf", &csrf), ("role", "support")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/org-role"),
        &[("csrf", &csrf), ("role", "owner")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // The audit log names the person, as it names a token for the API.
    let (_, events) = app
        .admin(
            Method::GET,
            &format!("/api/v1/audit-events?target_id={pat_id}"),
            None,
        )
        .await;
    let events = events["events"].as_array().cloned().unwrap_or_default();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "account.created",
        "account.auth_mode_changed",
        "account.org_role_changed",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let by_ada = events
        .iter()
        .find(|e| e["action"] == "account.org_role_changed")
        .expect("the role change");
    assert_eq!(by_ada["actor_type"], "account");
    assert_eq!(by_ada["actor_id"], ada_id.as_str());
    assert_eq!(by_ada["actor_label"], "ada");

    // The user page shows the activity; removing needs the box ticked.
    let (_, user) = page(&admin, &app, &format!("/admin/users/{pat_id}")).await;
    assert!(user.contains("account.org_role_changed"), "{user}");
    let (status, _) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{pat_id}/delete"),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = page(&admin, &app, &format!("/admin/users/{pat_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An account an IdP provisions names its SCIM token, and is not
    // editable here (the IdP's next push would undo it).
    let provisioned = app
        .create_user(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "scimmed",
        }))
        .await;
    let (_, listed) = page(&admin, &app, "/admin/users?source=scim").await;
    assert!(
        listed.contains(">scimmed<") && listed.contains("<td>test</td>"),
        "{listed}"
    );
    let (_, user) = page(
        &admin,
        &app,
        &format!(
            "/admin/users/{}",
            provisioned["id"].as_str().unwrap_or_default()
        ),
    )
    .await;
    assert!(
        user.contains("(test) manages this user") && !user.contains("Save profile"),
        "{user}"
    );
    // An account scimlink manages is edited here, through the same use case.
    let zed = app.new_account("zed").await;
    let (status, edited) = post_form(
        &admin,
        &app,
        &format!("/admin/users/{zed}/profile"),
        &[
            ("csrf", &csrf),
            ("user_name", "zed"),
            ("display_name", "Zed Zee"),
            ("email", "zed@example.com"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let (_, account) = app
        .admin(Method::GET, &format!("/api/v1/accounts/{zed}"), None)
        .await;
    assert_eq!(account["display_name"], "Zed Zee");
    // Unticked "Active" deactivates.
    assert_eq!(account["active"], false, "{account}");

    // Filters narrow the list; a bad cursor is a page, not an error.
    let (_, sso_only) = page(&admin, &app, "/admin/users?auth_mode=sso").await;
    assert!(!sso_only.contains(">zed<"), "{sso_only}");
    let (_, by_name) = page(&admin, &app, "/admin/users?q=zed").await;
    assert!(
        by_name.contains(">zed<") && !by_name.contains(">ada<"),
        "{by_name}"
    );
    let (status, _) = page(&admin, &app, "/admin/users?cursor=%%%").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Signing out needs the session's token too, then ends the session.
    let (status, _) = post_form(&admin, &app, "/sign-out", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post_form(&admin, &app, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let response = admin
        .get(app.url("/admin/users"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_require_sso_preview_lists_the_accounts_that_would_move() {
    let app = spawn_app().await;
    let (_, admin) = staff(&app, "ada", "admin").await;
    // Ada keeps her password as break-glass; two others would move.
    let (_, listed) = app
        .admin(Method::GET, "/api/v1/accounts?query=ada", None)
        .await;
    let ada = listed["accounts"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.admin(
        Method::PUT,
        &format!("/api/v1/accounts/{ada}/break-glass"),
        Some(&json!({"enabled": true})),
    )
    .await;
    app.new_account("bob").await;
    app.new_account("cy").await;
    let (_, html) = page(&admin, &app, "/admin/organisation").await;
    let csrf = csrf_of(&html);
    let (status, saved) = post_form(
        &admin,
        &app,
        "/admin/organisation",
        &[
            ("csrf", &csrf),
            ("name", "Acme"),
            ("sso_enabled", "1"),
            ("session_ttl_hours", "8"),
            ("session_idle_minutes", "30"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved.contains("Settings saved."), "{saved}");
    let (_, org) = app.admin(Method::GET, "/api/v1/org", None).await;
    assert_eq!(org["sso_enabled"], true);
    assert_eq!(org["session_ttl_seconds"], 8 * 3600);
    assert_eq!(org["session_idle_seconds"], 30 * 60);
    let (status, preview) = page(&admin, &app, "/admin/organisation/require-sso").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        preview.contains("This moves 2 accounts to SSO"),
        "{preview}"
    );
    assert!(
        preview.contains("<li>bob</li>") && preview.contains("<li>cy</li>"),
        "{preview}"
    );
    assert!(!preview.contains("<li>ada</li>"), "{preview}");
    let (status, done) = post_form(
        &admin,
        &app,
        "/admin/organisation/require-sso",
        &[("csrf", &csrf), ("required", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("2 accounts moved to SSO"), "{done}");
    // Ada, break-glass, is still signed in with her password.
    let (status, _) = page(&admin, &app, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reset_links_are_used_once_and_bad_ones_say_so() {
    let app = spawn_app().await;
    let client = browser();
    let (status, html) = post_form(
        &client,
        &app,
        "/reset-password",
        &[
            ("token", "reset_nope"),
            ("password", PASSWORD),
            ("password2", PASSWORD),
        ],
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    assert!(
        html.contains("Set your password") && html.contains("role=\"alert\""),
        "{html}"
    );
    let (status, html) = post_form(
        &client,
        &app,
        "/reset-password",
        &[
            ("token", "x"),
            ("password", PASSWORD),
            ("password2", "different one"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("The two passwords differ."), "{html}");
    let json_post = client
        .post(app.url("/reset-password"))
        .header("origin", &app.address)
        .json(&json!({"token": "x"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(json_post.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_form_without_this_origin_or_referer_is_refused() {
    let app = spawn_app().await;
    let (_, admin) = staff(&app, "ada", "admin").await;
    let (_, html) = page(&admin, &app, "/admin/users/new").await;
    let csrf = csrf_of(&html);
    let ours = app.url("/admin/users/new");
    let add = |user_name: &'static str, headers: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        let url = app.url("/admin/users");
        let csrf = csrf.clone();
        async move {
            let mut request = admin.post(url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request
                .form(&[("csrf", csrf.as_str()), ("user_name", user_name)])
                .send()
                .await
                .expect("POST")
                .status()
        }
    };
    // Neither Origin nor Referer: a forged form looks just like this.
    assert_eq!(add("mallory", vec![]).await, StatusCode::FORBIDDEN);
    // A Referer from another site, from this port under another host name,
    // or not a URL.
    for referer in [
        "https://evil.example/admin/users/new".to_string(),
        ours.replace("127.0.0.1", "localhost"),
        "not a url".to_string(),
    ] {
        assert_eq!(
            add("mallory", vec![("referer", referer.clone())]).await,
            StatusCode::FORBIDDEN,
            "{referer}"
        );
    }
    // Another site's Origin is refused whatever the Referer says.
    assert_eq!(
        add(
            "mallory",
            vec![
                ("origin", "https://evil.example".into()),
                ("referer", ours.clone())
            ]
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // `Origin: null` counts only with the browser's own same-origin mark.
    assert_eq!(
        add("mallory", vec![("origin", "null".into())]).await,
        StatusCode::FORBIDDEN
    );
    let (_, listed) = app
        .admin(Method::GET, "/api/v1/accounts?query=mallory", None)
        .await;
    assert_eq!(
        listed["accounts"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    // This server's Referer (a browser that sends no Origin), or `Origin:
    // null` from a same-origin page, is one of ours.
    assert_eq!(
        add("pat", vec![("referer", ours.clone())]).await,
        StatusCode::OK
    );
    assert_eq!(
        add(
            "quinn",
            vec![
                ("origin", "null".into()),
                ("sec-fetch-site", "same-origin".into())
            ]
        )
        .await,
        StatusCode::OK
    );

    // The sign-in, reset and sign-out forms hold to the same rule.
    let anonymous = browser();
    for (path, form) in [
        (
            format!("/login/{}/password", app.org.slug),
            vec![("user_name", "ada"), ("password", PASSWORD)],
        ),
        (
            "/reset-password".to_string(),
            vec![
                ("token", "reset_nope"),
                ("password", PASSWORD),
                ("password2", PASSWORD),
            ],
        ),
        ("/sign-out".to_string(), vec![("csrf", csrf.as_str())]),
    ] {
        let response = anonymous
            .post(app.url(&path))
            .form(&form)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let signed_in = anonymous
        .post(app.url(&format!("/login/{}/password", app.org.slug)))
        .header("referer", app.url(&format!("/login/{}", app.org.slug)))
        .form(&[("user_name", "ada"), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    // Without Origin or Referer, sign-out leaves the session alone.
    let (_, users) = page(&admin, &app, "/admin/users").await;
    let token = csrf_of(&users);
    let response = admin
        .post(app.url("/sign-out"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(page(&admin, &app, "/admin/users").await.0, StatusCode::OK);
}
