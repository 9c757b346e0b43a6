//! HTTP routes: `/graphql` (POST and GET), GraphiQL at `/`, `/healthz`, `/readyz` and
//! `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::http::{GraphiQLSource, MultipartOptions};
use async_graphql::{ErrorExtensions as _, Executor as _, ServerError};
use async_graphql_poem::GraphQLResponse;
use graphql_schema::domain::photos;
use graphql_schema::{ApiContext, BeatlineSchema, RequestMeta, prepare_request};
use poem::http::StatusCode;
use poem::web::{Data, Html};
use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use sea_orm::DatabaseConnection;
use tokio_util::compat::TokioAsyncReadCompatExt as _;

use crate::metrics::Metrics;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema.
    pub schema: BeatlineSchema,
    /// The API's shared state (also inside the schema).
    pub api: ApiContext,
    /// The connection pool, for the readiness probe.
    pub db: DatabaseConnection,
    /// The metrics registry.
    pub metrics: Metrics,
    /// Ends live connections whose session ended.
    pub sessions: crate::live::SessionWatch,
    /// How long a new WebSocket may take to send `connection_init`.
    pub ws_init_timeout: std::time::Duration,
}

/// Largest GraphQL request body (JSON); uploads have their own limits.
const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Builds every route.
pub fn routes(state: AppState, graphiql: bool) -> impl Endpoint {
    let mut app = Route::new()
        .at("/graphql", get(graphql_get).post(graphql_post))
        .at("/graphql/ws", get(crate::live::graphql_ws))
        .at("/export/problems.csv", get(crate::export::staff_csv))
        .at(
            "/export/problems.geojson",
            get(crate::export::staff_geojson),
        )
        .at(
            "/open-data/problems.geojson",
            get(crate::export::open_data_geojson),
        )
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/metrics", get(metrics_endpoint))
        .at("/calendar/beats/:file", get(calendar_beat))
        .at("/calendar/neighborhoods/:file", get(calendar_neighborhood))
        .at("/photos/:id", get(photo_full))
        .at("/photos/:id/thumbnail", get(photo_thumbnail));
    if graphiql {
        app = app.at("/", get(graphiql_page));
    }
    let metrics = state.metrics.clone();
    app.data(Arc::new(state))
        .around(move |ep, req| {
            let metrics = metrics.clone();
            async move {
                let started = Instant::now();
                let route = route_label(req.uri().path());
                let method = req.method().clone();
                let resp = ep.get_response(req).await;
                metrics.observe_request(
                    route,
                    method.as_str(),
                    resp.status().as_u16(),
                    started.elapsed(),
                );
                Ok(resp)
            }
        })
        .with(poem::middleware::Tracing)
}

/// A bounded label for a path, so that unknown paths cannot blow up the metrics.
fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/graphql/ws" => "/graphql/ws",
        "/export/problems.csv" => "/export/problems.csv",
        "/export/problems.geojson" => "/export/problems.geojson",
        "/open-data/problems.geojson" => "/open-data/problems.geojson",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/" => "/",
        p if p.starts_with("/calendar/beats/") => "/calendar/beats/{beatCode}.ics",
        p if p.starts_with("/calendar/neighborhoods/") => "/calendar/neighborhoods/{id}.ics",
        p if p.starts_with("/photos/") => "/photos",
        _ => "other",
    }
}

fn bad_request(message: String) -> Response {
    let error = graphql_schema::AppError::bad_input(message).extend();
    let response = async_graphql::Response::from_errors(vec![ServerError {
        message: error.message,
        source: None,
        locations: Vec::new(),
        path: Vec::new(),
        extensions: error.extensions,
    }]);
    let mut http = GraphQLResponse(response).into_response();
    http.set_status(StatusCode::BAD_REQUEST);
    http
}

#[handler]
async fn graphql_post(req: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    let content_type = req.content_type().map(str::to_owned);
    let options = MultipartOptions::default()
        .max_file_size(MAX_FILE_BYTES)
        .max_num_files(4);
    match async_graphql::http::receive_body(content_type, body.into_async_read().compat(), options)
        .await
    {
        Ok(request) => execute(state, request_meta(req), request).await,
        Err(error) => bad_request(format!(
            "the body is not a GraphQL request ({error}): send JSON {{\"query\": \"...\", \"variables\": {{...}}}} or a multipart upload"
        )),
    }
}

#[handler]
async fn graphql_get(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let request = match async_graphql::http::parse_query_string(
        req.uri().query().unwrap_or_default(),
    ) {
        Ok(request) => request,
        Err(error) => {
            return bad_request(format!(
                "the query string is not a GraphQL request ({error}): pass ?query=...&variables=..."
            ));
        }
    };
    if is_mutation(&request.query, request.operation_name.as_deref()) {
        let mut resp = bad_request("mutations must be sent with POST, not GET".to_owned());
        resp.headers_mut()
            .insert("allow", poem::http::HeaderValue::from_static("POST"));
        resp.set_status(StatusCode::METHOD_NOT_ALLOWED);
        return resp;
    }
    execute(state, request_meta(req), request).await
}

/// The bearer token and client address of an HTTP request.
fn request_meta(req: &Request) -> RequestMeta {
    let bearer = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .map(|value| {
            let value = value.to_str().unwrap_or_default().trim();
            // A header that is not `Bearer <token>` is still passed on, so that the
            // caller learns it is invalid rather than being served as anonymous.
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .unwrap_or(value)
                .trim()
                .to_owned()
        });
    RequestMeta {
        bearer,
        client_addr: req.remote_addr().as_socket_addr().map(|a| a.ip()),
    }
}

async fn execute(state: &AppState, meta: RequestMeta, request: async_graphql::Request) -> Response {
    let request = prepare_request(request, &state.api, meta);
    GraphQLResponse(state.schema.execute(request).await).into_response()
}

/// Whether the operation to run is a mutation (GET must never change anything).
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return false; // the schema reports the syntax error itself
    };
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => ops.iter().any(|(name, op)| {
            operation_name.is_none_or(|wanted| wanted == name.as_str())
                && op.node.ty == OperationType::Mutation
        }),
    }
}

#[handler]
async fn graphiql_page() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("Beatline")
            .finish(),
    )
}

/// Liveness: the process is up.
#[handler]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[handler]
async fn readyz(Data(state): Data<&Arc<AppState>>) -> Response {
    match state.db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness probe: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[handler]
async fn metrics_endpoint(Data(state): Data<&Arc<AppState>>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// An iCalendar response, or the error as plain text with its HTTP status.
fn calendar_response(result: graphql_schema::AppResult<String>) -> Response {
    use graphql_schema::AppError;
    match result {
        Ok(text) => Response::builder()
            .content_type("text/calendar; charset=utf-8")
            .header("cache-control", "public, max-age=900")
            .body(text),
        Err(error) => {
            let status = match &error {
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::BadInput(_) => StatusCode::BAD_REQUEST,
                AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            if let AppError::Internal(cause) = &error {
                tracing::error!(error = ?cause, "calendar feed failed");
            }
            (status, error.message()).into_response()
        }
    }
}

/// The `expires` and `signature` parameters of a signed photo link, when either is
/// present (a request with only one of them is refused, not served as unsigned).
fn link_signature(req: &Request) -> Option<photos::LinkSignature> {
    req.params::<photos::LinkSignature>()
        .ok()
        .filter(|link| link.expires.is_some() || link.signature.is_some())
}

/// A problem photo, for those who may see its problem (send the bearer token), or for
/// anyone with an unexpired signed link (`Photo.signedUrl`).
#[handler]
async fn photo_full(
    req: &Request,
    poem::web::Path(id): poem::web::Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    serve_photo(req, &id, false, state).await
}

/// A problem photo's thumbnail.
#[handler]
async fn photo_thumbnail(
    req: &Request,
    poem::web::Path(id): poem::web::Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    serve_photo(req, &id, true, state).await
}

async fn serve_photo(req: &Request, id: &str, thumbnail: bool, state: &AppState) -> Response {
    use graphql_schema::AppError;
    let result = async {
        let id = uuid::Uuid::parse_str(id)
            .map_err(|_| AppError::bad_input(format!("{id:?} is not a photo id")))?;
        if let Some(link) = link_signature(req) {
            // A signed link is the authorization: any bearer token is not looked at.
            return photos::open_signed(
                &state.api.db,
                state.api.photos.as_ref(),
                state.api.keys.photo_urls(),
                id,
                thumbnail,
                &link,
            )
            .await;
        }
        let meta = request_meta(req);
        let cell = graphql_schema::auth::ViewerCell::default();
        let viewer = cell.get(&state.api.db, &state.api.keys, &meta).await?;
        photos::open(
            &state.api.db,
            state.api.photos.as_ref(),
            viewer,
            id,
            thumbnail,
        )
        .await
    }
    .await;
    match result {
        Ok((content_type, bytes)) => Response::builder()
            .content_type(content_type)
            .header("cache-control", "private, max-age=3600")
            .header("x-content-type-options", "nosniff")
            .body(bytes),
        Err(error) => {
            let status = match &error {
                AppError::BadInput(_) => StatusCode::BAD_REQUEST,
                AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let _ = error.extend(); // logs internal causes
            (status, error.message()).into_response()
        }
    }
}

/// The `.ics` file name of a calendar path, without the suffix.
fn ics_name(file: &str) -> Option<&str> {
    file.strip_suffix(".ics").filter(|name| !name.is_empty())
}

/// `GET /calendar/beats/{beatCode}.ics`: the beat's meetings as iCalendar.
#[handler]
async fn calendar_beat(
    poem::web::Path(file): poem::web::Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let Some(code) = ics_name(&file) else {
        return (
            StatusCode::NOT_FOUND,
            "calendar feeds end in .ics, e.g. /calendar/beats/1011.ics",
        )
            .into_response();
    };
    calendar_response(graphql_schema::domain::calendar::beat_feed(&state.db, code).await)
}

/// `GET /calendar/neighborhoods/{id}.ics`: the meetings of the beats overlapping a
/// neighbourhood as iCalendar.
#[handler]
async fn calendar_neighborhood(
    poem::web::Path(file): poem::web::Path<String>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let Some(id) = ics_name(&file).and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        return (
            StatusCode::NOT_FOUND,
            "use /calendar/neighborhoods/{id}.ics with a neighbourhood id from the API",
        )
            .into_response();
    };
    calendar_response(graphql_schema::domain::calendar::neighborhood_feed(&state.db, id).await)
}
