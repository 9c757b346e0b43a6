//! The GraphQL layer: types built from entities, and thin resolvers that call the
//! domain services.

pub mod accounts;
pub mod agenda;
pub mod analytics;
pub mod live;
pub mod loaders;
pub mod meeting_loaders;
pub mod meetings;
pub mod notifications;
pub mod problem_loaders;
pub mod problem_mutations;
pub mod problem_types;
pub mod query;
pub mod sara;
pub mod setup;
pub mod types;

use async_graphql::ID;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Parses a GraphQL `ID` argument; `what` names the kind of object for the message.
pub fn parse_id(id: &ID, what: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| {
        AppError::bad_input(format!(
            "{:?} is not a valid {what} id: ids are the UUIDs that the API returns",
            id.as_str()
        ))
    })
}

/// Formats a UUID as a GraphQL `ID`.
pub fn to_id(id: Uuid) -> ID {
    ID(id.to_string())
}
