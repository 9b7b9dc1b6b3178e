//! The OpenID providers' discovery documents and signing keys, kept in
//! this process (one cache in `AppState`, keyed by issuer, bounded), so a
//! flood of `/sso/{id}/start` does not fetch them per request. A document
//! is reused as long as the provider's `Cache-Control` allows (five minutes
//! when it says nothing, a day at most, never with `no-store`). One fetch
//! per provider runs at a time; the requests waiting for it take its result.
//! An ID token signed with a key the cached set lacks makes one refetch of
//! the keys (the provider rotated them), at most once per
//! `REFETCH_INTERVAL` per provider, so no answer can drive a fetch loop.
//! Times are scimlink's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::JwkSet;

use super::oidc::{self, Discovery, Fetched};
use super::outbound::Outbound;

/// The most providers remembered; the least recently used goes first.
const MAX_PROVIDERS: usize = 1024;
/// How long a failed discovery fetch answers for the provider: a flood of
/// starts against a provider that is down makes one fetch per interval.
const FAILURE_TTL: TimeDelta = TimeDelta::seconds(5);
/// The least time between two refetches of a provider's keys for a key it
/// did not list.
pub const REFETCH_INTERVAL: TimeDelta = TimeDelta::seconds(30);

#[derive(Default)]
pub struct ProviderCache {
    providers: Mutex<HashMap<String, Arc<Provider>>>,
}

/// One provider: what is known of it, and the lock its fetches take.
#[derive(Default)]
struct Provider {
    fetching: tokio::sync::Mutex<()>,
    known: Mutex<Known>,
}

struct Fresh<T> {
    value: Arc<T>,
    until: DateTime<Utc>,
}

impl<T> Fresh<T> {
    fn at(&self, now: DateTime<Utc>) -> Option<Arc<T>> {
        (now < self.until).then(|| self.value.clone())
    }
}

#[derive(Default)]
struct Known {
    discovery: Option<Fresh<Discovery>>,
    failure: Option<(DateTime<Utc>, String)>,
    /// The keys, and the `jwks_uri` they were read from.
    keys: Option<(String, Fresh<JwkSet>)>,
    last_refetch: Option<DateTime<Utc>>,
    last_used: Option<DateTime<Utc>>,
}

impl Known {
    fn discovery(&self, now: DateTime<Utc>) -> Option<Result<Arc<Discovery>, String>> {
        if let Some(d) = self.discovery.as_ref().and_then(|d| d.at(now)) {
            return Some(Ok(d));
        }
        match &self.failure {
            Some((until, e)) if now < *until => Some(Err(e.clone())),
            _ => None,
        }
    }

    fn keys(&self, jwks_uri: &str, now: DateTime<Utc>) -> Option<Arc<JwkSet>> {
        self.keys
            .as_ref()
            .filter(|(uri, _)| uri == jwks_uri)
            .and_then(|(_, k)| k.at(now))
    }
}

/// A poisoned lock still holds consistent data here (every write is one
/// assignment), so it is used as is rather than failing every sign-in.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ProviderCache {
    fn provider(&self, issuer: &str, now: DateTime<Utc>) -> Arc<Provider> {
        let mut providers = lock(&self.providers);
        if !providers.contains_key(issuer) && providers.len() >= MAX_PROVIDERS {
            let oldest = providers
                .iter()
                .min_by_key(|(_, p)| lock(&p.known).last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                providers.remove(&oldest);
            }
        }
        let provider = providers.entry(issuer.to_string()).or_default().clone();
        lock(&provider.known).last_used = Some(now);
        provider
    }

    /// The issuer's discovery document, checked (`oidc::fetch_discovery`).
    pub async fn discovery(
        &self,
        http: &Outbound,
        issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Discovery>, String> {
        let provider = self.provider(issuer, now);
        if let Some(known) = lock(&provider.known).discovery(now) {
            return known;
        }
        let _fetching = provider.fetching.lock().await;
        // Another request may have fetched it while this one waited.
        if let Some(known) = lock(&provider.known).discovery(now) {
            return known;
        }
        Self::fetch_discovery(http, &provider, issuer, now, true).await
    }

    /// Reads the discovery document now, whatever is cached (an admin
    /// checking a connection), and keeps it for the sign-ins.
    pub async fn refresh_discovery(
        &self,
        http: &Outbound,
        issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Discovery>, String> {
        let provider = self.provider(issuer, now);
        let _fetching = provider.fetching.lock().await;
        // The admin sees a failure; sign-ins keep what they had.
        Self::fetch_discovery(http, &provider, issuer, now, false).await
    }

    async fn fetch_discovery(
        http: &Outbound,
        provider: &Provider,
        issuer: &str,
        now: DateTime<Utc>,
        remember_failure: bool,
    ) -> Result<Arc<Discovery>, String> {
        let fetched = oidc::fetch_discovery(http, issuer).await;
        let mut known = lock(&provider.known);
        match fetched {
            Ok(Fetched { value, lifetime }) => {
                let value = Arc::new(value);
                known.failure = None;
                known.discovery = Some(Fresh {
                    value: value.clone(),
                    until: now + lifetime,
                });
                Ok(value)
            }
            Err(e) => {
                if remember_failure {
                    known.failure = Some((now + FAILURE_TTL, e.clone()));
                }
                Err(e)
            }
        }
    }

    /// The keys the ID token `token` is verified with: the cached set, or
    /// one refetch when it lacks the token's key and the last refetch is
    /// `REFETCH_INTERVAL` ago (otherwise the cached set, and verification
    /// refuses the token).
    pub async fn keys_for(
        &self,
        http: &Outbound,
        discovery: &Discovery,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<JwkSet>, String> {
        let provider = self.provider(&discovery.issuer, now);
        let cached = lock(&provider.known).keys(&discovery.jwks_uri, now);
        if let Some(keys) = &cached
            && oidc::has_key_for(token, keys)
        {
            return Ok(keys.clone());
        }
        let _fetching = provider.fetching.lock().await;
        // While this one waited, another request may have read the keys.
        let (cached, may_refetch) = {
            let known = lock(&provider.known);
            let may = known
                .last_refetch
                .is_none_or(|at| now >= at + REFETCH_INTERVAL);
            (known.keys(&discovery.jwks_uri, now), may)
        };
        match cached {
            Some(keys) if oidc::has_key_for(token, &keys) || !may_refetch => return Ok(keys),
            _ => {}
        }
        let Fetched { value, lifetime } = oidc::fetch_keys(http, discovery).await?;
        let value = Arc::new(value);
        let mut known = lock(&provider.known);
        if cached.is_some() {
            known.last_refetch = Some(now);
        }
        known.keys = Some((
            discovery.jwks_uri.clone(),
            Fresh {
                value: value.clone(),
                until: now + lifetime,
            },
        ));
        Ok(value)
    }
}
