//! Metrics: the registry a server's `GET /metrics` shows in the Prometheus
//! text format (version 0.0.4), and the small calls the rest of the code
//! makes to count into it.
//!
//! One `Metrics` per server (each `Application`, so tests that run several
//! servers in one process each read their own counts). Every label takes
//! values from a bounded set, so the number of series stays bounded:
//! routes are the router's templates (`/scim/v2/Users/{id}`, never a raw
//! path; `unmatched` for the rest), methods are the standard ones
//! (`OTHER` for the rest), sign-in refusals are reason classes, and SCIM
//! writes are counted per SCIM token (bounded by the tokens issued).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::{DbObserver, PoolStats};

/// The `Content-Type` of the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The route label of a request no route matched (unknown paths of any
/// shape share it, so a scanner cannot grow the series).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Request latency buckets, in seconds: from a cached read (a few ms) to a
/// large Bulk or a password check (argon2id, around a second).
const HTTP_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Database buckets, in seconds: a pooled connection is usually free at
/// once; a queue on SQLite's single writer shows up in the upper ones.
const DB_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0,
];

/// How a person signs in, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInMethod {
    Password,
    Saml,
    Oidc,
    /// A method this build does not know (never expected).
    Other,
}

impl SignInMethod {
    /// From a session's method (`password`) or an SSO connection's kind
    /// (`saml`, `oidc`).
    fn parse(raw: &str) -> Self {
        match raw {
            "password" => SignInMethod::Password,
            "saml" => SignInMethod::Saml,
            "oidc" => SignInMethod::Oidc,
            _ => SignInMethod::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Saml => "saml",
            SignInMethod::Oidc => "oidc",
            SignInMethod::Other => "other",
        }
    }
}

/// The class of an audited sign-in refusal reason: few enough values for a
/// label, and what an operator acts on (a brute force shows as
/// `bad_credentials` and `throttled`, a broken IdP as `idp_unreachable` or
/// `invalid_answer`). A reason not listed here is `other`.
pub fn reason_class(reason: &str) -> &'static str {
    match reason {
        "unknown_user" | "wrong_password" | "no_password_set" => "bad_credentials",
        "throttled" => "throttled",
        // A password sign-in to an SSO account, or the reverse.
        "sso_required" | "password_mode" => "auth_mode",
        "deactivated" => "deactivated",
        // No account, or not exactly one, for the identity the IdP asserted.
        "no_account" | "ambiguous" | "linked_elsewhere" | "link_race" | "email_domain"
        | "no_verified_email" | "unverified_email" | "jit_conflict" | "jit_invalid" => {
            "account_match"
        }
        "sso_disabled" | "idp_initiated_refused" => "policy",
        // The answer is not for a sign-in started here and now: expired,
        // used already, from another browser, or unknown.
        "request_expired"
        | "wrong_browser"
        | "missing_state"
        | "wrong_state"
        | "unknown_in_response_to"
        | "wrong_in_response_to"
        | "replayed" => "request",
        "idp_unreachable" | "code_exchange_failed" => "idp_unreachable",
        "idp_error" => "idp_error",
        // The IdP's answer failed a protocol or signature check.
        "id_token_invalid" | "wrong_iss" | "missing_code" | "response_malformed"
        | "response_invalid" | "signature_invalid" | "weak_algorithm" | "wrong_audience"
        | "wrong_destination" | "wrong_issuer" | "assertion_count" | "expired"
        | "connection_invalid" => "invalid_answer",
        _ => "other",
    }
}

/// A request method as a label: the standard ones, else `OTHER` (a client
/// may send any token as a method).
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    method: &'static str,
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScimWriteLabels {
    token_id: String,
    token_label: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolStateLabels {
    pool: &'static str,
    state: &'static str,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    sign_ins: Family<SignInLabels, Counter>,
    scim_writes: Family<ScimWriteLabels, Counter>,
    db_begin_seconds: Family<PoolLabels, Histogram, fn() -> Histogram>,
    db_statement_seconds: Family<PoolLabels, Histogram, fn() -> Histogram>,
    db_statement_errors: Family<PoolLabels, Counter>,
    pool_connections: Family<PoolStateLabels, Gauge>,
    pool_max_connections: Family<PoolLabels, Gauge>,
    /// Webhook delivery attempts by outcome (`delivered`, `retry`, `failed`).
    webhook_deliveries: Family<OutcomeLabels, Counter>,
}

/// The server's metrics. Cheap to clone: every clone counts into one registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn db_histogram() -> Histogram {
    Histogram::new(DB_BUCKETS)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("scimlink");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_seconds = Family::new_with_constructor(http_histogram as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by route template and method",
            request_seconds.clone(),
        );
        let sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "sign_ins",
            "Sign-ins by method (password, saml, oidc) and outcome (success, refused), with the \
             refusal's reason class",
            sign_ins.clone(),
        );
        let scim_writes = Family::<ScimWriteLabels, Counter>::default();
        registry.register(
            "scim_write_requests",
            "SCIM write requests (POST, PUT, PATCH, DELETE; a Bulk request counts once) by SCIM \
             token, method and status",
            scim_writes.clone(),
        );
        let db_begin_seconds = Family::new_with_constructor(db_histogram as fn() -> Histogram);
        registry.register(
            "db_transaction_begin_seconds",
            "Time to get a connection from the pool and open a transaction (every write and \
             every multi-query read), by pool",
            db_begin_seconds.clone(),
        );
        let db_statement_seconds = Family::new_with_constructor(db_histogram as fn() -> Histogram);
        registry.register(
            "db_statement_duration_seconds",
            "Time the database takes to run one statement on a connection already held, by pool",
            db_statement_seconds.clone(),
        );
        let db_statement_errors = Family::<PoolLabels, Counter>::default();
        registry.register(
            "db_statement_errors",
            "Statements the database answered with an error, by pool",
            db_statement_errors.clone(),
        );
        let pool_connections = Family::<PoolStateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Open connections of each pool, idle or in use, when scraped",
            pool_connections.clone(),
        );
        let pool_max_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections each pool opens",
            pool_max_connections.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered (a 2xx), retry (refused or \
             unreachable, tried again later), failed (given up after 24 hours)",
            webhook_deliveries.clone(),
        );
        Metrics(Arc::new(Inner {
            webhook_deliveries,
            registry,
            requests,
            request_seconds,
            sign_ins,
            scim_writes,
            db_begin_seconds,
            db_statement_seconds,
            db_statement_errors,
            pool_connections,
            pool_max_connections,
        }))
    }

    /// One webhook delivery attempt: `delivered`, `retry` or `failed`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.0
            .webhook_deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// One answered request. `route` is the router's template, or
    /// `UNMATCHED_ROUTE`.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = method_label(method);
        self.0
            .requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method,
                status,
            })
            .inc();
        self.0
            .request_seconds
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method,
            })
            .observe(took.as_secs_f64());
    }

    /// One sign-in: `method` is `password` or the SSO connection's kind
    /// (`saml`, `oidc`); the outcome is `Ok`, or `Err` with the reason the
    /// audit log records (`wrong_password`, `replayed` ...), counted by its
    /// class (`reason_class`).
    pub fn sign_in(&self, method: &str, outcome: Result<(), &str>) {
        let (outcome, reason) = match outcome {
            Ok(()) => ("success", "none"),
            Err(reason) => ("refused", reason_class(reason)),
        };
        self.0
            .sign_ins
            .get_or_create(&SignInLabels {
                method: SignInMethod::parse(method).as_str(),
                outcome,
                reason,
            })
            .inc();
    }

    /// One SCIM write request made with a SCIM token, and its status.
    pub fn scim_write(&self, token_id: &str, token_label: &str, method: &str, status: u16) {
        self.0
            .scim_writes
            .get_or_create(&ScimWriteLabels {
                token_id: token_id.to_string(),
                token_label: token_label.to_string(),
                method: method_label(method),
                status,
            })
            .inc();
    }

    /// The registry in the Prometheus text format, with the pools' gauges
    /// read now.
    pub fn render(&self, pools: &[PoolStats]) -> String {
        for pool in pools {
            let in_use = pool.size.saturating_sub(pool.idle);
            for (state, value) in [("idle", pool.idle), ("in_use", in_use)] {
                self.0
                    .pool_connections
                    .get_or_create(&PoolStateLabels {
                        pool: pool.name,
                        state,
                    })
                    .set(i64::from(value));
            }
            self.0
                .pool_max_connections
                .get_or_create(&PoolLabels { pool: pool.name })
                .set(i64::from(pool.max));
        }
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry)
        {
            // Writing to a String does not fail; say so if it ever does.
            log::error!("could not encode the metrics: {e}");
        }
        out
    }
}

impl DbObserver for Metrics {
    fn transaction_begun(&self, pool: &'static str, took: Duration) {
        self.0
            .db_begin_seconds
            .get_or_create(&PoolLabels { pool })
            .observe(took.as_secs_f64());
    }

    fn statement_done(&self, pool: &'static str, took: Duration, failed: bool) {
        let labels = PoolLabels { pool };
        self.0
            .db_statement_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if failed {
            self.0.db_statement_errors.get_or_create(&labels).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_class_and_unknown_ones_are_other() {
        for (reason, class) in [
            ("wrong_password", "bad_credentials"),
            ("unknown_user", "bad_credentials"),
            ("throttled", "throttled"),
            ("sso_required", "auth_mode"),
            ("password_mode", "auth_mode"),
            ("deactivated", "deactivated"),
            ("linked_elsewhere", "account_match"),
            ("replayed", "request"),
            ("code_exchange_failed", "idp_unreachable"),
            ("signature_invalid", "invalid_answer"),
            ("something new", "other"),
        ] {
            assert_eq!(reason_class(reason), class, "{reason}");
        }
    }

    #[test]
    fn renders_the_prometheus_text_format_with_escaped_labels() {
        let metrics = Metrics::new();
        metrics.http_request(
            "/scim/v2/Users/{id}",
            "PATCH",
            200,
            Duration::from_millis(3),
        );
        metrics.http_request(UNMATCHED_ROUTE, "BREW", 404, Duration::from_millis(1));
        metrics.sign_in("password", Err("wrong_password"));
        metrics.sign_in("saml", Ok(()));
        metrics.sign_in("ldap", Err("?"));
        metrics.scim_write("t1", "Okta \"prod\"\n", "POST", 201);
        metrics.transaction_begun("write", Duration::from_micros(50));
        let text = metrics.render(&[PoolStats {
            name: "write",
            size: 1,
            idle: 1,
            max: 1,
        }]);
        for line in [
            "# TYPE scimlink_http_requests_total counter",
            r#"scimlink_http_requests_total{route="/scim/v2/Users/{id}",method="PATCH",status="200"} 1"#,
            r#"scimlink_http_requests_total{route="unmatched",method="OTHER",status="404"} 1"#,
            "# TYPE scimlink_http_request_duration_seconds histogram",
            r#"scimlink_http_request_duration_seconds_bucket{route="/scim/v2/Users/{id}",method="PATCH",le="0.005"} 1"#,
            r#"scimlink_sign_ins_total{method="password",outcome="refused",reason="bad_credentials"} 1"#,
            r#"scimlink_sign_ins_total{method="saml",outcome="success",reason="none"} 1"#,
            r#"scimlink_sign_ins_total{method="other",outcome="refused",reason="other"} 1"#,
            r#"scimlink_sign_ins_total{method="other",outcome="refused",reason="other"} 1"#,
            r#"scimlink_scim_write_requests_total{token_id="t1",token_label="Okta \"prod\"\n",method="POST",status="201"} 1"#,
            r#"scimlink_db_transaction_begin_seconds_count{pool="write"} 1"#,
            r#"scimlink_db_pool_connections{pool="write",state="idle"} 1"#,
            r#"scimlink_db_pool_connections{pool="write",state="in_use"} 0"#,
            r#"scimlink_db_pool_max_connections{pool="write"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("# EOF"), "Prometheus text, not OpenMetrics");
    }
}
