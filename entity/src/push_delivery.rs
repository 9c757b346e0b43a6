//! `push_deliveries`: Outbox entry delivering a notification to a device.

use crate::enums::DeliveryStatus;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Outbox entry delivering a notification to a device.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "push_deliveries")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The notification.
    pub notification_id: Uuid,
    /// The device.
    pub device_id: Uuid,
    /// Delivery state.
    pub status: DeliveryStatus,
    /// Number of attempts so far.
    #[sea_orm(default_value = 0)]
    pub attempts: i32,
    /// When to try next.
    pub next_attempt_at: DateTimeUtc,
    /// Worker lock expiry.
    pub locked_until: Option<DateTimeUtc>,
    /// Last error message.
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    /// When the push was accepted.
    pub sent_at: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The notification.
    #[sea_orm(
        belongs_to = "super::notification::Entity",
        from = "Column::NotificationId",
        to = "super::notification::Column::Id",
        on_delete = "Cascade"
    )]
    Notification,
    /// The device.
    #[sea_orm(
        belongs_to = "super::device::Entity",
        from = "Column::DeviceId",
        to = "super::device::Column::Id",
        on_delete = "Cascade"
    )]
    Device,
}

impl Related<super::notification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notification.def()
    }
}

impl Related<super::device::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Device.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
