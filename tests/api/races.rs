//! Races between membership changes and deletions: on PostgreSQL these once
//! could deadlock, hit a foreign key or slip a cycle past its check. Every
//! answer must be a deliberate one (never a 500), and no cycle may remain.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patch_op, spawn_app};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
) -> StatusCode {
    let mut request = app
        .client
        .request(method, app.url(&path))
        .bearer_auth(&app.token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn adding_members_while_they_are_deleted() {
    let app = spawn_app().await;
    let group: Value = app
        .post("/scim/v2/Groups", &json!({"displayName": "g"}))
        .await
        .json()
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap().to_string();
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(
            app.create_user(&json!({"userName": format!("r{i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut tasks = Vec::new();
    for uid in &users {
        let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
        let (a, b) = (app_clone(&app), app_clone(&app));
        let (g, u) = (gid.clone(), uid.clone());
        tasks.push(tokio::spawn(async move {
            send(
                &a,
                reqwest::Method::PATCH,
                format!("/scim/v2/Groups/{g}?excludedAttributes=members"),
                Some(add),
            )
            .await
        }));
        tasks.push(tokio::spawn(async move {
            send(
                &b,
                reqwest::Method::DELETE,
                format!("/scim/v2/Users/{u}"),
                None,
            )
            .await
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            [
                StatusCode::OK,
                StatusCode::NO_CONTENT,
                StatusCode::BAD_REQUEST
            ]
            .contains(&status),
            "a race answered {status}"
        );
    }
    let group: Value = app
        .get(&format!("/scim/v2/Groups/{gid}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        group.get("members").is_none(),
        "every user was deleted, so no member remains: {group}"
    );
}

#[tokio::test]
async fn opposing_nestings_cannot_both_win() {
    let app = spawn_app().await;
    for round in 0..10 {
        let a: Value = app
            .post(
                "/scim/v2/Groups",
                &json!({"displayName": format!("a{round}")}),
            )
            .await
            .json()
            .await
            .unwrap();
        let b: Value = app
            .post(
                "/scim/v2/Groups",
                &json!({"displayName": format!("b{round}")}),
            )
            .await
            .json()
            .await
            .unwrap();
        let (a, b) = (
            a["id"].as_str().unwrap().to_string(),
            b["id"].as_str().unwrap().to_string(),
        );
        let nest = |parent: String, child: String| {
            let app = app_clone(&app);
            tokio::spawn(async move {
                let body = patch_op(
                    json!([{"op": "add", "path": "members", "value": [{"value": child, "type": "Group"}]}]),
                );
                send(
                    &app,
                    reqwest::Method::PATCH,
                    format!("/scim/v2/Groups/{parent}"),
                    Some(body),
                )
                .await
            })
        };
        let (one, two) = (nest(a.clone(), b.clone()), nest(b.clone(), a.clone()));
        let statuses = [one.await.unwrap(), two.await.unwrap()];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?}"
        );
        assert!(statuses.contains(&StatusCode::BAD_REQUEST), "{statuses:?}");
    }
}

/// A second handle on the same server, for spawned tasks.
fn app_clone(app: &TestApp) -> TestApp {
    TestApp {
        address: app.address.clone(),
        client: app.client.clone(),
        token: app.token.clone(),
        org: app.org.clone(),
        admin_token: app.admin_token.clone(),
        support_token: app.support_token.clone(),
        clock: app.clock.clone(),
        db: app.db.clone(),
        _dir: None,
    }
}
