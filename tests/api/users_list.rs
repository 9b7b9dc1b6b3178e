//! Listing: filters (every operator, indexed and unindexed attributes),
//! sorting, pagination, and their errors.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, spawn_app, spawn_app_with};

async fn seed(app: &TestApp) {
    let people = [
        (
            "bjensen@example.com",
            "Jensen",
            "Barbara",
            "Tour Guide",
            "Employee",
            true,
            "Tour Operations",
            "ext-1",
        ),
        (
            "jsmith@example.com",
            "Smith",
            "John",
            "Manager",
            "Employee",
            true,
            "Finance",
            "ext-2",
        ),
        (
            "mo'malley@example.org",
            "O'Malley",
            "Mary",
            "Intern",
            "Intern",
            false,
            "Tour Operations",
            "ext-3",
        ),
        (
            "a_b%c@example.net",
            "Zed",
            "Anna",
            "",
            "Contractor",
            true,
            "",
            "EXT-4",
        ),
    ];
    for (user_name, family, given, title, user_type, active, dept, ext) in people {
        app.create_user(&json!({
            "userName": user_name, "externalId": ext, "displayName": format!("{given} {family}"),
            "name": {"familyName": family, "givenName": given},
            "title": title, "userType": user_type, "active": active,
            "emails": [{"value": user_name.to_uppercase(), "type": "work", "primary": true},
                       {"value": format!("{given}@home.test").to_lowercase(), "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept}
        }))
        .await;
    }
}

async fn names(app: &TestApp, filter: &str) -> Vec<String> {
    let body = app
        .list_users(&[("filter", filter), ("sortBy", "userName")])
        .await;
    let resources = body["Resources"].as_array().cloned().unwrap_or_default();
    assert_eq!(body["totalResults"], resources.len(), "{filter}: {body}");
    resources
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_operator_on_indexed_and_unindexed_attributes() {
    let app = spawn_app().await;
    seed(&app).await;
    let b = "bjensen@example.com";
    let j = "jsmith@example.com";
    let m = "mo'malley@example.org";
    let a = "a_b%c@example.net";
    let table: Vec<(&str, Vec<&str>)> = vec![
        (r#"userName eq "BJENSEN@example.com""#, vec![b]),
        (r#"userName ne "bjensen@example.com""#, vec![a, j, m]),
        (r#"userName co "SMITH""#, vec![j]),
        (r#"userName sw "a_b%""#, vec![a]),
        (r#"userName ew ".org""#, vec![m]),
        (r#"userName gt "j""#, vec![j, m]),
        (r#"userName ge "jsmith@example.com""#, vec![j, m]),
        (r#"userName lt "b""#, vec![a]),
        (r#"userName le "bjensen@example.com""#, vec![a, b]),
        ("userName pr", vec![a, b, j, m]),
        (r#"externalId eq "ext-1""#, vec![b]),
        (r#"externalId eq "EXT-1""#, vec![]),
        (r#"externalId sw "ext""#, vec![b, j, m]),
        (r#"displayName eq "john smith""#, vec![j]),
        ("active eq false", vec![m]),
        (r#"emails.value eq "bjensen@example.com""#, vec![b]),
        (r#"emails co "@home.test""#, vec![a, b, j, m]),
        (r#"emails[type eq "work" and value ew ".org"]"#, vec![m]),
        (r#"emails[type eq "home" and value ew ".org"]"#, vec![]),
        (
            r#"emails[type eq "work"].value eq "JSMITH@example.com""#,
            vec![j],
        ),
        // Unindexed attributes, evaluated in memory: same answers.
        (r#"name.familyName eq "o'malley""#, vec![m]),
        (r#"name.givenName co "nn""#, vec![a]),
        (r#"title eq "Tour Guide""#, vec![b]),
        (r#"title ne "Tour Guide""#, vec![a, j, m]),
        ("title pr", vec![b, j, m]),
        (r#"userType sw "Emp""#, vec![b, j]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#,
            vec![b, m],
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName gt "S""#,
            vec![a, j],
        ),
        // Logic, grouping, mixing indexed and unindexed parts.
        (r#"title pr and userType eq "Employee""#, vec![b, j]),
        (
            r#"title eq "Intern" or userName eq "jsmith@example.com""#,
            vec![j, m],
        ),
        (
            r#"not (active eq true) or (userType eq "Contractor" and emails.type eq "work")"#,
            vec![a, m],
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            vec![b, j],
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            vec![a],
        ),
        (
            r#"userName eq "mo'malley@example.org" and title eq "Intern""#,
            vec![m],
        ),
        (r#"userName eq "nobody""#, vec![]),
    ];
    for (filter, expected) in table {
        assert_eq!(names(&app, filter).await, expected, "{filter}");
    }
}

#[tokio::test]
async fn meta_timestamps_filter_with_the_values_responses_carry() {
    let app = spawn_app().await;
    let first = app.create_user(&json!({"userName": "first"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = app.create_user(&json!({"userName": "second"})).await;
    let t1 = first["meta"]["lastModified"].as_str().unwrap();
    let t2 = second["meta"]["created"].as_str().unwrap();
    assert_eq!(
        names(&app, &format!(r#"meta.lastModified eq "{t1}""#)).await,
        ["first"]
    );
    assert_eq!(
        names(&app, &format!(r#"meta.created ge "{t2}""#)).await,
        ["second"]
    );
    assert_eq!(
        names(&app, &format!(r#"meta.created lt "{t2}""#)).await,
        ["first"]
    );
    assert_eq!(
        names(&app, r#"meta.lastModified gt "2001-01-01T00:00:00Z""#).await,
        ["first", "second"]
    );
}

#[tokio::test]
async fn string_escapes_reach_the_comparison() {
    let app = spawn_app().await;
    app.create_user(&json!({"userName": "quote\"d\\name"}))
        .await;
    assert_eq!(
        names(&app, r#"userName eq "quote\"d\\name""#).await,
        ["quote\"d\\name"]
    );
}

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter_never_an_empty_list() {
    let app = spawn_app().await;
    seed(&app).await;
    for filter in [
        r#"nosuch eq "x""#,
        r#"name.nosuch eq "x""#,
        r#"userName eq"#,
        r#"userName zz "x""#,
        "active gt true",
        r#"emails[nosuch eq "x"]"#,
        r#"password eq "x""#,
        r#"meta.created gt "not a date""#,
        "((userName pr)",
    ] {
        let response = app
            .request(Method::GET, "/scim/v2/Users")
            .query(&[("filter", filter)])
            .send()
            .await
            .unwrap();
        assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    }
}

#[tokio::test]
async fn entra_test_connection_filter_on_a_random_guid_is_an_empty_200() {
    let app = spawn_app().await;
    seed(&app).await;
    let guid = uuid::Uuid::new_v4();
    let body = app
        .list_users(&[("filter", &format!("userName eq \"{guid}\""))])
        .await;
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
}

#[tokio::test]
async fn sorting_by_columns_and_by_json_attributes() {
    let app = spawn_app().await;
    seed(&app).await;
    let order = |body: Value, key: &str| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.pointer(key)
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string()
            })
            .collect()
    };
    let asc = app.list_users(&[("sortBy", "userName")]).await;
    assert_eq!(
        order(asc, "/userName"),
        [
            "a_b%c@example.net",
            "bjensen@example.com",
            "jsmith@example.com",
            "mo'malley@example.org"
        ]
    );
    let desc = app
        .list_users(&[("sortBy", "name.familyName"), ("sortOrder", "descending")])
        .await;
    assert_eq!(
        order(desc, "/name/familyName"),
        ["Zed", "Smith", "O'Malley", "Jensen"]
    );
    let by_title = app.list_users(&[("sortBy", "title")]).await;
    assert_eq!(
        order(by_title, "/title"),
        ["Intern", "Manager", "Tour Guide", "-"],
        "unassigned values sort last"
    );
    let by_email = app
        .list_users(&[("sortBy", "emails.value"), ("sortOrder", "DESCENDING")])
        .await;
    assert_eq!(order(by_email, "/userName")[0], "mo'malley@example.org");

    for (key, value) in [
        ("sortOrder", "sideways"),
        ("sortBy", "nosuch"),
        ("sortBy", "phoneNumbers"),
    ] {
        let response = app
            .request(Method::GET, "/scim/v2/Users")
            .query(&[("sortBy", "userName"), (key, value)])
            .send()
            .await
            .unwrap();
        assert_scim_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    }
}

#[tokio::test]
async fn pagination_is_one_based_stable_and_bounded() {
    let app = spawn_app_with(|s| {
        s.default_page_size = 4;
        s.max_page_size = 5;
    })
    .await;
    for i in 0..11 {
        app.create_user(&json!({"userName": format!("user{i:02}")}))
            .await;
    }
    let first = app.list_users(&[]).await;
    assert_eq!(first["totalResults"], 11);
    assert_eq!(first["itemsPerPage"], 4, "default page size");
    assert_eq!(first["startIndex"], 1);

    let big = app.list_users(&[("count", "50")]).await;
    assert_eq!(
        big["itemsPerPage"], 5,
        "count is capped at the maximum page size"
    );

    let zero = app.list_users(&[("count", "0")]).await;
    assert_eq!(zero["totalResults"], 11);
    assert_eq!(zero["itemsPerPage"], 0);
    assert_eq!(zero["Resources"], json!([]));

    let beyond = app.list_users(&[("startIndex", "40")]).await;
    assert_eq!(beyond["Resources"], json!([]));
    assert_eq!(beyond["totalResults"], 11);

    let below = app
        .list_users(&[("startIndex", "-3"), ("count", "2")])
        .await;
    assert_eq!(below["startIndex"], 1, "startIndex below 1 is read as 1");

    // Paging through sees every user exactly once, in a stable order.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = app
            .list_users(&[("startIndex", &start.to_string()), ("count", "3")])
            .await;
        let items = page["Resources"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        seen.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        start += items.len();
    }
    assert_eq!(seen.len(), 11);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 11);

    // The same holds for a filter evaluated in memory.
    let mut seen = HashSet::new();
    for start in [1, 3, 5, 7, 9, 11] {
        let page = app
            .list_users(&[
                ("filter", "nickName eq null"),
                ("startIndex", &start.to_string()),
                ("count", "2"),
            ])
            .await;
        assert_eq!(page["totalResults"], 11);
        for r in page["Resources"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(seen.len(), 11);

    let bad = app
        .request(Method::GET, "/scim/v2/Users")
        .query(&[("count", "ten")])
        .send()
        .await
        .unwrap();
    assert_scim_error(bad, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
}

#[tokio::test]
async fn an_unindexed_filter_over_too_many_users_is_too_many() {
    let app = spawn_app_with(|s| s.max_filter_scan = 5).await;
    for i in 0..8 {
        app.create_user(&json!({"userName": format!("u{i}"), "title": "t"}))
            .await;
    }
    let response = app
        .request(Method::GET, "/scim/v2/Users")
        .query(&[("filter", "title eq \"t\"")])
        .send()
        .await
        .unwrap();
    assert_scim_error(response, StatusCode::BAD_REQUEST, Some("tooMany")).await;
    // Indexed filters are not limited by the scan budget.
    assert_eq!(
        app.list_users(&[("filter", "userName sw \"u\"")]).await["totalResults"],
        8
    );
    // An indexed part narrows the scan below the budget.
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"u3\" and title eq \"t\"")])
            .await["totalResults"],
        1
    );
}
