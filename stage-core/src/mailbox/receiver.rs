//! The receiving half of a mailbox.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use super::error::{RecvError, TryRecvError};
use super::shared::Shared;
use super::waiters::Wait;
use crate::sync::Arc;

/// The receiving half of a [`mailbox`](crate::mailbox()).
///
/// Cheap to clone; clones compete for messages (each message goes to exactly
/// one receiver). Dropping receivers — a consumer task that panicked, say —
/// never closes the mailbox nor drops a queued message: the next receiver
/// gets it.
///
/// A `Receiver` is also a [`Stream`] that ends once the mailbox is closed and
/// drained.
///
/// # Examples
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage_core::mailbox(8);
/// tx.send(1).await.unwrap();
/// drop(rx.clone()); // a consumer died: nothing is lost
/// assert_eq!(rx.recv().await, 1);
/// # }).unwrap();
/// ```
pub struct Receiver<T> {
    pub(crate) shared: Arc<Shared<T>>,
    /// The wait of this handle's `Stream` implementation.
    stream_wait: Wait,
}

impl<T> Receiver<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>) -> Self {
        Self {
            shared,
            stream_wait: Wait::default(),
        }
    }

    /// Receives a message, waiting until one arrives.
    ///
    /// This is the receive of a supervised consumer, whose life is ended by
    /// its supervisor rather than by the mailbox: once the mailbox is
    /// [closed](Receiver::close) *and* drained the future never completes.
    /// Consumers that should finish when the mailbox closes use
    /// [`recv_or_closed`](Receiver::recv_or_closed) or the [`Stream`].
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
    /// let (tx, rx) = stage_core::mailbox(1);
    /// tx.send(42).await.unwrap();
    /// let m = rx.recv().await;
    /// assert_eq!(m, 42);
    /// # }).unwrap();
    /// ```
    pub fn recv(&self) -> Recv<'_, T> {
        Recv(self.recv_or_closed())
    }

    /// Receives a message, or learns that the mailbox is closed and drained.
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
    /// let (tx, rx) = stage_core::mailbox(4);
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
        RecvOrClosed {
            receiver: self,
            wait: Wait::default(),
        }
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
    /// use stage_core::mailbox::TryRecvError;
    ///
    /// let (tx, rx) = stage_core::mailbox(1);
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
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the mailbox is closed and drained (a blocked thread
    /// is never left blocked forever by a close).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage_core::mailbox(1);
    /// let consumer = std::thread::spawn(move || rx.recv_blocking());
    /// tx.send_blocking(9).unwrap();
    /// assert_eq!(consumer.join().unwrap(), Ok(9));
    /// ```
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        Wait::block_on(&self.shared.receivers, || self.shared.attempt_recv())
    }
}

super::handle_methods!(Receiver, "rx");

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.shared))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.stream_wait.cancel(&self.shared.receivers);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::debug_handle("Receiver", &self.shared, f)
    }
}

/// Receives messages until the mailbox is closed and drained.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
///
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage_core::mailbox(4);
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
        this.stream_wait
            .poll(&this.shared.receivers, cx, || this.shared.attempt_recv())
            .map(Result::ok)
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.shared.queue.is_closed() && self.shared.queue.len() == 0
    }
}

/// The future returned by [`Receiver::recv`]: a [`RecvOrClosed`] that
/// keeps waiting once the mailbox is closed and drained.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Recv<'a, T>(RecvOrClosed<'a, T>);

impl<T> Future for Recv<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(Ok(msg)) => Poll::Ready(msg),
            // Closed and drained: no message will ever arrive, and nothing
            // will ever wake this future again (documented on `recv`).
            Poll::Ready(Err(RecvError)) | Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

/// The future returned by [`Receiver::recv_or_closed`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RecvOrClosed<'a, T> {
    receiver: &'a Receiver<T>,
    wait: Wait,
}

impl<T> Future for RecvOrClosed<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Self { receiver, wait } = self.get_mut();
        wait.poll(&receiver.shared.receivers, cx, || {
            receiver.shared.attempt_recv()
        })
    }
}

impl<T> Drop for RecvOrClosed<'_, T> {
    fn drop(&mut self) {
        self.wait.cancel(&self.receiver.shared.receivers);
    }
}

impl<T> fmt::Debug for RecvOrClosed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvOrClosed").finish_non_exhaustive()
    }
}
