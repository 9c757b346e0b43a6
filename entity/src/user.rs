//! `users`: A user account (resident, officer, captain, partner member or admin).

use crate::enums::UserRole;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A user account (resident, officer, captain, partner member or admin).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Role of the account.
    pub role: UserRole,
    /// Name shown to others.
    pub display_name: String,
    /// Normalised e-mail address; null once the account is erased.
    #[sea_orm(unique)]
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Password hash (none for passwordless accounts).
    pub password_hash: Option<String>,
    /// Preferred locale (BCP 47).
    pub locale: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Home neighbourhood.
    pub home_neighborhood_id: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// When the account was deleted.
    pub deleted_at: Option<DateTimeUtc>,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user's home neighbourhood.
    #[sea_orm(
        belongs_to = "super::neighborhood::Entity",
        from = "Column::HomeNeighborhoodId",
        to = "super::neighborhood::Column::Id",
        on_delete = "SetNull"
    )]
    HomeNeighborhood,
    /// Rows of `officer_beats` referencing this row.
    #[sea_orm(has_many = "super::officer_beat::Entity")]
    OfficerBeat,
    /// Rows of `captain_precincts` referencing this row.
    #[sea_orm(has_many = "super::captain_precinct::Entity")]
    CaptainPrecinct,
    /// Rows of `partner_members` referencing this row.
    #[sea_orm(has_many = "super::partner_member::Entity")]
    PartnerMember,
    /// Rows of `problem_events` referencing this row.
    #[sea_orm(has_many = "super::problem_event::Entity")]
    ProblemEvent,
    /// Rows of `problem_followers` referencing this row.
    #[sea_orm(has_many = "super::problem_follower::Entity")]
    ProblemFollower,
    /// Rows of `problem_supporters` referencing this row.
    #[sea_orm(has_many = "super::problem_supporter::Entity")]
    ProblemSupporter,
    /// Rows of `problem_ratings` referencing this row.
    #[sea_orm(has_many = "super::problem_rating::Entity")]
    ProblemRating,
    /// Rows of `photos` referencing this row.
    #[sea_orm(has_many = "super::photo::Entity")]
    Photo,
    /// Rows of `beat_followers` referencing this row.
    #[sea_orm(has_many = "super::beat_follower::Entity")]
    BeatFollower,
    /// Rows of `meeting_series` referencing this row.
    #[sea_orm(has_many = "super::meeting_series::Entity")]
    MeetingSeries,
    /// Rows of `meetings` referencing this row.
    #[sea_orm(has_many = "super::meeting::Entity")]
    Meeting,
    /// Rows of `meeting_rsvps` referencing this row.
    #[sea_orm(has_many = "super::meeting_rsvp::Entity")]
    MeetingRsvp,
    /// Rows of `meeting_minutes` referencing this row.
    #[sea_orm(has_many = "super::meeting_minutes::Entity")]
    MeetingMinutes,
    /// Rows of `sara_records` referencing this row.
    #[sea_orm(has_many = "super::sara_record::Entity")]
    SaraRecord,
    /// Rows of `agenda_items` referencing this row.
    #[sea_orm(has_many = "super::agenda_item::Entity")]
    AgendaItem,
    /// Rows of `agenda_votes` referencing this row.
    #[sea_orm(has_many = "super::agenda_vote::Entity")]
    AgendaVote,
    /// Rows of `sara_stage_changes` referencing this row.
    #[sea_orm(has_many = "super::sara_stage_change::Entity")]
    SaraStageChange,
    /// Rows of `devices` referencing this row.
    #[sea_orm(has_many = "super::device::Entity")]
    Device,
    /// Rows of `notifications` referencing this row.
    #[sea_orm(has_many = "super::notification::Entity")]
    Notification,
    /// The `notification_preferences` row referencing this row.
    #[sea_orm(has_one = "super::notification_preference::Entity")]
    NotificationPreference,
    /// Rows of `refresh_tokens` referencing this row.
    #[sea_orm(has_many = "super::refresh_token::Entity")]
    RefreshToken,
    /// Rows of `audit_log` referencing this row.
    #[sea_orm(has_many = "super::audit_log::Entity")]
    AuditLog,
}

impl Related<super::neighborhood::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HomeNeighborhood.def()
    }
}

impl Related<super::officer_beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OfficerBeat.def()
    }
}

impl Related<super::captain_precinct::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CaptainPrecinct.def()
    }
}

impl Related<super::partner_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PartnerMember.def()
    }
}

impl Related<super::problem_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProblemEvent.def()
    }
}

impl Related<super::problem_follower::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProblemFollower.def()
    }
}

impl Related<super::problem_supporter::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProblemSupporter.def()
    }
}

impl Related<super::problem_rating::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProblemRating.def()
    }
}

impl Related<super::photo::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Photo.def()
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

impl Related<super::sara_stage_change::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraStageChange.def()
    }
}

impl Related<super::device::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Device.def()
    }
}

impl Related<super::notification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notification.def()
    }
}

impl Related<super::notification_preference::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::NotificationPreference.def()
    }
}

impl Related<super::refresh_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshToken.def()
    }
}

impl Related<super::audit_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuditLog.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
