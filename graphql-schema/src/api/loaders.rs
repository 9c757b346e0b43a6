//! DataLoaders: every relation a GraphQL type exposes is loaded in one batched
//! statement per request wave, never one statement per row (no N+1).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{beat, category, neighborhood, neighborhood_beat, partner_organization, precinct};
use sea_orm::sea_query::ExprTrait as _;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::error::AppError;

/// A loader error, shareable among the fields that waited on one batch.
pub type LoadError = Arc<AppError>;

/// A loader error as a GraphQL error (with its code).
pub fn load_err(err: LoadError) -> async_graphql::Error {
    use async_graphql::ErrorExtensions as _;
    err.as_ref().extend()
}

/// An entity whose rows are found by a UUID primary key.
pub trait ById: EntityTrait {
    /// The primary-key column.
    fn id_column() -> Self::Column;
    /// The primary key of a row.
    fn id_of(model: &Self::Model) -> Uuid;
}

macro_rules! by_id {
    ($($module:ident),* $(,)?) => {$(
        impl ById for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn id_of(model: &Self::Model) -> Uuid {
                model.id
            }
        }
    )*};
}

by_id!(category, beat, neighborhood, precinct, partner_organization);

/// Loads rows of `E` by id.
pub struct ByIdLoader<E> {
    db: DatabaseConnection,
    entity: PhantomData<fn() -> E>,
}

impl<E> ByIdLoader<E> {
    /// A loader reading from `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            entity: PhantomData,
        }
    }
}

impl<E> Loader<Uuid> for ByIdLoader<E>
where
    E: ById,
    E::Model: Send + Sync + Clone + 'static,
{
    type Value = E::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, E::Model>, LoadError> {
        let rows = E::find()
            .filter(E::id_column().is_in(keys.iter().copied()))
            .all(&self.db)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|m| (E::id_of(&m), m)).collect())
    }
}

/// Loads the beats of each precinct, by code.
pub struct BeatsByPrecinct(DatabaseConnection);

impl Loader<Uuid> for BeatsByPrecinct {
    type Value = Vec<beat::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<beat::Model>>, LoadError> {
        let rows = beat::Entity::find()
            .filter(beat::Column::PrecinctId.is_in(keys.iter().copied()))
            .order_by_asc(beat::Column::Code)
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<Uuid, Vec<beat::Model>> = HashMap::new();
        for row in rows {
            map.entry(row.precinct_id).or_default().push(row);
        }
        Ok(map)
    }
}

/// Loads the neighbourhood–beat links, both ways.
pub struct NeighborhoodBeats(DatabaseConnection);

/// A key of [`NeighborhoodBeats`]: the beats of a neighbourhood, or the neighbourhoods
/// of a beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKey {
    /// The beats that overlap this neighbourhood.
    BeatsOf(Uuid),
    /// The neighbourhoods that overlap this beat.
    NeighborhoodsOf(Uuid),
}

impl Loader<LinkKey> for NeighborhoodBeats {
    type Value = Vec<Uuid>;
    type Error = LoadError;

    async fn load(&self, keys: &[LinkKey]) -> Result<HashMap<LinkKey, Vec<Uuid>>, LoadError> {
        let (mut of_nb, mut of_beat) = (Vec::new(), Vec::new());
        for key in keys {
            match key {
                LinkKey::BeatsOf(id) => of_nb.push(*id),
                LinkKey::NeighborhoodsOf(id) => of_beat.push(*id),
            }
        }
        let rows = neighborhood_beat::Entity::find()
            .filter(
                neighborhood_beat::Column::NeighborhoodId
                    .is_in(of_nb)
                    .or(neighborhood_beat::Column::BeatId.is_in(of_beat)),
            )
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut map: HashMap<LinkKey, Vec<Uuid>> = HashMap::new();
        for row in rows {
            map.entry(LinkKey::BeatsOf(row.neighborhood_id))
                .or_default()
                .push(row.beat_id);
            map.entry(LinkKey::NeighborhoodsOf(row.beat_id))
                .or_default()
                .push(row.neighborhood_id);
        }
        Ok(map)
    }
}

/// A loader with a per-request cache.
pub type Cached<T> = DataLoader<T, HashMapCache>;

/// Loads `keys` in one batch right away and keeps the values in the request's cache,
/// so that the fields resolved afterwards find them there.
///
/// List resolvers use this instead of `load_many`: they know every key of the page
/// before any field runs, so there is nothing to wait for. `load_many` hands the batch
/// to a new task that first sleeps for the DataLoader's batching delay (1 ms, on
/// `async-io`'s timer thread) so that concurrently resolving fields can join it;
/// priming a page that way made every list request wait at least that long.
pub async fn prime_cache<T, K>(
    loader: &Cached<T>,
    keys: impl IntoIterator<Item = K>,
) -> Result<(), T::Error>
where
    T: Loader<K>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    let unique: std::collections::HashSet<K> = keys.into_iter().collect();
    if unique.is_empty() {
        return Ok(());
    }
    let keys: Vec<K> = unique.into_iter().collect();
    let values = loader.loader().load(&keys).await?;
    loader.feed_many(values).await;
    Ok(())
}

/// All the loaders of the API. Each request gets its own set, whose cache lives as long
/// as the request: list resolvers prime it with one batch per relation the query asks
/// for, so the number of statements does not depend on timing or page size, and no
/// request sees another's rows.
pub struct Loaders {
    /// Categories by id.
    pub categories: Cached<ByIdLoader<category::Entity>>,
    /// Beats by id.
    pub beats: Cached<ByIdLoader<beat::Entity>>,
    /// Neighbourhoods by id.
    pub neighborhoods: Cached<ByIdLoader<neighborhood::Entity>>,
    /// Precincts by id.
    pub precincts: Cached<ByIdLoader<precinct::Entity>>,
    /// Partner organisations by id.
    pub partners: Cached<ByIdLoader<partner_organization::Entity>>,
    /// Beats of a precinct.
    pub beats_by_precinct: Cached<BeatsByPrecinct>,
    /// Neighbourhood–beat links.
    pub neighborhood_beats: Cached<NeighborhoodBeats>,
}

impl Loaders {
    /// Loaders over `db`, for one request.
    pub fn new(db: &DatabaseConnection) -> Self {
        fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
            tokio::spawn(f);
        }
        fn cached<T, K>(loader: T) -> Cached<T>
        where
            T: Loader<K>,
            K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        {
            DataLoader::with_cache(loader, spawn, HashMapCache::default())
        }
        Self {
            categories: cached(ByIdLoader::new(db.clone())),
            beats: cached(ByIdLoader::new(db.clone())),
            neighborhoods: cached(ByIdLoader::new(db.clone())),
            precincts: cached(ByIdLoader::new(db.clone())),
            partners: cached(ByIdLoader::new(db.clone())),
            beats_by_precinct: cached(BeatsByPrecinct(db.clone())),
            neighborhood_beats: cached(NeighborhoodBeats(db.clone())),
        }
    }
}
