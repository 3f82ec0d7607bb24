//! The sending half of a mailbox.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::error::{SendError, TrySendError};
use super::shared::Shared;
use super::wait::{block_on, Wait};
use crate::sync::Arc;

/// The sending half of a [`mailbox`](crate::mailbox()).
///
/// Cheap to clone; every clone sends into the same mailbox. Dropping senders
/// never closes the mailbox: only [`close`](Sender::close) does.
///
/// # Examples
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage::mailbox(8);
/// let tx2 = tx.clone();
/// tx.send(1).await.unwrap();
/// tx2.send(2).await.unwrap();
/// drop((tx, tx2)); // the mailbox stays open and keeps its messages
/// assert_eq!(rx.recv().await, 1);
/// assert_eq!(rx.recv().await, 2);
/// # }).unwrap();
/// ```
pub struct Sender<T> {
    pub(crate) shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends a message, waiting for room while the mailbox is full.
    ///
    /// While the mailbox is full, the future's first polls wake its own
    /// waker and return `Pending` (it yields to the executor a few times)
    /// before it registers for a notification, unless other senders wait
    /// already (it then queues behind them at once): on a busy executor a receiver
    /// usually makes room meanwhile, and neither side takes a lock. An
    /// executor or test that counts wakeups sees these.
    ///
    /// Waiting senders are woken in the order they began to wait, each when
    /// a receive makes room; a woken sender then tries again, and a send
    /// that did not wait (a [`try_send`](Sender::try_send)) may take the room
    /// first. The woken one then waits again, behind the senders that began
    /// to wait meanwhile: under contention the order is not strictly FIFO.
    ///
    /// # Errors
    ///
    /// If the mailbox is closed (before or while waiting), the message is
    /// handed back in a [`SendError`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes sends nothing and drops the
    /// message it holds; a wakeup it received passes on to another waiting
    /// sender.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.send("hello").await.unwrap();
    /// assert_eq!(rx.recv().await, "hello");
    /// # }).unwrap();
    /// ```
    pub fn send(&self, msg: T) -> Send<'_, T> {
        Send {
            sender: self,
            msg: Some(msg),
            wait: Wait::default(),
        }
    }

    /// Sends a message if there is room right now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the mailbox is full, [`TrySendError::Closed`]
    /// if it is closed; both hand the message back.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::mailbox::TrySendError;
    ///
    /// let (tx, _rx) = stage::mailbox(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.shared.try_send(msg)
    }

    /// Sends a message, blocking the current thread while the mailbox is full.
    ///
    /// For code outside async; inside a task use [`send`](Sender::send).
    /// Never on a runtime's own thread: it blocks that thread, and with it
    /// every task the thread runs (on a current_thread runtime, the very
    /// task that would unblock it).
    ///
    /// # Errors
    ///
    /// If the mailbox is closed, the message is handed back in a
    /// [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox(1);
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         tx.send_blocking(i).unwrap();
    ///     }
    /// });
    /// let got: Vec<i32> = (0..3).map(|_| rx.recv_blocking().unwrap()).collect();
    /// producer.join().unwrap();
    /// assert_eq!(got, [0, 1, 2]);
    /// ```
    pub fn send_blocking(&self, msg: T) -> Result<(), SendError<T>> {
        block_on(self.send(msg))
    }
}

super::handle_methods!(Sender, "tx");

// Unwind safety: a panic cannot leave a mailbox half-changed. Every
// operation on the queue is one atomic step; the lane of messages put back
// is changed under a lock that no user code runs under (its poisoning is
// ignored, and its contents are whole at every point a panic can cross);
// the dead-letter sink is called with no lock held. So a handle observed
// after a panic behaves as before it, which is what `RefUnwindSafe` asks;
// the boxed sink inside (a plain `dyn Fn`) would otherwise deny it. As
// crossbeam-channel's handles do, ours say so for every `T`.
impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::debug_handle("Sender", &self.shared, f)
    }
}

/// The future returned by [`Sender::send`]; it wakes itself on its first
/// polls while it waits (see there).
///
/// # Examples
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage::mailbox(1);
/// let send: stage::mailbox::Send<'_, u8> = tx.send(1);
/// send.await.unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Send<'a, T> {
    sender: &'a Sender<T>,
    msg: Option<T>,
    wait: Wait,
}

// The message is never pinned: it is moved into the queue by value.
impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Self { sender, msg, wait } = self.get_mut();
        wait.poll(
            || sender.shared.senders(),
            cx,
            || sender.shared.attempt_send(msg),
        )
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        self.wait.end(self.sender.shared.senders());
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send").finish_non_exhaustive()
    }
}
