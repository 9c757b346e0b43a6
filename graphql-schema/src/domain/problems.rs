//! Finding problems: filters and keyset pagination.
//!
//! Pages are cut by keyset (the sort key and the id of the last row seen), never by
//! OFFSET, so a page costs the same deep in the list as at its head and stays stable
//! while new problems arrive.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::enums::ProblemStatus;
use entity::{beat, category, problem};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::inputs::PageSize;
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
}

/// The order of a problem list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProblemSort {
    /// Most recently reported first.
    #[default]
    Newest,
    /// Least recently reported first.
    Oldest,
}

/// Where a page starts: the sort key and id of the last problem of the previous page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemCursor {
    /// The sort this cursor belongs to; a cursor of another sort is refused.
    #[serde(rename = "s")]
    pub sort: ProblemSort,
    /// `created_at` of the last problem seen.
    #[serde(rename = "t")]
    pub created_at: DateTime<Utc>,
    /// Id of the last problem seen.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl ProblemCursor {
    /// The cursor that points after `problem` in `sort` order.
    pub fn after(problem: &problem::Model, sort: ProblemSort) -> Self {
        Self {
            sort,
            created_at: problem.created_at,
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
    let mut query = problem::Entity::find()
        .filter(policy::visible_problems(viewer))
        .filter(filter_condition(filter));
    let order = match sort {
        ProblemSort::Newest => Order::Desc,
        ProblemSort::Oldest => Order::Asc,
    };
    if let Some(cursor) = &after {
        let (created, id) = (problem::Column::CreatedAt, problem::Column::Id);
        let keyset = match order {
            Order::Asc => Condition::any()
                .add(created.gt(cursor.created_at))
                .add(created.eq(cursor.created_at).and(id.gt(cursor.id))),
            _ => Condition::any()
                .add(created.lt(cursor.created_at))
                .add(created.eq(cursor.created_at).and(id.lt(cursor.id))),
        };
        query = query.filter(keyset);
    }
    let limit = first.get();
    let mut problems = query
        .order_by(problem::Column::CreatedAt, order.clone())
        .order_by(problem::Column::Id, order)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next_page = problems.len() as u64 > limit;
    problems.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(ProblemPage {
        problems,
        has_next_page,
        has_previous_page: after.is_some(),
    })
}

fn filter_condition(filter: &ProblemFilter) -> Condition {
    let mut cond = Condition::all();
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
    cond
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = ProblemCursor {
            sort: ProblemSort::Newest,
            created_at: Utc::now(),
            id: Uuid::now_v7(),
        };
        let decoded = ProblemCursor::decode(&cursor.encode());
        assert_eq!(decoded.ok(), Some(cursor));
        assert!(ProblemCursor::decode("not a cursor").is_err());
        assert!(ProblemCursor::decode("").is_err());
    }
}
