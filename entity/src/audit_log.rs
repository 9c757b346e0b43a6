//! `audit_log`: An append-only audit log entry.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An append-only audit log entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Acting user.
    pub actor_id: Option<Uuid>,
    /// Action performed.
    pub action: String,
    /// Type of the subject.
    pub subject_type: String,
    /// Identifier of the subject.
    pub subject_id: Option<String>,
    /// Details.
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
    /// Client address.
    pub client_addr: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of this entity.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The acting user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
