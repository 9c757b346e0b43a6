//! String enumerations stored as short upper-case text in both databases.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Role of a user account.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserRole {
    /// A resident of the city.
    #[sea_orm(string_value = "RESIDENT")]
    Resident,
    /// A beat officer.
    #[sea_orm(string_value = "OFFICER")]
    Officer,
    /// A precinct captain.
    #[sea_orm(string_value = "CAPTAIN")]
    Captain,
    /// A member of a partner organisation.
    #[sea_orm(string_value = "PARTNER")]
    Partner,
    /// A system administrator.
    #[sea_orm(string_value = "ADMIN")]
    Admin,
}

/// Who handles problems of a category.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CategoryRoute {
    /// Routed to the police.
    #[sea_orm(string_value = "POLICE")]
    Police,
    /// Routed to a partner organisation.
    #[sea_orm(string_value = "PARTNER")]
    Partner,
}

/// Lifecycle status of a problem.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProblemStatus {
    /// Just reported.
    #[sea_orm(string_value = "NEW")]
    New,
    /// Seen by the police or a partner.
    #[sea_orm(string_value = "ACKNOWLEDGED")]
    Acknowledged,
    /// Being worked on.
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    /// Resolved, awaiting closure or feedback.
    #[sea_orm(string_value = "RESOLVED")]
    Resolved,
    /// Closed.
    #[sea_orm(string_value = "CLOSED")]
    Closed,
    /// Merged into another problem.
    #[sea_orm(string_value = "DUPLICATE")]
    Duplicate,
    /// Cannot be acted upon.
    #[sea_orm(string_value = "NOT_ACTIONABLE")]
    NotActionable,
}

/// Priority of a problem.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    /// Low priority.
    #[sea_orm(string_value = "LOW")]
    Low,
    /// Normal priority.
    #[sea_orm(string_value = "NORMAL")]
    Normal,
    /// High priority.
    #[sea_orm(string_value = "HIGH")]
    High,
    /// Urgent.
    #[sea_orm(string_value = "URGENT")]
    Urgent,
}

/// Kind of an entry in a problem's timeline.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProblemEventKind {
    /// The problem was reported.
    #[sea_orm(string_value = "CREATED")]
    Created,
    /// The status changed.
    #[sea_orm(string_value = "STATUS_CHANGED")]
    StatusChanged,
    /// A comment was added.
    #[sea_orm(string_value = "COMMENT")]
    Comment,
    /// The problem was assigned.
    #[sea_orm(string_value = "ASSIGNED")]
    Assigned,
    /// The problem was merged as a duplicate.
    #[sea_orm(string_value = "MERGED")]
    Merged,
    /// The priority changed.
    #[sea_orm(string_value = "PRIORITY_CHANGED")]
    PriorityChanged,
    /// The problem was reopened.
    #[sea_orm(string_value = "REOPENED")]
    Reopened,
    /// The reporter rated the resolution.
    #[sea_orm(string_value = "RATED")]
    Rated,
    /// A photo was attached.
    #[sea_orm(string_value = "PHOTO_ADDED")]
    PhotoAdded,
}

/// Who can see a timeline entry.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    /// Everyone who can see the problem.
    #[sea_orm(string_value = "PUBLIC")]
    Public,
    /// Officers, captains, partners and admins only.
    #[sea_orm(string_value = "INTERNAL")]
    Internal,
}

/// Status of a meeting occurrence.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeetingStatus {
    /// The meeting takes place.
    #[sea_orm(string_value = "SCHEDULED")]
    Scheduled,
    /// The meeting was cancelled.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// Answer to a meeting invitation.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RsvpResponse {
    /// Will attend.
    #[sea_orm(string_value = "GOING")]
    Going,
    /// Might attend.
    #[sea_orm(string_value = "MAYBE")]
    Maybe,
    /// Will not attend.
    #[sea_orm(string_value = "NOT_GOING")]
    NotGoing,
}

/// Section of a beat meeting agenda.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgendaSection {
    /// Welcome and introductions.
    #[sea_orm(string_value = "WELCOME")]
    Welcome,
    /// Report back on earlier actions.
    #[sea_orm(string_value = "REPORT_BACK")]
    ReportBack,
    /// Current conditions on the beat.
    #[sea_orm(string_value = "CURRENT_CONDITIONS")]
    CurrentConditions,
    /// Choosing priority problems.
    #[sea_orm(string_value = "PRIORITIES")]
    Priorities,
    /// Strategies for the priorities.
    #[sea_orm(string_value = "STRATEGIES")]
    Strategies,
    /// The next meeting.
    #[sea_orm(string_value = "NEXT_MEETING")]
    NextMeeting,
}

/// How an agenda item came about.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgendaItemKind {
    /// Generated from open problems and actions.
    #[sea_orm(string_value = "GENERATED")]
    Generated,
    /// Added by an officer or facilitator.
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    /// Proposed by a resident.
    #[sea_orm(string_value = "PROPOSED")]
    Proposed,
}

/// Kind of party owning an action item.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOwnerKind {
    /// An officer.
    #[sea_orm(string_value = "OFFICER")]
    Officer,
    /// A partner organisation.
    #[sea_orm(string_value = "PARTNER")]
    Partner,
    /// A resident.
    #[sea_orm(string_value = "RESIDENT")]
    Resident,
}

/// Status of an action item.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionStatus {
    /// Not started.
    #[sea_orm(string_value = "OPEN")]
    Open,
    /// Being worked on.
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    /// Completed.
    #[sea_orm(string_value = "DONE")]
    Done,
    /// Abandoned.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// Stage of a SARA (Scanning, Analysis, Response, Assessment) record.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SaraStage {
    /// Identifying the problem.
    #[sea_orm(string_value = "SCANNING")]
    Scanning,
    /// Analysing causes.
    #[sea_orm(string_value = "ANALYSIS")]
    Analysis,
    /// Carrying out responses.
    #[sea_orm(string_value = "RESPONSE")]
    Response,
    /// Assessing the effect.
    #[sea_orm(string_value = "ASSESSMENT")]
    Assessment,
    /// Finished.
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

/// Decision taken at the end of a SARA assessment.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SaraOutcome {
    /// Close the record.
    #[sea_orm(string_value = "CLOSE")]
    Close,
    /// Adjust the response.
    #[sea_orm(string_value = "ADJUST")]
    Adjust,
    /// Go back to analysis.
    #[sea_orm(string_value = "BACK_TO_ANALYSIS")]
    BackToAnalysis,
}

/// Platform of a push-notification device.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DevicePlatform {
    /// Android (FCM).
    #[sea_orm(string_value = "ANDROID")]
    Android,
    /// iOS (FCM via APNs).
    #[sea_orm(string_value = "IOS")]
    Ios,
    /// Web push (FCM).
    #[sea_orm(string_value = "WEB")]
    Web,
}

/// State of a push delivery in the outbox.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Waiting to be sent or retried.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Accepted by the push service.
    #[sea_orm(string_value = "SENT")]
    Sent,
    /// Gave up after too many attempts.
    #[sea_orm(string_value = "DEAD")]
    Dead,
    /// Not sent because the device is disabled.
    #[sea_orm(string_value = "DISABLED")]
    Disabled,
}
