//! Open-data export of problems as CSV or GeoJSON, written row by row from a database
//! stream, so a million rows take the memory of one.
//!
//! No export ever holds reporter data (who reported, whether anonymously) nor
//! internal notes (the timeline is not exported at all). The public (blurred) export
//! moves the location of every sensitive problem (public health, crisis) to the centre
//! of its ~100 m grid cell and drops its free text (title, description, address),
//! which could name a place or a person; its title becomes the category's name.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use entity::{beat, category, neighborhood, problem};
use sea_orm::{
    ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, Order, QueryFilter as _,
    QueryOrder as _,
};
use serde_json::json;
use uuid::Uuid;

use crate::domain::privacy::blur;
use crate::error::{AppError, AppResult};

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// A GeoJSON FeatureCollection of Points.
    GeoJson,
}

/// Who the export is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Staff: exact locations and text of what they may see.
    Staff,
    /// Everyone: sensitive problems blurred and without text.
    Public,
}

/// The date range of an export, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First instant inside.
    pub from: DateTime<Utc>,
    /// First instant after.
    pub to: DateTime<Utc>,
}

impl Range {
    /// Parses the `from` and `to` query parameters: a date (`2026-11-01`; `to` then
    /// includes that whole day) or an RFC 3339 time (`2026-11-01T00:00:00Z`).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> AppResult<Self> {
        let from = parse_bound("from", from, false)?;
        let to = parse_bound("to", to, true)?;
        if to <= from {
            return Err(AppError::bad_input(format!(
                "`to` ({}) must be after `from` ({})",
                to.to_rfc3339_opts(SecondsFormat::Secs, true),
                from.to_rfc3339_opts(SecondsFormat::Secs, true)
            )));
        }
        Ok(Self { from, to })
    }
}

fn parse_bound(name: &str, value: Option<&str>, end: bool) -> AppResult<DateTime<Utc>> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        AppError::bad_input(format!(
            "the query parameter `{name}` is required: a date such as 2026-11-01 or a time such as 2026-11-01T00:00:00Z"
        ))
    })?;
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let day = if end {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        return Ok(day.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            AppError::bad_input(format!(
                "`{name}={value}` is not a date: use a date such as 2026-11-01 or a time such as 2026-11-01T00:00:00Z"
            ))
        })
}

/// Names the export shows instead of ids, loaded once before the rows.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    categories: HashMap<Uuid, category::Model>,
    beats: HashMap<Uuid, String>,
    neighborhoods: HashMap<Uuid, String>,
}

impl Lookups {
    /// Loads categories, beat codes and neighbourhood names (three small statements).
    pub async fn load(db: &impl ConnectionTrait) -> AppResult<Self> {
        Ok(Self {
            categories: category::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect(),
            beats: beat::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|b| (b.id, b.code))
                .collect(),
            neighborhoods: neighborhood::Entity::find()
                .all(db)
                .await?
                .into_iter()
                .map(|n| (n.id, n.name))
                .collect(),
        })
    }
}

/// The query of an export: the problems matching `visible` reported in `range`,
/// oldest first.
pub fn query(visible: Condition, range: Range) -> sea_orm::Select<problem::Entity> {
    problem::Entity::find()
        .filter(visible)
        .filter(problem::Column::CreatedAt.gte(range.from))
        .filter(problem::Column::CreatedAt.lt(range.to))
        .order_by(problem::Column::CreatedAt, Order::Asc)
        .order_by(problem::Column::Id, Order::Asc)
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 19] = [
    "id",
    "reference",
    "service_code",
    "category",
    "status",
    "priority",
    "title",
    "description",
    "lat",
    "lon",
    "location_blurred",
    "address",
    "beat",
    "neighborhood",
    "support_count",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
];

/// One problem as exported.
struct Exported<'a> {
    category: Option<&'a category::Model>,
    lat: f64,
    lon: f64,
    blurred: bool,
    title: &'a str,
    description: &'a str,
    address: &'a str,
}

fn exported<'a>(row: &'a problem::Model, lookups: &'a Lookups, audience: Audience) -> Exported<'a> {
    let category = lookups.categories.get(&row.category_id);
    let blurred = audience == Audience::Public && category.is_none_or(|c| c.sensitive);
    if blurred {
        Exported {
            category,
            lat: blur(row.lat),
            lon: blur(row.lon),
            blurred,
            title: category.map_or("", |c| c.name.as_str()),
            description: "",
            address: "",
        }
    } else {
        Exported {
            category,
            lat: row.lat,
            lon: row.lon,
            blurred,
            title: &row.title,
            description: &row.description,
            address: row.address.as_deref().unwrap_or_default(),
        }
    }
}

fn status_name(row: &problem::Model) -> String {
    serde_json::to_value(row.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn priority_name(row: &problem::Model) -> String {
    serde_json::to_value(row.priority)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The start of a file: the CSV header row, or the GeoJSON collection's opening.
pub fn header(format: Format) -> String {
    match format {
        Format::Csv => {
            let mut line = CSV_COLUMNS.join(",");
            line.push_str("\r\n");
            line
        }
        Format::GeoJson => "{\"type\":\"FeatureCollection\",\"features\":[\n".to_owned(),
    }
}

/// The end of a file.
pub fn footer(format: Format) -> &'static str {
    match format {
        Format::Csv => "",
        Format::GeoJson => "\n]}\n",
    }
}

/// Appends one problem to `out`; `first` says whether it is the file's first row
/// (GeoJSON separates features with commas).
pub fn write_row(
    out: &mut String,
    format: Format,
    row: &problem::Model,
    lookups: &Lookups,
    audience: Audience,
    first: bool,
) {
    let e = exported(row, lookups, audience);
    let beat = lookups.beats.get(&row.beat_id).map_or("", String::as_str);
    let hood = row
        .neighborhood_id
        .and_then(|n| lookups.neighborhoods.get(&n))
        .map_or("", String::as_str);
    let (code, name) = e
        .category
        .map_or(("", ""), |c| (c.service_code.as_str(), c.name.as_str()));
    match format {
        Format::Csv => {
            let fields: [String; 19] = [
                row.id.to_string(),
                row.reference.clone(),
                code.to_owned(),
                name.to_owned(),
                status_name(row),
                priority_name(row),
                e.title.to_owned(),
                e.description.to_owned(),
                format!("{:.6}", e.lat),
                format!("{:.6}", e.lon),
                e.blurred.to_string(),
                e.address.to_owned(),
                beat.to_owned(),
                hood.to_owned(),
                row.support_count.to_string(),
                time(Some(row.created_at)),
                time(row.acknowledged_at),
                time(row.resolved_at),
                time(row.closed_at),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_csv_field(out, field);
            }
            out.push_str("\r\n");
        }
        Format::GeoJson => {
            if !first {
                out.push_str(",\n");
            }
            let feature = json!({
                "type": "Feature",
                "id": row.id,
                "geometry": { "type": "Point", "coordinates": [e.lon, e.lat] },
                "properties": {
                    "reference": row.reference,
                    "service_code": code,
                    "category": name,
                    "status": status_name(row),
                    "priority": priority_name(row),
                    "title": e.title,
                    "description": e.description,
                    "address": (!e.address.is_empty()).then_some(e.address),
                    "location_blurred": e.blurred,
                    "beat": beat,
                    "neighborhood": (!hood.is_empty()).then_some(hood),
                    "support_count": row.support_count,
                    "created_at": time(Some(row.created_at)),
                    "acknowledged_at": row.acknowledged_at.map(|t| time(Some(t))),
                    "resolved_at": row.resolved_at.map(|t| time(Some(t))),
                    "closed_at": row.closed_at.map(|t| time(Some(t))),
                }
            });
            let _ = write!(out, "{feature}");
        }
    }
}

/// Writes a CSV field, quoted when needed. A field that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) is prefixed with `'`, since titles and
/// descriptions come from the public.
fn push_csv_field(out: &mut String, field: &str) {
    let formula = field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err();
    let quote = formula || field.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if field.contains('"') {
        out.push_str(&field.replace('"', "\"\""));
    } else {
        out.push_str(field);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        let mut out = String::new();
        push_csv_field(&mut out, "plain");
        out.push('|');
        push_csv_field(&mut out, "a, \"b\"\nc");
        out.push('|');
        push_csv_field(&mut out, "=HYPERLINK(\"x\")");
        out.push('|');
        push_csv_field(&mut out, "-87.699500");
        assert_eq!(
            out,
            "plain|\"a, \"\"b\"\"\nc\"|\"'=HYPERLINK(\"\"x\"\")\"|-87.699500"
        );
    }

    #[test]
    fn ranges_take_dates_and_times() {
        let r = Range::parse(Some("2026-11-01"), Some("2026-11-01")).unwrap();
        assert_eq!((r.to - r.from).num_hours(), 24);
        assert!(Range::parse(Some("2026-11-01T10:00:00+01:00"), Some("2026-11-02")).is_ok());
        assert!(Range::parse(None, Some("2026-11-02")).is_err());
        assert!(Range::parse(Some("yesterday"), Some("2026-11-02")).is_err());
        assert!(Range::parse(Some("2026-11-03"), Some("2026-11-02")).is_err());
    }
}
