//! A stream entry received under an at-least-once guard.

use core::fmt;
use core::ops::{Deref, DerefMut};
use std::panic::{resume_unwind, AssertUnwindSafe};

use futures_util::FutureExt;

use crate::panics::panic_text;
use crate::receiver::Receiver;
use crate::shared::{Dead, Held, Reason};

/// A message received from a Redis stream under an at-least-once guard:
/// the same guard as the in-process mailbox's
/// [`Delivery`](stage_core::mailbox::Delivery), with the same methods.
///
/// Got from [`Receiver::recv_guarded`] and its siblings. Acknowledge it
/// with [`ack`](Delivery::ack), [`into_inner`](Delivery::into_inner) or
/// [`process`](Delivery::process) once it has been handled: the entry is
/// then acknowledged in Redis (`XACK`; the stream is trimmed of it once
/// every group is done with it), in a
/// batch with others. A delivery dropped without an acknowledgement — its
/// handler panicked, returned early, or its task was aborted — puts the
/// entry back, ahead of the entries its receiver holds, for the next
/// receive of this process. If the whole process dies instead, the entry
/// stays pending in Redis and another consumer claims it.
///
/// After [`max_attempts`](crate::ReceiverBuilder::max_attempts) failed
/// deliveries, the entry goes to the dead-letter stream with its attempt
/// count and the last panic message, and is acknowledged.
///
/// # Examples
///
/// ```no_run
/// # async fn run(inbox: stage::redis::Receiver<u32>) {
/// let order = inbox.recv_guarded().await;
/// let attempt = order.attempt();
/// // Acknowledged when the handler returns; put back if it panics.
/// order
///     .process(async |id: &mut u32| {
///         println!("order {id}, attempt {attempt}");
///     })
///     .await;
/// # }
/// ```
#[must_use = "a delivery dropped without `ack` puts its entry back for another attempt"]
pub struct Delivery<'a, T> {
    home: Home<'a, T>,
    /// `Some` until acknowledged, taken out, put back or dead-lettered.
    held: Option<Held<T>>,
}

enum Home<'a, T> {
    Borrowed(&'a Receiver<T>),
    Owned(Receiver<T>),
}

impl<'a, T> Delivery<'a, T> {
    pub(crate) fn new(receiver: &'a Receiver<T>, held: Held<T>) -> Self {
        Self {
            home: Home::Borrowed(receiver),
            held: Some(held),
        }
    }

    fn receiver(&self) -> &Receiver<T> {
        match &self.home {
            Home::Borrowed(receiver) => receiver,
            Home::Owned(receiver) => receiver,
        }
    }

    fn held(&self) -> &Held<T> {
        self.held
            .as_ref()
            .expect("a delivery holds its entry until it is consumed")
    }

    /// Which delivery of the entry this is: 1 the first time, 2 after one
    /// failed attempt, and so on. Redis counts the deliveries, so the count
    /// goes on where another process left it; a delivery read into a
    /// process that died before handling it counts too.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order = inbox.recv_guarded().await;
    /// if order.attempt() > 1 {
    ///     println!("order {} again: {:?}", *order, order.last_panic());
    /// }
    /// order.ack();
    /// # }
    /// ```
    pub fn attempt(&self) -> u32 {
        self.held().failed.saturating_add(1)
    }

    /// The message of the latest panic recorded while an earlier attempt
    /// of this process handled the entry, if any.
    ///
    /// # Examples
    ///
    /// See [`attempt`](Delivery::attempt).
    pub fn last_panic(&self) -> Option<&str> {
        self.held().last_panic.as_deref()
    }

    /// The entry's ID in the stream (`1700000000000-0`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order = inbox.recv_guarded().await;
    /// println!("entry {}", order.id());
    /// order.ack();
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.held().id
    }

    /// Acknowledges the entry: handled, it is acknowledged in Redis with
    /// the next batch of writes
    /// ([`Receiver::flush`] waits for them).
    ///
    /// # Examples
    ///
    /// See [`attempt`](Delivery::attempt).
    pub fn ack(mut self) {
        if let Some(held) = self.held.take() {
            self.receiver().shared().ack(held.id);
        }
    }

    /// Takes the message out and acknowledges the entry.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order: u32 = inbox.recv_guarded().await.into_inner();
    /// # }
    /// ```
    pub fn into_inner(mut self) -> T {
        let held = self
            .held
            .take()
            .expect("a delivery holds its entry until it is consumed");
        self.receiver().shared().ack(held.id);
        held.message
    }

    /// Puts the entry back now, for another attempt (as dropping the
    /// delivery does).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order = inbox.recv_guarded().await;
    /// order.retry(); // not now: the next receive gets it again
    /// # }
    /// ```
    pub fn retry(self) {
        drop(self);
    }

    /// Gives up on the entry at once: it goes to the dead-letter stream
    /// (reason `rejected`) and is acknowledged.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order = inbox.recv_guarded().await;
    /// if *order == 0 {
    ///     order.dead_letter(); // hopeless: no order 0 exists
    /// }
    /// # }
    /// ```
    pub fn dead_letter(mut self) {
        if let Some(held) = self.held.take() {
            self.receiver().shared().dead_letter(Dead {
                id: held.id,
                raw: held.raw,
                fields: Vec::new(),
                attempts: held.failed.saturating_add(1),
                reason: Reason::Rejected,
                detail: held.last_panic,
            });
        }
    }

    /// The delivery, with its own handle on the receiver, to move into
    /// another task (a delivery borrows the receiver that took it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order = inbox.recv_guarded().await.into_owned();
    /// tokio::spawn(async move {
    ///     println!("order {}", *order);
    ///     order.ack();
    /// });
    /// # }
    /// ```
    pub fn into_owned(mut self) -> Delivery<'static, T>
    where
        T: 'static,
    {
        Delivery {
            home: Home::Owned(self.receiver().clone()),
            held: self.held.take(),
        }
    }

    /// Runs `handler` on the message: the entry is acknowledged if it
    /// returns, and put back (with the panic's message recorded for the
    /// next attempt and a dead letter) if it panics, whose unwinding then
    /// goes on.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in the sense of a receive: dropped before the handler
    /// returns, the future drops the delivery, which puts the entry back for
    /// another attempt (as a handler that returned early would).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let total = inbox
    ///     .recv_guarded()
    ///     .await
    ///     .process(async |n: &mut u32| *n * 2)
    ///     .await;
    /// # }
    /// ```
    pub async fn process<R>(mut self, handler: impl AsyncFnOnce(&mut T) -> R) -> R {
        let held = self
            .held
            .as_mut()
            .expect("a delivery holds its entry until it is consumed");
        // AssertUnwindSafe: after a panic the message is only put back for
        // a new attempt, which handlers under at-least-once expect.
        match AssertUnwindSafe(handler(&mut held.message))
            .catch_unwind()
            .await
        {
            Ok(output) => {
                self.ack();
                output
            }
            Err(payload) => {
                let text = panic_text(payload.as_ref());
                if let (Some(held), Some(text)) = (self.held.as_mut(), text) {
                    held.last_panic = Some(text);
                }
                drop(self); // puts the entry back
                resume_unwind(payload)
            }
        }
    }
}

impl<T> Deref for Delivery<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.held().message
    }
}

impl<T> DerefMut for Delivery<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self
            .held
            .as_mut()
            .expect("a delivery holds its entry until it is consumed")
            .message
    }
}

impl<T> Drop for Delivery<'_, T> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.receiver().shared().put_back(held);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Delivery<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Delivery");
        if let Some(held) = &self.held {
            debug
                .field("id", &held.id)
                .field("message", &held.message)
                .field("attempt", &held.failed.saturating_add(1))
                .field("last_panic", &held.last_panic);
        }
        debug.finish()
    }
}
