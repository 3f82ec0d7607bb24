//! Settings of a mailbox beyond its capacity: how often a message may be
//! delivered under a guard, and where it goes after that.

use core::fmt;

use super::delivery::DeadLetter;
use super::error::CapacityError;
use super::queue::Ring;
use super::{Receiver, Sender};

/// How many failed attempts a message gets unless told otherwise.
///
/// # Examples
///
/// ```
/// let (tx, rx) = stage::mailbox(1);
/// tx.try_send("poison").unwrap();
/// for _ in 0..stage::mailbox::DEFAULT_MAX_ATTEMPTS {
///     drop(rx.try_recv_guarded().unwrap()); // a failed attempt
/// }
/// assert!(rx.try_recv().is_err());
/// assert_eq!(rx.stats().dead_letters, 1);
/// ```
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// The settings of a mailbox, before it is made.
///
/// [`mailbox(capacity)`](crate::mailbox()) is `Builder::new(capacity).build()`.
/// [`try_build`](Builder::try_build) makes it without panicking when the
/// capacity cannot be allocated (a capacity taken from configuration, say).
/// The other settings concern at-least-once receives
/// ([`Receiver::recv_guarded`]): after how many failed deliveries a message
/// is given up on, and what happens to it then.
///
/// # Examples
///
/// ```
/// use stage::mailbox::Builder;
///
/// let (tx, rx) = Builder::new(64)
///     .max_attempts(3)
///     .dead_letters(|letter| {
///         eprintln!(
///             "order {} failed {} times (last: {:?})",
///             letter.message(),
///             letter.attempts(),
///             letter.last_panic(),
///         );
///     })
///     .build();
/// tx.try_send(1001).unwrap();
/// # drop(rx);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<T> {
    capacity: usize,
    policy: Policy<T>,
}

/// What a mailbox does with messages whose deliveries failed.
pub(crate) struct Policy<T> {
    pub(crate) max_attempts: u32,
    /// `None`: log the dead letter and drop it.
    pub(crate) dead_letters: Option<Box<dyn Fn(DeadLetter<T>) + Send + Sync>>,
}

impl<T> Builder<T> {
    /// Settings for a mailbox holding at most `capacity` messages.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (see [`mailbox`](crate::mailbox())). The panic
    /// points at the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox::Builder::<u32>::new(8).build();
    /// assert_eq!(tx.capacity(), 8);
    /// # drop(rx);
    /// ```
    #[track_caller]
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a mailbox needs a capacity of at least 1");
        Self {
            capacity,
            policy: Policy {
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                dead_letters: None,
            },
        }
    }

    /// How many guarded deliveries a message gets before it becomes a dead
    /// letter; [`DEFAULT_MAX_ATTEMPTS`] (5) unless set.
    ///
    /// A message put back after its last allowed attempt is not delivered
    /// again: the next receive hands it to the [dead-letter
    /// sink](Builder::dead_letters) and carries on with the next message.
    /// `u32::MAX` means "never give up".
    ///
    /// # Panics
    ///
    /// If `attempts` is 0: a message must be delivered at least once.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox::Builder::new(1).max_attempts(2).build();
    /// tx.try_send("flaky").unwrap();
    /// drop(rx.try_recv_guarded().unwrap()); // attempt 1 fails
    /// drop(rx.try_recv_guarded().unwrap()); // attempt 2 fails
    /// assert!(rx.try_recv_guarded().is_err()); // given up on
    /// assert_eq!(rx.stats().dead_letters, 1);
    /// ```
    #[track_caller]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        assert!(attempts > 0, "a message needs at least one attempt");
        self.policy.max_attempts = attempts;
        self
    }

    /// Where messages go once they have failed every attempt.
    ///
    /// `sink` is called with each [`DeadLetter`] by the receive that finds
    /// it, on that receiver's thread and before the receive carries on; it
    /// should be quick (forward the letter into a queue of your own, say). A
    /// panic in the sink is the receiving task's panic, and the letter goes
    /// down with it.
    /// Without a sink, a dead letter is logged (`tracing`, at error level,
    /// with its attempt count and last panic message) and dropped. Either
    /// way it is counted in [`stats`](Receiver::stats).
    ///
    /// # Examples
    ///
    /// A dead-letter queue that is itself a mailbox:
    ///
    /// ```
    /// use stage::mailbox::{Builder, DeadLetter};
    ///
    /// let (dead_tx, dead_rx) = stage::mailbox::<DeadLetter<&str>>(64);
    /// let (tx, rx) = Builder::new(16)
    ///     .max_attempts(1)
    ///     .dead_letters(move |letter| {
    ///         if let Err(full) = dead_tx.try_send(letter) {
    ///             eprintln!("dead-letter queue full, dropping {:?}", full.into_inner());
    ///         }
    ///     })
    ///     .build();
    ///
    /// tx.try_send("poison").unwrap();
    /// drop(rx.try_recv_guarded().unwrap());
    /// assert!(rx.try_recv().is_err());
    /// assert_eq!(dead_rx.try_recv().unwrap().into_message(), "poison");
    /// ```
    pub fn dead_letters(mut self, sink: impl Fn(DeadLetter<T>) + Send + Sync + 'static) -> Self {
        self.policy.dead_letters = Some(Box::new(sink));
        self
    }

    /// Makes the mailbox.
    ///
    /// # Panics
    ///
    /// If its capacity cannot be allocated (see
    /// [`try_build`](Builder::try_build)); the panic points at the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox::Builder::new(2).build();
    /// tx.try_send('a').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('a'));
    /// ```
    #[track_caller]
    pub fn build(self) -> (Sender<T>, Receiver<T>) {
        self.try_build().unwrap_or_else(|error| panic!("{error}"))
    }

    /// Makes the mailbox, or says why its capacity cannot be allocated.
    ///
    /// A mailbox allocates its capacity whole, one slot per message it can
    /// hold: about `capacity * (size_of::<T>() + size_of::<usize>())` bytes
    /// (16 MiB for a million `u64`s), whether or not it ever fills. A
    /// buffer up to 1 MiB is allocated by the first send (a mailbox that is
    /// never sent to costs none: an idle actor, say); a larger one up front,
    /// here, so that a failure is this call's error. Choose the capacity as
    /// the bound on how far senders may run ahead of consumers, not as
    /// "unbounded".
    ///
    /// # Errors
    ///
    /// [`CapacityError`] if the buffer is larger than any allocation can be,
    /// or than this machine can allocate now. (A capacity the machine can
    /// reserve but not back with memory may still fail when the buffer is
    /// written, which is when it is allocated: every slot is marked ready
    /// for its first message then. The operating system decides that.)
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::mailbox::Builder;
    ///
    /// let (tx, rx) = Builder::<u64>::new(1024).try_build().unwrap();
    /// assert_eq!(tx.capacity(), 1024);
    /// # drop(rx);
    /// assert!(Builder::<u64>::new(1 << 60).try_build().is_err());
    /// ```
    pub fn try_build(self) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
        let ring = Ring::new(self.capacity)?;
        Ok(super::from_ring(ring, self.policy))
    }

    /// Loom builds only: a mailbox whose ring pushes and pops one at a
    /// time, for models with several receivers (see `loom-tests`).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn build_serialized(self) -> (Sender<T>, Receiver<T>) {
        let ring = Ring::new(self.capacity)
            .expect("a small capacity")
            .serialized();
        super::from_ring(ring, self.policy)
    }
}

impl<T> fmt::Debug for Builder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("max_attempts", &self.policy.max_attempts)
            .field("dead_letters", &self.policy.dead_letters.is_some())
            .finish()
    }
}
