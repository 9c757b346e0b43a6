//! Domain services: the rules of Beatline, independent of GraphQL.
//!
//! Services take `&impl ConnectionTrait` so that they run alike on a pooled
//! connection and inside a transaction.

pub mod accounts;
pub mod audit;
pub mod boundaries;
pub mod catalog;
pub mod events;
pub mod geo_index;
pub mod inbox;
pub mod inputs;
pub mod notify;
pub mod privacy;
pub mod problems;

/// The current time, truncated to microseconds: both databases then store exactly the
/// value the code holds, so keyset cursors and equality checks agree.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound as _, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
