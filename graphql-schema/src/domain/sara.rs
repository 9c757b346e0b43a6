//! SARA problem-solving records: a problem (or a cluster of related problems) adopted
//! as a partnership priority moves through Scanning, Analysis, Response and
//! Assessment, in order, each change written with who and when.
//!
//! The content of a stage is recorded when the record leaves it: the scanning (harm to
//! the community) at adoption, the analysis (victim, offender, place, hypothesis) when
//! moving to RESPONSE, the response (interventions, responsible parties, objectives
//! with dates) when moving to ASSESSMENT, and the assessment (plan carried out,
//! objectives met, outcome) when concluding. The outcome decides the next stage:
//! CLOSE closes the record, ADJUST returns to RESPONSE, BACK_TO_ANALYSIS to ANALYSIS.
//!
//! Beatline computes the assessment counts itself: reports of the linked problems'
//! categories within a radius of their centroid, in equal windows before and after
//! the response started.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use entity::enums::{MeetingStatus, SaraOutcome, SaraStage};
use entity::{beat, category, meeting, problem, sara_problem, sara_record, sara_stage_change};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession as _, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::idempotency::{self, Begin, Claim, Created, IdempotencyKey, IdempotentRequest};
use crate::domain::meetings::{self, distance_m};
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// Scanning: what the problem is and the harm it does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Scanning {
    /// The harm to the community, in the residents' words.
    pub harm: String,
    /// How many reports make up the problem at adoption.
    pub report_count: usize,
    /// The earliest of them.
    pub first_reported_at: Option<DateTime<Utc>>,
    /// The latest of them.
    pub last_reported_at: Option<DateTime<Utc>>,
}

/// Analysis: the problem triangle and a working hypothesis.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// Who is harmed.
    pub victim: String,
    /// Who causes the harm (behaviour, never appearance).
    pub offender: String,
    /// What about the place lets it happen.
    pub place: String,
    /// The working hypothesis.
    pub hypothesis: String,
}

/// A specific objective with a date.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// What should be achieved.
    pub text: String,
    /// By when.
    pub due_on: NaiveDate,
}

/// Response: the interventions, who carries them out, and the objectives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Interventions considered.
    pub interventions_considered: Vec<String>,
    /// The one chosen.
    pub chosen: String,
    /// Responsible parties (police, partners, residents).
    pub responsible_parties: Vec<String>,
    /// Partner organisations involved.
    pub partner_ids: Vec<Uuid>,
    /// Objectives with dates.
    pub objectives: Vec<Objective>,
    /// When the response started (the assessment compares before and after it).
    pub started_at: DateTime<Utc>,
}

/// Counts of related reports before and after the response, computed by Beatline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentCounts {
    /// Reports in the window before the response started.
    pub before: u64,
    /// Reports since the response started.
    pub after: u64,
    /// Length of each window in days (fractional).
    pub window_days: f64,
    /// Start of the "before" window.
    pub before_from: DateTime<Utc>,
    /// When the response started (end of "before", start of "after").
    pub response_started_at: DateTime<Utc>,
    /// End of the "after" window.
    pub after_until: DateTime<Utc>,
    /// Radius around the centroid, in metres.
    pub radius_meters: f64,
    /// Centroid latitude of the linked problems.
    pub center_lat: f64,
    /// Centroid longitude.
    pub center_lon: f64,
    /// The categories counted.
    pub category_ids: Vec<Uuid>,
}

/// Assessment: was the plan carried out, were objectives met, and what next.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    /// Whether the plan was carried out.
    pub plan_carried_out: bool,
    /// How many objectives were met.
    pub objectives_met: u32,
    /// Notes.
    pub notes: Option<String>,
    /// The counts at the time of the assessment.
    pub counts: Option<AssessmentCounts>,
}

/// A SARA record with its typed stage contents.
#[derive(Debug, Clone)]
pub struct SaraView {
    /// The row.
    pub record: sara_record::Model,
    /// Scanning.
    pub scanning: Scanning,
    /// Analysis, once recorded.
    pub analysis: Option<Analysis>,
    /// Response, once recorded.
    pub response: Option<Response>,
    /// Assessment, once recorded.
    pub assessment: Option<Assessment>,
}

impl SaraView {
    /// Decodes the stage contents of a row.
    pub fn of(record: sara_record::Model) -> Self {
        fn decode<T: for<'de> Deserialize<'de>>(v: &serde_json::Value) -> Option<T> {
            if v.is_null() || v.as_object().is_some_and(serde_json::Map::is_empty) {
                None
            } else {
                serde_json::from_value(v.clone()).ok()
            }
        }
        Self {
            scanning: decode(&record.scanning).unwrap_or_default(),
            analysis: decode(&record.analysis),
            response: decode(&record.response),
            assessment: decode(&record.assessment),
            record,
        }
    }
}

fn required(value: &str, what: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::bad_input(format!(
            "give the {what}: it cannot be empty"
        )));
    }
    if v.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "the {what} is too long: keep it under {max} characters"
        )));
    }
    Ok(v.to_owned())
}

/// Adopting a problem (or cluster) as a partnership priority.
#[derive(Debug, Clone, Serialize)]
pub struct Adopt {
    /// The meeting where it was adopted.
    pub meeting_id: Option<Uuid>,
    /// The linked problems (one or a cluster), all of one beat.
    pub problem_ids: Vec<Uuid>,
    /// Title of the priority.
    pub title: String,
    /// The harm it does to the community.
    pub harm: String,
    /// Idempotency key (not part of the request's fingerprint).
    #[serde(skip)]
    pub idempotency_key: String,
}

/// Starts a SARA record in SCANNING (staff who manage the beat).
pub async fn adopt(db: &impl Begin, viewer: &Viewer, input: Adopt) -> AppResult<SaraView> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let request = IdempotentRequest::new(p.id, "adoptProblem", key, &input)?;
    let ids: BTreeSet<Uuid> = input.problem_ids.iter().copied().collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(AppError::bad_input(
            "give 1 to 100 `problemIds`: the problem, or the cluster of related problems, to adopt",
        ));
    }
    let title = required(&input.title, "title", 300)?;
    let harm = required(&input.harm, "harm to the community", 4000)?;
    let problems = problem::Entity::find()
        .filter(problem::Column::Id.is_in(ids.iter().copied()))
        .filter(policy::public_problems())
        .all(db)
        .await?;
    if let Some(missing) = ids.iter().find(|id| !problems.iter().any(|p| p.id == **id)) {
        return Err(AppError::not_found("problem", missing));
    }
    let beats: BTreeSet<Uuid> = problems.iter().map(|p| p.beat_id).collect();
    let [beat_id] = beats.into_iter().collect::<Vec<_>>()[..] else {
        return Err(AppError::bad_input(
            "the problems are in different beats: a SARA record belongs to one beat; adopt \
             each beat's problems separately",
        ));
    };
    let b = beat::Entity::find_by_id(beat_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("beat", beat_id))?;
    policy::require_manage_beat(viewer, b.id, b.precinct_id)?;
    if let Some(mid) = input.meeting_id {
        let m = meetings::get(db, mid).await?;
        if m.beat_id != beat_id {
            return Err(AppError::bad_input(
                "the meeting is of another beat: adopt the problem at a meeting of its own beat",
            ));
        }
        if m.status == MeetingStatus::Cancelled {
            return Err(AppError::bad_input(
                "the meeting was cancelled: adopt the problem at a meeting that takes place",
            ));
        }
    }
    let txn = match idempotency::claim::<Created>(db, &request).await? {
        Claim::Replay(done) => return get(db, done.id).await,
        Claim::Fresh(txn) => txn,
    };
    // A problem is worked in one open record at a time.
    let busy: Vec<(Uuid, String)> = sara_problem::Entity::find()
        .select_only()
        .column(sara_problem::Column::ProblemId)
        .column(sara_record::Column::Title)
        .inner_join(sara_record::Entity)
        .filter(sara_problem::Column::ProblemId.is_in(ids.iter().copied()))
        .filter(sara_record::Column::Stage.ne(SaraStage::Closed))
        .into_tuple()
        .all(&txn)
        .await?;
    if let Some((pid, title)) = busy.first() {
        let reference = problems
            .iter()
            .find(|p| p.id == *pid)
            .map_or("a problem", |p| p.reference.as_str());
        return Err(AppError::conflict(format!(
            "{reference} is already part of the open SARA record {title:?}: work it there, or \
             close that record first"
        )));
    }
    let at = now();
    let scanning = Scanning {
        harm,
        report_count: problems.len(),
        first_reported_at: problems.iter().map(|p| p.created_at).min(),
        last_reported_at: problems.iter().map(|p| p.created_at).max(),
    };
    let record = sara_record::Model {
        id: Uuid::now_v7(),
        beat_id,
        meeting_id: input.meeting_id,
        title,
        stage: SaraStage::Scanning,
        scanning: serde_json::to_value(&scanning).unwrap_or_default(),
        analysis: serde_json::json!({}),
        response: serde_json::json!({}),
        assessment: serde_json::json!({}),
        outcome: None,
        version: 1,
        created_by: Some(p.id),
        created_at: at,
        updated_at: at,
    };
    record.clone().into_active_model().insert(&txn).await?;
    sara_problem::Entity::insert_many(ids.iter().map(|pid| {
        sara_problem::Model {
            sara_record_id: record.id,
            problem_id: *pid,
        }
        .into_active_model()
    }))
    .exec_without_returning(&txn)
    .await?;
    sara_stage_change::Model {
        id: Uuid::now_v7(),
        sara_record_id: record.id,
        from_stage: None,
        to_stage: SaraStage::Scanning,
        actor_id: Some(p.id),
        note: Some("Adopted as a partnership priority".into()),
        created_at: at,
    }
    .into_active_model()
    .insert(&txn)
    .await?;
    idempotency::complete(txn, &request, &Created { id: record.id }).await?;
    Ok(SaraView::of(record))
}

/// One SARA record (anyone may read the beat plan; it never holds sensitive problems).
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<SaraView> {
    let r = sara_record::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("SARA record", id))?;
    Ok(SaraView::of(r))
}

/// The latest SARA record a problem belongs to, if any.
pub async fn of_problem(
    db: &impl ConnectionTrait,
    problem_id: Uuid,
) -> AppResult<Option<SaraView>> {
    let r = sara_record::Entity::find()
        .inner_join(sara_problem::Entity)
        .filter(sara_problem::Column::ProblemId.eq(problem_id))
        .order_by_desc(sara_record::Column::CreatedAt)
        .one(db)
        .await?;
    Ok(r.map(SaraView::of))
}

/// The problems linked to a record, that the viewer may see.
pub async fn linked_problems(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Vec<problem::Model>> {
    Ok(problem::Entity::find()
        .inner_join(sara_problem::Entity)
        .filter(sara_problem::Column::SaraRecordId.eq(id))
        .filter(policy::visible_problems(viewer))
        .order_by_asc(problem::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The stage changes of a record, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> AppResult<Vec<sara_stage_change::Model>> {
    Ok(sara_stage_change::Entity::find()
        .filter(sara_stage_change::Column::SaraRecordId.eq(id))
        .order_by_asc(sara_stage_change::Column::CreatedAt)
        .order_by_asc(sara_stage_change::Column::Id)
        .all(db)
        .await?)
}

/// The SARA records of a beat, newest first.
pub async fn of_beat(db: &impl ConnectionTrait, beat_id: Uuid) -> AppResult<Vec<SaraView>> {
    Ok(sara_record::Entity::find()
        .filter(sara_record::Column::BeatId.eq(beat_id))
        .order_by_desc(sara_record::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(SaraView::of)
        .collect())
}

/// The response as entered when leaving RESPONSE.
#[derive(Debug, Clone, Default)]
pub struct ResponseInput {
    /// Interventions considered.
    pub interventions_considered: Vec<String>,
    /// The one chosen.
    pub chosen: String,
    /// Responsible parties.
    pub responsible_parties: Vec<String>,
    /// Partner organisations involved.
    pub partner_ids: Vec<Uuid>,
    /// Objectives with dates.
    pub objectives: Vec<Objective>,
    /// When the response started; now when omitted. Not in the future.
    pub started_at: Option<DateTime<Utc>>,
}

/// The assessment as entered when concluding.
#[derive(Debug, Clone)]
pub struct AssessmentInput {
    /// Whether the plan was carried out.
    pub plan_carried_out: bool,
    /// How many objectives were met.
    pub objectives_met: u32,
    /// Notes.
    pub notes: Option<String>,
    /// What next.
    pub outcome: SaraOutcome,
}

/// A request to move a record to its next stage.
#[derive(Debug, Clone)]
pub struct Advance {
    /// The record.
    pub id: Uuid,
    /// The version the client saw.
    pub expected_version: i32,
    /// The stage to move to.
    pub to: SaraStage,
    /// A note for the history.
    pub note: Option<String>,
    /// Amended harm (leaving SCANNING).
    pub harm: Option<String>,
    /// The analysis (leaving ANALYSIS).
    pub analysis: Option<Analysis>,
    /// The response (leaving RESPONSE).
    pub response: Option<ResponseInput>,
    /// The assessment (leaving ASSESSMENT).
    pub assessment: Option<AssessmentInput>,
}

fn stage_name(s: SaraStage) -> &'static str {
    match s {
        SaraStage::Scanning => "SCANNING",
        SaraStage::Analysis => "ANALYSIS",
        SaraStage::Response => "RESPONSE",
        SaraStage::Assessment => "ASSESSMENT",
        SaraStage::Closed => "CLOSED",
    }
}

/// Moves a record to its next stage (staff who manage the beat).
pub async fn advance(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    input: Advance,
) -> AppResult<SaraView> {
    let p = viewer.principal()?;
    let current = get(db, input.id).await?;
    let r = &current.record;
    let b = beat::Entity::find_by_id(r.beat_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("beat", r.beat_id))?;
    policy::require_manage_beat(viewer, b.id, b.precinct_id)?;
    if r.version != input.expected_version {
        return Err(AppError::Conflict {
            message: format!(
                "this SARA record changed since you loaded it (version {} now, you sent {}): \
                 reload it and try again",
                r.version, input.expected_version
            ),
            current_version: Some(r.version),
        });
    }
    let note = match input.note {
        Some(n) if !n.trim().is_empty() => Some(required(&n, "note", 4000)?),
        _ => None,
    };
    let at = now();
    let mut next = current.clone();
    let from = r.stage;
    let in_order = |expected: SaraStage| -> AppResult<()> {
        if input.to == expected {
            Ok(())
        } else {
            Err(AppError::bad_input(format!(
                "SARA stages advance in order: this record is in {}, so move it to {} next \
                 (not {})",
                stage_name(from),
                stage_name(expected),
                stage_name(input.to)
            )))
        }
    };
    match from {
        SaraStage::Scanning => {
            in_order(SaraStage::Analysis)?;
            if let Some(h) = &input.harm {
                next.scanning.harm = required(h, "harm to the community", 4000)?;
            }
        }
        SaraStage::Analysis => {
            in_order(SaraStage::Response)?;
            let Some(a) = input.analysis else {
                return Err(AppError::bad_input(
                    "give `analysis` (victim, offender, place, hypothesis) to move from \
                     ANALYSIS to RESPONSE",
                ));
            };
            next.analysis = Some(Analysis {
                victim: required(&a.victim, "victim", 2000)?,
                offender: required(&a.offender, "offender", 2000)?,
                place: required(&a.place, "place", 2000)?,
                hypothesis: required(&a.hypothesis, "hypothesis", 4000)?,
            });
        }
        SaraStage::Response => {
            in_order(SaraStage::Assessment)?;
            let Some(resp) = input.response else {
                return Err(AppError::bad_input(
                    "give `response` (the chosen intervention, responsible parties and \
                     objectives with dates) to move from RESPONSE to ASSESSMENT",
                ));
            };
            if resp.objectives.is_empty() {
                return Err(AppError::bad_input(
                    "give at least one objective with a date in `response.objectives`",
                ));
            }
            if resp.responsible_parties.is_empty() {
                return Err(AppError::bad_input(
                    "name at least one responsible party in `response.responsibleParties`",
                ));
            }
            let started_at = resp.started_at.unwrap_or(at);
            if started_at > at {
                return Err(AppError::bad_input(
                    "`response.startedAt` is in the future: give when the response actually began",
                ));
            }
            if started_at < r.created_at - TimeDelta::days(366) {
                return Err(AppError::bad_input(
                    "`response.startedAt` is more than a year before the record was adopted: \
                     give when this response began",
                ));
            }
            for pid in &resp.partner_ids {
                entity::partner_organization::Entity::find_by_id(*pid)
                    .one(db)
                    .await?
                    .ok_or_else(|| AppError::not_found("partner organisation", pid))?;
            }
            next.response = Some(Response {
                interventions_considered: resp
                    .interventions_considered
                    .iter()
                    .map(|s| required(s, "intervention", 1000))
                    .collect::<AppResult<_>>()?,
                chosen: required(&resp.chosen, "chosen intervention", 2000)?,
                responsible_parties: resp
                    .responsible_parties
                    .iter()
                    .map(|s| required(s, "responsible party", 300))
                    .collect::<AppResult<_>>()?,
                partner_ids: resp.partner_ids,
                objectives: resp
                    .objectives
                    .iter()
                    .map(|o| {
                        Ok(Objective {
                            text: required(&o.text, "objective", 1000)?,
                            due_on: o.due_on,
                        })
                    })
                    .collect::<AppResult<_>>()?,
                started_at,
            });
        }
        SaraStage::Assessment => {
            let Some(a) = input.assessment else {
                return Err(AppError::bad_input(
                    "give `assessment` (plan carried out, objectives met, outcome) to conclude \
                     the ASSESSMENT stage",
                ));
            };
            let expected = match a.outcome {
                SaraOutcome::Close => SaraStage::Closed,
                SaraOutcome::Adjust => SaraStage::Response,
                SaraOutcome::BackToAnalysis => SaraStage::Analysis,
            };
            if input.to != expected {
                return Err(AppError::bad_input(
                    format!(
                        "the outcome {:?} moves the record to {}, not {}: CLOSE goes to CLOSED, \
                     ADJUST to RESPONSE, BACK_TO_ANALYSIS to ANALYSIS",
                        a.outcome,
                        stage_name(expected),
                        stage_name(input.to)
                    )
                    .replace("Close", "CLOSE")
                    .replace("Adjust", "ADJUST")
                    .replace("BackToAnalysis", "BACK_TO_ANALYSIS"),
                ));
            }
            let objectives = current.response.as_ref().map_or(0, |r| r.objectives.len());
            if a.objectives_met as usize > objectives {
                return Err(AppError::bad_input(format!(
                    "`objectivesMet` is {} but the response has {objectives} objective(s)",
                    a.objectives_met
                )));
            }
            let counts = assessment_counts(db, &current).await?;
            next.assessment = Some(Assessment {
                plan_carried_out: a.plan_carried_out,
                objectives_met: a.objectives_met,
                notes: match a.notes {
                    Some(n) if !n.trim().is_empty() => Some(required(&n, "notes", 4000)?),
                    _ => None,
                },
                counts,
            });
            next.record.outcome = Some(a.outcome);
        }
        SaraStage::Closed => {
            return Err(AppError::conflict(
                "this SARA record is closed: adopt the problem again to start a new record",
            ));
        }
    }
    fn value<T: Serialize>(v: &Option<T>) -> serde_json::Value {
        v.as_ref()
            .and_then(|x| serde_json::to_value(x).ok())
            .unwrap_or_else(|| serde_json::json!({}))
    }
    let txn = crate::domain::begin_write(db).await?;
    let changed = sara_record::Entity::update_many()
        .col_expr(sara_record::Column::Stage, Expr::value(input.to))
        .col_expr(
            sara_record::Column::Scanning,
            Expr::value(serde_json::to_value(&next.scanning).unwrap_or_default()),
        )
        .col_expr(
            sara_record::Column::Analysis,
            Expr::value(value(&next.analysis)),
        )
        .col_expr(
            sara_record::Column::Response,
            Expr::value(value(&next.response)),
        )
        .col_expr(
            sara_record::Column::Assessment,
            Expr::value(value(&next.assessment)),
        )
        .col_expr(
            sara_record::Column::Outcome,
            Expr::value(next.record.outcome),
        )
        .col_expr(sara_record::Column::Version, Expr::value(r.version + 1))
        .col_expr(sara_record::Column::UpdatedAt, Expr::value(at))
        .filter(sara_record::Column::Id.eq(r.id))
        .filter(sara_record::Column::Version.eq(r.version))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(AppError::Conflict {
            message: "this SARA record changed while you were editing it: reload it and try again"
                .into(),
            current_version: None,
        });
    }
    sara_stage_change::Model {
        id: Uuid::now_v7(),
        sara_record_id: r.id,
        from_stage: Some(from),
        to_stage: input.to,
        actor_id: Some(p.id),
        note,
        created_at: at,
    }
    .into_active_model()
    .insert(&txn)
    .await?;
    txn.commit().await?;
    get(db, r.id).await
}

/// The before/after counts of a record whose response has started; `None` before.
pub async fn assessment_counts(
    db: &impl ConnectionTrait,
    view: &SaraView,
) -> AppResult<Option<AssessmentCounts>> {
    let Some(response) = &view.response else {
        return Ok(None);
    };
    let linked: Vec<problem::Model> = problem::Entity::find()
        .inner_join(sara_problem::Entity)
        .filter(sara_problem::Column::SaraRecordId.eq(view.record.id))
        .all(db)
        .await?;
    if linked.is_empty() {
        return Ok(None);
    }
    let n = linked.len() as f64;
    let center_lat = linked.iter().map(|p| p.lat).sum::<f64>() / n;
    let center_lon = linked.iter().map(|p| p.lon).sum::<f64>() / n;
    let category_ids: BTreeSet<Uuid> = linked.iter().map(|p| p.category_id).collect();
    let radii: HashMap<Uuid, i32> = category::Entity::find()
        .filter(category::Column::Id.is_in(category_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.duplicate_radius_m))
        .collect();
    let base = f64::from(radii.values().copied().max().unwrap_or(150));
    let spread = linked
        .iter()
        .map(|p| distance_m(center_lat, center_lon, p.lat, p.lon))
        .fold(0.0_f64, f64::max);
    let radius = base + spread;
    let started = response.started_at;
    let until = now();
    let window = until - started;
    let before_from = started - window;
    let dlat = radius / 111_320.0;
    let dlon = radius / (111_320.0 * center_lat.to_radians().cos().max(0.01));
    let rows: Vec<(f64, f64, DateTime<Utc>)> = problem::Entity::find()
        .select_only()
        .column(problem::Column::Lat)
        .column(problem::Column::Lon)
        .column(problem::Column::CreatedAt)
        .filter(problem::Column::CategoryId.is_in(category_ids.iter().copied()))
        .filter(problem::Column::Lat.between(center_lat - dlat, center_lat + dlat))
        .filter(problem::Column::Lon.between(center_lon - dlon, center_lon + dlon))
        .filter(problem::Column::CreatedAt.gte(before_from))
        .filter(problem::Column::CreatedAt.lt(until))
        .into_tuple()
        .all(db)
        .await?;
    let (mut before, mut after) = (0, 0);
    for (lat, lon, created) in rows {
        if distance_m(center_lat, center_lon, lat, lon) > radius {
            continue;
        }
        if created < started {
            before += 1;
        } else {
            after += 1;
        }
    }
    Ok(Some(AssessmentCounts {
        before,
        after,
        window_days: window.num_seconds() as f64 / 86_400.0,
        before_from,
        response_started_at: started,
        after_until: until,
        radius_meters: radius,
        center_lat,
        center_lon,
        category_ids: category_ids.into_iter().collect(),
    }))
}

/// Meeting rows by id, for SARA records that name one.
pub async fn meeting_of(
    db: &impl ConnectionTrait,
    id: Option<Uuid>,
) -> AppResult<Option<meeting::Model>> {
    match id {
        Some(id) => Ok(meeting::Entity::find_by_id(id).one(db).await?),
        None => Ok(None),
    }
}
