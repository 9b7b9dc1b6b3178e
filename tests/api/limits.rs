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

/// SQLite refuses a LIKE pattern over 50,000 bytes ("pattern too complex"):
/// every text a listing compares is bounded before it becomes one, and a
/// `%` or `_` matches only itself.
#[tokio::test]
async fn long_search_texts_are_refused_and_like_wildcards_are_literal() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "bjensen", "displayName": "Barbara"}))
        .await;
    let group = app
        .post("/scim/v2/Groups", &json!({"displayName": "Tour Guides"}))
        .await;
    assert_eq!(group.status(), StatusCode::CREATED);
    let long = "x".repeat(60_000);
    for (path, filter) in [
        ("/scim/v2/Users", format!("userName co \"{long}\"")),
        ("/scim/v2/Users", format!("displayName ew \"{long}\"")),
        ("/scim/v2/Users", format!("title sw \"{long}\"")),
        ("/scim/v2/Groups", format!("displayName co \"{long}\"")),
        ("/scim/v2/Groups", format!("displayName ew \"{long}\"")),
    ] {
        let response = app
            .request(Method::GET, path)
            .query(&[("filter", &filter)])
            .send()
            .await
            .unwrap();
        let body =
            assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("1024 bytes"), "{path} {detail}");
    }
    // The longest value allowed still runs.
    let longest = "x".repeat(1024);
    let found = app
        .list_users(&[("filter", &format!("userName co \"{longest}\""))])
        .await;
    assert_eq!(found["totalResults"], 0);

    for path in [
        format!("/api/v1/accounts?query={long}"),
        format!("/api/v1/audit-events?action={long}*"),
        format!("/api/v1/audit-events?target_id={long}"),
    ] {
        let (status, body) = app.admin(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("1024 bytes"),
            "{body}"
        );
    }

    // `%` and `_` are not wildcards: `%*` is not "every action", and
    // `account_created` does not match `account.created`.
    let (status, all) = app
        .admin(Method::GET, "/api/v1/audit-events?action=account.*", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!all["events"].as_array().unwrap().is_empty(), "{all}");
    for action in ["%25*", "account_created*", "_*"] {
        let (status, body) = app
            .admin(
                Method::GET,
                &format!("/api/v1/audit-events?action={action}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["events"], json!([]), "action={action}");
    }
    for query in ["%25", "b_ensen"] {
        let (status, body) = app
            .admin(
                Method::GET,
                &format!("/api/v1/accounts?query={query}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accounts"], json!([]), "query={query}");
    }
    let none = app
        .list_users(&[("filter", "userName co \"b_ensen\"")])
        .await;
    assert_eq!(none["totalResults"], 0);
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
        // As a browser sends it: forms must come from this server's pages.
        let post = browser.post(url).header("origin", app.address.as_str());
        answers.push(post.form(&form).send().await.unwrap());
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

/// A refusal quotes a short excerpt of what was sent, never the whole of a
/// filter that may be a megabyte long.
#[tokio::test]
async fn filter_errors_quote_an_excerpt() {
    let app = spawn_app().await;
    let huge = "y".repeat(900_000);
    for filter in [
        format!("userName eq \"{huge}"),
        format!("{huge} eq \"x\""),
        format!("userName eq \"x\" and ({huge} pr)"),
        format!("meta.created gt \"{huge}\""),
    ] {
        let response = app
            .post(
                "/scim/v2/Users/.search",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter}),
            )
            .await;
        let body =
            assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.len() < 600, "{}", &detail[..600]);
        assert!(detail.contains("yyyy"), "{detail}");
    }
}

/// Sign-in refuses a password over `MAX_PASSWORD_BYTES`, so SCIM does not
/// store one: POST, PUT and PATCH answer 400 invalidValue naming the limit.
#[tokio::test]
async fn passwords_longer_than_sign_in_accepts_are_refused() {
    let app = spawn_app().await;
    let long = "p".repeat(900_000);
    let response = app
        .post(
            "/scim/v2/Users",
            &json!({"userName": "pat", "password": long}),
        )
        .await;
    let body = assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    assert!(
        body["detail"].as_str().unwrap().contains("1024 bytes"),
        "{body}"
    );
    let user = app
        .create_user(&json!({"userName": "pat", "password": "p".repeat(1024)}))
        .await;
    let id = user["id"].as_str().unwrap();
    let path = format!("/scim/v2/Users/{id}");
    let over = "p".repeat(1025);
    let put = app
        .put(&path, &json!({"userName": "pat", "password": over}))
        .await;
    assert_scim_error(put, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let patch = app
        .patch(
            &path,
            &crate::helpers::patch_op(
                json!([{"op": "replace", "path": "password", "value": over}]),
            ),
        )
        .await;
    assert_scim_error(patch, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
}

/// The JSON sign-in reads only a body typed as JSON: without a Content-Type
/// it is 415 with a JSON error, as a wrong type is.
#[tokio::test]
async fn the_json_sign_in_requires_a_content_type() {
    let app = spawn_app().await;
    let body = json!({"org": app.org.slug, "user_name": "nobody", "password": "x"}).to_string();
    for path in ["/auth/password/login", "/auth/password/reset"] {
        for sent_type in [None, Some("text/plain")] {
            let mut request = app.client.post(app.url(path)).body(body.clone());
            if let Some(ct) = sent_type {
                request = request.header("content-type", ct);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {sent_type:?}"
            );
            assert!(content_type(&response).starts_with("application/json"));
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"], "unsupported_media_type", "{error}");
            assert!(
                error["detail"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{error}"
            );
        }
    }
    let typed = app
        .client
        .post(app.url("/auth/password/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), StatusCode::UNAUTHORIZED);
}
