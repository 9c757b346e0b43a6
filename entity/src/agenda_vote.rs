//! `agenda_votes`: A resident's vote for an agenda item (one per meeting).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A resident's vote for an agenda item (one per meeting).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "agenda_votes")]
pub struct Model {
    /// The meeting.
    #[sea_orm(primary_key, auto_increment = false)]
    pub meeting_id: Uuid,
    /// The voter.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The item voted for.
    pub agenda_item_id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
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
    /// The voter.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The item voted for.
    #[sea_orm(
        belongs_to = "super::agenda_item::Entity",
        from = "Column::AgendaItemId",
        to = "super::agenda_item::Column::Id",
        on_delete = "Cascade"
    )]
    AgendaItem,
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::agenda_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgendaItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
