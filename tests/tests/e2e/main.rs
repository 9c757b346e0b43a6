//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.
//! One test binary with a module per feature, so it links once.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod accounts;
mod analytics;
mod beat_plan;
mod catalog;
mod errors;
mod export;
mod http;
mod live;
mod matrix;
mod meetings;
mod photo_storage;
mod problem_work;
mod problems;
mod push;
mod setup;
