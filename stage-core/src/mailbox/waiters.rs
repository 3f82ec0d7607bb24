//! The set of tasks (or threads) waiting on one side of a mailbox.
//!
//! `event-listener` takes a lock on every `notify` once an event has ever been
//! listened to. A mailbox would notify after every successful push or pop, so
//! the hot path first asks a counter of *unnotified* waiters, and skips the
//! notification — and its lock — when there is none: when nobody waits, and
//! also when every waiter has already been woken but has not run yet (the
//! other side is busy draining or filling the queue meanwhile).
//!
//! # The counter
//!
//! `unnotified` counts listeners that are registered (or about to be) and not
//! yet notified. A waiter adds itself before inserting its listener. A
//! notifier subtracts the listeners its notification reached (the count
//! `event-listener` returns, exact with its `std` feature). A waiter that gives
//! up removes its listener with [`Listener::discard`], which says — under the
//! listener list's lock, so without a race against notifiers — whether a
//! notification had reached it: if not, the waiter subtracts itself; if so,
//! the notifier already did, and the waiter passes the notification on to
//! another waiter (an aborted receiver never swallows a wakeup). The count is
//! thus never below the number of unnotified listeners; it may briefly be
//! above, which costs a notifier one needless lock and nothing else.
//!
//! # The handshake (Dekker-style)
//!
//! A waiter:   `unnotified += 1`; insert a listener; `fence(SeqCst)`;
//!             re-check the queue; sleep only if the re-check still fails.
//! A notifier: change the queue; `fence(SeqCst)`; read `unnotified`; notify if
//!             it is non-zero.
//!
//! The two fences are totally ordered. If the waiter's comes first, the
//! notifier's read sees the waiter counted (or already notified by someone
//! else, in which case the waiter will re-check after waking), and its notify,
//! which takes the list's lock after its fence, finds the listener. If the
//! notifier's comes first, the waiter's re-check sees the queue change. Either
//! way no wakeup is lost. Explicit fences are used rather than `SeqCst`
//! read-modify-writes because loom models `SeqCst` fences faithfully but not
//! `SeqCst` accesses.
//!
//! Each notification wakes one *additional* waiter (one not already notified),
//! so `n` pushes wake up to `n` distinct receivers: two waiting receivers are
//! both served.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crossbeam_utils::CachePadded;
use event_listener::{Event, EventListener, Listener};

use crate::sync::atomic::{fence, AtomicUsize, Ordering};

/// Tasks waiting for one kind of progress (room to send, or a message).
pub(crate) struct Waiters {
    event: Event,
    /// Registered listeners not yet notified (see the module docs). Written
    /// only on slow paths (a wait, a notification that reaches someone), read
    /// on every operation of the other side; padded so that it shares its
    /// cache line with nothing the fast paths write.
    unnotified: CachePadded<AtomicUsize>,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Self {
            event: Event::new(),
            unnotified: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Wakes one more waiter, if one waits unnotified. Call after the queue
    /// changed.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.anyone_unnotified() {
            self.notify(1);
        }
    }

    /// Wakes every waiter. Call after the queue was closed.
    pub(crate) fn notify_all(&self) {
        if self.anyone_unnotified() {
            self.notify(usize::MAX);
        }
    }

    #[inline]
    fn anyone_unnotified(&self) -> bool {
        // SeqCst fence: orders the caller's queue operation before the load
        // below; pairs with the fence in `listen` (see the module docs).
        fence(Ordering::SeqCst);
        // Relaxed: the fence above provides the ordering.
        self.unnotified.load(Ordering::Relaxed) != 0
    }

    #[cold]
    fn notify(&self, n: usize) {
        let reached = self.event.notify_additional(n);
        if reached != 0 {
            // Relaxed: a reader that still sees the old, higher count only
            // makes a needless notification.
            self.unnotified.fetch_sub(reached, Ordering::Relaxed);
        }
    }

    /// Registers a listener. The caller re-checks its condition after this
    /// returns and before waiting (a [`Wait`] does).
    #[cold]
    fn listen(&self) -> EventListener {
        // Relaxed: ordered before the re-check by the fence below.
        self.unnotified.fetch_add(1, Ordering::Relaxed);
        let listener = self.event.listen();
        // SeqCst fence: the count and the listener are visible to a notifier
        // whose fence comes later; a notifier whose fence came earlier has its
        // queue change visible to our re-check.
        fence(Ordering::SeqCst);
        listener
    }

    /// Removes a listener that has not completed.
    #[cold]
    fn discard(&self, listener: EventListener) {
        if listener.discard() {
            // The notification meant for us (already subtracted by its
            // notifier) goes to another waiter instead.
            self.notify_one();
        } else {
            // Relaxed: a stale higher count only costs a notifier a lock.
            self.unnotified.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many listeners wait unnotified.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn unnotified(&self) -> usize {
        self.unnotified.load(Ordering::SeqCst)
    }
}

/// How often a wait yields to the executor before it registers a listener.
///
/// Measured on 2 cores: one yield lets the peer task run on a current_thread
/// runtime; a few more act as a short spin on a multi-thread runtime, where
/// the peer usually makes progress on another worker within that time. A
/// real spin (crossbeam's `Backoff`) was measured 3x slower on current_thread,
/// where it can never succeed.
///
/// Loom models one yield: a yield only retries the attempt later, so further
/// yields repeat an explored step while multiplying the state space.
#[cfg(not(loom))]
pub(crate) const YIELDS: u8 = 3;
#[cfg(loom)]
pub(crate) const YIELDS: u8 = 1;

/// One wait in progress on a [`Waiters`] set: the slot a future keeps its
/// listener in between polls.
///
/// It does not borrow the set, so that it can live inside handles that own
/// the mailbox (a `Receiver` used as a `Stream`); whoever owns it calls
/// [`Wait::cancel`] before dropping it, as every owner does in `Drop`.
#[derive(Default)]
pub(crate) struct Wait {
    listener: Option<EventListener>,
    /// How often this wait has yielded to the executor.
    yields: u8,
}

impl Wait {
    /// A wait that registers at its first `Pending`, without yielding
    /// first: for a consumer that answers requests (an actor), whose
    /// yields would only delay the requester it just answered on a
    /// current_thread runtime. After a wakeup it may yield as others do.
    #[cfg(not(loom))]
    pub(crate) fn registering() -> Self {
        Self {
            listener: None,
            yields: YIELDS,
        }
    }

    /// Polls one step of a wait for `attempt` to succeed on `waiters`.
    ///
    /// `attempt` tries the operation; `Some` ends the wait. On `None`, the
    /// wait first yields to the executor up to [`YIELDS`] times; then it
    /// registers a listener and tries again (the re-check), and from then on
    /// waits for a notification before each further try.
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
                None if self.yields < YIELDS => {
                    // Before paying for a listener, give the other side a
                    // turn: on a busy executor it usually makes the progress
                    // we wait for, and neither side touches a lock.
                    self.yields += 1;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                None => self.listener = Some(waiters.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // Notified (and counted out by the notifier): the
                    // listener is spent. Try again; register anew if need be.
                    self.listener = None;
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
                // Returns once notified (and counted out by the notifier).
                Some(listener) => listener.wait(),
            }
        }
    }

    /// Ends the wait; a notification it received passes on to another waiter.
    /// The slot is then ready for a new wait, yields included (a `Receiver`
    /// used as a `Stream` reuses one slot for every message).
    #[inline]
    pub(crate) fn cancel(&mut self, waiters: &Waiters) {
        self.yields = 0;
        if let Some(listener) = self.listener.take() {
            waiters.discard(listener);
        }
    }
}
