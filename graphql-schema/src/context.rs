//! What every resolver can reach: the database, caches and loaders.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::api::loaders::Loaders;
use crate::domain::geo_index::GeoIndex;

/// Shared state of the API, built once per server.
#[derive(Clone)]
pub struct ApiContext {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// Parsed beat and neighbourhood boundaries.
    pub geo: Arc<GeoIndex>,
}

impl ApiContext {
    /// The context over a connection pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            geo: Arc::new(GeoIndex::default()),
        }
    }
}

/// Adds what each request needs of its own (its loaders) to a GraphQL request. The
/// server calls it for every request before executing it.
pub fn prepare_request(
    request: async_graphql::Request,
    api: &ApiContext,
) -> async_graphql::Request {
    request.data(Loaders::new(&api.db))
}

/// Shorthand for resolvers: the request's [`Loaders`].
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Shorthand for resolvers: the [`ApiContext`] of the schema.
pub fn api<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a ApiContext> {
    ctx.data::<ApiContext>()
}
