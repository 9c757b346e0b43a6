//! A minimal idempotency guard for the creating mutations of meetings, agendas, action
//! items and SARA records, over the shared `idempotency_keys` table.
//!
//! Interim: the problems branch builds the general `domain/idempotency.rs`; when both
//! are merged this module should be replaced by it. The contract is the same: a retry
//! with the same key and the same input returns the object created the first time; the
//! same key with a different input is a CONFLICT.
//!
//! The key is claimed inside the transaction of the change, so a key is never recorded
//! without its change nor a change without its key; two racing first attempts meet the
//! unique index `(scope, operation, key)` and one of them gets CONFLICT.

use chrono::TimeDelta;
use entity::idempotency_key;
use sea_orm::{ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::domain::now;
use crate::error::{AppError, AppResult};

/// How long a key is remembered.
const KEEP_FOR_HOURS: i64 = 24;

/// A client-chosen key that makes a creating mutation safe to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key: 8 to 128 printable ASCII characters (a UUID is a good choice).
    pub fn parse(raw: &str) -> AppResult<Self> {
        let key = raw.trim();
        if (8..=128).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic()) {
            Ok(Self(key.to_owned()))
        } else {
            Err(AppError::bad_input(
                "`idempotencyKey` must be 8 to 128 printable characters without spaces: \
                 generate a fresh UUID for each new action and resend it unchanged on retry",
            ))
        }
    }
}

/// The fingerprint of a request's input.
pub fn fingerprint(input: &impl std::fmt::Debug) -> String {
    hex::encode(Sha256::digest(format!("{input:?}").as_bytes()))
}

/// Looks a key up: `Some(id)` of the object created by an earlier attempt with the same
/// input, `None` for a new key; CONFLICT when the key was used for another input.
pub async fn replay(
    db: &impl ConnectionTrait,
    scope: Uuid,
    operation: &str,
    key: &IdempotencyKey,
    request_hash: &str,
) -> AppResult<Option<Uuid>> {
    let found = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Scope.eq(scope.to_string()))
        .filter(idempotency_key::Column::Operation.eq(operation))
        .filter(idempotency_key::Column::Key.eq(key.0.as_str()))
        .filter(idempotency_key::Column::ExpiresAt.gt(now()))
        .one(db)
        .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    if row.request_hash != request_hash {
        return Err(AppError::conflict(format!(
            "the idempotencyKey was already used for a different `{operation}` request: use a \
             new key for a new action"
        )));
    }
    Ok(row
        .response
        .as_ref()
        .and_then(|r| r.get("id"))
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok()))
}

/// Records that `key` created `id`, in the caller's transaction.
pub async fn remember(
    db: &impl ConnectionTrait,
    scope: Uuid,
    operation: &str,
    key: &IdempotencyKey,
    request_hash: &str,
    id: Uuid,
) -> AppResult<()> {
    let at = now();
    // An expired row with the same key would block the insert: clear it first.
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::Scope.eq(scope.to_string()))
        .filter(idempotency_key::Column::Operation.eq(operation))
        .filter(idempotency_key::Column::Key.eq(key.0.as_str()))
        .filter(idempotency_key::Column::ExpiresAt.lte(at))
        .exec(db)
        .await?;
    let row = idempotency_key::Model {
        id: Uuid::now_v7(),
        scope: scope.to_string(),
        operation: operation.to_owned(),
        key: key.0.clone(),
        request_hash: request_hash.to_owned(),
        response: Some(serde_json::json!({ "id": id.to_string() })),
        created_at: at,
        expires_at: at + TimeDelta::hours(KEEP_FOR_HOURS),
    };
    sea_orm::IntoActiveModel::into_active_model(row)
        .insert(db)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::conflict(
                "another request with this idempotencyKey is in progress or done: reload \
                 before retrying",
            ),
            other => other,
        })?;
    Ok(())
}
