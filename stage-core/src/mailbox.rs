//! A bounded MPMC mailbox that survives its consumers.
//!
//! [`mailbox`](crate::mailbox()) returns a [`Sender`] and a [`Receiver`]; both
//! are `Clone + Send + Sync`. Unlike `tokio::sync::mpsc`, dropping handles
//! never closes the mailbox: a consumer task that panics drops its receiver,
//! and the messages queued behind it wait for the next consumer instead of
//! being lost, while senders carry on. Shutdown is explicit: [`Sender::close`]
//! or [`Receiver::close`]. After a close, sends hand their message back in an
//! error, and receivers drain what is queued before learning that the mailbox
//! is closed ([`TryRecvError::Closed`], [`RecvError`], the end of the
//! [`Stream`](futures_core::Stream)).
//!
//! # Two receive modes
//!
//! [`Receiver::recv`] and its siblings are *at-most-once*: the message is
//! handed over, and if the consumer crashes while handling it, it is gone.
//! [`Receiver::recv_guarded`] and its siblings are *at-least-once*: they
//! hand out a [`Delivery`] guard, and a message whose guard is dropped
//! without an acknowledgement (a panic, an early return, an abort) goes back
//! into the mailbox ahead of the queued messages, with its attempt count;
//! after [`Builder::max_attempts`] failed attempts it becomes a
//! [`DeadLetter`]. See [`Receiver::recv_guarded`] for when to use which, and
//! what it means for capacity and close.
//!
//! # A waker that panics
//!
//! A send or receive wakes the task that waits on the other side, through
//! that task's waker: foreign code, which a broken executor can make panic.
//! The panic comes through the call that woke it (a send, a receive, a
//! close, a dropped [`Delivery`]), once the operation is done or undone:
//!
//! - a send's message is queued: it was sent;
//! - a receive's message stays in the mailbox, as its next: the receive did
//!   not return it;
//! - the wakeup passes on to the next waiting task, since the task whose
//!   waker panicked may never run;
//! - a send or receive that completes while it passes on a wakeup it was
//!   given returns its result, and does not raise the panic of a waker it
//!   met on the way (which would drop that result; the panic hook reported
//!   the panic when it happened);
//! - on a thread that is unwinding already, the panic is not raised again
//!   (which would abort the process): the operation completes.
//!
//! A receive's message that goes back counts against the capacity as a
//! message put back by a [`Delivery`] does: a sender may have filled the
//! room meanwhile, and the mailbox then holds one message more than its
//! capacity until a receive takes one.
//!
//! # How it is built
//!
//! The queue is a lock-free ring whose two indices also carry a flag each
//! saying that the other side waits: a send or receive makes one atomic
//! read-modify-write, its claim of a slot, which also tells it whether to
//! wake anyone. Neither path takes a lock unless the other side waits, and
//! no notification is made when nobody waits. Messages put
//! back wait in a short lane behind a mutex, which only a crash fills; the
//! hot paths read its length, one relaxed load, and never take its lock
//! while it is empty.
//!
//! # Examples
//!
//! ```
//! # futures_util::FutureExt::now_or_never(async {
//! let (tx, rx) = stage::mailbox(16);
//!
//! let consumer = rx.clone();
//! tx.send("job").await.unwrap();
//! drop(consumer); // a consumer crashed: the mailbox stays open
//!
//! assert_eq!(rx.recv().await, "job");
//! tx.close();
//! assert!(rx.recv_or_closed().await.is_err());
//! # }).unwrap();
//! ```

mod builder;
mod delivery;
mod error;
mod queue;
mod receiver;
mod redelivery;
mod sender;
mod shared;
mod stats;
mod wait;
mod waiters;

#[cfg(all(test, not(loom)))]
mod tests;

pub use builder::{Builder, DEFAULT_MAX_ATTEMPTS};
pub use delivery::{DeadLetter, Delivery};
pub use error::{CapacityError, RecvError, SendError, TryRecvError, TrySendError};
pub use receiver::{Receiver, Recv, RecvGuarded, RecvGuardedOrClosed, RecvOrClosed};
pub use sender::{Send, Sender};
pub use stats::Stats;

use core::fmt;

use crate::sync::Arc;
use builder::Policy;
use queue::Ring;
use shared::Shared;

/// Creates a mailbox holding at most `capacity` messages.
///
/// The capacity is allocated whole: about
/// `capacity * (size_of::<T>() + size_of::<usize>())` bytes, whether or not
/// the mailbox ever fills, by the first send (up to 1 MiB; a larger buffer
/// up front, here). A mailbox never sent to costs no buffer. It is the bound on how far senders may run ahead
/// of consumers (they wait for room beyond it), not a hint; a capacity taken
/// from configuration is better made with [`Builder::try_build`], which
/// reports one that cannot be allocated instead of panicking.
///
/// # Panics
///
/// If `capacity` is 0: a mailbox with no room could never deliver a message
/// (rendezvous channels are not what a mailbox is for); and if the capacity
/// cannot be allocated ([`CapacityError`]). The panic points at the caller.
///
/// # Examples
///
/// ```
/// let (tx, rx) = stage::mailbox(2);
/// tx.try_send('a').unwrap();
/// tx.try_send('b').unwrap();
/// assert!(tx.is_full());
/// assert_eq!(rx.try_recv(), Ok('a'));
/// ```
#[track_caller]
pub fn mailbox<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    Builder::new(capacity).build()
}

/// Loom builds only: a mailbox whose ring pushes and pops one at a time,
/// for models with several receivers (see `loom-tests`).
#[cfg(loom)]
#[doc(hidden)]
pub fn mailbox_serialized<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    Builder::new(capacity).build_serialized()
}

fn from_ring<T>(ring: Ring<T>, policy: Policy<T>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared::new(ring, policy));
    let sender = Sender {
        shared: Arc::clone(&shared),
    };
    (sender, Receiver::new(shared))
}

fn debug_handle<T>(name: &str, shared: &Shared<T>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct(name)
        .field("len", &shared.len())
        .field("capacity", &shared.capacity())
        .field("closed", &shared.is_closed())
        .finish()
}

/// The methods both handles have: they describe and close the one mailbox.
/// `$var` names the handle in the examples.
macro_rules! handle_methods {
    ($handle:ident, $var:literal) => {
        $crate::mailbox::handle_methods!(@impl $handle, concat!("let handle = &", $var, ";"));
    };
    (@impl $handle:ident, $bind:expr) => {
        impl<T> $handle<T> {
            /// Closes the mailbox; returns `true` if this call closed it.
            ///
            /// Waiting and later sends fail and hand their message back.
            /// Queued messages stay: receivers drain them, then learn that the
            /// mailbox is closed. Closing is final.
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox(2);
            #[doc = $bind]
            /// tx.try_send(1).unwrap();
            /// assert!(handle.close());
            /// assert!(!handle.close()); // already closed
            /// assert!(tx.try_send(2).unwrap_err().is_closed());
            /// assert_eq!(rx.try_recv(), Ok(1));
            /// assert!(rx.try_recv().unwrap_err().is_closed());
            /// ```
            pub fn close(&self) -> bool {
                self.shared.close()
            }

            /// Whether the mailbox is closed.
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox::<()>(1);
            #[doc = $bind]
            /// assert!(!handle.is_closed());
            /// handle.close();
            /// assert!(tx.is_closed() && rx.is_closed());
            /// ```
            pub fn is_closed(&self) -> bool {
                self.shared.is_closed()
            }

            /// The number of messages queued right now, those put back by
            /// unacknowledged [deliveries](crate::mailbox::Delivery) included.
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox(4);
            #[doc = $bind]
            /// tx.try_send(1).unwrap();
            /// tx.try_send(2).unwrap();
            /// assert_eq!(handle.len(), 2);
            /// # drop(rx);
            /// ```
            pub fn len(&self) -> usize {
                self.shared.len()
            }

            /// Whether no message is queued right now.
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox(4);
            #[doc = $bind]
            /// assert!(handle.is_empty());
            /// tx.try_send(1).unwrap();
            /// assert!(!handle.is_empty());
            /// # drop(rx);
            /// ```
            pub fn is_empty(&self) -> bool {
                self.shared.len() == 0
            }

            /// Whether the mailbox holds `capacity` messages right now (it may
            /// briefly hold more: see
            /// [`Receiver::recv_guarded`](crate::mailbox::Receiver::recv_guarded)).
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox(1);
            #[doc = $bind]
            /// tx.try_send(1).unwrap();
            /// assert!(handle.is_full());
            /// # drop(rx);
            /// ```
            pub fn is_full(&self) -> bool {
                self.shared.is_full()
            }

            /// The most messages the mailbox holds.
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox::<u8>(64);
            #[doc = $bind]
            /// assert_eq!(handle.capacity(), 64);
            /// # drop((tx, rx));
            /// ```
            pub fn capacity(&self) -> usize {
                self.shared.capacity()
            }

            /// What has happened to the mailbox's guarded deliveries so far:
            /// messages put back, dead letters.
            ///
            /// # Examples
            ///
            /// ```
            /// let (tx, rx) = stage::mailbox(4);
            #[doc = $bind]
            /// tx.try_send(1).unwrap();
            /// rx.try_recv_guarded().unwrap().retry();
            /// assert_eq!(handle.stats().redeliveries, 1);
            /// ```
            pub fn stats(&self) -> $crate::mailbox::Stats {
                self.shared.stats()
            }
        }
    };
}
pub(crate) use handle_methods;
