//! Agendas, minutes and action items in the API.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{action_item, agenda_item, meeting_minutes, problem};

use crate::api::loaders::load_err;
use crate::api::meeting_loaders::MeetingKey;
use crate::api::meetings::meeting_loaders;
use crate::api::types::{PartnerOrganization, Problem};
use crate::api::{parse_id, to_id};
use crate::context::{api, loaders, viewer};
use crate::domain::agenda::{self, ActionChange, Agenda, ItemRef, NewAction, NewItem, Proposal};

/// A section of the CAPS agenda, in meeting order.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::AgendaSection")]
pub enum AgendaSection {
    /// 1. Welcome and introductions.
    Welcome,
    /// 2. Report back on the problems and actions chosen at earlier meetings.
    ReportBack,
    /// 3. Current conditions: trends and new chronic problems.
    CurrentConditions,
    /// 4. Choose priorities for the beat plan.
    Priorities,
    /// 5. Strategies: who does what, by when.
    Strategies,
    /// 6. Next meeting date and working groups.
    NextMeeting,
}

/// How an agenda item came about.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::AgendaItemKind")]
pub enum AgendaItemKind {
    /// Built by Beatline from the beat's data.
    Generated,
    /// Added by staff.
    Manual,
    /// Proposed by a resident.
    Proposed,
}

/// Where an action item stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ActionStatus")]
pub enum ActionStatus {
    /// Not started; carried onto every later agenda.
    Open,
    /// Under way; carried onto every later agenda.
    InProgress,
    /// Done.
    Done,
    /// Dropped.
    Cancelled,
}

/// Who owns an action item.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ActionOwnerKind")]
pub enum ActionOwnerKind {
    /// A police officer or captain.
    Officer,
    /// A partner organisation.
    Partner,
    /// A resident community contact.
    Resident,
}

/// An item on a meeting's agenda.
pub struct AgendaItem {
    row: agenda_item::Model,
    problem: Option<problem::Model>,
    action: Option<action_item::Model>,
    voted: bool,
}

/// An item on a meeting's agenda.
#[Object]
impl AgendaItem {
    /// Stable id of the item (the same before and after the agenda is stored); pass it
    /// unchanged to `voteAgendaItem`, `removeAgendaItem` and `reorderAgendaItems`.
    async fn id(&self) -> ID {
        ID(ItemRef::encode(&self.row))
    }
    /// Its section.
    async fn section(&self) -> AgendaSection {
        self.row.section.into()
    }
    /// How it came about.
    async fn kind(&self) -> AgendaItemKind {
        self.row.kind.into()
    }
    /// Title, e.g. "BL-2026-000123: Streetlight out on Harbor St".
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// Notes: for report-back items, the progress since the problem or action was
    /// chosen; for priorities, support and age.
    async fn notes(&self) -> Option<&str> {
        self.row.notes.as_deref()
    }
    /// Order within the section (lower first).
    async fn position(&self) -> i32 {
        self.row.position
    }
    /// The problem it is about, when it is about one the viewer may see.
    async fn problem(&self) -> Option<Problem> {
        self.problem.clone().map(Problem)
    }
    /// The action item it reports on.
    async fn action_item(&self) -> Option<ActionItem> {
        self.action.clone().map(ActionItem)
    }
    /// Votes it received.
    async fn vote_count(&self) -> i32 {
        self.row.vote_count
    }
    /// Whether the signed-in user voted for it.
    async fn voted_by_me(&self) -> bool {
        self.voted
    }
    /// Whether staff removed it (only staff see removed items).
    async fn removed(&self) -> bool {
        self.row.removed
    }
}

impl AgendaItem {
    fn bare(row: agenda_item::Model) -> Self {
        Self {
            row,
            problem: None,
            action: None,
            voted: false,
        }
    }
}

fn agenda_items(a: &Agenda, include_removed: bool) -> Vec<AgendaItem> {
    a.shown(include_removed)
        .map(|row| AgendaItem {
            problem: row.problem_id.and_then(|p| a.problems.get(&p).cloned()),
            action: row.action_item_id.and_then(|x| a.actions.get(&x).cloned()),
            voted: a.my_vote == Some(row.id),
            row: row.clone(),
        })
        .collect()
}

/// The agenda of a meeting for the viewer (used by `Meeting.agenda`), through the
/// request's agenda loader, which a list of meetings primes in one batch.
pub async fn meeting_agenda(
    ctx: &Context<'_>,
    meeting: &entity::meeting::Model,
    include_removed: bool,
) -> Result<Vec<AgendaItem>> {
    let viewer = viewer(ctx).await?;
    let loaded = meeting_loaders(ctx)?
        .agendas(viewer)
        .load_one(MeetingKey(meeting.clone()))
        .await
        .map_err(load_err)?
        .unwrap_or_default();
    Ok(agenda_items(&loaded, include_removed))
}

/// The agenda of a meeting as it is after a change (not from the request's cache).
async fn fresh_agenda(
    ctx: &Context<'_>,
    meeting: &entity::meeting::Model,
) -> Result<Vec<AgendaItem>> {
    let viewer = viewer(ctx).await?;
    let a = agenda::agenda(&api(ctx)?.db, viewer, meeting).await?;
    Ok(agenda_items(&a, false))
}

/// Published minutes of a meeting.
pub struct MeetingMinutes(pub meeting_minutes::Model);

/// Published minutes of a meeting.
#[Object]
impl MeetingMinutes {
    /// The minutes text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Decisions taken, one per entry.
    async fn decisions(&self) -> Vec<String> {
        serde_json::from_value(self.0.decisions.clone()).unwrap_or_default()
    }
    /// When they were (last) published.
    async fn published_at(&self) -> DateTime<Utc> {
        self.0.published_at
    }
}

/// Minutes of a meeting, if published (used by `Meeting.minutes`).
pub async fn meeting_minutes(
    ctx: &Context<'_>,
    meeting_id: uuid::Uuid,
) -> Result<Option<MeetingMinutes>> {
    let loaded = crate::api::meetings::meeting_loaders(ctx)?
        .minutes
        .load_one(meeting_id)
        .await;
    Ok(loaded.map_err(load_err)?.flatten().map(MeetingMinutes))
}

/// Action items agreed at a meeting (used by `Meeting.actionItems`).
pub async fn meeting_actions(ctx: &Context<'_>, meeting_id: uuid::Uuid) -> Result<Vec<ActionItem>> {
    let loaded = meeting_loaders(ctx)?.actions.load_one(meeting_id).await;
    let rows = loaded.map_err(load_err)?.unwrap_or_default();
    Ok(rows.into_iter().map(ActionItem).collect())
}

/// Something agreed at a meeting: who does what, by when.
pub struct ActionItem(pub action_item::Model);

/// Something agreed at a meeting: who does what, by when.
#[Object]
impl ActionItem {
    /// Stable id of the action.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// What is to be done.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Details.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Where it stands.
    async fn status(&self) -> ActionStatus {
        self.0.status.into()
    }
    /// Who owns it.
    async fn owner_kind(&self) -> ActionOwnerKind {
        self.0.owner_kind.into()
    }
    /// Id of the owning officer or resident community contact.
    async fn owner_user_id(&self) -> Option<ID> {
        self.0.owner_user_id.map(to_id)
    }
    /// The owning partner organisation.
    async fn owner_partner(&self, ctx: &Context<'_>) -> Result<Option<PartnerOrganization>> {
        let Some(id) = self.0.owner_partner_id else {
            return Ok(None);
        };
        let loaded = loaders(ctx)?.partners.load_one(id).await;
        Ok(loaded.map_err(load_err)?.map(PartnerOrganization))
    }
    /// When it is due.
    async fn due_on(&self) -> Option<NaiveDate> {
        self.0.due_on
    }
    /// Id of the meeting where it was agreed.
    async fn meeting_id(&self) -> Option<ID> {
        self.0.meeting_id.map(to_id)
    }
    /// Id of the problem it addresses.
    async fn problem_id(&self) -> Option<ID> {
        self.0.problem_id.map(to_id)
    }
    /// Id of the SARA record it serves.
    async fn sara_record_id(&self) -> Option<ID> {
        self.0.sara_record_id.map(to_id)
    }
    /// When it was agreed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was done.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
}

/// A manual agenda item.
#[derive(InputObject)]
pub struct AddAgendaItemInput {
    /// The meeting.
    pub meeting_id: ID,
    /// The section it belongs in.
    pub section: AgendaSection,
    /// Title.
    pub title: String,
    /// Notes.
    pub notes: Option<String>,
    /// A problem it is about.
    pub problem_id: Option<ID>,
    /// A fresh key (e.g. a UUID) per new item; resend it unchanged when retrying.
    pub idempotency_key: String,
}

/// A resident's proposal of a problem for a meeting's priorities.
#[derive(InputObject)]
pub struct ProposeAgendaItemInput {
    /// The meeting.
    pub meeting_id: ID,
    /// The problem (of the meeting's beat).
    pub problem_id: ID,
    /// Why it matters.
    pub note: Option<String>,
    /// A fresh key (e.g. a UUID) per new proposal; resend it unchanged when retrying.
    pub idempotency_key: String,
}

/// A new action item: give `meetingId` or `saraRecordId`, and the owner matching
/// `ownerKind`.
#[derive(InputObject)]
pub struct CreateActionItemInput {
    /// The meeting where it was agreed.
    pub meeting_id: Option<ID>,
    /// The SARA record it serves.
    pub sara_record_id: Option<ID>,
    /// The problem it addresses.
    pub problem_id: Option<ID>,
    /// What is to be done.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Who owns it.
    pub owner_kind: ActionOwnerKind,
    /// The owning officer (OFFICER) or resident community contact (RESIDENT).
    pub owner_user_id: Option<ID>,
    /// The owning partner organisation (PARTNER).
    pub owner_partner_id: Option<ID>,
    /// When it is due (today or later).
    pub due_on: Option<NaiveDate>,
    /// A fresh key (e.g. a UUID) per new action; resend it unchanged when retrying.
    pub idempotency_key: String,
}

/// Changes to an action item; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateActionItemInput {
    /// The action.
    pub id: ID,
    /// New status.
    pub status: Option<ActionStatus>,
    /// New title.
    pub title: Option<String>,
    /// New details.
    pub description: Option<String>,
    /// New due date.
    pub due_on: Option<NaiveDate>,
}

/// Agendas and actions.
#[derive(Default)]
pub struct AgendaQuery;

/// Agendas and actions.
#[Object]
impl AgendaQuery {
    /// The open actions of a beat (from its meetings and SARA records), oldest first.
    async fn open_action_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the beat.")] beat_id: ID,
    ) -> Result<Vec<ActionItem>> {
        let id = parse_id(&beat_id, "beat")?;
        let rows = agenda::open_actions_of_beat(&api(ctx)?.db, id).await?;
        Ok(rows.into_iter().map(ActionItem).collect())
    }
}

/// Building agendas, minutes and actions.
#[derive(Default)]
pub struct AgendaMutation;

/// Building agendas, minutes and actions.
#[Object]
impl AgendaMutation {
    /// Adds a manual item at the end of a section (staff who manage the beat).
    async fn add_agenda_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item.")] input: AddAgendaItemInput,
    ) -> Result<AgendaItem> {
        let viewer = viewer(ctx).await?;
        let item = NewItem {
            meeting_id: parse_id(&input.meeting_id, "meeting")?,
            section: input.section.into(),
            title: input.title,
            notes: input.notes,
            problem_id: input
                .problem_id
                .map(|p| parse_id(&p, "problem"))
                .transpose()?,
            idempotency_key: input.idempotency_key,
        };
        let row = agenda::add_item(&api(ctx)?.db, viewer, item).await?;
        Ok(AgendaItem::bare(row))
    }

    /// Removes an item from the agenda (staff who manage the beat).
    async fn remove_agenda_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item.")] id: ID,
    ) -> Result<AgendaItem> {
        let viewer = viewer(ctx).await?;
        let id = ItemRef::parse(id.as_str())?;
        Ok(AgendaItem::bare(
            agenda::remove_item(&api(ctx)?.db, viewer, id).await?,
        ))
    }

    /// Puts the items of one section in the given order (staff who manage the beat);
    /// returns the whole agenda.
    async fn reorder_agenda_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] meeting_id: ID,
        #[graphql(desc = "The section to reorder.")] section: AgendaSection,
        #[graphql(desc = "Items of the section in their new order.")] item_ids: Vec<ID>,
    ) -> Result<Vec<AgendaItem>> {
        let viewer = viewer(ctx).await?;
        let api = api(ctx)?;
        let mid = parse_id(&meeting_id, "meeting")?;
        let order = item_ids
            .iter()
            .map(|i| ItemRef::parse(i.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        agenda::reorder(&api.db, viewer, mid, section.into(), order).await?;
        let m = crate::domain::meetings::get(&api.db, mid).await?;
        fresh_agenda(ctx, &m).await
    }

    /// Stores a meeting's agenda as it shows now, with what the beat's data has newly
    /// added (staff, before the meeting), so those items stay even if they stop
    /// qualifying; returns the agenda. (Reads always show what qualifies now.)
    async fn refresh_agenda(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] meeting_id: ID,
    ) -> Result<Vec<AgendaItem>> {
        let viewer = viewer(ctx).await?;
        let mid = parse_id(&meeting_id, "meeting")?;
        let m = agenda::refresh(&api(ctx)?.db, viewer, mid).await?;
        fresh_agenda(ctx, &m).await
    }

    /// Proposes a problem of the beat for a meeting's priorities (any signed-in user).
    async fn propose_agenda_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The proposal.")] input: ProposeAgendaItemInput,
    ) -> Result<AgendaItem> {
        let viewer = viewer(ctx).await?;
        let proposal = Proposal {
            meeting_id: parse_id(&input.meeting_id, "meeting")?,
            problem_id: parse_id(&input.problem_id, "problem")?,
            note: input.note,
            idempotency_key: input.idempotency_key,
        };
        Ok(AgendaItem::bare(
            agenda::propose(&api(ctx)?.db, viewer, proposal).await?,
        ))
    }

    /// Votes for a priority; each person has one vote per meeting.
    async fn vote_agenda_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The agenda item (under PRIORITIES).")] id: ID,
    ) -> Result<AgendaItem> {
        let viewer = viewer(ctx).await?;
        let id = ItemRef::parse(id.as_str())?;
        let mut item = AgendaItem::bare(agenda::vote(&api(ctx)?.db, viewer, id).await?);
        item.voted = true;
        Ok(item)
    }

    /// Publishes (or replaces) a meeting's minutes (staff, once it has started).
    async fn publish_minutes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] meeting_id: ID,
        #[graphql(desc = "The minutes text.")] body: String,
        #[graphql(desc = "Decisions taken, one per entry.")] decisions: Option<Vec<String>>,
    ) -> Result<MeetingMinutes> {
        let viewer = viewer(ctx).await?;
        let mid = parse_id(&meeting_id, "meeting")?;
        let row = agenda::publish_minutes(
            &api(ctx)?.db,
            viewer,
            mid,
            &body,
            decisions.unwrap_or_default(),
        )
        .await?;
        Ok(MeetingMinutes(row))
    }

    /// Creates an action item (staff who manage the beat); its owner is notified.
    async fn create_action_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The action.")] input: CreateActionItemInput,
    ) -> Result<ActionItem> {
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let id = |v: Option<ID>, what| v.map(|v| parse_id(&v, what)).transpose();
        let new = NewAction {
            meeting_id: id(input.meeting_id, "meeting")?,
            sara_record_id: id(input.sara_record_id, "SARA record")?,
            problem_id: id(input.problem_id, "problem")?,
            title: input.title,
            description: input.description,
            owner_kind: input.owner_kind.into(),
            owner_user_id: id(input.owner_user_id, "user")?,
            owner_partner_id: id(input.owner_partner_id, "partner organisation")?,
            due_on: input.due_on,
            idempotency_key: input.idempotency_key,
        };
        let row = agenda::create_action(&api.db, api.events.as_ref(), viewer, new).await?;
        Ok(ActionItem(row))
    }

    /// Updates an action item (its owner, or staff who manage the beat).
    async fn update_action_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateActionItemInput,
    ) -> Result<ActionItem> {
        let viewer = viewer(ctx).await?;
        let id = parse_id(&input.id, "action item")?;
        let change = ActionChange {
            status: input.status.map(Into::into),
            title: input.title,
            description: input.description,
            due_on: input.due_on,
        };
        Ok(ActionItem(
            agenda::update_action(&api(ctx)?.db, viewer, id, change).await?,
        ))
    }
}
