//! PATCH over HTTP: forms IdPs send, all-or-nothing, and no lost updates.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_scim_error, patch_op, spawn_app};

#[tokio::test]
async fn operations_apply_in_order_and_return_the_full_resource() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "p1", "emails": [{"value": "w@x.com", "type": "work", "primary": true}]}))
        .await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let response = app
        .patch(
            &path,
            &patch_op(json!([
                {"op": "add", "path": "title", "value": "first"},
                {"op": "replace", "path": "title", "value": "second"},
                {"op": "add", "path": "emails", "value": [{"value": "h@x.com", "type": "home"}]},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w2@x.com"},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "add", "value": {"nickName": "Nick", "name.familyName": "Fam"}},
                {"op": "Replace", "path": "active", "value": "False"}
            ])),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "second");
    assert_eq!(
        body["emails"],
        json!([{"value": "w2@x.com", "type": "work", "primary": true}])
    );
    assert_eq!(body["nickName"], "Nick");
    assert_eq!(body["name"]["familyName"], "Fam");
    assert_eq!(body["active"], false);
    assert_eq!(body["userName"], "p1");
    assert!(body["meta"]["version"].is_string());
    // The indexed email side table follows the change: the new work email filters.
    let found = app
        .list_users(&[(
            "filter",
            "emails[type eq \"work\" and value eq \"w2@x.com\"]",
        )])
        .await;
    assert_eq!(found["totalResults"], 1);
    let gone = app
        .list_users(&[("filter", "emails.value eq \"w@x.com\"")])
        .await;
    assert_eq!(gone["totalResults"], 0);
}

#[tokio::test]
async fn a_failing_operation_applies_nothing() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "atomic", "title": "before"}))
        .await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let cases = [
        (
            json!([{"op": "replace", "path": "title", "value": "after"}, {"op": "replace", "path": "nosuch", "value": 1}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "after"}, {"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "after"}, {"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "after"}, {"op": "remove"}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "after"}, {"op": "jump", "path": "title"}]),
            "invalidSyntax",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "after"}, {"op": "replace", "path": "active", "value": "sometimes"}]),
            "invalidValue",
        ),
    ];
    for (ops, scim_type) in cases {
        let response = app.patch(&path, &patch_op(ops.clone())).await;
        assert_scim_error(response, StatusCode::BAD_REQUEST, Some(scim_type)).await;
        let now: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(now["title"], "before", "{ops}");
        assert_eq!(now["meta"]["version"], user["meta"]["version"], "{ops}");
    }
    let not_patch = app
        .patch(
            &path,
            &json!({"schemas": ["urn:example"], "Operations": []}),
        )
        .await;
    assert_scim_error(not_patch, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
    let missing = app
        .patch(
            "/scim/v2/Users/nope",
            &patch_op(json!([{"op": "replace", "path": "title", "value": "x"}])),
        )
        .await;
    assert_scim_error(missing, StatusCode::NOT_FOUND, None).await;
}

#[tokio::test]
async fn password_patch_sets_a_new_hash_and_is_never_echoed() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "pw", "password": "first-Password-1"}))
        .await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let body: Value = app
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "password", "value": "second-Password-2"}])),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("password").is_none());
    assert_ne!(
        body["meta"]["version"], user["meta"]["version"],
        "a password change is a change"
    );
}

#[tokio::test]
async fn concurrent_patches_lose_nothing() {
    let app = spawn_app().await;
    let user = app.create_user(&json!({"userName": "busy"})).await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url(&path);
        let token = app.token.clone();
        tasks.push(tokio::spawn(async move {
            let body = patch_op(json!([{"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x.com")}]}]));
            client
                .patch(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let body: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(body["emails"].as_array().unwrap().len(), 24, "{body}");
    assert_eq!(
        body["meta"]["version"], "W/\"25\"",
        "one version per change"
    );
}
