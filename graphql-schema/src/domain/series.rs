//! Changing or cancelling more than one occurrence of a series: the `scope` of
//! `updateMeeting` and `cancelMeeting`, done so that the iCalendar feed stays right.
//!
//! - WHOLE_SERIES changes the series itself (calendars keep its UID): its template and
//!   every occurrence that has not started. A change of time keeps the days (the rule)
//!   and moves the time of day or the length, so the rule's instances, which name the
//!   occurrences (`recurrence_id`, the feed's RECURRENCE-ID), move with it. Occurrences
//!   that already took place keep what they were and become exceptions, so calendars
//!   keep showing them as they happened. An occurrence changed on its own (an
//!   exception) keeps its own changes and takes the values of the fields given; it
//!   follows a new time only if it had kept its original one.
//! - THIS_AND_FOLLOWING splits the series, as calendar apps do: the old series' rule ends
//!   (UNTIL, or a smaller COUNT) before the occurrence, and a new series (a new UID)
//!   starts at it with the change; the occurrence and the ones after it move to the new
//!   series. From the series' first occurrence it is the same as WHOLE_SERIES.
//! - Cancelling THIS_AND_FOLLOWING ends the rule before the occurrence and cancels it and
//!   the ones after it; cancelling the WHOLE_SERIES cancels every occurrence that has not
//!   started and ends the rule before the first of them. A series with no occurrence
//!   left is published as cancelled.
//!
//! A series keeps its days: a change of start to another day is refused (cancel the
//! series from that occurrence and schedule a new one instead). Each occurrence changed
//! gets a new version; the change goes ahead only if the occurrence it was made on is
//! still at the version the client sent, and nothing else changed meanwhile.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use entity::enums::MeetingStatus;
use entity::{meeting, meeting_series};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _,
    QueryFilter, QueryOrder, TransactionSession as _, TransactionTrait,
};
use uuid::Uuid;

use crate::domain::events::EventBus;
use crate::domain::meetings::{
    self, DETAIL_COLUMNS, Details, MeetingFields, Scope, audience, notice, parse_tz,
    publish_notifications, save_versioned,
};
use crate::domain::notify::{self, NoticeKind};
use crate::domain::now;
use crate::domain::recurrence::RecurrenceRule;
use crate::error::{AppError, AppResult};

/// `date` at `time` in `tz`: the earlier instant when clocks go back, an hour later when
/// clocks go forward over it.
fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + TimeDelta::hours(1)))
                .earliest()
        })
        .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
}

/// A series with the occurrence a change was made on.
struct Loaded {
    series: meeting_series::Model,
    rule: RecurrenceRule,
    tz: Tz,
    /// The occurrence's instance of the rule (its `recurrence_id`).
    slot: DateTime<Utc>,
    /// Every occurrence of the series, in rule order.
    rows: Vec<meeting::Model>,
}

impl Loaded {
    async fn of(db: &impl ConnectionTrait, current: &meeting::Model) -> AppResult<Self> {
        let internal = |what: &str| AppError::Internal(anyhow::anyhow!("series: {what}"));
        let series_id = current
            .series_id
            .ok_or_else(|| internal("occurrence without series"))?;
        let series = meeting_series::Entity::find_by_id(series_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("meeting series", series_id))?;
        let tz = series
            .time_zone
            .parse::<Tz>()
            .map_err(|_| internal("unknown time zone"))?;
        let rule = RecurrenceRule::parse(&series.rrule)?;
        let rows = meeting::Entity::find()
            .filter(meeting::Column::SeriesId.eq(series_id))
            .order_by_asc(meeting::Column::RecurrenceId)
            .order_by_asc(meeting::Column::Id)
            .all(db)
            .await?;
        Ok(Self {
            slot: current.recurrence_id.unwrap_or(current.starts_at),
            series,
            rule,
            tz,
            rows,
        })
    }

    /// How many instances of the rule come before `slot`.
    fn before(&self, slot: DateTime<Utc>) -> AppResult<usize> {
        Ok(self
            .rule
            .expand(self.series.first_starts_at, self.tz, slot)?
            .into_iter()
            .filter(|t| *t < slot)
            .count())
    }

    /// The series as a meeting at `slot`, for merging a change over it.
    fn template(&self, current: &meeting::Model) -> meeting::Model {
        let s = &self.series;
        let mut t = current.clone();
        t.title.clone_from(&s.title);
        t.starts_at = self.slot;
        t.ends_at = self.slot + TimeDelta::minutes(i64::from(s.duration_minutes));
        t.time_zone.clone_from(&s.time_zone);
        t.place_name.clone_from(&s.place_name);
        t.place_address.clone_from(&s.place_address);
        t.lat = s.lat;
        t.lon = s.lon;
        t.online_url.clone_from(&s.online_url);
        t.languages = s.languages.clone();
        t.accessibility_notes.clone_from(&s.accessibility_notes);
        t
    }
}

/// The series' time after a change: its zone and time of day.
struct Times {
    tz: Tz,
    time: NaiveTime,
    /// Whether the change gave a start, end or zone.
    changed: bool,
}

impl Times {
    /// Where an instance of the old rule (`old` in zone `old_tz`) is now: the same day,
    /// at the new time of day in the new zone.
    fn slot(&self, old_tz: Tz, old: DateTime<Utc>) -> DateTime<Utc> {
        if self.changed {
            at_local(self.tz, old.with_timezone(&old_tz).date_naive(), self.time)
        } else {
            old
        }
    }
}

/// The columns an occurrence's change writes.
fn row_columns() -> Vec<meeting::Column> {
    let mut columns = DETAIL_COLUMNS.to_vec();
    columns.extend([
        meeting::Column::SeriesId,
        meeting::Column::RecurrenceId,
        meeting::Column::Status,
    ]);
    columns
}

/// Writes the changed occurrences: the one the change was made on must still be at
/// `expected` (CONFLICT with its current version otherwise), the others at the version
/// read.
async fn save_rows(
    db: &impl ConnectionTrait,
    rows: &[(meeting::Model, i32)],
    addressed: Uuid,
) -> AppResult<()> {
    let columns = row_columns();
    // The addressed occurrence first: its version decides whether the change goes ahead.
    let ordered = rows
        .iter()
        .filter(|(m, _)| m.id == addressed)
        .chain(rows.iter().filter(|(m, _)| m.id != addressed));
    for (m, expected) in ordered {
        match save_versioned(db, m, *expected, &columns).await {
            Err(AppError::Conflict { .. }) if m.id != addressed => {
                return Err(AppError::conflict(
                    "another occurrence of this series changed while you were editing it: \
                     reload the series and try again",
                ));
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

fn scope_word(scope: Scope) -> &'static str {
    match scope {
        Scope::ThisOccurrence => "THIS_OCCURRENCE",
        Scope::ThisAndFollowing => "THIS_AND_FOLLOWING",
        Scope::WholeSeries => "WHOLE_SERIES",
    }
}

/// Changes `current` (upcoming, at `expected_version`, already checked) and the
/// occurrences `scope` takes in, as the module documentation describes.
pub(crate) async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    events: &dyn EventBus,
    actor: Uuid,
    current: meeting::Model,
    fields: MeetingFields,
    scope: Scope,
) -> AppResult<meeting::Model> {
    let l = Loaded::of(db, &current).await?;
    let before = l.before(l.slot)?;
    let whole = scope == Scope::WholeSeries || before == 0;
    let at = now();

    // The new time of the series, from the start, end and zone given.
    let slot_local = l.slot.with_timezone(&l.tz);
    let tz = match &fields.time_zone {
        Some(z) => parse_tz(z)?,
        None => l.tz,
    };
    let start = match fields.starts_at {
        Some(s) if s.with_timezone(&tz).date_naive() != slot_local.date_naive() => {
            return Err(AppError::bad_input(format!(
                "a series keeps its days: the new start must be on {} (the time of day may \
                 change); to move the series to other days, cancel it from this occurrence \
                 (scope THIS_AND_FOLLOWING) and schedule a new one, or move this meeting \
                 alone (scope THIS_OCCURRENCE)",
                slot_local.date_naive()
            )));
        }
        Some(s) => s,
        None => at_local(tz, slot_local.date_naive(), slot_local.time()),
    };
    let duration = match fields.ends_at {
        Some(end) => end - start,
        None => TimeDelta::minutes(i64::from(l.series.duration_minutes)),
    };
    let times = Times {
        tz,
        time: start.with_timezone(&tz).time(),
        changed: fields.starts_at.is_some()
            || fields.ends_at.is_some()
            || fields.time_zone.is_some(),
    };
    // The new template: the change merged over the series (not over this occurrence,
    // whose own changes stay its own).
    let d = Details::validate(
        MeetingFields {
            starts_at: Some(start),
            ends_at: Some(start + duration),
            time_zone: Some(tz.name().to_owned()),
            ..fields.clone()
        },
        Some(&l.template(&current)),
    )?;
    // What an exception takes: the fields given, other than times.
    let own_fields = MeetingFields {
        starts_at: None,
        ends_at: None,
        time_zone: None,
        ..fields.clone()
    };

    let series_id = if whole { l.series.id } else { Uuid::now_v7() };
    let series = meeting_series::Model {
        id: series_id,
        beat_id: l.series.beat_id,
        title: d.title.clone(),
        rrule: if whole {
            l.series.rrule.clone()
        } else {
            l.rule.continuing_after(before)?.as_str().to_owned()
        },
        first_starts_at: if whole {
            times.slot(l.tz, l.series.first_starts_at)
        } else {
            times.slot(l.tz, l.slot)
        },
        duration_minutes: i32::try_from(duration.num_minutes()).unwrap_or(i32::MAX),
        time_zone: tz.name().to_owned(),
        place_name: d.place_name.clone(),
        place_address: d.place_address.clone(),
        lat: d.lat,
        lon: d.lon,
        online_url: d.online_url.clone(),
        languages: serde_json::json!(d.languages),
        accessibility_notes: d.accessibility_notes.clone(),
        created_by: if whole {
            l.series.created_by
        } else {
            Some(actor)
        },
        created_at: if whole { l.series.created_at } else { at },
        updated_at: at,
    };

    let mut changed: Vec<(meeting::Model, i32)> = Vec::new();
    for o in &l.rows {
        let in_range = whole || o.recurrence_id.is_some_and(|r| r >= l.slot);
        if !in_range {
            continue;
        }
        let mut n = o.clone();
        n.series_id = Some(series_id);
        n.recurrence_id = o.recurrence_id.map(|r| times.slot(l.tz, r));
        let slot = n.recurrence_id.unwrap_or(o.starts_at);
        if o.status == MeetingStatus::Cancelled {
            // Only renamed: it stays an EXDATE of its series.
        } else if o.starts_at <= at {
            // It took place as it was.
            n.is_exception = true;
        } else if !o.is_exception {
            n.title.clone_from(&d.title);
            n.starts_at = slot;
            n.ends_at = slot + duration;
            n.time_zone = tz.name().to_owned();
            n.place_name.clone_from(&d.place_name);
            n.place_address.clone_from(&d.place_address);
            n.lat = d.lat;
            n.lon = d.lon;
            n.online_url.clone_from(&d.online_url);
            n.languages = serde_json::json!(d.languages);
            n.accessibility_notes.clone_from(&d.accessibility_notes);
            n.is_exception = false;
        } else {
            let e = Details::validate(own_fields.clone(), Some(o))?;
            n.title = e.title;
            n.place_name = e.place_name;
            n.place_address = e.place_address;
            n.lat = e.lat;
            n.lon = e.lon;
            n.online_url = e.online_url;
            n.languages = serde_json::json!(e.languages);
            n.accessibility_notes = e.accessibility_notes;
            if fields.time_zone.is_some() {
                n.time_zone = tz.name().to_owned();
            }
            let kept_its_time = o.recurrence_id == Some(o.starts_at);
            if o.id == current.id && fields.starts_at.is_some() {
                n.starts_at = start;
                n.ends_at = start + duration;
            } else if times.changed && kept_its_time {
                n.starts_at = slot;
                n.ends_at = slot + duration;
            }
        }
        n.updated_at = at;
        changed.push((n, o.version));
    }

    // Reads are done: the transaction starts with a write (on SQLite a transaction that
    // reads first fails when another connection wrote in between).
    let txn = crate::domain::begin_write(db).await?;
    if whole {
        series
            .clone()
            .into_active_model()
            .reset_all()
            .update(&txn)
            .await?;
    } else {
        let mut old = l.series.clone().into_active_model();
        old.set(
            meeting_series::Column::Rrule,
            l.rule.ending_before(l.slot, before)?.as_str().into(),
        );
        old.set(meeting_series::Column::UpdatedAt, at.into());
        old.update(&txn).await?;
        series.clone().into_active_model().insert(&txn).await?;
    }
    save_rows(&txn, &changed, current.id).await?;
    let upcoming: Vec<Uuid> = changed
        .iter()
        .filter(|(m, _)| m.status == MeetingStatus::Scheduled && m.starts_at > at)
        .map(|(m, _)| m.id)
        .collect();
    let updated = meetings::get(&txn, current.id).await?;
    let people = audience(&txn, updated.beat_id, &upcoming).await?;
    let mut n = notice(NoticeKind::MeetingChanged, &updated, people, actor);
    if let Some(obj) = n.params.as_object_mut() {
        obj.insert("scope".into(), scope_word(scope).into());
    }
    let written = notify::enqueue(&txn, n).await?;
    txn.commit().await?;
    publish_notifications(events, &written);
    Ok(updated)
}

/// Cancels `current` (upcoming) and the occurrences `scope` takes in, ending the rule
/// before the first of them.
pub(crate) async fn cancel(
    db: &(impl ConnectionTrait + TransactionTrait),
    events: &dyn EventBus,
    actor: Uuid,
    current: meeting::Model,
    reason: Option<String>,
    scope: Scope,
) -> AppResult<meeting::Model> {
    let l = Loaded::of(db, &current).await?;
    let at = now();
    let cut = if scope == Scope::WholeSeries {
        l.rows
            .iter()
            .filter(|o| o.starts_at > at)
            .filter_map(|o| o.recurrence_id)
            .min()
            .unwrap_or(l.slot)
    } else {
        l.slot
    };
    let ended = l.rule.ending_before(cut, l.before(cut)?)?;
    let mut changed: Vec<(meeting::Model, i32)> = Vec::new();
    for o in &l.rows {
        if o.status != MeetingStatus::Scheduled
            || o.starts_at <= at
            || o.recurrence_id.is_none_or(|r| r < cut)
        {
            continue;
        }
        let mut n = o.clone();
        n.status = MeetingStatus::Cancelled;
        n.updated_at = at;
        changed.push((n, o.version));
    }
    let txn = crate::domain::begin_write(db).await?;
    let mut series = l.series.clone().into_active_model();
    series.set(meeting_series::Column::Rrule, ended.as_str().into());
    series.set(meeting_series::Column::UpdatedAt, at.into());
    series.update(&txn).await?;
    save_rows(&txn, &changed, current.id).await?;
    let ids: Vec<Uuid> = changed.iter().map(|(m, _)| m.id).collect();
    let updated = meetings::get(&txn, current.id).await?;
    let people = audience(&txn, updated.beat_id, &ids).await?;
    let mut n = notice(NoticeKind::MeetingCancelled, &updated, people, actor);
    if let Some(obj) = n.params.as_object_mut() {
        if let Some(reason) = reason {
            obj.insert("reason".into(), reason.into());
        }
        obj.insert("scope".into(), scope_word(scope).into());
    }
    let written = notify::enqueue(&txn, n).await?;
    txn.commit().await?;
    publish_notifications(events, &written);
    Ok(updated)
}
