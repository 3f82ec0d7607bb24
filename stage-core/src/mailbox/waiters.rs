//! The set of tasks (or threads) waiting on one side of a mailbox.
//!
//! `event-listener` takes a mutex on every `notify` once an event has ever
//! been listened to. A mailbox notifies after every successful push or pop,
//! so on the hot path we first ask a counter whether anybody waits at all, and
//! skip the notification (and its lock) when nobody does.
//!
//! # The protocol (a Dekker-style handshake)
//!
//! A waiter:  `count += 1`; insert a listener; `fence(SeqCst)`; re-check the
//!            queue; sleep only if the re-check still fails.
//! A notifier: change the queue; `fence(SeqCst)`; read `count`; notify if it is
//!            non-zero.
//!
//! The two fences are totally ordered. If the waiter's fence comes first, the
//! notifier's read of `count` sees the increment, and its notify (which takes
//! the listener list's lock after its fence) sees the inserted listener. If the
//! notifier's fence comes first, the waiter's re-check sees the queue change.
//! Either way no wakeup is lost. Explicit fences are used rather than `SeqCst`
//! read-modify-writes because loom models `SeqCst` fences faithfully but not
//! `SeqCst` accesses.
//!
//! Each notification wakes one *additional* listener (one that was not already
//! notified), so `n` pushes wake up to `n` distinct receivers and two waiting
//! receivers are both served. A listener that is dropped after being notified
//! (its task was aborted) hands the notification to the next listener; that is
//! `event-listener`'s contract, and it is what makes the mailbox's futures
//! cancel-safe.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crossbeam_utils::CachePadded;
use event_listener::{Event, EventListener, Listener};

use crate::sync::atomic::{fence, AtomicUsize, Ordering};

/// Tasks waiting for one kind of progress (room to send, or a message).
pub(crate) struct Waiters {
    event: Event,
    /// How many listeners are registered, or about to be. Written only on the
    /// slow path (a wait); read on every notification. Padded so that waiters
    /// on one side do not slow down the other side's reads.
    count: CachePadded<AtomicUsize>,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Self {
            event: Event::new(),
            count: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Wakes one more waiter, if any waits. Call after the queue changed.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.anyone_waiting() {
            self.event.notify_additional(1);
        }
    }

    /// Wakes every waiter. Call after the queue was closed.
    pub(crate) fn notify_all(&self) {
        if self.anyone_waiting() {
            self.event.notify(usize::MAX);
        }
    }

    #[inline]
    fn anyone_waiting(&self) -> bool {
        // SeqCst fence: orders the caller's queue operation before the load
        // below; pairs with the fence in `listen` (see the module docs).
        fence(Ordering::SeqCst);
        // Relaxed: the fence above provides the ordering.
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Registers a listener. The caller must re-check its condition after this
    /// returns and before waiting, and hand the listener back with `unlisten`
    /// (a [`Wait`] does both).
    fn listen(&self) -> EventListener {
        // Relaxed: ordered before the re-check by the fence below.
        self.count.fetch_add(1, Ordering::Relaxed);
        let listener = self.event.listen();
        // SeqCst fence: the increment and the inserted listener are visible to
        // a notifier whose fence comes later; a notifier whose fence came
        // earlier has its queue change visible to our re-check.
        fence(Ordering::SeqCst);
        listener
    }

    /// How many listeners are registered.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn waiting(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    fn unlisten(&self, listener: EventListener) {
        // Dropping a listener that was notified passes the notification on to
        // the next listener, so this never swallows a wakeup.
        drop(listener);
        // Relaxed: a stale non-zero count only costs a notifier a lock.
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One wait in progress on a [`Waiters`] set: the slot a future keeps its
/// listener in between polls.
///
/// It does not borrow the set, so that it can live inside handles that own
/// the mailbox (a `Receiver` used as a `Stream`); whoever owns it must call
/// [`Wait::cancel`] before dropping it, which every owner does in `Drop`.
#[derive(Default)]
pub(crate) struct Wait {
    listener: Option<EventListener>,
}

impl Wait {
    /// Polls one step of a wait for `ready` to succeed on `waiters`.
    ///
    /// `attempt` tries the operation; `Some` ends the wait. On `None`, the
    /// first call registers a listener and tries again (the re-check), later
    /// calls wait for a notification and then try again.
    #[inline]
    pub(crate) fn poll<R>(
        &mut self,
        waiters: &Waiters,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> Option<R>,
    ) -> Poll<R> {
        loop {
            if let Some(done) = attempt() {
                self.cancel(waiters);
                return Poll::Ready(done);
            }
            match &mut self.listener {
                None => self.listener = Some(waiters.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // Notified: the listener is spent; try again, and register
                    // a fresh one if that fails.
                    self.cancel(waiters);
                }
            }
        }
    }

    /// Blocks the current thread until `attempt` succeeds.
    pub(crate) fn block_on<R>(waiters: &Waiters, mut attempt: impl FnMut() -> Option<R>) -> R {
        let mut wait = Wait::default();
        loop {
            if let Some(done) = attempt() {
                wait.cancel(waiters);
                return done;
            }
            match wait.listener.take() {
                None => wait.listener = Some(waiters.listen()),
                Some(listener) => {
                    listener.wait();
                    waiters.count.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Ends the wait, passing on a notification it may have received.
    #[inline]
    pub(crate) fn cancel(&mut self, waiters: &Waiters) {
        if let Some(listener) = self.listener.take() {
            waiters.unlisten(listener);
        }
    }
}
