//! The state every handle of one mailbox points at.

use crossbeam_utils::CachePadded;

use super::builder::Policy;
use super::delivery::DeadLetter;
use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::queue::{Ends, PopError, PushError, Queue, Ring};
use super::redelivery::{Redeliveries, Returned};
use super::stats::{Counters, Stats};
use super::wait::Again;
use super::waiters::{WaitList, Waiters};
use crate::runtime::{each_then_first_panic, resume_unless_unwinding, Panic};
use crate::sync::spin_hint;

/// A bounded queue, the lane of messages put back for another attempt, and
/// the tasks waiting on either side.
///
/// Laid out by cache line (128 bytes, as `CachePadded` takes a line on
/// x86-64, its prefetcher pulling lines in pairs), by who writes and who
/// reads on every operation:
///
/// 1. the queue's `tail`, which every send claims, with the flag that says
///    receivers wait (see `queue`);
/// 2. its `head`, which every receive claims, with the flag that says
///    senders wait;
/// 3. [`Front`]: what both sides read on every operation (the ring's
///    slots and shape, the lane's length) and what is seldom written at
///    all;
/// 4. and 5. the wait list of each side, which only its waits and their
///    notifications touch.
///
/// So a producer and a consumer on two cores each write one line of their
/// own per message (and the slot they fill or empty), and read a third
/// that neither writes.
pub(crate) struct Shared<T> {
    ends: Ends,
    front: CachePadded<Front<T>>,
    /// Senders waiting for room.
    senders: CachePadded<WaitList>,
    /// Receivers waiting for a message.
    receivers: CachePadded<WaitList>,
}

/// What both sides read on every operation, and what is seldom written
/// (see [`Shared`]).
struct Front<T> {
    ring: Ring<T>,
    /// Messages put back by unacknowledged deliveries; received before the
    /// queue. Its length is read on every operation, its lock taken only to
    /// put a message back or take one from it.
    redeliveries: Redeliveries<T>,
    policy: Policy<T>,
    counters: Counters,
}

impl<T> Shared<T> {
    pub(crate) fn new(ring: Ring<T>, policy: Policy<T>) -> Self {
        Self {
            ends: Ends::new(),
            front: CachePadded::new(Front {
                ring,
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
    pub(crate) fn queue(&self) -> Queue<'_, T> {
        Queue {
            ends: &self.ends,
            ring: &self.front.ring,
        }
    }

    /// Senders waiting for room: they flag `head`, which receives claim.
    #[inline]
    pub(crate) fn senders(&self) -> Waiters<'_> {
        Waiters::new(&self.senders, self.ends.head())
    }

    /// Receivers waiting for a message: they flag `tail`, which sends
    /// claim.
    #[inline]
    pub(crate) fn receivers(&self) -> Waiters<'_> {
        Waiters::new(&self.receivers, self.ends.tail())
    }

    /// Queued messages, put-back ones included.
    pub(crate) fn len(&self) -> usize {
        self.queue().len() + self.front.redeliveries.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.capacity()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.front.ring.capacity()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue().is_closed()
    }

    pub(crate) fn stats(&self) -> Stats {
        self.front.counters.snapshot()
    }

    /// One try to queue `msg`, which may find a receive half-way
    /// ([`PushError::Busy`]).
    #[inline(always)]
    fn push(&self, msg: T) -> Result<(), PushError<T>> {
        // Messages put back count against the capacity: a send finds the
        // mailbox full while the queue and the lane together hold
        // `capacity` messages. (The queue alone enforces its bound; this
        // check only matters right after a crash, when the lane is not
        // empty.)
        if self.front.redeliveries.len() != 0 && self.full_with_returned() {
            return Err(self.refuse(msg));
        }
        if self.queue().push(msg)? {
            self.receivers().notify_one();
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn try_send(&self, mut msg: T) -> Result<(), TrySendError<T>> {
        loop {
            return match self.push(msg) {
                Ok(()) => Ok(()),
                Err(PushError::Full(msg)) => Err(TrySendError::Full(msg)),
                Err(PushError::Closed(msg)) => Err(TrySendError::Closed(msg)),
                Err(PushError::Busy(again)) => {
                    // A receive is a few instructions from freeing the
                    // slot: wait for it, as a full queue it is not.
                    msg = again;
                    spin_hint();
                    continue;
                }
            };
        }
    }

    /// Whether the queue and the lane together hold `capacity` messages.
    #[cold]
    fn full_with_returned(&self) -> bool {
        self.is_full()
    }

    /// Why a message cannot be sent now that the lane filled the mailbox.
    #[cold]
    fn refuse(&self, msg: T) -> PushError<T> {
        if self.is_closed() {
            PushError::Closed(msg)
        } else {
            PushError::Full(msg)
        }
    }

    /// One try to take the next message with what its earlier deliveries
    /// left: first from the lane of messages put back, then from the queue.
    #[inline(always)]
    fn take(&self) -> Result<Returned<T>, PopError> {
        if self.front.redeliveries.len() != 0 {
            if let Some(returned) = self.take_returned() {
                return Ok(returned);
            }
        }
        self.pop_fresh().map(Returned::fresh)
    }

    /// [`take`](Self::take) for a plain receive, which has no use for what
    /// a message put back carries besides the message.
    #[inline(always)]
    fn take_message(&self) -> Result<T, PopError> {
        if self.front.redeliveries.len() != 0 {
            if let Some(returned) = self.take_returned() {
                return Ok(returned.message);
            }
        }
        self.pop_fresh()
    }

    #[inline(always)]
    fn pop_fresh(&self) -> Result<T, PopError> {
        let (msg, senders_wait) = self.queue().pop()?;
        if senders_wait {
            return Ok(self.notify_room(msg, Returned::fresh));
        }
        Ok(msg)
    }

    /// Notifies a waiting sender of the room a receive made by taking
    /// `taken`, and gives it back. If a waker panics, `taken` goes back as
    /// the next message before the panic comes through: a receive that
    /// does not return a message leaves it in the mailbox. (While the
    /// thread unwinds already, the panic cannot come through: it is
    /// leaked, and the receive completes.)
    #[inline]
    fn notify_room<M>(&self, taken: M, returned: impl FnOnce(M) -> Returned<T>) -> M {
        match self.senders().notify_one_catching() {
            None => taken,
            Some(panic) => self.keep_next(taken, returned, panic),
        }
    }

    /// [`notify_room`](Self::notify_room) past a waker's panic.
    #[cold]
    #[inline(never)]
    fn keep_next<M>(&self, taken: M, returned: impl FnOnce(M) -> Returned<T>, panic: Panic) -> M {
        if std::thread::panicking() {
            core::mem::forget(panic);
            return taken;
        }
        self.front.redeliveries.push_front(returned(taken));
        // A second waker's panic is leaked, as the first comes through.
        if let Some(second) = self.wake_a_receiver_for_the_lane() {
            core::mem::forget(second);
        }
        std::panic::resume_unwind(panic)
    }

    #[inline]
    pub(crate) fn try_take(&self) -> Result<Returned<T>, TryRecvError> {
        until_not_busy(|| self.take())
    }

    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        until_not_busy(|| self.take_message())
    }

    /// Takes the first message of the lane that may still be delivered;
    /// those that used up their attempts go to the dead letters on the way.
    #[cold]
    fn take_returned(&self) -> Option<Returned<T>> {
        while let Some(mut returned) = self.front.redeliveries.pop() {
            // The lane counts against the capacity: there is room now.
            if self.senders().anyone_waiting() {
                returned = self.notify_room(returned, core::convert::identity);
            }
            if returned.attempts() < self.front.policy.max_attempts {
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
        if let Some(panic) = self.wake_a_receiver_for_the_lane() {
            resume_unless_unwinding(panic);
        }
    }

    /// Wakes a waiting receiver, if any, for a message just put in the
    /// lane (a change made without a claim, so the flag is read with a
    /// read-modify-write: see `Waiters::anyone_waiting`); a waker's panic
    /// is returned.
    fn wake_a_receiver_for_the_lane(&self) -> Option<Panic> {
        let receivers = self.receivers();
        if receivers.anyone_waiting() {
            receivers.notify_one_catching()
        } else {
            None
        }
    }

    /// Hands a message that is given up on to the dead-letter sink.
    #[cold]
    pub(crate) fn dead_letter(&self, returned: Returned<T>) {
        self.front.counters.dead_lettered();
        match &self.front.policy.dead_letters {
            Some(sink) => sink(DeadLetter::from_returned(returned)),
            None => tracing::error!(
                attempts = returned.attempts(),
                last_panic = returned.last_panic(),
                "dropping a message that failed every delivery it was allowed \
                 (the mailbox has no dead-letter sink)",
            ),
        }
    }

    pub(crate) fn close(&self) -> bool {
        if self.queue().close() {
            // Waiting senders fail with their message handed back; waiting
            // receivers drain what is left, then learn that it is closed.
            // Both sides are woken even if a waker of the first panics.
            each_then_first_panic([self.senders(), self.receivers()], Waiters::notify_all);
            true
        } else {
            false
        }
    }

    /// One try of a waiting send; [`Again`] means "wait, then try again",
    /// with the message put back into `slot`.
    #[inline(always)]
    pub(crate) fn attempt_send(
        &self,
        slot: &mut Option<T>,
    ) -> Result<Result<(), SendError<T>>, Again> {
        let msg = slot.take().expect("`Send` polled after completion");
        match self.push(msg) {
            Ok(()) => Ok(Ok(())),
            Err(PushError::Closed(msg)) => Ok(Err(SendError(msg))),
            Err(PushError::Full(msg)) => {
                *slot = Some(msg);
                Err(Again::Later)
            }
            Err(PushError::Busy(msg)) => {
                *slot = Some(msg);
                Err(Again::Soon)
            }
        }
    }

    /// One try of a receive that ends when the mailbox is closed and
    /// drained.
    #[inline(always)]
    pub(crate) fn attempt_recv(&self) -> Result<Result<T, RecvError>, Again> {
        until_closed(self.take_message())
    }

    /// One try of a receive that waits for a message however long it takes:
    /// on a closed and drained mailbox too, where a delivery in flight may
    /// still put its message back.
    #[inline(always)]
    pub(crate) fn attempt_recv_forever(&self) -> Result<T, Again> {
        forever(self.take_message())
    }

    /// [`attempt_recv`](Self::attempt_recv) for a guarded receive.
    #[inline(always)]
    pub(crate) fn attempt_take(&self) -> Result<Result<Returned<T>, RecvError>, Again> {
        until_closed(self.take())
    }

    /// [`attempt_recv_forever`](Self::attempt_recv_forever) for a guarded
    /// receive.
    #[inline(always)]
    pub(crate) fn attempt_take_forever(&self) -> Result<Returned<T>, Again> {
        forever(self.take())
    }
}

/// A receive that tries until it finds a message or none: a pop that finds
/// a send half-way waits the few instructions that send has left, as a
/// queue that is empty it is not.
#[inline]
fn until_not_busy<M>(mut take: impl FnMut() -> Result<M, PopError>) -> Result<M, TryRecvError> {
    loop {
        return match take() {
            Ok(message) => Ok(message),
            Err(PopError::Empty) => Err(TryRecvError::Empty),
            Err(PopError::Closed) => Err(TryRecvError::Closed),
            Err(PopError::Busy) => {
                spin_hint();
                continue;
            }
        };
    }
}

/// A receive's outcome for a wait that ends once the mailbox is closed and
/// drained.
#[inline]
fn until_closed<M>(outcome: Result<M, PopError>) -> Result<Result<M, RecvError>, Again> {
    match outcome {
        Ok(message) => Ok(Ok(message)),
        Err(PopError::Closed) => Ok(Err(RecvError)),
        Err(PopError::Empty) => Err(Again::Later),
        Err(PopError::Busy) => Err(Again::Soon),
    }
}

/// A receive's outcome for a wait that never ends without a message.
#[inline]
fn forever<M>(outcome: Result<M, PopError>) -> Result<M, Again> {
    match outcome {
        Ok(message) => Ok(message),
        Err(PopError::Empty | PopError::Closed) => Err(Again::Later),
        Err(PopError::Busy) => Err(Again::Soon),
    }
}

impl<T> Drop for Shared<T> {
    /// Drops the messages still queued when the last handle goes. A message
    /// whose `Drop` panics does not keep the others from being dropped: each
    /// is dropped on its own, and the first panic is resumed once all are
    /// gone (as `Vec` does), unless the thread is unwinding already.
    fn drop(&mut self) {
        let returned = core::iter::from_fn(|| self.front.redeliveries.pop());
        let queued = core::iter::from_fn(|| self.queue().pop().ok().map(|(message, _)| message));
        each_then_first_panic(returned.map(|r| r.message).chain(queued), drop);
    }
}

#[cfg(all(test, not(loom)))]
impl<T> Shared<T> {
    pub(crate) fn receivers_unnotified(&self) -> usize {
        self.receivers().waiting()
    }

    pub(crate) fn queue_is_made(&self) -> bool {
        self.queue().is_made()
    }

    pub(crate) fn lane_capacity(&self) -> usize {
        self.front.redeliveries.capacity()
    }
}
