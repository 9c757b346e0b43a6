//! `sara_stage_changes`: Who moved a SARA record to another stage, and when.

use crate::enums::SaraStage;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Who moved a SARA record to another stage, and when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sara_stage_changes")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The SARA record.
    pub sara_record_id: Uuid,
    /// Stage before the change.
    pub from_stage: Option<SaraStage>,
    /// Stage after the change.
    pub to_stage: SaraStage,
    /// Acting user.
    pub actor_id: Option<Uuid>,
    /// Note.
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The SARA record.
    #[sea_orm(
        belongs_to = "super::sara_record::Entity",
        from = "Column::SaraRecordId",
        to = "super::sara_record::Column::Id",
        on_delete = "Cascade"
    )]
    SaraRecord,
    /// The acting user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::sara_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraRecord.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
