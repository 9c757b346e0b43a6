//! The captain's dashboard and the city's equity report.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::api::types::{Beat, Neighborhood, Problem, ProblemStatus};
use crate::api::{parse_id, to_id};
use crate::context::{api, viewer};
use crate::domain::stats::{DurationSummary, Window};
use crate::domain::{dashboard, equity};

/// Median and 90th percentile of a duration, in hours.
#[derive(SimpleObject)]
pub struct DurationStats {
    /// How many problems the figures are over.
    pub count: i32,
    /// Median, in hours (null without problems).
    pub median_hours: Option<f64>,
    /// 90th percentile, in hours (null without problems).
    pub p90_hours: Option<f64>,
}

impl From<DurationSummary> for DurationStats {
    fn from(s: DurationSummary) -> Self {
        Self {
            count: i32::try_from(s.count).unwrap_or(i32::MAX),
            median_hours: s.median_hours,
            p90_hours: s.p90_hours,
        }
    }
}

/// How fast the problems of a group (a beat, an officer, a category) were handled.
#[derive(SimpleObject)]
pub struct ResponseTimes {
    /// Id of the beat, officer or category (absent for the precinct as a whole).
    pub id: Option<ID>,
    /// Beat code, officer display name or category name.
    pub name: String,
    /// From report to acknowledgement.
    pub to_acknowledge: DurationStats,
    /// From report to resolution.
    pub to_resolve: DurationStats,
}

impl From<dashboard::GroupDurations> for ResponseTimes {
    fn from(g: dashboard::GroupDurations) -> Self {
        Self {
            id: (!g.id.is_nil()).then(|| to_id(g.id)),
            name: g.name,
            to_acknowledge: g.to_acknowledge.into(),
            to_resolve: g.to_resolve.into(),
        }
    }
}

/// Open problems of a beat in one status.
#[derive(SimpleObject)]
pub struct OpenProblemCount {
    /// Id of the beat.
    pub beat_id: ID,
    /// Code of the beat.
    pub beat_code: String,
    /// The status.
    pub status: ProblemStatus,
    /// How many problems.
    pub count: i64,
    /// How many of them are past their due time (the category's SLA).
    pub overdue: i64,
}

/// Open problems of an age.
#[derive(SimpleObject)]
pub struct AgeingBucket {
    /// Label, e.g. `3 to 7 days`.
    pub label: String,
    /// Youngest age in the bucket, in days.
    pub min_days: i64,
    /// Age the bucket stops before, in days (null for the oldest bucket).
    pub max_days: Option<i64>,
    /// How many open problems.
    pub count: i64,
}

/// Overdue open problems of a beat.
#[derive(SimpleObject)]
pub struct OverdueCount {
    /// Id of the beat.
    pub beat_id: ID,
    /// Code of the beat.
    pub beat_code: String,
    /// How many open problems are past their due time.
    pub count: i64,
}

/// How many ratings had one value.
#[derive(SimpleObject)]
pub struct RatingCount {
    /// The rating, 1 (poor) to 5 (excellent).
    pub rating: i32,
    /// How many residents gave it.
    pub count: i64,
}

/// What residents thought of how their problems were resolved.
#[derive(SimpleObject)]
pub struct SatisfactionSummary {
    /// How many ratings were given in the window.
    pub count: i64,
    /// Their average, 1 to 5 (null without ratings).
    pub average: Option<f64>,
    /// How many of each rating.
    pub distribution: Vec<RatingCount>,
}

/// Beat meetings of a beat in the window.
#[derive(SimpleObject)]
pub struct MeetingAttendance {
    /// Id of the beat.
    pub beat_id: ID,
    /// Code of the beat.
    pub beat_code: String,
    /// Meetings held (not cancelled).
    pub held: i64,
    /// Meetings cancelled.
    pub cancelled: i64,
    /// Meetings whose attendance was recorded.
    pub with_attendance: i64,
    /// Residents who attended, over the meetings with attendance.
    pub residents: i64,
    /// Officers who attended, over the meetings with attendance.
    pub officers: i64,
    /// Residents per meeting with attendance (null when none was recorded).
    pub average_residents: Option<f64>,
}

/// A precinct's figures for its captain.
pub struct Dashboard(dashboard::Dashboard);

impl Dashboard {
    fn code_of(&self, beat_id: uuid::Uuid) -> String {
        self.0
            .beats
            .iter()
            .find(|b| b.id == beat_id)
            .map(|b| b.code.clone())
            .unwrap_or_default()
    }
}

/// A precinct's figures for its captain: what is open, ageing and overdue now; how
/// fast the problems reported in the window were acknowledged and resolved; residents'
/// ratings and meeting attendance in the window; the most supported open problems.
/// Problems the caller may not see (sensitive ones, for police) count nowhere.
#[Object]
impl Dashboard {
    /// Start of the window (inclusive).
    async fn from(&self) -> DateTime<Utc> {
        self.0.window.from
    }
    /// End of the window (exclusive).
    async fn to(&self) -> DateTime<Utc> {
        self.0.window.to
    }
    /// When the figures were computed: the "now" of open, ageing and overdue.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at
    }
    /// The precinct's beats, by code.
    async fn beats(&self) -> Vec<Beat> {
        self.0.beats.iter().cloned().map(Beat).collect()
    }
    /// Open problems now (new, acknowledged, in progress), by beat and status.
    async fn open_problems(&self) -> Vec<OpenProblemCount> {
        self.0
            .open
            .iter()
            .map(|o| OpenProblemCount {
                beat_id: to_id(o.beat_id),
                beat_code: self.code_of(o.beat_id),
                status: o.status.into(),
                count: o.count,
                overdue: o.overdue,
            })
            .collect()
    }
    /// How many problems are open now, in all.
    async fn open_total(&self) -> i64 {
        self.0.open.iter().map(|o| o.count).sum()
    }
    /// Open problems now, by how long ago they were reported, youngest first.
    async fn ageing(&self) -> Vec<AgeingBucket> {
        self.0
            .ageing
            .iter()
            .map(|a| AgeingBucket {
                label: a.label.to_owned(),
                min_days: a.min_days,
                max_days: a.max_days,
                count: a.count,
            })
            .collect()
    }
    /// Open problems past their due time (the category's SLA), in all.
    async fn overdue_total(&self) -> i64 {
        self.0.open.iter().map(|o| o.overdue).sum()
    }
    /// Open problems past their due time, by beat (every beat of the precinct).
    async fn overdue_by_beat(&self) -> Vec<OverdueCount> {
        self.0
            .beats
            .iter()
            .map(|b| OverdueCount {
                beat_id: to_id(b.id),
                beat_code: b.code.clone(),
                count: self
                    .0
                    .open
                    .iter()
                    .filter(|o| o.beat_id == b.id)
                    .map(|o| o.overdue)
                    .sum(),
            })
            .collect()
    }
    /// Response times of the problems reported in the window, precinct-wide.
    async fn response_times(&self) -> ResponseTimes {
        self.0.overall.clone().into()
    }
    /// Response times by beat, slowest resolution first.
    async fn response_times_by_beat(&self) -> Vec<ResponseTimes> {
        self.0.by_beat.iter().cloned().map(Into::into).collect()
    }
    /// Response times by assigned officer, slowest resolution first.
    async fn response_times_by_officer(&self) -> Vec<ResponseTimes> {
        self.0.by_officer.iter().cloned().map(Into::into).collect()
    }
    /// Response times by category, slowest resolution first.
    async fn response_times_by_category(&self) -> Vec<ResponseTimes> {
        self.0.by_category.iter().cloned().map(Into::into).collect()
    }
    /// Residents' ratings given in the window.
    async fn satisfaction(&self) -> SatisfactionSummary {
        let s = &self.0.satisfaction;
        SatisfactionSummary {
            count: s.count(),
            average: s.average().map(crate::domain::stats::round2),
            distribution: s
                .distribution
                .iter()
                .zip(1..)
                .map(|(count, rating)| RatingCount {
                    rating,
                    count: *count,
                })
                .collect(),
        }
    }
    /// Beat meetings that started in the window, by beat (beats with meetings only).
    async fn meetings(&self) -> Vec<MeetingAttendance> {
        self.0
            .meetings
            .iter()
            .map(|m| MeetingAttendance {
                beat_id: to_id(m.beat_id),
                beat_code: self.code_of(m.beat_id),
                held: m.held,
                cancelled: m.cancelled,
                with_attendance: m.with_attendance,
                residents: m.residents,
                officers: m.officers,
                average_residents: (m.with_attendance > 0).then(|| {
                    crate::domain::stats::round2(m.residents as f64 / m.with_attendance as f64)
                }),
            })
            .collect()
    }
    /// The open problems with the most "me too"s (up to 10), most supported first and
    /// newest first among equals.
    async fn most_supported(&self) -> Vec<Problem> {
        self.0.most_supported.iter().cloned().map(Problem).collect()
    }
}

/// The city-wide medians the neighbourhoods are compared with.
#[derive(SimpleObject)]
pub struct CityMedians {
    /// Median of the neighbourhoods' reports per 1,000 residents.
    pub reports_per_1000: Option<f64>,
    /// Median of the neighbourhoods' median hours to resolve.
    pub median_hours_to_resolve: Option<f64>,
    /// Median of the neighbourhoods' shares resolved within SLA (0 to 1).
    pub within_sla_share: Option<f64>,
    /// Median of the neighbourhoods' chronic locations.
    pub chronic_locations: Option<f64>,
    /// Median of the neighbourhoods' shares routed to partners (0 to 1).
    pub partner_share: Option<f64>,
}

/// How one neighbourhood was served.
pub struct NeighborhoodEquity(equity::NeighborhoodEquity);

/// How one neighbourhood was served, for the problems reported in the window.
#[Object]
impl NeighborhoodEquity {
    /// The neighbourhood.
    async fn neighborhood(&self) -> Neighborhood {
        Neighborhood(self.0.neighborhood.clone())
    }
    /// Problems reported.
    async fn reports(&self) -> i32 {
        i32::try_from(self.0.reports).unwrap_or(i32::MAX)
    }
    /// Reports per 1,000 residents (null when the population is unknown).
    async fn reports_per_1000(&self) -> Option<f64> {
        self.0.reports_per_1000
    }
    /// Problems resolved so far.
    async fn resolved(&self) -> i32 {
        i32::try_from(self.0.resolved).unwrap_or(i32::MAX)
    }
    /// Median hours from report to resolution.
    async fn median_hours_to_resolve(&self) -> Option<f64> {
        self.0.median_hours_to_resolve
    }
    /// Median hours to resolve over the city-wide median (above 1 is slower).
    async fn resolve_time_ratio(&self) -> Option<f64> {
        self.0.resolve_time_ratio
    }
    /// Of the problems resolved or past their due time, the share resolved within
    /// their category's SLA (0 to 1).
    async fn within_sla_share(&self) -> Option<f64> {
        self.0.within_sla_share
    }
    /// Locations (one category within about 100 m) reported 3 times or more.
    async fn chronic_locations(&self) -> i32 {
        i32::try_from(self.0.chronic_locations).unwrap_or(i32::MAX)
    }
    /// Share of the reports routed to partner organisations (0 to 1).
    async fn partner_share(&self) -> Option<f64> {
        self.0.partner_share
    }
    /// Whether the neighbourhood is served markedly slower than the city: a median
    /// time to resolve at least 1.5 times the city-wide median, or a share resolved
    /// within SLA 15 points below it (with at least 5 resolved problems).
    async fn served_slower(&self) -> bool {
        !self.0.slower_because.is_empty()
    }
    /// Why it is flagged as served slower, in words (empty when it is not).
    async fn slower_because(&self) -> &[String] {
        &self.0.slower_because
    }
}

/// Is every neighbourhood served alike?
pub struct EquityReport(equity::EquityReport);

/// Is every neighbourhood served alike? Per neighbourhood, for the problems reported
/// in the window, compared with the city-wide medians. Aggregates only.
#[Object]
impl EquityReport {
    /// Start of the window (inclusive).
    async fn from(&self) -> DateTime<Utc> {
        self.0.window.from
    }
    /// End of the window (exclusive).
    async fn to(&self) -> DateTime<Utc> {
        self.0.window.to
    }
    /// When the report was computed.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at
    }
    /// Every neighbourhood: those served markedly slower first, then by median time to
    /// resolve, slowest first.
    async fn neighborhoods(&self) -> Vec<NeighborhoodEquity> {
        self.0
            .neighborhoods
            .iter()
            .cloned()
            .map(NeighborhoodEquity)
            .collect()
    }
    /// The neighbourhoods served markedly slower, slowest first.
    async fn served_slower(&self) -> Vec<Neighborhood> {
        self.0
            .neighborhoods
            .iter()
            .filter(|n| !n.slower_because.is_empty())
            .map(|n| Neighborhood(n.neighborhood.clone()))
            .collect()
    }
    /// The city-wide medians.
    async fn city(&self) -> CityMedians {
        let c = &self.0.city;
        CityMedians {
            reports_per_1000: c.reports_per_1000,
            median_hours_to_resolve: c.median_hours_to_resolve,
            within_sla_share: c.within_sla_share,
            chronic_locations: c.chronic_locations,
            partner_share: c.partner_share,
        }
    }
}

/// The dashboard and the equity report.
#[derive(Default)]
pub struct AnalyticsQuery;

/// The dashboard and the equity report.
#[Object]
impl AnalyticsQuery {
    /// A precinct's dashboard, for its captain or an admin (FORBIDDEN otherwise).
    /// Response times, ratings and meetings cover the window `from`–`to` (at most 366
    /// days); open, ageing and overdue problems are as of now.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the precinct.")] precinct_id: ID,
        #[graphql(desc = "Start of the window (inclusive), RFC 3339.")] from: DateTime<Utc>,
        #[graphql(desc = "End of the window (exclusive), RFC 3339.")] to: DateTime<Utc>,
    ) -> Result<Dashboard> {
        let precinct_id = parse_id(&precinct_id, "precinct")?;
        let window = Window::parse(from, to)?;
        let viewer = viewer(ctx).await?;
        let d = dashboard::dashboard(&api(ctx)?.db, viewer, precinct_id, window).await?;
        Ok(Dashboard(d))
    }

    /// The equity report for the problems reported in the window `from`–`to` (at most
    /// 366 days), for captains and admins (FORBIDDEN otherwise).
    async fn equity_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start of the window (inclusive), RFC 3339.")] from: DateTime<Utc>,
        #[graphql(desc = "End of the window (exclusive), RFC 3339.")] to: DateTime<Utc>,
    ) -> Result<EquityReport> {
        let window = Window::parse(from, to)?;
        let viewer = viewer(ctx).await?;
        let report = equity::report(&api(ctx)?.db, viewer, window).await?;
        Ok(EquityReport(report))
    }
}
