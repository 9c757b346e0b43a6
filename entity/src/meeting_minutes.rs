//! `meeting_minutes`: Published minutes of a meeting.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Published minutes of a meeting.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "meeting_minutes")]
pub struct Model {
    /// The meeting.
    #[sea_orm(primary_key, auto_increment = false)]
    pub meeting_id: Uuid,
    /// Minutes text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Decisions taken (JSON array).
    #[sea_orm(column_type = "JsonBinary")]
    pub decisions: Json,
    /// Publishing user.
    pub published_by: Option<Uuid>,
    /// When the minutes were published.
    pub published_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The meeting.
    #[sea_orm(
        belongs_to = "super::meeting::Entity",
        from = "Column::MeetingId",
        to = "super::meeting::Column::Id",
        on_delete = "Cascade"
    )]
    Meeting,
    /// The publishing user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::PublishedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    PublishedBy,
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PublishedBy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
