//! The equity report: is every neighbourhood served alike? Per neighbourhood, for the
//! problems reported in a window: reports per 1,000 residents, the median time to
//! resolve, the share resolved within the category's SLA, chronic locations, and the
//! share routed to partner organisations, each compared with the city-wide median
//! (the median of the neighbourhoods' values), flagging those served markedly slower.
//!
//! The report holds aggregates only, never a problem or a reporter. It reads the
//! window's problems as a stream (one statement, constant memory per row) and keeps
//! only what the figures need.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{category, neighborhood, problem};
use futures::TryStreamExt as _;
use sea_orm::StreamTrait;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, QuerySelect as _,
};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::now;
use crate::domain::privacy::BLUR_STEP_DEGREES;
use crate::domain::stats::{Window, hours_between, quantile, round2};
use crate::error::AppResult;

/// Reports of one category in one ~100 m cell that make a location chronic.
pub const CHRONIC_REPORTS: usize = 3;

/// A neighbourhood is served markedly slower when its median time to resolve is at
/// least this many times the city-wide median...
pub const SLOWER_RATIO: f64 = 1.5;

/// ...or its share resolved within SLA is this much (0 to 1) below the city-wide median.
pub const SLA_SHARE_GAP: f64 = 0.15;

/// Fewest resolved problems for a neighbourhood's times to be compared at all.
pub const MIN_RESOLVED: usize = 5;

/// One neighbourhood's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighborhoodEquity {
    /// The neighbourhood.
    pub neighborhood: neighborhood::Model,
    /// Problems reported in the window.
    pub reports: usize,
    /// Reports per 1,000 residents (none without a population).
    pub reports_per_1000: Option<f64>,
    /// Problems of the window resolved so far.
    pub resolved: usize,
    /// Median hours from report to resolution.
    pub median_hours_to_resolve: Option<f64>,
    /// Of the problems resolved or past their due time, the share resolved in time.
    pub within_sla_share: Option<f64>,
    /// Locations (one category, one ~100 m cell) reported at least
    /// [`CHRONIC_REPORTS`] times.
    pub chronic_locations: usize,
    /// Share of the reports routed to a partner organisation.
    pub partner_share: Option<f64>,
    /// Median time to resolve over the city-wide median.
    pub resolve_time_ratio: Option<f64>,
    /// Why the neighbourhood is flagged as served markedly slower (empty when not).
    pub slower_because: Vec<String>,
}

/// The city-wide medians of the neighbourhoods' figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CityMedians {
    /// Reports per 1,000 residents.
    pub reports_per_1000: Option<f64>,
    /// Median hours to resolve.
    pub median_hours_to_resolve: Option<f64>,
    /// Share resolved within SLA.
    pub within_sla_share: Option<f64>,
    /// Chronic locations.
    pub chronic_locations: Option<f64>,
    /// Share routed to partners.
    pub partner_share: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct EquityReport {
    /// The window.
    pub window: Window,
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    /// Per neighbourhood, those served slowest first.
    pub neighborhoods: Vec<NeighborhoodEquity>,
    /// The city-wide medians.
    pub city: CityMedians,
}

#[derive(Default)]
struct Tally {
    reports: usize,
    resolve_hours: Vec<f64>,
    due: usize,
    in_time: usize,
    routed: usize,
    cells: HashMap<(Uuid, i64, i64), usize>,
}

type Row = (
    Uuid,
    Uuid,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<Uuid>,
    f64,
    f64,
);

/// The equity report for the problems reported in `window`, for captains and admins.
pub async fn report<C>(db: &C, viewer: &Viewer, window: Window) -> AppResult<EquityReport>
where
    C: ConnectionTrait + StreamTrait,
{
    policy::require_equity_report(viewer)?;
    let generated_at = now();
    let neighborhoods = neighborhood::Entity::find().all(db).await?;
    let sla: HashMap<Uuid, i32> = category::Entity::find()
        .select_only()
        .column(category::Column::Id)
        .column(category::Column::SlaHours)
        .into_tuple::<(Uuid, i32)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut tallies: HashMap<Uuid, Tally> = HashMap::new();
    {
        let mut rows = problem::Entity::find()
            .select_only()
            .column(problem::Column::NeighborhoodId)
            .column(problem::Column::CategoryId)
            .column(problem::Column::CreatedAt)
            .column(problem::Column::ResolvedAt)
            .column(problem::Column::DueAt)
            .column(problem::Column::AssignedPartnerId)
            .column(problem::Column::Lat)
            .column(problem::Column::Lon)
            .filter(problem::Column::CreatedAt.gte(window.from))
            .filter(problem::Column::CreatedAt.lt(window.to))
            .filter(problem::Column::NeighborhoodId.is_not_null())
            .into_tuple::<Row>()
            .stream(db)
            .await?;
        while let Some((hood, cat, created, resolved, due, partner, lat, lon)) =
            rows.try_next().await?
        {
            let t = tallies.entry(hood).or_default();
            t.reports += 1;
            if let Some(at) = resolved {
                t.resolve_hours.push(hours_between(created, at).max(0.0));
            }
            let deadline = due.unwrap_or_else(|| {
                created + Duration::hours(i64::from(sla.get(&cat).copied().unwrap_or(72)))
            });
            match resolved {
                Some(at) => {
                    t.due += 1;
                    t.in_time += usize::from(at <= deadline);
                }
                None if deadline <= generated_at => t.due += 1,
                None => {}
            }
            t.routed += usize::from(partner.is_some());
            *t.cells.entry((cat, cell(lat), cell(lon))).or_default() += 1;
        }
    }
    let mut rows: Vec<NeighborhoodEquity> = neighborhoods
        .into_iter()
        .map(|n| {
            let mut t = tallies.remove(&n.id).unwrap_or_default();
            let share = |part: usize, whole: usize| {
                (whole > 0).then(|| round2(part as f64 / whole as f64 * 100.0) / 100.0)
            };
            NeighborhoodEquity {
                reports_per_1000: (n.population > 0)
                    .then(|| round2(t.reports as f64 * 1000.0 / f64::from(n.population))),
                resolved: t.resolve_hours.len(),
                median_hours_to_resolve: quantile(&mut t.resolve_hours, 0.5).map(round2),
                within_sla_share: share(t.in_time, t.due),
                chronic_locations: t.cells.values().filter(|&&c| c >= CHRONIC_REPORTS).count(),
                partner_share: share(t.routed, t.reports),
                reports: t.reports,
                neighborhood: n,
                resolve_time_ratio: None,
                slower_because: Vec::new(),
            }
        })
        .collect();
    let median_of = |f: &dyn Fn(&NeighborhoodEquity) -> Option<f64>| {
        let mut values: Vec<f64> = rows.iter().filter_map(f).collect();
        quantile(&mut values, 0.5).map(round2)
    };
    let comparable = |n: &NeighborhoodEquity| n.resolved >= MIN_RESOLVED;
    let city = CityMedians {
        reports_per_1000: median_of(&|n| n.reports_per_1000),
        median_hours_to_resolve: median_of(&|n| {
            n.median_hours_to_resolve.filter(|_| comparable(n))
        }),
        within_sla_share: median_of(&|n| n.within_sla_share.filter(|_| comparable(n))),
        chronic_locations: median_of(&|n| Some(n.chronic_locations as f64)),
        partner_share: median_of(&|n| n.partner_share),
    };
    for n in &mut rows {
        if let (Some(mine), Some(city)) = (n.median_hours_to_resolve, city.median_hours_to_resolve)
            && city > 0.0
        {
            n.resolve_time_ratio = Some(round2(mine / city));
        }
        if !comparable(n) {
            continue;
        }
        if n.resolve_time_ratio.is_some_and(|r| r >= SLOWER_RATIO) {
            n.slower_because.push(format!(
                "median time to resolve is {:.1}× the city-wide median",
                n.resolve_time_ratio.unwrap_or_default()
            ));
        }
        if let (Some(mine), Some(city)) = (n.within_sla_share, city.within_sla_share)
            && mine <= city - SLA_SHARE_GAP
        {
            n.slower_because.push(format!(
                "{:.0}% resolved within SLA against a city-wide median of {:.0}%",
                mine * 100.0,
                city * 100.0
            ));
        }
    }
    rows.sort_by(|a, b| {
        let flagged = |n: &NeighborhoodEquity| !n.slower_because.is_empty();
        let slow = |n: &NeighborhoodEquity| n.median_hours_to_resolve.unwrap_or(-1.0);
        flagged(b)
            .cmp(&flagged(a))
            .then_with(|| slow(b).total_cmp(&slow(a)))
            .then_with(|| a.neighborhood.name.cmp(&b.neighborhood.name))
    });
    Ok(EquityReport {
        window,
        generated_at,
        neighborhoods: rows,
        city,
    })
}

/// The index of the ~100 m grid cell of a coordinate (the open-data blur grid).
fn cell(degrees: f64) -> i64 {
    #[expect(clippy::cast_possible_truncation, reason = "coordinates are small")]
    let index = (degrees / BLUR_STEP_DEGREES).floor() as i64;
    index
}
