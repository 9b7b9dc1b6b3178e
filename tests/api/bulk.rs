//! /Bulk (RFC 7644 §3.7): bulkId references, failures in the middle,
//! failOnErrors, cycles, limits; each operation whole or not at all.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, spawn_app, spawn_app_with};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn bulk(app: &TestApp, body: Value) -> Vec<Value> {
    let response = app.post("/scim/v2/Bulk", &body).await;
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    json["Operations"].as_array().unwrap().clone()
}

fn statuses(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_user_and_a_group_that_contains_it_in_one_request() {
    let app = spawn_app().await;
    let results = bulk(
        &app,
        json!({"schemas": [BULK], "Operations": [
            // The group comes first and refers to the user by bulkId: it waits for it.
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "alice"}}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["201", "201"]);
    assert_eq!(results[0]["bulkId"], "g");
    assert_eq!(results[0]["method"], "POST");
    let group_location = results[0]["location"].as_str().unwrap();
    let user_location = results[1]["location"].as_str().unwrap();
    assert!(results[0]["version"].as_str().unwrap().starts_with("W/"));
    let group: Value = app
        .client
        .get(group_location)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user: Value = app
        .client
        .get(user_location)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(group["members"][0]["value"], user["id"]);
    assert_eq!(user["groups"][0]["display"], "Tour Guides");

    // PATCH, PUT and DELETE by path, with a bulkId in the path and a version.
    let results = bulk(
        &app,
        json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bob"}},
            {"method": "PATCH", "path": format!("/Groups/{}", group["id"].as_str().unwrap()), "version": group["meta"]["version"],
             "data": {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:b"}]}]}},
            {"method": "PUT", "path": "/Users/bulkId:b", "data": {"userName": "bob", "title": "Driver"}},
            {"method": "DELETE", "path": format!("/Users/{}", user["id"].as_str().unwrap())}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["201", "200", "200", "204"]);
    let group: Value = app
        .client
        .get(group_location)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert_eq!(group["members"][0]["display"], "bob");
}

#[tokio::test]
async fn a_failure_in_the_middle_and_fail_on_errors() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "taken"})).await;
    let results = bulk(
        &app,
        json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "first"}},
            {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "TAKEN"}},
            {"method": "POST", "path": "/Groups", "bulkId": "3", "data": {"displayName": "needs 2", "members": [{"value": "bulkId:2"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:1", "data": {"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "title", "value": "x"}, {"op": "replace", "path": "nosuch", "value": 1}]}},
            {"method": "POST", "path": "/Users", "bulkId": "5", "data": {"userName": "last"}}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["201", "409", "409", "400", "201"]);
    assert_eq!(results[1]["response"]["scimType"], "uniqueness");
    assert_eq!(results[2]["response"]["scimType"], "invalidValue");
    assert!(
        results[2]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("failed")
    );
    assert_eq!(results[3]["response"]["scimType"], "invalidPath");
    let first = app.list_users(&[("filter", "userName eq \"first\"")]).await;
    assert!(
        first["Resources"][0].get("title").is_none(),
        "the failed PATCH applied nothing"
    );
    let groups: Value = app.get("/scim/v2/Groups").await.json().await.unwrap();
    assert_eq!(groups["totalResults"], 0);

    // failOnErrors: 1 stops at the first error; what follows is neither run nor reported.
    let results = bulk(
        &app,
        json!({"failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "ok-1"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "taken"}},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "never"}}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["201", "409"]);
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"never\"")]).await["totalResults"],
        0
    );
}

#[tokio::test]
async fn circular_and_undeclared_references_are_refused() {
    let app = spawn_app().await;
    let results = bulk(
        &app,
        json!({"Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "x", "data": {"displayName": "X", "members": [{"value": "bulkId:y", "type": "Group"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "y", "data": {"displayName": "Y", "members": [{"value": "bulkId:x", "type": "Group"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "z", "data": {"displayName": "Z", "members": [{"value": "bulkId:nobody"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "fine", "data": {"userName": "fine"}}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["409", "409", "409", "201"]);
    assert!(
        results[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("circular")
    );
    assert!(
        results[2]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("not declared")
    );
    let groups: Value = app.get("/scim/v2/Groups").await.json().await.unwrap();
    assert_eq!(groups["totalResults"], 0);
    // A reference in a path waits for its POST, or is refused like one in data.
    let results = bulk(
        &app,
        json!({"Operations": [
            {"method": "PUT", "path": "/Users/bulkId:late", "data": {"userName": "late", "title": "put after its POST"}},
            {"method": "PATCH", "path": "/Users/bulkId:never", "data": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "title"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "late", "data": {"userName": "late"}}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["200", "409", "201"]);
    // Only a POST declares a bulkId: a reference to another method's is undeclared, not circular.
    let results = bulk(
        &app,
        json!({"Operations": [
            {"method": "DELETE", "path": "/Users/00000000-0000-4000-8000-000000000000", "bulkId": "gone"},
            {"method": "PATCH", "path": "/Users/bulkId:gone", "data": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "title"}]}}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["404", "409"]);
    assert!(
        results[1]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("not declared"),
        "{results:?}"
    );
    let late = app.list_users(&[("filter", "userName eq \"late\"")]).await;
    assert_eq!(late["Resources"][0]["title"], "put after its POST");
}

#[tokio::test]
async fn malformed_operations_and_limits() {
    let app = spawn_app_with(|s| {
        s.max_bulk_operations = 3;
        s.max_body_bytes = 4096;
    })
    .await;
    let results = bulk(
        &app,
        json!({"Operations": [
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Widgets", "data": {}},
            {"method": "DELETE", "path": "/Users/00000000-0000-4000-8000-000000000000", "version": "W/\"1\""}
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["400", "404", "404"]);
    let too_many: Vec<Value> = (0..4)
        .map(|i| json!({"method": "POST", "path": "/Users", "data": {"userName": format!("u{i}")}}))
        .collect();
    let response = app
        .post("/scim/v2/Bulk", &json!({"Operations": too_many}))
        .await;
    assert_scim_error(response, StatusCode::PAYLOAD_TOO_LARGE, None).await;
    let big = json!({"Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "big", "title": "x".repeat(5000)}}]});
    assert_scim_error(
        app.post("/scim/v2/Bulk", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
    )
    .await;
    assert_eq!(
        app.list_users(&[]).await["totalResults"],
        0,
        "a refused Bulk runs nothing"
    );
    for body in [
        json!({"Operations": []}),
        json!({"schemas": ["urn:wrong"], "Operations": [{}]}),
        json!([1]),
    ] {
        assert_scim_error(
            app.post("/scim/v2/Bulk", &body).await,
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
        )
        .await;
    }
    let spc: Value = app
        .get("/scim/v2/ServiceProviderConfig")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        spc["bulk"],
        json!({"supported": true, "maxOperations": 3, "maxPayloadSize": 4096})
    );
}

/// A chain of groups created in one request, each naming the next as its
/// member: every member added is checked for a cycle (by walking up from the
/// group it joins), the chain is built, and closing it is still refused.
#[tokio::test]
async fn a_chain_of_nested_groups_in_one_request_cannot_be_closed() {
    let app = spawn_app().await;
    const LENGTH: usize = 200;
    let operations: Vec<Value> = (0..LENGTH)
        .map(|i| {
            let members = if i + 1 < LENGTH {
                json!([{"type": "Group", "value": format!("bulkId:g{}", i + 1)}])
            } else {
                json!([])
            };
            json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{i}"),
                   "data": {"displayName": format!("chain {i}"), "members": members}})
        })
        .collect();
    let results = bulk(&app, json!({"schemas": [BULK], "Operations": operations})).await;
    assert!(
        statuses(&results).iter().all(|s| *s == "201"),
        "{results:?}"
    );
    let id = |i: usize| {
        let location = results[i]["location"].as_str().unwrap();
        location.rsplit('/').next().unwrap().to_string()
    };
    let add = |parent: String, child: String| {
        json!({"method": "PATCH", "path": format!("/Groups/{parent}"), "data": {"schemas": [PATCH],
               "Operations": [{"op": "add", "path": "members", "value": [{"type": "Group", "value": child}]}]}})
    };
    // Chain 0 holds 1 holds ... holds 199: 0 under 199 or 100 under 150
    // closes a cycle; 150 directly under 100 (already inside it) does not.
    let results = bulk(
        &app,
        json!({"schemas": [BULK], "Operations": [
            add(id(LENGTH - 1), id(0)),
            add(id(150), id(100)),
            add(id(100), id(150)),
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), ["400", "400", "200"], "{results:?}");
    for refused in &results[..2] {
        let detail = refused["response"]["detail"].as_str().unwrap();
        assert!(detail.contains("cycle"), "{detail}");
    }
    let top: Value = app
        .get(&format!("/scim/v2/Groups/{}", id(0)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(top["members"][0]["value"], id(1).as_str());
}
