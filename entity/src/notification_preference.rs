//! `notification_preferences`: A user's notification preferences.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A user's notification preferences.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "notification_preferences")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Notification kinds turned off (JSON array).
    #[sea_orm(column_type = "JsonBinary")]
    pub disabled_kinds: Json,
    /// Start of quiet hours, e.g. "22:00".
    pub quiet_hours_start: Option<String>,
    /// End of quiet hours, e.g. "07:00".
    pub quiet_hours_end: Option<String>,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
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
