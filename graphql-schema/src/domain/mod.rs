//! Domain services: the rules of Beatline, independent of GraphQL.
//!
//! Services take `&impl ConnectionTrait` so that they run alike on a pooled
//! connection and inside a transaction.

pub mod accounts;
pub mod agenda;
pub mod audit;
pub mod boundaries;
pub mod calendar;
pub mod catalog;
pub mod dashboard;
pub mod equity;
pub mod events;
pub mod export;
pub mod geo_index;
pub mod idempotency;
pub mod inbox;
pub mod inputs;
pub mod lifecycle;
pub mod live;
pub mod meetings;
pub mod notify;
pub mod photos;
pub mod privacy;
pub mod problem_work;
pub mod problems;
pub mod recurrence;
pub mod references;
pub mod sara;
pub mod series;
pub mod setup;
pub mod stats;

/// The current time, truncated to microseconds: both databases then store exactly the
/// value the code holds, so keyset cursors and equality checks agree.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound as _, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// Starts a transaction that is going to write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`): a deferred transaction that reads before its first write
/// fails that write with `SQLITE_BUSY_SNAPSHOT` (517) whenever another connection (the
/// push worker, another request) committed in between, which the busy timeout cannot
/// help with. Waiting for the lock is what a write wants. PostgreSQL ignores the mode.
pub async fn begin_write<C: sea_orm::TransactionTrait>(
    db: &C,
) -> Result<C::Transaction, sea_orm::DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..sea_orm::TransactionOptions::default()
    })
    .await
}
