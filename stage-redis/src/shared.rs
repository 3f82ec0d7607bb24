//! What a receiver's handles, its deliveries and its two background tasks
//! (the fetcher and the writer) share: the entries read and not yet handed
//! out, and the writes (acknowledgements, dead letters) not yet made.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use event_listener::{Event, EventListener, IntoNotification};

use crate::codec::Codec;
use crate::link::Link;
use crate::receiver::Registration;
use crate::stats::Counters;

/// An entry this receiver holds: read from the stream, not yet
/// acknowledged nor given up on.
pub(crate) struct Held<T> {
    /// The entry's stream ID.
    pub(crate) id: String,
    pub(crate) message: T,
    /// The entry's bytes, for a dead letter.
    pub(crate) raw: Vec<u8>,
    /// Deliveries of the entry that failed before this one.
    pub(crate) failed: u32,
    pub(crate) last_panic: Option<String>,
}

/// Why an entry goes to the dead-letter stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Its deliveries failed as many times as allowed.
    Failed,
    /// Its handler gave up on it (`Delivery::dead_letter`).
    Rejected,
    /// Its bytes are not a message of the receiver's codec.
    Undecodable,
}

impl Reason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Undecodable => "undecodable",
        }
    }
}

/// An entry on its way to the dead-letter stream.
pub(crate) struct Dead {
    pub(crate) id: String,
    pub(crate) raw: Vec<u8>,
    /// The fields of an entry that holds no message (written by something
    /// else than a sender), kept as they were.
    pub(crate) fields: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) attempts: u32,
    pub(crate) reason: Reason,
    /// The last panic's message, or the decoding error.
    pub(crate) detail: Option<String>,
}

/// The writes the writer task has yet to make, in one batch.
#[derive(Default)]
pub(crate) struct Writes {
    /// Entries to acknowledge.
    pub(crate) acks: Vec<String>,
    /// Entries to move to the dead-letter stream (then acknowledge).
    pub(crate) dead: Vec<Dead>,
    /// Entries put back, with their deliveries so far (the one the put-back
    /// makes included): Redis keeps the count, for whoever claims the entry
    /// if this process dies.
    pub(crate) failed: Vec<(String, u32)>,
}

impl Writes {
    pub(crate) fn is_empty(&self) -> bool {
        self.acks.is_empty() && self.dead.is_empty() && self.failed.is_empty()
    }
}

/// The settings of a receiver.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) key: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) dead_key: String,
    /// Entries read per request, and held at most.
    pub(crate) batch: usize,
    pub(crate) max_attempts: u32,
    /// How long an entry of another consumer stays unacknowledged before
    /// this one claims it.
    pub(crate) claim_after: Duration,
}

struct Local<T> {
    /// Entries put back, handed out first.
    front: VecDeque<Held<T>>,
    /// Entries read, in stream order.
    queue: VecDeque<Held<T>>,
    /// IDs of every entry held: queued, put back or in flight (the writer
    /// renews their claim, so that no other consumer takes them).
    held: BTreeSet<String>,
    /// No more entries are read; what is held is still handed out.
    closed: bool,
    writes: Writes,
    /// Batches of writes queued, and written (or given up on).
    queued: u64,
    written: u64,
}

pub(crate) struct Shared<T> {
    pub(crate) settings: Settings,
    /// The connection for writes and queries (the fetcher's blocking reads
    /// have one of their own).
    pub(crate) link: Link,
    pub(crate) codec: Box<dyn Codec<T>>,
    local: Mutex<Local<T>>,
    /// An entry was queued, or the receiver closed: for the receive calls
    /// alone (a wakeup meant for one must not go to another waiter).
    arrived: Event,
    /// The receiver closed: for the background tasks.
    closing: Event,
    /// The queue has room for a read, or the receiver closed.
    room: Event,
    /// A write was queued, or the receiver closed.
    to_write: Event,
    /// A batch of writes was made.
    wrote: Event,
    /// Receiver handles (a delivery in flight holds one): the last one
    /// gone closes the receiver, and the writer ends once it has written
    /// what is left.
    receivers: AtomicUsize,
    /// The consumer's name in this process, given back with the last
    /// handle.
    registration: Mutex<Option<Registration>>,
    pub(crate) counters: Counters,
}

impl<T> Shared<T> {
    pub(crate) fn new(
        settings: Settings,
        codec: Box<dyn Codec<T>>,
        link: Link,
        registration: Registration,
    ) -> Self {
        Self {
            settings,
            link,
            codec,
            local: Mutex::new(Local {
                front: VecDeque::new(),
                queue: VecDeque::new(),
                held: BTreeSet::new(),
                closed: false,
                writes: Writes::default(),
                queued: 0,
                written: 0,
            }),
            arrived: Event::new(),
            closing: Event::new(),
            room: Event::new(),
            to_write: Event::new(),
            wrote: Event::new(),
            receivers: AtomicUsize::new(0),
            registration: Mutex::new(Some(registration)),
            counters: Counters::default(),
        }
    }

    /// A receiver handle was made.
    pub(crate) fn add_receiver(&self) {
        // Relaxed: a count, as `Arc`'s increment.
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// A receiver handle was dropped; the last one closes the receiver.
    pub(crate) fn remove_receiver(&self) {
        // AcqRel: the writer, seeing 0, sees every write queued before.
        if self.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close();
            let registration = self
                .registration
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            drop(registration);
        }
    }

    pub(crate) fn receivers(&self) -> usize {
        self.receivers.load(Ordering::Acquire)
    }

    fn local(&self) -> MutexGuard<'_, Local<T>> {
        // A panic while the lock is held leaves the queues whole (no user
        // code runs under it): go on with them.
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next entry to hand out: one put back first, then in stream
    /// order.
    pub(crate) fn take(&self) -> Option<Held<T>> {
        let mut local = self.local();
        let held = local
            .front
            .pop_front()
            .or_else(|| local.queue.pop_front())?;
        let refill = self.refill(local.queue.len()) > 0;
        drop(local);
        if refill {
            self.room.notify(1);
        }
        Some(held)
    }

    /// Whether the receiver is closed and holds nothing to hand out.
    pub(crate) fn is_drained(&self) -> bool {
        let local = self.local();
        local.closed && local.front.is_empty() && local.queue.is_empty()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.local().closed
    }

    /// How many entries are held and not yet handed out.
    pub(crate) fn len(&self) -> usize {
        let local = self.local();
        local.front.len() + local.queue.len()
    }

    pub(crate) fn listen_arrived(&self) -> EventListener {
        self.arrived.listen()
    }

    pub(crate) fn listen_closing(&self) -> EventListener {
        self.closing.listen()
    }

    pub(crate) fn listen_room(&self) -> EventListener {
        self.room.listen()
    }

    pub(crate) fn listen_to_write(&self) -> EventListener {
        self.to_write.listen()
    }

    /// How many entries to read now (0 once closed).
    pub(crate) fn room(&self) -> usize {
        let local = self.local();
        if local.closed {
            0
        } else {
            self.refill(local.queue.len())
        }
    }

    /// How many entries to read with `queued` in the queue: none while it
    /// is more than half full, else up to a whole batch (reads of a few
    /// entries at a time would cost a round trip each).
    fn refill(&self, queued: usize) -> usize {
        let batch = self.settings.batch;
        if queued > batch / 2 {
            0
        } else {
            batch - queued
        }
    }

    /// Queues entries read from the stream, after those queued (`claimed`:
    /// ahead of them, as entries older than any read since). Entries held
    /// already are skipped (a claim may find this receiver's own).
    pub(crate) fn arrive(&self, entries: Vec<Held<T>>, claimed: bool) -> usize {
        let mut local = self.local();
        let mut fresh = Vec::with_capacity(entries.len());
        for entry in entries {
            if local.held.insert(entry.id.clone()) {
                fresh.push(entry);
            }
        }
        let n = fresh.len();
        if claimed {
            for entry in fresh.into_iter().rev() {
                local.queue.push_front(entry);
            }
        } else {
            local.queue.extend(fresh);
        }
        drop(local);
        Counters::add(&self.counters.received, n);
        if claimed {
            Counters::add(&self.counters.claimed, n);
        }
        self.arrived.notify(n.additional());
        n
    }

    /// Whether the receiver holds the entry `id`.
    pub(crate) fn holds(&self, id: &str) -> bool {
        self.local().held.contains(id)
    }

    /// The IDs of the entries held, for the writer to renew their claim.
    pub(crate) fn held_ids(&self) -> Vec<String> {
        self.local().held.iter().cloned().collect()
    }

    /// Acknowledges entry `id` (the write is queued).
    pub(crate) fn ack(&self, id: String) {
        self.write(|local| {
            local.held.remove(&id);
            local.writes.acks.push(id);
        });
    }

    /// Sends an entry to the dead-letter stream (the write is queued).
    pub(crate) fn dead_letter(&self, dead: Dead) {
        if dead.reason == Reason::Undecodable {
            Counters::add(&self.counters.undecodable, 1);
        }
        self.write(|local| {
            local.held.remove(&dead.id);
            local.writes.dead.push(dead);
        });
    }

    /// Puts back a delivery dropped without an acknowledgement: ahead of
    /// every entry queued, or to the dead-letter stream once its deliveries
    /// have failed as often as allowed.
    pub(crate) fn put_back(&self, mut held: Held<T>) {
        held.failed = held.failed.saturating_add(1);
        Counters::add(&self.counters.redeliveries, 1);
        if held.failed >= self.settings.max_attempts {
            self.dead_letter(Dead {
                id: held.id,
                raw: held.raw,
                fields: Vec::new(),
                attempts: held.failed,
                reason: Reason::Failed,
                detail: held.last_panic,
            });
            return;
        }
        // Redis counts the delivery the put-back makes as well: a process
        // that dies before it is handled leaves the right count.
        let failed = (held.id.clone(), held.failed.saturating_add(1));
        self.write(|local| {
            local.writes.failed.push(failed);
            local.front.push_back(held);
        });
        self.arrived.notify(1.additional());
    }

    fn write(&self, change: impl FnOnce(&mut Local<T>)) {
        let mut local = self.local();
        let was_empty = local.writes.is_empty();
        change(&mut local);
        if was_empty {
            local.queued += 1;
        }
        drop(local);
        if was_empty {
            self.to_write.notify(1);
        }
    }

    /// Takes the writes queued, with the number of their batch.
    pub(crate) fn take_writes(&self) -> (Writes, u64) {
        let mut local = self.local();
        (core::mem::take(&mut local.writes), local.queued)
    }

    /// Records that batch `batch` was written (or given up on).
    pub(crate) fn written(&self, batch: u64) {
        self.local().written = batch;
        self.wrote.notify(usize::MAX);
    }

    /// The writer ended: no flush waits on it any more (what it had not
    /// written is delivered again later, as after a crash).
    pub(crate) fn writer_ended(&self) {
        let mut local = self.local();
        if !local.writes.is_empty() || local.written < local.queued {
            tracing::error!(
                stream = %self.settings.key,
                "the receiver's writer ended with writes left; their entries will be delivered again"
            );
        }
        local.written = u64::MAX;
        drop(local);
        self.wrote.notify(usize::MAX);
    }

    /// The last batch of writes queued, if it is not written yet.
    pub(crate) fn unwritten(&self) -> Option<u64> {
        let local = self.local();
        (local.written < local.queued).then_some(local.queued)
    }

    /// Waits until batch `batch` has been written.
    pub(crate) async fn wait_written(&self, batch: u64) {
        loop {
            if self.local().written >= batch {
                return;
            }
            let listener = self.wrote.listen();
            if self.local().written >= batch {
                return;
            }
            listener.await;
        }
    }

    /// Stops reading: what is held is still handed out.
    pub(crate) fn close(&self) {
        self.local().closed = true;
        self.arrived.notify(usize::MAX);
        self.closing.notify(usize::MAX);
        self.room.notify(usize::MAX);
        self.to_write.notify(usize::MAX);
    }
}
