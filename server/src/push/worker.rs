//! The push worker: expands fan-outs, sends meeting reminders, and drains the outbox.
//!
//! Delivery loop: claim a batch of due deliveries (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`, so replicas share the work; SQLite: one writer at a time anyway), pushing
//! their `next_attempt_at` forward by a lease and counting the attempt in the same
//! statement; send them concurrently; record each outcome. No send starts after half
//! the lease (the rest of the batch is handed back unsent), so a live worker's pushes
//! have all ended, and been recorded, before anyone else may claim them again.
//!
//! Duplicates. A worker that dies mid-batch leaves its claimed rows pending: they are
//! due again when the lease runs out, and go out again. Those sent but not yet recorded
//! when it died are sent twice: at most one duplicate per notification and device for
//! one crash. Two crashes within one lease add nothing: the rows of the first are
//! still leased while the second runs, and both sets go out once more when their
//! leases end. A third copy needs the same delivery to be caught in flight by two
//! crashes, the second one after the first lease ran out, while the delivery was being
//! re-sent. That cannot be ruled out without risking a loss: FCM v1 has no idempotency
//! key, so after a crash nobody can tell a push that reached FCM from one that did not,
//! and not re-sending after the second crash would drop those that did not. Never
//! losing one is the rule; on the phone, duplicates replace each other (Android
//! notification tag and APNs collapse id per problem or meeting, and the
//! `notificationId` in the data for the app).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::DeliveryStatus;
use entity::{device, notification, push_delivery};
use futures::StreamExt as _;
use graphql_schema::domain::events::{DomainEvent, EventBus};
use graphql_schema::domain::notify::MAX_IDS_PER_STATEMENT;
use graphql_schema::domain::{notify, now};
use rand::Rng as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait as _,
    QueryFilter, QueryOrder as _, QuerySelect as _, Statement, TransactionTrait as _, Value,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{PushConfig, PushMessage, PushSender, SendOutcome};
use crate::metrics::{Metrics, PushOutcome};

/// Delay before retrying after THIRD_PARTY_AUTH_ERROR: operators need time to fix
/// the credentials, and hammering FCM does not help.
const CREDENTIALS_RETRY: Duration = Duration::from_secs(15 * 60);

/// Consecutive failures of a fan-out step retried at once before the worker lets the
/// fan-out's lease run out.
const FANOUT_ATTEMPTS: u32 = 5;

/// How often the outbox gauges of `/metrics` are sampled.
const GAUGE_EVERY: Duration = Duration::from_secs(1);

/// Longest delay between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Most pushes in flight.
    pub concurrency: usize,
    /// Deliveries per claim.
    pub batch_size: u64,
    /// How long a claim lasts.
    pub lease: Duration,
    /// First retry delay.
    pub retry_base: Duration,
    /// Give up after this long.
    pub retry_window: Duration,
    /// Pause between looks at an empty outbox.
    pub poll: Duration,
}

impl From<&PushConfig> for WorkerSettings {
    fn from(c: &PushConfig) -> Self {
        Self {
            concurrency: c.push_concurrency.max(1),
            batch_size: c.push_batch_size.clamp(1, 5_000),
            lease: Duration::from_secs(c.push_lease_secs.max(1)),
            retry_base: Duration::from_millis(c.push_retry_base_ms.max(1)),
            retry_window: Duration::from_secs(c.push_retry_window_secs),
            poll: Duration::from_millis(c.push_poll_ms.max(10)),
        }
    }
}

/// The running worker.
pub struct PushWorker {
    db: DatabaseConnection,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl PushWorker {
    /// Starts the worker's loops.
    pub fn start(
        db: DatabaseConnection,
        sender: Arc<dyn PushSender>,
        events: Arc<dyn EventBus>,
        metrics: Metrics,
        settings: WorkerSettings,
    ) -> Self {
        let stop = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            db: db.clone(),
            sender,
            events,
            metrics,
            settings,
            wake,
        });
        let mut tasks = Vec::new();
        // Two delivery loops, so that one sends while the other claims and records.
        for _ in 0..2 {
            let (s, stop) = (shared.clone(), stop.clone());
            tasks.push(tokio::spawn(async move { s.deliver_loop(stop).await }));
        }
        let (s, st) = (shared.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { s.fanout_loop(st).await }));
        let (s, st) = (shared.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { s.reminder_loop(st).await }));
        let (s, st) = (shared.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { s.gauge_loop(st).await }));
        let (s, st) = (shared, stop.clone());
        tasks.push(tokio::spawn(async move { s.listen(st).await }));
        Self { db, stop, tasks }
    }

    /// Stops after the current batch is recorded.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(error) = self.db.close().await {
            tracing::warn!(%error, "cannot close the push worker's database pool");
        }
    }

    /// Stops at once, dropping whatever is in flight (what a crash does).
    pub fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Shared {
    db: DatabaseConnection,
    sender: Arc<dyn PushSender>,
    events: Arc<dyn EventBus>,
    metrics: Metrics,
    settings: WorkerSettings,
    wake: Arc<Notify>,
}

/// A claimed delivery.
#[derive(Debug, Clone)]
struct Claimed {
    id: Uuid,
    notification_id: Uuid,
    device_id: Uuid,
    attempts: i32,
    created_at: DateTime<Utc>,
}

/// What to record for a delivery.
enum Record {
    Sent,
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    Dead(String),
    Disabled(String),
    /// Not sent: the batch ran past half its lease. Due again at once, attempt not
    /// counted.
    Release,
}

impl Shared {
    async fn pause(&self, stop: &CancellationToken) -> bool {
        tokio::select! {
            () = stop.cancelled() => false,
            () = self.wake.notified() => true,
            () = tokio::time::sleep(self.settings.poll) => true,
        }
    }

    /// Wakes the delivery loops when a notification is written elsewhere.
    async fn listen(&self, stop: CancellationToken) {
        let mut events = self.events.subscribe();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                event = events.recv() => match event {
                    Ok(DomainEvent::NotificationCreated { .. })
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        self.wake.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    async fn deliver_loop(&self, stop: CancellationToken) {
        loop {
            if stop.is_cancelled() {
                return;
            }
            match self.deliver_batch().await {
                Ok(0) => {
                    if !self.pause(&stop).await {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(error = ?error, "push delivery batch failed; retrying shortly");
                    if !self.pause(&stop).await {
                        return;
                    }
                }
            }
        }
    }

    async fn fanout_loop(&self, stop: CancellationToken) {
        let lease = TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::minutes(1));
        loop {
            if stop.is_cancelled() {
                return;
            }
            let claimed = notify::claim_fanout(&self.db, lease).await;
            match claimed {
                Ok(Some(id)) => {
                    let mut failures = 0_u32;
                    loop {
                        match notify::expand_fanout(&self.db, id, lease).await {
                            Ok(step) => {
                                failures = 0;
                                for n in &step.notifications {
                                    self.events.publish(DomainEvent::NotificationCreated {
                                        user_id: n.user_id,
                                        notification_id: n.id,
                                    });
                                }
                                self.wake.notify_waiters();
                                if step.done || stop.is_cancelled() {
                                    break;
                                }
                            }
                            Err(error) => {
                                failures += 1;
                                // A passing failure (a lock, a dropped connection) is
                                // retried at once while the lease holds; only a
                                // persistent one waits for the lease to run out.
                                if failures >= FANOUT_ATTEMPTS {
                                    tracing::error!(error = ?error, fanout = %id, failures, "fan-out expansion keeps failing; it resumes after its lease");
                                    break;
                                }
                                tracing::warn!(error = ?error, fanout = %id, "fan-out expansion failed; retrying");
                                if !self.pause(&stop).await {
                                    return;
                                }
                            }
                        }
                    }
                }
                Ok(None) => {
                    if !self.pause(&stop).await {
                        return;
                    }
                }
                Err(error) => {
                    tracing::error!(error = ?error, "cannot claim a fan-out");
                    if !self.pause(&stop).await {
                        return;
                    }
                }
            }
        }
    }

    async fn reminder_loop(&self, stop: CancellationToken) {
        let every = self
            .settings
            .poll
            .max(Duration::from_secs(1))
            .min(Duration::from_secs(60));
        loop {
            match notify::enqueue_due_meeting_reminders(&self.db).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(meetings = n, "meeting reminders queued");
                    self.wake.notify_waiters();
                }
                Err(error) => tracing::error!(error = ?error, "meeting reminders failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Samples the outbox for the `/metrics` gauges, once a second.
    async fn gauge_loop(&self, stop: CancellationToken) {
        loop {
            match outbox_gauges(&self.db).await {
                Ok((due, scheduled, oldest)) => {
                    self.metrics.set_push_outbox(due, scheduled, oldest);
                }
                Err(error) => tracing::warn!(error = ?error, "cannot sample the push outbox"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(GAUGE_EVERY) => {}
            }
        }
    }

    /// Claims, sends and records one batch; how many deliveries it claimed.
    async fn deliver_batch(&self) -> anyhow::Result<usize> {
        let claimed_at = std::time::Instant::now();
        let claimed = self.claim().await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let count = claimed.len();
        let device_ids: Vec<Uuid> = claimed.iter().map(|c| c.device_id).collect();
        let mut notification_ids: Vec<Uuid> = claimed.iter().map(|c| c.notification_id).collect();
        notification_ids.sort_unstable();
        notification_ids.dedup();
        let mut devices: HashMap<Uuid, device::Model> = HashMap::with_capacity(count);
        for chunk in device_ids.chunks(MAX_IDS_PER_STATEMENT) {
            let rows = device::Entity::find()
                .filter(device::Column::Id.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?;
            devices.extend(rows.into_iter().map(|d| (d.id, d)));
        }
        let mut notifications: HashMap<Uuid, notification::Model> = HashMap::new();
        for chunk in notification_ids.chunks(MAX_IDS_PER_STATEMENT) {
            let rows = notification::Entity::find()
                .filter(notification::Column::Id.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?;
            notifications.extend(rows.into_iter().map(|n| (n.id, n)));
        }
        let mut records: Vec<(Claimed, Record)> = Vec::with_capacity(count);
        let mut to_send = Vec::with_capacity(count);
        for c in claimed {
            let (Some(d), Some(n)) = (
                devices.get(&c.device_id),
                notifications.get(&c.notification_id),
            ) else {
                // Cascades remove deliveries with their rows; nothing left to send.
                records.push((
                    c,
                    Record::Disabled("the device or notification is gone".into()),
                ));
                continue;
            };
            if d.disabled_at.is_some() {
                let why = d
                    .disabled_reason
                    .clone()
                    .unwrap_or_else(|| "device disabled".into());
                records.push((c, Record::Disabled(why)));
            } else if d.user_id != n.user_id {
                records.push((
                    c,
                    Record::Disabled("the device now belongs to another user".into()),
                ));
            } else {
                to_send.push((c, message(d, n)));
            }
        }
        let sender = &self.sender;
        // No send starts after half the lease: every send then ends (the provider's
        // timeout is shorter) and is recorded before the lease runs out, so another
        // worker never claims a delivery whose push is still in flight.
        let cutoff = self.settings.lease / 2;
        let results: Vec<(Claimed, Option<SendOutcome>)> = futures::stream::iter(to_send)
            .map(|(c, m)| async move {
                if claimed_at.elapsed() >= cutoff {
                    return (c, None);
                }
                let started = std::time::Instant::now();
                let outcome = sender.send(&m).await;
                self.metrics.observe_push_send(started.elapsed());
                (c, Some(outcome))
            })
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        let at = now();
        let mut auth_errors = 0_u64;
        let mut released = 0_usize;
        for (c, outcome) in results {
            let Some(outcome) = outcome else {
                released += 1;
                records.push((c, Record::Release));
                continue;
            };
            let record = match outcome {
                SendOutcome::Sent => Record::Sent,
                SendOutcome::Retry { retry_after, error } => {
                    tracing::debug!(delivery = %c.id, attempts = c.attempts, %error, "push delivery to be retried");
                    self.retry(&c, at, self.backoff(c.attempts, retry_after), error)
                }
                SendOutcome::CredentialsBroken { error } => {
                    auth_errors += 1;
                    self.retry(
                        &c,
                        at,
                        CREDENTIALS_RETRY.max(self.backoff(c.attempts, None)),
                        error,
                    )
                }
                SendOutcome::DeviceGone { error } => Record::Disabled(error),
                SendOutcome::Rejected { error } => Record::Dead(error),
            };
            records.push((c, record));
        }
        if released > 0 {
            tracing::warn!(
                released,
                lease_secs = self.settings.lease.as_secs(),
                "a push batch ran past half its lease: the rest goes out in the next batch; \
                 raise BEATLINE_PUSH_LEASE_SECS or lower BEATLINE_PUSH_BATCH_SIZE"
            );
        }
        let mut tally = [0_u64; PushOutcome::ALL.len()];
        let mut count_as = |o: PushOutcome| {
            if let Some(i) = PushOutcome::ALL.iter().position(|x| *x == o) {
                tally[i] += 1;
            }
        };
        for (_, record) in &records {
            match record {
                Record::Sent => count_as(PushOutcome::Sent),
                Record::Retry { .. } => count_as(PushOutcome::Retried),
                Record::Dead(_) => count_as(PushOutcome::Dead),
                Record::Disabled(_) => count_as(PushOutcome::DeviceDisabled),
                Record::Release => {}
            }
        }
        for _ in 0..auth_errors {
            count_as(PushOutcome::AuthError);
        }
        self.record(records, at).await?;
        // Counted once recorded: a batch whose outcomes are lost goes out again.
        for (outcome, n) in PushOutcome::ALL.into_iter().zip(tally) {
            if n > 0 {
                self.metrics.observe_push(outcome, n);
            }
        }
        Ok(count)
    }

    /// Exponential backoff with full jitter, never sooner than `Retry-After`.
    fn backoff(&self, attempts: i32, retry_after: Option<Duration>) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let ceiling = self
            .settings
            .retry_base
            .saturating_mul(2_u32.saturating_pow(exp))
            .min(MAX_BACKOFF);
        let half = ceiling / 2;
        let jitter =
            rand::rng().random_range(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
        let delay = half + Duration::from_millis(jitter);
        delay.max(retry_after.unwrap_or_default())
    }

    fn retry(&self, c: &Claimed, at: DateTime<Utc>, delay: Duration, error: String) -> Record {
        let next = at + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1));
        let deadline = c.created_at
            + TimeDelta::from_std(self.settings.retry_window).unwrap_or(TimeDelta::days(1));
        if next > deadline {
            Record::Dead(format!(
                "gave up after {} attempts over the retry window: {error}",
                c.attempts
            ))
        } else {
            Record::Retry { at: next, error }
        }
    }

    async fn claim(&self) -> anyhow::Result<Vec<Claimed>> {
        let backend = self.db.get_database_backend();
        let at = now();
        let until = at + TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::minutes(1));
        let limit = i64::try_from(self.settings.batch_size).unwrap_or(500);
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE push_deliveries SET locked_until = $1, next_attempt_at = $1, \
                 attempts = attempts + 1, updated_at = $2 \
                 WHERE id IN (SELECT id FROM push_deliveries \
                   WHERE status = 'PENDING' AND next_attempt_at <= $2 \
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, notification_id, device_id, attempts, created_at"
            }
            _ => {
                "UPDATE push_deliveries SET locked_until = ?1, next_attempt_at = ?1, \
                 attempts = attempts + 1, updated_at = ?2 \
                 WHERE id IN (SELECT id FROM push_deliveries \
                   WHERE status = 'PENDING' AND next_attempt_at <= ?2 \
                   ORDER BY next_attempt_at LIMIT ?3) \
                 RETURNING id, notification_id, device_id, attempts, created_at"
            }
        };
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(until), Value::from(at), Value::from(limit)],
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(Claimed {
                id: row.try_get("", "id")?,
                notification_id: row.try_get("", "notification_id")?,
                device_id: row.try_get("", "device_id")?,
                attempts: row.try_get("", "attempts")?,
                created_at: row.try_get("", "created_at")?,
            });
        }
        Ok(out)
    }

    /// Records the outcomes of a batch in one transaction.
    async fn record(
        &self,
        records: Vec<(Claimed, Record)>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut sent = Vec::new();
        let mut released = Vec::new();
        let mut gone_devices: HashMap<Uuid, String> = HashMap::new();
        let txn = self.db.begin().await?;
        for (c, record) in records {
            match record {
                Record::Sent => sent.push(c.id),
                Record::Release => released.push(c),
                Record::Retry { at: next, error } => {
                    push_delivery::Entity::update_many()
                        .col_expr(push_delivery::Column::NextAttemptAt, Expr::value(next))
                        .col_expr(
                            push_delivery::Column::LockedUntil,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .col_expr(push_delivery::Column::LastError, Expr::value(error))
                        .col_expr(push_delivery::Column::UpdatedAt, Expr::value(at))
                        .filter(push_delivery::Column::Id.eq(c.id))
                        .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
                        // Only our own claim: not one another worker took since.
                        .filter(push_delivery::Column::Attempts.eq(c.attempts))
                        .exec(&txn)
                        .await?;
                }
                Record::Dead(error) => {
                    tracing::warn!(delivery = %c.id, %error, "push delivery given up");
                    finish(&txn, &[c.id], DeliveryStatus::Dead, Some(error), at).await?;
                }
                Record::Disabled(error) => {
                    finish(
                        &txn,
                        &[c.id],
                        DeliveryStatus::Disabled,
                        Some(error.clone()),
                        at,
                    )
                    .await?;
                    gone_devices.insert(c.device_id, error);
                }
            }
        }
        for chunk in released.chunks(MAX_IDS_PER_STATEMENT) {
            for attempts in chunk
                .iter()
                .map(|c| c.attempts)
                .collect::<std::collections::BTreeSet<_>>()
            {
                push_delivery::Entity::update_many()
                    .col_expr(push_delivery::Column::NextAttemptAt, Expr::value(at))
                    .col_expr(
                        push_delivery::Column::LockedUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(push_delivery::Column::Attempts, Expr::value(attempts - 1))
                    .col_expr(push_delivery::Column::UpdatedAt, Expr::value(at))
                    .filter(
                        push_delivery::Column::Id.is_in(
                            chunk
                                .iter()
                                .filter(|c| c.attempts == attempts)
                                .map(|c| c.id),
                        ),
                    )
                    .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
                    .filter(push_delivery::Column::Attempts.eq(attempts))
                    .exec(&txn)
                    .await?;
            }
        }
        for chunk in sent.chunks(MAX_IDS_PER_STATEMENT) {
            push_delivery::Entity::update_many()
                .col_expr(
                    push_delivery::Column::Status,
                    Expr::value(DeliveryStatus::Sent),
                )
                .col_expr(push_delivery::Column::SentAt, Expr::value(at))
                .col_expr(
                    push_delivery::Column::LockedUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    push_delivery::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(push_delivery::Column::UpdatedAt, Expr::value(at))
                .filter(push_delivery::Column::Id.is_in(chunk.iter().copied()))
                .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
                .exec(&txn)
                .await?;
        }
        for (device_id, reason) in gone_devices {
            // Only a device that is still enabled: a moved or re-registered token is
            // not touched by an old failure.
            device::Entity::update_many()
                .col_expr(device::Column::DisabledAt, Expr::value(at))
                .col_expr(device::Column::DisabledReason, Expr::value(reason.clone()))
                .col_expr(device::Column::UpdatedAt, Expr::value(at))
                .filter(device::Column::Id.eq(device_id))
                .filter(device::Column::DisabledAt.is_null())
                .filter(device::Column::LastSeenAt.lt(at))
                .exec(&txn)
                .await?;
            push_delivery::Entity::update_many()
                .col_expr(
                    push_delivery::Column::Status,
                    Expr::value(DeliveryStatus::Disabled),
                )
                .col_expr(push_delivery::Column::LastError, Expr::value(reason))
                .col_expr(push_delivery::Column::UpdatedAt, Expr::value(at))
                .filter(push_delivery::Column::DeviceId.eq(device_id))
                .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Pending deliveries due now and scheduled later, and how long the oldest due one
/// has waited.
async fn outbox_gauges(db: &DatabaseConnection) -> anyhow::Result<(i64, i64, Duration)> {
    let at = now();
    let due_rows = || {
        push_delivery::Entity::find()
            .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
            .filter(push_delivery::Column::NextAttemptAt.lte(at))
    };
    let due = due_rows().count(db).await?;
    let scheduled = push_delivery::Entity::find()
        .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .filter(push_delivery::Column::NextAttemptAt.gt(at))
        .count(db)
        .await?;
    let oldest: Option<DateTime<Utc>> = due_rows()
        .select_only()
        .column(push_delivery::Column::NextAttemptAt)
        .order_by_asc(push_delivery::Column::NextAttemptAt)
        .into_tuple()
        .one(db)
        .await?;
    let waited = oldest
        .and_then(|t| (at - t).to_std().ok())
        .unwrap_or_default();
    Ok((
        i64::try_from(due).unwrap_or(i64::MAX),
        i64::try_from(scheduled).unwrap_or(i64::MAX),
        waited,
    ))
}

async fn finish(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    status: DeliveryStatus,
    error: Option<String>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    push_delivery::Entity::update_many()
        .col_expr(push_delivery::Column::Status, Expr::value(status))
        .col_expr(
            push_delivery::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(push_delivery::Column::LastError, Expr::value(error))
        .col_expr(push_delivery::Column::UpdatedAt, Expr::value(at))
        .filter(push_delivery::Column::Id.is_in(ids.iter().copied()))
        .filter(push_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// The push message of a notification for a device.
fn message(d: &device::Model, n: &notification::Model) -> PushMessage {
    let mut data = std::collections::BTreeMap::new();
    data.insert("notificationId".to_owned(), n.id.to_string());
    data.insert("kind".to_owned(), n.kind.clone());
    if let Some(p) = n.problem_id {
        data.insert("problemId".to_owned(), p.to_string());
    }
    if let Some(m) = n.meeting_id {
        data.insert("meetingId".to_owned(), m.to_string());
    }
    PushMessage {
        token: d.token.clone(),
        platform: d.platform,
        title: notify::shorten(&n.title, notify::PUSH_TITLE_CHARS),
        body: notify::shorten(&n.body, notify::PUSH_BODY_CHARS),
        data,
        collapse_key: n.collapse_key.clone(),
    }
}
