//! The one error type of the API and how it maps to GraphQL.
//!
//! Error policy (after crates.io's `util/errors.rs`): everything a user can trigger
//! through the API returns a typed [`AppError`], which becomes a GraphQL error whose
//! `extensions.code` is one of `BAD_USER_INPUT`, `UNAUTHENTICATED`, `FORBIDDEN`,
//! `NOT_FOUND`, `CONFLICT`, `RATE_LIMITED` or `INTERNAL`, with a message a person can act
//! on. Internal failures (database down, a bug) are logged with their whole cause chain
//! and answered with a generic message, so no internal detail leaks. `anyhow` is fine in
//! start-up code and CLI sub-commands, never in what a request can reach.

use async_graphql::{ErrorExtensions, Response, ServerError};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr};

/// A failure the API reports to its caller.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display`
/// type into an error without a code, and our `From` impl must be the only way out.
#[derive(Debug)]
pub enum AppError {
    /// The input is wrong; the message says how to fix it.
    BadInput(String),
    /// No valid credentials were presented.
    Unauthenticated(String),
    /// The caller is known but may not do this.
    Forbidden(String),
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound(String),
    /// The request conflicts with the current state (a stale version, a reused key).
    Conflict {
        /// What conflicted and what to do.
        message: String,
        /// The current version of the object, where one applies.
        current_version: Option<i32>,
    },
    /// Too many attempts; try again after the given number of seconds.
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// The server is overloaded (no database connection came free in time); the same
    /// request is likely to succeed a moment later. Reported as `RATE_LIMITED`.
    Busy {
        /// Seconds after which a retry is sensible.
        retry_after_secs: u64,
    },
    /// Something broke on our side. The cause is logged, never shown.
    Internal(anyhow::Error),
}

/// Result type of the domain services.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A `BAD_USER_INPUT` error.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadInput(message.into())
    }

    /// A `NOT_FOUND` error naming what was not found.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("no {what} with id {id}"))
    }

    /// A `CONFLICT` error without a version.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            current_version: None,
        }
    }

    /// The message shown to the caller.
    pub fn message(&self) -> String {
        match self {
            Self::BadInput(m)
            | Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m) => m.clone(),
            Self::Conflict { message, .. } => message.clone(),
            Self::RateLimited { retry_after_secs } => {
                format!("too many attempts; try again in {retry_after_secs} seconds")
            }
            Self::Busy { retry_after_secs } => {
                format!("the server is busy right now; try again in {retry_after_secs} seconds")
            }
            Self::Internal(_) => {
                "internal error: the request could not be completed; try again later".to_owned()
            }
        }
    }

    /// This error for a command-line tool: its message, or for an internal error the
    /// cause itself (an operator at a terminal needs it; API callers never see it).
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::Internal(cause) => cause,
            other => anyhow::anyhow!(other.message()),
        }
    }

    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict { .. } => "CONFLICT",
            Self::RateLimited { .. } | Self::Busy { .. } => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        // Constraint violations are the caller's doing, not ours.
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::conflict("this already exists; reload and try again")
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::bad_input("a referenced object does not exist")
            }
            _ => {
                // Every connection busy for the whole acquire timeout: overload, which
                // the caller can retry, not a fault.
                if let DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) = err {
                    tracing::warn!("database pool exhausted; answering RATE_LIMITED");
                    return Self::Busy {
                        retry_after_secs: 1,
                    };
                }
                if let DbErr::Conn(RuntimeErr::SqlxError(_)) | DbErr::ConnectionAcquire(_) = err {
                    tracing::error!(error = %err, "database unavailable");
                }
                Self::Internal(err.into())
            }
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error while handling a request");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::Conflict {
                    current_version: Some(version),
                    ..
                } => ext.set("currentVersion", *version),
                Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs);
                }
                _ => {}
            }
        })
    }
}

/// Gives every error that the engine itself raised (a malformed query, an unknown field,
/// a variable of the wrong type, a limit exceeded) the code `BAD_USER_INPUT`, so that
/// clients can rely on `extensions.code` being present on every error.
pub fn ensure_error_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        tag_error(error);
    }
    response
}

fn tag_error(error: &mut ServerError) {
    // The engine's own words for its limits say what is wrong but not what to do.
    match error.message.as_str() {
        "Query is nested too deep." => {
            error.message =
                "the query is nested too deeply: split it into several smaller queries".to_owned();
        }
        "Query is too complex." => {
            error.message =
                "the query asks for too much at once: request fewer fields or smaller pages"
                    .to_owned();
        }
        _ => {}
    }
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some());
    if !has_code {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", "BAD_USER_INPUT");
    }
}

/// The schema as the server serves it: [`ensure_error_codes`] applied to every response,
/// over HTTP and to every event of a WebSocket operation.
///
/// This wraps the schema instead of being a schema extension: with any extension
/// registered, async-graphql runs every field of a response through the extension
/// chain (a boxed future and two registry lookups per field, a type-name string per
/// list item), about 2 % of the server's CPU under the problem-list benchmark.
#[derive(Clone)]
pub struct CodedSchema<E>(pub E);

impl<E: async_graphql::Executor> async_graphql::Executor for CodedSchema<E> {
    async fn execute(&self, request: async_graphql::Request) -> Response {
        ensure_error_codes(self.0.execute(request).await)
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<std::sync::Arc<async_graphql::Data>>,
    ) -> futures::stream::BoxStream<'static, Response> {
        use futures::StreamExt as _;
        self.0
            .execute_stream(request, session_data)
            .map(ensure_error_codes)
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exhausted_pool_is_overload_not_a_fault() {
        let err = AppError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert_eq!(err.code(), "RATE_LIMITED");
        assert!(err.message().contains("busy"), "{}", err.message());
        let gql = err.extend();
        let ext = gql.extensions.unwrap();
        assert_eq!(
            ext.get("retryAfter"),
            Some(&async_graphql::Value::from(1_u64))
        );
    }

    #[test]
    fn a_closed_pool_is_internal() {
        let err = AppError::from(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
        assert_eq!(err.code(), "INTERNAL");
        assert!(!err.message().contains("closed"));
    }
}
