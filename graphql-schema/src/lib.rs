//! Beatline's API: domain services, the authorization policy, and the GraphQL schema
//! served by the server crate. This crate knows nothing of HTTP.

pub mod api;
pub mod auth;
pub mod context;
pub mod domain;
pub mod error;

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema};

pub use auth::RequestMeta;
pub use auth::tokens::TokenKeys;
pub use context::{ApiContext, prepare_request};
pub use error::{AppError, AppResult};

/// Everything that can be read.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    api::query::CatalogQuery,
    api::accounts::AccountQuery,
    api::meetings::MeetingQuery,
    api::problem_mutations::ProblemWorkQuery,
    api::agenda::AgendaQuery,
    api::sara::SaraQuery,
    api::analytics::AnalyticsQuery,
    api::notifications::NotificationQuery,
);

/// Everything that can be changed.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    api::accounts::AccountMutation,
    api::setup::SetupMutation,
    api::meetings::MeetingMutation,
    api::problem_mutations::ProblemMutation,
    api::agenda::AgendaMutation,
    api::sara::SaraMutation,
    api::notifications::NotificationMutation,
);

/// Everything that can be watched live (over WebSocket, at `/graphql/ws`).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(api::live::LiveSubscription);

/// The Beatline GraphQL schema, as the server serves it (every error with a code).
pub type BeatlineSchema = error::CodedSchema<Schema<QueryRoot, MutationRoot, SubscriptionRoot>>;

/// Limits that protect the server from expensive queries.
#[derive(Debug, Clone)]
pub struct SchemaOptions {
    /// Whether clients may introspect the schema (off in production).
    pub introspection: bool,
    /// Deepest nesting a query may have.
    pub max_depth: usize,
    /// Highest complexity (roughly, fields resolved) a query may have.
    pub max_complexity: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self {
            introspection: true,
            max_depth: 12,
            max_complexity: 2_000,
        }
    }
}

/// Builds the schema over `context`.
pub fn build_schema(context: ApiContext, options: &SchemaOptions) -> BeatlineSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .data(context)
    .data(domain::live::LiveHub::default())
    .limit_depth(options.max_depth)
    .limit_complexity(options.max_complexity);
    if !options.introspection {
        builder = builder.disable_introspection();
    }
    error::CodedSchema(builder.finish())
}

/// The SDL of the schema, sorted, as checked in at `graphql-schema/schema.graphql`.
pub fn sdl() -> String {
    let schema = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .finish();
    schema.sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
