//! Errors of mailbox operations. Every error that stands for an undelivered
//! message hands that message back.

use core::fmt;

/// A message could not be sent because the mailbox is closed.
///
/// The message is handed back: nothing is dropped silently.
///
/// # Examples
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, _rx) = stage::mailbox(4);
/// tx.close();
/// let err = tx.send("late").await.unwrap_err();
/// assert_eq!(err.into_inner(), "late");
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// Takes back the message that could not be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = stage::mailbox::SendError(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending into a closed mailbox")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// A message could not be sent without waiting.
///
/// Both variants hand the message back.
///
/// # Examples
///
/// ```
/// use stage::mailbox::TrySendError;
///
/// let (tx, _rx) = stage::mailbox(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// tx.close();
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The mailbox holds `capacity` messages already.
    Full(T),
    /// The mailbox is closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// Takes back the message that could not be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = stage::mailbox::TrySendError::Full("m");
    /// assert_eq!(err.into_inner(), "m");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(msg) | Self::Closed(msg) => msg,
        }
    }

    /// Whether the mailbox was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(stage::mailbox::TrySendError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the mailbox was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(stage::mailbox::TrySendError::Closed(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("sending into a full mailbox"),
            Self::Closed(_) => f.write_str("sending into a closed mailbox"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        Self::Closed(err.0)
    }
}

/// The mailbox is closed and every message in it has been received: no
/// send will ever add one. (A guarded [`Delivery`](super::Delivery) still in
/// flight may yet put its message back; see
/// [`Receiver::recv_guarded`](super::Receiver::recv_guarded).)
///
/// # Examples
///
/// ```
/// use stage::mailbox::RecvError;
///
/// let (tx, rx) = stage::mailbox::<u8>(1);
/// tx.close();
/// assert_eq!(rx.recv_blocking(), Err(RecvError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving from a closed and drained mailbox")
    }
}

impl std::error::Error for RecvError {}

/// No message could be received without waiting.
///
/// # Examples
///
/// ```
/// use stage::mailbox::TryRecvError;
///
/// let (tx, rx) = stage::mailbox(2);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// tx.try_send(1).unwrap();
/// tx.close();
/// assert_eq!(rx.try_recv(), Ok(1)); // queued messages outlive the close
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// The mailbox is open and holds no message right now.
    Empty,
    /// The mailbox is closed and drained: no send will ever add a message
    /// (a guarded delivery still in flight may yet put one back).
    Closed,
}

impl TryRecvError {
    /// Whether the mailbox was empty but open.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(stage::mailbox::TryRecvError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// Whether the mailbox was closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(stage::mailbox::TryRecvError::Closed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("receiving from an empty mailbox"),
            Self::Closed => f.write_str("receiving from a closed and drained mailbox"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        Self::Closed
    }
}

/// A mailbox of this capacity cannot be made: its buffer is larger than
/// the machine can allocate (or than any allocation can be).
///
/// A mailbox's capacity is the bound on what it holds, not a hint: it costs
/// about `capacity * (size_of::<T>() + size_of::<usize>())` bytes once it
/// is used (from the start, above 1 MiB). See [`Builder::try_build`](super::Builder::try_build).
///
/// # Examples
///
/// ```
/// let capacity = usize::MAX / 2;
/// let error = stage::mailbox::Builder::<u64>::new(capacity).try_build().unwrap_err();
/// assert_eq!(error.capacity(), capacity);
/// assert_eq!(
///     error.to_string(),
///     format!(
///         "a mailbox of capacity {capacity} cannot be allocated: \
///          it is larger than any allocation can be"
///     ),
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError {
    pub(crate) capacity: usize,
    /// What the buffer would take, if that is a size an allocation can be.
    pub(crate) bytes: Option<usize>,
}

impl CapacityError {
    /// The capacity asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// let error = stage::mailbox::Builder::<u8>::new(usize::MAX).try_build().unwrap_err();
    /// assert_eq!(error.capacity(), usize::MAX);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let capacity = self.capacity;
        match self.bytes {
            Some(bytes) => write!(
                f,
                "a mailbox of capacity {capacity} cannot be allocated: its buffer of {bytes} bytes \
                 is more than this machine can allocate"
            ),
            None => write!(
                f,
                "a mailbox of capacity {capacity} cannot be allocated: it is larger than any \
                 allocation can be"
            ),
        }
    }
}

impl std::error::Error for CapacityError {}
