//! `meetings`: A meeting occurrence, standalone or part of a series.

use crate::enums::MeetingStatus;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A meeting occurrence, standalone or part of a series.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "meetings")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Series the occurrence belongs to.
    pub series_id: Option<Uuid>,
    /// The beat.
    pub beat_id: Uuid,
    /// Title.
    pub title: String,
    /// Start time.
    pub starts_at: DateTimeUtc,
    /// End time.
    pub ends_at: DateTimeUtc,
    /// IANA time zone.
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
    /// Whether the meeting takes place.
    pub status: MeetingStatus,
    /// Original start of this occurrence within its series.
    pub recurrence_id: Option<DateTimeUtc>,
    /// Whether the occurrence deviates from its series.
    #[sea_orm(default_value = false)]
    pub is_exception: bool,
    /// Number of residents who attended.
    pub attendance_residents: Option<i32>,
    /// Number of officers who attended.
    pub attendance_officers: Option<i32>,
    /// When the reminder was sent.
    pub reminder_sent_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, bumped by every change.
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
    /// The series.
    #[sea_orm(
        belongs_to = "super::meeting_series::Entity",
        from = "Column::SeriesId",
        to = "super::meeting_series::Column::Id",
        on_delete = "SetNull"
    )]
    Series,
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
    /// Rows of `meeting_rsvps` referencing this row.
    #[sea_orm(has_many = "super::meeting_rsvp::Entity")]
    MeetingRsvp,
    /// The `meeting_minutes` row referencing this row.
    #[sea_orm(has_one = "super::meeting_minutes::Entity")]
    MeetingMinutes,
    /// Rows of `sara_records` referencing this row.
    #[sea_orm(has_many = "super::sara_record::Entity")]
    SaraRecord,
    /// Rows of `action_items` referencing this row.
    #[sea_orm(has_many = "super::action_item::Entity")]
    ActionItem,
    /// Rows of `agenda_items` referencing this row.
    #[sea_orm(has_many = "super::agenda_item::Entity")]
    AgendaItem,
    /// Rows of `agenda_votes` referencing this row.
    #[sea_orm(has_many = "super::agenda_vote::Entity")]
    AgendaVote,
    /// Rows of `notifications` referencing this row.
    #[sea_orm(has_many = "super::notification::Entity")]
    Notification,
}

impl Related<super::meeting_series::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Series.def()
    }
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

impl Related<super::meeting_rsvp::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MeetingRsvp.def()
    }
}

impl Related<super::meeting_minutes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MeetingMinutes.def()
    }
}

impl Related<super::sara_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraRecord.def()
    }
}

impl Related<super::action_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ActionItem.def()
    }
}

impl Related<super::agenda_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgendaItem.def()
    }
}

impl Related<super::agenda_vote::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgendaVote.def()
    }
}

impl Related<super::notification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notification.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
