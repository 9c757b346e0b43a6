//! `action_items`: An action agreed on; open actions carry onto later agendas.

use crate::enums::{ActionOwnerKind, ActionStatus};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An action agreed on; open actions carry onto later agendas.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "action_items")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Meeting where it was agreed.
    pub meeting_id: Option<Uuid>,
    /// Problem it addresses.
    pub problem_id: Option<Uuid>,
    /// SARA record it belongs to.
    pub sara_record_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    /// Kind of owner.
    pub owner_kind: ActionOwnerKind,
    /// Owning user.
    pub owner_user_id: Option<Uuid>,
    /// Owning partner organisation.
    pub owner_partner_id: Option<Uuid>,
    /// Due date.
    pub due_on: Option<Date>,
    /// Status.
    pub status: ActionStatus,
    /// Creating user.
    pub created_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// When the action was completed.
    pub completed_at: Option<DateTimeUtc>,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The meeting.
    #[sea_orm(
        belongs_to = "super::meeting::Entity",
        from = "Column::MeetingId",
        to = "super::meeting::Column::Id",
        on_delete = "SetNull"
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
    /// The SARA record.
    #[sea_orm(
        belongs_to = "super::sara_record::Entity",
        from = "Column::SaraRecordId",
        to = "super::sara_record::Column::Id",
        on_delete = "SetNull"
    )]
    SaraRecord,
    /// The owning user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerUserId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    OwnerUser,
    /// The owning partner organisation.
    #[sea_orm(
        belongs_to = "super::partner_organization::Entity",
        from = "Column::OwnerPartnerId",
        to = "super::partner_organization::Column::Id",
        on_delete = "SetNull"
    )]
    OwnerPartner,
    /// The creating user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    /// Rows of `agenda_items` referencing this row.
    #[sea_orm(has_many = "super::agenda_item::Entity")]
    AgendaItem,
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

impl Related<super::sara_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraRecord.def()
    }
}

impl Related<super::partner_organization::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OwnerPartner.def()
    }
}

impl Related<super::agenda_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgendaItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
