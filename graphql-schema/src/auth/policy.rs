//! The authorization policy: the one place that says who may see and do what. Every
//! resolver goes through these functions, so a rule changes here and nowhere else.
//!
//! - Residents see public problem fields, their own reports in full, and act on their
//!   own content.
//! - Officers act on problems in their beats; captains on their precinct; partner
//!   users on problems routed to their organisation; admins on the city set-up.
//! - Sensitive (public-health, crisis) problems are never visible to police, nor to the
//!   public; only to the partner organisation they are routed to, their reporter, and
//!   admins.
//! - The reporter of an anonymous problem is never shown to anyone but the reporter.

use entity::enums::UserRole;
use entity::{category, problem};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

use crate::auth::{Principal, Viewer};
use crate::error::{AppError, AppResult};

fn forbidden(what: &str) -> AppError {
    AppError::Forbidden(format!("your account may not {what}"))
}

/// The signed-in user, or UNAUTHENTICATED.
pub fn require_user(viewer: &Viewer) -> AppResult<&Principal> {
    viewer.principal()
}

/// An administrator, or UNAUTHENTICATED / FORBIDDEN.
pub fn require_admin<'a>(viewer: &'a Viewer, what: &str) -> AppResult<&'a Principal> {
    let p = viewer.principal()?;
    if p.role == UserRole::Admin {
        Ok(p)
    } else {
        Err(forbidden(what))
    }
}

/// Staff (officer, captain, partner, admin), or UNAUTHENTICATED / FORBIDDEN.
pub fn require_staff<'a>(viewer: &'a Viewer, what: &str) -> AppResult<&'a Principal> {
    let p = viewer.principal()?;
    if p.role == UserRole::Resident {
        Err(forbidden(what))
    } else {
        Ok(p)
    }
}

/// Whether a role is police (officers and captains).
pub fn is_police(role: UserRole) -> bool {
    matches!(role, UserRole::Officer | UserRole::Captain)
}

fn sensitive_categories() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(category::Column::Id)
        .from(category::Entity)
        .and_where(Expr::col(category::Column::Sensitive).eq(true))
        .to_owned()
}

/// The problems a viewer may see at all, as a filter for listing queries.
pub fn visible_problems(viewer: &Viewer) -> Condition {
    let public =
        Condition::all().add(problem::Column::CategoryId.not_in_subquery(sensitive_categories()));
    match viewer {
        Viewer::Anonymous => public,
        Viewer::User(p) => match p.role {
            UserRole::Admin => Condition::all(),
            UserRole::Officer | UserRole::Captain => public,
            UserRole::Resident => Condition::any()
                .add(public)
                .add(problem::Column::ReporterId.eq(p.id)),
            UserRole::Partner => Condition::any()
                .add(public)
                .add(problem::Column::AssignedPartnerId.is_in(p.partners.clone())),
        },
    }
}

/// Whether a viewer may see one problem (of a category that is `sensitive` or not).
pub fn can_see_problem(viewer: &Viewer, problem: &problem::Model, sensitive: bool) -> bool {
    if !sensitive {
        return true;
    }
    match viewer {
        Viewer::Anonymous => false,
        Viewer::User(p) => match p.role {
            UserRole::Admin => true,
            UserRole::Officer | UserRole::Captain => false,
            UserRole::Resident => problem.reporter_id == Some(p.id),
            UserRole::Partner => problem
                .assigned_partner_id
                .is_some_and(|org| p.partners.contains(&org)),
        },
    }
}

/// Where a problem is, for staff checks.
#[derive(Debug, Clone, Copy)]
pub struct ProblemPlace {
    /// Its beat.
    pub beat_id: Uuid,
    /// The precinct of its beat.
    pub precinct_id: Uuid,
}

/// Whether a viewer may work a problem (change status, assign, comment internally):
/// an officer of its beat, a captain of its precinct, a member of the partner it is
/// routed to, or an admin. Police never work sensitive problems.
pub fn can_work_problem(
    viewer: &Viewer,
    problem: &problem::Model,
    place: ProblemPlace,
    sensitive: bool,
) -> bool {
    let Viewer::User(p) = viewer else {
        return false;
    };
    match p.role {
        UserRole::Admin => true,
        UserRole::Officer => !sensitive && p.beats.contains(&place.beat_id),
        UserRole::Captain => !sensitive && p.precincts.contains(&place.precinct_id),
        UserRole::Partner => problem
            .assigned_partner_id
            .is_some_and(|org| p.partners.contains(&org)),
        UserRole::Resident => false,
    }
}

/// [`can_work_problem`] as a result.
pub fn require_work_problem(
    viewer: &Viewer,
    problem: &problem::Model,
    place: ProblemPlace,
    sensitive: bool,
) -> AppResult<()> {
    viewer.principal()?;
    if can_work_problem(viewer, problem, place, sensitive) {
        Ok(())
    } else {
        Err(forbidden(
            "work on this problem: it is outside your beat, precinct or organisation",
        ))
    }
}

/// Whether a viewer may run a beat's affairs (schedule its meetings, record
/// attendance, publish minutes): an officer of the beat, a captain of its precinct, or
/// an admin.
pub fn can_manage_beat(viewer: &Viewer, beat_id: Uuid, precinct_id: Uuid) -> bool {
    let Viewer::User(p) = viewer else {
        return false;
    };
    match p.role {
        UserRole::Admin => true,
        UserRole::Officer => p.beats.contains(&beat_id),
        UserRole::Captain => p.precincts.contains(&precinct_id),
        UserRole::Partner | UserRole::Resident => false,
    }
}

/// [`can_manage_beat`] as a result.
pub fn require_manage_beat(viewer: &Viewer, beat_id: Uuid, precinct_id: Uuid) -> AppResult<()> {
    viewer.principal()?;
    if can_manage_beat(viewer, beat_id, precinct_id) {
        Ok(())
    } else {
        Err(forbidden(
            "manage this beat: only its officers, its captain and admins may",
        ))
    }
}

/// Whether a viewer may see a precinct's management figures (dashboard): its captain,
/// or an admin.
pub fn require_precinct_oversight(viewer: &Viewer, precinct_id: Uuid) -> AppResult<()> {
    let p = viewer.principal()?;
    match p.role {
        UserRole::Admin => Ok(()),
        UserRole::Captain if p.precincts.contains(&precinct_id) => Ok(()),
        _ => Err(forbidden(
            "see this precinct's dashboard: only its captain and admins may",
        )),
    }
}

/// How much of a problem's reporter a viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReporterAccess {
    /// Nothing at all (anonymous reports, the public, staff without authority).
    Hidden,
    /// The viewer is the reporter.
    Own,
    /// Staff with authority over the problem see the display name; the read is
    /// written to the audit log.
    DisplayNameAudited,
}

/// What a viewer may see of a problem's reporter.
pub fn reporter_access(
    viewer: &Viewer,
    problem: &problem::Model,
    place: ProblemPlace,
    sensitive: bool,
) -> ReporterAccess {
    let Some(reporter) = problem.reporter_id else {
        return ReporterAccess::Hidden;
    };
    if viewer.user_id() == Some(reporter) {
        return ReporterAccess::Own;
    }
    if problem.anonymous {
        return ReporterAccess::Hidden;
    }
    if can_work_problem(viewer, problem, place, sensitive) {
        ReporterAccess::DisplayNameAudited
    } else {
        ReporterAccess::Hidden
    }
}

/// Whether a viewer may watch a beat's live activity: anyone may watch the public
/// problems of a beat, except that police watch only where they serve (an officer
/// their beats, a captain their precincts).
pub fn require_watch_beat(viewer: &Viewer, beat_id: Uuid, precinct_id: Uuid) -> AppResult<()> {
    let Viewer::User(p) = viewer else {
        return Ok(());
    };
    match p.role {
        UserRole::Officer if !p.beats.contains(&beat_id) => Err(forbidden(
            "watch this beat's activity: officers watch only the beats they are assigned to",
        )),
        UserRole::Captain if !p.precincts.contains(&precinct_id) => Err(forbidden(
            "watch this beat's activity: captains watch only the beats of their precincts",
        )),
        _ => Ok(()),
    }
}

/// Whether a changed problem shows in a beat's live activity for a viewer: what the
/// viewer may see at all and, for partner users, only the problems routed to their
/// organisation.
pub fn shows_in_beat_activity(viewer: &Viewer, problem: &problem::Model, sensitive: bool) -> bool {
    if !can_see_problem(viewer, problem, sensitive) {
        return false;
    }
    match viewer {
        Viewer::User(p) if p.role == UserRole::Partner => problem
            .assigned_partner_id
            .is_some_and(|org| p.partners.contains(&org)),
        _ => true,
    }
}

/// Who may read the city-wide equity report: captains and admins. It holds aggregates
/// only (counts, durations, shares per neighbourhood), never a problem or a reporter.
pub fn require_equity_report(viewer: &Viewer) -> AppResult<&Principal> {
    let p = viewer.principal()?;
    match p.role {
        UserRole::Admin | UserRole::Captain => Ok(p),
        _ => Err(forbidden(
            "see the equity report: only captains and admins may",
        )),
    }
}

/// The problems of the public open-data export: every problem, sensitive ones
/// included, because counts of syringes or overdoses by area serve public health; the
/// export then blurs their locations and drops their text (see `domain::export`).
/// Reporters and internal notes are never part of any export.
pub fn open_data_problems() -> Condition {
    Condition::all()
}

/// Whether a viewer sees a problem's internal timeline entries and may comment
/// internally: whoever may work the problem.
pub fn can_see_internal(
    viewer: &Viewer,
    problem: &problem::Model,
    place: ProblemPlace,
    sensitive: bool,
) -> bool {
    can_work_problem(viewer, problem, place, sensitive)
}

/// How long after resolution the reporter may reopen a problem.
pub const REOPEN_WINDOW_DAYS: i64 = 14;

/// Whether the viewer is the reporter of a RESOLVED problem resolved within the last
/// [`REOPEN_WINDOW_DAYS`] days, and so may reopen it.
pub fn can_reopen(
    viewer: &Viewer,
    problem: &problem::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let is_reporter = viewer.user_id().is_some() && viewer.user_id() == problem.reporter_id;
    let recent = problem
        .resolved_at
        .is_some_and(|at| now - at <= chrono::Duration::days(REOPEN_WINDOW_DAYS));
    is_reporter && problem.status == entity::enums::ProblemStatus::Resolved && recent
}

/// The reporter of a problem, or UNAUTHENTICATED / FORBIDDEN.
pub fn require_reporter<'a>(
    viewer: &'a Viewer,
    problem: &problem::Model,
    what: &str,
) -> AppResult<&'a Principal> {
    let p = viewer.principal()?;
    if problem.reporter_id == Some(p.id) {
        Ok(p)
    } else {
        Err(forbidden(&format!(
            "{what}: only the resident who reported it may"
        )))
    }
}

/// Among whose officers a viewer may pick an assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficerPool {
    /// Officers serving the problem's beat (officers and partners assigning).
    Beat,
    /// Officers serving any beat of the problem's precinct (captains, admins).
    Precinct,
}

/// Among whose officers a viewer may pick when assigning a problem: captains and admins
/// may reassign across the precinct; everyone else only within the beat.
pub fn officer_pool(viewer: &Viewer) -> OfficerPool {
    match viewer.role() {
        Some(UserRole::Captain | UserRole::Admin) => OfficerPool::Precinct,
        _ => OfficerPool::Beat,
    }
}

/// Whether a viewer may mark a problem a duplicate of another: whoever may work the
/// problem, provided they may also see the original.
pub fn can_merge(
    viewer: &Viewer,
    problem: &problem::Model,
    place: ProblemPlace,
    sensitive: bool,
    original: &problem::Model,
    original_sensitive: bool,
) -> bool {
    can_work_problem(viewer, problem, place, sensitive)
        && can_see_problem(viewer, original, original_sensitive)
}
/// Problems that may be shown to everyone at a beat meeting: never a sensitive
/// (public-health, crisis) problem, whoever asks.
pub fn public_problems() -> Condition {
    visible_problems(&Viewer::Anonymous)
}

/// Whether a viewer may update an action item: staff who manage its beat, or its
/// owner (the user, or a member of the owning partner organisation).
pub fn can_update_action_item(
    viewer: &Viewer,
    owner_user_id: Option<Uuid>,
    owner_partner_id: Option<Uuid>,
    beat_id: Uuid,
    precinct_id: Uuid,
) -> bool {
    let Viewer::User(p) = viewer else {
        return false;
    };
    can_manage_beat(viewer, beat_id, precinct_id)
        || owner_user_id == Some(p.id)
        || owner_partner_id.is_some_and(|org| p.partners.contains(&org))
}

/// [`can_update_action_item`] as a result.
pub fn require_update_action_item(
    viewer: &Viewer,
    owner_user_id: Option<Uuid>,
    owner_partner_id: Option<Uuid>,
    beat_id: Uuid,
    precinct_id: Uuid,
) -> AppResult<()> {
    viewer.principal()?;
    if can_update_action_item(
        viewer,
        owner_user_id,
        owner_partner_id,
        beat_id,
        precinct_id,
    ) {
        Ok(())
    } else {
        Err(forbidden(
            "update this action: only its owner and the beat's officers, captain and admins may",
        ))
    }
}
