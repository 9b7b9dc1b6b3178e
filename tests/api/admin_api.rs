//! The admin REST API: support vs admin, route by route; organisation
//! scoping; workspaces; SCIM tokens; the audit log's filters and cursor;
//! JSON error bodies; mail through SMTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn new_account(app: &TestApp, user_name: &str) -> String {
    app.new_account(user_name).await
}

/// Every route a support token may not call, with a body that would be valid.
fn admin_only(account: &str, workspace: &str, link: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::PATCH,
            "/api/v1/org".into(),
            Some(json!({"jit_provisioning": true})),
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({"user_name": "new-one"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/accounts/{account}"),
            Some(json!({"display_name": "X"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{account}/break-glass"),
            Some(json!({"enabled": true})),
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{account}/identities"),
            Some(json!({"issuer": "https://other.example", "subject": "s"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/accounts/{account}/identities/{link}"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/workspaces".into(),
            Some(json!({"slug": "sandbox"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/workspaces/{workspace}"),
            Some(json!({"name": "Prod"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/workspaces/{workspace}/members/{account}"),
            Some(json!({"role": "viewer"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/workspaces/{workspace}/members/{account}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/workspaces/{workspace}"),
            None,
        ),
        (Method::GET, "/api/v1/scim-tokens".into(), None),
        (
            Method::POST,
            "/api/v1/scim-tokens".into(),
            Some(json!({"label": "x"})),
        ),
        (
            Method::DELETE,
            "/api/v1/scim-tokens/00000000-0000-0000-0000-000000000000".into(),
            None,
        ),
        (Method::DELETE, format!("/api/v1/accounts/{account}"), None),
    ]
}

/// Routes a support token may call, with the status they answer.
fn support_allowed(
    account: &str,
    workspace: &str,
) -> Vec<(Method, String, Option<Value>, StatusCode)> {
    vec![
        (Method::GET, "/api/v1/org".into(), None, StatusCode::OK),
        (
            Method::GET,
            "/api/v1/org/require-sso-preview".into(),
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/api/v1/accounts".into(), None, StatusCode::OK),
        (
            Method::GET,
            format!("/api/v1/accounts/{account}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{account}/identities"),
            None,
            StatusCode::OK,
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{account}/external-user-id"),
            Some(json!({"value": "E-1"})),
            StatusCode::OK,
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{account}/password-reset"),
            None,
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{account}/auth-mode"),
            Some(json!({"mode": "sso"})),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/workspaces".into(),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/v1/workspaces/{workspace}"),
            None,
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/v1/workspaces/{workspace}/members"),
            None,
            StatusCode::OK,
        ),
        (Method::GET, "/api/v1/outbox".into(), None, StatusCode::OK),
        (
            Method::GET,
            "/api/v1/audit-events".into(),
            None,
            StatusCode::OK,
        ),
    ]
}

async fn default_workspace(app: &TestApp) -> String {
    let (_, body) = app.admin(Method::GET, "/api/v1/workspaces", None).await;
    body["workspaces"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn support_may_read_switch_reset_and_edit_external_ids_and_nothing_else() {
    let app = spawn_app().await;
    let account = new_account(&app, "ada").await;
    let workspace = default_workspace(&app).await;
    let (status, link) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{account}/identities"),
            Some(&json!({"issuer": "https://i.example", "subject": "ada"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let link = link["id"].as_str().unwrap().to_string();
    for (method, path, body) in admin_only(&account, &workspace, &link) {
        let (status, answer) = app
            .api(&app.support_token, method.clone(), &path, body.as_ref())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "support {method} {path}: {answer}"
        );
        assert_eq!(answer["error"], "forbidden", "{method} {path}");
    }
    for (method, path, body, expected) in support_allowed(&account, &workspace) {
        let (status, answer) = app
            .api(&app.support_token, method.clone(), &path, body.as_ref())
            .await;
        assert_eq!(status, expected, "support {method} {path}: {answer}");
    }
    // The admin token may do what support may not (each in turn, on live
    // objects; the workspace created first lets the default one be deleted).
    for (method, path, body) in admin_only(&account, &workspace, &link) {
        let (status, answer) = app.admin(method.clone(), &path, body.as_ref()).await;
        assert!(
            status.is_success() || status == StatusCode::NOT_FOUND,
            "admin {method} {path}: {status} {answer}"
        );
    }
}

#[tokio::test]
async fn tokens_reach_their_own_organisation_only_and_do_not_cross_apis() {
    let app = spawn_app().await;
    let account = new_account(&app, "ada").await;
    let (other, other_scim) = app.other_org("globex").await;
    let (_, other_admin) = scimlink::service::admin_tokens::create(
        &app.db,
        &other,
        scimlink::domain::AdminRole::Admin,
        "globex admin",
    )
    .await
    .unwrap();
    // Another organisation's admin token does not see the account.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/accounts/{account}"), None),
        (
            Method::PUT,
            format!("/api/v1/accounts/{account}/auth-mode"),
            Some(json!({"mode": "sso"})),
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{account}/password-reset"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/accounts/{account}"), None),
    ] {
        let (status, answer) = app
            .api(&other_admin, method.clone(), &path, body.as_ref())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (_, listed) = app
        .api(&other_admin, Method::GET, "/api/v1/accounts", None)
        .await;
    assert_eq!(listed["accounts"], json!([]));
    let (_, events) = app
        .api(&other_admin, Method::GET, "/api/v1/audit-events", None)
        .await;
    assert_eq!(events["events"], json!([]));
    // A SCIM token is no admin token, and an admin token is no SCIM token.
    for token in [&app.token, &other_scim] {
        let (status, answer) = app.api(token, Method::GET, "/api/v1/org", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error"], "unauthorized");
    }
    let response = app
        .request_as(&app.admin_token, Method::GET, "/scim/v2/Users")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A SCIM token revoked through the API stops working.
    let (status, token) = app
        .admin(
            Method::POST,
            "/api/v1/scim-tokens",
            Some(&json!({"label": "Okta"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().unwrap();
    let ok = app
        .request_as(secret, Method::GET, "/scim/v2/Users")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let (_, listed) = app.admin(Method::GET, "/api/v1/scim-tokens", None).await;
    assert!(listed.to_string().contains("Okta"));
    assert!(
        !listed.to_string().contains(secret),
        "secrets are shown once"
    );
    let (status, _) = app
        .api(
            &other_admin,
            Method::DELETE,
            &format!("/api/v1/scim-tokens/{}", token["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not another organisation's token"
    );
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/scim-tokens/{}", token["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = app
        .request_as(secret, Method::GET, "/scim/v2/Users")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_input_gets_a_json_error_never_a_500() {
    let app = spawn_app().await;
    let account = new_account(&app, "ada").await;
    let cases: Vec<(Method, String, Option<&str>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some("{"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(r#"{"user_name": 5}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(r#"{"user_name": "x", "colour": "red"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(r#"{"user_name": "ada"}"#),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(r#"{"user_name": "b", "email": "not-an-email"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{account}/auth-mode"),
            Some(r#"{"mode": "ldap"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::PATCH,
            "/api/v1/org".into(),
            Some(r#"{"session_ttl_seconds": 1}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/accounts?limit=0".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/accounts?cursor=%%%".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/accounts?bogus=1".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/audit-events?cursor=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/api/v1/accounts/not-a-uuid".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/api/v1/nothing-here".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            "/api/v1/org".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/auth/password/login".into(),
            Some(r#"{"org": "acme"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/auth/password/reset".into(),
            Some(r#"{"token": "x", "new_password": "long enough pass"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_token",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let mut request = app.request_as(&app.admin_token, method.clone(), &path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path} {body:?}");
        assert!(
            crate::helpers::content_type(&response).starts_with("application/json"),
            "{method} {path}"
        );
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], code, "{method} {path}: {answer}");
        assert!(answer["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

#[tokio::test]
async fn accounts_are_listed_searched_paged_edited_and_removed() {
    let app = spawn_app().await;
    for name in ["carol", "alice", "bob", "dave", "erin"] {
        new_account(&app, name).await;
    }
    let (_, page) = app
        .admin(Method::GET, "/api/v1/accounts?limit=2", None)
        .await;
    let names = |page: &Value| -> Vec<String> {
        page["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["user_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&page), ["alice", "bob"]);
    let mut all = names(&page);
    let mut cursor = page["next_cursor"].as_str().map(str::to_string);
    while let Some(c) = cursor {
        let (_, next) = app
            .admin(
                Method::GET,
                &format!("/api/v1/accounts?limit=2&cursor={c}"),
                None,
            )
            .await;
        all.extend(names(&next));
        cursor = next["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(all, ["alice", "bob", "carol", "dave", "erin"]);
    let (_, found) = app
        .admin(Method::GET, "/api/v1/accounts?query=ER", None)
        .await;
    assert_eq!(names(&found), ["erin"]);
    let (_, found) = app
        .admin(Method::GET, "/api/v1/accounts?query=%25", None)
        .await;
    assert_eq!(
        names(&found),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );

    let id = found_id(&app, "bob").await;
    let (status, edited) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/accounts/{id}"),
            Some(&json!({"display_name": "Bob B", "email": "robert@example.com", "active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["email"], "robert@example.com");
    assert_eq!(edited["active"], false);
    // The SCIM face shows the same account.
    let user: Value = app
        .get(&format!("/scim/v2/Users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["displayName"], "Bob B");
    assert_eq!(user["emails"][0]["value"], "robert@example.com");
    assert_eq!(user["active"], false);
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/accounts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/scim/v2/Users/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn found_id(app: &TestApp, name: &str) -> String {
    let (_, found) = app
        .admin(Method::GET, &format!("/api/v1/accounts?query={name}"), None)
        .await;
    found["accounts"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn one_account_belongs_to_production_and_sandbox_with_a_role_in_each() {
    let app = spawn_app().await;
    let ada = new_account(&app, "ada").await;
    let production = default_workspace(&app).await;
    let (status, sandbox) = app
        .admin(
            Method::POST,
            "/api/v1/workspaces",
            Some(&json!({"slug": "sandbox", "name": "Sandbox"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sandbox}");
    let sandbox = sandbox["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/workspaces",
            Some(&json!({"slug": "sandbox"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    for (workspace, role) in [(&production, "viewer"), (&sandbox, "admin")] {
        let (status, member) = app
            .admin(
                Method::PUT,
                &format!("/api/v1/workspaces/{workspace}/members/{ada}"),
                Some(&json!({"role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{member}");
        assert_eq!(member["role"], role);
    }
    let (_, account) = app
        .admin(Method::GET, &format!("/api/v1/accounts/{ada}"), None)
        .await;
    let roles: Vec<(String, String)> = account["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["slug"].as_str().unwrap().into(),
                w["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("default".into(), "viewer".into()),
            ("sandbox".into(), "admin".into())
        ]
    );
    let (_, members) = app
        .admin(
            Method::GET,
            &format!("/api/v1/workspaces/{sandbox}/members"),
            None,
        )
        .await;
    assert_eq!(members["members"][0]["user_name"], "ada");
    let (status, _) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/workspaces/{sandbox}/members/{ada}"),
            Some(&json!({"role": "owner"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/workspaces/{sandbox}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/workspaces/{production}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the last workspace stays: {body}"
    );
}

#[tokio::test]
async fn the_audit_log_records_scim_and_admin_writes_and_pages_newest_first() {
    let app = spawn_app().await;
    let user = app.create_user(&json!({"userName": "scim-user"})).await;
    let id = user["id"].as_str().unwrap();
    app.patch(
        &format!("/scim/v2/Users/{id}"),
        &crate::helpers::patch_op(json!([{"op": "replace", "path": "displayName", "value": "S"}])),
    )
    .await;
    let group = app
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "G", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(group.status(), StatusCode::CREATED);
    new_account(&app, "admin-made").await;

    let (_, all) = app
        .admin(Method::GET, "/api/v1/audit-events?limit=2", None)
        .await;
    assert_eq!(all["events"].as_array().unwrap().len(), 2);
    let mut actions: Vec<String> = Vec::new();
    let mut page = all;
    loop {
        actions.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_string()),
        );
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        page = app
            .admin(
                Method::GET,
                &format!("/api/v1/audit-events?limit=2&cursor={cursor}"),
                None,
            )
            .await
            .1;
    }
    assert_eq!(
        actions,
        [
            "account.created",
            "group.created",
            "account.updated",
            "account.created"
        ]
    );
    let (_, scim_only) = app
        .admin(
            Method::GET,
            &format!("/api/v1/audit-events?target_id={id}"),
            None,
        )
        .await;
    let events = scim_only["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["actor_type"] == "scim_token" && e["actor_label"] == "test")
    );
    assert_eq!(events[0]["summary"]["changed"], json!(["displayName"]));
    let (_, by_prefix) = app
        .admin(Method::GET, "/api/v1/audit-events?action=group.*", None)
        .await;
    assert_eq!(by_prefix["events"].as_array().unwrap().len(), 1);
}

/// A one-message SMTP server: answers the dialogue and returns what it got.
async fn fake_smtp() -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut received = String::new();
        write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    write.write_all(b"250 queued\r\n").await.unwrap();
                } else {
                    received.push_str(&line);
                    received.push('\n');
                }
                continue;
            }
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let answer: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 fake\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"250 ok\r\n",
            };
            write.write_all(answer).await.unwrap();
        }
        received
    });
    (url, handle)
}

#[tokio::test]
async fn with_smtp_configured_the_reset_link_is_mailed_and_recorded_as_sent() {
    let (smtp_url, received) = fake_smtp().await;
    let app = spawn_app_with(|s| {
        s.smtp_url = Some(smtp_url);
        s.mail_from = "scimlink <no-reply@example.com>".into();
    })
    .await;
    let id = new_account(&app, "ada").await;
    let (status, issued) = app
        .admin(
            Method::POST,
            &format!("/api/v1/accounts/{id}/password-reset"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let mail = tokio::time::timeout(std::time::Duration::from_secs(20), received)
        .await
        .expect("mail within 20 s")
        .unwrap();
    let token = issued["reset_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap();
    // Quoted-printable may fold long lines: compare without soft breaks.
    let unfolded = mail.replace("=\n", "");
    assert!(unfolded.contains(token), "{mail}");
    assert!(
        mail.to_ascii_lowercase().contains("to: ada@example.com"),
        "{mail}"
    );
    let (_, outbox) = app.admin(Method::GET, "/api/v1/outbox", None).await;
    assert_eq!(outbox["messages"][0]["status"], "sent", "{outbox}");
}
