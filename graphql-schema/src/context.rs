//! What every resolver can reach: the database, caches, keys, and the request's own
//! loaders and caller.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::api::loaders::Loaders;
use crate::auth::ratelimit::LoginLimits;
use crate::auth::tokens::TokenKeys;
use crate::auth::{RequestMeta, Viewer, ViewerCell};
use crate::domain::events::{EventBus, LocalBus};
use crate::domain::geo_index::GeoIndex;
use crate::error::AppResult;

/// Shared state of the API, built once per server.
#[derive(Clone)]
pub struct ApiContext {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// Parsed beat and neighbourhood boundaries.
    pub geo: Arc<GeoIndex>,
    /// The keys that sign access tokens.
    pub keys: TokenKeys,
    /// Login throttling.
    pub login_limits: Arc<LoginLimits>,
    /// Where changes are announced to live subscribers.
    pub events: Arc<dyn EventBus>,
    /// Where problem photos are kept (in memory unless the server configures a store).
    pub photos: Arc<dyn crate::domain::photos::PhotoStore>,
    /// Issues public problem references.
    pub references: Arc<crate::domain::references::References>,
    /// How long signed photo URLs (`Photo.signedUrl`) work.
    pub photo_url_ttl: std::time::Duration,
}

impl ApiContext {
    /// The context over a connection pool, signing tokens with `keys`.
    pub fn new(db: DatabaseConnection, keys: TokenKeys) -> Self {
        Self {
            db,
            geo: Arc::new(GeoIndex::default()),
            keys,
            login_limits: Arc::new(LoginLimits::default()),
            events: Arc::new(LocalBus::default()),
            photos: Arc::new(crate::domain::photos::ObjectStorePhotos::in_memory()),
            references: Arc::default(),
            photo_url_ttl: crate::domain::photos::SIGNED_URL_TTL,
        }
    }
}

/// Adds what each request needs of its own (its loaders, its caller) to a GraphQL
/// request. The server calls it for every request before executing it.
pub fn prepare_request(
    request: async_graphql::Request,
    api: &ApiContext,
    meta: RequestMeta,
) -> async_graphql::Request {
    request
        .data(Loaders::new(&api.db))
        .data(crate::api::meeting_loaders::MeetingLoaders::new(&api.db))
        .data(meta)
        .data(ViewerCell::default())
        .data(crate::api::problem_loaders::ProblemLoaders::new(&api.db))
}

/// Shorthand for resolvers: the request's [`Loaders`].
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Shorthand for resolvers: the request's [`RequestMeta`].
pub fn meta<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a RequestMeta> {
    ctx.data::<RequestMeta>()
}

/// Who is calling, resolved on first use (UNAUTHENTICATED for a bad token).
pub async fn viewer<'a>(ctx: &async_graphql::Context<'a>) -> AppResult<&'a Viewer> {
    let internal = |e: async_graphql::Error| crate::AppError::Internal(anyhow::anyhow!(e.message));
    let api = ctx.data::<ApiContext>().map_err(internal)?;
    let meta = ctx.data::<RequestMeta>().map_err(internal)?;
    let cell = ctx.data::<ViewerCell>().map_err(internal)?;
    cell.get(&api.db, &api.keys, meta).await
}

/// Shorthand for resolvers: the [`ApiContext`] of the schema.
pub fn api<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a ApiContext> {
    ctx.data::<ApiContext>()
}
