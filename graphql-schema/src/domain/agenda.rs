//! The meeting agenda, in the CAPS shape (welcome; report back; current conditions;
//! priorities; strategies; next meeting), built from the beat's data, plus staff's
//! manual items and residents' proposals and votes; minutes; and action items, which
//! stay on every later agenda until done.
//!
//! Reading an agenda writes nothing. The *generated* items (report-back on the actions
//! and problems of earlier meetings, the trend of reports, chronic problems, the beat's
//! top open problems, the fixed items) are computed on every read from the data as it
//! is, and merged with what is stored. An agenda is stored by the first change to it (an
//! item added, proposed, voted for, moved or removed, a refresh, the minutes): in the
//! transaction of that change, the generated items the agenda showed are written too, so
//! that what people voted on and what staff arranged stays put. While the meeting is
//! upcoming, reads of a stored agenda still add what has newly qualified (a new open
//! action, a newly top-ranked problem) after the stored items of its section, and the
//! next change stores those as well; once the meeting has started, a stored agenda is
//! kept as it is. (An agenda that was never changed is computed from the current data
//! even after its meeting, until its minutes are published.)
//!
//! A generated item's id is derived from its meeting and a stable key (the action,
//! problem or SARA record it is about, or which fixed item it is), so it has the same id
//! on every read and once stored, and two requests storing one agenda at once write each
//! item once (`ON CONFLICT DO NOTHING` on the id). The WELCOME item's id is the
//! meeting's own: its row marks a stored agenda.
//!
//! The agendas of a page of meetings are computed together ([`agendas`]), in a fixed
//! number of statements whatever the number of meetings.

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
use sea_orm::sea_query::{
    Asterisk, Expr, ExprTrait as _, OnConflict, Order, Query, SelectStatement, WindowStatement,
};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult as _, IntoActiveModel as _, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait as _, TransactionSession as _, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::auth::{Viewer, policy};
use crate::domain::events::EventBus;
use crate::domain::idempotency::{self, Begin, Claim, Created, IdempotencyKey, IdempotentRequest};
use crate::domain::meetings::{self, distance_m, local_when, publish_notifications};
use crate::domain::notify::{self, Notice, NoticeKind};
use crate::domain::now;
use crate::error::{AppError, AppResult};

/// How many open problems the PRIORITIES section ranks.
pub const TOP_PROBLEMS: u64 = 10;
/// How many similar open reports in one place make a chronic problem.
pub const CHRONIC_MIN_REPORTS: usize = 3;
/// How far back chronic problems are looked for.
pub const CHRONIC_WINDOW_DAYS: i64 = 90;
/// The most open problems per beat examined for chronic clusters.
const CHRONIC_MAX_PROBLEMS_PER_BEAT: u64 = 2000;

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

/// An agenda with what its items refer to.
#[derive(Debug, Clone, Default)]
pub struct Agenda {
    /// Every item, stored or generated now, removed ones included, in CAPS order, then
    /// by position.
    pub items: Vec<agenda_item::Model>,
    /// The problems referred to that the viewer may see.
    pub problems: HashMap<Uuid, problem::Model>,
    /// The action items referred to.
    pub actions: HashMap<Uuid, action_item::Model>,
    /// The item the viewer voted for, if any.
    pub my_vote: Option<Uuid>,
    /// Whether the viewer manages the meeting's beat (and may see removed items).
    pub managed: bool,
}

impl Agenda {
    /// The items to show: removed ones only to staff of the beat who ask for them.
    pub fn shown(&self, include_removed: bool) -> impl Iterator<Item = &agenda_item::Model> {
        let with_removed = include_removed && self.managed;
        self.items
            .iter()
            .filter(move |i| with_removed || !i.removed)
    }
}

/// How the API names an agenda item: its meeting and its id, as `<meeting>:<item>`.
/// Generated items are not stored until their agenda changes, so only the meeting can
/// find them; a bare item id (the earlier form) still names a stored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef {
    /// The meeting, when the name carries it.
    pub meeting_id: Option<Uuid>,
    /// The item.
    pub item_id: Uuid,
}

impl ItemRef {
    /// The name of an item.
    pub fn encode(item: &agenda_item::Model) -> String {
        format!("{}:{}", item.meeting_id, item.id)
    }

    /// Parses a name the API handed out.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let bad = || {
            AppError::bad_input(format!(
                "{raw:?} is not a valid agenda item id: use the `id` of an item of \
                 `Meeting.agenda` unchanged"
            ))
        };
        match raw.split_once(':') {
            Some((meeting, item)) => Ok(Self {
                meeting_id: Some(Uuid::parse_str(meeting).map_err(|_| bad())?),
                item_id: Uuid::parse_str(item).map_err(|_| bad())?,
            }),
            None => Ok(Self {
                meeting_id: None,
                item_id: Uuid::parse_str(raw).map_err(|_| bad())?,
            }),
        }
    }
}

impl std::fmt::Display for ItemRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.meeting_id {
            Some(m) => write!(f, "{m}:{}", self.item_id),
            None => write!(f, "{}", self.item_id),
        }
    }
}

/// The id of a generated item: derived from its meeting and its key, so it is the same
/// on every read and once stored.
fn generated_id(meeting_id: Uuid, key: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(meeting_id.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    for (b, d) in bytes.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn item(
    meeting_id: Uuid,
    id: Uuid,
    section: AgendaSection,
    title: String,
    notes: Option<String>,
    position: i32,
    at: DateTime<Utc>,
) -> agenda_item::Model {
    agenda_item::Model {
        id,
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

/// Whether a meeting's agenda is stored: its WELCOME item, whose id is the meeting's, is
/// written first and never deleted.
fn is_stored(m: &meeting::Model, items: &[agenda_item::Model]) -> bool {
    items.iter().any(|i| i.id == m.id)
}

/// Whether the data still adds to a meeting's agenda: always until it is stored, and
/// while the meeting is upcoming.
fn takes_generated(m: &meeting::Model, items: &[agenda_item::Model], at: DateTime<Utc>) -> bool {
    !is_stored(m, items) || (m.status == MeetingStatus::Scheduled && m.starts_at > at)
}

/// A meeting's agenda before it is shown: what is stored, and what the data adds now.
#[derive(Debug, Clone, Default)]
struct Plan {
    /// Stored items.
    stored: Vec<agenda_item::Model>,
    /// Generated items that are not stored (yet).
    generated: Vec<agenda_item::Model>,
}

impl Plan {
    fn items(&self) -> impl Iterator<Item = &agenda_item::Model> {
        self.stored.iter().chain(&self.generated)
    }

    fn find(&self, id: Uuid) -> Option<&agenda_item::Model> {
        self.items().find(|i| i.id == id)
    }
}

/// A scheduled meeting of one of the beats: (id, beat, start, time zone).
type BeatMeeting = (Uuid, Uuid, DateTime<Utc>, String);

/// What the generated items of several meetings are built from, read in a fixed number
/// of statements whatever the number of meetings.
struct Sources {
    at: DateTime<Utc>,
    /// Scheduled meetings of the beats, soonest first.
    meetings: Vec<BeatMeeting>,
    /// SARA records of the beats, oldest first.
    saras: Vec<sara_record::Model>,
    /// Open actions, and actions done lately, of the beats' meetings and SARA records.
    actions: Vec<action_item::Model>,
    /// Problems chosen at the beats' meetings: (problem, meeting).
    chosen: Vec<(Uuid, Uuid)>,
    /// The chosen problems (those anyone may see), oldest first.
    reported: Vec<problem::Model>,
    /// Their status changes, oldest first.
    events: Vec<problem_event::Model>,
    /// Reports in the recent window and the one before it, by meeting (for agendas
    /// generated for the first time).
    trends: HashMap<Uuid, (i64, i64, i64)>,
    /// Recent open problems, for chronic clusters, oldest first.
    open: Vec<problem::Model>,
    /// Their categories.
    categories: HashMap<Uuid, category::Model>,
    /// The top open problems of each beat, ranked.
    top: HashMap<Uuid, Vec<problem::Model>>,
}

impl Sources {
    /// The scheduled meetings of `m`'s beat before it, latest first.
    fn earlier<'a>(&'a self, m: &'a meeting::Model) -> impl Iterator<Item = &'a BeatMeeting> {
        self.meetings
            .iter()
            .rev()
            .filter(move |(_, b, t, _)| *b == m.beat_id && *t < m.starts_at)
    }

    /// Since when `m` reports back: the previous meeting, or 30 days before it.
    fn since(&self, m: &meeting::Model) -> DateTime<Utc> {
        self.earlier(m)
            .next()
            .map_or(m.starts_at - TimeDelta::days(30), |(_, _, t, _)| *t)
    }

    /// The recent window of the trend item: (from, to) of the recent part; the part
    /// before it is as long and ends where it starts.
    fn trend_window(&self, m: &meeting::Model) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = std::cmp::min(m.starts_at, self.at);
        let window = end - self.since(m);
        let window = if window <= TimeDelta::zero() {
            TimeDelta::days(30)
        } else {
            window
        };
        (end - window, end)
    }

    async fn load(
        db: &impl ConnectionTrait,
        need: &[&meeting::Model],
        first: &[&meeting::Model],
        at: DateTime<Utc>,
    ) -> AppResult<Self> {
        let beats: BTreeSet<Uuid> = need.iter().map(|m| m.beat_id).collect();
        let latest = need.iter().map(|m| m.starts_at).max().unwrap_or(at);
        let meetings: Vec<BeatMeeting> = meeting::Entity::find()
            .select_only()
            .column(meeting::Column::Id)
            .column(meeting::Column::BeatId)
            .column(meeting::Column::StartsAt)
            .column(meeting::Column::TimeZone)
            .filter(meeting::Column::BeatId.is_in(beats.iter().copied()))
            .filter(meeting::Column::Status.eq(MeetingStatus::Scheduled))
            .order_by_asc(meeting::Column::StartsAt)
            .order_by_asc(meeting::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        let mut sources = Self {
            at,
            meetings,
            saras: Vec::new(),
            actions: Vec::new(),
            chosen: Vec::new(),
            reported: Vec::new(),
            events: Vec::new(),
            trends: HashMap::new(),
            open: Vec::new(),
            categories: HashMap::new(),
            top: HashMap::new(),
        };
        // The beats' meetings that are earlier than some meeting asked for.
        let earlier_meetings = || -> SelectStatement {
            Query::select()
                .column(meeting::Column::Id)
                .from(meeting::Entity)
                .and_where(meeting::Column::BeatId.is_in(beats.iter().copied()))
                .and_where(meeting::Column::Status.eq(MeetingStatus::Scheduled))
                .and_where(meeting::Column::StartsAt.lt(latest))
                .to_owned()
        };
        sources.saras = sara_record::Entity::find()
            .filter(sara_record::Column::BeatId.is_in(beats.iter().copied()))
            .order_by_asc(sara_record::Column::CreatedAt)
            .order_by_asc(sara_record::Column::Id)
            .all(db)
            .await?;
        let done_since = need.iter().map(|m| sources.since(m)).min().unwrap_or(at);
        sources.actions = action_item::Entity::find()
            .filter(
                Condition::any()
                    .add(action_item::Column::MeetingId.in_subquery(earlier_meetings()))
                    .add(
                        action_item::Column::SaraRecordId.in_subquery(
                            Query::select()
                                .column(sara_record::Column::Id)
                                .from(sara_record::Entity)
                                .and_where(sara_record::Column::BeatId.is_in(beats.iter().copied()))
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
                            .add(action_item::Column::CompletedAt.gte(done_since)),
                    ),
            )
            .filter(action_item::Column::CreatedAt.lt(latest))
            .order_by_asc(action_item::Column::CreatedAt)
            .order_by_asc(action_item::Column::Id)
            .all(db)
            .await?;
        // Problems chosen at earlier meetings: added by staff, proposed by residents, or
        // voted for (a generated candidate nobody voted for was not chosen).
        sources.chosen = agenda_item::Entity::find()
            .select_only()
            .column(agenda_item::Column::ProblemId)
            .column(agenda_item::Column::MeetingId)
            .filter(agenda_item::Column::MeetingId.in_subquery(earlier_meetings()))
            .filter(agenda_item::Column::Section.eq(AgendaSection::Priorities))
            .filter(agenda_item::Column::Removed.eq(false))
            .filter(agenda_item::Column::ProblemId.is_not_null())
            .filter(
                Condition::any()
                    .add(agenda_item::Column::Kind.ne(AgendaItemKind::Generated))
                    .add(agenda_item::Column::VoteCount.gt(0)),
            )
            .into_tuple()
            .all(db)
            .await?;
        let chosen_ids: BTreeSet<Uuid> = sources.chosen.iter().map(|(p, _)| *p).collect();
        sources.reported = problem::Entity::find()
            .filter(problem::Column::Id.is_in(chosen_ids.iter().copied()))
            .filter(policy::public_problems())
            .order_by_asc(problem::Column::CreatedAt)
            .order_by_asc(problem::Column::Id)
            .all(db)
            .await?;
        sources.events = problem_event::Entity::find()
            .filter(problem_event::Column::ProblemId.is_in(sources.reported.iter().map(|p| p.id)))
            .filter(
                problem_event::Column::Kind
                    .is_in([ProblemEventKind::StatusChanged, ProblemEventKind::Reopened]),
            )
            .order_by_asc(problem_event::Column::CreatedAt)
            .order_by_asc(problem_event::Column::Id)
            .all(db)
            .await?;
        sources.trends = sources.load_trends(db, first, &beats).await?;
        let open_limit = CHRONIC_MAX_PROBLEMS_PER_BEAT.saturating_mul(beats.len() as u64);
        sources.open = problem::Entity::find()
            .filter(problem::Column::BeatId.is_in(beats.iter().copied()))
            .filter(policy::public_problems())
            .filter(problem::Column::Status.is_in(OPEN))
            .filter(problem::Column::CreatedAt.gte(at - TimeDelta::days(CHRONIC_WINDOW_DAYS)))
            .order_by_asc(problem::Column::CreatedAt)
            .order_by_asc(problem::Column::Id)
            .limit(open_limit)
            .all(db)
            .await?;
        let category_ids: BTreeSet<Uuid> = sources.open.iter().map(|p| p.category_id).collect();
        sources.categories = category::Entity::find()
            .filter(category::Column::Id.is_in(category_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        for p in top_problems(db, &beats).await? {
            sources.top.entry(p.beat_id).or_default().push(p);
        }
        Ok(sources)
    }

    /// Counts the reports of the recent window and the one before it for each meeting
    /// in `first`, in one statement.
    async fn load_trends(
        &self,
        db: &impl ConnectionTrait,
        first: &[&meeting::Model],
        beats: &BTreeSet<Uuid>,
    ) -> AppResult<HashMap<Uuid, (i64, i64, i64)>> {
        let mut select = Query::select();
        select
            .expr_as(Expr::col(Asterisk).count(), "total")
            .from(problem::Entity)
            .cond_where(
                Condition::all()
                    .add(problem::Column::BeatId.is_in(beats.iter().copied()))
                    .add(policy::public_problems()),
            );
        let mut windows = Vec::new();
        for (n, m) in first.iter().enumerate() {
            let (from, to) = self.trend_window(m);
            let before_from = from - (to - from);
            for (part, (a, b)) in [(from, to), (before_from, from)].into_iter().enumerate() {
                let counted: Expr = Expr::case(
                    Condition::all()
                        .add(problem::Column::BeatId.eq(m.beat_id))
                        .add(problem::Column::CreatedAt.gte(a))
                        .add(problem::Column::CreatedAt.lt(b)),
                    Expr::val(1),
                )
                .into();
                select.expr_as(counted.count(), format!("c{n}_{part}"));
            }
            windows.push((m.id, (to - from).num_days()));
        }
        let backend = db.get_database_backend();
        let row = db.query_one_raw(backend.build(&select)).await?;
        let mut out = HashMap::new();
        if let Some(row) = row {
            for (n, (id, days)) in windows.into_iter().enumerate() {
                let recent: i64 = row.try_get("", &format!("c{n}_0"))?;
                let before: i64 = row.try_get("", &format!("c{n}_1"))?;
                out.insert(id, (recent, before, days));
            }
        }
        Ok(out)
    }

    /// The items the data calls for on `m`'s agenda now, without the ones `existing`
    /// already has. `first` when the agenda is not stored yet: the fixed items (welcome,
    /// trend, SARA records, strategies, next meeting) come with the first generation.
    fn generate(
        &self,
        m: &meeting::Model,
        existing: &[agenda_item::Model],
        first: bool,
    ) -> Vec<agenda_item::Model> {
        let at = self.at;
        let mut out = Vec::new();
        let have_id: HashSet<Uuid> = existing.iter().map(|i| i.id).collect();
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
        let key = |k: String| generated_id(m.id, &k);

        if first {
            out.push(item(
                m.id,
                m.id, // the mark of a stored agenda: see the module documentation
                AgendaSection::Welcome,
                "Welcome and introductions".into(),
                Some("Residents, beat officers and partners introduce themselves.".into()),
                pos(AgendaSection::Welcome),
                at,
            ));
        }

        // Report back: open actions of earlier meetings and of the beat's SARA records,
        // and actions done since the previous meeting.
        let since = self.since(m);
        let earlier: HashSet<Uuid> = self.earlier(m).map(|(id, _, _, _)| *id).collect();
        let beat_saras: HashSet<Uuid> = self
            .saras
            .iter()
            .filter(|s| s.beat_id == m.beat_id)
            .map(|s| s.id)
            .collect();
        for a in &self.actions {
            let of_beat = a.meeting_id.is_some_and(|id| earlier.contains(&id))
                || a.sara_record_id.is_some_and(|id| beat_saras.contains(&id));
            let reported = OPEN_ACTIONS.contains(&a.status)
                || (a.status == ActionStatus::Done && a.completed_at.is_some_and(|c| c >= since));
            if !of_beat || !reported || a.created_at >= m.starts_at || have_action.contains(&a.id) {
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
                key(format!("action:{}", a.id)),
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

        // Problems chosen at earlier meetings, with their progress since then.
        let meeting_start: HashMap<Uuid, DateTime<Utc>> =
            self.earlier(m).map(|(id, _, t, _)| (*id, *t)).collect();
        let mut chosen_at: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
        for (problem_id, meeting_id) in &self.chosen {
            if let Some(t) = meeting_start.get(meeting_id) {
                let e = chosen_at.entry(*problem_id).or_insert(*t);
                *e = std::cmp::min(*e, *t);
            }
        }
        chosen_at.retain(|p, _| !have_problem.contains(p));
        let mut reported_ids = HashSet::new();
        for p in &self.reported {
            let Some(chosen) = chosen_at.get(&p.id) else {
                continue;
            };
            let changes: Vec<&problem_event::Model> = self
                .events
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
                key(format!("report:{}", p.id)),
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
        if first {
            for s in self
                .saras
                .iter()
                .filter(|s| s.beat_id == m.beat_id && s.stage != SaraStage::Closed)
            {
                let section = if s.stage == SaraStage::Response {
                    AgendaSection::Strategies
                } else {
                    AgendaSection::ReportBack
                };
                out.push(item(
                    m.id,
                    key(format!("sara:{}", s.id)),
                    section,
                    format!("Beat plan priority: {}", s.title),
                    Some(format!("SARA stage: {:?}.", s.stage).to_uppercase()),
                    pos(section),
                    at,
                ));
            }
        }

        // Current conditions: the trend of reports, and new chronic problems.
        if first && let Some((recent, before, days)) = self.trends.get(&m.id) {
            let days = std::cmp::max(*days, 1);
            out.push(item(
                m.id,
                key("conditions".into()),
                AgendaSection::CurrentConditions,
                format!(
                    "{recent} new reports in the last {days} days (the {days} days before: \
                     {before})"
                ),
                None,
                pos(AgendaSection::CurrentConditions),
                at,
            ));
        }
        let open: Vec<problem::Model> = self
            .open
            .iter()
            .filter(|p| p.beat_id == m.beat_id)
            .cloned()
            .collect();
        for cluster in chronic_clusters(&open, &self.categories) {
            let Some(seed) = cluster.first() else {
                continue;
            };
            if have_problem.contains(&seed.id) || reported_ids.contains(&seed.id) {
                continue;
            }
            let cat = self
                .categories
                .get(&seed.category_id)
                .map_or("similar problems", |c| c.name.as_str());
            let place = seed
                .address
                .clone()
                .unwrap_or_else(|| format!("{:.4}, {:.4}", seed.lat, seed.lon));
            let refs: Vec<&str> = cluster.iter().map(|p| p.reference.as_str()).collect();
            let mut i = item(
                m.id,
                key(format!("chronic:{}", seed.id)),
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
        for p in self.top.get(&m.beat_id).into_iter().flatten() {
            if have_problem.contains(&p.id) || reported_ids.contains(&p.id) {
                continue;
            }
            let age = (at - p.created_at).num_days();
            let mut i = item(
                m.id,
                key(format!("priority:{}", p.id)),
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
                key("strategies".into()),
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
            let next = self
                .meetings
                .iter()
                .find(|(_, b, t, _)| *b == m.beat_id && *t > m.starts_at);
            let title = match next {
                Some((_, _, t, zone)) => {
                    let mut n = m.clone();
                    n.starts_at = *t;
                    n.time_zone.clone_from(zone);
                    format!("Next meeting: {}", local_when(&n))
                }
                None => "Set the date of the next meeting".into(),
            };
            out.push(item(
                m.id,
                key("next-meeting".into()),
                AgendaSection::NextMeeting,
                title,
                Some("Working groups report on their next steps.".into()),
                pos(AgendaSection::NextMeeting),
                at,
            ));
        }
        out.retain(|i| !have_id.contains(&i.id));
        out
    }
}

/// The [`TOP_PROBLEMS`] open problems of each beat (that anyone may see, not
/// duplicates), by support, then age, in one statement (a window function).
async fn top_problems(
    db: &impl ConnectionTrait,
    beats: &BTreeSet<Uuid>,
) -> AppResult<Vec<problem::Model>> {
    let mut ranked = problem::Entity::find()
        .filter(problem::Column::BeatId.is_in(beats.iter().copied()))
        .filter(policy::public_problems())
        .filter(problem::Column::Status.is_in(OPEN))
        .filter(problem::Column::DuplicateOfId.is_null())
        .into_query();
    let mut window = WindowStatement::partition_by((problem::Entity, problem::Column::BeatId));
    window
        .order_by(
            (problem::Entity, problem::Column::SupportCount),
            Order::Desc,
        )
        .order_by((problem::Entity, problem::Column::CreatedAt), Order::Asc)
        .order_by((problem::Entity, problem::Column::Id), Order::Asc);
    ranked.expr_window_as(Expr::cust("ROW_NUMBER()"), window, "rank_in_beat");
    let top = Query::select()
        .column(Asterisk)
        .from_subquery(ranked, "ranked")
        .and_where(Expr::col("rank_in_beat").lte(TOP_PROBLEMS))
        .order_by("beat_id", Order::Asc)
        .order_by("rank_in_beat", Order::Asc)
        .to_owned();
    let backend = db.get_database_backend();
    Ok(problem::Model::find_by_statement(backend.build(&top))
        .all(db)
        .await?)
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

/// The agendas of `ms` as they are now: stored items and generated ones. SELECTs only,
/// a fixed number of them whatever the number of meetings.
async fn plans(db: &impl ConnectionTrait, ms: &[meeting::Model]) -> AppResult<HashMap<Uuid, Plan>> {
    let at = now();
    let rows = agenda_item::Entity::find()
        .filter(agenda_item::Column::MeetingId.is_in(ms.iter().map(|m| m.id)))
        .all(db)
        .await?;
    let mut stored: HashMap<Uuid, Vec<agenda_item::Model>> = HashMap::new();
    for r in rows {
        stored.entry(r.meeting_id).or_default().push(r);
    }
    let none = Vec::new();
    let existing = |m: &meeting::Model| stored.get(&m.id).unwrap_or(&none);
    let need: Vec<&meeting::Model> = ms
        .iter()
        .filter(|m| takes_generated(m, existing(m), at))
        .collect();
    let first: Vec<&meeting::Model> = need
        .iter()
        .copied()
        .filter(|m| !is_stored(m, existing(m)))
        .collect();
    let sources = if need.is_empty() {
        None
    } else {
        Some(Sources::load(db, &need, &first, at).await?)
    };
    let mut out = HashMap::new();
    for m in ms {
        let items = existing(m);
        let generated = match &sources {
            Some(s) if takes_generated(m, items, at) => s.generate(m, items, !is_stored(m, items)),
            _ => Vec::new(),
        };
        out.insert(
            m.id,
            Plan {
                stored: items.clone(),
                generated,
            },
        );
    }
    Ok(out)
}

async fn plan_of(db: &impl ConnectionTrait, m: &meeting::Model) -> AppResult<Plan> {
    Ok(plans(db, std::slice::from_ref(m))
        .await?
        .remove(&m.id)
        .unwrap_or_default())
}

/// Stores generated items in the caller's transaction; an item another request stored
/// meanwhile is left as it is.
async fn store_generated(db: &impl ConnectionTrait, items: &[agenda_item::Model]) -> AppResult<()> {
    for chunk in items.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        agenda_item::Entity::insert_many(chunk.iter().cloned().map(|i| i.into_active_model()))
            .on_conflict(
                OnConflict::column(agenda_item::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The agendas of several meetings as the viewer sees them, computed together (SELECTs
/// only, a fixed number of them whatever the number of meetings).
pub async fn agendas(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    ms: &[meeting::Model],
) -> AppResult<HashMap<Uuid, Agenda>> {
    let mut plans = plans(db, ms).await?;
    let beats: HashMap<Uuid, beat::Model> = beat::Entity::find()
        .filter(beat::Column::Id.is_in(ms.iter().map(|m| m.beat_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let problem_ids: BTreeSet<Uuid> = plans
        .values()
        .flat_map(Plan::items)
        .filter_map(|i| i.problem_id)
        .collect();
    let action_ids: BTreeSet<Uuid> = plans
        .values()
        .flat_map(Plan::items)
        .filter_map(|i| i.action_item_id)
        .collect();
    let problems: HashMap<Uuid, problem::Model> = problem::Entity::find()
        .filter(problem::Column::Id.is_in(problem_ids))
        .filter(policy::visible_problems(viewer))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let actions: HashMap<Uuid, action_item::Model> = action_item::Entity::find()
        .filter(action_item::Column::Id.is_in(action_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let votes: HashMap<Uuid, Uuid> = match viewer.user_id() {
        Some(u) => agenda_vote::Entity::find()
            .filter(agenda_vote::Column::MeetingId.is_in(ms.iter().map(|m| m.id)))
            .filter(agenda_vote::Column::UserId.eq(u))
            .all(db)
            .await?
            .into_iter()
            .map(|v| (v.meeting_id, v.agenda_item_id))
            .collect(),
        None => HashMap::new(),
    };
    let mut out = HashMap::new();
    for m in ms {
        let plan = plans.remove(&m.id).unwrap_or_default();
        let mut items: Vec<agenda_item::Model> =
            plan.stored.into_iter().chain(plan.generated).collect();
        items.sort_by_key(|i| (section_rank(i.section), i.position, i.created_at, i.id));
        let agenda = Agenda {
            problems: items
                .iter()
                .filter_map(|i| i.problem_id)
                .filter_map(|p| problems.get(&p).map(|row| (p, row.clone())))
                .collect(),
            actions: items
                .iter()
                .filter_map(|i| i.action_item_id)
                .filter_map(|a| actions.get(&a).map(|row| (a, row.clone())))
                .collect(),
            my_vote: votes.get(&m.id).copied(),
            managed: beats
                .get(&m.beat_id)
                .is_some_and(|b| policy::can_manage_beat(viewer, b.id, b.precinct_id)),
            items,
        };
        out.insert(m.id, agenda);
    }
    Ok(out)
}

/// The agenda of one meeting as the viewer sees it (SELECTs only).
pub async fn agenda(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    m: &meeting::Model,
) -> AppResult<Agenda> {
    Ok(agendas(db, viewer, std::slice::from_ref(m))
        .await?
        .remove(&m.id)
        .unwrap_or_default())
}

/// Stores the agenda as it shows now, so that it stays as it is (staff, before the
/// meeting starts). Reads already show what has newly qualified.
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
    let plan = plan_of(db, &m).await?;
    // Reads are done: the transaction starts with a write (on SQLite a transaction that
    // reads first fails when another connection wrote in between).
    let txn = crate::domain::begin_write(db).await?;
    store_generated(&txn, &plan.generated).await?;
    txn.commit().await?;
    Ok(m)
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

/// The position after the last stored item of a section (run after the agenda was
/// stored, in the same transaction).
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
#[derive(Debug, Clone, Serialize)]
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
    /// Idempotency key (not part of the request's fingerprint).
    #[serde(skip)]
    pub idempotency_key: String,
}

/// Adds a manual item at the end of its section (staff who manage the beat).
pub async fn add_item(
    db: &impl Begin,
    viewer: &Viewer,
    input: NewItem,
) -> AppResult<agenda_item::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let m = meetings::get_managed(db, viewer, input.meeting_id).await?;
    let request = IdempotentRequest::new(p.id, "addAgendaItem", key, &input)?;
    let title = title_text(&input.title, "title", 300)?;
    let notes = notes_text(input.notes, 4000)?;
    if let Some(pid) = input.problem_id {
        problem::Entity::find_by_id(pid)
            .filter(policy::public_problems())
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("problem", pid))?;
    }
    let plan = plan_of(db, &m).await?;
    let txn = match idempotency::claim::<Created>(db, &request).await? {
        Claim::Replay(done) => return get_item(db, done.id).await,
        Claim::Fresh(txn) => txn,
    };
    store_generated(&txn, &plan.generated).await?;
    let at = now();
    let position = next_position(&txn, m.id, input.section).await?;
    let mut i = item(
        m.id,
        Uuid::now_v7(),
        input.section,
        title,
        notes,
        position,
        at,
    );
    i.kind = AgendaItemKind::Manual;
    i.problem_id = input.problem_id;
    i.proposed_by = Some(p.id);
    let i = i.into_active_model().insert(&txn).await?;
    idempotency::complete(txn, &request, &Created { id: i.id }).await?;
    Ok(i)
}

async fn get_item(db: &impl ConnectionTrait, id: Uuid) -> AppResult<agenda_item::Model> {
    agenda_item::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("agenda item", id))
}

/// The meeting an item belongs to: named by the item, or found by its stored row.
async fn meeting_of(db: &impl ConnectionTrait, r: ItemRef) -> AppResult<Uuid> {
    match r.meeting_id {
        Some(m) => Ok(m),
        None => Ok(get_item(db, r.item_id).await?.meeting_id),
    }
}

/// The item of a plan, or NOT_FOUND when it is not (or no longer) on the agenda.
fn item_in(plan: &Plan, r: ItemRef) -> AppResult<agenda_item::Model> {
    plan.find(r.item_id).cloned().ok_or_else(|| {
        AppError::NotFound(format!(
            "no agenda item {r} on this meeting's agenda (a generated item leaves it when what \
             it is about no longer qualifies): reload the agenda"
        ))
    })
}

/// Removes an item from the agenda (staff); it stays visible to staff as removed.
pub async fn remove_item(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    r: ItemRef,
) -> AppResult<agenda_item::Model> {
    let meeting_id = meeting_of(db, r).await?;
    let m = meetings::get_managed(db, viewer, meeting_id).await?;
    let plan = plan_of(db, &m).await?;
    let mut i = item_in(&plan, r)?;
    let at = now();
    let txn = crate::domain::begin_write(db).await?;
    store_generated(&txn, &plan.generated).await?;
    agenda_item::Entity::update_many()
        .col_expr(agenda_item::Column::Removed, Expr::value(true))
        .col_expr(agenda_item::Column::UpdatedAt, Expr::value(at))
        .filter(agenda_item::Column::Id.eq(i.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    i.removed = true;
    i.updated_at = at;
    Ok(i)
}

/// Puts the items of one section in the given order (staff). Every listed id must be
/// an item of that section; items not listed keep their order after the listed ones.
pub async fn reorder(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    meeting_id: Uuid,
    section: AgendaSection,
    order: Vec<ItemRef>,
) -> AppResult<()> {
    let m = meetings::get_managed(db, viewer, meeting_id).await?;
    let unique: HashSet<Uuid> = order.iter().map(|r| r.item_id).collect();
    if unique.len() != order.len() {
        return Err(AppError::bad_input(
            "an item is listed twice in `itemIds`: list each item once",
        ));
    }
    let plan = plan_of(db, &m).await?;
    let mut items: Vec<&agenda_item::Model> =
        plan.items().filter(|i| i.section == section).collect();
    let ids: HashSet<Uuid> = items.iter().map(|i| i.id).collect();
    if let Some(stray) = order
        .iter()
        .find(|r| !ids.contains(&r.item_id) || r.meeting_id.is_some_and(|x| x != m.id))
    {
        return Err(AppError::bad_input(format!(
            "item {stray} is not in this section of this meeting's agenda: list only items of \
             the section you reorder"
        )));
    }
    let order: Vec<Uuid> = order.iter().map(|r| r.item_id).collect();
    items.sort_by_key(|i| {
        (
            order.iter().position(|o| *o == i.id).unwrap_or(usize::MAX),
            i.position,
            i.created_at,
        )
    });
    let position: HashMap<Uuid, i32> = items
        .iter()
        .enumerate()
        .map(|(n, i)| (i.id, i32::try_from(n * 10).unwrap_or(i32::MAX)))
        .collect();
    let at = now();
    // Generated items are stored at their new place; stored ones are moved.
    let generated: Vec<agenda_item::Model> = plan
        .generated
        .iter()
        .cloned()
        .map(|mut i| {
            if let Some(p) = position.get(&i.id) {
                i.position = *p;
            }
            i
        })
        .collect();
    let txn = crate::domain::begin_write(db).await?;
    store_generated(&txn, &generated).await?;
    for i in &plan.stored {
        match position.get(&i.id) {
            Some(p) if *p != i.position => {
                agenda_item::Entity::update_many()
                    .col_expr(agenda_item::Column::Position, Expr::value(*p))
                    .col_expr(agenda_item::Column::UpdatedAt, Expr::value(at))
                    .filter(agenda_item::Column::Id.eq(i.id))
                    .exec(&txn)
                    .await?;
            }
            _ => {}
        }
    }
    txn.commit().await?;
    Ok(())
}

/// A resident's proposal of a problem for the agenda.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// The meeting.
    pub meeting_id: Uuid,
    /// The problem.
    pub problem_id: Uuid,
    /// Why it matters.
    pub note: Option<String>,
    /// Idempotency key (not part of the request's fingerprint).
    #[serde(skip)]
    pub idempotency_key: String,
}

/// Proposes a problem of the beat for the PRIORITIES section (any signed-in user).
pub async fn propose(
    db: &impl Begin,
    viewer: &Viewer,
    input: Proposal,
) -> AppResult<agenda_item::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let request = IdempotentRequest::new(p.id, "proposeAgendaItem", key, &input)?;
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
    let plan = plan_of(db, &m).await?;
    let txn = match idempotency::claim::<Created>(db, &request).await? {
        Claim::Replay(done) => return get_item(db, done.id).await,
        Claim::Fresh(txn) => txn,
    };
    if plan
        .items()
        .any(|i| i.problem_id == Some(problem.id) && !i.removed)
    {
        return Err(AppError::conflict(format!(
            "{} is already on this meeting's agenda: vote for it instead",
            problem.reference
        )));
    }
    store_generated(&txn, &plan.generated).await?;
    let at = now();
    let position = next_position(&txn, m.id, AgendaSection::Priorities).await?;
    let mut i = item(
        m.id,
        Uuid::now_v7(),
        AgendaSection::Priorities,
        format!("{}: {}", problem.reference, problem.title),
        note,
        position,
        at,
    );
    i.kind = AgendaItemKind::Proposed;
    i.problem_id = Some(problem.id);
    i.proposed_by = Some(p.id);
    let i = i.into_active_model().insert(&txn).await?;
    idempotency::complete(txn, &request, &Created { id: i.id }).await?;
    Ok(i)
}

/// Votes for a priority (one vote per person per meeting).
pub async fn vote(
    db: &(impl ConnectionTrait + TransactionTrait),
    viewer: &Viewer,
    r: ItemRef,
) -> AppResult<agenda_item::Model> {
    let p = viewer.principal()?;
    let meeting_id = meeting_of(db, r).await?;
    let m = meetings::get(db, meeting_id).await?;
    let plan = plan_of(db, &m).await?;
    let i = item_in(&plan, r)?;
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
    open_for_changes(&m, "it takes no votes")?;
    let txn = crate::domain::begin_write(db).await?;
    store_generated(&txn, &plan.generated).await?;
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

/// Publishes (or replaces) a meeting's minutes (staff, once it has started). The agenda
/// is stored as it was shown, if it was not yet.
pub async fn publish_minutes(
    db: &(impl ConnectionTrait + TransactionTrait),
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
    let plan = plan_of(db, &m).await?;
    let row = meeting_minutes::Model {
        meeting_id: m.id,
        body,
        decisions: serde_json::json!(decisions),
        published_by: Some(p.id),
        published_at: now(),
    };
    let txn = crate::domain::begin_write(db).await?;
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
        .exec_without_returning(&txn)
        .await?;
    store_generated(&txn, &plan.generated).await?;
    txn.commit().await?;
    Ok(row)
}

/// A new action item.
#[derive(Debug, Clone, Serialize)]
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
    /// Idempotency key (not part of the request's fingerprint).
    #[serde(skip)]
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
    db: &impl Begin,
    events: &dyn EventBus,
    viewer: &Viewer,
    input: NewAction,
) -> AppResult<action_item::Model> {
    let p = viewer.principal()?;
    let key = IdempotencyKey::parse(&input.idempotency_key)?;
    let request = IdempotentRequest::new(p.id, "createActionItem", key, &input)?;
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
    let txn = match idempotency::claim::<Created>(db, &request).await? {
        Claim::Replay(done) => return get_action(db, done.id).await,
        Claim::Fresh(txn) => txn,
    };
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
    idempotency::complete(txn, &request, &Created { id: a.id }).await?;
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
