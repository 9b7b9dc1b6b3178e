//! /Groups: membership as rows, every PATCH form IdPs send, nesting, users'
//! `groups`, concurrency and versions.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, patch_op, spawn_app};

async fn user(app: &TestApp, name: impl AsRef<str>) -> String {
    let name = name.as_ref();
    app.create_user(&json!({"userName": name, "displayName": name.to_uppercase()}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn group(app: &TestApp, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let response = app
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": name, "members": members}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get_group(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/scim/v2/Groups/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|v| v["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn patch_group(app: &TestApp, id: &str, ops: Value) -> reqwest::Response {
    app.patch(&format!("/scim/v2/Groups/{id}"), &patch_op(ops))
        .await
}

async fn patch_ok(app: &TestApp, id: &str, ops: Value) -> Value {
    let response = patch_group(app, id, ops.clone()).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{ops}: {body}");
    body
}

#[tokio::test]
async fn create_get_and_leave_members_out_on_request() {
    let app = spawn_app().await;
    let (a, b) = (user(&app, "ann").await, user(&app, "bob").await);
    let response = app
        .post(
            "/scim/v2/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides",
                    "externalId": "okta-g1", "members": [{"value": a, "display": "ignored"}, {"value": b, "type": "User"}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(location, body["meta"]["location"]);
    assert_eq!(body["meta"]["resourceType"], "Group");
    let ann = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == a.as_str())
        .unwrap();
    assert_eq!(
        ann["display"], "ANN",
        "display is the member's displayName, not what was sent"
    );
    assert_eq!(ann["type"], "User");
    assert_eq!(ann["$ref"], app.url(&format!("/scim/v2/Users/{a}")));
    let id = body["id"].as_str().unwrap();

    let lean: Value = app
        .get(&format!("/scim/v2/Groups/{id}?excludedAttributes=members"))
        .await
        .json()
        .await
        .unwrap();
    assert!(lean.get("members").is_none());
    assert_eq!(lean["displayName"], "Tour Guides");
    let listed: Value = app
        .get("/scim/v2/Groups?excludedAttributes=members")
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["Resources"][0].get("members").is_none());
    let full: Value = app
        .get("/scim/v2/Groups?filter=displayName eq \"Tour Guides\"")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["Resources"][0]["members"].as_array().unwrap().len(), 2);

    let dup = app
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "Other", "externalId": "okta-g1"}),
        )
        .await;
    assert_scim_error(dup, StatusCode::CONFLICT, Some("uniqueness")).await;
    let nameless = app.post("/scim/v2/Groups", &json!({"members": []})).await;
    assert_scim_error(nameless, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
}

#[tokio::test]
async fn patch_forms_do_exactly_what_they_say() {
    let app = spawn_app().await;
    let u: Vec<String> =
        futures_util::future::join_all((0..5).map(|i| user(&app, format!("u{i}")))).await;
    let g = group(&app, "g", &[&u[0], &u[1]]).await;

    // add with a list: adds the new, an existing member is not an error.
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": u[1]}, {"value": u[2]}]}]),
    )
    .await;
    assert_eq!(member_ids(&body), set(&[&u[0], &u[1], &u[2]]));

    // Okta: several removes then an add, in one request, in order.
    let body = patch_ok(
        &app,
        &g,
        json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
            {"op": "remove", "path": format!("members[value eq \"{}\"]", u[1])},
            {"op": "add", "path": "members", "value": [{"value": u[3], "display": "x", "$ref": "y", "type": "User"}]}
        ]),
    )
    .await;
    assert_eq!(member_ids(&body), set(&[&u[2], &u[3]]));

    // Entra without its flag, JumpCloud: remove with a value list removes exactly those.
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "Add", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}]}]),
    )
    .await;
    assert_eq!(member_ids(&body).len(), 4);
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": u[0]}, {"value": u[2]}]}]),
    )
    .await;
    assert_eq!(member_ids(&body), set(&[&u[1], &u[3]]));

    // replace with a list: exactly that list.
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": u[3]}, {"value": u[4]}]}]),
    )
    .await;
    assert_eq!(member_ids(&body), set(&[&u[3], &u[4]]));

    // Okta's rename re-sends id: renames, ignores the id, members untouched.
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "replace", "value": {"id": g, "displayName": "renamed"}}]),
    )
    .await;
    assert_eq!(body["displayName"], "renamed");
    assert_eq!(member_ids(&body), set(&[&u[3], &u[4]]));
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "Replace", "path": "displayName", "value": "again"}]),
    )
    .await;
    assert_eq!(
        member_ids(&body),
        set(&[&u[3], &u[4]]),
        "a replace without members never changes members"
    );

    // Pathless add with members.
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "Add", "value": {"members": [{"value": u[0]}]}}]),
    )
    .await;
    assert_eq!(member_ids(&body).len(), 3);

    // remove path members without a value: all members go.
    let body = patch_ok(&app, &g, json!([{"op": "remove", "path": "members"}])).await;
    assert!(body.get("members").is_none());
    assert_eq!(body["displayName"], "again");

    // excludedAttributes=members on a PATCH response.
    let response = app
        .patch(
            &format!("/scim/v2/Groups/{g}?excludedAttributes=members"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u[1]}]}])),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("members").is_none());
    assert_eq!(member_ids(&get_group(&app, &g).await), set(&[&u[1]]));
}

#[tokio::test]
async fn removal_by_type_filter() {
    let app = spawn_app().await;
    let a = user(&app, "a").await;
    let inner = group(&app, "inner", &[]).await;
    let outer = group(&app, "outer", &[&a, &inner]).await;
    let body = patch_ok(
        &app,
        &outer,
        json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
    )
    .await;
    assert_eq!(member_ids(&body), set(&[&a]));
    let refused = patch_group(
        &app,
        &outer,
        json!([{"op": "remove", "path": "members[display eq \"A\"]"}]),
    )
    .await;
    assert_scim_error(refused, StatusCode::BAD_REQUEST, Some("invalidPath")).await;
}

#[tokio::test]
async fn an_unknown_member_applies_nothing() {
    let app = spawn_app().await;
    let a = user(&app, "a").await;
    let g = group(&app, "g", &[&a]).await;
    let before = get_group(&app, &g).await;
    let ghost = uuid::Uuid::new_v4().to_string();
    let (_, other_token) = app.other_org("other").await;
    let foreign: Value = app
        .request_as(&other_token, Method::POST, "/scim/v2/Users")
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "foreigner"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign_id = foreign["id"].as_str().unwrap();
    for bad in [ghost.as_str(), foreign_id, "not-an-id"] {
        let response = patch_group(
            &app,
            &g,
            json!([
                {"op": "replace", "path": "displayName", "value": "changed"},
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": bad}]}
            ]),
        )
        .await;
        let body = assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
        assert!(
            body["detail"].as_str().unwrap().contains(bad),
            "the detail names {bad}: {body}"
        );
        assert_eq!(
            get_group(&app, &g).await,
            before,
            "nothing of the request applied"
        );
    }
    let wrong_type = patch_group(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": a, "type": "Group"}]}]),
    )
    .await;
    assert_scim_error(wrong_type, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let create = app
        .post(
            "/scim/v2/Groups",
            &json!({"displayName": "x", "members": [{"value": ghost}]}),
        )
        .await;
    assert_scim_error(create, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let listed: Value = app.get("/scim/v2/Groups").await.json().await.unwrap();
    assert_eq!(
        listed["totalResults"], 1,
        "the refused create left no group behind"
    );
}

#[tokio::test]
async fn nesting_cycles_and_users_groups() {
    let app = spawn_app().await;
    let a = user(&app, "a").await;
    let team = group(&app, "Team", &[&a]).await;
    let dept = group(&app, "Dept", &[&team]).await;
    let company = group(&app, "Company", &[&dept]).await;

    let body: Value = app
        .get(&format!("/scim/v2/Users/{a}"))
        .await
        .json()
        .await
        .unwrap();
    let groups: Vec<(String, String)> = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["display"].as_str().unwrap().to_string(),
                g["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("Company".into(), "indirect".into()),
            ("Dept".into(), "indirect".into()),
            ("Team".into(), "direct".into())
        ]
    );
    let team_ref = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["value"] == team.as_str())
        .unwrap();
    assert_eq!(
        team_ref["$ref"],
        app.url(&format!("/scim/v2/Groups/{team}"))
    );
    let lean: Value = app
        .get(&format!("/scim/v2/Users/{a}?excludedAttributes=groups"))
        .await
        .json()
        .await
        .unwrap();
    assert!(lean.get("groups").is_none());
    let listed = app.list_users(&[("filter", "userName eq \"a\"")]).await;
    assert_eq!(
        listed["Resources"][0]["groups"].as_array().unwrap().len(),
        3
    );
    let by_group = app
        .list_users(&[("filter", &format!("groups.value eq \"{dept}\""))])
        .await;
    assert_eq!(
        by_group["totalResults"], 1,
        "users filter by (indirect) group"
    );

    for (parent, child) in [(&team, &company), (&team, &team), (&dept, &company)] {
        let response = patch_group(
            &app,
            parent,
            json!([{"op": "add", "path": "members", "value": [{"value": child, "type": "Group"}]}]),
        )
        .await;
        let body = assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
        assert!(body["detail"].as_str().unwrap().contains("cycle"), "{body}");
    }

    // Deleting a group takes it out of its parents, and those change version.
    let company_before = get_group(&app, &company).await;
    assert_eq!(
        app.delete(&format!("/scim/v2/Groups/{dept}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let company_after = get_group(&app, &company).await;
    assert!(company_after.get("members").is_none());
    assert_ne!(
        company_after["meta"]["version"],
        company_before["meta"]["version"]
    );
    let body: Value = app
        .get(&format!("/scim/v2/Users/{a}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["groups"].as_array().unwrap().len(), 1);

    // Deleting a user takes it out of its groups, and those change version.
    let team_before = get_group(&app, &team).await;
    assert_eq!(
        app.delete(&format!("/scim/v2/Users/{a}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let team_after = get_group(&app, &team).await;
    assert!(team_after.get("members").is_none());
    assert_ne!(
        team_after["meta"]["version"],
        team_before["meta"]["version"]
    );
}

#[tokio::test]
async fn filters_on_groups() {
    let app = spawn_app().await;
    let (a, b) = (user(&app, "a").await, user(&app, "b").await);
    let g1 = group(&app, "Sales EMEA", &[&a]).await;
    let g2 = group(&app, "Sales US", &[&a, &b]).await;
    group(&app, "Support", &[]).await;
    let names = |body: Value| -> Vec<String> {
        let mut v: Vec<String> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["displayName"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let get = |filter: String| {
        let app = &app;
        async move {
            let response = app
                .request(Method::GET, "/scim/v2/Groups")
                .query(&[
                    ("filter", filter.as_str()),
                    ("excludedAttributes", "members"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{filter}");
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        names(get(format!("members.value eq \"{b}\"")).await),
        ["Sales US"]
    );
    assert_eq!(
        names(get(format!("members.value eq \"{a}\"")).await),
        ["Sales EMEA", "Sales US"]
    );
    assert_eq!(
        names(get(format!("members[value eq \"{a}\" and type eq \"User\"]")).await),
        ["Sales EMEA", "Sales US"]
    );
    assert_eq!(
        names(get("displayName eq \"sales us\"".into()).await),
        ["Sales US"]
    );
    assert_eq!(
        names(get("displayName sw \"Sales\"".into()).await),
        ["Sales EMEA", "Sales US"]
    );
    assert_eq!(names(get("not (members pr)".into()).await), ["Support"]);
    assert_eq!(
        names(get(format!("id eq \"{g1}\" or id eq \"{g2}\"")).await),
        ["Sales EMEA", "Sales US"]
    );
    assert_eq!(
        names(get("members.display eq \"B\"".into()).await),
        ["Sales US"],
        "unindexed, evaluated in memory"
    );
    let bad = app
        .request(Method::GET, "/scim/v2/Groups")
        .query(&[("filter", "userName eq \"a\"")])
        .send()
        .await
        .unwrap();
    assert_scim_error(bad, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
}

#[tokio::test]
async fn put_replaces_attributes_and_members() {
    let app = spawn_app().await;
    let (a, b) = (user(&app, "a").await, user(&app, "b").await);
    let g = group(&app, "g", &[&a]).await;
    let response = app
        .put(
            &format!("/scim/v2/Groups/{g}"),
            &json!({"id": g, "displayName": "G2", "members": [{"value": b}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["displayName"].as_str(), member_ids(&body)),
        (Some("G2"), set(&[&b]))
    );
    let body: Value = app
        .put(
            &format!("/scim/v2/Groups/{g}"),
            &json!({"displayName": "G3"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.get("members").is_none(),
        "PUT replaces: no members given, none remain"
    );
}

#[tokio::test]
async fn versions_and_if_match() {
    let app = spawn_app().await;
    let (a, b) = (user(&app, "a").await, user(&app, "b").await);
    let g = group(&app, "g", &[&a]).await;
    let v1 = get_group(&app, &g).await["meta"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    )
    .await;
    let v2 = body["meta"]["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2, "a membership change is a new version");
    let body = patch_ok(
        &app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": b}]}]),
    )
    .await;
    assert_eq!(
        body["meta"]["version"],
        v2.as_str(),
        "adding an existing member changes nothing"
    );
    let stale = app
        .request(Method::PATCH, &format!("/scim/v2/Groups/{g}"))
        .header("if-match", &v1)
        .header("content-type", "application/scim+json")
        .body(patch_op(json!([{"op": "remove", "path": "members"}])).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
    assert_eq!(member_ids(&get_group(&app, &g).await).len(), 2);
    let not_modified = app
        .request(Method::GET, &format!("/scim/v2/Groups/{g}"))
        .header("if-none-match", &v2)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let delete = app
        .request(Method::DELETE, &format!("/scim/v2/Groups/{g}"))
        .header("if-match", &v2)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_scim_error(
        app.get(&format!("/scim/v2/Groups/{g}")).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}

#[tokio::test]
async fn two_hundred_concurrent_adds_lose_nothing() {
    let app = spawn_app().await;
    let g = group(&app, "busy", &[]).await;
    let mut users = Vec::new();
    for chunk in (0..200).collect::<Vec<_>>().chunks(25) {
        let made =
            futures_util::future::join_all(chunk.iter().map(|i| user(&app, format!("c{i}")))).await;
        users.extend(made);
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|id| {
            let client = app.client.clone();
            let url = app.url(&format!("/scim/v2/Groups/{g}?excludedAttributes=members"));
            let token = app.token.clone();
            let body =
                patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
            tokio::spawn(async move {
                client
                    .patch(url)
                    .bearer_auth(token)
                    .header("content-type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let body = get_group(&app, &g).await;
    assert_eq!(member_ids(&body).len(), 200);
    assert_eq!(
        body["meta"]["version"], "W/\"201\"",
        "one version per change"
    );
}

#[tokio::test]
async fn another_organisation_sees_no_groups() {
    let app = spawn_app().await;
    let a = user(&app, "a").await;
    let g = group(&app, "secret", &[&a]).await;
    let (_, other) = app.other_org("globex").await;
    for (method, path) in [
        (Method::GET, format!("/scim/v2/Groups/{g}")),
        (Method::DELETE, format!("/scim/v2/Groups/{g}")),
    ] {
        let response = app.request_as(&other, method, &path).send().await.unwrap();
        assert_scim_error(response, StatusCode::NOT_FOUND, None).await;
    }
    let patch = app
        .request_as(&other, Method::PATCH, &format!("/scim/v2/Groups/{g}"))
        .header("content-type", "application/scim+json")
        .body(patch_op(json!([{"op": "remove", "path": "members"}])).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(patch, StatusCode::NOT_FOUND, None).await;
    let list: Value = app
        .request_as(&other, Method::GET, "/scim/v2/Groups")
        .query(&[("filter", format!("members.value eq \"{a}\""))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalResults"], 0);
    assert_eq!(member_ids(&get_group(&app, &g).await), set(&[&a]));
}
