//! `problem_reference_counters`: Per-year counter issuing problem references such as `BL-2026-000123`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Per-year counter issuing problem references such as `BL-2026-000123`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "problem_reference_counters")]
pub struct Model {
    /// The year.
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    /// Last number issued in that year.
    #[sea_orm(default_value = 0)]
    pub last_value: i64,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
