//! DESIGN invariant 7: a token reaches its own organisation only. Every
//! endpoint called with another organisation's token finds nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_scim_error, patch_op, spawn_app};

#[tokio::test]
async fn another_organisations_token_finds_nothing_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, other) = app.other_org("globex").await;
    let user = app
        .create_user(&json!({"userName": "secret@acme.test", "externalId": "acme-1", "emails": [{"value": "secret@acme.test"}]}))
        .await;
    let id = user["id"].as_str().unwrap();
    let path = format!("/scim/v2/Users/{id}");

    let get = app
        .request_as(&other, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_scim_error(get, StatusCode::NOT_FOUND, None).await;
    let put = app
        .request_as(&other, Method::PUT, &path)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "stolen"}).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(put, StatusCode::NOT_FOUND, None).await;
    let patch = app
        .request_as(&other, Method::PATCH, &path)
        .header("content-type", "application/scim+json")
        .body(patch_op(json!([{"op": "replace", "path": "active", "value": false}])).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(patch, StatusCode::NOT_FOUND, None).await;
    let delete = app
        .request_as(&other, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_scim_error(delete, StatusCode::NOT_FOUND, None).await;

    for filter in [
        "userName eq \"secret@acme.test\"",
        "externalId eq \"acme-1\"",
        "emails.value eq \"secret@acme.test\"",
        &format!("id eq \"{id}\""),
        "userName pr",
        "nickName eq null",
    ] {
        let list: Value = app
            .request_as(&other, Method::GET, "/scim/v2/Users")
            .query(&[("filter", filter)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["totalResults"], 0, "{filter}: {list}");
    }

    // The other organisation may use the same userName and externalId: uniqueness is per organisation.
    let response = app
        .request_as(&other, Method::POST, "/scim/v2/Users")
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "secret@acme.test", "externalId": "acme-1"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // And acme's user is untouched.
    let mine: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(mine, user);
    assert_eq!(app.list_users(&[]).await["totalResults"], 1);
}
