//! The tasks (or threads) waiting on one side of a mailbox.
//!
//! # The list and its flag
//!
//! Waiters queue in a FIFO list behind a mutex, each with a *ticket* (a
//! number that grows by one per registration) and its waker. The list has a
//! flag in the index the other side claims with ([`WAITING`], see `queue`):
//! set when the list gains its first waiter, cleared when it loses its last,
//! both under the list's lock, so a set flag means "someone waits
//! unnotified". The other side reads the flag from its claim, for free, and
//! takes the lock only then.
//!
//! A waiter registers, then tries again (the *re-check*), and sleeps only if
//! that fails; the queue's module docs say why no wakeup is lost. A waiter
//! that registers while the flag is set already makes no read-modify-write
//! of its own: its lock was taken after the first waiter set the flag, so
//! its re-check sees at least what that waiter's did.
//!
//! # Notifications
//!
//! A notification takes the oldest waiter off the list and wakes it, so `n`
//! messages wake up to `n` distinct receivers. It also records the waiter's
//! ticket as the latest notified: tickets leave the list in order (the
//! front first; a waiter that gives up takes only itself out), so a waiter
//! learns that it was notified from one atomic read, without the lock.
//! A waiter that gives up after a notification reached it passes the
//! notification on to the next (an aborted receiver never swallows a
//! wakeup), and so does one whose waker panics (its task may never run).
//! A `Stream`'s wait cannot give up that way: it lives in its
//! receiver, and a `next()` dropped mid-wait leaves it registered with
//! nobody to poll it. So it *lingers*: a notification that reaches it also
//! wakes the waiter after it.
//!
//! Waiters are woken in the order they registered, but a woken waiter is
//! not handed the message or room it was woken for: it tries again, and an
//! operation that never waited (a `try_send`, a first try) can take it
//! first. The woken waiter then registers again, behind those that
//! registered meanwhile. No wakeup is lost that way, but the order is not
//! strict FIFO under contention (as with event-listener's channels; tokio's
//! semaphore assigns permits to waiters instead).
//!
//! The future side of a wait (yielding first, registering, the re-check)
//! is in `wait`.

use core::task::Waker;
use std::collections::VecDeque;

use super::queue::WAITING;
use crate::runtime::{each_then_first_panic, keep_first, resume_unless_unwinding, Panic};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The waiters of one side: their list, on a cache line of its own (see
/// `Shared`), and the latest ticket notified.
pub(crate) struct WaitList {
    list: Mutex<List>,
    /// The ticket of the waiter notified last: every ticket up to it (in
    /// wrapping order) was notified or gave up. Written under the lock, read
    /// without it by a polled waiter.
    notified_up_to: AtomicUsize,
}

struct List {
    /// The waiters not yet notified, oldest (lowest ticket) first.
    waiting: Waiting,
    /// The next registration's ticket.
    next_ticket: usize,
}

struct Waiter {
    ticket: usize,
    waker: Waker,
    /// A `Stream`'s wait, which outlives the `next()` that made it: a
    /// `next()` given up under `select!` or a timeout leaves it registered,
    /// and nobody may poll it again. A notification that reaches it also
    /// wakes the waiter after it, so that it never keeps a wakeup from a
    /// receive that is waiting.
    lingers: bool,
}

impl WaitList {
    pub(crate) fn new() -> Self {
        Self {
            list: Mutex::new(List {
                waiting: Waiting(None),
                next_ticket: 1,
            }),
            notified_up_to: AtomicUsize::new(0),
        }
    }

    /// Whether the waiter with `ticket` was notified (or gave up).
    #[inline]
    fn notified(&self, ticket: usize) -> bool {
        // Acquire: pairs with the Release of the notification.
        let last = self.notified_up_to.load(Ordering::Acquire);
        // Tickets wrap: compare by distance (fewer than `isize::MAX`
        // registrations are ever outstanding).
        last.wrapping_sub(ticket) as isize >= 0
    }
}

/// The waiters not yet notified, oldest (lowest ticket) first; made at
/// the first wait. Most mailboxes of short-lived actors never have one, and
/// an absent queue costs their drop nothing.
struct Waiting(Option<VecDeque<Waiter>>);

impl Waiting {
    fn queue(&self) -> &VecDeque<Waiter> {
        const NONE: &VecDeque<Waiter> = &VecDeque::new();
        self.0.as_ref().unwrap_or(NONE)
    }

    fn is_empty(&self) -> bool {
        self.queue().is_empty()
    }

    #[cfg(all(test, not(loom)))]
    fn len(&self) -> usize {
        self.queue().len()
    }

    fn push_back(&mut self, waiter: Waiter) {
        self.0.get_or_insert_with(VecDeque::new).push_back(waiter);
    }

    fn pop_front(&mut self) -> Option<Waiter> {
        self.0.as_mut()?.pop_front()
    }

    /// The newest waiter's ticket.
    fn newest(&self) -> Option<usize> {
        self.queue().back().map(|waiter| waiter.ticket)
    }

    /// Where the waiter with `ticket` is, if still waiting. Tickets are in
    /// order from the front, so their distances from it are too.
    fn find(&self, ticket: usize) -> Option<usize> {
        let queue = self.queue();
        let front = queue.front()?.ticket;
        queue
            .binary_search_by_key(&ticket.wrapping_sub(front), |waiter| {
                waiter.ticket.wrapping_sub(front)
            })
            .ok()
    }

    /// The waker of the waiter at `at`, from [`find`](Self::find).
    fn waker_mut(&mut self, at: usize) -> Option<&mut Waker> {
        Some(&mut self.0.as_mut()?.get_mut(at)?.waker)
    }

    /// Takes out the waiter at `at`, from [`find`](Self::find).
    fn remove(&mut self, at: usize) -> Option<Waiter> {
        self.0.as_mut()?.remove(at)
    }

    /// Takes out every waiter, oldest first (the queue's memory with them).
    fn take(&mut self) -> Option<VecDeque<Waiter>> {
        self.0.take()
    }
}

/// One side's waiters as a mailbox lays them out: the list, and the index
/// word whose [`WAITING`] flag the other side reads. A view: the mailbox's
/// `Shared` owns both.
#[derive(Clone, Copy)]
pub(crate) struct Waiters<'a> {
    list: &'a WaitList,
    /// `tail` for receivers, `head` for senders (see `queue`).
    flag: &'a AtomicUsize,
}

impl<'a> Waiters<'a> {
    pub(crate) fn new(list: &'a WaitList, flag: &'a AtomicUsize) -> Self {
        Self { list, flag }
    }

    fn lock(self) -> MutexGuard<'a, List> {
        // No code of ours panics under the lock, so it is never poisoned; a
        // waker's clone that panicked would leave the list whole anyway.
        self.list
            .list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether anyone waits unnotified, as of a read-modify-write of the
    /// flag's word: for a caller that changed the mailbox without a claim
    /// (a message put back), whose change a waiter registering later then
    /// sees in its re-check.
    pub(crate) fn anyone_waiting(self) -> bool {
        // SeqCst, as every access to an index (see `queue`): the caller's
        // change is released to a waiter whose flag's read-modify-write
        // comes later; or this reads that flag.
        self.flag.fetch_or(0, Ordering::SeqCst) & WAITING != 0
    }

    /// Whether others wait on this side already, as a plain read: a wait
    /// that finds so queues behind them at once rather than yielding first
    /// (see `wait`).
    #[inline]
    pub(crate) fn others_waiting(self) -> bool {
        self.flag.load(Ordering::SeqCst) & WAITING != 0
    }

    /// Wakes the oldest waiter, if anyone waits unnotified; and the ones
    /// after it up to the first that does not linger (see
    /// [`Waiter::lingers`]). A waker's panic comes through, once the
    /// notification reached a waker that did not panic (see
    /// [`notify_one_catching`](Self::notify_one_catching)).
    #[cold]
    pub(crate) fn notify_one(self) {
        if let Some(panic) = self.notify_one_catching() {
            resume_unless_unwinding(panic);
        }
    }

    /// [`notify_one`](Self::notify_one), returning a waker's panic instead
    /// of resuming it, for a caller that must first put back what it holds.
    ///
    /// A waiter whose waker panicked may never run, so the notification
    /// passes on to the next waiter, until a waker takes it without
    /// panicking or nobody waits; the first panic is returned (later ones
    /// are leaked, as in `each_then_first_panic`).
    #[cold]
    pub(crate) fn notify_one_catching(self) -> Option<Panic> {
        let mut first_panic = None;
        loop {
            let (taken, panic) = {
                let mut list = self.lock();
                let Some(first) = list.waiting.pop_front() else {
                    break;
                };
                if first.lingers {
                    self.notify_lingering(list, first)
                } else {
                    self.record_notified(&list, first.ticket);
                    drop(list);
                    // A waker is foreign code: woken (and dropped) outside
                    // the lock.
                    match wake(first) {
                        Ok(()) => (true, None),
                        Err(panic) => (false, Some(panic)),
                    }
                }
            };
            if let Some(panic) = panic {
                keep_first(&mut first_panic, panic);
            }
            if taken {
                break;
            }
        }
        first_panic
    }

    /// Notifies a `first` waiter that lingers, taken off the list (still
    /// locked, as `list`), and the waiters after it up to the first that
    /// does not linger. Returns whether the last of them took the
    /// notification (its waker did not panic), and the first panic.
    #[cold]
    #[inline(never)]
    fn notify_lingering(
        self,
        mut list: MutexGuard<'a, List>,
        first: Waiter,
    ) -> (bool, Option<Panic>) {
        let mut last = first.ticket;
        let mut woken = vec![first];
        while let Some(next) = list.waiting.pop_front() {
            last = next.ticket;
            let lingers = next.lingers;
            woken.push(next);
            if !lingers {
                break;
            }
        }
        self.record_notified(&list, last);
        drop(list);
        let (mut taken, mut first_panic) = (true, None);
        for waiter in woken {
            taken = match wake(waiter) {
                Ok(()) => true,
                Err(panic) => {
                    keep_first(&mut first_panic, panic);
                    false
                }
            };
        }
        (taken, first_panic)
    }

    /// Records that every ticket up to `last` was notified, and lowers the
    /// flag if nobody waits any more; under the lock, held as `list`.
    fn record_notified(self, list: &List, last: usize) {
        // Release: pairs with the Acquire of `WaitList::notified`.
        self.list.notified_up_to.store(last, Ordering::Release);
        if list.waiting.is_empty() {
            self.lower_flag();
        }
    }

    /// Wakes every waiter. Call after the mailbox was closed.
    #[cold]
    pub(crate) fn notify_all(self) {
        // The read-modify-write orders the close before a flag set later,
        // whose waiter's re-check then sees the mailbox closed.
        if !self.anyone_waiting() {
            return;
        }
        let woken = {
            let mut list = self.lock();
            if let Some(newest) = list.waiting.newest() {
                self.list.notified_up_to.store(newest, Ordering::Release);
                self.lower_flag();
            }
            list.waiting.take().unwrap_or_default()
        };
        wake_all(woken);
    }

    /// Clears the flag, under the lock, as the list became empty.
    fn lower_flag(self) {
        // SeqCst, as every access to an index: a claim that no longer sees
        // the flag comes after this.
        self.flag.fetch_and(!WAITING, Ordering::SeqCst);
    }

    /// Registers the task of `waker`; returns its ticket. The caller then
    /// re-checks before it sleeps (see the module docs). A wait that
    /// `lingers` may be left with nobody to poll it (see
    /// [`Waiter::lingers`]).
    #[cold]
    pub(super) fn register(self, waker: &Waker, lingers: bool) -> usize {
        // A waker's clone is foreign code: before the lock, so that a panic
        // in it leaves the list and its flag as they were.
        let waker = waker.clone();
        let mut list = self.lock();
        let ticket = list.next_ticket;
        list.next_ticket = ticket.wrapping_add(1);
        if list.waiting.is_empty() {
            // SeqCst, as every access to an index: this reads every claim
            // before it, and what it released, for the re-check; a claim
            // after it reads the flag.
            self.flag.fetch_or(WAITING, Ordering::SeqCst);
        }
        list.waiting.push_back(Waiter {
            ticket,
            waker,
            lingers,
        });
        ticket
    }

    /// Whether the waiter with `ticket` was notified; if not, it will be
    /// woken through `waker` when it is.
    pub(super) fn poll_notified(self, ticket: usize, waker: &Waker) -> bool {
        if self.list.notified(ticket) {
            return true;
        }
        {
            let mut list = self.lock();
            let Some(at) = list.waiting.find(ticket) else {
                // Notified since the read above.
                return true;
            };
            if list
                .waiting
                .waker_mut(at)
                .is_some_and(|w| w.will_wake(waker))
            {
                return false;
            }
        }
        // Polled by another task: its waker replaces the registered one. A
        // waker's clone and drop are foreign code, kept outside the lock.
        let waker = waker.clone();
        let mut list = self.lock();
        let Some(registered) = list
            .waiting
            .find(ticket)
            .and_then(|at| list.waiting.waker_mut(at))
        else {
            // Notified meanwhile (through the old waker): done waiting.
            return true;
        };
        let old = core::mem::replace(registered, waker);
        drop(list);
        drop(old);
        false
    }

    /// Ends the wait of `ticket`. A notification that reached it passes on
    /// to another waiter; a waker's panic on the way is returned, for the
    /// caller to raise or not (see `Wait::end` and `Wait::cancel`).
    #[cold]
    pub(super) fn discard(self, ticket: usize) -> Option<Panic> {
        let mut list = self.lock();
        let found = list.waiting.find(ticket);
        match found.and_then(|at| list.waiting.remove(at)) {
            Some(gone) => {
                if list.waiting.is_empty() {
                    self.lower_flag();
                }
                drop(list);
                drop(gone); // its waker is foreign code: outside the lock
                None
            }
            None => {
                // A notification reached it: it goes to another waiter.
                drop(list);
                self.notify_one_catching()
            }
        }
    }

    /// How many wait unnotified.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn waiting(self) -> usize {
        self.lock().waiting.len()
    }
}

/// Wakes one waiter; its waker's panic, caught. (Its own function: waking
/// the one waiter of a notification through `wake_all`'s iterator cost 32
/// instructions more.)
fn wake(waiter: Waiter) -> Result<(), Panic> {
    std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| waiter.waker.wake()))
}

/// Wakes every waiter, even if a waker panics: the first panic is resumed
/// once all are woken (not at all while the thread unwinds: a message put
/// back by a delivery dropped in a panic).
fn wake_all(waiters: impl IntoIterator<Item = Waiter>) {
    each_then_first_panic(waiters, |waiter| waiter.waker.wake());
}
