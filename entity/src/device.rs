//! `devices`: A push-notification device (FCM registration token).

use crate::enums::DevicePlatform;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A push-notification device (FCM registration token).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning user.
    pub user_id: Uuid,
    /// FCM registration token.
    #[sea_orm(unique)]
    pub token: String,
    /// Platform.
    pub platform: DevicePlatform,
    /// Locale of the app.
    pub locale: String,
    /// App version.
    pub app_version: Option<String>,
    /// When the device was disabled.
    pub disabled_at: Option<DateTimeUtc>,
    /// Why the device was disabled.
    pub disabled_reason: Option<String>,
    /// When the device was last seen.
    pub last_seen_at: DateTimeUtc,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// Rows of `push_deliveries` referencing this row.
    #[sea_orm(has_many = "super::push_delivery::Entity")]
    PushDelivery,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::push_delivery::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PushDelivery.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
