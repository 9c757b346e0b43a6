//! Live updates: the fan-out behind the GraphQL subscriptions.
//!
//! Every subscriber needs the changed row, not just its id. Loading it once per
//! subscriber would cost a statement per subscriber per change (a thousand residents
//! watching one problem, a thousand reads), so each server runs one pump: it takes the
//! [`DomainEvent`]s of the bus (which on PostgreSQL include those of other replicas),
//! loads the row once, and broadcasts it to this process's subscribers, who then only
//! filter and authorize in memory.

use std::sync::{Arc, OnceLock};

use entity::{category, notification, problem};
use sea_orm::{DatabaseConnection, EntityTrait as _};
use tokio::sync::broadcast;

use crate::context::ApiContext;
use crate::domain::events::DomainEvent;
use crate::error::AppResult;

/// How many loaded events a slow subscriber may fall behind before it misses some.
const FAN_OUT_CAPACITY: usize = 4096;

/// A change, with the row it is about, as subscribers receive it.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// A problem was reported or changed.
    Problem {
        /// The problem as it is now.
        row: Arc<problem::Model>,
        /// Whether its category is sensitive (public health, crisis).
        sensitive: bool,
        /// Whether it was just reported.
        created: bool,
    },
    /// A notification was added to a user's inbox.
    Notification(Arc<notification::Model>),
    /// The pump fell behind the bus and dropped events: subscribers re-read what they
    /// show instead of trusting that they saw every change.
    Missed,
}

/// The per-server fan-out of loaded events. It starts its pump on the first
/// subscription, so that building a schema (e.g. to print its SDL) starts no task.
#[derive(Debug, Default)]
pub struct LiveHub {
    sender: OnceLock<broadcast::Sender<LiveEvent>>,
}

impl LiveHub {
    /// A receiver of every change from now on.
    pub fn subscribe(&self, api: &ApiContext) -> broadcast::Receiver<LiveEvent> {
        self.sender
            .get_or_init(|| {
                let (sender, _) = broadcast::channel(FAN_OUT_CAPACITY);
                let events = api.events.subscribe();
                tokio::spawn(pump(api.db.clone(), events, sender.downgrade()));
                sender
            })
            .subscribe()
    }
}

/// Loads the row of each event once and hands it to the subscribers. Ends when the bus
/// closes or the hub is gone.
async fn pump(
    db: DatabaseConnection,
    mut events: broadcast::Receiver<DomainEvent>,
    sender: broadcast::WeakSender<LiveEvent>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live updates fell behind the event bus");
                if let Some(sender) = sender.upgrade() {
                    // No subscriber left is not an error.
                    let _ = sender.send(LiveEvent::Missed);
                }
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(sender) = sender.upgrade() else {
            return;
        };
        if sender.receiver_count() == 0 {
            continue;
        }
        match load(&db, &event).await {
            // No subscriber left is not an error.
            Ok(Some(loaded)) => drop(sender.send(loaded)),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(?event, error = ?error, "cannot load the row of a live update");
            }
        }
    }
}

/// The row an event is about, or `None` when it is gone already.
async fn load(db: &DatabaseConnection, event: &DomainEvent) -> AppResult<Option<LiveEvent>> {
    Ok(match *event {
        DomainEvent::ProblemChanged {
            problem_id,
            created,
            ..
        } => problem::Entity::find_by_id(problem_id)
            .find_also_related(category::Entity)
            .one(db)
            .await?
            .map(|(row, category)| LiveEvent::Problem {
                row: Arc::new(row),
                sensitive: category.is_some_and(|c| c.sensitive),
                created,
            }),
        DomainEvent::NotificationCreated {
            notification_id, ..
        } => notification::Entity::find_by_id(notification_id)
            .one(db)
            .await?
            .map(|n| LiveEvent::Notification(Arc::new(n))),
    })
}
