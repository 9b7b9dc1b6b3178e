//! The webhook delivery worker, run inside `scimlink serve` by every
//! instance: it owns its loop, its claim and its shutdown. Each [`tick`]:
//!
//! 1. feeds: for each enabled webhook, turns the events after its cursor
//!    into delivery rows and advances the cursor, in one transaction that
//!    holds the webhook's row (`FOR UPDATE SKIP LOCKED` on PostgreSQL: one
//!    instance feeds a webhook at a time, the others skip it);
//! 2. claims due deliveries with a lease (`store::webhooks::claim`): rows
//!    another instance holds are skipped, and a row whose lease expired
//!    (its instance died) is taken over;
//! 3. sends them (Standard Webhooks: `webhook-id` is the event id, the
//!    same on every attempt) and records each outcome only while still
//!    holding the lease.
//!
//! Nothing is lost when the process dies: deliveries exist in the database
//! before they are sent, and a claimed row whose outcome was not recorded
//! is claimed again once its lease expires. That is also the one way a
//! receiver sees an event twice (the same `webhook-id`).
//!
//! Order: a delivery is claimed only when no earlier delivery of the same
//! account or group to the same webhook is still pending, so those arrive
//! in commit order; events of different subjects go out in parallel.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::audit::{self, Event};
use super::{AppState, OrgScope, RequestMeta, secrets};
use crate::domain::webhook;
use crate::error::AppResult;
use crate::store::{
    self,
    webhooks::{Attempted, DeliveryRow, NewDelivery},
};

/// How often the worker looks for work when there was none.
pub const TICK: Duration = Duration::from_millis(500);
/// How long a claim holds a delivery: longer than one attempt (10 s).
pub const LEASE: TimeDelta = TimeDelta::seconds(60);
/// Events one feeding transaction turns into deliveries, per webhook.
const FEED_BATCH: u64 = 500;
/// Deliveries one tick claims and sends at once.
const CLAIM_BATCH: u64 = 32;

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Delivery rows created from the feed.
    pub queued: u64,
    /// Attempts made.
    pub attempted: u64,
}

/// Runs ticks until `stop` turns true; an attempt in flight finishes first.
pub async fn run(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = match tick(&state).await {
            Ok(t) => t.attempted > 0 || t.queued > 0,
            Err(e) => {
                log::warn!("the webhook worker's tick failed: {e:?}");
                false
            }
        };
        if busy {
            continue;
        }
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

/// One round of work: feed, claim, send, record.
pub async fn tick(state: &AppState) -> AppResult<Tick> {
    let queued = feed(state).await?;
    sweep_failing(state).await?;
    let now = state.settings.clock.now();
    let token = uuid::Uuid::new_v4().to_string();
    let txn = state.db.begin().await?;
    let claimed = store::webhooks::claim(&txn, now, now + LEASE, &token, CLAIM_BATCH).await?;
    txn.commit().await?;
    let attempted = claimed.len() as u64;
    let attempts = claimed.into_iter().map(|row| attempt(state, row, &token));
    for result in futures_util::future::join_all(attempts).await {
        if let Err(e) = result {
            log::warn!("could not record a webhook delivery: {e:?}");
        }
    }
    Ok(Tick { queued, attempted })
}

/// Turns new events into deliveries for every enabled webhook.
async fn feed(state: &AppState) -> AppResult<u64> {
    let db = &state.db;
    let webhooks = store::webhooks::enabled_ids(&db.read).await?;
    let mut queued = 0;
    let mut heads = std::collections::HashMap::new();
    for (id, org_id, cursor) in webhooks {
        if !heads.contains_key(&org_id) {
            super::events::sequence(db, &org_id).await?;
            heads.insert(
                org_id.clone(),
                store::events::head(&db.read, &org_id).await?,
            );
        }
        // Nothing new: no write transaction (SQLite has one writer).
        if heads.get(&org_id).is_some_and(|head| *head <= cursor) {
            continue;
        }
        let txn = db.begin().await?;
        let Some(mut row) = store::webhooks::lock_for_feed(&txn, &id).await? else {
            continue;
        };
        let events = store::events::list(&txn, &org_id, row.cursor, &[], FEED_BATCH).await?;
        let Some(last) = events.last().and_then(|e| e.position) else {
            continue;
        };
        let types = super::webhooks::types_of(&row);
        let now = state.settings.clock.now();
        for event in events {
            if !super::webhooks::wants(&types, &event.event_type) {
                continue;
            }
            let body: Value = serde_json::from_str(&event.body).unwrap_or(Value::Null);
            store::webhooks::insert_delivery(
                &txn,
                NewDelivery {
                    webhook_id: id.clone(),
                    org_id: org_id.clone(),
                    event_id: event.event_id,
                    event_type: event.event_type,
                    position: event.position.unwrap_or(last),
                    subject: webhook::subject_of(&body),
                    body: event.body,
                    now,
                },
            )
            .await?;
            queued += 1;
        }
        row.cursor = last;
        store::webhooks::save(&txn, row).await?;
        txn.commit().await?;
    }
    Ok(queued)
}

/// How one attempt ended.
enum Outcome {
    Delivered(u16),
    Refused(Option<u16>, String),
}

/// Sends one claimed delivery and records the outcome.
async fn attempt(state: &AppState, row: DeliveryRow, token: &str) -> AppResult<()> {
    let outcome = send(state, &row).await;
    let now = state.settings.clock.now();
    let (status, last_status, last_error, next) = match &outcome {
        Outcome::Delivered(code) => ("delivered", Some(i32::from(*code)), None, now),
        Outcome::Refused(code, error) => {
            let attempts = row.attempts + 1;
            let delay = webhook::with_jitter(webhook::backoff(attempts), rand::random::<f64>());
            let status = if now - row.created_at >= webhook::RETRY_FOR {
                "failed"
            } else {
                "pending"
            };
            (
                status,
                code.map(i32::from),
                Some(error.clone()),
                now + delay,
            )
        }
    };
    state.metrics.webhook_delivery(match status {
        "delivered" => "delivered",
        "failed" => "failed",
        _ => "retry",
    });
    let txn = state.db.begin().await?;
    let recorded = store::webhooks::record_attempt(
        &txn,
        row.id,
        token,
        Attempted {
            status,
            last_status,
            last_error,
            next_attempt_at: next,
            now,
        },
    )
    .await?;
    if recorded {
        note_health(&txn, &row, matches!(outcome, Outcome::Delivered(_)), now).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Tracks the webhook's failing streak (and disables it when the streak is
/// long enough).
async fn note_health(
    txn: &impl sea_orm::ConnectionTrait,
    delivery: &DeliveryRow,
    delivered: bool,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let Some(mut hook) =
        store::webhooks::find_for_update(txn, &delivery.org_id, &delivery.webhook_id).await?
    else {
        return Ok(());
    };
    match (delivered, hook.failing_since) {
        (true, Some(_)) => hook.failing_since = None,
        (false, None) => hook.failing_since = Some(now),
        (false, Some(_)) => return disable_if_failing(txn, hook, now).await,
        (true, None) => return Ok(()),
    }
    hook.updated_at = now;
    store::webhooks::save(txn, hook).await?;
    Ok(())
}

/// Disables the webhooks whose every attempt failed for `DISABLE_AFTER`
/// (checked on each tick too: a webhook whose deliveries all gave up makes
/// no more attempts, and must still be disabled).
async fn sweep_failing(state: &AppState) -> AppResult<()> {
    let now = state.settings.clock.now();
    for (org_id, id) in
        store::webhooks::failing_before(&state.db.read, now - webhook::DISABLE_AFTER).await?
    {
        let txn = state.db.begin().await?;
        if let Some(hook) = store::webhooks::find_for_update(&txn, &org_id, &id).await? {
            disable_if_failing(&txn, hook, now).await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

/// Disables the webhook, with a `webhook.disabled` event and audit entry,
/// when it has failed every attempt for `DISABLE_AFTER`.
async fn disable_if_failing(
    txn: &impl sea_orm::ConnectionTrait,
    mut hook: store::webhooks::WebhookRow,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let Some(since) = hook.failing_since else {
        return Ok(());
    };
    if !hook.enabled
        || now - since < webhook::DISABLE_AFTER
        || store::webhooks::delivered_since(txn, &hook.id, since).await?
    {
        return Ok(());
    }
    hook.enabled = false;
    hook.updated_at = now;
    let scope = OrgScope::new(&hook.org_id, super::Actor::System, &RequestMeta::default());
    audit::record(
        txn,
        &scope,
        now,
        Event {
            action: "webhook.disabled",
            target_type: "webhook",
            target_id: Some(&hook.id),
            summary: json!({
                "url": hook.url,
                "reason": "every delivery failed for 3 days",
                "failing_since": crate::scim::resource::format_datetime(since),
            }),
        },
    )
    .await?;
    log::warn!(
        "webhook {} disabled: every delivery failed since {since}",
        hook.id
    );
    store::webhooks::save(txn, hook).await?;
    Ok(())
}

/// One POST of the event, signed with every live secret.
async fn send(state: &AppState, row: &DeliveryRow) -> Outcome {
    let hook = match store::webhooks::find(&state.db.read, &row.org_id, &row.webhook_id).await {
        Ok(Some(hook)) => hook,
        Ok(None) => return Outcome::Refused(None, "the webhook is gone".into()),
        Err(e) => return Outcome::Refused(None, format!("database: {e}")),
    };
    let keys = match signing_keys(state, &hook) {
        Ok(keys) => keys,
        Err(e) => {
            log::warn!("webhook {}: {e}", hook.id);
            return Outcome::Refused(None, e);
        }
    };
    // The receiver's clock, not the injected one: Standard Webhooks
    // receivers refuse a timestamp far from their own time (replay guard).
    let timestamp = Utc::now().timestamp();
    let signature = webhook::signature_header(&keys, &row.event_id, timestamp, &row.body);
    let request = match state.outbound.post(&hook.url) {
        Ok(request) => request,
        Err(e) => return Outcome::Refused(None, e),
    };
    let response = request
        .header("content-type", "application/json")
        .header("webhook-id", &row.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(row.body.clone())
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
        Ok(r) => Outcome::Refused(
            Some(r.status().as_u16()),
            format!("the endpoint answered {}", r.status()),
        ),
        Err(e) => Outcome::Refused(None, super::outbound::describe(&e)),
    }
}

/// The HMAC keys of the webhook's live secrets: the current one, and the
/// previous one during a rotation's overlap.
fn signing_keys(
    state: &AppState,
    hook: &store::webhooks::WebhookRow,
) -> Result<Vec<Vec<u8>>, String> {
    let now = state.settings.clock.now();
    let mut keys = Vec::new();
    let current = secrets::open_webhook_secret(&state.settings, &hook.id, false, &hook.secret)?;
    keys.push(webhook::secret_key(current.expose())?);
    if let (Some(previous), Some(until)) = (&hook.previous_secret, hook.previous_secret_until)
        && until > now
    {
        let previous = secrets::open_webhook_secret(&state.settings, &hook.id, true, previous)?;
        keys.push(webhook::secret_key(previous.expose())?);
    }
    Ok(keys)
}
