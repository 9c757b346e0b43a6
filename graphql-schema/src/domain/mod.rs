//! Domain services: the rules of Beatline, independent of GraphQL.
//!
//! Services take `&impl ConnectionTrait` so that they run alike on a pooled
//! connection and inside a transaction.

pub mod accounts;
pub mod audit;
pub mod boundaries;
pub mod catalog;
pub mod dashboard;
pub mod equity;
pub mod events;
pub mod export;
pub mod geo_index;
pub mod inputs;
pub mod live;
pub mod notify;
pub mod privacy;
pub mod problems;
pub mod stats;

/// The current time, truncated to microseconds: both databases then store exactly the
/// value the code holds, so keyset cursors and equality checks agree.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound as _, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
