//! What a receiver and a sender count.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::link::Faults;

/// What has happened to a receiver's deliveries and its connections so far.
///
/// # Examples
///
/// ```no_run
/// # async fn show(inbox: stage::redis::Receiver<u32>) {
/// let stats = inbox.stats();
/// println!(
///     "{} received, {} acknowledged, {} redelivered, {} dead letters, {} reconnects",
///     stats.received, stats.acked, stats.redeliveries, stats.dead_letters, stats.reconnects,
/// );
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Entries read from the stream into this receiver (new ones, its own
    /// left from an earlier run, and claimed ones).
    pub received: u64,
    /// Entries claimed from consumers that had left them idle.
    pub claimed: u64,
    /// Acknowledgements written to Redis (of entries handled, and of those
    /// made dead letters).
    pub acked: u64,
    /// Deliveries dropped without an acknowledgement: each put back, or,
    /// after its last attempt, made a dead letter (as the mailbox counts).
    pub redeliveries: u64,
    /// Entries written to the dead-letter stream (given up on, or not
    /// decodable).
    pub dead_letters: u64,
    /// Of the dead letters, the entries that did not decode.
    pub undecodable: u64,
    /// Requests to Redis that failed (each failed try counts once).
    pub errors: u64,
    /// Connections made again after one failed.
    pub reconnects: u64,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) claimed: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) redeliveries: AtomicU64,
    pub(crate) dead_letters: AtomicU64,
    pub(crate) undecodable: AtomicU64,
    pub(crate) faults: Faults,
}

impl Counters {
    // Relaxed: counters, read for reporting; they order nothing.

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            received: read(&self.received),
            claimed: read(&self.claimed),
            acked: read(&self.acked),
            redeliveries: read(&self.redeliveries),
            dead_letters: read(&self.dead_letters),
            undecodable: read(&self.undecodable),
            errors: read(&self.faults.errors),
            reconnects: read(&self.faults.reconnects),
        }
    }
}
