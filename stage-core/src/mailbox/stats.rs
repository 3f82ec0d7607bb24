//! What a mailbox counts: the rare events of at-least-once delivery.

use crate::sync::atomic::{AtomicU64, Ordering};

/// What has happened to a mailbox's guarded deliveries so far.
///
/// Only the rare events are counted, so that counting costs the send and
/// receive paths nothing; [`len`](super::Receiver::len) tells how many
/// messages are queued.
///
/// # Examples
///
/// ```
/// let (tx, rx) = stage::mailbox(4);
/// tx.try_send(1).unwrap();
/// drop(rx.try_recv_guarded().unwrap()); // not acknowledged: put back
/// assert_eq!(rx.stats().redeliveries, 1);
/// assert_eq!(tx.stats().dead_letters, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages put back by a delivery dropped without an acknowledgement.
    pub redeliveries: u64,
    /// Messages given up on after failing every attempt they were allowed,
    /// and handed to the dead-letter sink.
    pub dead_letters: u64,
}

/// The live counters behind [`Stats`].
pub(crate) struct Counters {
    redeliveries: AtomicU64,
    dead_letters: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            redeliveries: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
        }
    }

    // Relaxed: counters, read for reporting; they order nothing.

    pub(crate) fn redelivered(&self) {
        self.redeliveries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dead_lettered(&self) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            redeliveries: self.redeliveries.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
        }
    }
}
