//! What a client that sends something wrong gets: an RFC 7644 §3.12 body with
//! the right status and scimType, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_scim_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_and_mistyped_bodies() {
    let app = spawn_app().await;
    let send = |body: &'static str| {
        app.request(Method::POST, "/scim/v2/Users")
            .header("content-type", "application/scim+json")
            .body(body)
            .send()
    };
    assert_scim_error(
        send("{not json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    assert_scim_error(
        send("").await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    assert_scim_error(
        send("[1,2]").await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    assert_scim_error(
        send(r#"{"name": {"givenName": "x"}}"#).await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        send(r#"{"userName": ["a"]}"#).await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        send(r#"{"userName": "a", "active": "perhaps"}"#)
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        send(r#"{"userName": "a", "emails": [{"value": {"x": 1}}]}"#)
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
}

#[tokio::test]
async fn content_types_with_and_without_charset() {
    let app = spawn_app().await;
    for (i, ct) in [
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json;charset=UTF-8",
    ]
    .iter()
    .enumerate()
    {
        let response = app
            .request(Method::POST, "/scim/v2/Users")
            .header("content-type", *ct)
            .body(json!({"userName": format!("ct{i}")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{ct}");
    }
    let response = app
        .request(Method::POST, "/scim/v2/Users")
        .header("content-type", "text/plain")
        .body(json!({"userName": "plain"}).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = spawn_app_with(|s| s.max_body_bytes = 2048).await;
    let big = json!({"userName": "big", "title": "x".repeat(4096)});
    assert_scim_error(
        app.post("/scim/v2/Users", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
    )
    .await;
    // Without a Content-Length (chunked), the limit still holds.
    let stream =
        futures_util::stream::iter(vec![Ok::<_, std::io::Error>(big.to_string().into_bytes())]);
    let response = app
        .request(Method::POST, "/scim/v2/Users")
        .header("content-type", "application/scim+json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_scim_error(response, StatusCode::PAYLOAD_TOO_LARGE, None).await;
    assert_eq!(
        app.list_users(&[]).await["totalResults"],
        0,
        "nothing half-written"
    );
}

#[tokio::test]
async fn authentication_failures_are_401_with_www_authenticate() {
    let app = spawn_app().await;
    let cases = [
        app.client
            .get(app.url("/scim/v2/Users"))
            .send()
            .await
            .unwrap(),
        app.client
            .get(app.url("/scim/v2/Users"))
            .bearer_auth("scim_wrong")
            .send()
            .await
            .unwrap(),
        app.client
            .get(app.url("/scim/v2/Users"))
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap(),
        app.client
            .post(app.url("/scim/v2/Users"))
            .bearer_auth("nope")
            .header("content-type", "application/scim+json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    ];
    for response in cases {
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_scim_error(response, StatusCode::UNAUTHORIZED, None).await;
    }
}

#[tokio::test]
async fn revoked_tokens_stop_working() {
    let app = spawn_app().await;
    let (row, secret) = scimlink::service::tokens::create(&app.db, &app.org, "temp")
        .await
        .unwrap();
    assert_eq!(
        app.request_as(&secret, Method::GET, "/scim/v2/Users")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    scimlink::service::tokens::revoke(&app.db, &row.id)
        .await
        .unwrap();
    let response = app
        .request_as(&secret, Method::GET, "/scim/v2/Users")
        .send()
        .await
        .unwrap();
    assert_scim_error(response, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_scim_bodies() {
    let app = spawn_app().await;
    let unknown = app.get("/scim/v2/Widgets").await;
    let body = assert_scim_error(unknown, StatusCode::NOT_FOUND, None).await;
    assert!(body["detail"].as_str().unwrap().starts_with("no route for"));
    assert_scim_error(app.get("/nothing/here").await, StatusCode::NOT_FOUND, None).await;
    for (method, path) in [
        (Method::DELETE, "/scim/v2/Users"),
        (Method::POST, "/scim/v2/Users/abc"),
        (Method::POST, "/scim/v2/ServiceProviderConfig"),
        (Method::PUT, "/scim/v2/Schemas"),
        (Method::PATCH, "/scim/v2/ResourceTypes/User"),
        (
            Method::DELETE,
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        ),
    ] {
        let response = app.request(method.clone(), path).send().await.unwrap();
        let allow = response.headers()["allow"].to_str().unwrap().to_string();
        assert!(
            allow.contains("GET") && !allow.contains(method.as_str()),
            "{method} {path}: Allow {allow}"
        );
        assert_scim_error(response, StatusCode::METHOD_NOT_ALLOWED, None).await;
    }
    let head = app.request(Method::HEAD, "/healthz").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let head = app
        .request(Method::HEAD, "/scim/v2/Users")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.content_length().unwrap_or(0),
        0,
        "HEAD carries no body"
    );
}

#[tokio::test]
async fn trailing_slashes_lower_case_paths_and_unknown_parameters_are_tolerated() {
    let app = spawn_app().await;
    let created = app
        .post("/scim/v2/users/", &json!({"userName": "slash"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/scim/v2/users/{id}/")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/scim/v2/Users/?aadOptscim062020&foo=bar")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/scim/v2/serviceproviderconfig").await.status(),
        StatusCode::OK
    );
    assert_eq!(app.get("/healthz/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_endpoints_need_no_token_and_carry_no_scim_body() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
    }
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.read.clone().close().await.unwrap();
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_nul_in_a_path_is_a_404_and_in_a_query_or_admin_body_a_400_on_every_database() {
    let app = crate::helpers::spawn_app().await;
    for (path, status) in [
        ("/api/v1/workspaces/a%00b", StatusCode::NOT_FOUND),
        ("/api/v1/connections/a%00b", StatusCode::NOT_FOUND),
        ("/api/v1/accounts?query=a%00b", StatusCode::BAD_REQUEST),
        ("/api/v1/audit-events?action=a%00b", StatusCode::BAD_REQUEST),
    ] {
        let response = app
            .request_as(&app.admin_token, reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), status, "{path}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert!(body.to_string().contains("NUL"), "{path}: {body}");
    }
    // SCIM answers in its own terms (tests/api/limits.rs).
    let scim = app
        .get("/scim/v2/Users?filter=userName%20eq%20%22a%00b%22")
        .await;
    assert_eq!(scim.status(), StatusCode::BAD_REQUEST);
    for page in ["/admin/users/a%00b", "/login/a%00b"] {
        let response = app.get(page).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{page}");
        assert!(crate::helpers::content_type(&response).starts_with("text/html"));
    }
    let (status, body) = app
        .admin(
            reqwest::Method::POST,
            "/api/v1/workspaces",
            Some(&serde_json::json!({"slug": "ws", "name": "a\u{0}b"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
