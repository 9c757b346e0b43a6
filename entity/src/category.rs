//! `categories`: A problem category (an Open311 service).

use crate::enums::CategoryRoute;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A problem category (an Open311 service).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique Open311 service code.
    #[sea_orm(unique)]
    pub service_code: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Who handles problems of this category.
    pub route: CategoryRoute,
    /// Partner organisation handling the category.
    pub partner_id: Option<Uuid>,
    /// Target hours to resolve.
    pub sla_hours: i32,
    /// Whether reports are hidden from the public.
    #[sea_orm(default_value = false)]
    pub sensitive: bool,
    /// Radius in metres for duplicate detection.
    #[sea_orm(default_value = 150)]
    pub duplicate_radius_m: i32,
    /// Whether reports must describe behaviour rather than people.
    #[sea_orm(default_value = false)]
    pub requires_behavior_description: bool,
    /// Whether new reports may use the category.
    #[sea_orm(default_value = true)]
    pub active: bool,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The partner organisation handling the category.
    #[sea_orm(
        belongs_to = "super::partner_organization::Entity",
        from = "Column::PartnerId",
        to = "super::partner_organization::Column::Id",
        on_delete = "SetNull"
    )]
    Partner,
    /// Rows of `problems` referencing this row.
    #[sea_orm(has_many = "super::problem::Entity")]
    Problem,
}

impl Related<super::partner_organization::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Partner.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
