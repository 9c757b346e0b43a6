//! Recurring meetings: RFC 5545 recurrence rules, parsed and expanded with the `rrule`
//! crate in the meeting's IANA time zone, so that "6:30 pm on the second Tuesday"
//! stays 6:30 pm local time across daylight-saving changes.
//!
//! Rules more frequent than daily are refused (a beat does not meet every hour), and
//! open-ended series are expanded a rolling [`HORIZON_DAYS`] ahead.

use chrono::{DateTime, TimeDelta, Utc};
use rrule::{Frequency, RRule, Unvalidated};

use crate::error::{AppError, AppResult};

/// How far ahead occurrences of a series are materialised.
pub const HORIZON_DAYS: i64 = 366;

/// The most occurrences one expansion yields (a daily rule over the horizon).
const MAX_OCCURRENCES: u16 = 400;

/// A recurrence rule that parsed and is at most daily, normalised to its RFC 5545
/// text without the `RRULE:` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceRule(String);

const EXAMPLE: &str = "write a rule such as \"FREQ=MONTHLY;BYDAY=2TU\" (the second Tuesday of \
                       every month) or \"FREQ=WEEKLY;INTERVAL=2;BYDAY=WE\" (every other Wednesday)";

impl RecurrenceRule {
    /// Parses an RRULE value (with or without the `RRULE:` prefix).
    pub fn parse(raw: &str) -> AppResult<Self> {
        let text = raw.trim();
        let text = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("rrule:"))
            .unwrap_or(text)
            .trim()
            .to_ascii_uppercase();
        if text.is_empty() || text.contains('\n') || text.contains("DTSTART") {
            return Err(AppError::bad_input(format!(
                "the recurrence rule {raw:?} is not valid: give only the RRULE value; {EXAMPLE}"
            )));
        }
        let rule: RRule<Unvalidated> = text.parse().map_err(|e: rrule::RRuleError| {
            AppError::bad_input(format!(
                "the recurrence rule {raw:?} is not valid ({e}): {EXAMPLE}"
            ))
        })?;
        if matches!(
            rule.get_freq(),
            Frequency::Hourly | Frequency::Minutely | Frequency::Secondly
        ) {
            return Err(AppError::bad_input(format!(
                "the recurrence rule {raw:?} repeats more often than daily: beat meetings repeat at \
                 most once a day; {EXAMPLE}"
            )));
        }
        Ok(Self(text))
    }

    /// The rule text, e.g. `FREQ=MONTHLY;BYDAY=2TU`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule's COUNT, if it has one.
    fn count(&self) -> Option<usize> {
        self.0
            .split(';')
            .find_map(|part| part.strip_prefix("COUNT="))
            .and_then(|n| n.parse().ok())
    }

    /// The rule with its end (UNTIL or COUNT) replaced by `end`.
    fn with_end(&self, end: Option<String>) -> AppResult<Self> {
        let mut parts: Vec<String> = self
            .0
            .split(';')
            .filter(|part| !part.starts_with("UNTIL=") && !part.starts_with("COUNT="))
            .map(str::to_owned)
            .collect();
        parts.extend(end);
        Self::parse(&parts.join(";"))
    }

    /// The rule ending before its occurrence at `slot`, which `before` occurrences
    /// precede: a counted rule counts those, any other gets an UNTIL one second before
    /// `slot` (in UTC, as RFC 5545 requires with a TZID start). A rule cannot end before
    /// it starts: with no occurrence before `slot`, it keeps only its first.
    pub fn ending_before(&self, slot: DateTime<Utc>, before: usize) -> AppResult<Self> {
        if self.count().is_some() {
            return self.with_end(Some(format!("COUNT={}", before.max(1))));
        }
        let until = if before == 0 {
            slot
        } else {
            slot - TimeDelta::seconds(1)
        };
        self.with_end(Some(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ"))))
    }

    /// The rule of the occurrences after the first `before` ones (a counted rule counts
    /// fewer; a rule with UNTIL keeps it).
    pub fn continuing_after(&self, before: usize) -> AppResult<Self> {
        match self.count() {
            Some(n) => self.with_end(Some(format!("COUNT={}", n.saturating_sub(before).max(1)))),
            None => Ok(self.clone()),
        }
    }

    /// The starts of the occurrences from `first` (the series' first start, expanded in
    /// `tz`) up to and including `until`. Fails when two occurrences fall on one local
    /// day (a rule made more than daily with BYHOUR and the like).
    pub fn expand(
        &self,
        first: DateTime<Utc>,
        tz: chrono_tz::Tz,
        until: DateTime<Utc>,
    ) -> AppResult<Vec<DateTime<Utc>>> {
        let rtz = rrule::Tz::Tz(tz);
        let start = first.with_timezone(&rtz);
        let rule: RRule<Unvalidated> = self.0.parse().map_err(|e: rrule::RRuleError| {
            AppError::bad_input(format!("the recurrence rule is not valid ({e}): {EXAMPLE}"))
        })?;
        let set = rule.build(start).map_err(|e| {
            AppError::bad_input(format!(
                "the recurrence rule {:?} does not fit the start time ({e}): {EXAMPLE}",
                self.0
            ))
        })?;
        let result = set
            .after(start)
            .before(until.with_timezone(&rtz))
            .all(MAX_OCCURRENCES);
        let mut out: Vec<DateTime<Utc>> = result
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .collect();
        out.sort();
        out.dedup();
        for pair in out.windows(2) {
            if let [a, b] = pair
                && a.with_timezone(&tz).date_naive() == b.with_timezone(&tz).date_naive()
            {
                return Err(AppError::bad_input(format!(
                    "the recurrence rule {:?} has more than one meeting on one day: beat \
                     meetings repeat at most once a day; {EXAMPLE}",
                    self.0
                )));
            }
        }
        Ok(out)
    }
}

/// The end of the rolling window of materialised occurrences, seen from `now`.
pub fn horizon(now: DateTime<Utc>) -> DateTime<Utc> {
    now + TimeDelta::days(HORIZON_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn second_tuesday_keeps_local_time_across_dst() {
        let tz = chrono_tz::America::Chicago;
        let first = tz
            .with_ymd_and_hms(2026, 10, 13, 18, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let rule = RecurrenceRule::parse("RRULE:FREQ=MONTHLY;BYDAY=2TU").unwrap();
        let until = first + TimeDelta::days(120);
        let dates = rule.expand(first, tz, until).unwrap();
        assert_eq!(dates.len(), 5);
        for d in &dates {
            let local = d.with_timezone(&tz);
            assert_eq!(local.format("%H:%M %a").to_string(), "18:30 Tue");
        }
        assert_eq!(
            dates[1].with_timezone(&tz).date_naive().to_string(),
            "2026-11-10"
        );
    }

    #[test]
    fn rules_end_before_an_occurrence_and_continue_after_it() {
        let tz = chrono_tz::America::Chicago;
        let first = tz
            .with_ymd_and_hms(2026, 10, 13, 18, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let rule = RecurrenceRule::parse("FREQ=MONTHLY;BYDAY=2TU").unwrap();
        let all = rule
            .expand(first, tz, first + TimeDelta::days(200))
            .unwrap();
        let ended = rule.ending_before(all[3], 3).unwrap();
        assert_eq!(
            ended
                .expand(first, tz, first + TimeDelta::days(200))
                .unwrap(),
            all[..3]
        );
        let counted = RecurrenceRule::parse("FREQ=MONTHLY;BYDAY=2TU;COUNT=6").unwrap();
        assert_eq!(
            counted.ending_before(all[3], 3).unwrap().as_str(),
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=3"
        );
        let rest = counted.continuing_after(3).unwrap();
        assert_eq!(
            rest.expand(all[3], tz, first + TimeDelta::days(400))
                .unwrap(),
            all[3..6]
        );
        // A rule cannot end before it starts: it keeps its first occurrence.
        let only_first = rule.ending_before(first, 0).unwrap();
        assert_eq!(
            only_first
                .expand(first, tz, first + TimeDelta::days(200))
                .unwrap(),
            [first]
        );
    }

    #[test]
    fn bad_and_too_frequent_rules_are_refused() {
        assert!(RecurrenceRule::parse("FREQ=HOURLY").is_err());
        assert!(RecurrenceRule::parse("FREQ=SOMETIMES").is_err());
        assert!(RecurrenceRule::parse("").is_err());
        let tz = chrono_tz::America::Chicago;
        let first = tz
            .with_ymd_and_hms(2026, 10, 13, 9, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let twice = RecurrenceRule::parse("FREQ=DAILY;BYHOUR=9,17").unwrap();
        assert!(twice.expand(first, tz, first + TimeDelta::days(5)).is_err());
    }
}
