//! The city's set-up: categories, precincts, beats and neighbourhoods.

use entity::{beat, category, neighborhood, precinct};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Active categories, by name.
pub async fn categories(db: &impl ConnectionTrait) -> AppResult<Vec<category::Model>> {
    Ok(category::Entity::find()
        .filter(category::Column::Active.eq(true))
        .order_by_asc(category::Column::Name)
        .all(db)
        .await?)
}

/// Every precinct, by code.
pub async fn precincts(db: &impl ConnectionTrait) -> AppResult<Vec<precinct::Model>> {
    Ok(precinct::Entity::find()
        .order_by_asc(precinct::Column::Code)
        .all(db)
        .await?)
}

/// Beats, by code; only those of one precinct when `precinct_id` is given.
pub async fn beats(
    db: &impl ConnectionTrait,
    precinct_id: Option<Uuid>,
) -> AppResult<Vec<beat::Model>> {
    let mut query = beat::Entity::find().order_by_asc(beat::Column::Code);
    if let Some(precinct_id) = precinct_id {
        query = query.filter(beat::Column::PrecinctId.eq(precinct_id));
    }
    Ok(query.all(db).await?)
}

/// Every neighbourhood, by name.
pub async fn neighborhoods(db: &impl ConnectionTrait) -> AppResult<Vec<neighborhood::Model>> {
    Ok(neighborhood::Entity::find()
        .order_by_asc(neighborhood::Column::Name)
        .all(db)
        .await?)
}

/// One beat, or NOT_FOUND.
pub async fn beat(db: &impl ConnectionTrait, id: Uuid) -> AppResult<beat::Model> {
    beat::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("beat", id))
}

/// One precinct, or NOT_FOUND.
pub async fn precinct(db: &impl ConnectionTrait, id: Uuid) -> AppResult<precinct::Model> {
    precinct::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("precinct", id))
}

/// One neighbourhood, or NOT_FOUND.
pub async fn neighborhood(db: &impl ConnectionTrait, id: Uuid) -> AppResult<neighborhood::Model> {
    neighborhood::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("neighborhood", id))
}

/// One category by its Open311 service code, or NOT_FOUND.
pub async fn category_by_code(db: &impl ConnectionTrait, code: &str) -> AppResult<category::Model> {
    category::Entity::find()
        .filter(category::Column::ServiceCode.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no category with service code {code:?}")))
}
