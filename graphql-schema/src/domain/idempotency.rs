//! Idempotency keys: a mutation that creates something can be repeated safely.
//!
//! Mobile networks drop responses and clients retry. A creating mutation takes a
//! client-chosen key; the first request with that key does the work and stores its
//! response, in the same transaction as the work; a retry with the same key and the same
//! input gets the stored response back; the same key with a different input gets
//! CONFLICT. Keys are kept for [`KEEP_KEYS_FOR_HOURS`] hours.
//!
//! How concurrent retries are serialised: [`claim`] opens the transaction and, as its
//! very first statement, inserts the key row (unique on scope, operation, key). A second
//! request with the same key blocks on that insert (PostgreSQL waits on the unique index;
//! SQLite waits for the write lock) until the first transaction ends. If the first
//! committed, the insert fails with a unique violation and the second request reads the
//! stored response; if the first rolled back (its work failed), the second does the work
//! itself. Failures are therefore never stored, and a success is stored exactly once.
//!
//! Usage:
//! ```text
//! let txn = match idempotency::claim(db, &request).await? {
//!     Claim::Replay(response) => return Ok(response),
//!     Claim::Fresh(txn) => txn,
//! };
//! let response = do_the_work(&txn).await?;
//! idempotency::complete(txn, &request, &response).await?;
//! ```

use chrono::Duration;
use entity::idempotency_key;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel as _, QueryFilter, SqlErr, TransactionTrait,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::domain::now;
use crate::error::{AppError, AppResult};

/// How long a key and its response are kept (at least 24 hours are promised).
pub const KEEP_KEYS_FOR_HOURS: i64 = 48;

/// A client-chosen idempotency key: 8 to 128 visible ASCII characters (a UUID is ideal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let ok = (8..=128).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::bad_input(
                "`idempotencyKey` must be 8 to 128 visible ASCII characters: generate a UUID \
                 once per user action and send the same one on every retry",
            ))
        }
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One idempotent request: who, which operation, which key, and a fingerprint of the
/// input.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    /// Whose key it is (a user id): keys of different users never collide.
    pub scope: String,
    /// The operation, e.g. `reportProblem`.
    pub operation: &'static str,
    /// The client's key.
    pub key: IdempotencyKey,
    /// SHA-256 (hex) of the input without the key.
    pub request_hash: String,
}

impl IdempotentRequest {
    /// A request whose fingerprint is the SHA-256 of `input` serialised as JSON (struct
    /// fields serialise in a fixed order, so equal inputs hash alike).
    pub fn new(
        scope: Uuid,
        operation: &'static str,
        key: IdempotencyKey,
        input: &impl Serialize,
    ) -> AppResult<Self> {
        let bytes = serde_json::to_vec(input)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot fingerprint input: {e}")))?;
        Ok(Self {
            scope: scope.to_string(),
            operation,
            key,
            request_hash: hex::encode(Sha256::digest(bytes)),
        })
    }
}

/// A connection a claim can open its transaction on: the pool, or a transaction (the
/// claim then holds a savepoint of it).
pub trait Begin: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>> Begin for C {}

/// The stored response of a mutation that creates one object: its id. The mutation
/// answers a replay by loading the object again, so the retry sees it as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// Id of the object the first request created.
    pub id: Uuid,
}

/// The outcome of [`claim`].
pub enum Claim<T> {
    /// First use of the key: do the work in this transaction, then [`complete`] it.
    Fresh(DatabaseTransaction),
    /// The key was used before with the same input: here is the stored response.
    Replay(T),
}

/// Claims a key: opens a transaction holding it, or returns the stored response of an
/// earlier request with the same key and input. The same key with another input is
/// CONFLICT.
pub async fn claim<T: DeserializeOwned>(
    db: &impl Begin,
    request: &IdempotentRequest,
) -> AppResult<Claim<T>> {
    // Two rounds at most: the second after removing an expired key.
    for _ in 0..2 {
        let txn = crate::domain::begin_write(db).await?;
        let at = now();
        let row = idempotency_key::Model {
            id: Uuid::now_v7(),
            scope: request.scope.clone(),
            operation: request.operation.to_owned(),
            key: request.key.as_str().to_owned(),
            request_hash: request.request_hash.clone(),
            response: None,
            created_at: at,
            expires_at: at + Duration::hours(KEEP_KEYS_FOR_HOURS),
        };
        match row.into_active_model().insert(&txn).await {
            Ok(_) => return Ok(Claim::Fresh(txn)),
            Err(err) if is_unique_violation(&err) => {
                txn.rollback().await?;
            }
            Err(err) => return Err(err.into()),
        }
        let Some(existing) = find(db, request).await? else {
            continue; // removed meanwhile: claim again
        };
        if existing.expires_at < at {
            idempotency_key::Entity::delete_by_id(existing.id)
                .exec(db)
                .await?;
            continue;
        }
        if existing.request_hash != request.request_hash {
            return Err(AppError::conflict(format!(
                "the idempotency key {:?} was already used for a different {} request: use a \
                 new key for a new action, and the same key only to retry the same request",
                request.key.as_str(),
                request.operation
            )));
        }
        let Some(response) = existing.response else {
            // Written in the same transaction as the response, so never seen empty.
            return Err(AppError::Internal(anyhow::anyhow!(
                "idempotency key without a response"
            )));
        };
        return serde_json::from_value(response)
            .map(Claim::Replay)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored response unreadable: {e}")));
    }
    Err(AppError::conflict(
        "this request is being processed by another retry: try again in a moment",
    ))
}

/// Stores the response of a fresh request and commits its transaction.
pub async fn complete<T: Serialize>(
    txn: DatabaseTransaction,
    request: &IdempotentRequest,
    response: &T,
) -> AppResult<()> {
    let json = serde_json::to_value(response)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot store response: {e}")))?;
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Response, Expr::value(json))
        .filter(idempotency_key::Column::Scope.eq(request.scope.as_str()))
        .filter(idempotency_key::Column::Operation.eq(request.operation))
        .filter(idempotency_key::Column::Key.eq(request.key.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Removes expired keys; returns how many. Run it now and then.
pub async fn purge_expired(db: &impl ConnectionTrait) -> AppResult<u64> {
    let result = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ExpiresAt.lt(now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

async fn find(
    db: &impl ConnectionTrait,
    request: &IdempotentRequest,
) -> AppResult<Option<idempotency_key::Model>> {
    Ok(idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Scope.eq(request.scope.as_str()))
        .filter(idempotency_key::Column::Operation.eq(request.operation))
        .filter(idempotency_key::Column::Key.eq(request.key.as_str()))
        .one(db)
        .await?)
}

fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(IdempotencyKey::parse("0190f3c4-6a8b-7d2e-9f00-123456789abc").is_ok());
        assert!(IdempotencyKey::parse("short").is_err());
        assert!(IdempotencyKey::parse("has spaces in it").is_err());
        assert!(IdempotencyKey::parse(&"x".repeat(129)).is_err());
    }
}
