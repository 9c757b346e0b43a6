//! Beat meetings in the API: scheduling (single or recurring), changes, cancellation,
//! RSVPs, attendance, following a beat, and finding meetings.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::meeting;

use crate::api::loaders::{load_err, prime_cache};
use crate::api::meeting_loaders::{MeetingKey, MeetingLoaders};
use crate::api::types::{Beat, PageInfo};
use crate::api::{parse_id, to_id};
use crate::context::{api, loaders, viewer};
use crate::domain::inputs::{LatLon, PageSize};
use crate::domain::meetings::{self, MeetingFields};
use crate::domain::{geo_index, recurrence::RecurrenceRule};
use crate::error::AppError;

/// Whether a meeting takes place.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::MeetingStatus")]
pub enum MeetingStatus {
    /// It takes place as announced.
    Scheduled,
    /// It was cancelled.
    Cancelled,
}

/// An answer to a meeting invitation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::enums::RsvpResponse")]
pub enum RsvpResponse {
    /// I will come.
    Going,
    /// I might come.
    Maybe,
    /// I will not come.
    NotGoing,
}

/// Which occurrences of a series a change or cancellation applies to.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::meetings::Scope")]
pub enum MeetingScope {
    /// This occurrence only; it becomes an exception to its series.
    ThisOccurrence,
    /// This occurrence and the ones after it: the series is split here, and calendars
    /// get a new series from this occurrence on.
    ThisAndFollowing,
    /// Every occurrence of the series that has not started (the ones that took place
    /// stay as they were). A series keeps its days: only the time of day, length, zone
    /// and details change.
    WholeSeries,
}

pub(crate) fn meeting_loaders<'a>(ctx: &Context<'a>) -> Result<&'a MeetingLoaders> {
    ctx.data::<MeetingLoaders>()
}

/// Where a meeting is held.
#[derive(SimpleObject)]
pub struct MeetingPlace {
    /// Name of the venue, e.g. "Lakeside Community Hall".
    pub name: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// Latitude of the venue, when known.
    pub lat: Option<f64>,
    /// Longitude of the venue, when known.
    pub lon: Option<f64>,
}

/// How many people answered an invitation, by answer.
#[derive(SimpleObject)]
pub struct RsvpCounts {
    /// Answered GOING.
    pub going: i64,
    /// Answered MAYBE.
    pub maybe: i64,
    /// Answered NOT_GOING.
    pub not_going: i64,
}

/// Who came to a meeting, as staff recorded it afterwards.
#[derive(SimpleObject)]
pub struct Attendance {
    /// Residents present.
    pub residents: Option<i32>,
    /// Officers present.
    pub officers: Option<i32>,
}

/// A beat community meeting (one occurrence, when it belongs to a series).
pub struct Meeting(pub meeting::Model);

/// A beat community meeting (one occurrence, when it belongs to a series).
#[Object]
impl Meeting {
    /// Stable id of the meeting.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// Title, e.g. "Beat 1011 community meeting".
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The beat the meeting is for.
    async fn beat(&self, ctx: &Context<'_>) -> Result<Beat> {
        let loaded = loaders(ctx)?.beats.load_one(self.0.beat_id).await;
        loaded
            .map_err(load_err)?
            .map(Beat)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("meeting without beat")).into())
    }
    /// When it starts.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    /// When it ends.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }
    /// IANA time zone the meeting is announced in, e.g. `America/Chicago`.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// Start in the meeting's own time zone, ISO 8601 with offset (e.g.
    /// `2026-12-08T18:30:00-06:00`).
    async fn local_starts_at(&self) -> String {
        match self.0.time_zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => self.0.starts_at.with_timezone(&tz).to_rfc3339(),
            Err(_) => self.0.starts_at.to_rfc3339(),
        }
    }
    /// Where it is held, if in person.
    async fn place(&self) -> Option<MeetingPlace> {
        let m = &self.0;
        (m.place_name.is_some() || m.place_address.is_some() || m.lat.is_some()).then(|| {
            MeetingPlace {
                name: m.place_name.clone(),
                address: m.place_address.clone(),
                lat: m.lat,
                lon: m.lon,
            }
        })
    }
    /// Link to join online, if any.
    async fn online_url(&self) -> Option<&str> {
        self.0.online_url.as_deref()
    }
    /// Languages spoken or interpreted, as tags (`en`, `es`).
    async fn languages(&self) -> Vec<String> {
        serde_json::from_value(self.0.languages.clone()).unwrap_or_default()
    }
    /// Step-free access, interpretation and the like.
    async fn accessibility_notes(&self) -> Option<&str> {
        self.0.accessibility_notes.as_deref()
    }
    /// Whether it takes place.
    async fn status(&self) -> MeetingStatus {
        self.0.status.into()
    }
    /// Id of the series this occurrence belongs to.
    async fn series_id(&self) -> Option<ID> {
        self.0.series_id.map(to_id)
    }
    /// The original start of this occurrence in its series (the iCalendar RECURRENCE-ID).
    async fn recurrence_id(&self) -> Option<DateTime<Utc>> {
        self.0.recurrence_id
    }
    /// Whether this occurrence was changed from its series.
    async fn is_exception(&self) -> bool {
        self.0.is_exception
    }
    /// Attendance recorded by staff after the meeting.
    async fn attendance(&self) -> Attendance {
        Attendance {
            residents: self.0.attendance_residents,
            officers: self.0.attendance_officers,
        }
    }
    /// How many people answered the invitation, by answer.
    async fn rsvp_counts(&self, ctx: &Context<'_>) -> Result<RsvpCounts> {
        let t = meeting_loaders(ctx)?
            .tallies
            .load_one(self.0.id)
            .await
            .map_err(load_err)?
            .unwrap_or_default();
        Ok(RsvpCounts {
            going: t.going,
            maybe: t.maybe,
            not_going: t.not_going,
        })
    }
    /// The signed-in user's own answer, if any.
    async fn my_rsvp(&self, ctx: &Context<'_>) -> Result<Option<RsvpResponse>> {
        let Some(user) = viewer(ctx).await?.user_id() else {
            return Ok(None);
        };
        let loaded = meeting_loaders(ctx)?
            .my_rsvps
            .load_one((self.0.id, user))
            .await;
        Ok(loaded.map_err(load_err)?.flatten().map(Into::into))
    }
    /// The agenda in CAPS order, built from the beat's data as it is now: report-back
    /// on earlier problems and open actions, current conditions and chronic problems,
    /// the beat's top open problems, plus manual items and residents' proposals. Reading
    /// it changes nothing; the first change to it (an item added, proposed, voted for,
    /// moved or removed) keeps the items it showed.
    async fn agenda(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include items staff removed (staff of the beat only).")]
        include_removed: Option<bool>,
    ) -> Result<Vec<crate::api::agenda::AgendaItem>> {
        crate::api::agenda::meeting_agenda(ctx, &self.0, include_removed.unwrap_or(false)).await
    }
    /// The published minutes, if any.
    async fn minutes(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::api::agenda::MeetingMinutes>> {
        crate::api::agenda::meeting_minutes(ctx, self.0.id).await
    }
    /// Action items agreed at this meeting.
    async fn action_items(&self, ctx: &Context<'_>) -> Result<Vec<crate::api::agenda::ActionItem>> {
        crate::api::agenda::meeting_actions(ctx, self.0.id).await
    }
    /// When the meeting was announced.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Version, bumped by every change; send it back as `expectedVersion` when changing
    /// the meeting.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// Loads, one batch each, the relations a page of meetings asks for, so that a page
/// costs the same number of statements whatever its size.
async fn prime_meeting_relations(ctx: &Context<'_>, rows: &[meeting::Model]) -> Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    let ids: Vec<uuid::Uuid> = rows.iter().map(|m| m.id).collect();
    let ml = meeting_loaders(ctx)?;
    if node.field("beat").exists() {
        let beats = rows.iter().map(|m| m.beat_id);
        prime_cache(&loaders(ctx)?.beats, beats)
            .await
            .map_err(load_err)?;
    }
    if node.field("rsvpCounts").exists() {
        prime_cache(&ml.tallies, ids.iter().copied())
            .await
            .map_err(load_err)?;
    }
    if node.field("minutes").exists() {
        prime_cache(&ml.minutes, ids.iter().copied())
            .await
            .map_err(load_err)?;
    }
    if node.field("actionItems").exists() {
        prime_cache(&ml.actions, ids.iter().copied())
            .await
            .map_err(load_err)?;
    }
    if node.field("agenda").exists() {
        let keys = rows.iter().cloned().map(MeetingKey);
        prime_cache(ml.agendas(viewer(ctx).await?), keys)
            .await
            .map_err(load_err)?;
    }
    if node.field("myRsvp").exists()
        && let Some(user) = viewer(ctx).await?.user_id()
    {
        let keys = ids.iter().map(|id| (*id, user));
        prime_cache(&ml.my_rsvps, keys).await.map_err(load_err)?;
    }
    Ok(())
}

/// A meeting and its place in a list.
#[derive(SimpleObject)]
pub struct MeetingEdge {
    /// The meeting.
    pub node: Meeting,
    /// Pass as `after` to continue after this meeting.
    pub cursor: String,
}

/// One page of meetings, soonest first.
#[derive(SimpleObject)]
pub struct MeetingConnection {
    /// The meetings of the page.
    pub edges: Vec<MeetingEdge>,
    /// Where the page sits in the list.
    pub page_info: PageInfo,
}

/// A point and a radius, for finding meetings nearby.
#[derive(InputObject)]
#[graphql(name = "MeetingNearInput")]
pub struct NearInput {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Radius in metres, 1 to 50000; 2000 when omitted.
    pub radius_meters: Option<f64>,
}

/// Which meetings to list; all conditions must hold.
#[derive(InputObject, Default)]
pub struct MeetingFilter {
    /// Only meetings of this beat.
    pub beat_id: Option<ID>,
    /// Only meetings of the beats that overlap this neighbourhood.
    pub neighborhood_id: Option<ID>,
    /// Only meetings that have not ended yet.
    pub upcoming: Option<bool>,
    /// Only meetings whose venue is within the radius, or held for the beat that
    /// contains the point.
    pub near: Option<NearInput>,
    /// Whether cancelled meetings are listed too (true when omitted).
    pub include_cancelled: Option<bool>,
}

/// A new meeting or series.
#[derive(InputObject)]
pub struct ScheduleMeetingInput {
    /// The beat the meeting is for.
    pub beat_id: ID,
    /// Title, e.g. "Beat 1011 community meeting".
    pub title: String,
    /// Start of the (first) meeting; must be in the future.
    pub starts_at: DateTime<Utc>,
    /// End of the (first) meeting; after the start, at most 12 hours later.
    pub ends_at: DateTime<Utc>,
    /// IANA time zone the meeting is held in, e.g. `America/Chicago`; recurrences are
    /// computed in it.
    pub time_zone: String,
    /// Name of the venue.
    pub place_name: Option<String>,
    /// Street address of the venue.
    pub place_address: Option<String>,
    /// Latitude of the venue.
    pub lat: Option<f64>,
    /// Longitude of the venue.
    pub lon: Option<f64>,
    /// Link to join online (https://...).
    pub online_url: Option<String>,
    /// Languages spoken or interpreted (`en`, `es`...); `["en"]` when omitted.
    pub languages: Option<Vec<String>>,
    /// Step-free access, interpretation and the like.
    pub accessibility_notes: Option<String>,
    /// RFC 5545 recurrence rule for a series, e.g. `FREQ=MONTHLY;BYDAY=2TU` (the second
    /// Tuesday of every month); at most daily. Occurrences are created a rolling 12
    /// months ahead.
    pub recurrence: Option<String>,
    /// A fresh key (e.g. a UUID) per new meeting; resend it unchanged when retrying.
    pub idempotency_key: String,
}

/// Changes to one meeting; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateMeetingInput {
    /// The meeting (for a series: the occurrence the change is made on; `scope` says
    /// which occurrences change).
    pub id: ID,
    /// The `version` of the meeting the change was made on. When the meeting changed
    /// since, the answer is CONFLICT with the current version in
    /// `extensions.currentVersion`, and nothing is changed.
    pub expected_version: i32,
    /// New title.
    pub title: Option<String>,
    /// New start; must be in the future.
    pub starts_at: Option<DateTime<Utc>>,
    /// New end.
    pub ends_at: Option<DateTime<Utc>>,
    /// New IANA time zone.
    pub time_zone: Option<String>,
    /// New venue name.
    pub place_name: Option<String>,
    /// New venue address.
    pub place_address: Option<String>,
    /// New venue latitude (with `lon`).
    pub lat: Option<f64>,
    /// New venue longitude (with `lat`).
    pub lon: Option<f64>,
    /// New online link.
    pub online_url: Option<String>,
    /// New languages.
    pub languages: Option<Vec<String>>,
    /// New accessibility notes.
    pub accessibility_notes: Option<String>,
    /// For an occurrence of a series: which occurrences change (THIS_OCCURRENCE when
    /// omitted). With THIS_AND_FOLLOWING or WHOLE_SERIES, a new `startsAt` must be on
    /// the same day as this occurrence: it sets the series' time of day.
    pub scope: Option<MeetingScope>,
}

/// One past meeting's attendance, for trends.
#[derive(SimpleObject)]
pub struct AttendancePoint {
    /// The meeting.
    pub meeting: Meeting,
    /// Residents recorded present.
    pub residents: Option<i32>,
    /// Officers recorded present.
    pub officers: Option<i32>,
    /// Residents who had answered GOING.
    pub rsvp_going: i64,
}

/// Beat meetings.
#[derive(Default)]
pub struct MeetingQuery;

/// Beat meetings.
#[Object]
impl MeetingQuery {
    /// One meeting.
    async fn meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the meeting.")] id: ID,
    ) -> Result<Meeting> {
        let id = parse_id(&id, "meeting")?;
        Ok(Meeting(meetings::get(&api(ctx)?.db, id).await?))
    }

    /// Meetings matching `filter`, soonest first, a page at a time.
    async fn meetings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which meetings; all when omitted.")] filter: Option<MeetingFilter>,
        #[graphql(desc = "How many meetings, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` of an earlier page).")]
        after: Option<String>,
    ) -> Result<MeetingConnection> {
        let api = api(ctx)?;
        let f = filter.unwrap_or_default();
        let id = |v: Option<ID>, what| v.map(|v| parse_id(&v, what)).transpose();
        let near = match f.near {
            Some(n) => {
                let at = LatLon::parse(n.lat, n.lon)?;
                let radius = n.radius_meters.unwrap_or(2000.0);
                if !(radius.is_finite() && (1.0..=50_000.0).contains(&radius)) {
                    return Err(AppError::bad_input(
                        "`near.radiusMeters` must be between 1 and 50000",
                    )
                    .into());
                }
                let (beat_id, _) = geo_index::locate(&api.geo, &api.db, at).await?;
                Some(meetings::Near {
                    at,
                    radius_m: radius,
                    beat_id,
                })
            }
            None => None,
        };
        let filter = meetings::MeetingFilter {
            beat_id: id(f.beat_id, "beat")?,
            neighborhood_id: id(f.neighborhood_id, "neighborhood")?,
            upcoming: f.upcoming.unwrap_or(false),
            near,
            include_cancelled: f.include_cancelled.unwrap_or(true),
        };
        let first = PageSize::parse(first)?;
        let page = meetings::list(&api.db, &filter, first, after.as_deref()).await?;
        prime_meeting_relations(ctx, &page.meetings).await?;
        let edges: Vec<MeetingEdge> = page
            .meetings
            .into_iter()
            .map(|m| MeetingEdge {
                cursor: meetings::MeetingCursor::after(&m).encode(),
                node: Meeting(m),
            })
            .collect();
        Ok(MeetingConnection {
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page: after.is_some(),
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: page.end_cursor,
            },
            edges,
        })
    }

    /// Attendance of a beat's past meetings, oldest first: the last `last` meetings
    /// (12 when omitted, at most 60).
    async fn attendance_trend(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Id of the beat.")] beat_id: ID,
        #[graphql(desc = "How many past meetings, 1 to 60; 12 when omitted.")] last: Option<i32>,
    ) -> Result<Vec<AttendancePoint>> {
        let beat_id = parse_id(&beat_id, "beat")?;
        let last = last.unwrap_or(12);
        let last = u64::try_from(last)
            .ok()
            .filter(|n| (1..=60).contains(n))
            .ok_or_else(|| AppError::bad_input("`last` must be between 1 and 60"))?;
        let rows = meetings::attendance_trend(&api(ctx)?.db, beat_id, last).await?;
        Ok(rows
            .into_iter()
            .map(|p| AttendancePoint {
                residents: p.meeting.attendance_residents,
                officers: p.meeting.attendance_officers,
                rsvp_going: p.going,
                meeting: Meeting(p.meeting),
            })
            .collect())
    }

    /// Checks a recurrence rule and returns the starts of its next occurrences (up to
    /// 12), so that apps can preview a series before scheduling it.
    async fn preview_recurrence(
        &self,
        #[graphql(desc = "RFC 5545 rule, e.g. `FREQ=MONTHLY;BYDAY=2TU`.")] recurrence: String,
        #[graphql(desc = "Start of the first meeting.")] starts_at: DateTime<Utc>,
        #[graphql(desc = "IANA time zone, e.g. `America/Chicago`.")] time_zone: String,
    ) -> Result<Vec<DateTime<Utc>>> {
        let rule = RecurrenceRule::parse(&recurrence)?;
        let tz = crate::domain::inputs::time_zone(&time_zone)?
            .parse::<chrono_tz::Tz>()
            .map_err(|_| AppError::bad_input("unknown time zone"))?;
        let until = crate::domain::recurrence::horizon(starts_at);
        let mut starts = rule.expand(starts_at, tz, until)?;
        starts.truncate(12);
        Ok(starts)
    }
}

/// Scheduling meetings and answering invitations.
#[derive(Default)]
pub struct MeetingMutation;

/// Scheduling meetings and answering invitations.
#[Object]
impl MeetingMutation {
    /// Schedules a meeting for a beat, or with `recurrence` a series. Officers of the
    /// beat, its captain and admins may. Followers of the beat are notified.
    async fn schedule_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] input: ScheduleMeetingInput,
    ) -> Result<Meeting> {
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let request = meetings::Schedule {
            beat_id: parse_id(&input.beat_id, "beat")?,
            fields: MeetingFields {
                title: Some(input.title),
                starts_at: Some(input.starts_at),
                ends_at: Some(input.ends_at),
                time_zone: Some(input.time_zone),
                place_name: input.place_name,
                place_address: input.place_address,
                lat: input.lat,
                lon: input.lon,
                online_url: input.online_url,
                languages: input.languages,
                accessibility_notes: input.accessibility_notes,
            },
            recurrence: input.recurrence,
            idempotency_key: input.idempotency_key,
        };
        let m = meetings::schedule(&api.db, api.events.as_ref(), viewer, request).await?;
        Ok(Meeting(m))
    }

    /// Changes one meeting (for a series: this occurrence, or with `scope` the ones
    /// after it or the whole series). People who follow the beat or answered the
    /// invitation are notified.
    async fn update_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateMeetingInput,
    ) -> Result<Meeting> {
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let id = parse_id(&input.id, "meeting")?;
        let fields = MeetingFields {
            title: input.title,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            time_zone: input.time_zone,
            place_name: input.place_name,
            place_address: input.place_address,
            lat: input.lat,
            lon: input.lon,
            online_url: input.online_url,
            languages: input.languages,
            accessibility_notes: input.accessibility_notes,
        };
        let m = meetings::update(
            &api.db,
            api.events.as_ref(),
            viewer,
            id,
            input.expected_version,
            fields,
            input.scope.map_or_else(Default::default, Into::into),
        )
        .await?;
        Ok(Meeting(m))
    }

    /// Cancels one meeting (for a series: this occurrence, or with `scope` the ones
    /// after it or every one that has not started; the series then ends before them).
    /// People who follow the beat or answered the invitation are notified.
    async fn cancel_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] id: ID,
        #[graphql(desc = "Why, for the notification.")] reason: Option<String>,
        #[graphql(
            desc = "For an occurrence of a series: which occurrences are cancelled \
                    (THIS_OCCURRENCE when omitted)."
        )]
        scope: Option<MeetingScope>,
    ) -> Result<Meeting> {
        let api = api(ctx)?;
        let viewer = viewer(ctx).await?;
        let id = parse_id(&id, "meeting")?;
        let scope = scope.map_or_else(Default::default, Into::into);
        let m = meetings::cancel(&api.db, api.events.as_ref(), viewer, id, reason, scope).await?;
        Ok(Meeting(m))
    }

    /// Answers a meeting invitation (replacing an earlier answer).
    async fn rsvp_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] id: ID,
        #[graphql(desc = "The answer.")] response: RsvpResponse,
    ) -> Result<Meeting> {
        let viewer = viewer(ctx).await?;
        let id = parse_id(&id, "meeting")?;
        let m = meetings::rsvp(&api(ctx)?.db, viewer, id, response.into()).await?;
        Ok(Meeting(m))
    }

    /// Records how many residents and officers came (staff of the beat, after the start).
    async fn record_attendance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The meeting.")] id: ID,
        #[graphql(desc = "Residents present.")] residents: i32,
        #[graphql(desc = "Officers present.")] officers: i32,
    ) -> Result<Meeting> {
        let viewer = viewer(ctx).await?;
        let id = parse_id(&id, "meeting")?;
        let m = meetings::record_attendance(&api(ctx)?.db, viewer, id, residents, officers).await?;
        Ok(Meeting(m))
    }

    /// Follows a beat: its new, changed and cancelled meetings are notified.
    async fn follow_beat(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The beat.")] beat_id: ID,
    ) -> Result<Beat> {
        let viewer = viewer(ctx).await?;
        let id = parse_id(&beat_id, "beat")?;
        Ok(Beat(
            meetings::follow_beat(&api(ctx)?.db, viewer, id, true).await?,
        ))
    }

    /// Stops following a beat.
    async fn unfollow_beat(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The beat.")] beat_id: ID,
    ) -> Result<Beat> {
        let viewer = viewer(ctx).await?;
        let id = parse_id(&beat_id, "beat")?;
        Ok(Beat(
            meetings::follow_beat(&api(ctx)?.db, viewer, id, false).await?,
        ))
    }
}
