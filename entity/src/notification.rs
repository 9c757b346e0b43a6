//! `notifications`: A notification in a user's inbox.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A notification in a user's inbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Recipient.
    pub user_id: Uuid,
    /// Kind of notification.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Body.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Structured payload.
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    /// Related problem.
    pub problem_id: Option<Uuid>,
    /// Related meeting.
    pub meeting_id: Option<Uuid>,
    /// Push collapse key.
    pub collapse_key: Option<String>,
    /// When the notification was read.
    pub read_at: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The recipient.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The related problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id",
        on_delete = "SetNull"
    )]
    Problem,
    /// The related meeting.
    #[sea_orm(
        belongs_to = "super::meeting::Entity",
        from = "Column::MeetingId",
        to = "super::meeting::Column::Id",
        on_delete = "SetNull"
    )]
    Meeting,
    /// Rows of `push_deliveries` referencing this row.
    #[sea_orm(has_many = "super::push_delivery::Entity")]
    PushDelivery,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl Related<super::push_delivery::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PushDelivery.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
