//! The product events feed (`GET /api/v1/events`): an event for each change,
//! in the change's transaction, read in commit order without gaps or
//! duplicates, scoped to the organisation, with a bounded long poll and a
//! retention that answers 410 to a cursor it overtook.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, patch_op, spawn_app};

/// One page of events as the admin token reads it.
async fn page(app: &TestApp, query: &str) -> (StatusCode, Value) {
    app.admin(Method::GET, &format!("/api/v1/events?{query}"), None)
        .await
}

/// Every event from the beginning, in order.
async fn all_events(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    let mut query = "limit=1000".to_string();
    loop {
        let (status, body) = page(app, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let data = body["data"].as_array().expect("data").clone();
        let cursor = body["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_string();
        let done = data.is_empty();
        out.extend(data);
        if done {
            return out;
        }
        query = format!("limit=1000&after={cursor}");
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect()
}

#[tokio::test]
async fn account_changes_write_events_carrying_the_account() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"userName": "ada", "externalId": "okta-ada",
            "emails": [{"value": "ada@example.com", "primary": true}]}))
        .await;
    let id = user["id"].as_str().unwrap();
    let path = format!("/scim/v2/Users/{id}");
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada L"}]));
    assert_eq!(app.patch(&path, &rename).await.status(), StatusCode::OK);
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(app.patch(&path, &off).await.status(), StatusCode::OK);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);

    let events = all_events(&app).await;
    assert_eq!(
        types(&events),
        [
            "account.created",
            "account.updated",
            "account.updated",
            "account.deactivated",
            "account.deleted"
        ],
        "{events:#?}"
    );
    let created = &events[0];
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    assert!(created["occurred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["organization"]["slug"], "acme");
    assert_eq!(created["organization"]["id"], app.org.id);
    assert_eq!(created["actor"]["type"], "scim_token");
    assert_eq!(created["actor"]["label"], "test");
    let account = &created["data"]["account"];
    assert_eq!(account["id"], id);
    assert_eq!(account["user_name"], "ada");
    assert_eq!(account["external_id"], "okta-ada");
    assert_eq!(account["emails"][0]["value"], "ada@example.com");
    assert_eq!(account["active"], true);
    assert!(account["auth_mode"].is_string(), "{account}");
    assert!(account["workspaces"].is_array(), "{account}");
    assert_eq!(events[1]["data"]["changed"], json!(["displayName"]));
    assert_eq!(events[1]["data"]["account"]["display_name"], "Ada L");
    assert_eq!(events[2]["data"]["changed"], json!(["active"]));
    assert_eq!(events[3]["data"]["account"]["active"], false);
    assert_eq!(events[4]["data"]["account"]["id"], id);
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");

    // Filters: a prefix and an exact type.
    let (_, body) = page(&app, "types=account.de*").await;
    assert_eq!(
        types(body["data"].as_array().unwrap()),
        ["account.deactivated", "account.deleted"]
    );
    let (_, body) = page(&app, "types=account.created,account.deleted").await;
    assert_eq!(
        types(body["data"].as_array().unwrap()),
        ["account.created", "account.deleted"]
    );
    // At the head, the cursor stays put and is still given.
    let (_, head) = page(&app, "").await;
    let cursor = head["next_cursor"].as_str().unwrap().to_string();
    let (_, empty) = page(&app, &format!("after={cursor}")).await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["next_cursor"], cursor);
}

#[tokio::test]
async fn group_changes_write_events_with_member_ids() {
    let app = spawn_app().await;
    let a = app.create_user(&json!({"userName": "a"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.create_user(&json!({"userName": "b"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group: Value = app
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "eng", "externalId": "g-eng", "members": [{"value": a}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap();
    let path = format!("/scim/v2/Groups/{gid}");
    let swap = patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": b}]},
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
    ]));
    assert!(app.patch(&path, &swap).await.status().is_success());
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Eng"}]));
    assert!(app.patch(&path, &rename).await.status().is_success());
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);

    let (_, body) = page(&app, "types=group.*").await;
    let events = body["data"].as_array().unwrap();
    assert_eq!(
        types(events),
        [
            "group.created",
            "group.members_added",
            "group.members_added",
            "group.members_removed",
            "group.updated",
            "group.deleted"
        ],
        "{body:#}"
    );
    assert_eq!(events[0]["data"]["group"]["external_id"], "g-eng");
    assert_eq!(events[1]["data"]["member_ids"], json!([a]));
    assert_eq!(events[2]["data"]["member_ids"], json!([b]));
    assert_eq!(events[3]["data"]["member_ids"], json!([a]));
    assert_eq!(events[4]["data"]["group"]["display_name"], "Eng");
    assert_eq!(events[5]["data"]["group"]["id"], gid);
    assert_eq!(events[5]["data"]["group"]["external_id"], "g-eng");
}

#[tokio::test]
async fn a_refused_change_writes_no_event() {
    let app = spawn_app().await;
    let group: Value = app
        .post("/scim/v2/Groups", &json!({"displayName": "ops"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/scim/v2/Groups/{}", group["id"].as_str().unwrap());
    let before = all_events(&app).await.len();
    // The rename applies first, then the unknown member refuses the request.
    let half = patch_op(json!([
        {"op": "replace", "path": "displayName", "value": "renamed"},
        {"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4().to_string()}]},
    ]));
    assert_eq!(
        app.patch(&path, &half).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(all_events(&app).await.len(), before, "a refused PATCH");

    // The outbox itself: an event written in a transaction that rolls back
    // is gone with it; committed, it is there.
    let scope = scimlink::service::OrgScope::new(
        &app.org.id,
        scimlink::service::Actor::System,
        &Default::default(),
    );
    let account = app.create_user(&json!({"userName": "rolled"})).await;
    let before = all_events(&app).await.len();
    let event = || scimlink::service::audit::Event {
        action: "account.deactivated",
        target_type: "account",
        target_id: account["id"].as_str(),
        summary: json!({}),
    };
    let txn = app.db.begin().await.unwrap();
    scimlink::service::audit::record(&txn, &scope, chrono::Utc::now(), event())
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(all_events(&app).await.len(), before, "rolled back");
    let txn = app.db.begin().await.unwrap();
    scimlink::service::audit::record(&txn, &scope, chrono::Utc::now(), event())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let after = all_events(&app).await;
    assert_eq!(after.len(), before + 1, "committed");
    assert_eq!(after[before]["actor"]["type"], "system");
}

/// Many writers at once and a reader at the head: the reader sees every
/// event exactly once, although on PostgreSQL the writers commit out of
/// order.
#[tokio::test]
async fn a_reader_at_the_head_sees_every_event_once_under_concurrent_writers() {
    const WRITERS: usize = 8;
    const EACH: usize = 12;
    let app = spawn_app().await;
    let reader = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/events"),
            app.admin_token.clone(),
        );
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            let mut cursor = "0".to_string();
            let deadline = Instant::now() + Duration::from_secs(120);
            while seen.len() < WRITERS * EACH && Instant::now() < deadline {
                let body: Value = client
                    .get(&url)
                    .query(&[("after", cursor.as_str()), ("limit", "7"), ("wait", "1")])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let Some(data) = body["data"].as_array() else {
                    panic!("the reader at {cursor} got {body}");
                };
                for e in data {
                    seen.push(e["id"].as_str().unwrap().to_string());
                }
                cursor = body["next_cursor"].as_str().expect("cursor").to_string();
            }
            seen
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/scim/v2/Users"),
            app.token.clone(),
        );
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let status = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(json!({"userName": format!("w{w}-{i}")}).to_string())
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, StatusCode::CREATED);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let seen = reader.await.unwrap();
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no event twice");
    let all: Vec<String> = all_events(&app)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), WRITERS * EACH);
    assert_eq!(seen, all, "the reader saw every event, in commit order");
}

#[tokio::test]
async fn wait_holds_the_request_until_an_event_arrives() {
    let app = spawn_app().await;
    let (_, head) = page(&app, "").await;
    let cursor = head["next_cursor"].as_str().unwrap().to_string();
    let writer = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/scim/v2/Users"),
            app.token.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(json!({"userName": "late"}).to_string())
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let started = Instant::now();
    let (status, body) = page(&app, &format!("after={cursor}&wait=10")).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(types(body["data"].as_array().unwrap()), ["account.created"]);
    assert!(took >= Duration::from_millis(500), "it waited: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "seen within a second: {took:?}"
    );
    assert_eq!(writer.await.unwrap(), StatusCode::CREATED);

    // With nothing new, it answers when the wait ends.
    let cursor = body["next_cursor"].as_str().unwrap();
    let started = Instant::now();
    let (status, body) = page(&app, &format!("after={cursor}&wait=1")).await;
    assert_eq!((status, body["data"].clone()), (StatusCode::OK, json!([])));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn bad_queries_are_400_and_support_may_read() {
    let app = spawn_app().await;
    for query in [
        "wait=31",
        "wait=-1",
        "limit=0",
        "limit=1001",
        "after=abc",
        "after=99",
        "types=ACCOUNT",
        "types=a%25",
        "colour=blue",
    ] {
        let (status, body) = page(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_request", "{query}");
    }
    let (status, _) = app
        .api(&app.support_token, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .api(&app.token, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a SCIM token may not read"
    );
}

#[tokio::test]
async fn another_organisation_sees_none_of_the_events() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "acme-only"})).await;
    let (other, other_scim) = app.other_org("globex").await;
    let (_, other_admin) = scimlink::service::admin_tokens::create(
        &app.db,
        &other,
        scimlink::domain::AdminRole::Admin,
        "globex admin",
    )
    .await
    .unwrap();
    let (status, body) = app
        .api(&other_admin, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], json!([]), "{body}");
    // Its own change is its own, with its own positions.
    let response = app
        .request_as(&other_scim, Method::POST, "/scim/v2/Users")
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "globex-only"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, body) = app
        .api(&other_admin, Method::GET, "/api/v1/events", None)
        .await;
    let events = body["data"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["data"]["account"]["user_name"], "globex-only");
    assert_eq!(events[0]["organization"]["slug"], "globex");
    let acme = all_events(&app).await;
    assert!(
        acme.iter()
            .all(|e| e["organization"]["id"] == app.org.id.as_str()),
        "{acme:#?}"
    );
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_is_gone() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "old-1"})).await;
    app.create_user(&json!({"userName": "old-2"})).await;
    let (_, body) = page(&app, "").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let head = body["next_cursor"].as_str().unwrap().to_string();

    app.clock.advance(chrono::TimeDelta::days(31));
    let deleted = scimlink::service::events::apply_retention(&app.db, app.clock.now(), 30)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let (status, body) = page(&app, "after=0").await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"], "gone");
    assert!(
        body["detail"].as_str().unwrap().contains("retention"),
        "{body}"
    );
    // From the head on, nothing was lost; without a cursor, from the oldest kept.
    let (status, body) = page(&app, &format!("after={head}")).await;
    assert_eq!((status, body["data"].clone()), (StatusCode::OK, json!([])));
    let (status, body) = page(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["next_cursor"],
        head.as_str(),
        "positions never go back"
    );
    app.create_user(&json!({"userName": "new"})).await;
    let (status, body) = page(&app, &format!("after={head}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(types(body["data"].as_array().unwrap()), ["account.created"]);
}
