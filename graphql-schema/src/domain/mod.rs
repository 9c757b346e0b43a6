//! Domain services: the rules of Beatline, independent of GraphQL.
//!
//! Services take `&impl ConnectionTrait` so that they run alike on a pooled
//! connection and inside a transaction.

pub mod catalog;
pub mod geo_index;
pub mod inputs;
pub mod problems;
