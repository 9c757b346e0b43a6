//! `problems`: A reported neighbourhood problem.

use crate::enums::{Priority, ProblemStatus};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A reported neighbourhood problem.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "problems")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Human reference, e.g. `BL-2026-000123`.
    #[sea_orm(unique)]
    pub reference: String,
    /// Category.
    pub category_id: Uuid,
    /// Short title.
    pub title: String,
    /// Description.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Latitude (WGS 84).
    pub lat: f64,
    /// Longitude (WGS 84).
    pub lon: f64,
    /// Street address.
    pub address: Option<String>,
    /// Beat containing the location.
    pub beat_id: Uuid,
    /// Neighbourhood containing the location.
    pub neighborhood_id: Option<Uuid>,
    /// Lifecycle status.
    pub status: ProblemStatus,
    /// Priority.
    pub priority: Priority,
    /// Reporting user.
    pub reporter_id: Option<Uuid>,
    /// Whether the reporter is hidden from others.
    #[sea_orm(default_value = false)]
    pub anonymous: bool,
    /// Assigned officer.
    pub assigned_officer_id: Option<Uuid>,
    /// Assigned partner organisation.
    pub assigned_partner_id: Option<Uuid>,
    /// When the problem should be resolved.
    pub due_at: Option<DateTimeUtc>,
    /// Problem this one duplicates.
    pub duplicate_of_id: Option<Uuid>,
    /// Number of "me too" supporters.
    #[sea_orm(default_value = 0)]
    pub support_count: i32,
    /// Optimistic-locking version.
    #[sea_orm(default_value = 1)]
    pub version: i32,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
    /// When the problem was acknowledged.
    pub acknowledged_at: Option<DateTimeUtc>,
    /// When the problem was resolved.
    pub resolved_at: Option<DateTimeUtc>,
    /// When the problem was closed.
    pub closed_at: Option<DateTimeUtc>,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The category.
    #[sea_orm(
        belongs_to = "super::category::Entity",
        from = "Column::CategoryId",
        to = "super::category::Column::Id",
        on_delete = "Restrict"
    )]
    Category,
    /// The beat.
    #[sea_orm(
        belongs_to = "super::beat::Entity",
        from = "Column::BeatId",
        to = "super::beat::Column::Id",
        on_delete = "Restrict"
    )]
    Beat,
    /// The neighbourhood.
    #[sea_orm(
        belongs_to = "super::neighborhood::Entity",
        from = "Column::NeighborhoodId",
        to = "super::neighborhood::Column::Id",
        on_delete = "SetNull"
    )]
    Neighborhood,
    /// The reporting user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ReporterId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Reporter,
    /// The assigned officer.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AssignedOfficerId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    AssignedOfficer,
    /// The assigned partner organisation.
    #[sea_orm(
        belongs_to = "super::partner_organization::Entity",
        from = "Column::AssignedPartnerId",
        to = "super::partner_organization::Column::Id",
        on_delete = "SetNull"
    )]
    AssignedPartner,
    /// The problem this one duplicates.
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::DuplicateOfId",
        to = "Column::Id",
        on_delete = "SetNull"
    )]
    DuplicateOf,
    /// Rows of `problem_events` referencing this row.
    #[sea_orm(has_many = "super::problem_event::Entity")]
    ProblemEvent,
    /// Rows of `problem_followers` referencing this row.
    #[sea_orm(has_many = "super::problem_follower::Entity")]
    ProblemFollower,
    /// Rows of `problem_supporters` referencing this row.
    #[sea_orm(has_many = "super::problem_supporter::Entity")]
    ProblemSupporter,
    /// The `problem_ratings` row referencing this row.
    #[sea_orm(has_one = "super::problem_rating::Entity")]
    ProblemRating,
    /// Rows of `photos` referencing this row.
    #[sea_orm(has_many = "super::photo::Entity")]
    Photo,
    /// Rows of `action_items` referencing this row.
    #[sea_orm(has_many = "super::action_item::Entity")]
    ActionItem,
    /// Rows of `agenda_items` referencing this row.
    #[sea_orm(has_many = "super::agenda_item::Entity")]
    AgendaItem,
    /// Rows of `sara_problems` referencing this row.
    #[sea_orm(has_many = "super::sara_problem::Entity")]
    SaraProblem,
    /// Rows of `notifications` referencing this row.
    #[sea_orm(has_many = "super::notification::Entity")]
    Notification,
}

impl Related<super::category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Category.def()
    }
}

impl Related<super::beat::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Beat.def()
    }
}

impl Related<super::neighborhood::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Neighborhood.def()
    }
}

impl Related<super::partner_organization::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AssignedPartner.def()
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

impl Related<super::sara_problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraProblem.def()
    }
}

impl Related<super::notification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notification.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
