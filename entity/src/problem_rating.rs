//! `problem_ratings`: Feedback on how a problem was resolved.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Feedback on how a problem was resolved.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "problem_ratings")]
pub struct Model {
    /// The rated problem.
    #[sea_orm(primary_key, auto_increment = false)]
    pub problem_id: Uuid,
    /// The rating user.
    pub user_id: Uuid,
    /// Rating from 1 to 5.
    pub rating: i32,
    /// Comment.
    #[sea_orm(column_type = "Text")]
    pub comment: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The rated problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id",
        on_delete = "Cascade"
    )]
    Problem,
    /// The rating user.
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
