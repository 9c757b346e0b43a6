//! Domain events: what changed, for live subscriptions.
//!
//! Services publish an event after the transaction that made the change commits. The
//! bus is a trait: in one process (SQLite) a `tokio` broadcast channel; across replicas
//! on PostgreSQL the server plugs in a bus that relays through LISTEN/NOTIFY.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// A problem was reported or changed (status, comment, assignment, support...).
    ProblemChanged {
        /// The problem.
        problem_id: Uuid,
        /// Its beat.
        beat_id: Uuid,
        /// Whether it was just reported.
        created: bool,
    },
    /// A notification was added to a user's inbox.
    NotificationCreated {
        /// The recipient.
        user_id: Uuid,
        /// The notification.
        notification_id: Uuid,
    },
}

/// Carries events to subscribers.
pub trait EventBus: Send + Sync {
    /// Sends an event to every subscriber (on every replica).
    fn publish(&self, event: DomainEvent);
    /// A new receiver of every event published from now on.
    fn subscribe(&self) -> broadcast::Receiver<DomainEvent>;
}

/// The in-process bus.
#[derive(Debug, Clone)]
pub struct LocalBus(broadcast::Sender<DomainEvent>);

impl LocalBus {
    /// A bus whose slow subscribers may lag by up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self(broadcast::channel(capacity).0)
    }

    /// Delivers an event to this process's subscribers only (relays use it).
    pub fn deliver_locally(&self, event: DomainEvent) {
        // No subscriber is not an error.
        let _ = self.0.send(event);
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: DomainEvent) {
        self.deliver_locally(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.0.subscribe()
    }
}
