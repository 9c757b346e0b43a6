//! `precincts`: A police precinct, led by captains.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A police precinct, led by captains.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "precincts")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Short unique code.
    #[sea_orm(unique)]
    pub code: String,
    /// Display name.
    pub name: String,
    /// Boundary as GeoJSON text.
    #[sea_orm(column_type = "Text")]
    pub boundary: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Rows of `beats` referencing this row.
    #[sea_orm(has_many = "super::beat::Entity")]
    Beat,
    /// Rows of `captain_precincts` referencing this row.
    #[sea_orm(has_many = "super::captain_precinct::Entity")]
    CaptainPrecinct,
}

impl Related<super::beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Beat.def()
    }
}

impl Related<super::captain_precinct::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaptainPrecinct.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
