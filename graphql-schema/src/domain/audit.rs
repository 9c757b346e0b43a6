//! The append-only audit log: staff actions and every staff read of a reporter's
//! identity (who, what, when, from where).

use std::net::IpAddr;

use entity::audit_log;
use sea_orm::{ActiveModelTrait as _, ConnectionTrait, IntoActiveModel as _};
use uuid::Uuid;

use crate::error::AppResult;

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Who acted (None for the system or the CLI).
    pub actor: Option<Uuid>,
    /// What was done, e.g. `problem.reporter.read`, `staff.create`.
    pub action: &'a str,
    /// The kind of object, e.g. `problem`, `user`.
    pub subject_type: &'a str,
    /// The object's id.
    pub subject_id: Option<String>,
    /// Anything else worth keeping (never secrets).
    pub details: serde_json::Value,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
}

/// Appends an entry.
pub async fn record(db: &impl ConnectionTrait, entry: AuditEntry<'_>) -> AppResult<()> {
    audit_log::Model {
        id: Uuid::now_v7(),
        actor_id: entry.actor,
        action: entry.action.to_owned(),
        subject_type: entry.subject_type.to_owned(),
        subject_id: entry.subject_id,
        details: entry.details,
        client_addr: entry.client_addr.map(|a| a.to_string()),
        created_at: crate::domain::now(),
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(())
}
