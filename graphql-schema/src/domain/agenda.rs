//! The meeting agenda, built from the beat's data in the CAPS shape (welcome; report
//! back; current conditions; priorities; strategies; next meeting), plus staff's manual
//! items and residents' proposals and votes; minutes; and action items, which stay on
//! every later agenda until done.
//!
//! Generation is lazy: the first read (or change) of an agenda generates it, and a read
//! more than [`REFRESH_AFTER_MINUTES`] later, before the meeting starts, adds what has
//! newly qualified (a new open action, a newly top-ranked problem). Items are never
//! generated twice: the agenda's WELCOME item has the meeting's own id, so its primary
//! key makes the first generation happen once even when two requests race, and
//! refreshes are claimed by a conditional update of that item's `updated_at`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use entity::enums::{
    ActionOwnerKind, ActionStatus, AgendaItemKind, AgendaSection, MeetingStatus, ProblemEventKind,
    ProblemStatus, SaraStage, UserRole,
};
use entity::{
    action_item, agenda_item, agenda_vote, beat, category, meeting, meeting_minutes,
    partner_member, partner_organization, problem, problem_event, sara_record, user,
};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel as _, PaginatorTrait as _, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession as _, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::events::EventBus;
use crate::domain::meeting_idempotency::{self as idem, IdempotencyKey};
use crate::domain::meetings::{self, distance_m, local_when, publish_notifications};
use crate::domain::notify::{self, Notice, NoticeKind};
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// How long a generated agenda stays as is before a read refreshes it.
pub const REFRESH_AFTER_MINUTES: i64 = 60;
/// How many open problems the PRIORITIES section ranks.
pub const TOP_PROBLEMS: u64 = 10;
/// How many similar open reports in one place make a chronic problem.
pub const CHRONIC_MIN_REPORTS: usize = 3;
/// How far back chronic problems are looked for.
pub const CHRONIC_WINDOW_DAYS: i64 = 90;

const OPEN: [ProblemStatus; 3] = [
    ProblemStatus::New,
    ProblemStatus::Acknowledged,
    ProblemStatus::InProgress,
];
const OPEN_ACTIONS: [ActionStatus; 2] = [ActionStatus::Open, ActionStatus::InProgress];

/// The CAPS order of the sections.
pub fn section_rank(s: AgendaSection) -> u8 {
    match s {
        AgendaSection::Welcome => 0,
        AgendaSection::ReportBack => 1,
        AgendaSection::CurrentConditions => 2,
        AgendaSection::Priorities => 3,
        AgendaSection::Strategies => 4,
        AgendaSection::NextMeeting => 5,
    }
}

/// An agenda with what its items refer to, loaded in a fixed number of statements.
#[derive(Debug, Clone, Default)]
pub struct Agenda {
    /// Items in CAPS order, then by position.
    pub items: Vec<agenda_item::Model>,
    /// The problems referred to (only those anyone may see).
    pub problems: HashMap<Uuid, problem::Model>,
    /// The action items referred to.
    pub actions: HashMap<Uuid, action_item::Model>,
    /// The item the viewer voted for, if any.
    pub my_vote: Option<Uuid>,
}

fn item(
    meeting_id: Uuid,
    section: AgendaSection,
    title: String,
    notes: Option<String>,
    position: i32,
    at: DateTime<Utc>,
) -> agenda_item::Model {
    agenda_item::Model {
        id: Uuid::now_v7(),
        meeting_id,
        section,
        kind: AgendaItemKind::Generated,
        problem_id: None,
        action_item_id: None,
        title,
        notes,
        position,
        proposed_by: None,
        vote_count: 0,
        removed: false,
        created_at: at,
        updated_at: at,
    }
}

fn status_word(s: ProblemStatus) -> &'static str {
    match s {
        ProblemStatus::New => "new",
        ProblemStatus::Acknowledged => "acknowledged",
        ProblemStatus::InProgress => "in progress",
        ProblemStatus::Resolved => "resolved",
        ProblemStatus::Closed => "closed",
        ProblemStatus::Duplicate => "a duplicate",
        ProblemStatus::NotActionable => "not actionable",
    }
}

fn action_word(s: ActionStatus) -> &'static str {
    match s {
        ActionStatus::Open => "open",
        ActionStatus::InProgress => "in progress",
        ActionStatus::Done => "done",
        ActionStatus::Cancelled => "cancelled",
    }
}

/// The items the data calls for now (without the ones `existing` already has).
async fn generate(
    db: &impl ConnectionTrait,
    m: &meeting::Model,
    existing: &[agenda_item::Model],
    first: bool,
) -> AppResult<Vec<agenda_item::Model>> {
    let at = now();
    let mut out = Vec::new();
    let have_problem: HashSet<Uuid> = existing.iter().filter_map(|i| i.problem_id).collect();
    let have_action: HashSet<Uuid> = existing.iter().filter_map(|i| i.action_item_id).collect();
    let mut next_pos: BTreeMap<u8, i32> = BTreeMap::new();
    for i in existing {
        let e = next_pos.entry(section_rank(i.section)).or_insert(0);
        *e = std::cmp::max(*e, i.position + 10);
    }
    let mut pos = |s: AgendaSection| {
        let e = next_pos.entry(section_rank(s)).or_insert(0);
        let p = *e;
        *e += 10;
        p
    };

    if first {
        let mut welcome = item(
            m.id,
            AgendaSection::Welcome,
            "Welcome and introductions".into(),
            Some("Residents, beat officers and partners introduce themselves.".into()),
            pos(AgendaSection::Welcome),
            at,
        );
        welcome.id = m.id; // the claim: see the module documentation
        out.push(welcome);
    }

    // Earlier meetings of the beat: their actions and chosen problems are reported on.
    let earlier: Vec<meeting::Model> = meeting::Entity::find()
        .filter(meeting::Column::BeatId.eq(m.beat_id))
        .filter(meeting::Column::StartsAt.lt(m.starts_at))
        .filter(meeting::Column::Status.eq(MeetingStatus::Scheduled))
        .order_by_desc(meeting::Column::StartsAt)
        .all(db)
        .await?;
    let earlier_ids: Vec<Uuid> = earlier.iter().map(|e| e.id).collect();
    let previous = earlier.first();
    let since = previous.map_or(m.starts_at - TimeDelta::days(30), |p| p.starts_at);

    let actions = action_item::Entity::find()
        .filter(
            Condition::any()
                .add(action_item::Column::MeetingId.is_in(earlier_ids.clone()))
                .add(
                    action_item::Column::SaraRecordId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(sara_record::Column::Id)
                            .from(sara_record::Entity)
                            .and_where(Expr::col(sara_record::Column::BeatId).eq(m.beat_id))
                            .to_owned(),
                    ),
                ),
        )
        .filter(
            Condition::any()
                .add(action_item::Column::Status.is_in(OPEN_ACTIONS))
                .add(
                    Condition::all()
                        .add(action_item::Column::Status.eq(ActionStatus::Done))
                        .add(action_item::Column::CompletedAt.gte(since)),
                ),
        )
        .filter(action_item::Column::CreatedAt.lt(m.starts_at))
        .order_by_asc(action_item::Column::CreatedAt)
        .all(db)
        .await?;
    for a in actions {
        if have_action.contains(&a.id) {
            continue;
        }
        let due = a.due_on.map(|d| format!(", due {d}")).unwrap_or_default();
        let overdue = a
            .due_on
            .is_some_and(|d| d < m.starts_at.date_naive() && OPEN_ACTIONS.contains(&a.status));
        let notes = format!(
            "Action {}{}{}.",
            action_word(a.status),
            due,
            if overdue { " (overdue)" } else { "" }
        );
        let mut i = item(
            m.id,
            AgendaSection::ReportBack,
            format!("Action: {}", a.title),
            Some(notes),
            pos(AgendaSection::ReportBack),
            at,
        );
        i.action_item_id = Some(a.id);
        i.problem_id = a.problem_id;
        out.push(i);
    }

    // Problems chosen at earlier meetings (added by staff, proposed by residents, or
    // voted for), with their progress since then.
    let chosen: Vec<(Uuid, Uuid)> = agenda_item::Entity::find()
        .select_only()
        .column(agenda_item::Column::ProblemId)
        .column(agenda_item::Column::MeetingId)
        .filter(agenda_item::Column::MeetingId.is_in(earlier_ids))
        .filter(agenda_item::Column::Section.eq(AgendaSection::Priorities))
        .filter(agenda_item::Column::Removed.eq(false))
        .filter(agenda_item::Column::ProblemId.is_not_null())
        // A generated candidate nobody voted for was not chosen.
        .filter(
            Condition::any()
                .add(agenda_item::Column::Kind.ne(AgendaItemKind::Generated))
                .add(agenda_item::Column::VoteCount.gt(0)),
        )
        .into_tuple()
        .all(db)
        .await?;
    let meeting_start: HashMap<Uuid, DateTime<Utc>> =
        earlier.iter().map(|e| (e.id, e.starts_at)).collect();
    // The earliest meeting at which each problem was chosen.
    let mut chosen_at: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
    for (problem_id, meeting_id) in chosen {
        if let Some(t) = meeting_start.get(&meeting_id) {
            let e = chosen_at.entry(problem_id).or_insert(*t);
            *e = std::cmp::min(*e, *t);
        }
    }
    chosen_at.retain(|p, _| !have_problem.contains(p));
    let reported: Vec<problem::Model> = problem::Entity::find()
        .filter(problem::Column::Id.is_in(chosen_at.keys().copied()))
        .filter(policy::public_problems())
        .order_by_asc(problem::Column::CreatedAt)
        .all(db)
        .await?;
    let events = problem_event::Entity::find()
        .filter(problem_event::Column::ProblemId.is_in(reported.iter().map(|p| p.id)))
        .filter(
            problem_event::Column::Kind
                .is_in([ProblemEventKind::StatusChanged, ProblemEventKind::Reopened]),
        )
        .order_by_asc(problem_event::Column::CreatedAt)
        .all(db)
        .await?;
    let mut reported_ids = HashSet::new();
    for p in &reported {
        let Some(chosen) = chosen_at.get(&p.id) else {
            continue;
        };
        let changes: Vec<&problem_event::Model> = events
            .iter()
            .filter(|e| e.problem_id == p.id && e.created_at >= *chosen)
            .collect();
        let was = changes
            .first()
            .and_then(|e| e.from_status)
            .unwrap_or(p.status);
        let progress = if changes.is_empty() {
            format!(
                "No change since it was chosen on {}: still {}.",
                chosen.date_naive(),
                status_word(p.status)
            )
        } else {
            format!(
                "Was {} when chosen on {}; now {} after {} status change{}.",
                status_word(was),
                chosen.date_naive(),
                status_word(p.status),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            )
        };
        let mut i = item(
            m.id,
            AgendaSection::ReportBack,
            format!("{}: {}", p.reference, p.title),
            Some(progress),
            pos(AgendaSection::ReportBack),
            at,
        );
        i.problem_id = Some(p.id);
        reported_ids.insert(p.id);
        out.push(i);
    }

    // SARA records in progress.
    let saras = sara_record::Entity::find()
        .filter(sara_record::Column::BeatId.eq(m.beat_id))
        .filter(sara_record::Column::Stage.ne(SaraStage::Closed))
        .order_by_asc(sara_record::Column::CreatedAt)
        .all(db)
        .await?;
    if first {
        for s in &saras {
            let section = if s.stage == SaraStage::Response {
                AgendaSection::Strategies
            } else {
                AgendaSection::ReportBack
            };
            out.push(item(
                m.id,
                section,
                format!("Beat plan priority: {}", s.title),
                Some(format!("SARA stage: {:?}.", s.stage).to_uppercase()),
                pos(section),
                at,
            ));
        }
    }

    // Current conditions: the trend of reports, and new chronic problems.
    if first {
        let window = std::cmp::min(m.starts_at, at) - since;
        let window = if window <= TimeDelta::zero() {
            TimeDelta::days(30)
        } else {
            window
        };
        let end = std::cmp::min(m.starts_at, at);
        let count_between = |from: DateTime<Utc>, to: DateTime<Utc>| {
            problem::Entity::find()
                .filter(problem::Column::BeatId.eq(m.beat_id))
                .filter(policy::public_problems())
                .filter(problem::Column::CreatedAt.gte(from))
                .filter(problem::Column::CreatedAt.lt(to))
                .count(db)
        };
        let recent = count_between(end - window, end).await?;
        let before = count_between(end - window - window, end - window).await?;
        out.push(item(
            m.id,
            AgendaSection::CurrentConditions,
            format!(
                "{recent} new reports in the last {} days (the {} days before: {before})",
                std::cmp::max(window.num_days(), 1),
                std::cmp::max(window.num_days(), 1)
            ),
            None,
            pos(AgendaSection::CurrentConditions),
            at,
        ));
    }
    let open: Vec<problem::Model> = problem::Entity::find()
        .filter(problem::Column::BeatId.eq(m.beat_id))
        .filter(policy::public_problems())
        .filter(problem::Column::Status.is_in(OPEN))
        .filter(problem::Column::CreatedAt.gte(at - TimeDelta::days(CHRONIC_WINDOW_DAYS)))
        .order_by_asc(problem::Column::CreatedAt)
        .limit(2000)
        .all(db)
        .await?;
    let categories: HashMap<Uuid, category::Model> = category::Entity::find()
        .filter(category::Column::Id.is_in(open.iter().map(|p| p.category_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    for cluster in chronic_clusters(&open, &categories) {
        let Some(seed) = cluster.first() else {
            continue;
        };
        if have_problem.contains(&seed.id) || reported_ids.contains(&seed.id) {
            continue;
        }
        let cat = categories
            .get(&seed.category_id)
            .map_or("similar problems", |c| c.name.as_str());
        let place = seed
            .address
            .clone()
            .unwrap_or_else(|| format!("{:.4}, {:.4}", seed.lat, seed.lon));
        let refs: Vec<&str> = cluster.iter().map(|p| p.reference.as_str()).collect();
        let mut i = item(
            m.id,
            AgendaSection::CurrentConditions,
            format!("Chronic: {} reports of {cat} near {place}", cluster.len()),
            Some(format!("Reports: {}.", refs.join(", "))),
            pos(AgendaSection::CurrentConditions),
            at,
        );
        i.problem_id = Some(seed.id);
        out.push(i);
    }

    // Priorities: the beat's open problems, ranked by support, then age.
    let top = problem::Entity::find()
        .filter(problem::Column::BeatId.eq(m.beat_id))
        .filter(policy::public_problems())
        .filter(problem::Column::Status.is_in(OPEN))
        .filter(problem::Column::DuplicateOfId.is_null())
        .order_by_desc(problem::Column::SupportCount)
        .order_by_asc(problem::Column::CreatedAt)
        .order_by_asc(problem::Column::Id)
        .limit(TOP_PROBLEMS)
        .all(db)
        .await?;
    for p in top {
        if have_problem.contains(&p.id) || reported_ids.contains(&p.id) {
            continue;
        }
        let age = (at - p.created_at).num_days();
        let mut i = item(
            m.id,
            AgendaSection::Priorities,
            format!("{}: {}", p.reference, p.title),
            Some(format!(
                "{} supporter{}, open {age} day{}, {}.",
                p.support_count,
                if p.support_count == 1 { "" } else { "s" },
                if age == 1 { "" } else { "s" },
                status_word(p.status)
            )),
            pos(AgendaSection::Priorities),
            at,
        );
        i.problem_id = Some(p.id);
        out.push(i);
    }

    if first {
        out.push(item(
            m.id,
            AgendaSection::Strategies,
            "Agree who does what, by when".into(),
            Some(
                "Police, partners and residents (with a named community contact) take on \
                 actions with due dates."
                    .into(),
            ),
            pos(AgendaSection::Strategies),
            at,
        ));
        let next = meeting::Entity::find()
            .filter(meeting::Column::BeatId.eq(m.beat_id))
            .filter(meeting::Column::StartsAt.gt(m.starts_at))
            .filter(meeting::Column::Status.eq(MeetingStatus::Scheduled))
            .order_by_asc(meeting::Column::StartsAt)
            .one(db)
            .await?;
        let title = match next {
            Some(n) => format!("Next meeting: {}", local_when(&n)),
            None => "Set the date of the next meeting".into(),
        };
        out.push(item(
            m.id,
            AgendaSection::NextMeeting,
            title,
            Some("Working groups report on their next steps.".into()),
            pos(AgendaSection::NextMeeting),
            at,
        ));
    }
    Ok(out)
}

/// Groups open problems into chronic clusters: at least [`CHRONIC_MIN_REPORTS`] of one
/// category within its duplicate radius of a seed, largest first (at most 5).
pub fn chronic_clusters<'a>(
    open: &'a [problem::Model],
    categories: &HashMap<Uuid, category::Model>,
) -> Vec<Vec<&'a problem::Model>> {
    let mut by_category: BTreeMap<Uuid, Vec<&problem::Model>> = BTreeMap::new();
    for p in open {
        by_category.entry(p.category_id).or_default().push(p);
    }
    let mut clusters = Vec::new();
    for (cat, list) in by_category {
        let radius = categories
            .get(&cat)
            .map_or(150.0, |c| f64::from(std::cmp::max(c.duplicate_radius_m, 1)));
        let mut used: HashSet<Uuid> = HashSet::new();
        loop {
            let best = list
                .iter()
                .filter(|p| !used.contains(&p.id))
                .map(|seed| {
                    let members: Vec<&problem::Model> = list
                        .iter()
                        .filter(|q| {
                            !used.contains(&q.id)
                                && distance_m(seed.lat, seed.lon, q.lat, q.lon) <= radius
                        })
                        .copied()
                        .collect();
                    (seed, members)
                })
                .max_by(|a, b| {
                    a.1.len()
                        .cmp(&b.1.len())
                        .then(b.0.created_at.cmp(&a.0.created_at))
                });
            match best {
                Some((seed, mut members)) if members.len() >= CHRONIC_MIN_REPORTS => {
                    members.sort_by_key(|q| (q.id != seed.id, q.created_at));
                    for q in &members {
                        used.insert(q.id);
                    }
                    clusters.push(members);
                }
                _ => break,
            }
        }
    }
    clusters.sort_by_key(|c| std::cmp::Reverse(c.len()));
    clusters.truncate(5);
    clusters
}

/// Generates the agenda on first use, and refreshes it when stale (before the
/// meeting). Cheap when there is nothing to do: one read.
pub async fn ensure_generated(
    db: &(impl ConnectionTrait + TransactionTrait),
    m: &meeting::Model,
) -> AppResult<()> {
    let welcome = agenda_item::Entity::find_by_id(m.id).one(db).await?;
    let at = now();
    match welcome {
        None => {
            // Read first, then write in a transaction whose first statement is the
            // claim: on SQLite a transaction that reads before writing fails when
            // another connection wrote in between.
            let items = generate(db, m, &[], true).await?;
            let Some((claim, rest)) = items.split_first() else {
                return Ok(());
            };
            let txn = db.begin().await?;
            let won = agenda_item::Entity::insert(claim.clone().into_active_model())
                .on_conflict(
                    OnConflict::column(agenda_item::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            if won == 1 {
                insert_items(&txn, rest).await?;
                txn.commit().await?;
            }
            Ok(())
        }
        Some(w)
            if m.status == MeetingStatus::Scheduled
                && m.starts_at > at
                && w.updated_at < at - TimeDelta::minutes(REFRESH_AFTER_MINUTES) =>
        {
            let txn = db.begin().await?;
            let claimed = agenda_item::Entity::update_many()
                .col_expr(agenda_item::Column::UpdatedAt, Expr::value(at))
                .filter(agenda_item::Column::Id.eq(m.id))
                .filter(agenda_item::Column::UpdatedAt.eq(w.updated_at))
                .exec(&txn)
                .await?;
            if claimed.rows_affected == 1 {
                let existing = agenda_item::Entity::find()
                    .filter(agenda_item::Column::MeetingId.eq(m.id))
                    .all(&txn)
                    .await?;
                let items = generate(&txn, m, &existing, false).await?;
                insert_items(&txn, &items).await?;
                txn.commit().await?;
            }
            Ok(())
        }
        Some(_) => Ok(()),
    }
}

async fn insert_items(db: &impl ConnectionTrait, items: &[agenda_item::Model]) -> AppResult<()> {
    for chunk in items.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        agenda_item::Entity::insert_many(chunk.iter().cloned().map(|i| i.into_active_model()))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Forces a refresh of a meeting's generated items (staff), e.g. just before it starts.
pub async fn refresh(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    meeting_id: Uuid,
) -> AppResult<meeting::Model> {
    let m = meetings::get_managed(db, viewer, meeting_id).await?;
    if m.starts_at <= now() {
        return Err(AppError::conflict(
            "this meeting has started: its agenda is kept as it was; add items by hand instead",
        ));
    }
    ensure_generated(db, &m).await?;
    agenda_item::Entity::update_many()
        .col_expr(
            agenda_item::Column::UpdatedAt,
            Expr::value(now() - TimeDelta::minutes(REFRESH_AFTER_MINUTES + 1)),
        )
        .filter(agenda_item::Column::Id.eq(m.id))
        .exec(db)
        .await?;
    ensure_generated(db, &m).await?;
    Ok(m)
}

/// The agenda of a meeting (generated on first use). Removed items are included only
/// for staff who manage the beat and ask for them.
pub async fn agenda(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    m: &meeting::Model,
    include_removed: bool,
) -> AppResult<Agenda> {
    ensure_generated(db, m).await?;
    let mut query = agenda_item::Entity::find().filter(agenda_item::Column::MeetingId.eq(m.id));
    let staff = if include_removed {
        let b = beat::Entity::find_by_id(m.beat_id).one(db).await?;
        b.is_some_and(|b| policy::can_manage_beat(viewer, b.id, b.precinct_id))
    } else {
        false
    };
    if !staff {
        query = query.filter(agenda_item::Column::Removed.eq(false));
    }
    let mut items = query.all(db).await?;
    items.sort_by_key(|i| (section_rank(i.section), i.position, i.created_at, i.id));
    let problem_ids: BTreeSet<Uuid> = items.iter().filter_map(|i| i.problem_id).collect();
    let action_ids: BTreeSet<Uuid> = items.iter().filter_map(|i| i.action_item_id).collect();
    let problems = if problem_ids.is_empty() {
        Vec::new()
    } else {
        problem::Entity::find()
            .filter(problem::Column::Id.is_in(problem_ids))
            .filter(policy::visible_problems(viewer))
            .all(db)
            .await?
    };
    let actions = if action_ids.is_empty() {
        Vec::new()
    } else {
        action_item::Entity::find()
            .filter(action_item::Column::Id.is_in(action_ids))
            .all(db)
            .await?
    };
    let my_vote = match viewer.user_id() {
        Some(u) => agenda_vote::Entity::find_by_id((m.id, u))
            .one(db)
            .await?
            .map(|v| v.agenda_item_id),
        None => None,
    };
    Ok(Agenda {
        items,
        problems: problems.into_iter().map(|p| (p.id, p)).collect(),
        actions: actions.into_iter().map(|a| (a.id, a)).collect(),
        my_vote,
    })
}

fn title_text(raw: &str, what: &str, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "the {what} must be 1 to {max} characters"
        )));
    }
    Ok(t.to_owned())
}

fn notes_text(raw: Option<String>, max: usize) -> AppResult<Option<String>> {
    match raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(AppError::bad_input(format!(
            "the notes are too long: keep them under {max} characters"
        ))),
        other => Ok(other),
    }
}

fn open_for_changes(m: &meeting::Model, what: &str) -> AppResult<()> {
    if m.status == MeetingStatus::Cancelled {
        return Err(AppError::bad_input(format!(
            "this meeting was cancelled, so {what}: use the beat's next meeting"
        )));
    }
    if m.ends_at <= now() {
        return Err(AppError::bad_input(format!(
            "this meeting is over, so {what}: use the beat's next meeting"
        )));
    }
    Ok(())
}

async fn next_position(
    db: &impl ConnectionTrait,
    meeting_id: Uuid,
    section: AgendaSection,
) -> AppResult<i32> {
    let max: Option<Option<i32>> = agenda_item::Entity::find()
        .select_only()
        .column_as(Expr::col(agenda_item::Column::Position).max(), "p")
        .filter(agenda_item::Column::MeetingId.eq(meeting_id))
        .filter(agenda_item::Column::Section.eq(section))
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().map_or(0, |p| p + 10))
}

/// A manual agenda item from staff.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// The meeting.
    pub meeting_id: Uuid,
    /// Its section.
    pub section: AgendaSection,
    /// Title.
    pub title: String,
    /// Notes.
    pub notes: Option<String>,
    /// A problem it is about.
    pub problem_id: Option<Uuid>,
    /// Idempotency key.
    pub idempotency_key: String,
}

/// Adds a manual item at the end of its section (staff who manage the beat).
pub async fn add_item(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    input: NewItem,
) -> AppResult<agenda_item::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let m = meetings::get_managed(db, viewer, input.meeting_id).await?;
    let hash = idem::fingerprint(&input);
    let title = title_text(&input.title, "title", 300)?;
    let notes = notes_text(input.notes, 4000)?;
    if let Some(pid) = input.problem_id {
        problem::Entity::find_by_id(pid)
            .filter(policy::public_problems())
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("problem", pid))?;
    }
    ensure_generated(db, &m).await?;
    if let Some(id) = idem::replay(db, p.id, "addAgendaItem", &key, &hash).await? {
        return get_item(db, id).await;
    }
    let at = now();
    let position = next_position(db, m.id, input.section).await?;
    let mut i = item(m.id, input.section, title, notes, position, at);
    i.kind = AgendaItemKind::Manual;
    i.problem_id = input.problem_id;
    i.proposed_by = Some(p.id);
    let txn = db.begin().await?;
    let i = i.into_active_model().insert(&txn).await?;
    idem::remember(&txn, p.id, "addAgendaItem", &key, &hash, i.id).await?;
    txn.commit().await?;
    Ok(i)
}

async fn get_item(db: &impl ConnectionTrait, id: Uuid) -> AppResult<agenda_item::Model> {
    agenda_item::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("agenda item", id))
}

/// Removes an item from the agenda (staff); it stays visible to staff as removed.
pub async fn remove_item(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<agenda_item::Model> {
    let i = get_item(db, id).await?;
    meetings::get_managed(db, viewer, i.meeting_id).await?;
    let mut active = i.into_active_model();
    active.set(agenda_item::Column::Removed, true.into());
    active.set(agenda_item::Column::UpdatedAt, now().into());
    Ok(active.update(db).await?)
}

/// Puts the items of one section in the given order (staff). Every listed id must be
/// an item of that section; items not listed keep their order after the listed ones.
pub async fn reorder(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    meeting_id: Uuid,
    section: AgendaSection,
    order: Vec<Uuid>,
) -> AppResult<()> {
    let m = meetings::get_managed(db, viewer, meeting_id).await?;
    ensure_generated(db, &m).await?;
    let mut items = agenda_item::Entity::find()
        .filter(agenda_item::Column::MeetingId.eq(m.id))
        .filter(agenda_item::Column::Section.eq(section))
        .all(db)
        .await?;
    let ids: HashSet<Uuid> = items.iter().map(|i| i.id).collect();
    let unique: HashSet<Uuid> = order.iter().copied().collect();
    if unique.len() != order.len() {
        return Err(AppError::bad_input(
            "an item is listed twice in `itemIds`: list each item once",
        ));
    }
    if let Some(stray) = order.iter().find(|id| !ids.contains(id)) {
        return Err(AppError::bad_input(format!(
            "item {stray} is not in this section of this meeting's agenda: list only items of \
             the section you reorder"
        )));
    }
    items.sort_by_key(|i| {
        (
            order.iter().position(|o| *o == i.id).unwrap_or(usize::MAX),
            i.position,
            i.created_at,
        )
    });
    let at = now();
    let txn = db.begin().await?;
    for (n, i) in items.into_iter().enumerate() {
        let position = i32::try_from(n * 10).unwrap_or(i32::MAX);
        if i.position != position {
            agenda_item::Entity::update_many()
                .col_expr(agenda_item::Column::Position, Expr::value(position))
                .col_expr(agenda_item::Column::UpdatedAt, Expr::value(at))
                .filter(agenda_item::Column::Id.eq(i.id))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// A resident's proposal of a problem for the agenda.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The meeting.
    pub meeting_id: Uuid,
    /// The problem.
    pub problem_id: Uuid,
    /// Why it matters.
    pub note: Option<String>,
    /// Idempotency key.
    pub idempotency_key: String,
}

/// Proposes a problem of the beat for the PRIORITIES section (any signed-in user).
pub async fn propose(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    input: Proposal,
) -> AppResult<agenda_item::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let hash = idem::fingerprint(&input);
    let m = meetings::get(db, input.meeting_id).await?;
    open_for_changes(&m, "it takes no proposals")?;
    let note = notes_text(input.note, 2000)?;
    let problem = problem::Entity::find_by_id(input.problem_id)
        .filter(policy::public_problems())
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("problem", input.problem_id))?;
    if problem.beat_id != m.beat_id {
        return Err(AppError::bad_input(
            "this problem is in another beat: propose it for a meeting of its own beat",
        ));
    }
    ensure_generated(db, &m).await?;
    if let Some(id) = idem::replay(db, p.id, "proposeAgendaItem", &key, &hash).await? {
        return get_item(db, id).await;
    }
    let already = agenda_item::Entity::find()
        .filter(agenda_item::Column::MeetingId.eq(m.id))
        .filter(agenda_item::Column::ProblemId.eq(problem.id))
        .filter(agenda_item::Column::Removed.eq(false))
        .one(db)
        .await?;
    if already.is_some() {
        return Err(AppError::conflict(format!(
            "{} is already on this meeting's agenda: vote for it instead",
            problem.reference
        )));
    }
    let at = now();
    let mut i = item(
        m.id,
        AgendaSection::Priorities,
        format!("{}: {}", problem.reference, problem.title),
        note,
        next_position(db, m.id, AgendaSection::Priorities).await?,
        at,
    );
    i.kind = AgendaItemKind::Proposed;
    i.problem_id = Some(problem.id);
    i.proposed_by = Some(p.id);
    let txn = db.begin().await?;
    let i = i.into_active_model().insert(&txn).await?;
    idem::remember(&txn, p.id, "proposeAgendaItem", &key, &hash, i.id).await?;
    txn.commit().await?;
    Ok(i)
}

/// Votes for a priority (one vote per person per meeting).
pub async fn vote(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    item_id: Uuid,
) -> AppResult<agenda_item::Model> {
    let p = viewer.principal()?;
    let i = get_item(db, item_id).await?;
    if i.removed {
        return Err(AppError::bad_input(
            "this item was removed from the agenda: vote for another priority",
        ));
    }
    if i.section != AgendaSection::Priorities {
        return Err(AppError::bad_input(
            "only items under PRIORITIES can be voted for: choose a priority",
        ));
    }
    let m = meetings::get(db, i.meeting_id).await?;
    open_for_changes(&m, "it takes no votes")?;
    let txn = db.begin().await?;
    let inserted = agenda_vote::Entity::insert(
        agenda_vote::Model {
            meeting_id: m.id,
            user_id: p.id,
            agenda_item_id: i.id,
            created_at: now(),
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([agenda_vote::Column::MeetingId, agenda_vote::Column::UserId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Err(AppError::conflict(
            "you have already voted at this meeting: each person has one vote per meeting",
        ));
    }
    agenda_item::Entity::update_many()
        .col_expr(
            agenda_item::Column::VoteCount,
            Expr::col(agenda_item::Column::VoteCount).add(1),
        )
        .filter(agenda_item::Column::Id.eq(i.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    get_item(db, i.id).await
}

/// Publishes (or replaces) a meeting's minutes (staff, once it has started).
pub async fn publish_minutes(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    meeting_id: Uuid,
    body: &str,
    decisions: Vec<String>,
) -> AppResult<meeting_minutes::Model> {
    let p = viewer.principal()?;
    let m = meetings::get_managed(db, viewer, meeting_id).await?;
    if m.status == MeetingStatus::Cancelled {
        return Err(AppError::bad_input(
            "this meeting was cancelled: there are no minutes to publish",
        ));
    }
    if m.starts_at > now() {
        return Err(AppError::bad_input(
            "this meeting has not started yet: publish its minutes after it takes place",
        ));
    }
    let body = title_text(body, "minutes text", 50_000)?;
    let decisions = decisions
        .iter()
        .map(|d| title_text(d, "decision", 1000))
        .collect::<AppResult<Vec<_>>>()?;
    let row = meeting_minutes::Model {
        meeting_id: m.id,
        body,
        decisions: serde_json::json!(decisions),
        published_by: Some(p.id),
        published_at: now(),
    };
    meeting_minutes::Entity::insert(row.clone().into_active_model())
        .on_conflict(
            OnConflict::column(meeting_minutes::Column::MeetingId)
                .update_columns([
                    meeting_minutes::Column::Body,
                    meeting_minutes::Column::Decisions,
                    meeting_minutes::Column::PublishedBy,
                    meeting_minutes::Column::PublishedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// A new action item.
#[derive(Debug, Clone)]
pub struct NewAction {
    /// The meeting where it was agreed.
    pub meeting_id: Option<Uuid>,
    /// The SARA record it serves.
    pub sara_record_id: Option<Uuid>,
    /// The problem it addresses.
    pub problem_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Kind of owner.
    pub owner_kind: ActionOwnerKind,
    /// Owning user (officer or resident community contact).
    pub owner_user_id: Option<Uuid>,
    /// Owning partner organisation.
    pub owner_partner_id: Option<Uuid>,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Idempotency key.
    pub idempotency_key: String,
}

/// The beat (and precinct) an action belongs to: its meeting's, or its SARA record's.
async fn action_beat(
    db: &impl ConnectionTrait,
    meeting_id: Option<Uuid>,
    sara_record_id: Option<Uuid>,
) -> AppResult<beat::Model> {
    let beat_id = match (meeting_id, sara_record_id) {
        (Some(mid), _) => meetings::get(db, mid).await?.beat_id,
        (None, Some(sid)) => {
            sara_record::Entity::find_by_id(sid)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("SARA record", sid))?
                .beat_id
        }
        (None, None) => {
            return Err(AppError::bad_input(
                "say where the action was agreed: give `meetingId` or `saraRecordId`",
            ));
        }
    };
    beat::Entity::find_by_id(beat_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("beat", beat_id))
}

/// Who is notified of an action: its user, or the members of its partner.
async fn owners_to_notify(
    db: &impl ConnectionTrait,
    a: &action_item::Model,
) -> AppResult<Vec<Uuid>> {
    let mut people: Vec<Uuid> = a.owner_user_id.into_iter().collect();
    if let Some(org) = a.owner_partner_id {
        let members: Vec<Uuid> = partner_member::Entity::find()
            .select_only()
            .column(partner_member::Column::UserId)
            .filter(partner_member::Column::PartnerId.eq(org))
            .into_tuple()
            .all(db)
            .await?;
        people.extend(members);
    }
    Ok(people)
}

/// Creates an action item (staff who manage the beat) and notifies its owner.
pub async fn create_action(
    db: &(impl ConnectionTrait + TransactionTrait),
    events: &dyn EventBus,
    viewer: &Viewer,
    input: NewAction,
) -> AppResult<action_item::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let hash = idem::fingerprint(&input);
    let b = action_beat(db, input.meeting_id, input.sara_record_id).await?;
    policy::require_manage_beat(viewer, b.id, b.precinct_id)?;
    let title = title_text(&input.title, "title", 300)?;
    let description = notes_text(input.description.clone(), 4000)?;
    // The owner must be of the kind given.
    match input.owner_kind {
        ActionOwnerKind::Partner => {
            let Some(org) = input.owner_partner_id else {
                return Err(AppError::bad_input(
                    "a PARTNER action needs `ownerPartnerId`: the partner organisation that owns it",
                ));
            };
            if input.owner_user_id.is_some() {
                return Err(AppError::bad_input(
                    "a PARTNER action is owned by the organisation: omit `ownerUserId`",
                ));
            }
            partner_organization::Entity::find_by_id(org)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("partner organisation", org))?;
        }
        ActionOwnerKind::Officer | ActionOwnerKind::Resident => {
            let Some(uid) = input.owner_user_id else {
                return Err(AppError::bad_input(
                    "an OFFICER or RESIDENT action needs `ownerUserId`: the person who owns it",
                ));
            };
            if input.owner_partner_id.is_some() {
                return Err(AppError::bad_input(
                    "an OFFICER or RESIDENT action is owned by a person: omit `ownerPartnerId`",
                ));
            }
            let u = user::Entity::find_by_id(uid)
                .filter(user::Column::DeletedAt.is_null())
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found("user", uid))?;
            let fits = match input.owner_kind {
                ActionOwnerKind::Officer => {
                    matches!(u.role, UserRole::Officer | UserRole::Captain)
                }
                _ => u.role == UserRole::Resident,
            };
            if !fits {
                return Err(AppError::bad_input(
                    "the owner's account does not match `ownerKind`: OFFICER for an officer or \
                     captain, RESIDENT for a resident community contact",
                ));
            }
        }
    }
    if let Some(pid) = input.problem_id {
        problem::Entity::find_by_id(pid)
            .filter(policy::public_problems())
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("problem", pid))?;
    }
    if let Some(due) = input.due_on
        && due < now().date_naive()
    {
        return Err(AppError::bad_input(
            "the due date is in the past: choose today or a later date",
        ));
    }
    if let Some(id) = idem::replay(db, p.id, "createActionItem", &key, &hash).await? {
        return get_action(db, id).await;
    }
    let at = now();
    let a = action_item::Model {
        id: Uuid::now_v7(),
        meeting_id: input.meeting_id,
        problem_id: input.problem_id,
        sara_record_id: input.sara_record_id,
        title,
        description,
        owner_kind: input.owner_kind,
        owner_user_id: input.owner_user_id,
        owner_partner_id: input.owner_partner_id,
        due_on: input.due_on,
        status: ActionStatus::Open,
        created_by: Some(p.id),
        created_at: at,
        updated_at: at,
        completed_at: None,
    };
    let txn = db.begin().await?;
    a.clone().into_active_model().insert(&txn).await?;
    let recipients = owners_to_notify(&txn, &a).await?;
    let written = notify::enqueue(
        &txn,
        Notice {
            kind: NoticeKind::ActionItemAssigned,
            recipients,
            actor: Some(p.id),
            problem_id: a.problem_id,
            meeting_id: a.meeting_id,
            params: serde_json::json!({
                "title": a.title,
                "due": a.due_on.map(|d| format!("Due {d}")).unwrap_or_default(),
                "actionItemId": a.id.to_string(),
            }),
        },
    )
    .await?;
    idem::remember(&txn, p.id, "createActionItem", &key, &hash, a.id).await?;
    txn.commit().await?;
    publish_notifications(events, &written);
    Ok(a)
}

/// One action item.
pub async fn get_action(db: &impl ConnectionTrait, id: Uuid) -> AppResult<action_item::Model> {
    action_item::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("action item", id))
}

/// Changes to an action item.
#[derive(Debug, Clone, Default)]
pub struct ActionChange {
    /// New status.
    pub status: Option<ActionStatus>,
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New due date.
    pub due_on: Option<NaiveDate>,
}

/// Updates an action item (its owner, or staff who manage the beat).
pub async fn update_action(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
    change: ActionChange,
) -> AppResult<action_item::Model> {
    let a = get_action(db, id).await?;
    let b = action_beat(db, a.meeting_id, a.sara_record_id).await?;
    policy::require_update_action_item(
        viewer,
        a.owner_user_id,
        a.owner_partner_id,
        b.id,
        b.precinct_id,
    )?;
    let mut active = a.clone().into_active_model();
    let at = now();
    if let Some(t) = &change.title {
        active.set(
            action_item::Column::Title,
            title_text(t, "title", 300)?.into(),
        );
    }
    if let Some(d) = change.description {
        active.set(
            action_item::Column::Description,
            notes_text(Some(d), 4000)?.into(),
        );
    }
    if let Some(due) = change.due_on {
        active.set(action_item::Column::DueOn, Some(due).into());
    }
    if let Some(s) = change.status {
        active.set(action_item::Column::Status, s.into());
        let completed = (s == ActionStatus::Done).then_some(a.completed_at.unwrap_or(at));
        active.set(action_item::Column::CompletedAt, completed.into());
    }
    active.set(action_item::Column::UpdatedAt, at.into());
    Ok(active.update(db).await?)
}

/// Action items agreed at a meeting, oldest first.
pub async fn actions_of_meeting(
    db: &impl ConnectionTrait,
    meeting_id: Uuid,
) -> AppResult<Vec<action_item::Model>> {
    Ok(action_item::Entity::find()
        .filter(action_item::Column::MeetingId.eq(meeting_id))
        .order_by_asc(action_item::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Open action items of a beat (from its meetings and SARA records), oldest first.
pub async fn open_actions_of_beat(
    db: &impl ConnectionTrait,
    beat_id: Uuid,
) -> AppResult<Vec<action_item::Model>> {
    use sea_orm::sea_query::Query;
    Ok(action_item::Entity::find()
        .filter(
            Condition::any()
                .add(
                    action_item::Column::MeetingId.in_subquery(
                        Query::select()
                            .column(meeting::Column::Id)
                            .from(meeting::Entity)
                            .and_where(Expr::col(meeting::Column::BeatId).eq(beat_id))
                            .to_owned(),
                    ),
                )
                .add(
                    action_item::Column::SaraRecordId.in_subquery(
                        Query::select()
                            .column(sara_record::Column::Id)
                            .from(sara_record::Entity)
                            .and_where(Expr::col(sara_record::Column::BeatId).eq(beat_id))
                            .to_owned(),
                    ),
                ),
        )
        .filter(action_item::Column::Status.is_in(OPEN_ACTIONS))
        .order_by_asc(action_item::Column::CreatedAt)
        .all(db)
        .await?)
}
