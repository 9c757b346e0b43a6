//! Finding problems: filters and keyset pagination.
//!
//! Pages are cut by keyset (the sort key and the id of the last row seen), never by
//! OFFSET, so a page costs the same deep in the list as at its head and stays stable
//! while new problems arrive.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::enums::{ProblemStatus, UserRole};
use entity::{beat, category, problem};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait as _, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait as _,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::inputs::{LatLon, PageSize};
use crate::error::{AppError, AppResult};

/// Which problems to list.
#[derive(Debug, Clone, Default)]
pub struct ProblemFilter {
    /// Only problems in this beat.
    pub beat_id: Option<Uuid>,
    /// Only problems in the beats of this precinct.
    pub precinct_id: Option<Uuid>,
    /// Only problems in this neighbourhood.
    pub neighborhood_id: Option<Uuid>,
    /// Only problems in one of these statuses (all when empty).
    pub statuses: Vec<ProblemStatus>,
    /// Only problems of this category.
    pub category_id: Option<Uuid>,
    /// Only problems of the category with this service code.
    pub category_code: Option<String>,
    /// Only problems assigned to the viewer (an officer) or to the viewer's partner
    /// organisations.
    pub assigned_to_me: bool,
    /// Only problems the viewer reported.
    pub reported_by_me: bool,
    /// Only problems within a distance of a point.
    pub near: Option<Near>,
    /// Only problems changed at or after this time (offline sync).
    pub updated_since: Option<DateTime<Utc>>,
}

/// A circle on the map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    /// The centre.
    pub at: LatLon,
    /// The radius in metres, 1 to [`Near::MAX_RADIUS_M`].
    pub radius_m: f64,
}

impl Near {
    /// The widest circle a query may ask for.
    pub const MAX_RADIUS_M: f64 = 10_000.0;

    /// Parses a circle.
    pub fn parse(lat: f64, lon: f64, radius_m: f64) -> AppResult<Self> {
        let at = LatLon::parse(lat, lon)?;
        if !(radius_m.is_finite() && (1.0..=Self::MAX_RADIUS_M).contains(&radius_m)) {
            return Err(AppError::bad_input(format!(
                "`radiusMeters` is {radius_m}; it must be between 1 and {}",
                Self::MAX_RADIUS_M
            )));
        }
        Ok(Self { at, radius_m })
    }

    /// The SQL condition "within the circle": a bounding box (which indexes can use)
    /// and the equirectangular distance, exact to well under a metre at city scale.
    pub fn condition(&self) -> Condition {
        let lat0 = self.at.lat.degrees();
        let lon0 = self.at.lon.degrees();
        let m_per_deg_lat = METRES_PER_DEGREE;
        let m_per_deg_lon = METRES_PER_DEGREE * lat0.to_radians().cos().max(0.01);
        let dlat = self.radius_m / m_per_deg_lat;
        let dlon = self.radius_m / m_per_deg_lon;
        let (lat, lon) = (problem::Column::Lat, problem::Column::Lon);
        let dy = Expr::col(lat).sub(lat0).mul(m_per_deg_lat);
        let dx = Expr::col(lon).sub(lon0).mul(m_per_deg_lon);
        let squared = dy.clone().mul(dy).add(dx.clone().mul(dx));
        Condition::all()
            .add(lat.between(lat0 - dlat, lat0 + dlat))
            .add(lon.between(lon0 - dlon, lon0 + dlon))
            .add(squared.lte(self.radius_m * self.radius_m))
    }
}

/// Metres per degree of latitude (and of longitude at the equator).
pub const METRES_PER_DEGREE: f64 = 111_320.0;

/// Distance in metres between two points (equirectangular; exact enough in a city).
pub fn distance_m(a_lat: f64, a_lon: f64, b_lat: f64, b_lon: f64) -> f64 {
    let mid = ((a_lat + b_lat) / 2.0).to_radians();
    let dy = (a_lat - b_lat) * METRES_PER_DEGREE;
    let dx = (a_lon - b_lon) * METRES_PER_DEGREE * mid.cos();
    (dx * dx + dy * dy).sqrt()
}

/// The order of a problem list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProblemSort {
    /// Most recently reported first.
    #[default]
    Newest,
    /// Least recently reported first.
    Oldest,
    /// Most "me too" supporters first.
    MostSupported,
    /// Earliest due date first (problems without a due date are left out).
    DueSoonest,
    /// Most recently changed first (for sync).
    RecentlyUpdated,
}

impl ProblemSort {
    /// The sort key of a problem in this order.
    fn key(self, p: &problem::Model) -> SortKey {
        match self {
            Self::Newest | Self::Oldest => SortKey::Time(p.created_at),
            Self::MostSupported => SortKey::Count(i64::from(p.support_count)),
            Self::DueSoonest => SortKey::Time(p.due_at.unwrap_or(p.created_at)),
            Self::RecentlyUpdated => SortKey::Time(p.updated_at),
        }
    }

    fn column(self) -> problem::Column {
        match self {
            Self::Newest | Self::Oldest => problem::Column::CreatedAt,
            Self::MostSupported => problem::Column::SupportCount,
            Self::DueSoonest => problem::Column::DueAt,
            Self::RecentlyUpdated => problem::Column::UpdatedAt,
        }
    }

    fn order(self) -> Order {
        match self {
            Self::Oldest | Self::DueSoonest => Order::Asc,
            Self::Newest | Self::MostSupported | Self::RecentlyUpdated => Order::Desc,
        }
    }
}

/// The value a list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    /// A time (created, due, updated).
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    /// A count (supporters).
    #[serde(rename = "n")]
    Count(i64),
}

impl SortKey {
    fn value(self) -> sea_orm::Value {
        match self {
            Self::Time(t) => t.into(),
            Self::Count(n) => n.into(),
        }
    }
}

/// Where a page starts: the sort key and id of the last problem of the previous page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemCursor {
    /// The sort this cursor belongs to; a cursor of another sort is refused.
    #[serde(rename = "s")]
    pub sort: ProblemSort,
    /// Sort key of the last problem seen.
    #[serde(rename = "k")]
    pub key: SortKey,
    /// Id of the last problem seen.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl ProblemCursor {
    /// The cursor that points after `problem` in `sort` order.
    pub fn after(problem: &problem::Model, sort: ProblemSort) -> Self {
        Self {
            sort,
            key: sort.key(problem),
            id: problem.id,
        }
    }

    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        // Serialising this plain struct cannot fail; an empty cursor would only restart
        // the list, never skip rows.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a cursor a client sent back.
    pub fn decode(text: &str) -> AppResult<Self> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                AppError::bad_input(
                    "the cursor `after` is malformed: pass an `endCursor` or `cursor` from an \
                     earlier page unchanged, or omit it to start at the beginning",
                )
            })
    }
}

/// One page of problems.
#[derive(Debug, Clone)]
pub struct ProblemPage {
    /// The problems of the page, in order.
    pub problems: Vec<problem::Model>,
    /// The categories of those problems (read with them, in the same statement), once
    /// each.
    pub categories: Vec<category::Model>,
    /// Whether more problems follow.
    pub has_next_page: bool,
    /// Whether the page started after a cursor.
    pub has_previous_page: bool,
}

/// Lists problems matching `filter` in `sort` order, `first` at a time after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    filter: &ProblemFilter,
    sort: ProblemSort,
    first: PageSize,
    after: Option<&str>,
) -> AppResult<ProblemPage> {
    let after = after.map(ProblemCursor::decode).transpose()?;
    if let Some(cursor) = &after
        && cursor.sort != sort
    {
        return Err(AppError::bad_input(
            "the cursor `after` belongs to another sort order: start again without `after`",
        ));
    }
    let limit = first.get();
    let page = if filter.statuses.len() > 1 {
        // One ordered, limited branch per status, merged: each branch walks an index
        // (beat_id, status, created_at, id) and stops after a page, where one query
        // with `status IN (...)` would have to sort every matching row. The branches
        // pick only the ids and sort keys, which that index holds, and only the rows
        // of the page are read: 51 row reads instead of one per branch row.
        let (column, order) = (sort.column(), sort.order());
        let branches = filter.statuses.iter().map(|status| {
            let one = ProblemFilter {
                statuses: vec![*status],
                ..filter.clone()
            };
            page_query(viewer, &one, sort, after.as_ref(), limit).map(|select| {
                let mut query = select.into_query();
                query
                    .clear_selects()
                    .column((problem::Entity, problem::Column::Id))
                    .column((problem::Entity, column));
                query
            })
        });
        let branches = branches.collect::<AppResult<Vec<_>>>()?;
        let union =
            union_all(branches).ok_or_else(|| AppError::Internal(anyhow::anyhow!("no branch")))?;
        let page_ids = Query::select()
            .column(problem::Column::Id)
            .from_subquery(union, Alias::new("page"))
            .order_by(column, order.clone())
            .order_by(problem::Column::Id, order.clone())
            .limit(limit + 1)
            .to_owned();
        problem::Entity::find()
            .filter(problem::Column::Id.in_subquery(page_ids))
            .order_by(column, order.clone())
            .order_by(problem::Column::Id, order)
    } else {
        page_query(viewer, filter, sort, after.as_ref(), limit)?
    };
    // Every page shows or judges access by its problems' categories, so they come in
    // the same statement (a join on the primary key of a small table) rather than in
    // a statement of their own.
    let rows = page.find_also_related(category::Entity).all(db).await?;
    let mut problems = Vec::with_capacity(rows.len());
    let mut categories: Vec<category::Model> = Vec::new();
    for (problem, category) in rows {
        if let Some(category) = category
            && !categories.iter().any(|c| c.id == category.id)
        {
            categories.push(category);
        }
        problems.push(problem);
    }
    let has_next_page = problems.len() as u64 > limit;
    problems.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(ProblemPage {
        problems,
        categories,
        has_next_page,
        has_previous_page: after.is_some(),
    })
}

/// The query of one page: filter, keyset, order and limit (one row more than the page,
/// to tell whether another page follows).
fn page_query(
    viewer: &Viewer,
    filter: &ProblemFilter,
    sort: ProblemSort,
    after: Option<&ProblemCursor>,
    limit: u64,
) -> AppResult<sea_orm::Select<problem::Entity>> {
    let mut query = problem::Entity::find()
        .filter(policy::visible_problems(viewer))
        .filter(filter_condition(viewer, filter)?);
    let order = sort.order();
    let column = sort.column();
    if sort == ProblemSort::DueSoonest {
        query = query.filter(column.is_not_null());
    }
    if let Some(cursor) = after {
        let (key, id) = (cursor.key.value(), problem::Column::Id);
        let keyset = match order {
            Order::Asc => Condition::any()
                .add(column.gt(key.clone()))
                .add(column.eq(key).and(id.gt(cursor.id))),
            _ => Condition::any()
                .add(column.lt(key.clone()))
                .add(column.eq(key).and(id.lt(cursor.id))),
        };
        query = query.filter(keyset);
    }
    Ok(query
        .order_by(column, order.clone())
        .order_by(problem::Column::Id, order)
        .limit(limit + 1))
}

fn filter_condition(viewer: &Viewer, filter: &ProblemFilter) -> AppResult<Condition> {
    let mut cond = Condition::all();
    if filter.assigned_to_me {
        let p = viewer.principal()?;
        cond = cond.add(if p.role == UserRole::Partner {
            problem::Column::AssignedPartnerId.is_in(p.partners.clone())
        } else {
            problem::Column::AssignedOfficerId.eq(p.id)
        });
    }
    if filter.reported_by_me {
        let p = viewer.principal()?;
        cond = cond.add(problem::Column::ReporterId.eq(p.id));
    }
    if let Some(near) = &filter.near {
        cond = cond.add(near.condition());
    }
    if let Some(since) = filter.updated_since {
        cond = cond.add(problem::Column::UpdatedAt.gte(since));
    }
    if let Some(beat_id) = filter.beat_id {
        cond = cond.add(problem::Column::BeatId.eq(beat_id));
    }
    if let Some(precinct_id) = filter.precinct_id {
        cond = cond.add(
            problem::Column::BeatId.in_subquery(
                Query::select()
                    .column(beat::Column::Id)
                    .from(beat::Entity)
                    .and_where(Expr::col(beat::Column::PrecinctId).eq(precinct_id))
                    .to_owned(),
            ),
        );
    }
    if let Some(neighborhood_id) = filter.neighborhood_id {
        cond = cond.add(problem::Column::NeighborhoodId.eq(neighborhood_id));
    }
    if !filter.statuses.is_empty() {
        cond = cond.add(problem::Column::Status.is_in(filter.statuses.iter().copied()));
    }
    if let Some(category_id) = filter.category_id {
        cond = cond.add(problem::Column::CategoryId.eq(category_id));
    }
    if let Some(code) = &filter.category_code {
        cond = cond.add(
            problem::Column::CategoryId.in_subquery(
                Query::select()
                    .column(category::Column::Id)
                    .from(category::Entity)
                    .and_where(Expr::col(category::Column::ServiceCode).eq(code.as_str()))
                    .to_owned(),
            ),
        );
    }
    Ok(cond)
}

/// One problem the viewer may see, or NOT_FOUND (also when it exists but is hidden
/// from the viewer, so that its existence does not leak).
pub async fn get(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<problem::Model> {
    let row = problem::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("problem", id))?;
    let sensitive = category::Entity::find_by_id(row.category_id)
        .one(db)
        .await?
        .is_some_and(|c| c.sensitive);
    if policy::can_see_problem(viewer, &row, sensitive) {
        Ok(row)
    } else {
        Err(AppError::not_found("problem", id))
    }
}

/// `SELECT * FROM (b0) UNION ALL SELECT * FROM (b1) ...`: ordered, limited branches
/// merged into one statement (each branch keeps its own ORDER BY and LIMIT). None
/// without branches.
pub fn union_all(branches: impl IntoIterator<Item = SelectStatement>) -> Option<SelectStatement> {
    let mut union: Option<SelectStatement> = None;
    for (i, branch) in branches.into_iter().enumerate() {
        let wrapped = Query::select()
            .column(Asterisk)
            .from_subquery(branch, Alias::new(format!("b{i}")))
            .to_owned();
        match &mut union {
            None => union = Some(wrapped),
            Some(u) => {
                u.union(UnionType::All, wrapped);
            }
        }
    }
    union
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = ProblemCursor {
            sort: ProblemSort::Newest,
            key: SortKey::Count(7),
            id: Uuid::now_v7(),
        };
        let decoded = ProblemCursor::decode(&cursor.encode());
        assert_eq!(decoded.ok(), Some(cursor));
        assert!(ProblemCursor::decode("not a cursor").is_err());
        assert!(ProblemCursor::decode("").is_err());
    }
}
