//! The beat plan in the API: SARA records (`adoptProblem`, `advanceSara`,
//! `Problem.sara`, `saraRecord`, `saraRecords`).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::sara_stage_change;

use crate::api::agenda::ActionItem;
use crate::api::types::Problem;
use crate::api::{parse_id, to_id};
use crate::context::{api, viewer};
use crate::domain::sara::{self, SaraView};

/// A stage of SARA problem solving, in order.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SaraStage")]
pub enum SaraStage {
    /// Scanning: which reports make up the problem and the harm it does.
    Scanning,
    /// Analysis: victim, offender, place; a working hypothesis.
    Analysis,
    /// Response: interventions, responsible parties, objectives with dates.
    Response,
    /// Assessment: before/after counts, objectives met, outcome.
    Assessment,
    /// Done.
    Closed,
}

/// What the assessment concluded.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SaraOutcome")]
pub enum SaraOutcome {
    /// The problem is solved: close the record.
    Close,
    /// Adjust the response (back to RESPONSE).
    Adjust,
    /// The analysis was wrong (back to ANALYSIS).
    BackToAnalysis,
}

/// Scanning: what the problem is and the harm it does.
#[derive(SimpleObject)]
pub struct SaraScanning {
    /// The harm to the community.
    pub harm: String,
    /// How many reports made up the problem at adoption.
    pub report_count: i32,
    /// The earliest of them.
    pub first_reported_at: Option<DateTime<Utc>>,
    /// The latest of them.
    pub last_reported_at: Option<DateTime<Utc>>,
}

/// Analysis: the problem triangle and a working hypothesis.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "SaraAnalysisInput")]
pub struct SaraAnalysis {
    /// Who is harmed.
    pub victim: String,
    /// Who causes the harm (behaviour, never appearance).
    pub offender: String,
    /// What about the place lets it happen.
    pub place: String,
    /// The working hypothesis.
    pub hypothesis: String,
}

/// An objective with a date.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "SaraObjectiveInput")]
pub struct SaraObjective {
    /// What should be achieved.
    pub text: String,
    /// By when.
    pub due_on: NaiveDate,
}

/// Response: interventions, responsible parties, objectives.
#[derive(SimpleObject)]
pub struct SaraResponse {
    /// Interventions considered.
    pub interventions_considered: Vec<String>,
    /// The one chosen.
    pub chosen: String,
    /// Responsible parties (police, partners, residents).
    pub responsible_parties: Vec<String>,
    /// Partner organisations involved (ids).
    pub partner_ids: Vec<ID>,
    /// Objectives with dates.
    pub objectives: Vec<SaraObjective>,
    /// When the response started.
    pub started_at: DateTime<Utc>,
}

/// Related reports before and after the response, computed by Beatline: reports of
/// the linked problems' categories within `radiusMeters` of their centroid, in two
/// equal windows that meet when the response started.
#[derive(SimpleObject)]
pub struct SaraCounts {
    /// Reports in the window before the response.
    pub before: i64,
    /// Reports since the response started.
    pub after: i64,
    /// Length of each window, in days.
    pub window_days: f64,
    /// Start of the "before" window.
    pub before_from: DateTime<Utc>,
    /// When the response started.
    pub response_started_at: DateTime<Utc>,
    /// End of the "after" window.
    pub after_until: DateTime<Utc>,
    /// Radius around the centroid, in metres.
    pub radius_meters: f64,
    /// Latitude of the centroid.
    pub center_lat: f64,
    /// Longitude of the centroid.
    pub center_lon: f64,
}

impl From<sara::AssessmentCounts> for SaraCounts {
    fn from(c: sara::AssessmentCounts) -> Self {
        Self {
            before: i64::try_from(c.before).unwrap_or(i64::MAX),
            after: i64::try_from(c.after).unwrap_or(i64::MAX),
            window_days: c.window_days,
            before_from: c.before_from,
            response_started_at: c.response_started_at,
            after_until: c.after_until,
            radius_meters: c.radius_meters,
            center_lat: c.center_lat,
            center_lon: c.center_lon,
        }
    }
}

/// Assessment: was the plan carried out, were objectives met, and the counts.
#[derive(SimpleObject)]
pub struct SaraAssessment {
    /// Whether the plan was carried out.
    pub plan_carried_out: bool,
    /// How many objectives were met.
    pub objectives_met: i32,
    /// Notes.
    pub notes: Option<String>,
    /// The before/after counts at the time of the assessment.
    pub counts: Option<SaraCounts>,
}

/// One move of a record between stages.
pub struct SaraStageChange(pub sara_stage_change::Model);

/// One move of a record between stages.
#[Object]
impl SaraStageChange {
    /// Stage before (null at adoption).
    async fn from_stage(&self) -> Option<SaraStage> {
        self.0.from_stage.map(Into::into)
    }
    /// Stage after.
    async fn to_stage(&self) -> SaraStage {
        self.0.to_stage.into()
    }
    /// Id of the staff member who made the change.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(to_id)
    }
    /// Their note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A partnership priority of a beat, worked through SARA.
pub struct SaraRecord(pub SaraView);

/// A partnership priority of a beat, worked through SARA.
#[Object]
impl SaraRecord {
    /// Stable id of the record.
    async fn id(&self) -> ID {
        to_id(self.0.record.id)
    }
    /// Title of the priority.
    async fn title(&self) -> &str {
        &self.0.record.title
    }
    /// Current stage.
    async fn stage(&self) -> SaraStage {
        self.0.record.stage.into()
    }
    /// Outcome of the last assessment.
    async fn outcome(&self) -> Option<SaraOutcome> {
        self.0.record.outcome.map(Into::into)
    }
    /// Version for optimistic concurrency: send it as `expectedVersion` to `advanceSara`.
    async fn version(&self) -> i32 {
        self.0.record.version
    }
    /// Id of the beat.
    async fn beat_id(&self) -> ID {
        to_id(self.0.record.beat_id)
    }
    /// Id of the meeting where it was adopted.
    async fn meeting_id(&self) -> Option<ID> {
        self.0.record.meeting_id.map(to_id)
    }
    /// The linked problems the viewer may see.
    async fn problems(&self, ctx: &Context<'_>) -> Result<Vec<Problem>> {
        let viewer = viewer(ctx).await?;
        let rows = sara::linked_problems(&api(ctx)?.db, viewer, self.0.record.id).await?;
        Ok(rows.into_iter().map(Problem).collect())
    }
    /// Scanning.
    async fn scanning(&self) -> SaraScanning {
        let s = &self.0.scanning;
        SaraScanning {
            harm: s.harm.clone(),
            report_count: i32::try_from(s.report_count).unwrap_or(i32::MAX),
            first_reported_at: s.first_reported_at,
            last_reported_at: s.last_reported_at,
        }
    }
    /// Analysis, once recorded.
    async fn analysis(&self) -> Option<SaraAnalysis> {
        self.0.analysis.as_ref().map(|a| SaraAnalysis {
            victim: a.victim.clone(),
            offender: a.offender.clone(),
            place: a.place.clone(),
            hypothesis: a.hypothesis.clone(),
        })
    }
    /// Response, once recorded.
    async fn response(&self) -> Option<SaraResponse> {
        self.0.response.as_ref().map(|r| SaraResponse {
            interventions_considered: r.interventions_considered.clone(),
            chosen: r.chosen.clone(),
            responsible_parties: r.responsible_parties.clone(),
            partner_ids: r.partner_ids.iter().copied().map(to_id).collect(),
            objectives: r
                .objectives
                .iter()
                .map(|o| SaraObjective {
                    text: o.text.clone(),
                    due_on: o.due_on,
                })
                .collect(),
            started_at: r.started_at,
        })
    }
    /// Assessment, once recorded.
    async fn assessment(&self) -> Option<SaraAssessment> {
        self.0.assessment.as_ref().map(|a| SaraAssessment {
            plan_carried_out: a.plan_carried_out,
            objectives_met: i32::try_from(a.objectives_met).unwrap_or(i32::MAX),
            notes: a.notes.clone(),
            counts: a.counts.clone().map(Into::into),
        })
    }
    /// The before/after counts as of now (once the response has started).
    async fn current_counts(&self, ctx: &Context<'_>) -> Result<Option<SaraCounts>> {
        let counts = sara::assessment_counts(&api(ctx)?.db, &self.0).await?;
        Ok(counts.map(Into::into))
    }
    /// Every stage change, oldest first: who and when.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<SaraStageChange>> {
        let rows = sara::history(&api(ctx)?.db, self.0.record.id).await?;
        Ok(rows.into_iter().map(SaraStageChange).collect())
    }
    /// Actions serving this record.
    async fn action_items(&self, ctx: &Context<'_>) -> Result<Vec<ActionItem>> {
        use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};
        let rows = entity::action_item::Entity::find()
            .filter(entity::action_item::Column::SaraRecordId.eq(self.0.record.id))
            .order_by_asc(entity::action_item::Column::CreatedAt)
            .all(&api(ctx)?.db)
            .await
            .map_err(crate::error::AppError::from)?;
        Ok(rows.into_iter().map(ActionItem).collect())
    }
    /// When it was adopted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.record.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.record.updated_at
    }
}

/// The SARA record a problem belongs to (used by `Problem.sara`).
pub async fn problem_sara(ctx: &Context<'_>, problem_id: uuid::Uuid) -> Result<Option<SaraRecord>> {
    Ok(sara::of_problem(&api(ctx)?.db, problem_id)
        .await?
        .map(SaraRecord))
}

/// Adopting a problem, or a cluster of related problems, as a partnership priority.
#[derive(InputObject)]
pub struct AdoptProblemInput {
    /// The linked problems (one, or a cluster), all of one beat.
    pub problem_ids: Vec<ID>,
    /// The meeting where it was adopted.
    pub meeting_id: Option<ID>,
    /// Title of the priority, e.g. "Drug dealing under the broken lights on Harbor St".
    pub title: String,
    /// The harm it does to the community (scanning).
    pub harm: String,
    /// A fresh key (e.g. a UUID) per adoption; resend it unchanged when retrying.
    pub idempotency_key: String,
}

/// The response, entered when moving from RESPONSE to ASSESSMENT.
#[derive(InputObject)]
pub struct SaraResponseInput {
    /// Interventions considered.
    pub interventions_considered: Vec<String>,
    /// The one chosen.
    pub chosen: String,
    /// Responsible parties (police, partners, residents).
    pub responsible_parties: Vec<String>,
    /// Partner organisations involved.
    pub partner_ids: Option<Vec<ID>>,
    /// Objectives with dates (at least one).
    pub objectives: Vec<SaraObjective>,
    /// When the response began (not in the future); now when omitted.
    pub started_at: Option<DateTime<Utc>>,
}

/// The assessment, entered when concluding ASSESSMENT.
#[derive(InputObject)]
pub struct SaraAssessmentInput {
    /// Whether the plan was carried out.
    pub plan_carried_out: bool,
    /// How many objectives were met.
    pub objectives_met: i32,
    /// Notes.
    pub notes: Option<String>,
    /// What next: CLOSE (to CLOSED), ADJUST (to RESPONSE), BACK_TO_ANALYSIS (to ANALYSIS).
    pub outcome: SaraOutcome,
}

/// Moving a SARA record to its next stage, with the content of the stage it leaves.
#[derive(InputObject)]
pub struct AdvanceSaraInput {
    /// The record.
    pub id: ID,
    /// The `version` you loaded.
    pub expected_version: i32,
    /// The next stage: stages advance in order.
    pub to: SaraStage,
    /// A note for the history.
    pub note: Option<String>,
    /// Amended harm (leaving SCANNING).
    pub harm: Option<String>,
    /// The analysis (required leaving ANALYSIS).
    pub analysis: Option<SaraAnalysis>,
    /// The response (required leaving RESPONSE).
    pub response: Option<SaraResponseInput>,
    /// The assessment (required leaving ASSESSMENT).
    pub assessment: Option<SaraAssessmentInput>,
}

/// The beat plan.
#[derive(Default)]
pub struct SaraQuery;

/// The beat plan.
#[Object]
impl SaraQuery {
    /// One SARA record.
    async fn sara_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the record.")] id: ID,
    ) -> Result<SaraRecord> {
        let id = parse_id(&id, "SARA record")?;
        Ok(SaraRecord(sara::get(&api(ctx)?.db, id).await?))
    }

    /// A beat's plan: its SARA records, newest first.
    async fn sara_records(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the beat.")] beat_id: ID,
    ) -> Result<Vec<SaraRecord>> {
        let id = parse_id(&beat_id, "beat")?;
        let rows = sara::of_beat(&api(ctx)?.db, id).await?;
        Ok(rows.into_iter().map(SaraRecord).collect())
    }
}

/// Working the beat plan.
#[derive(Default)]
pub struct SaraMutation;

/// Working the beat plan.
#[Object]
impl SaraMutation {
    /// Adopts a problem, or a cluster of related problems, as a partnership priority:
    /// starts a SARA record in SCANNING (staff who manage the beat).
    async fn adopt_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to adopt.")] input: AdoptProblemInput,
    ) -> Result<SaraRecord> {
        let viewer = viewer(ctx).await?;
        let adopt = sara::Adopt {
            meeting_id: input
                .meeting_id
                .map(|m| parse_id(&m, "meeting"))
                .transpose()?,
            problem_ids: input
                .problem_ids
                .iter()
                .map(|p| parse_id(p, "problem"))
                .collect::<Result<_, _>>()?,
            title: input.title,
            harm: input.harm,
            idempotency_key: input.idempotency_key,
        };
        Ok(SaraRecord(sara::adopt(&api(ctx)?.db, viewer, adopt).await?))
    }

    /// Moves a SARA record to its next stage (staff who manage the beat). Stages
    /// advance in order; the content of the stage being left is required.
    async fn advance_sara(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The move.")] input: AdvanceSaraInput,
    ) -> Result<SaraRecord> {
        let viewer = viewer(ctx).await?;
        let response = match input.response {
            Some(r) => Some(sara::ResponseInput {
                interventions_considered: r.interventions_considered,
                chosen: r.chosen,
                responsible_parties: r.responsible_parties,
                partner_ids: r
                    .partner_ids
                    .unwrap_or_default()
                    .iter()
                    .map(|p| parse_id(p, "partner organisation"))
                    .collect::<Result<_, _>>()?,
                objectives: r
                    .objectives
                    .into_iter()
                    .map(|o| sara::Objective {
                        text: o.text,
                        due_on: o.due_on,
                    })
                    .collect(),
                started_at: r.started_at,
            }),
            None => None,
        };
        let assessment = match input.assessment {
            Some(a) => Some(sara::AssessmentInput {
                plan_carried_out: a.plan_carried_out,
                objectives_met: u32::try_from(a.objectives_met).map_err(|_| {
                    crate::error::AppError::bad_input("`objectivesMet` cannot be negative")
                })?,
                notes: a.notes,
                outcome: a.outcome.into(),
            }),
            None => None,
        };
        let advance = sara::Advance {
            id: parse_id(&input.id, "SARA record")?,
            expected_version: input.expected_version,
            to: input.to.into(),
            note: input.note,
            harm: input.harm,
            analysis: input.analysis.map(|a| sara::Analysis {
                victim: a.victim,
                offender: a.offender,
                place: a.place,
                hypothesis: a.hypothesis,
            }),
            response,
            assessment,
        };
        Ok(SaraRecord(
            sara::advance(&api(ctx)?.db, viewer, advance).await?,
        ))
    }
}
