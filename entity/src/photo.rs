//! `photos`: An uploaded photo (metadata stripped before storage).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An uploaded photo (metadata stripped before storage).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Problem the photo belongs to.
    pub problem_id: Option<Uuid>,
    /// Uploading user.
    pub uploader_id: Option<Uuid>,
    /// Object-storage key of the image.
    pub storage_key: String,
    /// Object-storage key of the thumbnail.
    pub thumbnail_key: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub byte_size: i32,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
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
        on_delete = "SetNull"
    )]
    Problem,
    /// The uploading user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UploaderId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Uploader,
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Uploader.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
