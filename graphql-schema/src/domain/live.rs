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
    /// Loaded events, each with its position on the bus.
    sender: OnceLock<broadcast::Sender<(u64, LiveEvent)>>,
}

impl LiveHub {
    /// A receiver of every change from now on.
    pub fn subscribe(&self, api: &ApiContext) -> LiveReceiver {
        let events = self
            .sender
            .get_or_init(|| {
                let (sender, _) = broadcast::channel(FAN_OUT_CAPACITY);
                let (next, events) = api.events.subscribe_counted();
                tokio::spawn(pump(api.db.clone(), events, next, sender.downgrade()));
                sender
            })
            .subscribe();
        // Read after subscribing: every event from this position on is loaded after
        // now, so it reaches this receiver.
        let from = api.events.delivered();
        LiveReceiver { events, from }
    }
}

/// A subscriber's receiver: the changes published after it subscribed. (The pump may
/// still be loading changes published earlier; those are not for this subscriber.)
#[derive(Debug)]
pub struct LiveReceiver {
    events: broadcast::Receiver<(u64, LiveEvent)>,
    from: u64,
}

impl LiveReceiver {
    /// The next change; `Lagged` when the subscriber fell behind and missed some.
    pub async fn recv(&mut self) -> Result<LiveEvent, broadcast::error::RecvError> {
        loop {
            let (position, event) = self.events.recv().await?;
            if position >= self.from || matches!(event, LiveEvent::Missed) {
                return Ok(event);
            }
        }
    }
}

/// Loads the row of each event once and hands it to the subscribers, with the event's
/// position on the bus (`next` is the position of the first). Ends when the bus closes
/// or the hub is gone.
async fn pump(
    db: DatabaseConnection,
    mut events: broadcast::Receiver<DomainEvent>,
    mut next: u64,
    sender: broadcast::WeakSender<(u64, LiveEvent)>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live updates fell behind the event bus");
                next += missed;
                if let Some(sender) = sender.upgrade() {
                    // No subscriber left is not an error.
                    let _ = sender.send((next, LiveEvent::Missed));
                }
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let position = next;
        next += 1;
        let Some(sender) = sender.upgrade() else {
            return;
        };
        if sender.receiver_count() == 0 {
            continue;
        }
        match load(&db, &event).await {
            // No subscriber left is not an error.
            Ok(Some(loaded)) => drop(sender.send((position, loaded))),
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
        // The server closes the connections of ended sessions itself.
        DomainEvent::SessionsEnded { .. } => None,
    })
}
