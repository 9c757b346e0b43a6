//! `partner_organizations`: A partner organisation (city service, NGO, ...).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A partner organisation (city service, NGO, ...).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "partner_organizations")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique name.
    #[sea_orm(unique)]
    pub name: String,
    /// Description.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Contact e-mail address.
    pub contact_email: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last updated.
    pub updated_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Rows of `partner_members` referencing this row.
    #[sea_orm(has_many = "super::partner_member::Entity")]
    PartnerMember,
    /// Rows of `categories` referencing this row.
    #[sea_orm(has_many = "super::category::Entity")]
    Category,
    /// Rows of `problems` referencing this row.
    #[sea_orm(has_many = "super::problem::Entity")]
    Problem,
    /// Rows of `action_items` referencing this row.
    #[sea_orm(has_many = "super::action_item::Entity")]
    ActionItem,
}

impl Related<super::partner_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PartnerMember.def()
    }
}

impl Related<super::category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Category.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::action_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ActionItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
