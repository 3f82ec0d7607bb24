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
//!
//! # The solo slot
//!
//! Most mailboxes have one consumer (an actor, a worker), and it waits over
//! and over: a listener per wait (an allocation, and the list's lock four
//! times: insert, poll, notify, remove) is most of what a wait costs. So the
//! first task to wait takes a *solo slot* instead: its waker under a small
//! mutex, taken once to register, once by the notifier, once to see the
//! notification. Others wait as listeners meanwhile. A notification goes to
//! the solo waiter first, then to listeners. The slot is a waiter as a
//! listener is — counted in `unnotified` the same way, registered before the
//! waiter's fence, found by a notifier that locks it after its own fence — so
//! the handshake above holds for both. Blocking waits (a thread, not a task)
//! always use listeners.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener, Listener};

use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The tasks waiting for one kind of progress (room to send, or a
/// message), as a mailbox lays them out: their count, which the other
/// side reads on every operation, and their list and solo slot, which
/// only waits and notifications touch, each on a cache line of its own
/// (see `Shared`). A view: the mailbox's `Shared` owns both parts.
#[derive(Clone, Copy)]
pub(crate) struct Waiters<'a> {
    /// Registered waiters (the solo one and listeners) not yet notified
    /// (see the module docs). Written only on slow paths (a wait, a
    /// notification that reaches someone), read on every operation of the
    /// other side.
    unnotified: &'a AtomicUsize,
    list: &'a WaitList,
}

/// The part of a side's [`Waiters`] that only waits and notifications
/// touch: kept off the line of the count, which the other side reads on
/// every operation (a lock there would pull that line away from it each
/// time).
pub(crate) struct WaitList {
    event: Event,
    /// Locked at each step of a solo wait, and by its notifiers.
    solo: Mutex<Solo>,
}

impl WaitList {
    pub(crate) fn new() -> Self {
        Self {
            event: Event::new(),
            solo: Mutex::new(Solo::default()),
        }
    }
}

/// The solo slot (see the module docs).
#[derive(Default)]
struct Solo {
    /// A wait holds the slot.
    taken: bool,
    /// A notification reached it, and it has not seen it yet.
    notified: bool,
    /// Its task, while it waits unnotified.
    waker: Option<Waker>,
}

/// How a wait is registered.
enum Registration {
    Solo,
    Listener(EventListener),
}

impl<'a> Waiters<'a> {
    pub(crate) fn new(unnotified: &'a AtomicUsize, list: &'a WaitList) -> Self {
        Self { unnotified, list }
    }

    fn solo(self) -> MutexGuard<'a, Solo> {
        // Nothing panics while holding it; a poisoned slot is still whole.
        self.list.solo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes one more waiter, if one waits unnotified. Call after the queue
    /// changed.
    #[inline]
    pub(crate) fn notify_one(self) {
        if self.anyone_unnotified() {
            self.notify(1);
        }
    }

    /// Wakes every waiter. Call after the queue was closed.
    pub(crate) fn notify_all(self) {
        if self.anyone_unnotified() {
            self.notify(usize::MAX);
        }
    }

    #[inline]
    fn anyone_unnotified(self) -> bool {
        // SeqCst fence: orders the caller's queue operation before the load
        // below; pairs with the fence in `listen` (see the module docs).
        fence(Ordering::SeqCst);
        // Relaxed: the fence above provides the ordering.
        self.unnotified.load(Ordering::Relaxed) != 0
    }

    #[cold]
    fn notify(self, n: usize) {
        // The solo waiter first: its lock is taken after the caller's
        // fence, so a waiter counted before that fence is found.
        let solo = {
            let mut solo = self.solo();
            if solo.taken && !solo.notified {
                solo.notified = true;
                solo.waker.take()
            } else {
                None
            }
        };
        let mut reached = usize::from(solo.is_some());
        if n > reached {
            reached += self.list.event.notify_additional(n - reached);
        }
        if reached != 0 {
            // Relaxed: a reader that still sees the old, higher count only
            // makes a needless notification.
            self.unnotified.fetch_sub(reached, Ordering::Relaxed);
        }
        if let Some(waker) = solo {
            waker.wake();
        }
    }

    /// Registers the task of `waker`: in the solo slot if it is free, else
    /// as a listener. The caller re-checks its condition after this returns
    /// and before waiting (a [`Wait`] does).
    #[cold]
    fn register(self, waker: &Waker) -> Registration {
        self.counted(|| {
            let mut solo = self.solo();
            if solo.taken {
                drop(solo);
                return Registration::Listener(self.list.event.listen());
            }
            *solo = Solo {
                taken: true,
                notified: false,
                waker: Some(waker.clone()),
            };
            Registration::Solo
        })
    }

    /// Registers a listener, for a blocking wait (a thread has no waker for
    /// the solo slot). The caller re-checks as after [`register`](Self::register).
    #[cold]
    fn listen(self) -> EventListener {
        self.counted(|| self.list.event.listen())
    }

    /// Counts a waiter in, then `inserts` it, then fences (see the module
    /// docs).
    #[inline]
    fn counted<T>(self, insert: impl FnOnce() -> T) -> T {
        // Relaxed: ordered before the re-check by the fence below.
        self.unnotified.fetch_add(1, Ordering::Relaxed);
        let registered = insert();
        // SeqCst fence: the count and the registration are visible to a
        // notifier whose fence comes later; a notifier whose fence came
        // earlier has its queue change visible to our re-check.
        fence(Ordering::SeqCst);
        registered
    }

    /// Polls the solo slot's waiter: ready once notified (the slot is then
    /// free again); else its task is woken when it is.
    fn poll_solo(self, cx: &mut Context<'_>) -> Poll<()> {
        let mut solo = self.solo();
        if solo.notified {
            // The notifier took the waker: nothing is dropped under the lock.
            *solo = Solo::default();
            return Poll::Ready(());
        }
        if solo
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        let old = solo.waker.replace(cx.waker().clone());
        drop(solo);
        drop(old); // a waker's drop is foreign code: outside the lock
        Poll::Pending
    }

    /// Ends a wait that has not seen its notification.
    #[cold]
    fn discard(self, registration: Registration) {
        let notified = match registration {
            Registration::Listener(listener) => listener.discard(),
            Registration::Solo => {
                let left = core::mem::take(&mut *self.solo());
                left.notified // its waker is dropped here, outside the lock
            }
        };
        if notified {
            // The notification meant for us (already subtracted by its
            // notifier) goes to another waiter instead.
            self.notify_one();
        } else {
            // Relaxed: a stale higher count only costs a notifier a lock.
            self.unnotified.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many waiters wait unnotified.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn unnotified(self) -> usize {
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
    registration: Option<Registration>,
    /// How often this wait has yielded to the executor.
    yields: u8,
    /// The caller tried just before the first poll, and failed: that poll
    /// registers before it tries (the re-check) instead of trying twice.
    tried: bool,
}

impl Wait {
    /// A wait that registers at its first poll, without yielding first,
    /// for a caller that has just tried and failed: a consumer that answers
    /// requests (an actor), whose yields would only delay the requester it
    /// just answered on a current_thread runtime.
    #[cfg(not(loom))]
    pub(crate) fn registering() -> Self {
        Self {
            registration: None,
            yields: YIELDS,
            tried: true,
        }
    }

    /// Polls one step of a wait for `attempt` to succeed on `waiters`.
    ///
    /// `attempt` tries the operation; `Some` ends the wait. On `None`, the
    /// wait first yields to the executor up to [`YIELDS`] times; then it
    /// registers (the solo slot, or a listener) and tries again (the
    /// re-check), and from then on waits for a notification before each
    /// further try (a poll before it is a spurious wakeup: still pending).
    #[inline]
    pub(crate) fn poll<R>(
        &mut self,
        waiters: Waiters<'_>,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> Option<R>,
    ) -> Poll<R> {
        loop {
            // A registered wait tries again only once notified: the
            // notifier counted it out, so nothing is left to undo when the
            // try succeeds (a try before the notification is seen would
            // have to pass the notification on).
            if let Some(registration) = &mut self.registration {
                let notified = match registration {
                    Registration::Solo => waiters.poll_solo(cx),
                    Registration::Listener(listener) => Pin::new(listener).poll(cx),
                };
                if notified.is_pending() {
                    return Poll::Pending;
                }
                self.registration = None;
            }
            if !core::mem::take(&mut self.tried) {
                if let Some(done) = attempt() {
                    self.cancel(waiters);
                    return Poll::Ready(done);
                }
            }
            if self.yields < YIELDS {
                // Before registering, give the other side a turn: on a busy
                // executor it usually makes the progress we wait for, and
                // neither side touches a lock.
                self.yields += 1;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let registration = waiters.register(cx.waker());
            // The re-check (see the module docs).
            if let Some(done) = attempt() {
                waiters.discard(registration);
                self.yields = 0;
                return Poll::Ready(done);
            }
            // The solo slot has our waker already; a listener learns it
            // when first polled, at the top of the loop.
            let solo = matches!(registration, Registration::Solo);
            self.registration = Some(registration);
            if solo {
                return Poll::Pending;
            }
        }
    }

    /// Blocks the current thread until `attempt` succeeds.
    pub(crate) fn block_on<R>(waiters: Waiters<'_>, mut attempt: impl FnMut() -> Option<R>) -> R {
        let mut listener = None;
        loop {
            if let Some(done) = attempt() {
                if let Some(listener) = listener {
                    waiters.discard(Registration::Listener(listener));
                }
                return done;
            }
            match listener.take() {
                None => listener = Some(waiters.listen()),
                // Returns once notified (and counted out by the notifier).
                Some(registered) => registered.wait(),
            }
        }
    }

    /// Ends the wait; a notification it received passes on to another waiter.
    /// The slot is then ready for a new wait, yields included (a `Receiver`
    /// used as a `Stream` reuses one slot for every message).
    #[inline]
    pub(crate) fn cancel(&mut self, waiters: Waiters<'_>) {
        self.yields = 0;
        self.tried = false;
        if let Some(registration) = self.registration.take() {
            waiters.discard(registration);
        }
    }
}
