//! `GET /metrics` (off by default, behind a token, or on its own address)
//! and the graceful stop of the real binary on SIGTERM and SIGINT.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use scimlink::domain::secret::ConfiguredSecret;
use scimlink::settings::Settings;
use scimlink::startup::Application;
use scimlink::store::Db;

use crate::helpers::{METRICS_TOKEN, SCIM, TestApp, fresh_database, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery staple";

async fn spawn_app_with_metrics() -> TestApp {
    spawn_app_with(|s| s.metrics_token = Some(ConfiguredSecret::parse(METRICS_TOKEN).unwrap()))
        .await
}

/// GET /metrics with `token` (if any): status, content type, body.
async fn scrape(app: &TestApp, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = crate::helpers::content_type(&response);
    (status, content_type, response.text().await.unwrap())
}

/// The value of the series `line` names exactly (`name{labels}`), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_answer_404_without_the_setting_as_an_unknown_path_does() {
    let app = spawn_app().await;
    for token in [None, Some(METRICS_TOKEN), Some(app.token.as_str())] {
        let (status, _, body) = scrape(&app, token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(body.contains("no route for GET /metrics"), "{body}");
    }
}

#[tokio::test]
async fn metrics_need_the_token() {
    let app = spawn_app_with_metrics().await;
    let wrong = format!("{METRICS_TOKEN}x");
    for token in [
        None,
        Some(wrong.as_str()),
        Some(&METRICS_TOKEN[..METRICS_TOKEN.len() - 1]),
        Some(app.token.as_str()),
        Some(app.admin_token.as_str()),
    ] {
        let response = app
            .client
            .get(app.url("/metrics"))
            .header("authorization", format!("Bearer {}", token.unwrap_or("")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"scimlink\""
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains("scimlink_"), "{body}");
    }
    let (status, content_type, _) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(content_type.starts_with("application/scim+json"));
    let (status, content_type, body) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_sign_ins_and_scim_writes_by_token() {
    let app = spawn_app_with_metrics().await;
    // SCIM writes and reads: a User with a password, read, changed.
    let user = app
        .create_user(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "metrics.person@example.com",
            "password": PASSWORD,
        }))
        .await;
    let id = user["id"].as_str().unwrap();
    for _ in 0..2 {
        let response = app.get(&format!("/scim/v2/Users/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .patch(
            &format!("/scim/v2/Users/{id}"),
            &crate::helpers::patch_op(
                json!([{"op": "replace", "path": "displayName", "value": "M"}]),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A search is a POST that writes nothing.
    let response = app
        .post(
            "/scim/v2/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Paths no route serves share one label, whatever they are.
    for path in ["/nothing/here", "/or/here/either"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // A refused and an accepted password sign-in.
    for (password, expected) in [
        ("not the password at all", StatusCode::UNAUTHORIZED),
        (PASSWORD, StatusCode::OK),
    ] {
        let response = app
            .client
            .post(app.url("/auth/password/login"))
            .json(&json!({"org": "acme", "user_name": "metrics.person@example.com", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }

    let (status, _, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let expect = |series: &str, expected: f64| {
        assert_eq!(value(&text, series), Some(expected), "{series} in\n{text}");
    };
    expect(
        r#"scimlink_http_requests_total{route="/scim/v2/Users/{id}",method="GET",status="200"}"#,
        2.0,
    );
    expect(
        r#"scimlink_http_requests_total{route="/scim/v2/Users",method="POST",status="201"}"#,
        1.0,
    );
    expect(
        r#"scimlink_http_requests_total{route="unmatched",method="GET",status="404"}"#,
        2.0,
    );
    expect(
        r#"scimlink_http_request_duration_seconds_count{route="/scim/v2/Users/{id}",method="PATCH"}"#,
        1.0,
    );
    assert!(
        !text.contains(id) && !text.contains("/nothing/here"),
        "never a raw path in a label:\n{text}"
    );
    expect(
        r#"scimlink_sign_ins_total{method="password",outcome="refused",reason="bad_credentials"}"#,
        1.0,
    );
    expect(
        r#"scimlink_sign_ins_total{method="password",outcome="success",reason="none"}"#,
        1.0,
    );
    let tokens = scimlink::service::tokens::list(&app.db, &app.org)
        .await
        .unwrap();
    let token_id = &tokens[0].id;
    for (method, status) in [("POST", 201), ("PATCH", 200)] {
        expect(
            &format!(
                r#"scimlink_scim_write_requests_total{{token_id="{token_id}",token_label="test",method="{method}",status="{status}"}}"#
            ),
            1.0,
        );
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("scimlink_scim_write_requests_total{"))
            .count(),
        2,
        "reads and searches are not writes:\n{text}"
    );
    // The database: transactions were opened, statements ran, pools are there.
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    for prefix in [
        "scimlink_db_transaction_begin_seconds_count{pool=",
        "scimlink_db_statement_duration_seconds_count{pool=",
        // Idle and in use together: the connections the pools hold open.
        "scimlink_db_pool_connections{pool=",
        "scimlink_db_pool_max_connections{pool=",
    ] {
        assert!(sum(prefix) > 0.0, "{prefix} in\n{text}");
    }
}

#[tokio::test]
async fn a_metrics_bind_serves_only_metrics_and_without_a_token() {
    let (database_url, _dir) = fresh_database().await;
    let db = Db::connect(&database_url).await.unwrap();
    db.migrate().await.unwrap();
    let mut settings = Settings::new(database_url);
    settings.bind = "127.0.0.1:0".into();
    settings.metrics_bind = Some("127.0.0.1:0".into());
    let app = Application::build_with_db(settings, db).unwrap();
    let main = app.base_url().to_string();
    let metrics = format!(
        "http://{}",
        app.metrics_address().expect("a metrics address")
    );
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let status = |path: &'static str, base: String| {
        let client = client.clone();
        async move {
            let response = client.get(format!("{base}{path}")).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (code, _) = status("/healthz", main.clone()).await;
    assert_eq!(code, StatusCode::OK);
    let (code, text) = status("/metrics", metrics.clone()).await;
    assert_eq!(code, StatusCode::OK, "{text}");
    assert!(
        text.contains(
            r#"scimlink_http_requests_total{route="/healthz",method="GET",status="200"} 1"#
        ),
        "one registry for both addresses:\n{text}"
    );
    // Nothing else there; and without a token the main address has no /metrics.
    for path in ["/healthz", "/scim/v2/Users", "/openapi.yaml"] {
        let (code, _) = status(path, metrics.clone()).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{path} on the metrics address");
    }
    let (code, _) = status("/metrics", main).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

/// Reads one HTTP/1.1 response with a `Content-Length` off `stream`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buffer).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .expect("the response in time")
            .expect("read the response");
        assert!(n > 0, "the connection closed mid-response: {text:?}");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Starts `scimlink serve` on port 0: the child, its address, and the SCIM
/// token it printed (on the first start of a database).
async fn serve(database_url: &str) -> (tokio::process::Child, String, Option<String>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scimlink"))
        .args(["serve", "--bind", "127.0.0.1:0", "--shutdown-timeout", "30"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start scimlink serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = stderr
            .next_line()
            .await
            .unwrap()
            .expect("a listening line before the log ends");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    // Keep draining the log, so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = None;
    // The banner (if any) is printed before the listening line is logged.
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_millis(200), stdout.next_line()).await
    {
        if line.starts_with("scim_") {
            token = Some(line);
        }
    }
    (child, address, token)
}

#[tokio::test]
async fn a_stop_signal_lets_the_request_in_flight_finish_then_exits_zero() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let (database_url, _dir) = fresh_database().await;
    let mut token = None;
    for (n, signal) in [Signal::SIGTERM, Signal::SIGINT].into_iter().enumerate() {
        let (mut child, address, printed) = serve(&database_url).await;
        token = token.or(printed);
        let token = token.clone().expect("the first start printed a token");
        let host = address.trim_start_matches("http://").to_string();
        // A connection the server has accepted: one request answered on it.
        let mut stream = TcpStream::connect(&host).await.unwrap();
        stream
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        // The request in flight: its body half sent when the signal comes.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("in-flight-{n}@example.com"),
        })
        .to_string();
        let (first, rest) = body.split_at(body.len() / 2);
        let head = format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {SCIM}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let pid = Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
        kill(pid, signal).unwrap();
        // It stops accepting connections...
        let mut refused = false;
        for _ in 0..100 {
            if TcpStream::connect(&host).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(refused, "{signal}: still accepting connections 5 s later");
        assert!(
            child.try_wait().unwrap().is_none(),
            "{signal}: exited with a request in flight"
        );
        // ...and the request in flight still completes.
        stream.write_all(rest.as_bytes()).await.unwrap();
        let response = read_response(&mut stream).await;
        assert!(
            response.starts_with("HTTP/1.1 201"),
            "{signal}: the request in flight answered {response}"
        );
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{signal}: the server had not exited 20 s later"))
            .unwrap();
        assert!(status.success(), "{signal}: exited with {status}");
    }
}
