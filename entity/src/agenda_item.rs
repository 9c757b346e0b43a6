//! `agenda_items`: An item on a meeting agenda.

use crate::enums::{AgendaItemKind, AgendaSection};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An item on a meeting agenda.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "agenda_items")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The meeting.
    pub meeting_id: Uuid,
    /// Agenda section.
    pub section: AgendaSection,
    /// How the item came about.
    pub kind: AgendaItemKind,
    /// Problem discussed.
    pub problem_id: Option<Uuid>,
    /// Action item reported back on.
    pub action_item_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Notes.
    #[sea_orm(column_type = "Text")]
    pub notes: Option<String>,
    /// Order within the section.
    pub position: i32,
    /// Proposing user.
    pub proposed_by: Option<Uuid>,
    /// Number of votes.
    #[sea_orm(default_value = 0)]
    pub vote_count: i32,
    /// Whether the item was removed.
    #[sea_orm(default_value = false)]
    pub removed: bool,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
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
    /// The problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id",
        on_delete = "SetNull"
    )]
    Problem,
    /// The action item.
    #[sea_orm(
        belongs_to = "super::action_item::Entity",
        from = "Column::ActionItemId",
        to = "super::action_item::Column::Id",
        on_delete = "SetNull"
    )]
    ActionItem,
    /// The proposing user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ProposedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    ProposedBy,
    /// Rows of `agenda_votes` referencing this row.
    #[sea_orm(has_many = "super::agenda_vote::Entity")]
    AgendaVote,
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::action_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ActionItem.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProposedBy.def()
    }
}

impl Related<super::agenda_vote::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgendaVote.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
