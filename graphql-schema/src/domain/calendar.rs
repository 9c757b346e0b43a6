//! iCalendar (RFC 5545) feeds of beat meetings, for Google, Apple and Outlook
//! calendars.
//!
//! A series is one VEVENT with its RRULE, written in its own time zone (TZID plus a
//! VTIMEZONE built from the tz database, so that 6:30 pm stays 6:30 pm across
//! daylight-saving changes); its cancelled occurrences are EXDATEs and its changed
//! occurrences are VEVENTs with the same UID and a RECURRENCE-ID. A single meeting is a
//! plain VEVENT. UIDs are derived from ids, so they are stable across fetches. Lines
//! end in CRLF and are folded at 75 octets.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Offset as _, TimeDelta, TimeZone as _, Utc};
use chrono_tz::{OffsetComponents as _, OffsetName as _, Tz};
use entity::enums::MeetingStatus;
use entity::{beat, meeting, meeting_series, neighborhood, neighborhood_beat};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::now;
use crate::error::{AppError, AppResult};

/// The feed of one beat's meetings, by beat code (e.g. `1011`).
pub async fn beat_feed(db: &impl ConnectionTrait, code: &str) -> AppResult<String> {
    let b = beat::Entity::find()
        .filter(beat::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no beat with code {code:?}")))?;
    let name = format!("Beat {} meetings ({})", b.code, b.name);
    feed(db, &[b.id], &name).await
}

/// The feed of the meetings of every beat overlapping a neighbourhood.
pub async fn neighborhood_feed(db: &impl ConnectionTrait, id: Uuid) -> AppResult<String> {
    let nb = neighborhood::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("neighborhood", id))?;
    let beats: Vec<Uuid> = neighborhood_beat::Entity::find()
        .filter(neighborhood_beat::Column::NeighborhoodId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.beat_id)
        .collect();
    let name = format!("{} beat meetings", nb.name);
    feed(db, &beats, &name).await
}

async fn feed(db: &impl ConnectionTrait, beats: &[Uuid], name: &str) -> AppResult<String> {
    let series = meeting_series::Entity::find()
        .filter(meeting_series::Column::BeatId.is_in(beats.iter().copied()))
        .order_by_asc(meeting_series::Column::Id)
        .all(db)
        .await?;
    let since = now() - TimeDelta::days(366);
    let meetings = meeting::Entity::find()
        .filter(meeting::Column::BeatId.is_in(beats.iter().copied()))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(meeting::Column::SeriesId.is_null())
                        .add(meeting::Column::EndsAt.gt(since)),
                )
                .add(
                    Condition::all()
                        .add(meeting::Column::SeriesId.is_not_null())
                        .add(
                            Condition::any()
                                .add(meeting::Column::IsException.eq(true))
                                .add(meeting::Column::Status.eq(MeetingStatus::Cancelled)),
                        ),
                ),
        )
        .order_by_asc(meeting::Column::StartsAt)
        .order_by_asc(meeting::Column::Id)
        .all(db)
        .await?;
    // A series none of whose occurrences takes place is published as cancelled.
    let live: BTreeSet<Uuid> = meeting::Entity::find()
        .select_only()
        .column(meeting::Column::SeriesId)
        .distinct()
        .filter(meeting::Column::SeriesId.is_in(series.iter().map(|s| s.id)))
        .filter(meeting::Column::Status.eq(MeetingStatus::Scheduled))
        .into_tuple::<Option<Uuid>>()
        .all(db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    Ok(render(name, &series, &meetings, &live))
}

/// Renders a calendar: `series` with their `exceptions` (changed or cancelled
/// occurrences) and single meetings, all in `meetings`; series not in `live` (none of
/// whose occurrences takes place) are cancelled.
pub fn render(
    name: &str,
    series: &[meeting_series::Model],
    meetings: &[meeting::Model],
    live: &BTreeSet<Uuid>,
) -> String {
    let mut out = Lines::default();
    out.raw("BEGIN:VCALENDAR");
    out.raw("VERSION:2.0");
    out.raw("PRODID:-//Beatline//Beat meetings//EN");
    out.raw("CALSCALE:GREGORIAN");
    out.raw("METHOD:PUBLISH");
    out.prop("X-WR-CALNAME", &escape(name));
    out.raw("REFRESH-INTERVAL;VALUE=DURATION:PT6H");
    out.raw("X-PUBLISHED-TTL:PT6H");

    // The zones used, with the span of times they must describe.
    let mut zones: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    let mut span = |zone: &str, t: DateTime<Utc>| {
        let e = zones.entry(zone.to_owned()).or_insert((t, t));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
    };
    let until = now() + TimeDelta::days(3 * 366);
    for s in series {
        span(&s.time_zone, s.first_starts_at);
        span(&s.time_zone, until);
    }
    for m in meetings {
        span(&m.time_zone, m.starts_at);
        span(&m.time_zone, m.ends_at);
        if let Some(r) = m.recurrence_id {
            span(&m.time_zone, r);
        }
    }
    for (zone, (from, to)) in &zones {
        if let Ok(tz) = zone.parse::<Tz>() {
            vtimezone(&mut out, tz, *from - TimeDelta::days(366), *to);
        }
    }

    let by_series: BTreeMap<Uuid, &meeting_series::Model> =
        series.iter().map(|s| (s.id, s)).collect();
    for s in series {
        let Ok(tz) = s.time_zone.parse::<Tz>() else {
            continue;
        };
        let exdates: BTreeSet<String> = meetings
            .iter()
            .filter(|m| m.series_id == Some(s.id) && m.status == MeetingStatus::Cancelled)
            .filter_map(|m| m.recurrence_id)
            .map(|r| local(r, tz))
            .collect();
        out.raw("BEGIN:VEVENT");
        out.prop("UID", &series_uid(s.id));
        out.prop("DTSTAMP", &utc(s.updated_at));
        out.prop("LAST-MODIFIED", &utc(s.updated_at));
        out.prop(
            &format!("DTSTART;TZID={}", tz.name()),
            &local(s.first_starts_at, tz),
        );
        let end = s.first_starts_at + TimeDelta::minutes(i64::from(s.duration_minutes));
        out.prop(&format!("DTEND;TZID={}", tz.name()), &local(end, tz));
        out.prop("RRULE", &s.rrule);
        if !exdates.is_empty() {
            let list: Vec<String> = exdates.into_iter().collect();
            out.prop(&format!("EXDATE;TZID={}", tz.name()), &list.join(","));
        }
        describe(
            &mut out,
            &Place {
                title: &s.title,
                place_name: s.place_name.as_deref(),
                place_address: s.place_address.as_deref(),
                lat: s.lat,
                lon: s.lon,
                online_url: s.online_url.as_deref(),
                languages: &s.languages,
                accessibility_notes: s.accessibility_notes.as_deref(),
            },
        );
        out.raw(if live.contains(&s.id) {
            "STATUS:CONFIRMED"
        } else {
            "STATUS:CANCELLED"
        });
        out.raw("END:VEVENT");
    }
    for m in meetings {
        let Ok(tz) = m.time_zone.parse::<Tz>() else {
            continue;
        };
        let (uid, recurrence) = match (
            m.series_id.and_then(|id| by_series.get(&id)),
            m.recurrence_id,
        ) {
            (Some(s), Some(r)) => {
                if m.status == MeetingStatus::Cancelled {
                    continue; // an EXDATE of its series
                }
                let stz = s.time_zone.parse::<Tz>().unwrap_or(tz);
                (
                    series_uid(s.id),
                    Some(format!(
                        "RECURRENCE-ID;TZID={}:{}",
                        stz.name(),
                        local(r, stz)
                    )),
                )
            }
            _ => (format!("meeting-{}@beatline", m.id), None),
        };
        out.raw("BEGIN:VEVENT");
        out.prop("UID", &uid);
        if let Some(r) = recurrence {
            out.raw(&r);
        }
        out.prop("DTSTAMP", &utc(m.updated_at));
        out.prop("LAST-MODIFIED", &utc(m.updated_at));
        out.prop(
            &format!("DTSTART;TZID={}", tz.name()),
            &local(m.starts_at, tz),
        );
        out.prop(&format!("DTEND;TZID={}", tz.name()), &local(m.ends_at, tz));
        describe(
            &mut out,
            &Place {
                title: &m.title,
                place_name: m.place_name.as_deref(),
                place_address: m.place_address.as_deref(),
                lat: m.lat,
                lon: m.lon,
                online_url: m.online_url.as_deref(),
                languages: &m.languages,
                accessibility_notes: m.accessibility_notes.as_deref(),
            },
        );
        out.raw(if m.status == MeetingStatus::Cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        });
        out.raw("END:VEVENT");
    }
    out.raw("END:VCALENDAR");
    out.0
}

struct Place<'a> {
    title: &'a str,
    place_name: Option<&'a str>,
    place_address: Option<&'a str>,
    lat: Option<f64>,
    lon: Option<f64>,
    online_url: Option<&'a str>,
    languages: &'a serde_json::Value,
    accessibility_notes: Option<&'a str>,
}

fn describe(out: &mut Lines, p: &Place<'_>) {
    out.prop("SUMMARY", &escape(p.title));
    let location: Vec<&str> = [p.place_name, p.place_address]
        .into_iter()
        .flatten()
        .collect();
    if !location.is_empty() {
        out.prop("LOCATION", &escape(&location.join(", ")));
    } else if let Some(url) = p.online_url {
        out.prop("LOCATION", &escape(url));
    }
    if let (Some(lat), Some(lon)) = (p.lat, p.lon) {
        out.prop("GEO", &format!("{lat:.6};{lon:.6}"));
    }
    if let Some(url) = p.online_url {
        out.prop("URL", url);
    }
    let mut description = Vec::new();
    if let Some(url) = p.online_url {
        description.push(format!("Join online: {url}"));
    }
    let langs: Vec<String> = serde_json::from_value(p.languages.clone()).unwrap_or_default();
    if !langs.is_empty() {
        description.push(format!("Languages: {}", langs.join(", ")));
    }
    if let Some(a) = p.accessibility_notes {
        description.push(format!("Accessibility: {a}"));
    }
    if !description.is_empty() {
        out.prop("DESCRIPTION", &escape(&description.join("\n")));
    }
}

fn series_uid(id: Uuid) -> String {
    format!("meeting-series-{id}@beatline")
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y%m%dT%H%M%S").to_string()
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    if s.is_multiple_of(60) {
        format!("{sign}{:02}{:02}", s / 3600, (s / 60) % 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// The offset, DST flag and abbreviation of `tz` at `t`.
fn zone_at(tz: Tz, t: DateTime<Utc>) -> (i32, bool, String) {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    let dst = o.dst_offset() != TimeDelta::zero();
    let name = o.abbreviation().map(str::to_owned).unwrap_or_default();
    (o.fix().local_minus_utc(), dst, name)
}

/// A VTIMEZONE for `tz` describing every offset change between `from` and `to`, each as
/// its own observance (no RRULE: exact even when a zone's rules changed).
fn vtimezone(out: &mut Lines, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) {
    out.raw("BEGIN:VTIMEZONE");
    out.prop("TZID", tz.name());
    let (mut offset, dst, abbr) = zone_at(tz, from);
    let observance =
        |out: &mut Lines, at: NaiveDateTime, from: i32, to: i32, dst: bool, abbr: &str| {
            let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
            out.raw(&format!("BEGIN:{kind}"));
            out.prop("DTSTART", &at.format("%Y%m%dT%H%M%S").to_string());
            out.prop("TZOFFSETFROM", &offset_text(from));
            out.prop("TZOFFSETTO", &offset_text(to));
            if !abbr.is_empty() {
                out.prop("TZNAME", &escape(abbr));
            }
            out.raw(&format!("END:{kind}"));
        };
    observance(
        out,
        from.naive_utc() + TimeDelta::seconds(i64::from(offset)),
        offset,
        offset,
        dst,
        &abbr,
    );
    let mut t = from;
    while t < to {
        let next = t + TimeDelta::days(1);
        let (o2, _, _) = zone_at(tz, next);
        if o2 != offset {
            // Find the first second at the new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if zone_at(tz, mid).0 == offset {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let (o_new, d_new, a_new) = zone_at(tz, hi);
            // DTSTART is the local time just before the change, in the old offset.
            let at = hi.naive_utc() + TimeDelta::seconds(i64::from(offset));
            observance(out, at, offset, o_new, d_new, &a_new);
            offset = o_new;
        }
        t = next;
    }
    out.raw("END:VTIMEZONE");
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Content lines, CRLF-terminated and folded at 75 octets without splitting a UTF-8
/// character.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn prop(&mut self, name: &str, value: &str) {
        self.raw(&format!("{name}:{value}"));
    }

    fn raw(&mut self, line: &str) {
        let mut used = 0;
        for c in line.chars() {
            let n = c.len_utf8();
            if used + n > 75 {
                self.0.push_str("\r\n ");
                used = 1;
            }
            self.0.push(c);
            used += n;
        }
        self.0.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_folded_at_75_octets() {
        let mut l = Lines::default();
        l.prop("SUMMARY", &"é".repeat(100));
        for line in l.0.split("\r\n") {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        let unfolded = l.0.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "é".repeat(100)));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a, b; c\\d\ne"), "a\\, b\\; c\\\\d\\ne");
    }

    #[test]
    fn chicago_has_dst_observances() {
        let mut l = Lines::default();
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single();
        let to = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single();
        if let (Some(from), Some(to)) = (from, to) {
            vtimezone(&mut l, chrono_tz::America::Chicago, from, to);
        }
        assert!(l.0.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0600\r\nTZOFFSETTO:-0500"), "{}", l.0);
        assert!(
            l.0.contains("DTSTART:20261101T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0600"),
            "{}",
            l.0
        );
    }
}
