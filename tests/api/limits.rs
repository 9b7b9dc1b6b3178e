//! Inputs that once could reach the database badly: NUL characters, values
//! longer than an index entry, thousands of values, filters with hundreds of
//! terms. Each is a 400 (or 404 for an id), never a 500, on both databases.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_scim_error, content_type, spawn_app};

#[tokio::test]
async fn nul_characters_are_refused_everywhere() {
    let app = spawn_app().await;
    let create = app
        .post("/scim/v2/Users", &json!({"userName": "a\u{0}b"}))
        .await;
    assert_scim_error(create, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let nested = app
        .post(
            "/scim/v2/Users",
            &json!({"userName": "ok", "name": {"givenName": "x\u{0}"}}),
        )
        .await;
    assert_scim_error(nested, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let filter = app
        .request(Method::GET, "/scim/v2/Users")
        .query(&[("filter", "userName eq \"a\u{0}\"")])
        .send()
        .await
        .unwrap();
    assert_scim_error(filter, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    for path in [
        "/scim/v2/Users/%00",
        "/scim/v2/Users/not-a-uuid",
        "/scim/v2/Users/%E2%82%AC",
    ] {
        assert_scim_error(app.get(path).await, StatusCode::NOT_FOUND, None).await;
        assert_scim_error(app.delete(path).await, StatusCode::NOT_FOUND, None).await;
    }
}

#[tokio::test]
async fn identifiers_longer_than_an_index_entry_are_refused() {
    let app = spawn_app().await;
    // Random-looking text does not compress, so it would overflow a B-tree entry.
    let noise: String = (0..3000)
        .map(|i| char::from(b'a' + ((i * 7919 + i / 3) % 26) as u8))
        .collect();
    for body in [
        json!({"userName": noise}),
        json!({"userName": "u", "externalId": noise}),
        json!({"userName": "u", "displayName": noise}),
        json!({"userName": "u", "emails": [{"value": noise}]}),
    ] {
        let response = app.post("/scim/v2/Users", &body).await;
        assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    }
    // A long value of an attribute that is not indexed is fine.
    app.create_user(&json!({"userName": "u", "title": noise}))
        .await;
}

#[tokio::test]
async fn many_values_are_refused_and_hundreds_are_stored() {
    let app = spawn_app().await;
    let emails: Vec<Value> = (0..1001)
        .map(|i| json!({"value": format!("e{i}@x.test")}))
        .collect();
    let response = app
        .post(
            "/scim/v2/Users",
            &json!({"userName": "many", "emails": emails}),
        )
        .await;
    assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let emails: Vec<Value> = (0..900)
        .map(|i| json!({"value": format!("e{i}@x.test")}))
        .collect();
    app.create_user(&json!({"userName": "many", "emails": emails}))
        .await;
    let found = app
        .list_users(&[("filter", "emails.value eq \"e899@x.test\"")])
        .await;
    assert_eq!(found["totalResults"], 1);
}

#[tokio::test]
async fn filters_with_too_many_terms_are_refused() {
    let app = spawn_app().await;
    let terms: Vec<String> = (0..101).map(|i| format!("userName eq \"u{i}\"")).collect();
    let response = app
        .request(Method::GET, "/scim/v2/Users")
        .query(&[("filter", terms.join(" or "))])
        .send()
        .await
        .unwrap();
    assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    let body = app
        .list_users(&[("filter", &terms[..100].join(" or "))])
        .await;
    assert_eq!(body["totalResults"], 0);
}

#[tokio::test]
async fn email_primary_means_the_same_in_sql_and_in_memory() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "unsaid", "emails": [{"value": "u@x.test"}]}))
        .await;
    app.create_user(
        &json!({"userName": "said", "emails": [{"value": "s@x.test", "primary": false}]}),
    )
    .await;
    let names = |body: Value| -> Vec<String> {
        let mut v: Vec<String> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // SQL path (indexed) and in-memory path (with an unindexed term) agree.
    assert_eq!(
        names(app.list_users(&[("filter", "emails.primary pr")]).await),
        ["said"]
    );
    assert_eq!(
        names(
            app.list_users(&[("filter", "emails.primary pr and nickName eq null")])
                .await
        ),
        ["said"]
    );
    assert_eq!(
        names(
            app.list_users(&[("filter", "emails[primary eq false]")])
                .await
        ),
        ["said"]
    );
    assert_eq!(
        names(
            app.list_users(&[("filter", "emails[primary eq false] and nickName eq null")])
                .await
        ),
        ["said"]
    );
}

#[tokio::test]
async fn ordering_is_by_code_point_on_both_databases() {
    let app = spawn_app().await;
    for name in ["ab", "a_b", "a-b", "a b", "aB2", "á"] {
        app.create_user(&json!({"userName": name, "title": name}))
            .await;
    }
    let order = |body: Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_string())
            .collect()
    };
    let mut expected: Vec<String> = ["ab", "a_b", "a-b", "a b", "aB2", "á"]
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    expected.sort();
    let by_column = order(app.list_users(&[("sortBy", "userName")]).await);
    assert_eq!(
        by_column
            .iter()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>(),
        expected
    );
    let by_json = order(app.list_users(&[("sortBy", "title")]).await);
    assert_eq!(
        by_json.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>(),
        expected
    );
    // gt agrees with that order in SQL and in memory.
    let sql = app
        .list_users(&[("filter", "userName gt \"a_\""), ("sortBy", "userName")])
        .await;
    let mem = app
        .list_users(&[("filter", "title gt \"a_\""), ("sortBy", "userName")])
        .await;
    assert_eq!(order(sql), order(mem));
}

#[tokio::test]
async fn an_unauthenticated_body_is_never_read() {
    let app = spawn_app().await;
    for (content_type, body) in [
        ("application/scim+json", "{not json"),
        ("text/plain", "hello"),
        ("application/json", ""),
    ] {
        let response = app
            .client
            .post(app.url("/scim/v2/Users"))
            .bearer_auth("scim_wrong")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_scim_error(response, StatusCode::UNAUTHORIZED, None).await;
    }
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = app
        .client
        .put(app.url("/scim/v2/Users/00000000-0000-4000-8000-000000000000"))
        .header("content-type", "application/scim+json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_scim_error(response, StatusCode::UNAUTHORIZED, None).await;
}

/// The browser pages read forms and queries into sign-in lookups: a NUL in
/// any of them is a 400 page saying so, never PostgreSQL's 500 (the JSON
/// endpoints answer 400 the same way).
#[tokio::test]
async fn nul_characters_in_sign_in_pages_are_refused() {
    let app = spawn_app().await;
    app.new_account("alice").await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let slug = app.org.slug.clone();
    let login = app.url(&format!("/login/{slug}/password"));
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            login.clone(),
            vec![("user_name", "al\u{0}ice"), ("password", "x")],
        ),
        (
            login.clone(),
            vec![("user_name", "alice"), ("password", "x\u{0}")],
        ),
        (
            login.clone(),
            vec![
                ("user_name", "alice"),
                ("password", "x"),
                ("return_to", "/\u{0}"),
            ],
        ),
        (
            app.url("/reset-password"),
            vec![
                ("token", "reset_\u{0}"),
                ("password", "p"),
                ("password2", "p"),
            ],
        ),
    ];
    let mut answers = Vec::new();
    for (url, form) in posts {
        answers.push(browser.post(url).form(&form).send().await.unwrap());
    }
    for path in [
        format!("/login/{slug}?email=a%00@example.com"),
        format!("/login/{slug}?return_to=%00"),
        "/reset-password?token=reset_%00".to_string(),
    ] {
        answers.push(browser.get(app.url(&path)).send().await.unwrap());
    }
    for answer in answers {
        let url = answer.url().clone();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(content_type(&answer).starts_with("text/html"), "{url}");
        let html = answer.text().await.unwrap();
        assert!(html.contains("NUL character"), "{url}: {html}");
    }
    // The JSON sign-in refuses it the same way.
    let json_login = browser
        .post(app.url("/auth/password/login"))
        .json(&json!({"org": slug, "user_name": "al\u{0}ice", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_login.status(), StatusCode::BAD_REQUEST);
}
