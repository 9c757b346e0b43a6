//! The captain's dashboard: what is open, ageing and overdue in a precinct now, how fast
//! its problems of a window were acknowledged and resolved, what residents thought of
//! the work, and how beat meetings were attended.
//!
//! A fixed number of statements whatever the precinct's size: aggregates are computed
//! by the database on indexed columns (`problems (beat_id, status, created_at)` and
//! `(beat_id, created_at)`, `meetings (beat_id, starts_at)`, `problem_ratings
//! (created_at)`); only the percentiles are computed here, over the acknowledgement
//! and resolution times of the window's problems.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use entity::enums::{MeetingStatus, ProblemStatus};
use entity::{beat, category, meeting, problem, problem_rating, user};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, IdenStatic as _, JoinType,
    Order, QueryFilter as _, QueryOrder as _, QuerySelect as _, QueryTrait as _,
    RelationTrait as _,
};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::stats::{DurationSummary, Window};
use crate::domain::{catalog, now};
use crate::error::AppResult;

/// Statuses in which a problem is still open.
pub const OPEN: [ProblemStatus; 3] = [
    ProblemStatus::New,
    ProblemStatus::Acknowledged,
    ProblemStatus::InProgress,
];

/// How many of the most supported open problems the dashboard lists.
pub const TOP_SUPPORTED: u64 = 10;

/// Age buckets of open problems: label and lower bound in days (the upper bound is the
/// next bucket's lower bound).
pub const AGE_BUCKETS: [(&str, i64); 5] = [
    ("under 1 day", 0),
    ("1 to 3 days", 1),
    ("3 to 7 days", 3),
    ("7 to 30 days", 7),
    ("over 30 days", 30),
];

/// Open problems of one beat in one status.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCount {
    /// The beat.
    pub beat_id: Uuid,
    /// The status.
    pub status: ProblemStatus,
    /// How many.
    pub count: i64,
    /// How many of them are past their due time.
    pub overdue: i64,
}

/// Open problems of one age bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeBucket {
    /// Label, e.g. `3 to 7 days`.
    pub label: &'static str,
    /// Lower bound of the age, in days.
    pub min_days: i64,
    /// Upper bound of the age, in days (none for the last bucket).
    pub max_days: Option<i64>,
    /// How many open problems are that old.
    pub count: i64,
}

/// Durations of one group (a beat, an officer, a category).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDurations {
    /// The group's id.
    pub id: Uuid,
    /// The group's name (beat code, officer display name, category name).
    pub name: String,
    /// Time from report to acknowledgement.
    pub to_acknowledge: DurationSummary,
    /// Time from report to resolution.
    pub to_resolve: DurationSummary,
}

/// Meetings of one beat in the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BeatMeetings {
    /// The beat.
    pub beat_id: Uuid,
    /// Meetings that took place (or are scheduled) in the window.
    pub held: i64,
    /// Meetings cancelled.
    pub cancelled: i64,
    /// Meetings whose attendance was recorded.
    pub with_attendance: i64,
    /// Residents counted, over the meetings with attendance.
    pub residents: i64,
    /// Officers counted, over the meetings with attendance.
    pub officers: i64,
}

/// Residents' ratings of resolved problems.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Satisfaction {
    /// How many ratings of each value, 1 to 5 (index 0 is rating 1).
    pub distribution: [i64; 5],
}

impl Satisfaction {
    /// How many ratings.
    pub fn count(&self) -> i64 {
        self.distribution.iter().sum()
    }

    /// The average rating, when any.
    pub fn average(&self) -> Option<f64> {
        let count = self.count();
        (count > 0).then(|| {
            let total: i64 = self
                .distribution
                .iter()
                .zip(1_i64..)
                .map(|(n, rating)| n * rating)
                .sum();
            total as f64 / count as f64
        })
    }
}

/// Everything on the dashboard of a precinct.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The precinct's beats, by code.
    pub beats: Vec<beat::Model>,
    /// The window of the time, satisfaction and meeting figures.
    pub window: Window,
    /// When the figures were computed (the "now" of open, ageing and overdue).
    pub generated_at: DateTime<Utc>,
    /// Open problems now, by beat and status.
    pub open: Vec<OpenCount>,
    /// Open problems now, by age.
    pub ageing: Vec<AgeBucket>,
    /// Acknowledgement and resolution times of the window's problems, overall.
    pub overall: GroupDurations,
    /// The same by beat.
    pub by_beat: Vec<GroupDurations>,
    /// The same by assigned officer.
    pub by_officer: Vec<GroupDurations>,
    /// The same by category.
    pub by_category: Vec<GroupDurations>,
    /// Ratings given in the window.
    pub satisfaction: Satisfaction,
    /// Meetings in the window, by beat.
    pub meetings: Vec<BeatMeetings>,
    /// The open problems with the most "me too"s.
    pub most_supported: Vec<problem::Model>,
}

/// The dashboard of `precinct_id` for the window, for a captain of the precinct or an
/// admin. Problems the viewer may not see (sensitive ones, for police) are left out of
/// every figure.
pub async fn dashboard(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    precinct_id: Uuid,
    window: Window,
) -> AppResult<Dashboard> {
    policy::require_precinct_oversight(viewer, precinct_id)?;
    catalog::precinct(db, precinct_id).await?;
    let beats = catalog::beats(db, Some(precinct_id)).await?;
    let beat_ids: Vec<Uuid> = beats.iter().map(|b| b.id).collect();
    let generated_at = now();
    let in_precinct = Condition::all()
        .add(problem::Column::BeatId.is_in(beat_ids.clone()))
        .add(policy::visible_problems(viewer));

    let (open, ageing) = open_problems(db, in_precinct.clone(), generated_at).await?;
    let times = durations(db, in_precinct.clone(), window).await?;
    let satisfaction = satisfaction(db, in_precinct.clone(), window).await?;
    let meetings = meetings(db, &beat_ids, window).await?;
    let most_supported = most_supported(db, viewer, &beat_ids).await?;

    let officer_ids: Vec<Uuid> = times.iter().filter_map(|t| t.officer_id).collect();
    let officers: HashMap<Uuid, String> = if officer_ids.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::DisplayName)
            .filter(user::Column::Id.is_in(dedup(officer_ids)))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let categories: HashMap<Uuid, String> = category::Entity::find()
        .select_only()
        .column(category::Column::Id)
        .column(category::Column::Name)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let beat_codes: HashMap<Uuid, String> = beats.iter().map(|b| (b.id, b.code.clone())).collect();

    let name_of = |names: &HashMap<Uuid, String>, id: Uuid| {
        names.get(&id).cloned().unwrap_or_else(|| id.to_string())
    };
    let by_beat = group(&times, |t| Some(t.beat_id), |id| name_of(&beat_codes, id));
    let by_officer = group(&times, |t| t.officer_id, |id| name_of(&officers, id));
    let by_category = group(
        &times,
        |t| Some(t.category_id),
        |id| name_of(&categories, id),
    );
    let overall = summarise(Uuid::nil(), "all".to_owned(), times.iter());

    Ok(Dashboard {
        beats,
        window,
        generated_at,
        open,
        ageing,
        overall,
        by_beat,
        by_officer,
        by_category,
        satisfaction,
        meetings,
        most_supported,
    })
}

/// The most supported open problems of the beats, newest first among equals: one
/// small branch per beat and status, each walking `(beat_id, status, support_count,
/// created_at, ...)` backwards and stopping after [`TOP_SUPPORTED`] rows, merged. (With
/// oldest first among equals the order ran against the index, and SQLite sorted every
/// problem sharing the top count in each branch, reading each one's row.) One sort over every open problem of the
/// precinct would read each of their rows (190 ms at 1M problems on SQLite; the
/// branches take a few).
async fn most_supported(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    beat_ids: &[Uuid],
) -> AppResult<Vec<problem::Model>> {
    use sea_orm::sea_query::{Alias, Asterisk, Query};
    let branches = beat_ids.iter().flat_map(|beat_id| {
        OPEN.into_iter().map(move |status| {
            problem::Entity::find()
                .filter(problem::Column::BeatId.eq(*beat_id))
                .filter(problem::Column::Status.eq(status))
                .filter(policy::visible_problems(viewer))
                .order_by(problem::Column::SupportCount, Order::Desc)
                .order_by(problem::Column::CreatedAt, Order::Desc)
                .limit(TOP_SUPPORTED)
                .into_query()
        })
    });
    let Some(union) = crate::domain::problems::union_all(branches) else {
        return Ok(Vec::new());
    };
    let merged = Query::select()
        .column(Asterisk)
        .from_subquery(union, Alias::new("top"))
        .order_by(problem::Column::SupportCount, Order::Desc)
        .order_by(problem::Column::CreatedAt, Order::Desc)
        .order_by(problem::Column::Id, Order::Desc)
        .limit(TOP_SUPPORTED)
        .to_owned();
    let stmt = db.get_database_backend().build(&merged);
    Ok(problem::Entity::find().from_raw_sql(stmt).all(db).await?)
}

fn dedup(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Open problems by beat, status, age bucket and overdue, in one grouped statement.
///
/// It groups by `(beat_id, status)` only, the order of the covering index it walks,
/// and counts overdue and age with conditional sums: grouping by the age and overdue
/// expressions as well made SQLite sort every open problem of the precinct in a
/// temporary B-tree (140 ms at 1M problems; 48 ms this way).
async fn open_problems(
    db: &impl ConnectionTrait,
    in_precinct: Condition,
    at: DateTime<Utc>,
) -> AppResult<(Vec<OpenCount>, Vec<AgeBucket>)> {
    let when = |condition: SimpleExpr| -> SimpleExpr {
        CaseStatement::new().case(condition, 1).finally(0).into()
    };
    let created = || Expr::col((problem::Entity, problem::Column::CreatedAt));
    // younger_<i>: how many are younger than the upper bound of bucket i.
    let bounds = AGE_BUCKETS.len() - 1;
    let mut select = problem::Entity::find()
        .select_only()
        .column(problem::Column::BeatId)
        .column(problem::Column::Status)
        // COUNT(*), not COUNT(id): the id is not in the covering index, and counting
        // it would read every open problem's row (4 s instead of 70 ms cold at 1M).
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(
            Expr::expr(when(
                Expr::col((problem::Entity, problem::Column::DueAt)).lt(at),
            ))
            .sum(),
            "overdue",
        );
    for (index, window) in AGE_BUCKETS.windows(2).enumerate() {
        let upper_days = window[1].1;
        select = select.column_as(
            Expr::expr(when(created().gt(at - Duration::days(upper_days)))).sum(),
            format!("younger_{index}"),
        );
    }
    let stmt = select
        .filter(in_precinct)
        .filter(problem::Column::Status.is_in(OPEN))
        .group_by(problem::Column::BeatId)
        .group_by(problem::Column::Status)
        .build(db.get_database_backend());
    let rows = db.query_all_raw(stmt).await?;

    let mut open: BTreeMap<(Uuid, &'static str), OpenCount> = BTreeMap::new();
    let mut ageing: Vec<AgeBucket> = AGE_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, (label, min_days))| AgeBucket {
            label,
            min_days: *min_days,
            max_days: AGE_BUCKETS.get(i + 1).map(|(_, d)| *d),
            count: 0,
        })
        .collect();
    for row in rows {
        let beat_id: Uuid = row.try_get("", "beat_id")?;
        let status: ProblemStatus = row.try_get("", "status")?;
        let n: i64 = row.try_get("", "n")?;
        let overdue: i64 = sum(&row, "overdue")?;
        let entry = open
            .entry((beat_id, status_key(status)))
            .or_insert(OpenCount {
                beat_id,
                status,
                count: 0,
                overdue: 0,
            });
        entry.count += n;
        entry.overdue += overdue;
        // younger_<i> counts those younger than bucket i's upper bound; the last
        // bucket has none, so all `n` are younger than it. A bucket holds the
        // difference to the bucket before.
        let mut younger_than_previous = 0;
        for (index, bucket) in ageing.iter_mut().enumerate() {
            let younger = if index < bounds {
                sum(&row, &format!("younger_{index}"))?
            } else {
                n
            };
            bucket.count += younger - younger_than_previous;
            younger_than_previous = younger;
        }
    }
    Ok((open.into_values().collect(), ageing))
}

/// A `SUM` of integers (bigint on PostgreSQL, integer on SQLite).
fn sum(row: &sea_orm::QueryResult, column: &str) -> AppResult<i64> {
    Ok(row.try_get::<Option<i64>>("", column)?.unwrap_or(0))
}

fn status_key(status: ProblemStatus) -> &'static str {
    match status {
        ProblemStatus::New => "0",
        ProblemStatus::Acknowledged => "1",
        ProblemStatus::InProgress => "2",
        ProblemStatus::Resolved => "3",
        ProblemStatus::Closed => "4",
        ProblemStatus::Duplicate => "5",
        ProblemStatus::NotActionable => "6",
    }
}

/// How long a problem of the window took to be acknowledged and resolved, in hours.
#[derive(Debug, Clone)]
struct Times {
    beat_id: Uuid,
    officer_id: Option<Uuid>,
    category_id: Uuid,
    to_acknowledge: Option<f64>,
    to_resolve: Option<f64>,
}

type TimesRow = (Uuid, Option<Uuid>, Uuid, Option<f64>, Option<f64>);

/// Hours from `created_at` to `column`, computed by the database: a row then carries
/// two numbers instead of three timestamps, which SQLite stores as text and which
/// would each be copied and parsed (about 24,000 rows for a 30-day window at 1M).
fn hours_since_created(backend: sea_orm::DatabaseBackend, column: problem::Column) -> SimpleExpr {
    let column = column.as_str();
    match backend {
        sea_orm::DatabaseBackend::Postgres => Expr::cust(format!(
            "CAST(EXTRACT(EPOCH FROM (\"problems\".\"{column}\" - \"problems\".\"created_at\")) \
             AS double precision) / 3600.0"
        )),
        _ => Expr::cust(format!(
            "(julianday(\"problems\".\"{column}\") - julianday(\"problems\".\"created_at\")) * 24.0"
        )),
    }
}

/// The work times of the problems reported in the window that were acknowledged or
/// resolved (the others have no duration yet).
async fn durations(
    db: &impl ConnectionTrait,
    in_precinct: Condition,
    window: Window,
) -> AppResult<Vec<Times>> {
    let backend = db.get_database_backend();
    let rows: Vec<TimesRow> = problem::Entity::find()
        .select_only()
        .column(problem::Column::BeatId)
        .column(problem::Column::AssignedOfficerId)
        .column(problem::Column::CategoryId)
        .column_as(
            hours_since_created(backend, problem::Column::AcknowledgedAt),
            "to_acknowledge",
        )
        .column_as(
            hours_since_created(backend, problem::Column::ResolvedAt),
            "to_resolve",
        )
        .filter(in_precinct)
        .filter(problem::Column::CreatedAt.gte(window.from))
        .filter(problem::Column::CreatedAt.lt(window.to))
        .filter(
            Condition::any()
                .add(problem::Column::AcknowledgedAt.is_not_null())
                .add(problem::Column::ResolvedAt.is_not_null()),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(beat_id, officer_id, category_id, to_acknowledge, to_resolve)| Times {
                beat_id,
                officer_id,
                category_id,
                to_acknowledge,
                to_resolve,
            },
        )
        .collect())
}

fn summarise<'a>(id: Uuid, name: String, times: impl Iterator<Item = &'a Times>) -> GroupDurations {
    let mut ack = Vec::new();
    let mut resolve = Vec::new();
    for t in times {
        if let Some(hours) = t.to_acknowledge {
            ack.push(hours.max(0.0));
        }
        if let Some(hours) = t.to_resolve {
            resolve.push(hours.max(0.0));
        }
    }
    GroupDurations {
        id,
        name,
        to_acknowledge: DurationSummary::of(&mut ack),
        to_resolve: DurationSummary::of(&mut resolve),
    }
}

/// Durations grouped by `key`, slowest median resolution first.
fn group(
    times: &[Times],
    key: impl Fn(&Times) -> Option<Uuid>,
    name: impl Fn(Uuid) -> String,
) -> Vec<GroupDurations> {
    let mut groups: HashMap<Uuid, Vec<&Times>> = HashMap::new();
    for t in times {
        if let Some(k) = key(t) {
            groups.entry(k).or_default().push(t);
        }
    }
    let mut out: Vec<GroupDurations> = groups
        .into_iter()
        .map(|(id, ts)| summarise(id, name(id), ts.into_iter()))
        .collect();
    out.sort_by(|a, b| {
        let slow = |g: &GroupDurations| g.to_resolve.median_hours.unwrap_or(-1.0);
        slow(b)
            .total_cmp(&slow(a))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// Ratings given in the window to the precinct's problems.
async fn satisfaction(
    db: &impl ConnectionTrait,
    in_precinct: Condition,
    window: Window,
) -> AppResult<Satisfaction> {
    let rows: Vec<(i32, i64)> = problem_rating::Entity::find()
        .select_only()
        .column(problem_rating::Column::Rating)
        .column_as(
            Expr::col((problem_rating::Entity, problem_rating::Column::ProblemId)).count(),
            "n",
        )
        .join(JoinType::InnerJoin, problem_rating::Relation::Problem.def())
        .filter(problem_rating::Column::CreatedAt.gte(window.from))
        .filter(problem_rating::Column::CreatedAt.lt(window.to))
        .filter(in_precinct)
        .group_by(problem_rating::Column::Rating)
        .into_tuple()
        .all(db)
        .await?;
    let mut s = Satisfaction::default();
    for (rating, n) in rows {
        if let Some(slot) = usize::try_from(rating - 1)
            .ok()
            .and_then(|i| s.distribution.get_mut(i))
        {
            *slot += n;
        }
    }
    Ok(s)
}

/// Meetings of the precinct's beats that start in the window.
async fn meetings(
    db: &impl ConnectionTrait,
    beat_ids: &[Uuid],
    window: Window,
) -> AppResult<Vec<BeatMeetings>> {
    type Row = (Uuid, MeetingStatus, i64, i64, Option<i64>, Option<i64>);
    let rows: Vec<Row> = meeting::Entity::find()
        .select_only()
        .column(meeting::Column::BeatId)
        .column(meeting::Column::Status)
        .column_as(
            Expr::col((meeting::Entity, meeting::Column::Id)).count(),
            "n",
        )
        .column_as(
            Expr::col((meeting::Entity, meeting::Column::AttendanceResidents)).count(),
            "with_attendance",
        )
        .column_as(
            Expr::col((meeting::Entity, meeting::Column::AttendanceResidents)).sum(),
            "residents",
        )
        .column_as(
            Expr::col((meeting::Entity, meeting::Column::AttendanceOfficers)).sum(),
            "officers",
        )
        .filter(meeting::Column::BeatId.is_in(beat_ids.to_vec()))
        .filter(meeting::Column::StartsAt.gte(window.from))
        .filter(meeting::Column::StartsAt.lt(window.to))
        .group_by(meeting::Column::BeatId)
        .group_by(meeting::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_beat: BTreeMap<Uuid, BeatMeetings> = BTreeMap::new();
    for (beat_id, status, n, with_attendance, residents, officers) in rows {
        let m = by_beat.entry(beat_id).or_insert(BeatMeetings {
            beat_id,
            ..BeatMeetings::default()
        });
        match status {
            MeetingStatus::Scheduled => {
                m.held += n;
                m.with_attendance += with_attendance;
                m.residents += residents.unwrap_or(0);
                m.officers += officers.unwrap_or(0);
            }
            MeetingStatus::Cancelled => m.cancelled += n,
        }
    }
    Ok(by_beat.into_values().collect())
}
