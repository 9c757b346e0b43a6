//! `neighborhoods`: A neighbourhood on the community map.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A neighbourhood on the community map.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "neighborhoods")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique name.
    #[sea_orm(unique)]
    pub name: String,
    /// Boundary as GeoJSON text.
    #[sea_orm(column_type = "Text")]
    pub boundary: Option<String>,
    /// Number of inhabitants.
    #[sea_orm(default_value = 0)]
    pub population: i32,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Rows of `neighborhood_beats` referencing this row.
    #[sea_orm(has_many = "super::neighborhood_beat::Entity")]
    NeighborhoodBeat,
    /// Rows of `users` referencing this row.
    #[sea_orm(has_many = "super::user::Entity")]
    User,
    /// Rows of `problems` referencing this row.
    #[sea_orm(has_many = "super::problem::Entity")]
    Problem,
}

impl Related<super::neighborhood_beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::NeighborhoodBeat.def()
    }
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

impl ActiveModelBehavior for ActiveModel {}
