//! The OpenID Connect relying party: discovery, the authorization request
//! (state, nonce and PKCE S256), and the callback's checks — the state
//! (consumed), the `iss` parameter (RFC 9207), the code exchange with the
//! PKCE verifier, and the ID token's signature against the provider's keys,
//! its `iss`, `aud`, `exp` and `nonce`. Time is scimlink's clock, not the
//! library's, so tests can move it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::outbound::{self, Outbound};
use crate::error::{AppError, AppResult};

/// Signature algorithms an ID token may use: asymmetric only (no `none`, no
/// HMAC with the client secret).
const ACCEPTED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Largest document accepted from a provider (discovery, keys, token response).
const MAX_PROVIDER_BODY: usize = 256 * 1024;

/// Checks an issuer URL as an admin enters it: `https://` (or `http://` on
/// loopback, for local providers), no query or fragment.
pub fn check_issuer(raw: &str) -> AppResult<String> {
    let raw = raw.trim();
    let url = check_https_url("issuer", raw).map_err(AppError::invalid_value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(AppError::invalid_value(format!(
            "issuer {raw:?} must not have a query or fragment"
        )));
    }
    Ok(raw.to_string())
}

/// An IdP's URL (`what`, for the message): https, or plain http only on
/// loopback (a provider on this machine, in development and tests).
pub(crate) fn check_https_url(what: &str, raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{what} {raw:?} is not a URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(format!("{what} {raw:?} must be an https:// URL")),
    }
}

/// The parts of a provider's discovery document scimlink uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// A provider's document and how long it may be reused.
pub struct Fetched<T> {
    pub value: T,
    pub lifetime: TimeDelta,
}

/// Reuse when the provider says nothing (OpenID Connect Discovery and RFC
/// 7517 leave it to the HTTP caching headers).
pub const DEFAULT_LIFETIME: TimeDelta = TimeDelta::minutes(5);
/// The longest reuse, whatever the provider says: a key it withdraws is
/// dropped within a day.
pub const MAX_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// How long a provider's answer may be reused, from its `Cache-Control`
/// (RFC 9111 §5.2.2): `no-store` and `no-cache` not at all (scimlink does
/// not revalidate), `max-age=N` N seconds (at most `MAX_LIFETIME`), neither
/// `DEFAULT_LIFETIME`. RFC 9111 §4.2.1: a malformed or repeated `max-age`
/// makes the answer stale.
pub fn cache_lifetime(cache_control: Option<&str>) -> TimeDelta {
    let Some(header) = cache_control else {
        return DEFAULT_LIFETIME;
    };
    let mut max_age = None;
    for directive in header.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return TimeDelta::zero(),
            "max-age" if max_age.is_some() => return TimeDelta::zero(),
            "max-age" => {
                let value = value.trim().trim_matches('"');
                match value.parse::<u64>() {
                    Ok(n) => max_age = Some(n),
                    // Larger than any integer: RFC 9111 §1.2.2 says 2^31.
                    Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                        max_age = Some(u64::MAX)
                    }
                    Err(_) => return TimeDelta::zero(),
                }
            }
            _ => {}
        }
    }
    match max_age {
        Some(n) => TimeDelta::seconds(
            i64::try_from(n)
                .unwrap_or(i64::MAX)
                .min(MAX_LIFETIME.num_seconds()),
        ),
        None => DEFAULT_LIFETIME,
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &Outbound,
    url: &str,
    what: &str,
) -> Result<Fetched<T>, String> {
    let response = http
        .get(url)?
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read the {what} at {url}: {}",
                outbound::describe(&e)
            )
        })?;
    let lifetime = cache_lifetime(
        response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let value = read_json(response, url, what).await?;
    Ok(Fetched { value, lifetime })
}

/// Reads a provider's JSON answer, at most `MAX_PROVIDER_BODY` bytes of it
/// (a hostile provider cannot make scimlink buffer more). Errors name the
/// status, never the provider's text, which may end up on a page.
async fn read_json<T: serde::de::DeserializeOwned>(
    mut response: reqwest::Response,
    url: &str,
    what: &str,
) -> Result<T, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the {what} at {url} answered {status}"));
    }
    let too_large = || format!("the {what} at {url} is larger than {MAX_PROVIDER_BODY} bytes");
    if response
        .content_length()
        .is_some_and(|n| n > MAX_PROVIDER_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot read the {what} at {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_PROVIDER_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("the {what} at {url} is not valid: {e}"))
}

/// An endpoint of the provider must be https, or plain http on loopback
/// when the issuer itself is (a provider on this machine, in development
/// and tests): the client secret and the tokens travel to these.
fn check_endpoint(issuer: &str, name: &str, endpoint: &str) -> Result<(), String> {
    let url = url::Url::parse(endpoint)
        .map_err(|e| format!("the provider's {name} is not a URL: {e}"))?;
    let issuer_is_loopback_http = url::Url::parse(issuer)
        .map(|i| i.scheme() == "http" && is_loopback(&i))
        .unwrap_or(false);
    match url.scheme() {
        "https" => Ok(()),
        "http" if issuer_is_loopback_http && is_loopback(&url) => Ok(()),
        _ => Err(format!("the provider's {name} {endpoint:?} is not https")),
    }
}

pub(crate) fn is_loopback(url: &url::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// Reads and checks the discovery document: its `issuer` must be exactly
/// the configured one (OpenID Connect Discovery §4.3). Callers go through
/// `oidc_cache`.
pub(crate) async fn fetch_discovery(
    http: &Outbound,
    issuer: &str,
) -> Result<Fetched<Discovery>, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let fetched: Fetched<Discovery> = get_json(http, &url, "discovery document").await?;
    let doc = &fetched.value;
    if doc.issuer != issuer {
        return Err(format!(
            "the discovery document names issuer {:?}, not {issuer:?}",
            doc.issuer
        ));
    }
    check_endpoint(
        issuer,
        "authorization_endpoint",
        &doc.authorization_endpoint,
    )?;
    check_endpoint(issuer, "token_endpoint", &doc.token_endpoint)?;
    check_endpoint(issuer, "jwks_uri", &doc.jwks_uri)?;
    Ok(fetched)
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub struct AuthorizeRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    /// `prompt=login`: the provider asks for credentials even when the
    /// browser is signed in there (a test sign-in as someone else).
    pub force_login: bool,
}

/// The URL the browser is sent to at the provider.
pub fn authorize_url(
    discovery: &Discovery,
    request: &AuthorizeRequest<'_>,
) -> Result<String, String> {
    let mut url = url::Url::parse(&discovery.authorization_endpoint)
        .map_err(|e| format!("the provider's authorization_endpoint is not a URL: {e}"))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", request.client_id)
        .append_pair("redirect_uri", request.redirect_uri)
        .append_pair("scope", &request.scopes.join(" "))
        .append_pair("state", request.state)
        .append_pair("nonce", request.nonce)
        .append_pair("code_challenge", &pkce_challenge(request.pkce_verifier))
        .append_pair("code_challenge_method", "S256");
    if request.force_login {
        url.query_pairs_mut().append_pair("prompt", "login");
    }
    Ok(url.to_string())
}

/// RFC 9207: when the provider says it sends `iss` with the authorization
/// response, the parameter must be there; when it is there, it must be the
/// issuer. (A mix-up attack sends another provider's code here.)
pub fn check_iss_parameter(discovery: &Discovery, iss: Option<&str>) -> Result<(), String> {
    match iss {
        Some(iss) if iss == discovery.issuer => Ok(()),
        Some(iss) => Err(format!(
            "the authorization response came from issuer {iss:?}, not {:?}",
            discovery.issuer
        )),
        None if discovery.authorization_response_iss_parameter_supported => Err(
            "the authorization response has no iss parameter, though the provider sends one".into(),
        ),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    pub pkce_verifier: &'a str,
}

/// Exchanges the code at the token endpoint and returns the ID token.
pub async fn exchange_code(
    http: &Outbound,
    discovery: &Discovery,
    exchange: &CodeExchange<'_>,
) -> Result<String, String> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", exchange.code),
        ("redirect_uri", exchange.redirect_uri),
        ("code_verifier", exchange.pkce_verifier),
    ];
    let mut request = http.post(&discovery.token_endpoint)?;
    let methods = &discovery.token_endpoint_auth_methods_supported;
    match exchange.client_secret {
        // client_secret_basic is the default (OpenID Connect Core §9); post
        // only when the provider does not take basic.
        Some(secret)
            if !methods.is_empty()
                && !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post") =>
        {
            form.push(("client_id", exchange.client_id));
            form.push(("client_secret", secret));
        }
        Some(secret) => {
            // RFC 6749 §2.3.1: both form-encoded before the basic encoding.
            let user: String =
                url::form_urlencoded::byte_serialize(exchange.client_id.as_bytes()).collect();
            let pass: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            request = request.basic_auth(user, Some(pass));
        }
        None => form.push(("client_id", exchange.client_id)),
    }
    let response = request
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot reach the token endpoint: {}",
                outbound::describe(&e)
            )
        })?;
    let body: TokenResponse =
        read_json(response, &discovery.token_endpoint, "token response").await?;
    body.id_token
        .ok_or_else(|| "the token response has no id_token".to_string())
}

/// Reads the provider's signing keys. Callers go through `oidc_cache`.
pub(crate) async fn fetch_keys(
    http: &Outbound,
    discovery: &Discovery,
) -> Result<Fetched<JwkSet>, String> {
    get_json(http, &discovery.jwks_uri, "key set").await
}

/// Whether `keys` hold the key the ID token names (its `kid`, or the only
/// key when it names none): when not, the provider may have rotated its
/// keys since they were read.
pub fn has_key_for(token: &str, keys: &JwkSet) -> bool {
    match jsonwebtoken::decode_header(token).map(|h| h.kid) {
        Ok(Some(kid)) => keys.find(&kid).is_some(),
        Ok(None) => keys.keys.len() == 1,
        // Not a JWT: verification says so; new keys would not help.
        Err(_) => true,
    }
}

/// What the ID token must match.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: DateTime<Utc>,
    pub skew_seconds: i64,
}

/// Verifies an ID token (OpenID Connect Core §3.1.3.7) and returns its claims.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| format!("the ID token is not a signed JWT: {e}"))?;
    if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
        return Err(format!(
            "the ID token is signed with {:?}, which is not accepted",
            header.alg
        ));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| "the ID token's key is not among the provider's keys".to_string())?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|e| format!("the provider's key is not usable: {e}"))?;
    let mut validation = Validation::new(header.alg);
    // Times are checked below against scimlink's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_audience(&[expected.client_id]);
    validation.set_issuer(&[expected.issuer]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("the ID token was refused: {e}"))?;
    let claims = data.claims;
    let now = expected.now.timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if now >= exp + expected.skew_seconds {
        return Err(format!("the ID token expired {} s ago", now - exp));
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
        && iat > now + expected.skew_seconds
    {
        return Err("the ID token was issued in the future".into());
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !crate::domain::secret::hashes_match(nonce, expected.nonce) {
        return Err("the ID token's nonce is not the one this sign-in sent".into());
    }
    // Core §3.1.3.7 (4, 5): several audiences need azp, and azp is us.
    let several = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    let azp = claims.get("azp").and_then(Value::as_str);
    if (several || azp.is_some()) && azp != Some(expected.client_id) {
        return Err("the ID token's azp is not this client".into());
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if sub.is_empty() || sub.len() > 255 {
        return Err("the ID token's sub is empty or longer than 255 bytes".into());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc7636s_example() {
        // RFC 7636 Appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn issuers_are_https_or_loopback() {
        assert!(check_issuer("https://idp.example.com").is_ok());
        assert!(check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(check_issuer("http://idp.example.com").is_err());
        assert!(check_issuer("https://idp.example.com/?x=1").is_err());
        assert!(check_issuer("not a url").is_err());
    }

    #[test]
    fn cache_control_decides_how_long_a_document_is_reused() {
        let secs = |h: Option<&str>| cache_lifetime(h).num_seconds();
        assert_eq!(secs(None), 300);
        assert_eq!(secs(Some("public")), 300);
        assert_eq!(secs(Some("public, max-age=60")), 60);
        assert_eq!(secs(Some("Max-Age=\"120\"")), 120);
        assert_eq!(secs(Some("max-age=0")), 0);
        assert_eq!(secs(Some("no-store")), 0);
        assert_eq!(secs(Some("max-age=600, no-cache")), 0);
        assert_eq!(secs(Some("max-age=999999999")), 24 * 3600);
        assert_eq!(secs(Some("max-age=99999999999999999999999")), 24 * 3600);
        assert_eq!(secs(Some("max-age=soon")), 0);
        assert_eq!(secs(Some("max-age=60, max-age=120")), 0);
    }

    #[test]
    fn iss_parameter_is_checked() {
        let mut d = Discovery {
            issuer: "https://a.example".into(),
            authorization_endpoint: "https://a.example/auth".into(),
            token_endpoint: "https://a.example/token".into(),
            jwks_uri: "https://a.example/jwks".into(),
            authorization_response_iss_parameter_supported: false,
            token_endpoint_auth_methods_supported: vec![],
        };
        assert!(check_iss_parameter(&d, None).is_ok());
        assert!(check_iss_parameter(&d, Some("https://a.example")).is_ok());
        assert!(check_iss_parameter(&d, Some("https://b.example")).is_err());
        d.authorization_response_iss_parameter_supported = true;
        assert!(check_iss_parameter(&d, None).is_err());
    }

    #[test]
    fn endpoints_are_https_unless_the_whole_provider_is_on_loopback() {
        assert!(
            check_endpoint("https://a.example", "token_endpoint", "https://a.example/t").is_ok()
        );
        assert!(
            check_endpoint("https://a.example", "token_endpoint", "http://a.example/t").is_err()
        );
        assert!(check_endpoint("https://a.example", "jwks_uri", "http://127.0.0.1/k").is_err());
        assert!(check_endpoint("http://127.0.0.1:9", "jwks_uri", "http://127.0.0.1:9/k").is_ok());
        assert!(check_endpoint("http://127.0.0.1:9", "jwks_uri", "http://10.0.0.1/k").is_err());
    }
}
