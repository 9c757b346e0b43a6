//! `refresh_tokens`: A refresh token (rotated, with reuse detection per family).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A refresh token (rotated, with reuse detection per family).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// Rotation family.
    pub family_id: Uuid,
    /// Hash of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Expiry.
    pub expires_at: DateTimeUtc,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the token was rotated.
    pub rotated_at: Option<DateTimeUtc>,
    /// When the token was revoked.
    pub revoked_at: Option<DateTimeUtc>,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
