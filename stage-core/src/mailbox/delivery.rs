//! At-least-once receives: the [`Delivery`] guard, and the [`DeadLetter`]
//! a message becomes when its deliveries keep failing.

use core::fmt;
use core::ops::{Deref, DerefMut};
use std::panic::{resume_unwind, AssertUnwindSafe};

use futures_util::FutureExt;

use super::redelivery::{History, Returned};
use super::shared::Shared;
use crate::runtime::panic_message;
use crate::sync::Arc;

/// A message received under an at-least-once guard.
///
/// Got from [`Receiver::recv_guarded`](super::Receiver::recv_guarded) and its
/// siblings. The message is reached through `Deref`/`DerefMut`. Acknowledge
/// it with [`ack`](Delivery::ack) (or take it out with
/// [`into_inner`](Delivery::into_inner), which acknowledges) once it has been
/// handled. A delivery dropped without an acknowledgement — its handler
/// panicked, returned early, or its task was aborted — puts the message back
/// into its mailbox, ahead of the messages queued there, for the next
/// receive: in a [group](crate::group), the restarted task gets it first.
///
/// Each delivery is an attempt. Once a message has been put back after
/// [`max_attempts`](super::Builder::max_attempts) of them, the next receive
/// hands it to the mailbox's dead-letter sink instead of to a consumer.
///
/// Handlers under at-least-once must tolerate seeing a message again: a
/// message whose handler crashed part-way is delivered anew, and whatever the
/// crashed attempt did before crashing stays done.
///
/// A delivery borrows the receiver that took it (receiving then costs no
/// reference count), so it cannot move into `tokio::spawn` as it is: the
/// compiler says the receiver "does not live long enough" (E0597). Call
/// [`into_owned`](Delivery::into_owned) first to hand it to another task,
/// guarantee and all.
///
/// # Examples
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// let (tx, rx) = stage::mailbox(4);
/// tx.send("charge card").await.unwrap();
///
/// let delivery = rx.recv_guarded().await;
/// assert_eq!(delivery.attempt(), 1);
/// drop(delivery); // the handler crashed before acknowledging
///
/// let delivery = rx.recv_guarded().await;
/// assert_eq!((*delivery, delivery.attempt()), ("charge card", 2));
/// delivery.ack();
/// assert!(rx.is_empty());
/// # }).unwrap();
/// ```
#[must_use = "a delivery dropped without `ack` puts its message back for another attempt"]
pub struct Delivery<'a, T> {
    mailbox: Home<'a, T>,
    /// `Some` until acknowledged, taken out, put back or dead-lettered.
    message: Option<T>,
    /// What earlier attempts left (`attempts` counts those before this
    /// one), and a panic recorded by this one; `None` for a first attempt
    /// that recorded nothing, as nearly every delivery is.
    history: Option<Box<History>>,
}

/// The mailbox a delivery belongs to: borrowed from the receiver that took
/// it (no reference count to touch per message), or shared once the
/// delivery is [owned](Delivery::into_owned).
enum Home<'a, T> {
    Borrowed(&'a Arc<Shared<T>>),
    Owned(Arc<Shared<T>>),
}

impl<'a, T> Delivery<'a, T> {
    #[inline]
    pub(crate) fn new(shared: &'a Arc<Shared<T>>, taken: Returned<T>) -> Self {
        Self {
            mailbox: Home::Borrowed(shared),
            message: Some(taken.message),
            history: taken.history,
        }
    }

    fn shared(&self) -> &Shared<T> {
        match &self.mailbox {
            Home::Borrowed(shared) => shared,
            Home::Owned(shared) => shared,
        }
    }

    /// Takes what the delivery holds for a put-back or a dead letter, with
    /// this attempt counted; `None` once it was consumed.
    fn take_returned(&mut self) -> Option<Returned<T>> {
        let message = self.message.take()?;
        let mut history = self.history.take().unwrap_or_else(|| {
            Box::new(History {
                attempts: 0,
                last_panic: None,
            })
        });
        history.attempts = history.attempts.saturating_add(1);
        Some(Returned {
            message,
            history: Some(history),
        })
    }

    /// Puts the message back; for a delivery dropped holding it.
    #[cold]
    #[inline(never)]
    fn put_back(&mut self) {
        if let Some(returned) = self.take_returned() {
            self.shared().put_back(returned);
        }
    }

    /// The history to record a panic in, made if this is the first.
    fn history_mut(&mut self) -> &mut History {
        self.history.get_or_insert_with(|| {
            Box::new(History {
                attempts: 0,
                last_panic: None,
            })
        })
    }

    /// Records the message of a panic while this attempt handled the
    /// message, for the next attempt and a dead letter (as
    /// [`process`](Delivery::process) does).
    #[cfg(not(loom))] // actors only
    pub(crate) fn record_panic(&mut self, message: Option<&str>) {
        if let Some(text) = message {
            self.history_mut().last_panic = Some(text.to_owned());
        }
    }

    /// Which delivery of the message this is: 1 the first time, 2 after
    /// one failed attempt, and so on.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.try_recv_guarded().unwrap().attempt(), 1);
    /// assert_eq!(rx.try_recv_guarded().unwrap().attempt(), 2);
    /// # assert_eq!(rx.try_recv_guarded().unwrap().attempt(), 3);
    /// ```
    pub fn attempt(&self) -> u32 {
        let earlier = self.history.as_ref().map_or(0, |history| history.attempts);
        earlier.saturating_add(1)
    }

    /// The message of the latest panic recorded while an earlier attempt
    /// handled this message, if any was recorded.
    ///
    /// Panics are recorded by [`process`](Delivery::process); a delivery
    /// dropped during a panic elsewhere, or by an abort, records none.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.send(7).await.unwrap();
    ///
    /// let crashed = std::panic::AssertUnwindSafe(async {
    ///     let delivery = rx.recv_guarded().await;
    ///     assert_eq!(delivery.last_panic(), None);
    ///     delivery.process(async |_n| panic!("no route to host")).await
    /// });
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// assert!(futures_util::FutureExt::catch_unwind(crashed).await.is_err());
    /// # let _ = std::panic::take_hook();
    ///
    /// let delivery = rx.recv_guarded().await;
    /// assert_eq!(delivery.last_panic(), Some("no route to host"));
    /// delivery.ack();
    /// # }).unwrap();
    /// ```
    pub fn last_panic(&self) -> Option<&str> {
        self.history.as_ref()?.last_panic.as_deref()
    }

    /// Acknowledges the message: it has been handled, and is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.try_send("job").unwrap();
    /// rx.try_recv_guarded().unwrap().ack();
    /// assert!(rx.try_recv().is_err()); // not put back
    /// ```
    // `#[inline]` on this and the other per-message methods: without it the
    // compiler copied the whole delivery into `ack`'s frame in some builds,
    // and the copy stalled on store forwarding (perf annotate; a third of
    // the guarded receive's throughput, and a different third depending on
    // unrelated code layout).
    #[inline]
    pub fn ack(self) {
        drop(self.consume());
    }

    /// Acknowledges the message and takes it out of the guard.
    ///
    /// From here on the caller owns the message, and a crash no longer puts
    /// it back: this is where at-least-once ends.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.try_send(String::from("job")).unwrap();
    /// let job: String = rx.try_recv_guarded().unwrap().into_inner();
    /// assert_eq!(job, "job");
    /// assert!(rx.is_empty());
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.consume()
            .expect("a delivery holds its message until it is consumed")
    }

    /// Ends the delivery without putting its message back; returns the
    /// message.
    #[inline]
    fn consume(mut self) -> Option<T> {
        let message = self.message.take();
        if self.history.is_none() && matches!(self.mailbox, Home::Borrowed(_)) {
            // Nothing left in it needs dropping (a reference, two `None`s):
            // skip its drop, a call the compiler kept out of line.
            core::mem::forget(self);
        }
        message
    }

    /// Puts the message back now, for another attempt; the same as dropping
    /// the delivery, said out loud (a handler that failed without panicking,
    /// say on a timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.try_send("job").unwrap();
    /// rx.try_recv_guarded().unwrap().retry();
    /// assert_eq!(rx.try_recv_guarded().unwrap().attempt(), 2);
    /// ```
    pub fn retry(self) {
        drop(self);
    }

    /// Gives up on the message now, without further attempts: it goes to
    /// the mailbox's dead-letter sink with this attempt counted (for a
    /// message the handler knows it can never handle, say one that does not
    /// parse).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let dead = Arc::new(Mutex::new(Vec::new()));
    /// let (tx, rx) = stage::mailbox::Builder::new(2)
    ///     .dead_letters({
    ///         let dead = Arc::clone(&dead);
    ///         move |letter| dead.lock().unwrap().push(letter)
    ///     })
    ///     .build();
    /// tx.try_send("{not json").unwrap();
    /// rx.try_recv_guarded().unwrap().dead_letter();
    ///
    /// assert!(rx.is_empty());
    /// let letter = dead.lock().unwrap().pop().unwrap();
    /// assert_eq!((*letter.message(), letter.attempts()), ("{not json", 1));
    /// assert_eq!(rx.stats().dead_letters, 1);
    /// ```
    pub fn dead_letter(mut self) {
        if let Some(returned) = self.take_returned() {
            self.shared().dead_letter(returned);
        }
    }

    /// Makes the delivery independent of the receiver that took it, so that
    /// it can move into another task (`tokio::spawn` needs `'static`):
    /// handling fans out, and the guarantee goes along.
    ///
    /// A delivery borrows its receiver so that receiving costs no reference
    /// count; this takes one (an atomic increment, and a decrement when the
    /// delivery ends).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = stage::mailbox(8);
    /// tx.send(21).await.unwrap();
    ///
    /// let delivery = rx.recv_guarded().await.into_owned();
    /// let handler = tokio::spawn(delivery.process(async |n: &mut u32| *n * 2));
    /// assert_eq!(handler.await.unwrap(), 42);
    /// assert!(rx.is_empty());
    /// # }
    /// ```
    pub fn into_owned(mut self) -> Delivery<'static, T>
    where
        T: 'static,
    {
        let mailbox = match &self.mailbox {
            Home::Borrowed(shared) => Arc::clone(shared),
            Home::Owned(shared) => Arc::clone(shared),
        };
        Delivery {
            mailbox: Home::Owned(mailbox),
            message: self.message.take(),
            history: self.history.take(),
        }
    }

    /// Runs `handler` on the message; acknowledges it if the handler returns.
    ///
    /// If the handler panics, the message is put back with the panic's
    /// message recorded (it reaches [`last_panic`](Delivery::last_panic) of
    /// the next attempt and the [`DeadLetter`], if it comes to that), and the
    /// panic carries on: the task still crashes, and its supervisor still
    /// sees why. If the returned future is dropped before it completes (the
    /// task was aborted), the message is put back.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe by design: cancelling puts the message back for
    /// another attempt, the point of a guard.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// let (tx, rx) = stage::mailbox(1);
    /// tx.send(20).await.unwrap();
    /// let delivery = rx.recv_guarded().await;
    /// let doubled = delivery.process(async |n: &mut i32| *n * 2).await;
    /// assert_eq!(doubled, 40);
    /// assert!(rx.is_empty()); // acknowledged
    /// # }).unwrap();
    /// ```
    pub async fn process<R>(mut self, handler: impl AsyncFnOnce(&mut T) -> R) -> R {
        let message = self
            .message
            .as_mut()
            .expect("a delivery holds its message until it is consumed");
        // AssertUnwindSafe: after a panic the message is only put back for
        // a new attempt, which the documentation tells handlers to expect;
        // nothing else observes state the handler may have left broken.
        match AssertUnwindSafe(handler(message)).catch_unwind().await {
            Ok(output) => {
                self.ack();
                output
            }
            Err(payload) => {
                if let Some(text) = panic_message(payload.as_ref()) {
                    self.history_mut().last_panic = Some(text.to_owned());
                }
                drop(self); // puts the message back
                resume_unwind(payload)
            }
        }
    }
}

impl<T> Deref for Delivery<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.message
            .as_ref()
            .expect("a delivery holds its message until it is consumed")
    }
}

impl<T> DerefMut for Delivery<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.message
            .as_mut()
            .expect("a delivery holds its message until it is consumed")
    }
}

impl<T> Drop for Delivery<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.message.is_some() {
            self.put_back();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Delivery<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("attempt", &self.attempt())
            .field("last_panic", &self.last_panic())
            .finish()
    }
}

/// A message that failed every attempt it was allowed, handed to the
/// mailbox's dead-letter sink (see [`Builder::dead_letters`]).
///
/// [`Builder::dead_letters`]: super::Builder::dead_letters
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// let dead = Arc::new(Mutex::new(Vec::new()));
/// let (tx, rx) = stage::mailbox::Builder::new(4)
///     .max_attempts(1)
///     .dead_letters({
///         let dead = Arc::clone(&dead);
///         move |letter| dead.lock().unwrap().push(letter)
///     })
///     .build();
/// tx.try_send("poison").unwrap();
/// drop(rx.try_recv_guarded().unwrap()); // its one attempt fails
/// assert!(rx.try_recv_guarded().is_err()); // not delivered again...
///
/// let letter = dead.lock().unwrap().pop().unwrap(); // ...but dead-lettered
/// assert_eq!((letter.attempts(), letter.last_panic()), (1, None));
/// assert_eq!(letter.into_message(), "poison");
/// assert_eq!(rx.stats().dead_letters, 1);
/// ```
pub struct DeadLetter<T> {
    message: T,
    attempts: u32,
    last_panic: Option<String>,
}

impl<T> DeadLetter<T> {
    /// A dead letter: `message` failed `attempts` deliveries, the latest
    /// recorded panic saying `last_panic`. The mailbox makes these; this is
    /// for testing a sink.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::mailbox::DeadLetter;
    ///
    /// let letter = DeadLetter::new("order 7", 3, Some("card declined".into()));
    /// assert_eq!(letter.attempts(), 3);
    /// ```
    pub fn new(message: T, attempts: u32, last_panic: Option<String>) -> Self {
        Self {
            message,
            attempts,
            last_panic,
        }
    }

    pub(crate) fn from_returned(returned: Returned<T>) -> Self {
        let (attempts, last_panic) = match returned.history {
            Some(history) => (history.attempts, history.last_panic),
            None => (0, None),
        };
        Self::new(returned.message, attempts, last_panic)
    }

    /// The message.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::mailbox::DeadLetter;
    /// let letter = DeadLetter::new(5, 3, Some("bad input".into()));
    /// assert_eq!(*letter.message(), 5);
    /// ```
    pub fn message(&self) -> &T {
        &self.message
    }

    /// Takes the message out.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::mailbox::DeadLetter;
    /// let letter = DeadLetter::new(5, 3, Some("bad input".into()));
    /// assert_eq!(letter.into_message(), 5);
    /// ```
    pub fn into_message(self) -> T {
        self.message
    }

    /// How many times the message was delivered, all failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::mailbox::DeadLetter;
    /// let letter = DeadLetter::new(5, 3, Some("bad input".into()));
    /// assert_eq!(letter.attempts(), 3);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The message of the latest panic recorded while handling it, if any
    /// was (see [`Delivery::process`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use stage::mailbox::DeadLetter;
    /// let letter = DeadLetter::new(5, 3, Some("bad input".into()));
    /// assert_eq!(letter.last_panic(), Some("bad input"));
    /// ```
    pub fn last_panic(&self) -> Option<&str> {
        self.last_panic.as_deref()
    }
}

impl<T: fmt::Debug> fmt::Debug for DeadLetter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("message", &self.message)
            .field("attempts", &self.attempts)
            .field("last_panic", &self.last_panic)
            .finish()
    }
}
