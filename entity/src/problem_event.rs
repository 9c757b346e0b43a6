//! `problem_events`: An entry in a problem's append-only timeline.

use crate::enums::{ProblemEventKind, ProblemStatus, Visibility};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An entry in a problem's append-only timeline.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "problem_events")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The problem.
    pub problem_id: Uuid,
    /// Acting user.
    pub actor_id: Option<Uuid>,
    /// Kind of event.
    pub kind: ProblemEventKind,
    /// Status before a change.
    pub from_status: Option<ProblemStatus>,
    /// Status after a change.
    pub to_status: Option<ProblemStatus>,
    /// Comment text.
    #[sea_orm(column_type = "Text")]
    pub body: Option<String>,
    /// Who can see the entry.
    pub visibility: Visibility,
    /// Extra structured data.
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Option<Json>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id",
        on_delete = "Cascade"
    )]
    Problem,
    /// The acting user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
