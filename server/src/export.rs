//! Problem exports over HTTP, streamed: `GET /export/problems.csv` and
//! `GET /export/problems.geojson` for staff (bearer token; what the staff member may
//! see, exact), `GET /open-data/problems.geojson` for everyone (sensitive problems
//! blurred). Each takes `from` and `to` query parameters.
//!
//! A task reads the rows from a database stream and sends the file in chunks of about
//! 64 KiB through a channel of a few chunks: a slow client slows the reading, so
//! memory stays constant whatever the number of rows.

use std::sync::Arc;

use futures::TryStreamExt as _;
use graphql_schema::AppError;
use graphql_schema::auth::{Viewer, load_principal, policy};
use graphql_schema::domain::export::{
    Audience, Format, Lookups, Range, footer, header, query, write_row,
};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::http::AppState;

/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks that may wait for a slow client.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The query parameters of an export.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /export/problems.csv`: staff only.
#[handler]
pub async fn staff_csv(
    req: &Request,
    Query(params): Query<ExportParams>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    staff_export(req, &params, state, Format::Csv).await
}

/// `GET /export/problems.geojson`: staff only.
#[handler]
pub async fn staff_geojson(
    req: &Request,
    Query(params): Query<ExportParams>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    staff_export(req, &params, state, Format::GeoJson).await
}

/// `GET /open-data/problems.geojson`: everyone; sensitive problems blurred.
#[handler]
pub async fn open_data_geojson(
    Query(params): Query<ExportParams>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    match Range::parse(params.from.as_deref(), params.to.as_deref()) {
        Ok(range) => {
            stream(
                state,
                policy::open_data_problems(),
                range,
                Format::GeoJson,
                Audience::Public,
            )
            .await
        }
        Err(error) => error_response(&error),
    }
}

async fn staff_export(
    req: &Request,
    params: &ExportParams,
    state: &AppState,
    format: Format,
) -> Response {
    let viewer = match bearer(req) {
        None => Viewer::Anonymous,
        Some(token) => match load_principal(&state.api.db, &state.api.keys, &token).await {
            Ok(principal) => Viewer::User(principal),
            Err(error) => return error_response(&error),
        },
    };
    if let Err(error) = policy::require_staff(
        &viewer,
        "export problems: staff only; the public export is at /open-data/problems.geojson",
    ) {
        return error_response(&error);
    }
    match Range::parse(params.from.as_deref(), params.to.as_deref()) {
        Ok(range) => {
            let visible = policy::visible_problems(&viewer);
            stream(state, visible, range, format, Audience::Staff).await
        }
        Err(error) => error_response(&error),
    }
}

fn bearer(req: &Request) -> Option<String> {
    let value = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .unwrap_or_default()
        .trim();
    Some(
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim()
            .to_owned(),
    )
}

/// An error as JSON in the shape of a GraphQL error, with the matching HTTP status.
fn error_response(error: &AppError) -> Response {
    let status = match error.code() {
        "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let AppError::Internal(cause) = error {
        tracing::error!(error = ?cause, "internal error while exporting problems");
    }
    let body = serde_json::json!({
        "errors": [{ "message": error.message(), "extensions": { "code": error.code() } }]
    });
    (status, poem::web::Json(body)).into_response()
}

/// Streams the export. The lookups are read before the response starts, so that a
/// database failure there is still a proper error response.
async fn stream(
    state: &AppState,
    visible: sea_orm::Condition,
    range: Range,
    format: Format,
    audience: Audience,
) -> Response {
    let db = state.api.db.clone();
    let lookups = match Lookups::load(&db).await {
        Ok(lookups) => lookups,
        Err(error) => return error_response(&error),
    };
    let (chunks, body) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut out = header(format);
        let result = async {
            let mut rows = query(visible, range).stream(&db).await?;
            let mut first = true;
            while let Some(row) = rows.try_next().await? {
                write_row(&mut out, format, &row, &lookups, audience, first);
                first = false;
                if out.len() >= CHUNK_BYTES {
                    let chunk = std::mem::take(&mut out).into_bytes();
                    if chunks.send(Ok(chunk)).await.is_err() {
                        return Ok(()); // the client went away
                    }
                }
            }
            Ok::<_, sea_orm::DbErr>(())
        }
        .await;
        match result {
            Ok(()) => {
                out.push_str(footer(format));
                let _ = chunks.send(Ok(out.into_bytes())).await;
            }
            Err(error) => {
                // The status is sent already: cut the body, so the client sees a
                // truncated file rather than a complete-looking one.
                tracing::error!(%error, "the problem export failed while streaming");
                let _ = chunks
                    .send(Err(std::io::Error::other("the export failed; try again")))
                    .await;
            }
        }
    });
    let body = futures::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    });
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::GeoJson => ("application/geo+json", "geojson"),
    };
    let name = format!(
        "problems-{}-{}.{extension}",
        range.from.format("%Y%m%dT%H%M%SZ"),
        range.to.format("%Y%m%dT%H%M%SZ")
    );
    Response::builder()
        .content_type(content_type)
        .header(
            "content-disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_bytes_stream(body))
}
