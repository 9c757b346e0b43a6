//! `idempotency_keys`: A stored idempotency key with its response.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A stored idempotency key with its response.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// User id or client the key belongs to.
    pub scope: String,
    /// Operation name.
    pub operation: String,
    /// Client-supplied key.
    pub key: String,
    /// Hash of the request.
    pub request_hash: String,
    /// Stored response.
    #[sea_orm(column_type = "JsonBinary")]
    pub response: Option<Json>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// Expiry.
    pub expires_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
