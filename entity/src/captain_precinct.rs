//! `captain_precincts`: Assignment of a captain to a precinct.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Assignment of a captain to a precinct.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "captain_precincts")]
pub struct Model {
    /// The captain.
    #[sea_orm(primary_key, auto_increment = false)]
    pub captain_id: Uuid,
    /// The precinct.
    #[sea_orm(primary_key, auto_increment = false)]
    pub precinct_id: Uuid,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The captain.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CaptainId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Captain,
    /// The precinct.
    #[sea_orm(
        belongs_to = "super::precinct::Entity",
        from = "Column::PrecinctId",
        to = "super::precinct::Column::Id",
        on_delete = "Cascade"
    )]
    Precinct,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Captain.def()
    }
}

impl Related<super::precinct::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Precinct.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
