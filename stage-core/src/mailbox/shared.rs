//! The state every handle of one mailbox points at.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use concurrent_queue::{PopError, PushError};
use crossbeam_utils::CachePadded;

use super::builder::Policy;
use super::delivery::DeadLetter;
use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::queue::Queue;
use super::redelivery::{Redeliveries, Returned};
use super::stats::{Counters, Stats};
use super::waiters::{WaitList, Waiters};
use crate::sync::atomic::AtomicUsize;

/// A bounded queue, the lane of messages put back for another attempt, and
/// the tasks waiting on either side.
///
/// Laid out by cache line (128 bytes, as `CachePadded` takes a line on
/// x86-64, its prefetcher pulling lines in pairs), by who writes and who
/// reads on every operation:
///
/// 1. the count of waiting receivers, which every send reads, written when
///    a receiver waits and when a send wakes it (an idle consumer);
/// 2. the count of waiting senders, which every receive reads, written when
///    a sender waits and when a receive wakes it (a full mailbox);
/// 3. [`Front`]: what both sides read on every operation (the queue's
///    pointer, the lane's length) and what is seldom written at all;
/// 4. and 5. the wait list and solo slot of each side, which only its waits
///    and their notifications touch.
///
/// Each count, and each side's list, on a line of its own, so that the
/// waits and wakeups of one side move no other data away from the other (a
/// consumer and a producer that keep catching up with each other write
/// both counts, and lock both solo slots, all the time). Five lines in
/// all, where a line per part (each padded on its own) took seven.
pub(crate) struct Shared<T> {
    /// Registered receivers not yet notified: see [`Waiters`].
    receivers_unnotified: CachePadded<AtomicUsize>,
    /// Registered senders not yet notified: see [`Waiters`].
    senders_unnotified: CachePadded<AtomicUsize>,
    front: CachePadded<Front<T>>,
    /// Senders waiting for room.
    senders: CachePadded<WaitList>,
    /// Receivers waiting for a message.
    receivers: CachePadded<WaitList>,
}

/// What both sides read on every operation, and what is seldom written
/// (see [`Shared`]).
struct Front<T> {
    queue: Queue<T>,
    /// Messages put back by unacknowledged deliveries; received before the
    /// queue. Its length is read on every operation, its lock taken only to
    /// put a message back or take one from it.
    redeliveries: Redeliveries<T>,
    policy: Policy<T>,
    counters: Counters,
}

impl<T> Shared<T> {
    pub(crate) fn new(queue: Queue<T>, policy: Policy<T>) -> Self {
        Self {
            receivers_unnotified: CachePadded::new(AtomicUsize::new(0)),
            senders_unnotified: CachePadded::new(AtomicUsize::new(0)),
            front: CachePadded::new(Front {
                queue,
                redeliveries: Redeliveries::new(),
                policy,
                counters: Counters::new(),
            }),
            senders: CachePadded::new(WaitList::new()),
            receivers: CachePadded::new(WaitList::new()),
        }
    }

    /// The queue itself (the lane aside).
    #[inline]
    pub(crate) fn queue(&self) -> &Queue<T> {
        &self.front.queue
    }

    /// Senders waiting for room.
    #[inline]
    pub(crate) fn senders(&self) -> Waiters<'_> {
        Waiters::new(&self.senders_unnotified, &self.senders)
    }

    /// Receivers waiting for a message.
    #[inline]
    pub(crate) fn receivers(&self) -> Waiters<'_> {
        Waiters::new(&self.receivers_unnotified, &self.receivers)
    }

    /// Queued messages, put-back ones included.
    pub(crate) fn len(&self) -> usize {
        self.front.queue.len() + self.front.redeliveries.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.front.queue.capacity()
    }

    pub(crate) fn stats(&self) -> Stats {
        self.front.counters.snapshot()
    }

    #[inline]
    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        // Messages put back count against the capacity: a send finds the
        // mailbox full while the queue and the lane together hold
        // `capacity` messages. (The queue alone enforces its bound; this
        // check only matters right after a crash, when the lane is not
        // empty.)
        if self.front.redeliveries.len() != 0 && self.full_with_returned() {
            return Err(self.refuse(msg));
        }
        match self.front.queue.push(msg) {
            Ok(()) => {
                self.receivers().notify_one();
                Ok(())
            }
            Err(PushError::Full(msg)) => Err(TrySendError::Full(msg)),
            Err(PushError::Closed(msg)) => Err(TrySendError::Closed(msg)),
        }
    }

    /// Whether the queue and the lane together hold `capacity` messages.
    #[cold]
    fn full_with_returned(&self) -> bool {
        self.len() >= self.front.queue.capacity()
    }

    /// Why a message cannot be sent now that the lane filled the mailbox.
    #[cold]
    fn refuse(&self, msg: T) -> TrySendError<T> {
        if self.front.queue.is_closed() {
            TrySendError::Closed(msg)
        } else {
            TrySendError::Full(msg)
        }
    }

    /// Takes the next message with what its earlier deliveries left: first
    /// from the lane of messages put back, then from the queue.
    #[inline]
    pub(crate) fn try_take(&self) -> Result<Returned<T>, TryRecvError> {
        if self.front.redeliveries.len() != 0 {
            if let Some(returned) = self.take_returned() {
                return Ok(returned);
            }
        }
        self.pop_fresh().map(Returned::fresh)
    }

    /// [`try_take`](Self::try_take) for a plain receive, which has no use
    /// for what a message put back carries besides the message.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        if self.front.redeliveries.len() != 0 {
            if let Some(returned) = self.take_returned() {
                return Ok(returned.message);
            }
        }
        self.pop_fresh()
    }

    #[inline]
    fn pop_fresh(&self) -> Result<T, TryRecvError> {
        match self.front.queue.pop() {
            Ok(msg) => {
                self.senders().notify_one();
                Ok(msg)
            }
            Err(PopError::Empty) => Err(TryRecvError::Empty),
            Err(PopError::Closed) => Err(TryRecvError::Closed),
        }
    }

    /// Takes the first message of the lane that may still be delivered;
    /// those that used up their attempts go to the dead letters on the way.
    #[cold]
    fn take_returned(&self) -> Option<Returned<T>> {
        while let Some(returned) = self.front.redeliveries.pop() {
            // The lane counts against the capacity: there is room now.
            self.senders().notify_one();
            if returned.attempts < self.front.policy.max_attempts {
                return Some(returned);
            }
            self.dead_letter(returned);
        }
        None
    }

    /// Puts back the message of a delivery dropped without acknowledgement,
    /// ahead of the queue. Never fails, never waits: the lane takes it even
    /// when the mailbox is full or closed.
    #[cold]
    pub(crate) fn put_back(&self, returned: Returned<T>) {
        self.front.counters.redelivered();
        self.front.redeliveries.push(returned);
        self.receivers().notify_one();
    }

    /// Hands a message that is given up on to the dead-letter sink.
    #[cold]
    pub(crate) fn dead_letter(&self, returned: Returned<T>) {
        self.front.counters.dead_lettered();
        match &self.front.policy.dead_letters {
            Some(sink) => sink(DeadLetter::from_returned(returned)),
            None => tracing::error!(
                attempts = returned.attempts,
                last_panic = returned.last_panic.as_deref(),
                "dropping a message that failed every delivery it was allowed \
                 (the mailbox has no dead-letter sink)",
            ),
        }
    }

    pub(crate) fn close(&self) -> bool {
        if self.front.queue.close() {
            // Waiting senders fail with their message handed back; waiting
            // receivers drain what is left, then learn that it is closed.
            self.senders().notify_all();
            self.receivers().notify_all();
            true
        } else {
            false
        }
    }

    /// One try of a waiting send; `None` means "full: wait, then try again",
    /// with the message put back into `slot`.
    #[inline]
    pub(crate) fn attempt_send(&self, slot: &mut Option<T>) -> Option<Result<(), SendError<T>>> {
        let msg = slot.take().expect("`Send` polled after completion");
        match self.try_send(msg) {
            Ok(()) => Some(Ok(())),
            Err(TrySendError::Closed(msg)) => Some(Err(SendError(msg))),
            Err(TrySendError::Full(msg)) => {
                *slot = Some(msg);
                None
            }
        }
    }

    /// One try of a receive that ends when the mailbox is closed and
    /// drained; `None` means "empty: wait, then try again".
    #[inline]
    pub(crate) fn attempt_recv(&self) -> Option<Result<T, RecvError>> {
        until_closed(self.try_recv())
    }

    /// One try of a receive that waits for a message however long it takes:
    /// on a closed and drained mailbox too, where a delivery in flight may
    /// still put its message back.
    #[inline]
    pub(crate) fn attempt_recv_forever(&self) -> Option<T> {
        self.try_recv().ok()
    }

    /// [`attempt_recv`](Self::attempt_recv) for a guarded receive.
    #[inline]
    pub(crate) fn attempt_take(&self) -> Option<Result<Returned<T>, RecvError>> {
        until_closed(self.try_take())
    }

    /// [`attempt_recv_forever`](Self::attempt_recv_forever) for a guarded
    /// receive.
    #[inline]
    pub(crate) fn attempt_take_forever(&self) -> Option<Returned<T>> {
        self.try_take().ok()
    }
}

/// A receive's outcome for a wait: `None` (wait, then try again) while the
/// mailbox is empty, an error once it is closed and drained.
#[inline]
fn until_closed<M>(outcome: Result<M, TryRecvError>) -> Option<Result<M, RecvError>> {
    match outcome {
        Ok(message) => Some(Ok(message)),
        Err(TryRecvError::Closed) => Some(Err(RecvError)),
        Err(TryRecvError::Empty) => None,
    }
}

impl<T> Drop for Shared<T> {
    /// Drops the messages still queued when the last handle goes. A message
    /// whose `Drop` panics does not keep the others from being dropped: each
    /// is dropped on its own, and the first panic is resumed once all are
    /// gone (as `Vec` does), unless the thread is unwinding already.
    fn drop(&mut self) {
        let mut first_panic = None;
        let mut drop_one = |message: T| {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(message))) {
                match first_panic {
                    None => first_panic = Some(panic),
                    // Dropping a second payload could panic again.
                    Some(_) => core::mem::forget(panic),
                }
            }
        };
        while let Some(returned) = self.front.redeliveries.pop() {
            drop_one(returned.message);
        }
        while let Ok(message) = self.front.queue.pop() {
            drop_one(message);
        }
        if let Some(panic) = first_panic {
            if std::thread::panicking() {
                core::mem::forget(panic);
            } else {
                resume_unwind(panic);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
impl<T> Shared<T> {
    pub(crate) fn receivers_unnotified(&self) -> usize {
        self.receivers().unnotified()
    }

    pub(crate) fn queue_is_made(&self) -> bool {
        self.front.queue.is_made()
    }

    pub(crate) fn lane_capacity(&self) -> usize {
        self.front.redeliveries.capacity()
    }
}
