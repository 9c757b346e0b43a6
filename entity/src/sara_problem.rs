//! `sara_problems`: A problem linked to a SARA record.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A problem linked to a SARA record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sara_problems")]
pub struct Model {
    /// The SARA record.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sara_record_id: Uuid,
    /// The linked problem.
    #[sea_orm(primary_key, auto_increment = false)]
    pub problem_id: Uuid,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The SARA record.
    #[sea_orm(
        belongs_to = "super::sara_record::Entity",
        from = "Column::SaraRecordId",
        to = "super::sara_record::Column::Id",
        on_delete = "Cascade"
    )]
    SaraRecord,
    /// The problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id",
        on_delete = "Cascade"
    )]
    Problem,
}

impl Related<super::sara_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SaraRecord.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
