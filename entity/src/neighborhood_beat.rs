//! `neighborhood_beats`: Which beats overlap a neighbourhood.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Which beats overlap a neighbourhood.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "neighborhood_beats")]
pub struct Model {
    /// The neighbourhood.
    #[sea_orm(primary_key, auto_increment = false)]
    pub neighborhood_id: Uuid,
    /// The overlapping beat.
    #[sea_orm(primary_key, auto_increment = false)]
    pub beat_id: Uuid,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The neighbourhood.
    #[sea_orm(
        belongs_to = "super::neighborhood::Entity",
        from = "Column::NeighborhoodId",
        to = "super::neighborhood::Column::Id",
        on_delete = "Cascade"
    )]
    Neighborhood,
    /// The beat.
    #[sea_orm(
        belongs_to = "super::beat::Entity",
        from = "Column::BeatId",
        to = "super::beat::Column::Id",
        on_delete = "Cascade"
    )]
    Beat,
}

impl Related<super::neighborhood::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Neighborhood.def()
    }
}

impl Related<super::beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Beat.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
