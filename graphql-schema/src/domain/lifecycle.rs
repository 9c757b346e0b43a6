//! The life of a problem: the one table of allowed status changes.
//!
//! ```text
//! NEW ─────────┬─> ACKNOWLEDGED ─┬─> IN_PROGRESS ─┬─> RESOLVED ─> CLOSED
//!              │                 │                │      │
//!              └─────────────────┴────────────────┘      └─> IN_PROGRESS (staff, or
//!  any open status ─> DUPLICATE (markDuplicate only), NOT_ACTIONABLE       the reporter
//!                                                                           within 14 days)
//! ```

use entity::enums::ProblemStatus;

/// The statuses a problem may move to from `from` when staff change it. DUPLICATE is
/// reached only through `markDuplicate`, which also names the original.
pub fn allowed_transitions(from: ProblemStatus) -> &'static [ProblemStatus] {
    use ProblemStatus::*;
    match from {
        New => &[Acknowledged, InProgress, Resolved, Duplicate, NotActionable],
        Acknowledged => &[InProgress, Resolved, Duplicate, NotActionable],
        InProgress => &[Resolved, Duplicate, NotActionable],
        Resolved => &[Closed, InProgress],
        Closed | Duplicate | NotActionable => &[],
    }
}

/// The status a reporter's reopening moves a RESOLVED problem to.
pub const REOPENED_STATUS: ProblemStatus = ProblemStatus::InProgress;

/// Whether a status counts as open (still to be worked).
pub fn is_open(status: ProblemStatus) -> bool {
    matches!(
        status,
        ProblemStatus::New | ProblemStatus::Acknowledged | ProblemStatus::InProgress
    )
}

/// The open statuses.
pub const OPEN_STATUSES: [ProblemStatus; 3] = [
    ProblemStatus::New,
    ProblemStatus::Acknowledged,
    ProblemStatus::InProgress,
];

/// The GraphQL name of a status, for messages.
pub fn status_name(status: ProblemStatus) -> &'static str {
    match status {
        ProblemStatus::New => "NEW",
        ProblemStatus::Acknowledged => "ACKNOWLEDGED",
        ProblemStatus::InProgress => "IN_PROGRESS",
        ProblemStatus::Resolved => "RESOLVED",
        ProblemStatus::Closed => "CLOSED",
        ProblemStatus::Duplicate => "DUPLICATE",
        ProblemStatus::NotActionable => "NOT_ACTIONABLE",
    }
}

/// A human list of statuses: `ACKNOWLEDGED, IN_PROGRESS or RESOLVED`.
pub fn status_list(statuses: &[ProblemStatus]) -> String {
    let names: Vec<&str> = statuses.iter().map(|s| status_name(*s)).collect();
    match names.split_last() {
        None => "none".to_owned(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable as _;

    #[test]
    fn terminal_statuses_go_nowhere_and_nothing_returns_to_new() {
        for from in ProblemStatus::iter() {
            assert!(!allowed_transitions(from).contains(&ProblemStatus::New));
            assert!(!allowed_transitions(from).contains(&from), "{from:?} loops");
        }
        assert!(allowed_transitions(ProblemStatus::Closed).is_empty());
        assert!(allowed_transitions(ProblemStatus::Resolved).contains(&REOPENED_STATUS));
    }

    #[test]
    fn lists_read_well() {
        assert_eq!(
            status_list(allowed_transitions(ProblemStatus::Resolved)),
            "CLOSED or IN_PROGRESS"
        );
        assert_eq!(status_list(&[]), "none");
    }
}
