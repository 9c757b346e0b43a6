//! The problem workflow in the API: reporting (with photos), status changes, comments,
//! assignment, following, support, duplicates and resolution feedback. Resolvers parse
//! their arguments and call `domain::problem_work`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Upload};
use std::io::Read as _;

use crate::api::parse_id;
use crate::api::problem_types::ProblemEvent;
use crate::api::types::{Problem, ProblemStatus};
use crate::context::{api, viewer};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::inputs::LatLon;
use crate::domain::photos::{self, MAX_PHOTOS, PreparedPhoto};
use crate::domain::problem_work::{
    self, Assignee, NewComment, NewRating, NewReport, ReportDeps, StatusChange,
};
use crate::error::AppError;

/// A new problem report.
#[derive(InputObject)]
pub struct ReportProblemInput {
    /// A key the app generates once per report (a UUID) and sends again on every retry:
    /// a retry returns the problem created the first time.
    pub idempotency_key: String,
    /// The category's `serviceCode`, e.g. `STREETLIGHT_OUT`.
    pub category_code: String,
    /// A short title; the category's name when omitted.
    pub title: Option<String>,
    /// What is wrong. For "suspicious activity", describe behaviour, never appearance.
    pub description: String,
    /// Latitude of the problem, in degrees.
    pub lat: f64,
    /// Longitude of the problem, in degrees.
    pub lon: f64,
    /// Street address, if known.
    pub address: Option<String>,
    /// Hide who reported it from everyone, staff included. False when omitted.
    pub anonymous: Option<bool>,
    /// Up to 4 photos (JPEG, PNG or WebP, 10 MB each), sent as a GraphQL multipart
    /// request. Metadata such as GPS position is removed before storage.
    pub photos: Option<Vec<Upload>>,
}

/// A status change.
#[derive(InputObject)]
pub struct UpdateProblemStatusInput {
    /// The problem.
    pub problem_id: ID,
    /// The new status.
    pub status: ProblemStatus,
    /// The `version` you last saw; if the problem changed since, the answer is CONFLICT
    /// with `extensions.currentVersion`, and nothing changes.
    pub expected_version: i32,
    /// A note for the timeline.
    pub note: Option<String>,
    /// Make the note visible to staff only (staff only). False when omitted.
    pub internal: Option<bool>,
}

/// A comment.
#[derive(InputObject)]
pub struct CommentOnProblemInput {
    /// A key generated once per comment and sent again on retries.
    pub idempotency_key: String,
    /// The problem.
    pub problem_id: ID,
    /// The comment, up to 2000 characters.
    pub body: String,
    /// Visible to staff working the problem only (staff only). False when omitted.
    pub internal: Option<bool>,
}

/// An assignment: exactly one of `officerId` and `partnerId`.
#[derive(InputObject)]
pub struct AssignProblemInput {
    /// The problem.
    pub problem_id: ID,
    /// An officer serving the problem's beat (captains: any beat of the precinct).
    pub officer_id: Option<ID>,
    /// A partner organisation.
    pub partner_id: Option<ID>,
    /// The `version` you last saw.
    pub expected_version: i32,
}

/// Marking a duplicate.
#[derive(InputObject)]
pub struct MarkDuplicateInput {
    /// The later report, which becomes DUPLICATE.
    pub problem_id: ID,
    /// The original it duplicates.
    pub duplicate_of_id: ID,
    /// The `version` of the later report you last saw; not checked when omitted.
    pub expected_version: Option<i32>,
}

/// A rating of a resolution.
#[derive(InputObject)]
pub struct RateResolutionInput {
    /// A key generated once per rating and sent again on retries.
    pub idempotency_key: String,
    /// The problem you reported.
    pub problem_id: ID,
    /// 1 (poor) to 5 (excellent).
    pub rating: i32,
    /// What you think of the resolution.
    pub comment: Option<String>,
}

/// The result of `markDuplicate`.
#[derive(SimpleObject)]
pub struct MarkDuplicatePayload {
    /// The later report, now DUPLICATE.
    pub duplicate: Problem,
    /// The original, with the moved supporters counted.
    pub original: Problem,
}

/// Reads for reporting: duplicates nearby.
#[derive(Default)]
pub struct ProblemWorkQuery;

/// Reads for reporting: duplicates nearby.
#[Object]
impl ProblemWorkQuery {
    /// Open problems of a category near a point (within the category's duplicate
    /// radius, 150 m by default), nearest first: show them before a resident submits,
    /// so they can support one instead of reporting again.
    async fn similar_problems(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Latitude in degrees.")] lat: f64,
        #[graphql(desc = "Longitude in degrees.")] lon: f64,
        #[graphql(desc = "The category's `serviceCode`.")] category_code: String,
    ) -> Result<Vec<Problem>> {
        let at = LatLon::parse(lat, lon)?;
        let viewer = viewer(ctx).await?;
        let rows = problem_work::similar(&api(ctx)?.db, viewer, at, &category_code).await?;
        Ok(rows.into_iter().map(Problem).collect())
    }
}

/// Reporting and working problems.
#[derive(Default)]
pub struct ProblemMutation;

fn read_uploads(ctx: &Context<'_>, uploads: Vec<Upload>) -> Result<Vec<(String, Vec<u8>)>> {
    if uploads.len() > MAX_PHOTOS {
        return Err(AppError::bad_input(format!(
            "{} photos were sent; a report may have at most {MAX_PHOTOS}",
            uploads.len()
        ))
        .into());
    }
    let mut files = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let value = upload.value(ctx).map_err(|_| {
            AppError::bad_input(
                "a photo is missing from the multipart request: map every file in `map`",
            )
        })?;
        let name = value.filename.clone();
        let mut bytes = Vec::new();
        value
            .into_read()
            .take((photos::MAX_PHOTO_BYTES + 1) as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot read upload: {e}")))?;
        files.push((name, bytes));
    }
    Ok(files)
}

async fn prepare_photos(files: Vec<(String, Vec<u8>)>) -> Result<Vec<PreparedPhoto>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let prepared = tokio::task::spawn_blocking(move || {
        files
            .iter()
            .map(|(name, bytes)| photos::prepare(name, bytes))
            .collect::<Result<Vec<_>, AppError>>()
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("photo task failed: {e}")))??;
    Ok(prepared)
}

/// Reporting and working problems.
#[Object]
impl ProblemMutation {
    /// Reports a problem. It is routed by category (police beat, or partner
    /// organisation), gets a reference and a due date, and the reporter follows it. Send
    /// photos as a GraphQL multipart request. Safe to retry with the same
    /// `idempotencyKey`.
    async fn report_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report.")] input: ReportProblemInput,
    ) -> Result<Problem> {
        let viewer = viewer(ctx).await?;
        viewer.principal()?;
        let key = IdempotencyKey::parse(&input.idempotency_key)?;
        let files = read_uploads(ctx, input.photos.unwrap_or_default())?;
        let photos = prepare_photos(files).await?;
        let api = api(ctx)?;
        let report = NewReport {
            category_code: input.category_code,
            title: input.title,
            description: input.description,
            lat: input.lat,
            lon: input.lon,
            address: input.address,
            anonymous: input.anonymous.unwrap_or(false),
        };
        let deps = ReportDeps {
            db: &api.db,
            geo: &api.geo,
            events: api.events.as_ref(),
            photos: api.photos.as_ref(),
            references: &api.references,
        };
        let row = problem_work::report(deps, viewer, key, report, photos).await?;
        Ok(Problem(row))
    }

    /// Changes a problem's status. Staff working it follow the transition table (an
    /// illegal change is BAD_USER_INPUT naming the allowed ones); the reporter may
    /// reopen a RESOLVED problem (to IN_PROGRESS) within 14 days. A stale
    /// `expectedVersion` is CONFLICT and changes nothing.
    async fn update_problem_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UpdateProblemStatusInput,
    ) -> Result<Problem> {
        let change = StatusChange {
            problem_id: parse_id(&input.problem_id, "problem")?,
            to: input.status.into(),
            expected_version: input.expected_version,
            note: input.note,
            internal: input.internal.unwrap_or(false),
        };
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let row = problem_work::update_status(&api.db, api.events.as_ref(), viewer, change).await?;
        Ok(Problem(row))
    }

    /// Comments on a problem: publicly (anyone signed in who can see it), or internally
    /// (staff working it). Safe to retry with the same `idempotencyKey`.
    async fn comment_on_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment.")] input: CommentOnProblemInput,
    ) -> Result<ProblemEvent> {
        let key = IdempotencyKey::parse(&input.idempotency_key)?;
        let comment = NewComment {
            problem_id: parse_id(&input.problem_id, "problem")?,
            body: input.body,
            internal: input.internal.unwrap_or(false),
        };
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let problem_id = comment.problem_id;
        let row = problem_work::comment(&api.db, api.events.as_ref(), viewer, key, comment).await?;
        let s = problem_work::subject(&api.db, viewer, problem_id).await?;
        Ok(ProblemEvent {
            row,
            reporter_id: s.problem.reporter_id,
            anonymous: s.problem.anonymous,
        })
    }

    /// Assigns a problem to an officer of its beat or to a partner organisation; a
    /// captain may reassign to any officer of the precinct. Public-health problems go
    /// only to partner organisations.
    async fn assign_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The assignment.")] input: AssignProblemInput,
    ) -> Result<Problem> {
        let to = match (&input.officer_id, &input.partner_id) {
            (Some(o), None) => Assignee::Officer(parse_id(o, "officer")?),
            (None, Some(p)) => Assignee::Partner(parse_id(p, "partner organization")?),
            _ => {
                return Err(
                    AppError::bad_input("give exactly one of `officerId` and `partnerId`").into(),
                );
            }
        };
        let problem_id = parse_id(&input.problem_id, "problem")?;
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let row = problem_work::assign(
            &api.db,
            api.events.as_ref(),
            viewer,
            problem_id,
            to,
            input.expected_version,
        )
        .await?;
        Ok(Problem(row))
    }

    /// Follows a problem: you are notified of its status changes and public comments.
    /// Repeating it changes nothing.
    async fn follow_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The problem.")] problem_id: ID,
    ) -> Result<Problem> {
        let id = parse_id(&problem_id, "problem")?;
        let viewer = viewer(ctx).await?;
        let row = problem_work::set_following(&api(ctx)?.db, viewer, id, true).await?;
        Ok(Problem(row))
    }

    /// Stops following a problem. Repeating it changes nothing.
    async fn unfollow_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The problem.")] problem_id: ID,
    ) -> Result<Problem> {
        let id = parse_id(&problem_id, "problem")?;
        let viewer = viewer(ctx).await?;
        let row = problem_work::set_following(&api(ctx)?.db, viewer, id, false).await?;
        Ok(Problem(row))
    }

    /// Says "me too" to an open problem: counted once per person, so repeating it
    /// changes nothing.
    async fn support_problem(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The problem.")] problem_id: ID,
    ) -> Result<Problem> {
        let id = parse_id(&problem_id, "problem")?;
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let row = problem_work::support(&api.db, api.events.as_ref(), viewer, id).await?;
        Ok(Problem(row))
    }

    /// Marks a problem a duplicate of an earlier one (staff working it): its followers
    /// and supporters move to the original.
    async fn mark_duplicate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The duplicate and its original.")] input: MarkDuplicateInput,
    ) -> Result<MarkDuplicatePayload> {
        let id = parse_id(&input.problem_id, "problem")?;
        let original = parse_id(&input.duplicate_of_id, "problem")?;
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let (dup, orig) = problem_work::mark_duplicate(
            &api.db,
            api.events.as_ref(),
            viewer,
            id,
            original,
            input.expected_version,
        )
        .await?;
        Ok(MarkDuplicatePayload {
            duplicate: Problem(dup),
            original: Problem(orig),
        })
    }

    /// Rates how your RESOLVED or CLOSED report was resolved, 1 to 5, once. Safe to
    /// retry with the same `idempotencyKey`.
    async fn rate_resolution(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rating.")] input: RateResolutionInput,
    ) -> Result<Problem> {
        let key = IdempotencyKey::parse(&input.idempotency_key)?;
        let rating = NewRating {
            problem_id: parse_id(&input.problem_id, "problem")?,
            rating: input.rating,
            comment: input.comment,
        };
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let row = problem_work::rate(&api.db, api.events.as_ref(), viewer, key, rating).await?;
        Ok(Problem(row))
    }
}
