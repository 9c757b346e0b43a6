//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.
//! One test binary with a module per feature, so it links once.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod accounts;
mod catalog;
mod errors;
mod http;
mod problems;
mod push;
