//! Create, read, replace, delete; ETags; uniqueness, also under a race.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_scim_error, patch_op, spawn_app};

fn bjensen() -> Value {
    // RFC 7643 §8.2 (full user representation), trimmed.
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
                 "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                   {"value": "babs@jensen.org", "type": "home"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                       "region": "CA", "postalCode": "91608", "country": "USA", "primary": true}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "password": "t1meMa$heen",
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        "entitlements": [{"value": "beta-access"}],
        "roles": [{"value": "tour-guide"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
            "division": "Theme Park", "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

#[tokio::test]
async fn create_returns_201_with_id_location_etag_and_no_password() {
    let app = spawn_app().await;
    let response = app.post("/scim/v2/Users", &bjensen()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/scim+json")
    );
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().expect("id");
    assert_eq!(
        location, body["meta"]["location"],
        "Location equals meta.location"
    );
    assert_eq!(location, app.url(&format!("/scim/v2/Users/{id}")));
    assert_eq!(etag, body["meta"]["version"]);
    assert!(etag.starts_with("W/\""), "weak ETag: {etag}");
    assert_eq!(body["meta"]["resourceType"], "User");
    assert!(body.get("password").is_none(), "password is never returned");
    assert_eq!(body["name"]["familyName"], "Jensen");
    assert_eq!(
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Tour Operations"
    );
    assert!(body["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));

    let fetched: Value = app
        .get(&format!("/scim/v2/Users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, body, "GET returns what POST returned");
}

#[tokio::test]
async fn password_is_stored_as_an_argon2id_hash_only() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "p", "password": "Correct-Horse-9"}))
        .await;
    let row = app
        .db
        .read
        .query_one_raw(Statement::from_string(
            app.db.backend(),
            format!(
                "SELECT password_hash, resource FROM accounts WHERE id = '{}'",
                user["id"].as_str().unwrap()
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let hash: String = row.try_get("", "password_hash").unwrap();
    let resource: String = row.try_get("", "resource").unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("Correct-Horse-9") && !resource.contains("Correct-Horse-9"));
    assert!(scimlink::domain::password::verify("Correct-Horse-9", &hash));
}

#[tokio::test]
async fn schemas_lists_the_extension_only_when_the_user_has_extension_data() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"], "userName": "plain"}))
        .await;
    assert_eq!(
        user["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
}

#[tokio::test]
async fn delete_is_204_and_then_404() {
    let app = spawn_app().await;
    let user = app.create_user(&json!({"userName": "gone"})).await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let response = app.delete(&path).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_scim_error(app.get(&path).await, StatusCode::NOT_FOUND, None).await;
    assert_scim_error(app.delete(&path).await, StatusCode::NOT_FOUND, None).await;
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"gone\"")]).await["totalResults"],
        0
    );
}

#[tokio::test]
async fn put_replaces_ignoring_read_only_and_unknown_attributes() {
    let app = spawn_app().await;
    let user = app.create_user(&bjensen()).await;
    let id = user["id"].as_str().unwrap();
    let response = app
        .put(
            &format!("/scim/v2/Users/{id}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "not-the-id", "meta": {"created": "yesterday", "version": "W/\"99\""},
                "groups": [{"value": "x"}], "unknownThing": 5,
                "userName": "bjensen@example.com", "name": {"givenName": "Barbara"}
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(
        body["meta"]["created"], user["meta"]["created"],
        "meta in the body is ignored"
    );
    assert_eq!(
        body["name"],
        json!({"givenName": "Barbara"}),
        "PUT replaces: familyName gone"
    );
    assert!(body.get("title").is_none() && body.get("emails").is_none());
    assert!(
        body.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .is_none()
    );
    assert!(body.get("unknownThing").is_none() && body.get("groups").is_none());
    assert_eq!(
        body["active"], true,
        "active left out of a PUT keeps its value"
    );
    assert_eq!(body["meta"]["version"], "W/\"2\"");

    let missing = app
        .put(
            &format!("/scim/v2/Users/{id}"),
            &json!({"name": {"givenName": "B"}}),
        )
        .await;
    assert_scim_error(missing, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let unknown = app
        .put("/scim/v2/Users/no-such-id", &json!({"userName": "x"}))
        .await;
    assert_scim_error(unknown, StatusCode::NOT_FOUND, None).await;
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively_and_external_id_exactly() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "Alice@Example.com", "externalId": "ext-A"}))
        .await;
    let dup = app
        .post("/scim/v2/Users", &json!({"userName": "alice@example.COM"}))
        .await;
    let body = assert_scim_error(dup, StatusCode::CONFLICT, Some("uniqueness")).await;
    assert!(body["detail"].as_str().unwrap().contains("userName"));
    let dup_ext = app
        .post(
            "/scim/v2/Users",
            &json!({"userName": "bob", "externalId": "ext-A"}),
        )
        .await;
    assert_scim_error(dup_ext, StatusCode::CONFLICT, Some("uniqueness")).await;
    // externalId is caseExact (RFC 7643 §3.1): a different case is a different id.
    app.create_user(&json!({"userName": "carol", "externalId": "EXT-a"}))
        .await;
    // Renaming onto an existing userName is refused too.
    let dave = app.create_user(&json!({"userName": "dave"})).await;
    let path = format!("/scim/v2/Users/{}", dave["id"].as_str().unwrap());
    let rename = app
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "userName", "value": "ALICE@example.com"}])),
        )
        .await;
    assert_scim_error(rename, StatusCode::CONFLICT, Some("uniqueness")).await;
    let rename_put = app.put(&path, &json!({"userName": "carol"})).await;
    assert_scim_error(rename_put, StatusCode::CONFLICT, Some("uniqueness")).await;
}

#[tokio::test]
async fn racing_creates_of_one_user_name_make_exactly_one_user() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = app.client.clone();
        let url = app.url("/scim/v2/Users");
        let token = app.token.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(json!({"userName": if i % 2 == 0 { "Race" } else { "race" }}).to_string())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"RACE\"")]).await["totalResults"],
        1
    );
}

#[tokio::test]
async fn etags_if_match_and_if_none_match() {
    let app = spawn_app().await;
    let user = app.create_user(&json!({"userName": "etag"})).await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let v1 = user["meta"]["version"].as_str().unwrap().to_string();

    let not_modified = app
        .request(Method::GET, &path)
        .header("if-none-match", &v1)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.headers()["etag"], v1.as_str());

    let ok = app
        .request(Method::GET, &path)
        .header("if-none-match", "W/\"999\"")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let change = patch_op(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
    let stale = app
        .request(Method::PATCH, &path)
        .header("if-match", "W/\"999\"")
        .header("content-type", "application/scim+json")
        .body(change.to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
    let current: Value = app.get(&path).await.json().await.unwrap();
    assert!(current.get("title").is_none(), "a 412 changes nothing");

    let fresh = app
        .request(Method::PATCH, &path)
        .header("if-match", &v1)
        .header("content-type", "application/scim+json")
        .body(change.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    let v2 = fresh.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(v1, v2, "the version changes on every change");

    let put_stale = app
        .request(Method::PUT, &path)
        .header("if-match", &v1)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "etag"}).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(put_stale, StatusCode::PRECONDITION_FAILED, None).await;
    let delete_stale = app
        .request(Method::DELETE, &path)
        .header("if-match", &v1)
        .send()
        .await
        .unwrap();
    assert_scim_error(delete_stale, StatusCode::PRECONDITION_FAILED, None).await;
    let delete = app
        .request(Method::DELETE, &path)
        .header("if-match", &v2)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "same", "title": "T"}))
        .await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let body: Value = app
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "title", "value": "T"}])),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"]["version"], user["meta"]["version"]);
    assert_eq!(body["meta"]["lastModified"], user["meta"]["lastModified"]);
}

#[tokio::test]
async fn attributes_and_excluded_attributes_apply_to_every_read_and_write() {
    let app = spawn_app().await;
    let created: Value = app
        .post("/scim/v2/Users?attributes=userName", &bjensen())
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["schemas", "id", "userName"]
    );
    let path = format!("/scim/v2/Users/{id}");

    let got: Value = app
        .get(&format!("{path}?attributes=name.familyName,emails.value"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], json!({"familyName": "Jensen"}));
    assert_eq!(
        got["emails"],
        json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
    );
    assert!(got.get("userName").is_none());

    let patched: Value = app
        .patch(
            &format!("{path}?excludedAttributes=emails,meta,name"),
            &patch_op(json!([{"op": "replace", "path": "title", "value": "X"}])),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["title"], "X");
    assert!(
        patched.get("emails").is_none()
            && patched.get("meta").is_none()
            && patched.get("name").is_none()
    );
    assert_eq!(patched["id"], id.as_str(), "id is always returned");

    let replaced: Value = app
        .put(&format!("{path}?attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), &bjensen())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        replaced["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"department": "Tour Operations"})
    );

    let listed = app
        .list_users(&[
            ("attributes", "userName"),
            ("filter", "userName eq \"bjensen@example.com\""),
        ])
        .await;
    assert_eq!(
        listed["Resources"][0].as_object().unwrap().len(),
        3,
        "{listed}"
    );
}
