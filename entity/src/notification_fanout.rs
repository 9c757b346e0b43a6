//! `notification_fanouts`: A notice for many people, expanded by the push worker.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A notice for many people, expanded by the push worker into inbox notifications and
/// push deliveries, a chunk of recipients (ordered by user id) per transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "notification_fanouts")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Kind of notification.
    pub kind: String,
    /// Values for the text templates.
    #[sea_orm(column_type = "JsonBinary")]
    pub params: Json,
    /// Who caused it (never notified of their own change).
    pub actor_id: Option<Uuid>,
    /// Related problem.
    pub problem_id: Option<Uuid>,
    /// Related meeting.
    pub meeting_id: Option<Uuid>,
    /// Who receives it: `USERS` (the `recipients` list), `BEAT_FOLLOWERS` or
    /// `MEETING_AUDIENCE` (of `audience_id`).
    pub audience: String,
    /// The beat or meeting of the audience.
    pub audience_id: Option<Uuid>,
    /// Explicit recipients (JSON array of user ids), added to the audience.
    #[sea_orm(column_type = "JsonBinary")]
    pub recipients: Json,
    /// The last user id expanded so far.
    pub cursor: Option<Uuid>,
    /// How many notifications were written so far.
    pub expanded: i32,
    /// When a worker may take it up (a lease while one works on it).
    pub next_attempt_at: DateTimeUtc,
    /// When the expansion finished.
    pub done_at: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The actor.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
    /// The related problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id",
        on_delete = "Cascade"
    )]
    Problem,
    /// The related meeting.
    #[sea_orm(
        belongs_to = "super::meeting::Entity",
        from = "Column::MeetingId",
        to = "super::meeting::Column::Id",
        on_delete = "Cascade"
    )]
    Meeting,
}

impl ActiveModelBehavior for ActiveModel {}
