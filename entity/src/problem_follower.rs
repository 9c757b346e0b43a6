//! `problem_followers`: A user following a problem.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A user following a problem.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "problem_followers")]
pub struct Model {
    /// The problem.
    #[sea_orm(primary_key, auto_increment = false)]
    pub problem_id: Uuid,
    /// The follower.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
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
    /// The follower.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
