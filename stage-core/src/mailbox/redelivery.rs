//! The redelivery lane: messages put back by a [`Delivery`] dropped without
//! an acknowledgement, waiting to be received again ahead of the queue.
//!
//! The lane is a short FIFO behind a mutex, with its length mirrored in an
//! atomic so that the hot paths, which find it empty all but right after a
//! crash, pay one relaxed load and never the lock. It is never closed and
//! never refuses a message: refusing would lose the message, and waiting for
//! room could wait on the very consumer that is putting it back. Its length
//! counts against the mailbox's capacity for senders (see
//! [`Shared::try_send`](super::shared::Shared::try_send)), so it stays small:
//! it holds at most the messages of the deliveries that were in flight.
//!
//! [`Delivery`]: super::Delivery

use std::collections::VecDeque;

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Mutex;

/// The lane keeps a buffer of this many messages however small it gets.
const SHRINK_ABOVE: usize = 16;

/// A message taken from the mailbox, with what its earlier deliveries
/// left: nothing for a message taken from the queue, its [`History`] for
/// one that was put back.
pub(crate) struct Returned<T> {
    pub(crate) message: T,
    /// Boxed: every message taken from the queue carries it, and almost
    /// none has one (a pointer to move, not a count and a string).
    pub(crate) history: Option<Box<History>>,
}

/// What the earlier deliveries of a message left.
pub(crate) struct History {
    /// How often it has been delivered under a guard so far.
    pub(crate) attempts: u32,
    /// The message of the latest recorded panic of one of those attempts.
    pub(crate) last_panic: Option<String>,
}

impl<T> Returned<T> {
    /// A message taken from the queue: never delivered before.
    #[inline]
    pub(crate) fn fresh(message: T) -> Self {
        Self {
            message,
            history: None,
        }
    }

    /// How often it has been delivered under a guard so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.history.as_ref().map_or(0, |history| history.attempts)
    }

    /// The latest panic recorded while handling it, if any.
    pub(crate) fn last_panic(&self) -> Option<&str> {
        self.history.as_ref()?.last_panic.as_deref()
    }
}

/// The lane itself.
pub(crate) struct Redeliveries<T> {
    queue: Mutex<VecDeque<Returned<T>>>,
    /// `queue.len()`, written under the lock, read without it: senders and
    /// receivers read it on every operation, and it (and the lock beside
    /// it) are written only when a message is put back or taken from the
    /// lane. The mailbox keeps it on the line both sides read (see `Shared`).
    len: AtomicUsize,
}

impl<T> Redeliveries<T> {
    pub(crate) fn new() -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// How many messages wait in the lane.
    ///
    /// Relaxed: a hint for the fast paths (the messages themselves are read
    /// under the lock). A thread that must see a put-back is ordered after
    /// it by a fence (the wakeup handshake) or by happens-before (a task
    /// restarted after its predecessor crashed).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Puts a message at the back of the lane.
    pub(crate) fn push(&self, returned: Returned<T>) {
        let mut queue = self.lock();
        queue.push_back(returned);
        self.len.store(queue.len(), Ordering::Relaxed);
    }

    /// Puts a message at the front of the lane: one a receive took and
    /// could not return, which stays the next.
    pub(crate) fn push_front(&self, returned: Returned<T>) {
        let mut queue = self.lock();
        queue.push_front(returned);
        self.len.store(queue.len(), Ordering::Relaxed);
    }

    /// Takes the message at the front of the lane, if any.
    #[inline]
    pub(crate) fn pop(&self) -> Option<Returned<T>> {
        if self.len() == 0 {
            return None;
        }
        self.pop_locked()
    }

    #[cold]
    fn pop_locked(&self) -> Option<Returned<T>> {
        let mut queue = self.lock();
        let returned = queue.pop_front();
        self.len.store(queue.len(), Ordering::Relaxed);
        // A burst of put-backs (a crash storm) must not keep its peak
        // allocation: shrink by half once a quarter is used, which keeps
        // pushes and pops amortised O(1).
        if queue.capacity() > SHRINK_ABOVE && queue.len() < queue.capacity() / 4 {
            let keep = (queue.len() * 2).max(SHRINK_ABOVE);
            queue.shrink_to(keep);
        }
        returned
    }

    /// What the lane's buffer can hold now.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn capacity(&self) -> usize {
        self.lock().capacity()
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, VecDeque<Returned<T>>> {
        // Only this file's code runs under the lock, and none of it panics
        // (a failed allocation aborts), so the lock is never poisoned; if it
        // were, the queue would still be consistent.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
