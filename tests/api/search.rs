//! POST .search (RFC 7644 §3.4.3) and cursor pagination (RFC 9865).

use std::collections::{BTreeSet, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, spawn_app, spawn_app_with};

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

async fn search(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post(path, &body).await;
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path} {body}: {json}");
    json
}

#[tokio::test]
async fn search_is_a_list_in_a_body() {
    let app = spawn_app().await;
    for name in ["ann", "bob", "cid"] {
        app.create_user(&json!({"userName": name, "title": format!("T-{name}")}))
            .await;
    }
    app.post("/scim/v2/Groups", &json!({"displayName": "ann's team"}))
        .await;
    let body = search(
        &app,
        "/scim/v2/Users/.search",
        json!({"schemas": [SEARCH], "filter": "userName sw \"b\" or title eq \"T-cid\"", "attributes": ["userName"],
               "sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 10}),
    )
    .await;
    assert_eq!(body["totalResults"], 2);
    let names: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cid", "bob"]);
    assert!(
        body["Resources"][0].get("title").is_none(),
        "attributes applies"
    );

    // JSON has one number type: 1.0 is the integer 1.
    let whole = search(
        &app,
        "/scim/v2/Users/.search",
        json!({"startIndex": 2.0, "count": 1.0}),
    )
    .await;
    assert_eq!(
        (whole["startIndex"].as_u64(), whole["itemsPerPage"].as_u64()),
        (Some(2), Some(1))
    );
    let fraction = app
        .post("/scim/v2/Users/.search", &json!({"count": 1.5}))
        .await;
    assert_scim_error(fraction, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let groups = search(
        &app,
        "/scim/v2/Groups/.search",
        json!({"filter": "displayName co \"team\""}),
    )
    .await;
    assert_eq!(groups["totalResults"], 1);

    // The root spans both types; a filter on an attribute one type lacks finds nothing of it.
    let all = search(&app, "/scim/v2/.search", json!({"schemas": [SEARCH]})).await;
    assert_eq!(all["totalResults"], 4);
    let by_name = search(
        &app,
        "/scim/v2/.search",
        json!({"filter": "userName eq \"ann\""}),
    )
    .await;
    assert_eq!(by_name["totalResults"], 1);
    let by_display = search(
        &app,
        "/scim/v2/.search",
        json!({"filter": "displayName co \"ann\""}),
    )
    .await;
    assert_eq!(by_display["totalResults"], 1, "{by_display}");
    assert_eq!(
        by_display["Resources"][0]["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );
    // Paged as one list: users first, then groups.
    let page = search(
        &app,
        "/scim/v2/.search",
        json!({"startIndex": 3, "count": 2}),
    )
    .await;
    let kinds: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "Group"]);

    for (path, body, scim_type) in [
        (
            "/scim/v2/Users/.search",
            json!({"filter": "nosuch eq 1"}),
            "invalidFilter",
        ),
        (
            "/scim/v2/.search",
            json!({"filter": "nosuch eq \"x\""}),
            "invalidFilter",
        ),
        (
            "/scim/v2/Users/.search",
            json!({"count": "many"}),
            "invalidValue",
        ),
        (
            "/scim/v2/Users/.search",
            json!({"schemas": ["urn:wrong"]}),
            "invalidSyntax",
        ),
        ("/scim/v2/.search", json!({"cursor": ""}), "invalidValue"),
    ] {
        assert_scim_error(
            app.post(path, &body).await,
            StatusCode::BAD_REQUEST,
            Some(scim_type),
        )
        .await;
    }
    let no_token = app
        .client
        .post(app.url("/scim/v2/.search"))
        .header("content-type", "application/scim+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_scim_error(no_token, StatusCode::UNAUTHORIZED, None).await;
}

async fn cursor_page(
    app: &TestApp,
    path: &str,
    cursor: &str,
    count: u64,
    filter: Option<&str>,
) -> Value {
    let mut query = vec![
        ("cursor", cursor.to_string()),
        ("count", count.to_string()),
        ("attributes", "userName,displayName".into()),
    ];
    if let Some(f) = filter {
        query.push(("filter", f.to_string()));
    }
    let response = app
        .request(Method::GET, path)
        .query(&query)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cursor_walks_forward_and_back() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            app.create_user(&json!({"userName": format!("u{i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let first = cursor_page(&app, "/scim/v2/Users", "", 3, None).await;
    assert_eq!(ids(&first), created[0..3]);
    assert!(first.get("previousCursor").is_none() && first.get("startIndex").is_none());
    assert_eq!(first["totalResults"], 7);
    let second = cursor_page(
        &app,
        "/scim/v2/Users",
        first["nextCursor"].as_str().unwrap(),
        3,
        None,
    )
    .await;
    assert_eq!(ids(&second), created[3..6]);
    let third = cursor_page(
        &app,
        "/scim/v2/Users",
        second["nextCursor"].as_str().unwrap(),
        3,
        None,
    )
    .await;
    assert_eq!(ids(&third), created[6..7]);
    assert!(
        third.get("nextCursor").is_none(),
        "the last page has no next"
    );
    let back = cursor_page(
        &app,
        "/scim/v2/Users",
        third["previousCursor"].as_str().unwrap(),
        3,
        None,
    )
    .await;
    assert_eq!(ids(&back), created[3..6]);
    let back = cursor_page(
        &app,
        "/scim/v2/Users",
        back["previousCursor"].as_str().unwrap(),
        3,
        None,
    )
    .await;
    assert_eq!(ids(&back), created[0..3]);
    assert!(
        back.get("previousCursor").is_none(),
        "the first page has no previous"
    );

    // The same walk with a filter evaluated in memory.
    let first = cursor_page(&app, "/scim/v2/Users", "", 2, Some("nickName eq null")).await;
    assert_eq!(ids(&first), created[0..2]);
    let next = cursor_page(
        &app,
        "/scim/v2/Users",
        first["nextCursor"].as_str().unwrap(),
        2,
        Some("nickName eq null"),
    )
    .await;
    assert_eq!(ids(&next), created[2..4]);

    let far = base64_url(&format!("a:-8000000000000000000:{}", uuid::Uuid::new_v4()));
    for bad in ["garbage", "YTpub3Q6YW4taWQ", far.as_str()] {
        let response = app
            .request(Method::GET, "/scim/v2/Users")
            .query(&[("cursor", bad)])
            .send()
            .await
            .unwrap();
        assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidCursor")).await;
    }
    let sorted = app
        .request(Method::GET, "/scim/v2/Users")
        .query(&[("cursor", ""), ("sortBy", "userName")])
        .send()
        .await
        .unwrap();
    assert_scim_error(sorted, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let both = app
        .request(Method::GET, "/scim/v2/Users")
        .query(&[("cursor", ""), ("startIndex", "2")])
        .send()
        .await
        .unwrap();
    assert_scim_error(both, StatusCode::BAD_REQUEST, Some("invalidValue")).await;

    // Groups page by cursor too, and .search carries a cursor in its body.
    for i in 0..3 {
        app.post("/scim/v2/Groups", &json!({"displayName": format!("g{i}")}))
            .await;
    }
    let groups = cursor_page(&app, "/scim/v2/Groups", "", 2, None).await;
    assert_eq!(ids(&groups).len(), 2);
    let rest = search(
        &app,
        "/scim/v2/Groups/.search",
        json!({"cursor": groups["nextCursor"], "count": 2}),
    )
    .await;
    assert_eq!(ids(&rest).len(), 1);
}

#[tokio::test]
async fn a_cursor_walk_sees_every_surviving_user_once_under_concurrent_writes() {
    let app = spawn_app_with(|s| s.max_page_size = 50).await;
    let mut initial = Vec::new();
    for i in 0..120 {
        initial.push(
            app.create_user(&json!({"userName": format!("seed{i:03}")}))
                .await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // Deleted during the walk: every third seeded user.
    let doomed: Vec<String> = initial.iter().step_by(3).cloned().collect();
    let writer = {
        let client = app.client.clone();
        let base = app.url("/scim/v2/Users");
        let token = app.token.clone();
        let doomed = doomed.clone();
        tokio::spawn(async move {
            let mut created = Vec::new();
            for (i, id) in doomed.iter().enumerate() {
                let del = client
                    .delete(format!("{base}/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(del.status(), StatusCode::NO_CONTENT);
                let made: Value = client
                    .post(&base)
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(json!({"userName": format!("late{i:03}")}).to_string())
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                created.push(made["id"].as_str().unwrap().to_string());
                tokio::task::yield_now().await;
            }
            created
        })
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = cursor_page(&app, "/scim/v2/Users", &cursor, 7, None).await;
        seen.extend(ids(&page));
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let late = writer.await.unwrap();
    let seen_set: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen_set.len(), seen.len(), "no user is seen twice");
    let doomed: BTreeSet<&String> = doomed.iter().collect();
    for id in initial.iter().filter(|id| !doomed.contains(id)) {
        assert!(
            seen_set.contains(id),
            "a user that existed throughout was missed"
        );
    }
    assert_eq!(late.len(), doomed.len(), "the writer ran to its end");
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
