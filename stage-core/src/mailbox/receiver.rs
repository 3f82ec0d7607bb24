//! The receiving half of a mailbox.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::panic::{RefUnwindSafe, UnwindSafe};

use futures_core::{FusedStream, Stream};

use super::delivery::Delivery;
use super::error::{RecvError, TryRecvError};
use super::redelivery::Returned;
use super::shared::Shared;
use super::wait::{block_on, Again, Wait};
use crate::sync::Arc;

/// The receiving half of a [`mailbox`](crate::mailbox()).
///
/// Cheap to clone; clones compete for messages (each message goes to exactly
/// one receiver). Dropping receivers — a consumer task that panicked, say —
/// never closes the mailbox nor drops a queued message: the next receiver
/// gets it.
///
/// A `Receiver` is also a [`Stream`] (the `futures` crates' trait) that ends
/// once the mailbox is closed and drained: `next()` and `collect()` come
/// from `futures::StreamExt` (or `tokio_stream::StreamExt`).
///
/// # Examples
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage::mailbox(8);
/// tx.send(1).await.unwrap();
/// drop(rx.clone()); // a consumer died: nothing is lost
/// assert_eq!(rx.recv().await, 1);
/// # }).unwrap();
/// ```
pub struct Receiver<T> {
    pub(crate) shared: Arc<Shared<T>>,
    /// The wait of this handle's `Stream` implementation.
    stream_wait: Wait,
    /// Whether this handle's `Stream` has ended: it stays ended, even if a
    /// delivery in flight puts a message back later (another receive gets
    /// that one).
    stream_ended: bool,
}

impl<T> Receiver<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>) -> Self {
        Self {
            shared,
            stream_wait: Wait::lingering(),
            stream_ended: false,
        }
    }

    /// Receives a message, waiting until one arrives.
    ///
    /// This is the receive of a supervised consumer, whose life is ended by
    /// its supervisor rather than by the mailbox: once the mailbox is
    /// [closed](Receiver::close) *and* drained the future waits on (for a
    /// message that a [`Delivery`] in flight may still put back). Consumers
    /// that should finish when the mailbox closes use
    /// [`recv_or_closed`](Receiver::recv_or_closed) or the [`Stream`].
    ///
    /// The message is delivered at most once: if the consumer crashes while
    /// handling it, it is gone. For at-least-once, see
    /// [`recv_guarded`](Receiver::recv_guarded).
    ///
    /// While the mailbox is empty, the future's first polls wake its own
    /// waker and return `Pending` (it yields to the executor a few times)
    /// before it registers for a notification, unless other receivers wait
    /// already (it then queues behind them at once): on a busy executor a sender
    /// usually delivers meanwhile, and neither side takes a lock. An executor
    /// or test that counts wakeups sees these. Every receive future of a
    /// mailbox, and its `Stream`, waits this way.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is taken out of the mailbox only in the poll
    /// that returns it, and a wakeup received by a dropped future passes on
    /// to another waiting receiver.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.send(42).await.unwrap();
    /// let m = rx.recv().await;
    /// assert_eq!(m, 42);
    /// # }).unwrap();
    /// ```
    pub fn recv(&self) -> Recv<'_, T> {
        Recv(Waiting::new(self))
    }

    /// Receives a message, or learns that the mailbox is closed and drained.
    ///
    /// A consumer that returns on this error has done its work: in a
    /// [group](crate::group), give it
    /// [`Restart::OnFailure`](crate::group::Restart::OnFailure), or the
    /// default [`Restart::Always`](crate::group::Restart::Always) starts it
    /// again each time it returns, and the group does not end when the
    /// mailbox closes.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the mailbox is closed and every message in it has
    /// been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(4);
    /// tx.send(1).await.unwrap();
    /// tx.close();
    /// let mut got = Vec::new();
    /// while let Ok(m) = rx.recv_or_closed().await {
    ///     got.push(m);
    /// }
    /// assert_eq!(got, [1]);
    /// # }).unwrap();
    /// ```
    pub fn recv_or_closed(&self) -> RecvOrClosed<'_, T> {
        RecvOrClosed(Waiting::new(self))
    }

    /// Receives a message under a guard, waiting until one arrives: the
    /// at-least-once receive.
    ///
    /// The message stays the mailbox's responsibility until the handler
    /// acknowledges it ([`Delivery::ack`]). If the [`Delivery`] is dropped
    /// first — the handler panicked, returned early, or its task was
    /// aborted — the message is put back ahead of every queued message, and
    /// the next receive gets it again: in a [group](crate::group), the
    /// restarted task. After
    /// [`max_attempts`](super::Builder::max_attempts) failed deliveries it
    /// goes to the dead letters instead.
    ///
    /// # At-most-once or at-least-once
    ///
    /// [`recv`](Receiver::recv) hands out the message itself: if the handler
    /// crashes, that one message is lost, and nothing is ever handled twice.
    /// Use it where a lost message costs less than a repeated one (metrics,
    /// cache refreshes, anything the sender retries on its own). Guarded
    /// receives lose nothing to a crash, but a message whose handler crashed
    /// part-way is handled again, so handlers must tolerate a repeat: make
    /// them idempotent, or check [`attempt`](Delivery::attempt). Both modes
    /// may be mixed on one mailbox; a message put back goes to whichever
    /// receive comes next.
    ///
    /// # Capacity
    ///
    /// A message put back is never refused nor made to wait, even by a full
    /// or closed mailbox: refusing would lose it, and waiting for room could
    /// wait on the very consumer that is putting it back. It counts against
    /// the capacity, though: senders find the mailbox full until the queued
    /// messages, put-back ones included, are fewer than `capacity` again. So
    /// a full mailbox may briefly hold one extra message per delivery that
    /// was in flight when it filled up (or per receive whose message went
    /// back because a waker panicked: see the [module docs](super)), and
    /// never more.
    ///
    /// A closed mailbox lets [`recv_or_closed`](Receiver::recv_or_closed)
    /// and [`recv_guarded_or_closed`](Receiver::recv_guarded_or_closed)
    /// report the end once nothing is queued; a delivery still in flight
    /// then may yet put its message back, and the next receive gets it. To
    /// drain completely, let consumers finish their deliveries (a group's
    /// graceful [`shutdown`](crate::group::Group::shutdown)) before reading
    /// the end as final.
    ///
    /// The delivery borrows this receiver; to handle it in a task of its own
    /// (`tokio::spawn`), make it [owned](Delivery::into_owned) first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv): a message is taken only in
    /// the poll that returns its delivery.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(8);
    /// tx.send("a").await.unwrap();
    /// tx.send("b").await.unwrap();
    ///
    /// let first = rx.recv_guarded().await;
    /// assert_eq!(*first, "a");
    /// drop(first); // crashed: "a" goes back ahead of "b"
    ///
    /// let again = rx.recv_guarded().await;
    /// assert_eq!((*again, again.attempt()), ("a", 2));
    /// again.ack();
    /// assert_eq!(rx.recv_guarded().await.into_inner(), "b");
    /// # }).unwrap();
    /// ```
    pub fn recv_guarded(&self) -> RecvGuarded<'_, T> {
        RecvGuarded(Waiting::new(self))
    }

    /// Receives a message under a guard, or learns that the mailbox is
    /// closed and drained.
    ///
    /// In a [group](crate::group), a consumer that returns on this error
    /// wants [`Restart::OnFailure`](crate::group::Restart::OnFailure), as
    /// for [`recv_or_closed`](Receiver::recv_or_closed).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the mailbox is closed and nothing is queued (see
    /// [`recv_guarded`](Receiver::recv_guarded) about deliveries still in
    /// flight then).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(4);
    /// tx.send(1).await.unwrap();
    /// tx.send(2).await.unwrap();
    /// tx.close();
    /// let mut sum = 0;
    /// while let Ok(delivery) = rx.recv_guarded_or_closed().await {
    ///     sum += *delivery;
    ///     delivery.ack();
    /// }
    /// assert_eq!(sum, 3);
    /// # }).unwrap();
    /// ```
    pub fn recv_guarded_or_closed(&self) -> RecvGuardedOrClosed<'_, T> {
        RecvGuardedOrClosed(Waiting::new(self))
    }

    /// [`recv_or_closed`](Receiver::recv_or_closed) for an actor: it
    /// registers for a notification at once instead of yielding first.
    #[cfg(not(loom))]
    pub(crate) fn recv_or_closed_registering(&self) -> RecvOrClosed<'_, T> {
        RecvOrClosed(Waiting::registering(self))
    }

    /// [`recv_guarded_or_closed`](Receiver::recv_guarded_or_closed) for an
    /// actor: it registers for a notification at once.
    #[cfg(not(loom))]
    pub(crate) fn recv_guarded_or_closed_registering(&self) -> RecvGuardedOrClosed<'_, T> {
        RecvGuardedOrClosed(Waiting::registering(self))
    }

    /// Receives a message under a guard if one is queued right now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued and the mailbox is open,
    /// [`TryRecvError::Closed`] if nothing is queued and it is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::mailbox::TryRecvError;
    ///
    /// let (tx, rx) = stage::mailbox(1);
    /// assert!(matches!(rx.try_recv_guarded(), Err(TryRecvError::Empty)));
    /// tx.try_send(5).unwrap();
    /// let delivery = rx.try_recv_guarded().unwrap();
    /// assert_eq!(*delivery, 5);
    /// delivery.ack();
    /// ```
    pub fn try_recv_guarded(&self) -> Result<Delivery<'_, T>, TryRecvError> {
        self.shared
            .try_take()
            .map(|taken| Delivery::new(&self.shared, taken))
    }

    /// Receives a message if one is queued right now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if the mailbox is open but empty,
    /// [`TryRecvError::Closed`] if it is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::mailbox::TryRecvError;
    ///
    /// let (tx, rx) = stage::mailbox(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.try_recv()
    }

    /// Receives a message, blocking the current thread until one arrives.
    ///
    /// For code outside async; inside a task use [`recv`](Receiver::recv).
    /// Never on a runtime's own thread: it blocks that thread, and with it
    /// every task the thread runs (on a current_thread runtime, the very
    /// task that would unblock it).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the mailbox is closed and drained (a blocked thread
    /// is never left blocked forever by a close).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox(1);
    /// let consumer = std::thread::spawn(move || rx.recv_blocking());
    /// tx.send_blocking(9).unwrap();
    /// assert_eq!(consumer.join().unwrap(), Ok(9));
    /// ```
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        block_on(self.recv_or_closed())
    }

    /// Receives a message under a guard, blocking the current thread until
    /// one arrives: [`recv_guarded_or_closed`](Receiver::recv_guarded_or_closed)
    /// for code outside async.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the mailbox is closed and nothing is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox::<&str>(1);
    /// let worker = std::thread::spawn(move || {
    ///     let job = rx.recv_guarded_blocking().unwrap();
    ///     let seen = (*job, job.attempt());
    ///     job.ack();
    ///     seen
    /// });
    /// tx.send_blocking("resize image").unwrap();
    /// assert_eq!(worker.join().unwrap(), ("resize image", 1));
    /// ```
    pub fn recv_guarded_blocking(&self) -> Result<Delivery<'_, T>, RecvError> {
        block_on(self.recv_guarded_or_closed())
    }
}

super::handle_methods!(Receiver, "rx");

// Unwind safe for the reasons given next to `Sender`'s declarations.
impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.shared))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.stream_wait.end(self.shared.receivers());
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::debug_handle("Receiver", &self.shared, f)
    }
}

/// Receives messages until the mailbox is closed and drained; then it has
/// ended for good.
///
/// The stream's wait lives in the receiver, not in a `next()` future: a
/// `next()` dropped while it waits (under `select!` or a timeout) leaves
/// this receiver registered until its stream is polled again or it is
/// dropped. So a wakeup that reaches that wait is passed on at once as
/// well: another receive waiting on the mailbox (a clone's, or this
/// receiver's own [`recv`](Receiver::recv)) is woken too, and the two
/// compete for the message. Under `select!`, [`Receiver::recv`] (or its
/// siblings) wakes fewer tasks: its futures end their wait when dropped.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
///
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage::mailbox(4);
/// for i in 0..3 {
///     tx.send(i).await.unwrap();
/// }
/// tx.close();
/// assert_eq!(rx.collect::<Vec<_>>().await, [0, 1, 2]);
/// # }).unwrap();
/// ```
impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.stream_ended {
            return Poll::Ready(None);
        }
        let next = ready!(this.stream_wait.poll(
            || this.shared.receivers(),
            cx,
            || this.shared.attempt_recv()
        ))
        .ok();
        // The next item is a new wait, which yields again before it
        // registers.
        this.stream_wait = Wait::lingering();
        this.stream_ended = next.is_none();
        Poll::Ready(next)
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.stream_ended
    }
}

/// A receive in progress: the receiver and the slot of its wait.
struct Waiting<'a, T> {
    receiver: &'a Receiver<T>,
    wait: Wait,
}

impl<'a, T> Waiting<'a, T> {
    fn new(receiver: &'a Receiver<T>) -> Self {
        Self {
            receiver,
            wait: Wait::default(),
        }
    }

    #[cfg(not(loom))]
    fn registering(receiver: &'a Receiver<T>) -> Self {
        Self {
            receiver,
            wait: Wait::registering(),
        }
    }

    /// Polls the wait for `attempt` to succeed on the receiver's mailbox.
    #[inline(always)]
    fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        attempt: impl Fn(&'a Shared<T>) -> Result<R, Again>,
    ) -> Poll<R> {
        let shared: &'a Shared<T> = &self.receiver.shared;
        self.wait
            .poll(|| shared.receivers(), cx, || attempt(shared))
    }

    /// A delivery of `taken`, guarded by this receive's mailbox.
    fn deliver(&self, taken: Returned<T>) -> Delivery<'a, T> {
        Delivery::new(&self.receiver.shared, taken)
    }
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        self.wait.end(self.receiver.shared.receivers());
    }
}

/// Declares a receive future over [`Waiting`]: its name and docs, its
/// output, and how one poll attempts and finishes.
macro_rules! receive_future {
    ($(#[$doc:meta])* $name:ident -> $output:ty, |$this:ident, $cx:ident| $poll:expr) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct $name<'a, T>(Waiting<'a, T>);

        impl<'a, T> Future for $name<'a, T> {
            type Output = $output;

            // Always: a consumer that receives in two places had its
            // receive outlined, and a guarded one then cost 1.22x a plain
            // one (185 against 152 instructions per message, against 1.05x
            // inlined); forced, 164 against 157.
            #[inline(always)]
            fn poll(self: Pin<&mut Self>, $cx: &mut Context<'_>) -> Poll<Self::Output> {
                let $this = &mut self.get_mut().0;
                $poll
            }
        }

        impl<T> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

receive_future! {
    /// The future returned by [`Receiver::recv`]; it wakes itself on its
    /// first polls while it waits (see [`Receiver::recv`]).
    Recv -> T,
    |this, cx| this.poll(cx, Shared::attempt_recv_forever)
}

receive_future! {
    /// The future returned by [`Receiver::recv_or_closed`]; it wakes itself
    /// on its first polls while it waits (see [`Receiver::recv`]).
    RecvOrClosed -> Result<T, RecvError>,
    |this, cx| this.poll(cx, Shared::attempt_recv)
}

receive_future! {
    /// The future returned by [`Receiver::recv_guarded`]; it wakes itself
    /// on its first polls while it waits (see [`Receiver::recv`]).
    RecvGuarded -> Delivery<'a, T>,
    |this, cx| {
        let taken = ready!(this.poll(cx, Shared::attempt_take_forever));
        Poll::Ready(this.deliver(taken))
    }
}

receive_future! {
    /// The future returned by [`Receiver::recv_guarded_or_closed`]; it wakes itself
    /// on its first polls while it waits (see [`Receiver::recv`]).
    RecvGuardedOrClosed -> Result<Delivery<'a, T>, RecvError>,
    |this, cx| {
        let taken = ready!(this.poll(cx, Shared::attempt_take));
        Poll::Ready(taken.map(|taken| this.deliver(taken)))
    }
}
