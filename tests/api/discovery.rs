//! /ServiceProviderConfig, /ResourceTypes, /Schemas: accurate to what is built.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_scim_error, spawn_app};

async fn get_json(app: &crate::helpers::TestApp, path: &str) -> Value {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/scim+json")
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn service_provider_config_advertises_what_is_implemented() {
    let app = spawn_app().await;
    let spc = get_json(&app, "/scim/v2/ServiceProviderConfig").await;
    assert_eq!(
        spc["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(
        spc["bulk"],
        serde_json::json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576})
    );
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    assert_eq!(spc["pagination"]["defaultPageSize"], 100);
    assert_eq!(spc["pagination"]["maxPageSize"], 1000);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

#[tokio::test]
async fn resource_types_list_user_with_the_enterprise_extension() {
    let app = spawn_app().await;
    let list = get_json(&app, "/scim/v2/ResourceTypes").await;
    assert_eq!(list["totalResults"], 2);
    let group = get_json(&app, "/scim/v2/ResourceTypes/Group").await;
    assert_eq!(
        (group["endpoint"].as_str(), group["schema"].as_str()),
        (
            Some("/Groups"),
            Some("urn:ietf:params:scim:schemas:core:2.0:Group")
        )
    );
    let user = get_json(&app, "/scim/v2/ResourceTypes/User").await;
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(user["schemaExtensions"][0]["required"], false);
    assert_eq!(
        user["meta"]["location"],
        app.url("/scim/v2/ResourceTypes/User")
    );
    let missing = app
        .client
        .get(app.url("/scim/v2/ResourceTypes/Widget"))
        .send()
        .await
        .unwrap();
    assert_scim_error(missing, StatusCode::NOT_FOUND, None).await;
}

fn attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("attribute {name}"))
}

#[tokio::test]
async fn schemas_describe_every_attribute_accurately() {
    let app = spawn_app().await;
    let list = get_json(&app, "/scim/v2/Schemas").await;
    assert_eq!(list["totalResults"], 3);
    let group = get_json(
        &app,
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
    )
    .await;
    assert_eq!(attribute(&group, "displayName")["required"], true);
    let members = attribute(&group, "members");
    let subs: Vec<&str> = members["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "$ref", "display", "type"]);
    let user = get_json(
        &app,
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    )
    .await;
    let user_name = attribute(&user, "userName");
    assert_eq!(
        (
            user_name["type"].as_str(),
            user_name["required"].as_bool(),
            user_name["caseExact"].as_bool(),
            user_name["uniqueness"].as_str(),
            user_name["mutability"].as_str()
        ),
        (
            Some("string"),
            Some(true),
            Some(false),
            Some("server"),
            Some("readWrite")
        )
    );
    let password = attribute(&user, "password");
    assert_eq!(
        (
            password["mutability"].as_str(),
            password["returned"].as_str()
        ),
        (Some("writeOnly"), Some("never"))
    );
    let groups = attribute(&user, "groups");
    assert_eq!(
        (
            groups["mutability"].as_str(),
            groups["multiValued"].as_bool()
        ),
        (Some("readOnly"), Some(true))
    );
    let emails = attribute(&user, "emails");
    let subs: Vec<&str> = emails["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "display", "type", "primary"]);
    assert_eq!(attribute(&user, "active")["type"], "boolean");
    for name in [
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        attribute(&user, name);
    }
    let enterprise = get_json(
        &app,
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    )
    .await;
    let manager = attribute(&enterprise, "manager");
    let display = manager["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "displayName")
        .unwrap();
    assert_eq!(display["mutability"], "readOnly");
    for name in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        attribute(&enterprise, name);
    }
    let missing = app
        .client
        .get(app.url("/scim/v2/Schemas/urn:example:nope"))
        .send()
        .await
        .unwrap();
    assert_scim_error(missing, StatusCode::NOT_FOUND, None).await;
}
