//! `sara_records`: A SARA problem-solving record for a beat.

use crate::enums::{SaraOutcome, SaraStage};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A SARA problem-solving record for a beat.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sara_records")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The beat.
    pub beat_id: Uuid,
    /// Meeting that started the record.
    pub meeting_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Current stage.
    pub stage: SaraStage,
    /// Scanning notes.
    #[sea_orm(column_type = "JsonBinary")]
    pub scanning: Json,
    /// Analysis notes.
    #[sea_orm(column_type = "JsonBinary")]
    pub analysis: Json,
    /// Response notes.
    #[sea_orm(column_type = "JsonBinary")]
    pub response: Json,
    /// Assessment notes.
    #[sea_orm(column_type = "JsonBinary")]
    pub assessment: Json,
    /// Assessment outcome.
    pub outcome: Option<SaraOutcome>,
    /// Optimistic-locking version.
    #[sea_orm(default_value = 1)]
    pub version: i32,
    /// Creating user.
    pub created_by: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The beat.
    #[sea_orm(
        belongs_to = "super::beat::Entity",
        from = "Column::BeatId",
        to = "super::beat::Column::Id",
        on_delete = "Restrict"
    )]
    Beat,
    /// The meeting.
    #[sea_orm(
        belongs_to = "super::meeting::Entity",
        from = "Column::MeetingId",
        to = "super::meeting::Column::Id",
        on_delete = "SetNull"
    )]
    Meeting,
    /// The creating user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    /// Rows of `action_items` referencing this row.
    #[sea_orm(has_many = "super::action_item::Entity")]
    ActionItem,
    /// Rows of `sara_problems` referencing this row.
    #[sea_orm(has_many = "super::sara_problem::Entity")]
    SaraProblem,
    /// Rows of `sara_stage_changes` referencing this row.
    #[sea_orm(has_many = "super::sara_stage_change::Entity")]
    SaraStageChange,
}

impl Related<super::beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Beat.def()
    }
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CreatedBy.def()
    }
}

impl Related<super::action_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ActionItem.def()
    }
}

impl Related<super::sara_problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraProblem.def()
    }
}

impl Related<super::sara_stage_change::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraStageChange.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
