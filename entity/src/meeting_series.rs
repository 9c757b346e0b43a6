//! `meeting_series`: A recurring beat meeting (RFC 5545 recurrence).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A recurring beat meeting (RFC 5545 recurrence).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "meeting_series")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The beat.
    pub beat_id: Uuid,
    /// Title.
    pub title: String,
    /// RFC 5545 recurrence rule.
    pub rrule: String,
    /// Start of the first occurrence.
    pub first_starts_at: DateTimeUtc,
    /// Duration of each occurrence.
    pub duration_minutes: i32,
    /// IANA time zone the recurrence is computed in.
    pub time_zone: String,
    /// Venue name.
    pub place_name: Option<String>,
    /// Venue address.
    pub place_address: Option<String>,
    /// Venue latitude.
    pub lat: Option<f64>,
    /// Venue longitude.
    pub lon: Option<f64>,
    /// Link for online attendance.
    pub online_url: Option<String>,
    /// Languages spoken (JSON array of tags).
    #[sea_orm(column_type = "JsonBinary")]
    pub languages: Json,
    /// Accessibility information.
    #[sea_orm(column_type = "Text")]
    pub accessibility_notes: Option<String>,
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
    /// The creating user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    /// Rows of `meetings` referencing this row.
    #[sea_orm(has_many = "super::meeting::Entity")]
    Meeting,
}

impl Related<super::beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Beat.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CreatedBy.def()
    }
}

impl Related<super::meeting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meeting.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
