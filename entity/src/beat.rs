//! `beats`: A beat: the smallest patrol area.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A beat: the smallest patrol area.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "beats")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Precinct the beat belongs to.
    pub precinct_id: Uuid,
    /// Short unique code.
    #[sea_orm(unique)]
    pub code: String,
    /// Display name.
    pub name: String,
    /// Boundary as GeoJSON text.
    #[sea_orm(column_type = "Text")]
    pub boundary: String,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The precinct the beat belongs to.
    #[sea_orm(
        belongs_to = "super::precinct::Entity",
        from = "Column::PrecinctId",
        to = "super::precinct::Column::Id",
        on_delete = "Restrict"
    )]
    Precinct,
    /// Rows of `neighborhood_beats` referencing this row.
    #[sea_orm(has_many = "super::neighborhood_beat::Entity")]
    NeighborhoodBeat,
    /// Rows of `officer_beats` referencing this row.
    #[sea_orm(has_many = "super::officer_beat::Entity")]
    OfficerBeat,
    /// Rows of `problems` referencing this row.
    #[sea_orm(has_many = "super::problem::Entity")]
    Problem,
    /// Rows of `beat_followers` referencing this row.
    #[sea_orm(has_many = "super::beat_follower::Entity")]
    BeatFollower,
    /// Rows of `meeting_series` referencing this row.
    #[sea_orm(has_many = "super::meeting_series::Entity")]
    MeetingSeries,
    /// Rows of `meetings` referencing this row.
    #[sea_orm(has_many = "super::meeting::Entity")]
    Meeting,
    /// Rows of `sara_records` referencing this row.
    #[sea_orm(has_many = "super::sara_record::Entity")]
    SaraRecord,
}

impl Related<super::precinct::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Precinct.def()
    }
}

impl Related<super::neighborhood_beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::NeighborhoodBeat.def()
    }
}

impl Related<super::officer_beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OfficerBeat.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::beat_follower::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::BeatFollower.def()
    }
}

impl Related<super::meeting_series::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MeetingSeries.def()
    }
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl Related<super::sara_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraRecord.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
