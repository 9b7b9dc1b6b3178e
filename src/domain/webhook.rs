//! Webhook rules with no I/O: secrets (`whsec_…`), Standard Webhooks
//! signatures, the retry schedule, the order key of an event and which
//! URLs may be an endpoint.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Standard Webhooks: secrets are `whsec_` followed by base64 of the key.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A new secret, `whsec_` + base64 of `SECRET_BYTES` random bytes.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key of a secret: the base64-decoded part after `whsec_`.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .map_err(|e| format!("the webhook secret is not base64: {e}"))
}

/// One `v1,<signature>` entry: base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` (Standard Webhooks, "Signature scheme").
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one entry per live secret, space-separated.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &str) -> String {
    keys.iter()
        .map(|key| sign(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long to wait after the `attempts`-th failed attempt (1-based),
/// before jitter: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h.
pub fn backoff(attempts: i32) -> TimeDelta {
    match attempts {
        ..=1 => TimeDelta::seconds(5),
        2 => TimeDelta::seconds(30),
        3 => TimeDelta::minutes(2),
        4 => TimeDelta::minutes(10),
        5 => TimeDelta::minutes(30),
        6 => TimeDelta::hours(1),
        _ => TimeDelta::hours(2),
    }
}

/// `delay` plus up to a fifth more, so endpoints that failed together are
/// not retried in lockstep; `unit` in [0, 1).
pub fn with_jitter(delay: TimeDelta, unit: f64) -> TimeDelta {
    let extra = (delay.num_milliseconds() as f64 * 0.2 * unit.clamp(0.0, 1.0)) as i64;
    delay + TimeDelta::milliseconds(extra)
}

/// How long a delivery is retried before it is marked failed.
pub const RETRY_FOR: TimeDelta = TimeDelta::hours(24);
/// An endpoint that has failed every attempt this long is disabled.
pub const DISABLE_AFTER: TimeDelta = TimeDelta::days(3);

/// The order key of an event: its account or group (`None`: no order kept
/// beyond the feed's).
pub fn subject_of(event: &Value) -> Option<String> {
    let data = event.get("data")?;
    if let Some(id) = data.pointer("/account/id").and_then(Value::as_str) {
        return Some(format!("account:{id}"));
    }
    data.pointer("/group/id")
        .and_then(Value::as_str)
        .map(|id| format!("group:{id}"))
}

/// Whether an endpoint URL's scheme and host are acceptable: `https`, or
/// `http` to a loopback host (development, tests). The address a name
/// resolves to is checked when connecting.
pub fn check_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("url {raw:?} is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err(format!("url {raw:?} has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(format!(
                "url must use https (http only to a loopback address), not {other}"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry a user name or password".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks reference libraries' tests.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn new_secrets_decode_to_enough_random_bytes() {
        let a = new_secret();
        assert!(a.starts_with("whsec_"));
        assert_eq!(secret_key(&a).unwrap().len(), SECRET_BYTES);
        assert_ne!(a, new_secret());
    }

    #[test]
    fn backoff_follows_the_schedule_and_retries_for_a_day() {
        let total: TimeDelta = (1..=20).map(backoff).sum();
        assert!(total >= RETRY_FOR, "{total}");
        assert_eq!(backoff(1), TimeDelta::seconds(5));
        assert_eq!(backoff(9), TimeDelta::hours(2));
        assert!(with_jitter(TimeDelta::seconds(10), 0.99) < TimeDelta::seconds(12));
    }

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://example.com/hook",
            "http://127.0.0.1:8080/x",
            "http://[::1]/x",
            "http://localhost:1/",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/",
            "ftp://example.com/",
            "not a url",
            "https://u:p@example.com/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subject_is_the_account_or_the_group() {
        let e = serde_json::json!({"data": {"account": {"id": "a1"}}});
        assert_eq!(subject_of(&e).as_deref(), Some("account:a1"));
        let e = serde_json::json!({"data": {"group": {"id": "g1"}, "member_ids": []}});
        assert_eq!(subject_of(&e).as_deref(), Some("group:g1"));
        assert_eq!(subject_of(&serde_json::json!({"data": {}})), None);
    }
}
