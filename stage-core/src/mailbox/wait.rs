//! One wait on a side of a mailbox, as a send or receive future keeps it
//! between polls: yielding first, registering, the re-check, and waiting
//! for a notification (the list it registers on is `waiters`).
//!
//! # Yielding first
//!
//! A wait first yields to the executor a few times ([`YIELDS`]) before it
//! registers: on a busy executor the other side usually makes the progress
//! it waits for meanwhile, and then neither side touches a lock. Not when
//! others wait on its side already: the progress it waits for wakes them
//! first, so its yields mostly fail (four senders and four receivers on one
//! slot were polled 3.5 times per message, 2 without them), and it queues
//! behind them at once.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use super::waiters::Waiters;
use crate::runtime::resume_unless_unwinding;
use crate::sync::thread;

/// How often a wait yields to the executor before it registers.
///
/// Measured on 2 cores: one yield lets the peer task run on a current_thread
/// runtime; a few more act as a short spin on a multi-thread runtime, where
/// the peer usually makes progress on another worker within that time. A
/// real spin (crossbeam's `Backoff`) was measured 3x slower on current_thread,
/// where it can never succeed.
///
/// Loom models none: a yield only retries the attempt later, as a spurious
/// poll would, and each one multiplies the state space; registering at the
/// first failed attempt explores the handshake in every wait.
#[cfg(not(loom))]
pub(crate) const YIELDS: u8 = 3;
#[cfg(loom)]
pub(crate) const YIELDS: u8 = 0;

/// Why an attempt did not complete.
pub(crate) enum Again {
    /// The mailbox is empty (for a receive) or full (for a send): wait for
    /// the other side.
    Later,
    /// The other side is half-way through an operation this one needs
    /// finished (a queue's `Busy`): try again soon, and do not sleep.
    Soon,
}

/// One wait in progress on a [`Waiters`] set: the ticket a future keeps
/// between polls.
///
/// It does not borrow the set, so that it can live inside handles that own
/// the mailbox (a `Receiver` used as a `Stream`); whoever owns it calls
/// [`Wait::cancel`] before dropping it, as every owner does in `Drop`.
#[derive(Default)]
pub(crate) struct Wait {
    /// The ticket of its registration, while registered.
    ticket: Option<usize>,
    /// How often this wait has yielded to the executor.
    yields: u8,
    /// The caller tried just before the first poll, and failed: that poll
    /// registers before it tries (the re-check) instead of trying twice.
    tried: bool,
    /// A `Stream`'s wait, which may be left registered with nobody to poll
    /// it: its registrations pass their notifications on as well (see
    /// `waiters`).
    lingers: bool,
}

impl Wait {
    /// A wait that registers at its first poll, without yielding first,
    /// for a caller that has just tried and failed: a consumer that answers
    /// requests (an actor), whose yields would only delay the requester it
    /// just answered on a current_thread runtime.
    #[cfg(not(loom))]
    pub(crate) fn registering() -> Self {
        Self {
            ticket: None,
            yields: YIELDS,
            tried: true,
            lingers: false,
        }
    }

    /// The wait of a `Stream`, which lives in its receiver and outlives
    /// each `next()`: one given up mid-wait leaves it registered, and its
    /// notification is passed on at once as well as kept.
    pub(crate) fn lingering() -> Self {
        Self {
            lingers: true,
            ..Self::default()
        }
    }

    /// Polls one step of a wait for `attempt` to succeed on `waiters`.
    ///
    /// `attempt` tries the operation. On [`Again::Later`], the wait first
    /// yields to the executor up to [`YIELDS`] times; then it registers and
    /// tries again (the re-check), and from then on waits for a
    /// notification before each further try (a poll before it is a spurious
    /// wakeup: still pending). On [`Again::Soon`] it yields, registered or
    /// not, and tries again at the next poll.
    ///
    /// The first try of a wait that has not started is the hot path, and
    /// is inlined into the caller's poll; the rest is not (an `attempt`
    /// called from two places was kept out of line whole).
    ///
    /// Once it returns `Ready` the wait is over, with no registration left;
    /// an owner that waits again with the same slot first makes it new, its
    /// count of yields included (as the `Stream` does, per item).
    ///
    /// `waiters` gives the list to register on: asked for only past the
    /// first try, so that the hot path keeps no view of it.
    #[inline(always)]
    pub(crate) fn poll<'w, R>(
        &mut self,
        waiters: impl FnOnce() -> Waiters<'w>,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> Result<R, Again>,
    ) -> Poll<R> {
        if self.ticket.is_none() && !self.tried {
            match attempt() {
                Ok(done) => Poll::Ready(done),
                Err(again) => self.failed(waiters(), cx, again, attempt),
            }
        } else {
            self.poll_slowly(waiters(), cx, attempt)
        }
    }

    /// [`poll`](Self::poll) past its first try: a wait registered, or one
    /// whose caller tried already.
    #[cold]
    #[inline(never)]
    fn poll_slowly<R>(
        &mut self,
        waiters: Waiters<'_>,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> Result<R, Again>,
    ) -> Poll<R> {
        // A registered wait tries again only once notified: the notifier
        // took it off the list, so nothing is left to undo when the try
        // succeeds.
        if let Some(ticket) = self.ticket {
            if !waiters.poll_notified(ticket, cx.waker()) {
                return Poll::Pending;
            }
            self.ticket = None;
        }
        if core::mem::take(&mut self.tried) {
            return self.failed(waiters, cx, Again::Later, attempt);
        }
        match attempt() {
            Ok(done) => Poll::Ready(done),
            Err(again) => self.failed(waiters, cx, again, attempt),
        }
    }

    /// What a wait does after a try failed: yields, or registers and tries
    /// again (the re-check).
    #[cold]
    #[inline(never)]
    fn failed<R>(
        &mut self,
        waiters: Waiters<'_>,
        cx: &mut Context<'_>,
        again: Again,
        mut attempt: impl FnMut() -> Result<R, Again>,
    ) -> Poll<R> {
        if let Again::Soon = again {
            return Self::soon(cx);
        }
        // Never true under loom, where `YIELDS` is 0.
        #[allow(clippy::absurd_extreme_comparisons)]
        if self.yields < YIELDS && !waiters.others_waiting() {
            // Before registering, give the other side a turn: on a busy
            // executor it usually makes the progress we wait for, and
            // neither side touches a lock. (Unless others of this side
            // wait already: see the module docs.)
            self.yields += 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // Kept before the re-check: if the re-check panics (a dead-letter
        // sink, say), the owner's drop still ends this registration.
        self.ticket = Some(waiters.register(cx.waker(), self.lingers));
        // The re-check (see the module docs).
        match attempt() {
            Ok(done) => {
                self.cancel(waiters);
                Poll::Ready(done)
            }
            Err(Again::Soon) => {
                self.cancel(waiters);
                Self::soon(cx)
            }
            Err(Again::Later) => Poll::Pending,
        }
    }

    /// Yields to the executor for an attempt that will succeed or fail
    /// properly once the other side finishes its step.
    #[cold]
    fn soon<R>(cx: &mut Context<'_>) -> Poll<R> {
        crate::sync::spin_hint();
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Ends the registration of a poll that goes on: its re-check took
    /// what it waited for, or is to try again soon. A notification it
    /// received passes on to another waiter.
    ///
    /// A waker's panic met while passing the notification on is not raised
    /// here: the poll holds its result (a message taken, or a message still
    /// to send), which the unwind would drop. The panic hook reported it
    /// when it happened.
    #[inline]
    fn cancel(&mut self, waiters: Waiters<'_>) {
        if let Some(ticket) = self.ticket.take() {
            if let Some(panic) = waiters.discard(ticket) {
                core::mem::forget(panic);
            }
        }
    }

    /// Ends the wait of an owner that is being dropped: as
    /// [`cancel`](Self::cancel), but a waker's panic met while passing a
    /// notification on comes through the drop, unless the thread is
    /// unwinding already.
    #[inline]
    pub(crate) fn end(&self, waiters: Waiters<'_>) {
        if let Some(ticket) = self.ticket {
            if let Some(panic) = waiters.discard(ticket) {
                resume_unless_unwinding(panic);
            }
        }
    }
}

/// Runs `future` to completion on the current thread, parking it while the
/// future waits: the blocking sends and receives.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    /// Wakes a parked thread.
    struct Unpark(thread::Thread);

    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }

        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(std::sync::Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}
