//! `officer_beats`: Assignment of an officer to a beat.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Assignment of an officer to a beat.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "officer_beats")]
pub struct Model {
    /// The officer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub officer_id: Uuid,
    /// The beat.
    #[sea_orm(primary_key, auto_increment = false)]
    pub beat_id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The officer.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OfficerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Officer,
    /// The beat.
    #[sea_orm(
        belongs_to = "super::beat::Entity",
        from = "Column::BeatId",
        to = "super::beat::Column::Id",
        on_delete = "Cascade"
    )]
    Beat,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Officer.def()
    }
}

impl Related<super::beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Beat.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
